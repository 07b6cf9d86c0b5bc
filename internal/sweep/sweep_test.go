package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/tier"
)

// TestCoverHoldsEveryPair: on a small space with a rule that refuses one pair outright and one
// class unless another setting follows, every pair is in an accepted configuration or, when no
// accepted configuration can hold it, in a refused one of its own; and the array is the same
// every time.
func TestCoverHoldsEveryPair(t *testing.T) {
	dims := []Dimension{
		{"a", []Class{{Name: "0"}, {Name: "1", Context: map[string]any{"a": 1}}, {Name: "2", Context: map[string]any{"a": 2}}}},
		{"b", []Class{{Name: "0"}, {Name: "1", Context: map[string]any{"b": 1}}}},
		{"c", []Class{{Name: "0"}, {Name: "1", Context: map[string]any{"c": 1}}, {Name: "2", Context: map[string]any{"c": 2}}}},
		{"d", []Class{{Name: "0"}, {Name: "1", Context: map[string]any{"d": 1}}}},
	}
	problems := func(ctx map[string]any, _ bool) int {
		n := 0
		if ctx["a"] == 2 && ctx["b"] == 1 { // never together
			n++
		}
		if ctx["c"] == 2 && ctx["d"] != 1 { // c=2 needs d=1
			n++
		}
		return n
	}
	cov := Cover(dims, problems)
	assert.Empty(t, Pairs(dims, append(slices.Clone(cov.Accepted), cov.Refused...)))
	for _, c := range cov.Accepted {
		assert.Zero(t, problems(c.Context(dims), false), c.Name(dims))
	}
	assert.ElementsMatch(t, []string{"a=2,b=1", "c=2,d=0"}, refusedPairs(dims, cov), "only the pairs no configuration can accept")
	assert.Equal(t, cov, Cover(dims, problems), "deterministic")
	assert.Len(t, cov.Refused, 2, "one refused configuration for each pair")
}

// refusedPairs names the pair each refused configuration was made for: its non-default classes,
// or the default class that completes the pair.
func refusedPairs(dims []Dimension, cov Coverage) []string {
	var out []string
	for _, u := range Pairs(dims, cov.Accepted) {
		a, b, _ := strings.Cut(u, "+")
		out = append(out, a+","+b)
	}
	return out
}

// TestSpaceIsCovered: the real settings space's array holds every pair, and the defaults are
// accepted. It validates some 43,000 configurations (about 2 s): the deep tier, and CI's full
// sweep, which builds the same array, run it.
func TestSpaceIsCovered(t *testing.T) {
	tier.Deep(t)
	dims := Space()
	cov := Cover(dims, SettingsProblems)
	assert.Empty(t, Pairs(dims, append(slices.Clone(cov.Accepted), cov.Refused...)))
	assert.Greater(t, len(cov.Accepted), 50)
}

// TestSpaceDefaults: each dimension's first class is the default, which sets nothing, and the
// settings accept the configuration of defaults.
func TestSpaceDefaults(t *testing.T) {
	dims := Space()
	for _, d := range dims {
		assert.Empty(t, d.Classes[0].Context, "%s: the first class is the default and sets nothing", d.Name)
	}
	assert.Zero(t, SettingsProblems(make(Config, len(dims)).Context(dims), false))
}

// stack builds a Stack from a template written as JSON.
func stack(t *testing.T, name, account, region, template string, dependsOn ...string) *Stack {
	t.Helper()
	s := &Stack{Name: name, Account: account, Region: region, DependsOn: dependsOn}
	require.NoError(t, json.Unmarshal([]byte(template), &s.Template))
	return s
}

func appOf(stacks ...*Stack) *App { return &App{Stacks: stacks, Pipeline: stacks[0]} }

// check runs one constraint by id.
func check(t *testing.T, id string, app *App) []string {
	t.Helper()
	for _, c := range Constraints {
		if c.ID == id {
			return c.Check(app)
		}
	}
	t.Fatalf("no constraint %s", id)
	return nil
}

func pipelineTemplate(mode, stages string, extra ...string) string {
	return `{"Resources":{"P":{"Type":"AWS::CodePipeline::Pipeline","Properties":{"ExecutionMode":"` + mode + `","RoleArn":{"Fn::GetAtt":["Role","Arn"]},"Stages":` + stages + `}}` +
		strings.Join(extra, "") + `}}`
}

