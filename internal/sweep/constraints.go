package sweep

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Constraint is one documented rule of an AWS service that a template can break while
// synthesizing cleanly: CloudFormation, or the service at run time, would reject it.
type Constraint struct {
	// ID names the constraint in failures.
	ID string
	// Rule says what the service requires, in a sentence.
	Rule string
	// Doc links the documentation that states it.
	Doc string
	// Check returns a line for every place the app breaks the rule.
	Check func(*App) []string
}

// Constraints is the table of documented service constraints that every configuration the
// settings accept is checked against. Add to it as you learn: each entry needs its documentation.
var Constraints = []Constraint{
	{
		ID:    "parallel-has-no-rollback",
		Rule:  "A pipeline in PARALLEL mode has no stage rollback: no failure or success condition with the result ROLLBACK.",
		Doc:   "https://docs.aws.amazon.com/codepipeline/latest/userguide/execution-modes.html",
		Check: parallelHasNoRollback,
	},
	{
		ID: "one-self-update-at-a-time",
		Rule: "A pipeline whose executions deploy its own stacks (a CodeBuild action whose role may assume a CDK bootstrap deploy role) lets one execution at a time into that stage: " +
			"not PARALLEL mode, where executions run side by side and two could update one stack, which CloudFormation refuses while an update is in progress.",
		Doc:   "https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html",
		Check: oneSelfUpdateAtATime,
	},
	{
		ID:    "stage-conditions",
		Rule:  "Each of a stage's beforeEntry, onSuccess and onFailure holds one condition of 1 to 5 rules; rule names are 1-100 of [A-Za-z0-9.@_-].",
		Doc:   "https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_Condition.html",
		Check: stageConditions,
	},
	{
		ID:    "pipeline-structure",
		Rule:  "A pipeline has 2 to 50 stages of 1 to 50 actions; stage and action names are 1-100 of [A-Za-z0-9.@_-], unique in their pipeline and stage.",
		Doc:   "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html",
		Check: pipelineStructure,
	},
	{
		ID: "principals-exist",
		Rule: "A role that a bucket, key, queue, topic, event bus or trust policy names by ARN exists when the policy is created: " +
			"IAM and S3 reject a principal that does not exist (\"Invalid principal in policy\").",
		Doc:   "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles",
		Check: principalsExist,
	},
	{
		ID:    "cross-region-stores",
		Rule:  "Every action in another region than the pipeline's has an artifact store in that region, a bucket of the pipeline's account created before the pipeline.",
		Doc:   "https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-create-cross-region.html",
		Check: crossRegionStores,
	},
	{
		ID:    "cross-account-reads",
		Rule:  "A principal of one account reads another account's bucket or key only when that bucket's or key's own policy admits its account too.",
		Doc:   "https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-walkthroughs-managing-access-example2.html",
		Check: crossAccountReads,
	},
	{
		ID:    "custom-resource-updates",
		Rule:  "An Fn::GetAtt of an AwsCustomResource's response field has an update call that returns it: on an update without one, the handler answers with no data and the update fails.",
		Doc:   "https://github.com/aws/aws-cdk/issues/7061",
		Check: customResourceUpdates,
	},
	{
		ID:    "ami-architecture",
		Rule:  "A launch template's AMI is built for its instance type's architecture (Graviton types run arm64).",
		Doc:   "https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html",
		Check: amiArchitecture,
	},
	{
		ID:    "bake-alarms",
		Rule:  "A CloudWatchAlarm rule watches an alarm of the pipeline's account, in the rule's region, that the pipeline's role may describe.",
		Doc:   "https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-CloudWatchAlarm.html",
		Check: bakeAlarms,
	},
	{
		ID:    "physical-names",
		Rule:  "Names fixed at synthesis follow their service's rules: S3 bucket names, IAM role names, KMS alias names, event bus statement ids, stack names.",
		Doc:   "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
		Check: physicalNames,
	},
	{
		ID:    "unique-names",
		Rule:  "Two resources of one type never share a fixed name in one account and region (bucket names: anywhere).",
		Doc:   "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html",
		Check: uniqueNames,
	},
	{
		ID: "event-archives",
		Rule: "An EventBridge archive keeps events a whole number of days, 0 or more (0 keeps them forever); its event pattern is at most 4096 characters, " +
			"its name 1-48 of [.-_A-Za-z0-9], its description at most 512 characters.",
		Doc:   "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-archive.html",
		Check: eventArchives,
	},
	{
		ID:    "regional-exports",
		Rule:  "Fn::ImportValue reads an export of the same account and region, created before the importing stack.",
		Doc:   "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-importvalue.html",
		Check: regionalExports,
	},
	{
		ID:    "sns-subscriber-place",
		Rule:  "SNS delivers to another region only for SQS and Lambda subscribers: a Firehose stream or a mobile platform endpoint is in the topic's region.",
		Doc:   "https://docs.aws.amazon.com/sns/latest/dg/sns-cross-region-delivery.html",
		Check: snsSubscriberPlace,
	},
}

