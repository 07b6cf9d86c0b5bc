package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// The fake CDK CLI synthesizes the app as the CDK CLI does (cdk.json's app command, its context
// with the -c overrides, the account and region of the credentials), and the fake CloudFormation
// "creates" the synthesized template: a physical id for every resource, the repository seeded from
// the synthesized seed asset, the outputs resolved.

// synthesis is a synthesized cloud assembly, made once per test binary for each context.
type synthesis struct {
	dir       string
	template  map[string]any
	resources map[string]map[string]any
	// terminationProtection is the stack's, from the assembly's manifest.
	terminationProtection bool
	// seed is the bare git repository built from the seed asset, copied for each deploy.
	seed string
	// seedAsset is the asset's folder in the assembly.
	seedAsset string
}

var synths = struct {
	sync.Mutex
	byContext map[string]*synthesis
	dir       string
}{byContext: map[string]*synthesis{}}

// synthesize runs the app with ctx (cdk.json's context with the -c overrides already merged) as
// the CDK CLI runs it for account and region, once per test binary for each context.
func synthesize(root string, ctx map[string]any, account, region string) (*synthesis, error) {
	synths.Lock()
	defer synths.Unlock()
	ctxJSON, err := json.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	cacheKey := root + "\x00" + account + "\x00" + region + "\x00" + string(ctxJSON)
	if s := synths.byContext[cacheKey]; s != nil {
		return s, nil
	}
	if synths.dir == "" {
		if synths.dir, err = os.MkdirTemp("", "e2e-dryrun-"); err != nil {
			return nil, err
		}
	}
	var doc struct {
		App string `json:"app"`
	}
	if err := readJSON(filepath.Join(root, "cdk.json"), &doc); err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp(synths.dir, "cdk.out-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("sh", "-c", doc.App)
	cmd.Dir = root
	// As a deploy with credentials: CDK_PIPELINE_AGNOSTIC (scripts/review-diff's) would drop the
	// account and region.
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CDK_PIPELINE_AGNOSTIC=") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env, "CDK_OUTDIR="+out, "CDK_CONTEXT_JSON="+string(ctxJSON),
		"CDK_DEFAULT_ACCOUNT="+account, "CDK_DEFAULT_REGION="+region)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("the app failed (%v):\n%s", err, stderr.String())
	}
	s, err := readAssembly(out)
	if err != nil {
		return nil, err
	}
	synths.byContext[cacheKey] = s
	return s, nil
}