const (
	srcStage  = `{"Name":"Source","Actions":[{"Name":"Source"}]}`
	alarmRule = `{"Name":"Deploy-Bake1","RuleTypeId":{"Provider":"CloudWatchAlarm"},"Configuration":{"AlarmName":{"Ref":"Alarm"}}}`
)

// selfUpdatingTemplate is a pipeline in mode whose Update action runs a CodeBuild project whose
// role may assume the CDK bootstrap role named role (deploy, lookup, ...), in an
// environment-agnostic stack.
func selfUpdatingTemplate(mode, role string) string {
	arn := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":iam::",{"Ref":"AWS::AccountId"},":role/cdk-hnb659fds-` + role + `-role-",{"Ref":"AWS::AccountId"},"-",{"Ref":"AWS::Region"}]]}`
	return pipelineTemplate(mode, `[`+srcStage+`,{"Name":"SelfUpdate","Actions":[{"Name":"Update","ActionTypeId":{"Category":"Build","Owner":"AWS","Provider":"CodeBuild","Version":"1"},"Configuration":{"ProjectName":{"Ref":"Project"}}}]}]`,
		`,"Project":{"Type":"AWS::CodeBuild::Project","Properties":{"ServiceRole":{"Fn::GetAtt":["ProjectRole","Arn"]}}}`,
		`,"ProjectRole":{"Type":"AWS::IAM::Role"}`,
		`,"ProjectPolicy":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"ProjectRole"}],"PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":[`+arn+`]}]}}}`)
}

// archiveTemplate is an archive of the default bus keeping events days, of the pipeline's events
// and the events of alarms alarms.
func archiveTemplate(days string, alarms int) string {
	resources := `{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":codepipeline:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":",{"Ref":"Pipeline"}]]}`
	for i := range alarms {
		resources += fmt.Sprintf(`,{"Fn::GetAtt":["Alarm%d","Arn"]}`, i)
	}
	return `{"Resources":{"Archive":{"Type":"AWS::Events::Archive","Properties":{"RetentionDays":` + days + `,
		"SourceArn":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":events:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":event-bus/default"]]},
		"EventPattern":{"source":["aws.codepipeline","aws.cloudwatch"],"detail-type":["CodePipeline Pipeline Execution State Change","CloudWatch Alarm State Change"],
		"resources":[` + resources + `]}}}}}`
}