// Violations checks app against every constraint, as "id: problem" lines.
func Violations(app *App) []string {
	var out []string
	for _, c := range Constraints {
		for _, v := range c.Check(app) {
			out = append(out, c.ID+": "+v)
		}
	}
	return out
}

// pipelines returns every CodePipeline of the app.
func pipelines(app *App) []Resource { return app.Resources("AWS::CodePipeline::Pipeline") }

func stagesOf(p Resource) []map[string]any {
	var out []map[string]any
	for _, s := range list(p.Props()["Stages"]) {
		if m, ok := s.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func conditionsOf(stage map[string]any, key string) []map[string]any {
	block, _ := stage[key].(map[string]any)
	var out []map[string]any
	for _, c := range list(block["Conditions"]) {
		if m, ok := c.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func parallelHasNoRollback(app *App) []string {
	var out []string
	for _, p := range pipelines(app) {
		if p.Props()["ExecutionMode"] != "PARALLEL" {
			continue
		}
		for _, st := range stagesOf(p) {
			if f, _ := st["OnFailure"].(map[string]any); f["Result"] == "ROLLBACK" {
				out = append(out, fmt.Sprintf("%s stage %v rolls back on failure", p, st["Name"]))
			}
			for _, key := range []string{"OnSuccess", "OnFailure", "BeforeEntry"} {
				for _, c := range conditionsOf(st, key) {
					if c["Result"] == "ROLLBACK" {
						out = append(out, fmt.Sprintf("%s stage %v has a %s condition that rolls back", p, st["Name"], key))
					}
				}
			}
		}
	}
	return out
}

// deployRoleRE matches the ARN of a CDK bootstrap deploy role, as the DefaultStackSynthesizer
// names it: cdk-<qualifier>-deploy-role-<account>-<region>.
var deployRoleRE = regexp.MustCompile(`:role/cdk-[a-z0-9_-]+-deploy-role-`)

func oneSelfUpdateAtATime(app *App) []string {
	var out []string
	for _, p := range pipelines(app) {
		if p.Props()["ExecutionMode"] != "PARALLEL" {
			continue
		}
		for _, st := range stagesOf(p) {
			for _, a := range list(st["Actions"]) {
				action, _ := a.(map[string]any)
				if typeID, _ := action["ActionTypeId"].(map[string]any); typeID["Provider"] != "CodeBuild" {
					continue
				}
				config, _ := action["Configuration"].(map[string]any)
				ref, _ := config["ProjectName"].(map[string]any)
				projectID, _ := ref["Ref"].(string)
				if project, ok := p.Stack.Resource(projectID); ok && assumesDeployRole(p.Stack, project) {
					out = append(out, fmt.Sprintf("%s stage %v: action %v deploys stacks, and executions run in PARALLEL", p, st["Name"], action["Name"]))
				}
			}
		}
	}
	return out
}

// assumesDeployRole reports whether the service role of project may assume a CDK bootstrap
// deploy role, by a policy of its stack.
func assumesDeployRole(s *Stack, project Resource) bool {
	att, _ := project.Props()["ServiceRole"].(map[string]any)["Fn::GetAtt"].([]any)
	if len(att) != 2 {
		return false
	}
	for _, pol := range s.Resources("AWS::IAM::Policy") {
		if !slices.ContainsFunc(list(pol.Props()["Roles"]), func(r any) bool { m, _ := r.(map[string]any); return m["Ref"] == att[0] }) {
			continue
		}
		for _, st := range Statements(pol.Props()["PolicyDocument"]) {
			if st["Effect"] != "Allow" || !slices.Contains(list(st["Action"]), any("sts:AssumeRole")) {
				continue
			}
			for _, res := range list(st["Resource"]) {
				if deployRoleRE.MatchString(s.Render(res)) {
					return true
				}
			}
		}
	}
	return false
}

var pipelineNameRE = regexp.MustCompile(`^[A-Za-z0-9.@_-]{1,100}$`)

func stageConditions(app *App) []string {
	var out []string
	for _, p := range pipelines(app) {
		for _, st := range stagesOf(p) {
			for _, key := range []string{"BeforeEntry", "OnSuccess", "OnFailure"} {
				conds := conditionsOf(st, key)
				if len(conds) > 1 {
					out = append(out, fmt.Sprintf("%s stage %v: %d %s conditions; at most 1", p, st["Name"], len(conds), key))
				}
				for _, c := range conds {
					rules := list(c["Rules"])
					if len(rules) < 1 || len(rules) > 5 {
						out = append(out, fmt.Sprintf("%s stage %v: a %s condition with %d rules; 1 to 5", p, st["Name"], key, len(rules)))
					}
					for _, r := range rules {
						name, _ := r.(map[string]any)["Name"].(string)
						if !pipelineNameRE.MatchString(name) {
							out = append(out, fmt.Sprintf("%s stage %v: rule name %q", p, st["Name"], name))
						}
					}
				}
			}
		}
	}
	return out
}

func pipelineStructure(app *App) []string {
	var out []string
	for _, p := range pipelines(app) {
		stages := stagesOf(p)
		if len(stages) < 2 || len(stages) > 50 {
			out = append(out, fmt.Sprintf("%s has %d stages", p, len(stages)))
		}
		names := map[string]bool{}
		for _, st := range stages {
			name, _ := st["Name"].(string)
			if !pipelineNameRE.MatchString(name) || names[name] {
				out = append(out, fmt.Sprintf("%s: stage name %q is invalid or repeated", p, name))
			}
			names[name] = true
			actions := list(st["Actions"])
			if len(actions) < 1 || len(actions) > 50 {
				out = append(out, fmt.Sprintf("%s stage %s has %d actions", p, name, len(actions)))
			}
			actionNames := map[string]bool{}
			for _, a := range actions {
				an, _ := a.(map[string]any)["Name"].(string)
				if !pipelineNameRE.MatchString(an) || actionNames[an] {
					out = append(out, fmt.Sprintf("%s stage %s: action name %q is invalid or repeated", p, name, an))
				}
				actionNames[an] = true
			}
		}
	}
	return out
}

var roleARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):role/(?:[^/]+/)*([^/]+)$`)

// resourcePolicies yields every resource policy document of the app with where it is.
func resourcePolicies(app *App) []struct {
	Resource
	doc any
} {
	fields := map[string]string{
		"AWS::S3::BucketPolicy": "PolicyDocument", "AWS::KMS::Key": "KeyPolicy", "AWS::SQS::QueuePolicy": "PolicyDocument",
		"AWS::SNS::TopicPolicy": "PolicyDocument", "AWS::IAM::Role": "AssumeRolePolicyDocument",
	}
	var out []struct {
		Resource
		doc any
	}
	for _, s := range app.Stacks {
		for _, r := range s.Resources("") {
			if f, ok := fields[r.Type()]; ok {
				out = append(out, struct {
					Resource
					doc any
				}{r, r.Props()[f]})
			}
			if r.Type() == "AWS::Events::EventBusPolicy" {
				out = append(out, struct {
					Resource
					doc any
				}{r, map[string]any{"Statement": r.Props()["Statement"]}})
			}
		}
	}
	return out
}

// roleNamed returns the stack that creates a role named name in account, or nil.
func roleNamed(app *App, account, name string) *Stack {
	for _, r := range app.Resources("AWS::IAM::Role") {
		if r.Stack.Account == account && r.Stack.Render(r.Props()["RoleName"]) == name {
			return r.Stack
		}
	}
	return nil
}

func principalsExist(app *App) []string {
	var out []string
	for _, p := range resourcePolicies(app) {
		for _, st := range Statements(p.doc) {
			principal, _ := st["Principal"].(map[string]any)
			for _, v := range list(principal["AWS"]) {
				arn := p.Stack.Render(v)
				m := roleARNRE.FindStringSubmatch(arn)
				if m == nil {
					continue // an account root, or a role of this stack by reference
				}
				owner := roleNamed(app, m[1], m[2])
				switch {
				case owner == nil:
					out = append(out, fmt.Sprintf("%s names %s, which no stack creates", p.Resource, arn))
				case owner != p.Stack && !app.Before(owner, p.Stack):
					out = append(out, fmt.Sprintf("%s names %s, which %s creates, not before it", p.Resource, arn, owner.Name))
				}
			}
		}
	}
	return out
}

func crossRegionStores(app *App) []string {
	var out []string
	for _, p := range pipelines(app) {
		home := p.Stack.Region
		stores := map[string]string{}
		for _, s := range list(p.Props()["ArtifactStores"]) {
			m, _ := s.(map[string]any)
			store, _ := m["ArtifactStore"].(map[string]any)
			stores[p.Stack.Render(m["Region"])] = p.Stack.Render(store["Location"])
		}
		for _, st := range stagesOf(p) {
			for _, a := range list(st["Actions"]) {
				region, _ := a.(map[string]any)["Region"].(string)
				if region == "" || region == home {
					continue
				}
				location, ok := stores[region]
				if !ok {
					out = append(out, fmt.Sprintf("%s: an action in %s, which has no artifact store", p, region))
					continue
				}
				owner := bucketNamed(app, location)
				switch {
				case owner == nil:
					out = append(out, fmt.Sprintf("%s: the %s store %s is created by no stack", p, region, location))
				case owner.Account != p.Stack.Account || owner.Region != region:
					out = append(out, fmt.Sprintf("%s: the %s store %s is in %s %s, not the pipeline's account in %s", p, region, location, owner.Account, owner.Region, region))
				case !app.Before(owner, p.Stack):
					out = append(out, fmt.Sprintf("%s: the %s store is created in %s, not before the pipeline", p, region, owner.Name))
				}
			}
		}
	}
	return out
}

// bucketNamed returns the stack that creates a bucket named name, or nil.
func bucketNamed(app *App, name string) *Stack {
	for _, r := range app.Resources("AWS::S3::Bucket") {
		if r.Stack.Render(r.Props()["BucketName"]) == name {
			return r.Stack
		}
	}
	return nil
}

var (
	s3ObjectsRE = regexp.MustCompile(`^arn:aws[a-z-]*:s3:::([a-z0-9.-]+)/\*$`)
	aliasRE     = regexp.MustCompile(`^alias/`)
)

// crossAccountReads finds every identity policy that reads a named bucket of another account, or
// a key of another account by alias, and checks that the bucket's or key's policy admits the
// reader's account.
func crossAccountReads(app *App) []string {
	var out []string
	for _, s := range app.Stacks {
		for _, r := range append(s.Resources("AWS::IAM::Policy"), s.Resources("AWS::IAM::ManagedPolicy")...) {
			for _, st := range Statements(r.Props()["PolicyDocument"]) {
				if st["Effect"] == "Deny" {
					continue
				}
				for _, res := range list(st["Resource"]) {
					m := s3ObjectsRE.FindStringSubmatch(s.Render(res))
					if m == nil {
						continue
					}
					owner := bucketNamed(app, m[1])
					if owner == nil || owner.Account == s.Account {
						continue
					}
					if !bucketAdmits(app, owner, m[1], s.Account) {
						out = append(out, fmt.Sprintf("%s reads bucket %s of account %s, whose policy does not admit account %s", r, m[1], owner.Account, s.Account))
					}
				}
				cond, _ := st["Condition"].(map[string]any)
				anyOf, _ := cond["ForAnyValue:StringEquals"].(map[string]any)
				alias, _ := anyOf["kms:ResourceAliases"].(string)
				if !aliasRE.MatchString(alias) {
					continue
				}
				for _, res := range list(st["Resource"]) {
					arn := strings.Split(s.Render(res), ":")
					if len(arn) < 6 {
						continue
					}
					keyAccount, keyRegion := arn[4], arn[3]
					if keyAccount == s.Account {
						continue
					}
					if !keyAdmits(app, keyAccount, keyRegion, alias, s.Account) {
						out = append(out, fmt.Sprintf("%s decrypts with %s of account %s, whose key policy does not admit account %s", r, alias, keyAccount, s.Account))
					}
				}
			}
		}
	}
	return out
}

// admits reports whether a policy document allows account, by its root or one of its roles.
func admits(s *Stack, doc any, account string) bool {
	for _, st := range Statements(doc) {
		if st["Effect"] != "Allow" {
			continue
		}
		principal, _ := st["Principal"].(map[string]any)
		for _, v := range list(principal["AWS"]) {
			if strings.Contains(s.Render(v), ":iam::"+account+":") {
				return true
			}
		}
	}
	return false
}

func bucketAdmits(app *App, owner *Stack, name, account string) bool {
	for _, b := range owner.Resources("AWS::S3::Bucket") {
		if owner.Render(b.Props()["BucketName"]) != name {
			continue
		}
		for _, pol := range owner.Resources("AWS::S3::BucketPolicy") {
			if ref, _ := pol.Props()["Bucket"].(map[string]any); ref["Ref"] == b.ID && admits(owner, pol.Props()["PolicyDocument"], account) {
				return true
			}
		}
	}
	return false
}

func keyAdmits(app *App, account, region, alias, reader string) bool {
	for _, a := range app.Resources("AWS::KMS::Alias") {
		if a.Stack.Account != account || a.Stack.Region != region || a.Stack.Render(a.Props()["AliasName"]) != alias {
			continue
		}
		target, _ := a.Props()["TargetKeyId"].(map[string]any)
		var keyID string
		if att, ok := target["Fn::GetAtt"].([]any); ok {
			keyID, _ = att[0].(string)
		} else if ref, ok := target["Ref"].(string); ok {
			keyID = ref
		}
		if key, ok := a.Stack.Resource(keyID); ok && admits(a.Stack, key.Props()["KeyPolicy"], reader) {
			return true
		}
	}
	return false
}

// getAtts returns every Fn::GetAtt in v as [logical id, attribute].
func getAtts(v any) [][2]string {
	var out [][2]string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) == 2 {
				id, _ := att[0].(string)
				name, _ := att[1].(string)
				out = append(out, [2]string{id, name})
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return out
}

func customResourceUpdates(app *App) []string {
	var out []string
	for _, s := range app.Stacks {
		for _, att := range getAtts(s.Template) {
			target, ok := s.Resource(att[0])
			if !ok || !strings.HasPrefix(target.Type(), "Custom::") && target.Type() != "AWS::CloudFormation::CustomResource" {
				continue
			}
			if target.Type() != "Custom::AWS" {
				out = append(out, fmt.Sprintf("%s/%s.%s: a response field of a custom resource the sweep cannot trace", s.Name, att[0], att[1]))
				continue
			}
			if _, hasUpdate := target.Props()["Update"]; !hasUpdate {
				out = append(out, fmt.Sprintf("%s/%s.%s: read by Fn::GetAtt, but %s has no update call", s.Name, att[0], att[1], att[0]))
			}
		}
	}
	return out
}

// graviton matches the instance families of AWS Graviton processors: "g" among the attributes
// after the generation (m7g, c6gn, t4g, is4gen), and a1.
var graviton = regexp.MustCompile(`^(a1|[a-z]+[0-9]+[a-z]*g[a-z]*)\.`)

func amiArchitecture(app *App) []string {
	var out []string
	for _, s := range app.Stacks {
		params, _ := s.Template["Parameters"].(map[string]any)
		for _, lt := range s.Resources("AWS::EC2::LaunchTemplate") {
			data, _ := lt.Props()["LaunchTemplateData"].(map[string]any)
			image, _ := data["ImageId"].(map[string]any)
			ref, _ := image["Ref"].(string)
			param, _ := params[ref].(map[string]any)
			path, _ := param["Default"].(string)
			instanceType, _ := data["InstanceType"].(string)
			wantArm := graviton.MatchString(instanceType)
			switch {
			case path == "" || instanceType == "":
				out = append(out, fmt.Sprintf("%s: the image (%v) or instance type (%v) is not one the sweep can read", lt, data["ImageId"], data["InstanceType"]))
			case wantArm != strings.Contains(path, "arm64"):
				out = append(out, fmt.Sprintf("%s: instance type %s with image %s", lt, instanceType, path))
			}
		}
	}
	return out
}

func bakeAlarms(app *App) []string {
	var out []string
	for _, p := range pipelines(app) {
		roleID := ""
		if att, ok := p.Props()["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any); ok {
			roleID, _ = att[0].(string)
		}
		var described []string
		for _, pol := range p.Stack.Resources("AWS::IAM::Policy") {
			if !slices.ContainsFunc(list(pol.Props()["Roles"]), func(r any) bool { m, _ := r.(map[string]any); return m["Ref"] == roleID }) {
				continue
			}
			for _, st := range Statements(pol.Props()["PolicyDocument"]) {
				if slices.Contains(list(st["Action"]), any("cloudwatch:DescribeAlarms")) {
					for _, res := range list(st["Resource"]) {
						described = append(described, p.Stack.Render(res))
					}
				}
			}
		}
		for _, st := range stagesOf(p) {
			for _, c := range conditionsOf(st, "OnSuccess") {
				for _, r := range list(c["Rules"]) {
					rule, _ := r.(map[string]any)
					typeID, _ := rule["RuleTypeId"].(map[string]any)
					if typeID["Provider"] != "CloudWatchAlarm" {
						continue
					}
					config, _ := rule["Configuration"].(map[string]any)
					region := p.Stack.Region
					if r, ok := rule["Region"].(string); ok {
						region = r
					}
					name := p.Stack.Render(config["AlarmName"])
					if !alarmIn(app, name, p.Stack, region) {
						out = append(out, fmt.Sprintf("%s stage %v watches alarm %s, which is not in the pipeline's account in %s", p, st["Name"], name, region))
					}
					if !slices.ContainsFunc(described, func(arn string) bool {
						return strings.HasSuffix(arn, ":alarm:"+name) || strings.Contains(arn, alarmRef(name))
					}) {
						out = append(out, fmt.Sprintf("%s: the pipeline's role may not describe alarm %s", p, name))
					}
				}
			}
		}
	}
	return out
}

// alarmRef is what a Ref to an alarm of the pipeline's stack renders as, inside an ARN.
func alarmRef(name string) string {
	if strings.HasPrefix(name, "${Ref:") {
		return "${GetAtt:" + strings.TrimSuffix(strings.TrimPrefix(name, "${Ref:"), "}") + ".Arn}"
	}
	return "\x00"
}

func alarmIn(app *App, name string, pipeline *Stack, region string) bool {
	if strings.HasPrefix(name, "${Ref:") {
		_, ok := pipeline.Resource(strings.TrimSuffix(strings.TrimPrefix(name, "${Ref:"), "}"))
		return ok && region == pipeline.Region
	}
	for _, a := range app.Resources("AWS::CloudWatch::Alarm") {
		if a.Stack.Render(a.Props()["AlarmName"]) == name {
			return a.Stack.Account == pipeline.Account && a.Stack.Region == region
		}
	}
	return false
}

var (
	bucketNameRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	roleNameRE    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	aliasNameRE   = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
	statementIDRE = regexp.MustCompile(`^[a-zA-Z0-9-_]{1,64}$`)
	stackNameRE   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,127}$`)
)

func physicalNames(app *App) []string {
	var out []string
	check := func(where fmt.Stringer, what, name string, re *regexp.Regexp) {
		if strings.Contains(name, "${") {
			return // known only at deploy time
		}
		if !re.MatchString(name) || (what == "alias" && strings.HasPrefix(name, "alias/aws")) || (what == "bucket" && strings.Contains(name, "..")) {
			out = append(out, fmt.Sprintf("%s: %s name %q", where, what, name))
		}
	}
	for _, s := range app.Stacks {
		check(stackName(s.Name), "stack", s.Name, stackNameRE)
		for _, r := range s.Resources("") {
			props := r.Props()
			switch r.Type() {
			case "AWS::S3::Bucket":
				if v, ok := props["BucketName"]; ok {
					check(r, "bucket", s.Render(v), bucketNameRE)
				}
			case "AWS::IAM::Role":
				if v, ok := props["RoleName"]; ok {
					check(r, "role", s.Render(v), roleNameRE)
				}
			case "AWS::KMS::Alias":
				check(r, "alias", s.Render(props["AliasName"]), aliasNameRE)
			case "AWS::Events::EventBusPolicy":
				check(r, "statement id", s.Render(props["StatementId"]), statementIDRE)
			}
		}
	}
	return out
}

type stackName string

func (n stackName) String() string { return string(n) }

// nameProps are the properties that fix a resource's name, by type.
var nameProps = map[string]string{
	"AWS::S3::Bucket": "BucketName", "AWS::IAM::Role": "RoleName", "AWS::KMS::Alias": "AliasName",
	"AWS::CodeDeploy::Application": "ApplicationName", "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
	"AWS::CloudWatch::Alarm": "AlarmName", "AWS::CodeCommit::Repository": "RepositoryName",
	"AWS::Events::EventBusPolicy": "StatementId", "AWS::CodePipeline::Pipeline": "Name",
}

func uniqueNames(app *App) []string {
	var out []string
	seen := map[string]string{}
	for _, s := range app.Stacks {
		for _, r := range s.Resources("") {
			prop, ok := nameProps[r.Type()]
			if !ok {
				continue
			}
			v, ok := r.Props()[prop]
			if !ok {
				continue
			}
			name := s.Render(v)
			if r.Type() == "AWS::CodeDeploy::DeploymentGroup" {
				name = s.Render(r.Props()["ApplicationName"]) + "/" + name
			}
			scope := s.Account + "/" + s.Region
			if r.Type() == "AWS::S3::Bucket" {
				scope = "global"
			}
			key := r.Type() + " " + scope + " " + name
			if first, dup := seen[key]; dup {
				out = append(out, fmt.Sprintf("%s and %s are both %s %q", first, r, r.Type(), name))
			}
			seen[key] = r.String()
		}
	}
	return out
}

func regionalExports(app *App) []string {
	var out []string
	exports := map[string]*Stack{}
	for _, s := range app.Stacks {
		outputs, _ := s.Template["Outputs"].(map[string]any)
		for _, o := range outputs {
			export, _ := o.(map[string]any)["Export"].(map[string]any)
			if name, ok := export["Name"]; ok {
				exports[s.Render(name)] = s
			}
		}
	}
	for _, s := range app.Stacks {
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				if name, ok := v["Fn::ImportValue"]; ok {
					from := exports[s.Render(name)]
					switch {
					case from == nil:
						out = append(out, fmt.Sprintf("%s imports %s, which no stack exports", s.Name, s.Render(name)))
					case from.Account != s.Account || from.Region != s.Region || !app.Before(from, s):
						out = append(out, fmt.Sprintf("%s imports %s from %s, in another account or region or not created before it", s.Name, s.Render(name), from.Name))
					}
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(s.Template["Resources"])
		walk(s.Template["Outputs"])
	}
	return out
}

var (
	archiveNameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,48}$`)
	placeholderRE = regexp.MustCompile(`\$\{(Ref:[^A][^}]*|GetAtt:[^}]*)\}`)
)

// tokenLength is what an unresolved reference in an archive's pattern may grow to: an alarm's ARN
// with the longest name CloudWatch allows (255) in the longest partition and region.
const tokenLength = 320

func eventArchives(app *App) []string {
	var out []string
	for _, r := range app.Resources("AWS::Events::Archive") {
		props := r.Props()
		if v, ok := props["RetentionDays"]; ok {
			days, isNumber := v.(float64)
			if !isNumber || days < 0 || days != float64(int64(days)) {
				out = append(out, fmt.Sprintf("%s keeps events %v days: a whole number, 0 or more", r, v))
			}
		}
		if v, ok := props["ArchiveName"]; ok && !archiveNameRE.MatchString(r.Stack.Render(v)) {
			out = append(out, fmt.Sprintf("%s: archive name %q", r, r.Stack.Render(v)))
		}
		if v, ok := props["Description"].(string); ok && len(v) > 512 {
			out = append(out, fmt.Sprintf("%s: a description of %d characters", r, len(v)))
		}
		pattern := renderJSON(r.Stack, props["EventPattern"])
		if n := len(placeholderRE.ReplaceAllString(pattern, strings.Repeat("x", tokenLength))); n > 4096 {
			out = append(out, fmt.Sprintf("%s: an event pattern of up to %d characters", r, n))
		}
	}
	return out
}

// renderJSON writes v as JSON with its intrinsic functions rendered, to measure it.
func renderJSON(s *Stack, v any) string {
	switch v := v.(type) {
	case map[string]any:
		for k := range v {
			if strings.HasPrefix(k, "Fn::") || k == "Ref" {
				return fmt.Sprintf("%q", s.Render(v))
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%q:%s", k, renderJSON(s, v[k]))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = renderJSON(s, x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		return fmt.Sprintf("%q", s.Render(v))
	}
}

// snsSubscriberPlace finds firehose and application subscriptions whose endpoint is in another
// region than the topic's stack, where both are known.
func snsSubscriberPlace(app *App) []string {
	var out []string
	for _, r := range app.Resources("AWS::SNS::Subscription") {
		props := r.Props()
		protocol := r.Stack.Render(props["Protocol"])
		if protocol != "firehose" && protocol != "application" || r.Stack.Region == "" {
			continue
		}
		endpoint := r.Stack.Render(props["Endpoint"])
		parts := strings.SplitN(endpoint, ":", 6)
		if len(parts) == 6 && !strings.Contains(parts[3], "${") && parts[3] != r.Stack.Region {
			out = append(out, fmt.Sprintf("%s: %s subscriber %s is in %s, the topic in %s", r, protocol, endpoint, parts[3], r.Stack.Region))
		}
	}
	return out
}