// readAssembly reads the stack's template and seed from a cloud assembly.
func readAssembly(dir string) (*synthesis, error) {
	var manifest struct {
		Artifacts map[string]struct {
			Type       string
			Properties struct {
				TemplateFile          string
				TerminationProtection bool
				File                  string
			}
		}
		Missing []struct{ Key string }
	}
	if err := readJSON(filepath.Join(dir, "manifest.json"), &manifest); err != nil {
		return nil, err
	}
	if len(manifest.Missing) > 0 {
		return nil, fmt.Errorf("the app needs context the CLI would look up: %v", manifest.Missing)
	}
	a, ok := manifest.Artifacts[stack]
	if !ok || a.Type != "aws:cloudformation:stack" {
		return nil, fmt.Errorf("no stack %s in the app", stack)
	}
	s := &synthesis{dir: dir, terminationProtection: a.Properties.TerminationProtection}
	if err := readJSON(filepath.Join(dir, a.Properties.TemplateFile), &s.template); err != nil {
		return nil, err
	}
	s.resources = map[string]map[string]any{}
	for id, r := range s.template["Resources"].(map[string]any) {
		s.resources[id] = r.(map[string]any)
	}
	// The repository's code is an asset: its key names the asset in the assets manifest.
	var assets struct {
		Files map[string]struct {
			Source struct{ Path, Packaging string }
		}
	}
	if err := readJSON(filepath.Join(dir, manifest.Artifacts[stack+".assets"].Properties.File), &assets); err != nil {
		return nil, err
	}
	for _, r := range s.resources {
		if r["Type"] != "AWS::CodeCommit::Repository" {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		code, _ := props["Code"].(map[string]any)
		if code == nil {
			continue
		}
		key, _ := code["S3"].(map[string]any)["Key"].(string)
		asset, ok := assets.Files[strings.TrimSuffix(key, ".zip")]
		if !ok || asset.Source.Packaging != "zip" {
			return nil, fmt.Errorf("the repository's code %q is not a zip asset of the assembly", key)
		}
		s.seedAsset = filepath.Join(dir, asset.Source.Path)
		s.seed = filepath.Join(dir, "seed.git")
		branch, _ := code["BranchName"].(string)
		if err := seedRepository(s.seed, s.seedAsset, branch); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func readJSON(file string, v any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

// deployed is the stack in the fake account.
type deployed struct {
	app    *synthesis
	status string
	// physical holds each created resource's physical id, by logical id.
	physical map[string]string
	names    map[string]string // resource names where they differ from the physical id
}

// resourceNames are the properties that name a resource, by type.
var resourceNames = map[string]string{
	"AWS::CodePipeline::Pipeline": "Name", "AWS::CodeDeploy::Application": "ApplicationName",
	"AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName", "AWS::CodeCommit::Repository": "RepositoryName",
	"AWS::S3::Bucket": "BucketName", "AWS::Logs::LogGroup": "LogGroupName", "AWS::Lambda::Function": "FunctionName",
	"AWS::SNS::Topic": "TopicName", "AWS::SQS::Queue": "QueueName",
}

// create makes the stack's resources as CloudFormation would, with the names it generates
// (stack-logicalId-SUFFIX) where the template gives none.
func (c *cloud) create(s *synthesis) error {
	d := &deployed{app: s, status: "CREATE_COMPLETE", physical: map[string]string{}, names: map[string]string{}}
	c.stack = d
	for _, id := range sortedKeys(s.resources) {
		r := s.resources[id]
		if cond, ok := r["Condition"].(string); ok {
			v, err := c.resolve(map[string]any{"Condition": cond})
			if err != nil {
				return err
			}
			if v != true {
				continue
			}
		}
		typ, _ := r["Type"].(string)
		props, _ := r["Properties"].(map[string]any)
		name := ""
		if p := resourceNames[typ]; p != "" && props[p] != nil {
			v, err := c.resolve(props[p])
			if err != nil {
				return err
			}
			name = fmt.Sprint(v)
		}
		if name == "" {
			name = stack + "-" + id + "-" + c.id()
		}
		physical := name
		switch typ {
		case "AWS::S3::Bucket":
			physical = strings.ToLower(name)
			c.buckets[physical] = &bucket{}
		case "AWS::Logs::LogGroup":
			c.logGroups[physical] = true
		case "AWS::KMS::Key":
			physical = c.uuid()
			c.keys[physical] = "Enabled"
		case "AWS::SNS::Topic":
			physical = "arn:aws:sns:" + c.region + ":" + c.account + ":" + name
		case "AWS::SQS::Queue":
			physical = "https://sqs." + c.region + ".amazonaws.com/" + c.account + "/" + name
		case "AWS::CodeCommit::Repository":
			if c.repos[name] != nil {
				return fmt.Errorf("Resource handler returned message: \"Repository named %s already exists\"", name)
			}
			physical = c.uuid()
			dir := filepath.Join(c.tmp, name+".git")
			if s.seed == "" {
				return fmt.Errorf("fake: the repository %s has no seed", name)
			}
			if c.script.sampleAppOnly {
				if err := seedRepository(dir, filepath.Join(s.seedAsset, "sample-app"), "main"); err != nil {
					return err
				}
			} else if err := os.CopyFS(dir, os.DirFS(s.seed)); err != nil {
				return err
			}
			c.repos[name] = &repo{name: name, id: physical, dir: dir}
		}
		d.physical[id] = physical
		d.names[id] = name
	}
	return c.startPipeline()
}

// retained reports whether deleting the stack keeps a resource: its DeletionPolicy is Retain, or
// RetainExceptOnCreate after a create that succeeded.
func retained(r map[string]any) bool {
	switch r["DeletionPolicy"] {
	case "Retain", "RetainExceptOnCreate":
		return true
	}
	return false
}

// remove deletes the stack; what it retains stays in the account. A bucket that is not retained
// must be empty, or the delete fails (DELETE_FAILED), as CloudFormation's does.
func (c *cloud) remove() error {
	d := c.stack
	for id, physical := range d.physical {
		r := d.app.resources[id]
		if retained(r) && d.status != "ROLLBACK_COMPLETE" {
			continue
		}
		switch r["Type"] {
		case "AWS::S3::Bucket":
			if b := c.buckets[physical]; b != nil && len(b.versions) > 0 {
				return fmt.Errorf("The following resource(s) failed to delete: [%s]. The bucket you tried to delete is not empty", id)
			}
			delete(c.buckets, physical)
		case "AWS::Logs::LogGroup":
			delete(c.logGroups, physical)
		case "AWS::KMS::Key":
			c.keys[physical] = "PendingDeletion"
		case "AWS::CodeCommit::Repository":
			delete(c.repos, d.names[id])
		}
	}
	c.stack, c.pipe = nil, nil
	return nil
}

func init() {
	operations["cloudformation list-stack-resources"] = operation{api: "ListStackResources",
		options: map[string]option{"--stack-name": {required: true}}, do: (*cloud).listStackResources}
}

func (c *cloud) listStackResources(p params, _ string) (any, error) {
	if c.stack == nil || p.get("--stack-name") != stack {
		return nil, errorf("ValidationError", "Stack with id %s does not exist", p.get("--stack-name"))
	}
	var out []map[string]any
	for _, id := range sortedKeys(c.stack.physical) {
		out = append(out, map[string]any{
			"LogicalResourceId": id, "PhysicalResourceId": c.stack.physical[id], "ResourceType": c.stack.app.resources[id]["Type"],
			"LastUpdatedTimestamp": "2026-11-28T08:00:00.000000+00:00", "ResourceStatus": "CREATE_COMPLETE",
			"DriftInformation": map[string]string{"StackResourceDriftStatus": "NOT_CHECKED"},
		})
	}
	return map[string]any{"StackResourceSummaries": out}, nil
}

// resolve evaluates a template value of the deployed stack: Ref, Fn::GetAtt, Fn::Join, Fn::Sub,
// Fn::Select and conditions. Anything else fails, so that the fake says what it does not know.
func (c *cloud) resolve(v any) (any, error) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := c.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return c.intrinsic(k, arg)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			r, err := c.resolve(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func (c *cloud) intrinsic(name string, arg any) (any, error) {
	d := c.stack
	switch name {
	case "Ref":
		ref, _ := arg.(string)
		return c.ref(ref)
	case "Fn::GetAtt":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, fmt.Errorf("fake CloudFormation: Fn::GetAtt %v", arg)
		}
		return c.getAtt(fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
	case "Fn::Join":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, fmt.Errorf("fake CloudFormation: Fn::Join %v", arg)
		}
		list, err := c.resolve(parts[1])
		if err != nil {
			return nil, err
		}
		var strs []string
		for _, e := range list.([]any) {
			strs = append(strs, fmt.Sprint(e))
		}
		return strings.Join(strs, fmt.Sprint(parts[0])), nil
	case "Fn::Select":
		parts, _ := arg.([]any)
		list, err := c.resolve(parts[1])
		if err != nil {
			return nil, err
		}
		i := 0
		fmt.Sscan(fmt.Sprint(parts[0]), &i)
		return list.([]any)[i], nil
	case "Fn::Sub":
		text, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("fake CloudFormation: Fn::Sub with variables %v", arg)
		}
		var b strings.Builder
		for {
			start := strings.Index(text, "${")
			if start < 0 {
				b.WriteString(text)
				return b.String(), nil
			}
			end := strings.Index(text[start:], "}")
			b.WriteString(text[:start])
			ref := text[start+2 : start+end]
			var v any
			var err error
			if logical, attr, ok := strings.Cut(ref, "."); ok {
				v, err = c.getAtt(logical, attr)
			} else {
				v, err = c.ref(ref)
			}
			if err != nil {
				return nil, err
			}
			b.WriteString(fmt.Sprint(v))
			text = text[start+end+1:]
		}
	case "Condition":
		conditions, _ := d.app.template["Conditions"].(map[string]any)
		cond, ok := conditions[fmt.Sprint(arg)]
		if !ok {
			return nil, fmt.Errorf("fake CloudFormation: no condition %v", arg)
		}
		return c.resolve(cond)
	case "Fn::Equals":
		parts, err := c.resolve(arg)
		if err != nil {
			return nil, err
		}
		p := parts.([]any)
		return fmt.Sprint(p[0]) == fmt.Sprint(p[1]), nil
	case "Fn::Not":
		parts, err := c.resolve(arg)
		if err != nil {
			return nil, err
		}
		return parts.([]any)[0] != true, nil
	}
	return nil, fmt.Errorf("fake CloudFormation: %s is not emulated", name)
}

func (c *cloud) ref(ref string) (any, error) {
	d := c.stack
	switch ref {
	case "AWS::Region":
		return c.region, nil
	case "AWS::AccountId":
		return c.account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return stack, nil
	}
	if parameters, ok := d.app.template["Parameters"].(map[string]any); ok {
		if p, ok := parameters[ref].(map[string]any); ok {
			return p["Default"], nil
		}
	}
	if id, ok := d.physical[ref]; ok {
		return id, nil
	}
	return nil, fmt.Errorf("fake CloudFormation: Ref %s: no such resource", ref)
}

func (c *cloud) getAtt(logical, attr string) (any, error) {
	d := c.stack
	r, ok := d.app.resources[logical]
	if !ok {
		return nil, fmt.Errorf("fake CloudFormation: Fn::GetAtt %s.%s: no such resource", logical, attr)
	}
	physical, name := d.physical[logical], d.names[logical]
	arn := func(service, resource string) string {
		return "arn:aws:" + service + ":" + c.region + ":" + c.account + ":" + resource
	}
	switch r["Type"].(string) + "." + attr {
	case "AWS::CodeCommit::Repository.Name":
		return name, nil
	case "AWS::CodeCommit::Repository.Arn":
		return arn("codecommit", name), nil
	case "AWS::CodeCommit::Repository.CloneUrlHttp":
		return "https://git-codecommit." + c.region + ".amazonaws.com/v1/repos/" + name, nil
	case "AWS::ElasticLoadBalancingV2::LoadBalancer.DNSName":
		// The fleet's load balancer is the fake app server.
		return strings.TrimPrefix(c.app.URL, "http://"), nil
	case "AWS::SQS::Queue.Arn":
		return arn("sqs", name), nil
	case "AWS::SNS::Topic.TopicArn":
		return physical, nil
	case "AWS::S3::Bucket.Arn":
		return "arn:aws:s3:::" + physical, nil
	case "AWS::KMS::Key.Arn":
		return arn("kms", "key/"+physical), nil
	case "AWS::Lambda::Function.Arn":
		return arn("lambda", "function:"+name), nil
	case "AWS::CodeBuild::Project.Arn":
		return arn("codebuild", "project/"+name), nil
	case "AWS::IAM::Role.Arn":
		return "arn:aws:iam::" + c.account + ":role/" + name, nil
	}
	return "fake-" + logical + "-" + attr, nil
}

// outputs resolves the template's Outputs.
func (c *cloud) outputs() (map[string]string, error) {
	outs, _ := c.stack.app.template["Outputs"].(map[string]any)
	values := map[string]string{}
	for name, o := range outs {
		v, err := c.resolve(o.(map[string]any)["Value"])
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		values[name] = fmt.Sprint(v)
	}
	return values, nil
}

// --- the CDK CLI

// runNpx answers npx cdk deploy and npx cdk destroy as the CDK CLI does.
func (c *cloud) runNpx(args []string, dir string) result {
	if len(args) < 2 || args[0] != "cdk" {
		return result{Stderr: fmt.Sprintf("fake npx: only cdk deploy and cdk destroy are emulated, not %q\n", strings.Join(args, " ")), Code: 1}
	}
	if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err != nil {
		return result{Stderr: "--app is required either in command-line, in cdk.json or in ~/.cdk.json\n", Code: 1}
	}
	o, err := cdkOptions(args[2:])
	if err != nil {
		return result{Stderr: err.Error() + "\n", Code: 1}
	}
	if len(o.stacks) != 1 || o.stacks[0] != stack {
		return result{Stderr: fmt.Sprintf("No stack found matching '%s'. Use \"list\" to print manifest\n", strings.Join(o.stacks, " ")), Code: 1}
	}
	switch args[1] {
	case "deploy":
		return c.cdkDeploy(o, dir, args)
	case "destroy":
		if !o.force {
			return result{Stderr: "Are you sure you want to delete: CicdPipeline (y/n)? (no terminal to answer: use --force)\n", Code: 1}
		}
		if err := c.inject(command{"npx", args, dir}); err != nil {
			return result{Stderr: fmt.Sprintf(" ❌  %s: destroy failed %v\n", stack, err), Code: 1}
		}
		if c.stack == nil {
			// The CLI's destroyStack returns when CloudFormation has no such stack.
			return result{Stderr: fmt.Sprintf(" ✅  %s: destroyed\n", stack)}
		}
		if c.stack.app.terminationProtection {
			return result{Stderr: fmt.Sprintf(" ❌  %s: destroy failed ValidationError: Stack [%s] cannot be deleted while TerminationProtection is enabled\n", stack, stack), Code: 1}
		}
		if err := c.remove(); err != nil {
			return result{Stderr: fmt.Sprintf(" ❌  %s: destroy failed %v\n", stack, err), Code: 1}
		}
		return result{Stderr: fmt.Sprintf(" ✅  %s: destroyed\n", stack)}
	}
	return result{Stderr: fmt.Sprintf("fake npx: cdk %s is not emulated\n", args[1]), Code: 1}
}

type cdkArgs struct {
	stacks          []string
	context         map[string]string
	requireApproval string
	outputsFile     string
	force           bool
}

// cdkOptions reads the CDK CLI options the flow uses; others fail, as the fake does not know them.
func cdkOptions(args []string) (cdkArgs, error) {
	o := cdkArgs{context: map[string]string{}, requireApproval: "broadening"}
	for i := 0; i < len(args); i++ {
		a := args[i]
		value := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("Not enough arguments following: %s", a)
			}
			i++
			return args[i], nil
		}
		var err error
		switch a {
		case "-c", "--context":
			var kv string
			if kv, err = value(); err == nil {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return o, fmt.Errorf("Context argument '%s' must be in format key=value", kv)
				}
				o.context[k] = v
			}
		case "--require-approval":
			o.requireApproval, err = value()
		case "--outputs-file", "-O":
			o.outputsFile, err = value()
		case "--force", "-f":
			o.force = true
		default:
			if strings.HasPrefix(a, "-") {
				return o, fmt.Errorf("fake cdk: option %s is not emulated", a)
			}
			o.stacks = append(o.stacks, a)
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// appContext is the context the CDK CLI gives the app: cdk.json's, then cdk.context.json's (the
// lookups it cached; the fake supplies the availability zones of its account), then -c values, as
// strings.
func (c *cloud) appContext(dir string, overrides map[string]string) (map[string]any, error) {
	var doc struct {
		Context          map[string]any `json:"context"`
		VersionReporting *bool          `json:"versionReporting"`
		PathMetadata     *bool          `json:"pathMetadata"`
		AssetMetadata    *bool          `json:"assetMetadata"`
	}
	if err := readJSON(filepath.Join(dir, "cdk.json"), &doc); err != nil {
		return nil, err
	}
	ctx := doc.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	var cached map[string]any
	if err := readJSON(filepath.Join(dir, "cdk.context.json"), &cached); err == nil {
		for k, v := range cached {
			ctx[k] = v
		}
	}
	ctx["availability-zones:account="+c.account+":region="+c.region] = []any{c.region + "a", c.region + "b", c.region + "c"}
	for k, v := range overrides {
		ctx[k] = v
	}
	ctx["aws:cdk:enable-path-metadata"] = doc.PathMetadata == nil || *doc.PathMetadata
	ctx["aws:cdk:enable-asset-metadata"] = doc.AssetMetadata == nil || *doc.AssetMetadata
	ctx["aws:cdk:version-reporting"] = doc.VersionReporting == nil || *doc.VersionReporting
	// Not what the CLI does: it bundles every stack, compiling the Go functions. Their code is not
	// what the flow tests, and the dry run would pay for two Go builds.
	ctx["aws:cdk:bundling-stacks"] = []any{}
	return ctx, nil
}

func (c *cloud) cdkDeploy(o cdkArgs, dir string, args []string) result {
	if c.stack != nil {
		return result{Stderr: "fake cdk: the stack is already deployed; updates are not emulated\n", Code: 1}
	}
	ctx, err := c.appContext(dir, o.context)
	if err != nil {
		return result{Stderr: err.Error() + "\n", Code: 1}
	}
	s, err := synthesize(dir, ctx, c.account, c.region)
	if err != nil {
		return result{Stderr: err.Error() + "\n", Code: 1}
	}
	c.deployed = s
	if o.requireApproval != "never" {
		// The stack adds IAM statements, and without a terminal there is nobody to confirm them.
		return result{Stderr: "\"--require-approval\" is enabled and stack includes security-sensitive updates, but terminal (TTY) is not attached so we are unable to get a confirmation from the user\n", Code: 1}
	}
	if err := c.inject(command{"npx", args, dir}); err != nil {
		// A create that fails rolls back: the stack stays in ROLLBACK_COMPLETE, and what
		// RetainExceptOnCreate protects goes with the rollback.
		if cerr := c.create(s); cerr == nil {
			c.stack.status = "ROLLBACK_COMPLETE"
			_ = c.remove()
			c.stack = &deployed{app: s, status: "ROLLBACK_COMPLETE", physical: map[string]string{}, names: map[string]string{}}
		}
		return result{Stderr: fmt.Sprintf("\n ❌  %s failed: %v\n", stack, err), Code: 1}
	}
	if err := c.create(s); err != nil {
		c.stack.status = "ROLLBACK_COMPLETE"
		_ = c.remove()
		c.stack = &deployed{app: s, status: "ROLLBACK_COMPLETE", physical: map[string]string{}, names: map[string]string{}}
		return result{Stderr: fmt.Sprintf("\n ❌  %s failed: %v\n", stack, err), Code: 1}
	}
	outputs, err := c.outputs()
	if err != nil {
		return result{Stderr: err.Error() + "\n", Code: 1}
	}
	var lines []string
	for _, k := range sortedKeys(outputs) {
		lines = append(lines, stack+"."+k+" = "+outputs[k])
	}
	sort.Strings(lines)
	if o.outputsFile != "" {
		file := o.outputsFile
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		b, _ := json.MarshalIndent(map[string]any{stack: outputs}, "", "  ")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			return result{Stderr: err.Error() + "\n", Code: 1}
		}
	}
	return result{Stderr: fmt.Sprintf("\n ✅  %s\n\nOutputs:\n%s\n", stack, strings.Join(lines, "\n"))}
}