// TestEveryConstraintCatchesItsBreak: each constraint finds the break it is there for, and passes
// the same app without it.
func TestEveryConstraintCatchesItsBreak(t *testing.T) {
	const A, B = PipelineAccount, OtherAccount
	cases := []struct {
		id        string
		good, bad *App
	}{
		{"parallel-has-no-rollback",
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("PARALLEL", `[`+srcStage+`,{"Name":"Deploy","Actions":[{"Name":"D"}]}]`))),
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("PARALLEL", `[`+srcStage+`,{"Name":"Deploy","Actions":[{"Name":"D"}],"OnFailure":{"Result":"ROLLBACK"}}]`)))},
		{"one-self-update-at-a-time",
			appOf(stack(t, "P", A, PipelineRegion, selfUpdatingTemplate("QUEUED", "deploy"))),
			appOf(stack(t, "P", A, PipelineRegion, selfUpdatingTemplate("PARALLEL", "deploy")))},
		{"one-self-update-at-a-time",
			appOf(stack(t, "P", A, PipelineRegion, selfUpdatingTemplate("PARALLEL", "lookup"))),
			appOf(stack(t, "P", A, PipelineRegion, selfUpdatingTemplate("PARALLEL", "deploy")))},
		{"stage-conditions",
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("QUEUED", `[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D"}],"OnSuccess":{"Conditions":[{"Result":"ROLLBACK","Rules":[`+alarmRule+`]}]}}]`))),
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("QUEUED", `[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D"}],"OnSuccess":{"Conditions":[{"Result":"ROLLBACK","Rules":[`+
				strings.Repeat(alarmRule+",", 5)+alarmRule+`]}]}}]`)))},
		{"pipeline-structure",
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("QUEUED", `[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D"}]}]`))),
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("QUEUED", `[`+srcStage+`,{"Name":"Source","Actions":[{"Name":"D"}]}]`)))},
		{"principals-exist",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"BP":{"Type":"AWS::S3::BucketPolicy","Properties":{"PolicyDocument":{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+B+`:role/target-action"},"Action":"s3:GetObject","Resource":"*"}]}}}}}`, "T"),
				stack(t, "T", B, PipelineRegion, `{"Resources":{"R":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"target-action"}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"BP":{"Type":"AWS::S3::BucketPolicy","Properties":{"PolicyDocument":{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+B+`:role/target-action"},"Action":"s3:GetObject","Resource":"*"}]}}}}}`),
				stack(t, "T", B, PipelineRegion, `{"Resources":{"R":{"Type":"AWS::IAM::Role","Properties":{"RoleName":"target-action"}}}}`, "P"))},
		{"cross-region-stores",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::CodePipeline::Pipeline","Properties":{"ArtifactStores":[{"Region":"`+OtherRegion+`","ArtifactStore":{"Location":"store-b"}}],"Stages":[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D","Region":"`+OtherRegion+`"}]}]}}}}`, "S"),
				stack(t, "S", A, OtherRegion, `{"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"store-b"}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::CodePipeline::Pipeline","Properties":{"ArtifactStores":[{"Region":"`+OtherRegion+`","ArtifactStore":{"Location":"store-b"}}],"Stages":[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D","Region":"`+OtherRegion+`"}]}]}}}}`, "S"),
				stack(t, "S", B, OtherRegion, `{"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"store-b"}}}}`))},
		{"cross-account-reads",
			appOf(stack(t, "S", A, OtherRegion, `{"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"store-b"}},
				"BP":{"Type":"AWS::S3::BucketPolicy","Properties":{"Bucket":{"Ref":"B"},"PolicyDocument":{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+B+`:root"}}]}}}}}`),
				stack(t, "T", B, OtherRegion, `{"Resources":{"Pol":{"Type":"AWS::IAM::Policy","Properties":{"PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::store-b/*"}]}}}}}`)),
			appOf(stack(t, "S", A, OtherRegion, `{"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"store-b"}}}}`),
				stack(t, "T", B, OtherRegion, `{"Resources":{"Pol":{"Type":"AWS::IAM::Policy","Properties":{"PolicyDocument":{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::store-b/*"}]}}}}}`))},
		{"custom-resource-updates",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"Tip":{"Type":"Custom::AWS","Properties":{"Create":"{}","Update":"{}"}},"Use":{"Type":"Custom::AWS","Properties":{"Create":{"Fn::GetAtt":["Tip","branch.commitId"]}}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"Tip":{"Type":"Custom::AWS","Properties":{"Create":"{}"}},"Use":{"Type":"Custom::AWS","Properties":{"Create":{"Fn::GetAtt":["Tip","branch.commitId"]}}}}}`))},
		{"ami-architecture",
			appOf(stack(t, "P", A, PipelineRegion, `{"Parameters":{"Ami":{"Default":"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-arm64"}},"Resources":{"LT":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"ImageId":{"Ref":"Ami"},"InstanceType":"m7g.large"}}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Parameters":{"Ami":{"Default":"/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-6.1-x86_64"}},"Resources":{"LT":{"Type":"AWS::EC2::LaunchTemplate","Properties":{"LaunchTemplateData":{"ImageId":{"Ref":"Ami"},"InstanceType":"t4g.micro"}}}}}`))},
		{"bake-alarms",
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("QUEUED", `[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D"}],"OnSuccess":{"Conditions":[{"Result":"ROLLBACK","Rules":[`+alarmRule+`]}]}}]`,
				`,"Alarm":{"Type":"AWS::CloudWatch::Alarm"},"Pol":{"Type":"AWS::IAM::Policy","Properties":{"Roles":[{"Ref":"Role"}],"PolicyDocument":{"Statement":[{"Effect":"Allow","Action":["cloudwatch:DescribeAlarms"],"Resource":[{"Fn::GetAtt":["Alarm","Arn"]}]}]}}}`))),
			appOf(stack(t, "P", A, PipelineRegion, pipelineTemplate("QUEUED", `[`+srcStage+`,{"Name":"D","Actions":[{"Name":"D"}],"OnSuccess":{"Conditions":[{"Result":"ROLLBACK","Rules":[`+alarmRule+`]}]}}]`,
				`,"Alarm":{"Type":"AWS::CloudWatch::Alarm"}`)))},
		{"physical-names",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"cicdpipeline-replication-us-east-1-0a1b2c3d"}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"CicdPipeline-Replication"}}}}`))},
		{"unique-names",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::CloudWatch::Alarm","Properties":{"AlarmName":"app-errors"}}}}`),
				stack(t, "Q", A, OtherRegion, `{"Resources":{"X":{"Type":"AWS::CloudWatch::Alarm","Properties":{"AlarmName":"app-errors"}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::CloudWatch::Alarm","Properties":{"AlarmName":"app-errors"}}}}`),
				stack(t, "Q", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::CloudWatch::Alarm","Properties":{"AlarmName":"app-errors"}}}}`))},
		{"event-archives",
			appOf(stack(t, "P", A, PipelineRegion, archiveTemplate(`400`, 5))),
			appOf(stack(t, "P", A, PipelineRegion, archiveTemplate(`400`, 14)))},
		{"event-archives",
			appOf(stack(t, "P", A, PipelineRegion, archiveTemplate(`0`, 1))),
			appOf(stack(t, "P", A, PipelineRegion, archiveTemplate(`1.5`, 1)))},
		{"regional-exports",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::SNS::Topic","Properties":{"DisplayName":{"Fn::ImportValue":"shared"}}}}}`, "E"),
				stack(t, "E", A, PipelineRegion, `{"Outputs":{"O":{"Export":{"Name":"shared"}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"X":{"Type":"AWS::SNS::Topic","Properties":{"DisplayName":{"Fn::ImportValue":"shared"}}}}}`, "E"),
				stack(t, "E", A, OtherRegion, `{"Outputs":{"O":{"Export":{"Name":"shared"}}}}`))},
		{"sns-subscriber-place",
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"S":{"Type":"AWS::SNS::Subscription","Properties":{"Protocol":"firehose","Endpoint":"arn:aws:firehose:`+PipelineRegion+`:`+A+`:deliverystream/s"}},
				"Q":{"Type":"AWS::SNS::Subscription","Properties":{"Protocol":"sqs","Endpoint":"arn:aws:sqs:`+OtherRegion+`:`+A+`:q"}}}}`)),
			appOf(stack(t, "P", A, PipelineRegion, `{"Resources":{"S":{"Type":"AWS::SNS::Subscription","Properties":{"Protocol":"application","Endpoint":"arn:aws:sns:`+OtherRegion+`:`+A+`:endpoint/GCM/app/1"}}}}`))},
	}
	tested := map[string]bool{}
	for _, tc := range cases {
		tested[tc.id] = true
		assert.Empty(t, check(t, tc.id, tc.good), tc.id+": the app that keeps the rule")
		assert.NotEmpty(t, check(t, tc.id, tc.bad), tc.id+": the app that breaks it")
	}
	for _, c := range Constraints {
		assert.True(t, tested[c.ID], "constraint %s has a case here", c.ID)
		assert.NotEmpty(t, c.Doc, c.ID)
		assert.NotEmpty(t, c.Rule, c.ID)
	}
}

// TestChanges: a renamed bucket is replaced, a dropped repository removed, a dropped stack
// reported, and only expected changes pass.
func TestChanges(t *testing.T) {
	before := appOf(
		stack(t, "P", PipelineAccount, PipelineRegion, `{"Resources":{"Repo":{"Type":"AWS::CodeCommit::Repository","Properties":{"RepositoryName":"a"}},"B":{"Type":"AWS::S3::Bucket","Properties":{}},"Q":{"Type":"AWS::SQS::Queue"}}}`),
		stack(t, "P-dr", PipelineAccount, OtherRegion, `{"Resources":{}}`))
	after := appOf(stack(t, "P", PipelineAccount, PipelineRegion, `{"Resources":{"Repo":{"Type":"AWS::CodeCommit::Repository","Properties":{"RepositoryName":"b"}},"B":{"Type":"AWS::S3::Bucket","Properties":{"BucketName":"fixed"}}}}`))
	changes := Changes(before, after)
	var got []string
	for _, c := range changes {
		got = append(got, c.String())
	}
	assert.ElementsMatch(t, []string{"P/B replaced", "P-dr stack removed"}, got, "a renamed repository is updated in place; a queue is not stateful")
	path := Path{Name: "x=y"}
	assert.Equal(t, got, Unexpected(path, changes, nil))
	assert.Equal(t, []string{"P-dr stack removed"}, Unexpected(path, changes, []Expected{{Path: regexpOf(`^x=`), Change: regexpOf(`^P/B replaced$`)}}))

	assert.Empty(t, Disagreement("P", changes, []Impact{{ID: "B", Type: "AWS::S3::Bucket", Impact: "WILL_REPLACE"}, {ID: "Repo", Type: "AWS::CodeCommit::Repository", Impact: "WILL_UPDATE"}}))
	assert.NotEmpty(t, Disagreement("P", changes, []Impact{{ID: "B", Type: "AWS::S3::Bucket", Impact: "WILL_UPDATE"}}), "the library disagrees")
	assert.NotEmpty(t, Disagreement("P", nil, []Impact{{ID: "Repo", Type: "AWS::CodeCommit::Repository", Impact: "WILL_ORPHAN"}}), "a removal the sweep missed")
}

// TestNameClashes: a fixed name moving to a new logical id in the same update clashes; a name
// that stays with its resource, a name of another resource's, or a new name does not.
func TestNameClashes(t *testing.T) {
	before := appOf(stack(t, "P", PipelineAccount, PipelineRegion, `{"Resources":{
		"App":{"Type":"AWS::CodeDeploy::Application","Properties":{"ApplicationName":"P"}},
		"FleetGroup":{"Type":"AWS::CodeDeploy::DeploymentGroup","Properties":{"DeploymentGroupName":"P","ApplicationName":{"Ref":"App"},"DeploymentConfigName":"CodeDeployDefault.OneAtATime"}},
		"Kept":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"kept"}}}}`))
	clash := appOf(stack(t, "P", PipelineAccount, PipelineRegion, `{"Resources":{
		"App":{"Type":"AWS::CodeDeploy::Application","Properties":{"ApplicationName":"P"}},
		"InstancesGroup":{"Type":"AWS::CodeDeploy::DeploymentGroup","Properties":{"DeploymentGroupName":"P","ApplicationName":{"Ref":"App"},"DeploymentConfigName":"CodeDeployDefault.OneAtATime"}},
		"Kept":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"kept"}}}}`))
	renamed := appOf(stack(t, "P", PipelineAccount, PipelineRegion, `{"Resources":{
		"App":{"Type":"AWS::CodeDeploy::Application","Properties":{"ApplicationName":"P"}},
		"InstancesGroup":{"Type":"AWS::CodeDeploy::DeploymentGroup","Properties":{"DeploymentGroupName":"P-instances","ApplicationName":{"Ref":"App"},"DeploymentConfigName":"CodeDeployDefault.OneAtATime"}},
		"Kept":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"kept"}}}}`))
	assert.Equal(t, []string{`P/InstancesGroup: AWS::CodeDeploy::DeploymentGroup "DeploymentGroupName=P" is still FleetGroup's when it is created`}, NameClashes(before, clash))
	assert.Empty(t, NameClashes(before, renamed))
	assert.Empty(t, NameClashes(before, before))
}

func regexpOf(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// TestExpectedChangesAreDocumented: every change a setting makes on purpose is said, in these
// words, where users read about settings.
func TestExpectedChangesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/settings.md")
	require.NoError(t, err)
	text := strings.Join(strings.Fields(string(doc)), " ")
	for _, e := range ExpectedChanges {
		assert.Contains(t, text, e.Doc)
	}
}

// TestConstraintsAreDocumented: docs/sweep.md lists every constraint of the table, by id.
func TestConstraintsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sweep.md")
	require.NoError(t, err)
	for _, c := range Constraints {
		assert.Contains(t, string(doc), "`"+c.ID+"`")
		assert.Contains(t, string(doc), c.Doc, c.ID)
	}
}

// TestRetainedNamesAreDocumented: the recovery for each kind of retained, named resource is where
// users look after a failed deploy; and a retained, named resource of another kind is reported.
func TestRetainedNamesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	require.NoError(t, err)
	text := strings.Join(strings.Fields(string(doc)), " ")
	for _, k := range RetainedNames {
		assert.Contains(t, text, k.Doc)
	}
	app := appOf(stack(t, "CicdPipeline", PipelineAccount, PipelineRegion, `{"Resources":{
		"PipelineArtifactBucket5F943F51":{"Type":"AWS::S3::Bucket","DeletionPolicy":"RetainExceptOnCreate","Properties":{"BucketName":"cicdpipelineneartifactbucketfe168335b31f0b46a876"}},
		"B":{"Type":"AWS::S3::Bucket","DeletionPolicy":"RetainExceptOnCreate","Properties":{}},
		"C":{"Type":"AWS::S3::Bucket","DeletionPolicy":"Delete","Properties":{"BucketName":"scratch"}},
		"D":{"Type":"AWS::S3::Bucket","DeletionPolicy":"Retain","Properties":{"BucketName":"new-kind"}}}}`))
	assert.Equal(t, []string{`CicdPipeline/D: AWS::S3::Bucket "new-kind"`}, UndocumentedRetainedNames(app))
}

// TestSuppressions: the audit passes the narrow, explained suppressions the stacks make, and names
// each way a suppression is too broad or says nothing.
func TestSuppressions(t *testing.T) {
	suppress := func(rules ...map[string]any) map[string]any {
		return map[string]any{"cdk_nag": map[string]any{"rules_to_suppress": toAny(rules)}}
	}
	rule := func(id, reason string, appliesTo ...any) map[string]any {
		r := map[string]any{"id": id, "reason": reason}
		if len(appliesTo) > 0 {
			r["applies_to"] = appliesTo
		}
		return r
	}
	role := func(metadata map[string]any) map[string]any {
		metadata["aws:cdk:path"] = "S/Fleet/InstanceRole/Resource"
		return map[string]any{"Type": "AWS::IAM::Role", "Metadata": metadata}
	}
	good := &Stack{Name: "S", Template: map[string]any{"Resources": map[string]any{
		"Role": role(suppress(
			rule("AwsSolutions-IAM4", "AmazonSSMManagedInstanceCore is AWS's minimal policy for Session Manager, which replaces SSH.",
				map[string]any{"regex": `/^Policy::arn:(<AWS::Partition>|aws[a-z-]*):iam::aws:policy\/AmazonSSMManagedInstanceCore$/g`}),
			rule("AwsSolutions-IAM5", "The CodeDeploy agent reads revisions whose object keys the pipeline chooses at run time, in the artifact bucket.",
				"Action::s3:GetObject*", map[string]any{"regex": `/^Resource::<.+\.Arn>\/\*$/g`}),
			rule("AwsSolutions-IAM5", "Approval rule templates have no ARN, so IAM accepts only \"*\" for creating them.", "Resource::*"),
			rule("AwsSolutions-AS3", "Scaling events reach operators through the CodeDeploy and pipeline notifications instead."),
		)),
	}}}
	assert.Empty(t, StackSuppressions(good))
	assert.Empty(t, Suppressions(&App{Stacks: []*Stack{good}}))

	bad := &Stack{Name: "S", Template: map[string]any{
		"Metadata": suppress(rule("AwsSolutions-IAM5", "Every wildcard of this stack is scoped to the stack's own resources.")),
		"Resources": map[string]any{"Role": role(suppress(
			rule("AwsSolutions-IAM5", "The role's wildcards are scoped to the resources of this stack only."),
			rule("AwsSolutions-IAM4", "Reviewed."),
			rule("AwsSolutions-IAM4", "The library attaches the policy that AWS defines for this kind of role.",
				map[string]any{"regex": `/^Policy::arn:(<AWS::Partition>|aws[a-z-]*):iam::aws:policy\/service-role\/AWSCodeDeployRole$/g`}),
			rule("AwsSolutions-IAM5", "The wildcards are the ones the library writes for this grant, nothing more than needed.",
				"Action::kms:GenerateDataKey*", "Resource::*"),
			rule("AwsSolutions-S1", "TODO: explain why this bucket needs no server access logs here."),
			rule("AwsSolutions-SQS3", "This suppression was reviewed and is acceptable in this stack."),
		))},
	}}
	problems := StackSuppressions(bad)
	for _, want := range []string{
		"S/(stack): a stack-level suppression of AwsSolutions-IAM5",
		"S/Fleet/InstanceRole: AwsSolutions-IAM5 is suppressed without appliesTo",
		`S/Fleet/InstanceRole: AwsSolutions-IAM4's reason "Reviewed."`,
		"S/Fleet/InstanceRole: AwsSolutions-IAM4's reason does not say what /^Policy::arn:(<AWS::Partition>|aws[a-z-]*):iam::aws:policy\\/service-role\\/AWSCodeDeployRole$/g covers",
		"S/Fleet/InstanceRole: AwsSolutions-IAM5's reason does not say what Action::kms:GenerateDataKey* covers",
		"S/Fleet/InstanceRole: AwsSolutions-IAM5's reason does not say what Resource::* covers",
		`S/Fleet/InstanceRole: AwsSolutions-S1's reason "TODO: explain`,
		"S/Fleet/InstanceRole: AwsSolutions-SQS3's reason does not name what the rule is about (queue)",
	} {
		assert.True(t, slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, want) }), "want a problem starting %q in:\n%s", want, strings.Join(problems, "\n"))
	}
	assert.Len(t, problems, 9, "the IAM4 of \"Reviewed.\" has no appliesTo either")
}

func toAny[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
