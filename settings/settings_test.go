package settings

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/notify"
)

// cdkJSONContext is the context that cdk.json ships with, so the defaults here and there cannot drift.
func cdkJSONContext(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("../cdk.json")
	require.NoError(t, err)
	var doc struct {
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc.Context
}

func TestCDKJSONMatchesDefaults(t *testing.T) {
	ctx := cdkJSONContext(t)
	for _, k := range Keys {
		if f := lookup(k); f.use != nil && f.use.required {
			continue // no default: they are required only for their target
		}
		assert.Contains(t, ctx, k, "cdk.json must give every setting a default")
	}
	s, err := Parse(ctx)
	require.NoError(t, err)
	assert.Equal(t, Defaults(), s)
}

func TestParseAcceptsCommandLineStrings(t *testing.T) {
	s, err := Parse(map[string]any{
		"repositoryName":        "my-app.v2",
		"importRepository":      "TRUE",
		"branch":                "release/2026-11",
		"approval":              "true",
		"approverEmails":        `["lead@example.com"]`,
		"notifications":         `[{"protocol":"sms","endpoint":"+14155550100"},{"protocol":"https","endpoint":"https://hooks.example.com/x"}]`,
		"notifyOn":              `["FAILED"]`,
		"deployTarget":          "fleet",
		"fleetSize":             "3",
		"instanceType":          "m7i.large",
		"deploymentConfig":      "AllAtOnce",
		"operatorUsers":         `["alice","bob@corp"]`,
		"terminationProtection": "false",
		"pullRequestChecks":     "false",
		"executionMode":         "QUEUED",
		"compliancePacks":       `["HIPAA.Security"]`,
		"deployWindow":          "cron(* 9-16 ? * MON-FRI *)",
		"deployWindowTimeZone":  "Europe/Paris",
		"bakeMinutes":           "30",
		"stageRollback":         "false",
		"metricsArchiveDays":    "30",
		"environments":          `[{"name":"beta","fleetSize":1,"approval":false},{"name":"prod","account":"210987654321","region":"eu-west-1"}]`,
	})
	require.NoError(t, err)
	stage := Stage{DeployTarget: Fleet, FleetSize: 3, InstanceType: "m7i.large", DeploymentConfig: "AllAtOnce", Approval: true,
		BakeMinutes: 30, DeployWindow: "cron(* 9-16 ? * MON-FRI *)", DeployWindowTimeZone: "Europe/Paris"}
	beta, prod := Environment{Name: "beta", Stage: stage}, Environment{Name: "prod", Account: "210987654321", Region: "eu-west-1", Stage: stage}
	beta.FleetSize, beta.Approval = 1, false
	prod.BakeMinutes = 0
	assert.Equal(t, Settings{
		RepositoryName: "my-app.v2", ImportRepository: true, Branch: "release/2026-11",
		ApproverEmails: []string{"lead@example.com"},
		Notifications: []Subscriber{
			{Protocol: "sms", Endpoint: "+14155550100"},
			{Protocol: "https", Endpoint: "https://hooks.example.com/x"},
		},
		NotifyOn:      []notify.PipelineState{notify.PipelineFailed},
		Stage:         stage,
		OperatorUsers: []string{"alice", "bob@corp"}, ExecutionMode: "QUEUED",
		CompliancePacks: []string{"HIPAA.Security"}, MetricsArchiveDays: 30,
		Environments: []Environment{beta, prod},
	}, s)
	assert.Equal(t, []Environment{beta, prod}, s.Deployments())
}

func TestParseAcceptsNativeJSON(t *testing.T) {
	var ctx map[string]any
	require.NoError(t, json.Unmarshal([]byte(`{
		"approval": false, "fleetSize": 2, "deployTarget": "beanstalk",
		"beanstalkApplication": "My App", "beanstalkEnvironment": "my-env-1",
		"notifications": [{"protocol": "email", "endpoint": "ops@example.com"}]}`), &ctx))
	s, err := Parse(ctx)
	require.NoError(t, err)
	assert.False(t, s.Approval)
	assert.Equal(t, 2, s.FleetSize, "the default is no change, so it may stay in cdk.json with another target")
	assert.Equal(t, Beanstalk, s.DeployTarget)
	assert.Equal(t, []Subscriber{{"email", "ops@example.com"}}, s.Notifications)
}

// TestToolkitKeysAreAccepted gives Parse the keys the CDK CLI 2.1148.1 adds to the app's context
// (recorded from CDK_CONTEXT_JSON), a feature flag given with -c, the keys the CLI records in
// cdk.context.json and cdk.json, and lookups: none of them is a setting, none is an error.
func TestToolkitKeysAreAccepted(t *testing.T) {
	ctx := cdkJSONContext(t)
	for k, v := range map[string]any{
		"aws:cdk:enable-path-metadata": true, "aws:cdk:enable-asset-metadata": true,
		"aws:cdk:disable-version-reporting": true, "aws:cdk:bundling-stacks": []any{"**"},
		"@aws-cdk/core:failSynthOnValidationErrors": false, "@aws-cdk/aws-lambda:recognizeVersionProps": "true",
		"availability-zones:account=123456789012:region=eu-west-1": []any{"eu-west-1a", "eu-west-1b"},
		"acknowledged-issue-numbers":                               []any{32775.0}, "cli-telemetry": false, "cdk-migrate": true,
	} {
		ctx[k] = v
	}
	_, err := Parse(ctx)
	assert.NoError(t, err)
}

func TestEveryProtocolAcceptsItsEndpoint(t *testing.T) {
	for _, sub := range []Subscriber{
		{"email", "ops@example.com"},
		{"email-json", "robot@example.co.uk"},
		{"http", "http://10.0.0.1:8080/hook"},
		{"https", "https://hooks.example.com/services/T0/B0"},
		{"sqs", "arn:aws:sqs:eu-west-1:123456789012:events.fifo"},
		{"lambda", "arn:aws:lambda:us-east-1:123456789012:function:notify:live"},
		{"firehose", "arn:aws:firehose:us-east-1:123456789012:deliverystream/events"},
		{"application", "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/my-app/5e3e9847-3183-3f18-a7e8-671c3a57d4b3"},
		{"sms", "+14155550100"},
	} {
		s := Defaults()
		s.Notifications = []Subscriber{sub}
		assert.NoError(t, s.Validate(), sub.Protocol)
	}
	assert.Len(t, notify.Protocols, 9)
}

// TestBadInput is the contract for every wrong value: each case must fail with exactly the listed
// messages (as substrings), all of them reported together.
func TestBadInput(t *testing.T) {
	long := strings.Repeat("a", maxValueLen+1)
	cases := []struct {
		name string
		ctx  map[string]any
		want []string
	}{
		{"repository name with a space", map[string]any{"repositoryName": "my app"}, []string{`repositoryName: "my app" is not a CodeCommit repository name`}},
		{"repository name too long", map[string]any{"repositoryName": strings.Repeat("r", 101)}, []string{"repositoryName: "}},
		{"repository name ending .git", map[string]any{"repositoryName": "app.git"}, []string{`repositoryName: "app.git"`}},
		{"empty repository name", map[string]any{"repositoryName": ""}, []string{`repositoryName: ""`}},
		{"repository name as a number", map[string]any{"repositoryName": 42.0}, []string{"repositoryName: 42 is not a string"}},
		{"importRepository not boolean", map[string]any{"importRepository": "yes"}, []string{`importRepository: "yes" is not a boolean`}},
		{"importRepository a number", map[string]any{"importRepository": 1.0}, []string{"importRepository: 1 is not a boolean"}},
		{"branch with ..", map[string]any{"branch": "a..b"}, []string{`branch: "a..b" is not a valid git branch name`}},
		{"branch with a space", map[string]any{"branch": "my branch"}, []string{"branch: "}},
		{"branch ending .lock", map[string]any{"branch": "main.lock"}, []string{"branch: "}},
		{"branch starting with -", map[string]any{"branch": "-x"}, []string{"branch: "}},
		{"branch with a control character", map[string]any{"branch": "ma\x1bin"}, []string{`branch: "ma\x1bin"`}},
		{"branch component with a dot", map[string]any{"branch": "feature/.hidden"}, []string{"branch: "}},
		{"approval as a word", map[string]any{"approval": "on"}, []string{`approval: "on" is not a boolean`}},
		{"approver email malformed", map[string]any{"approverEmails": `["lead@example.com","not-an-email"]`}, []string{`approverEmails[1]: "not-an-email" is not an email address`}},
		{"approver email with a display name", map[string]any{"approverEmails": []any{"Lead <lead@example.com>"}}, []string{"approverEmails[0]: "}},
		{"approverEmails a bare string", map[string]any{"approverEmails": "lead@example.com"}, []string{`approverEmails: "lead@example.com" is not a JSON list`}},
		{"approverEmails an object", map[string]any{"approverEmails": map[string]any{"a": "b"}}, []string{"approverEmails: {\"a\":\"b\"} is not a JSON list"}},
		{"approverEmails list of numbers", map[string]any{"approverEmails": []any{1.0}}, []string{"approverEmails[0]: 1 is not a string"}},
		{"notifications malformed JSON", map[string]any{"notifications": `[{"protocol":"email",`}, []string{"notifications: "}},
		{"notifications trailing garbage", map[string]any{"notifications": `[] []`}, []string{"notifications: "}},
		{"notification unknown protocol", map[string]any{"notifications": `[{"protocol":"pager","endpoint":"x"}]`}, []string{`notifications[0]: protocol "pager" is not supported`}},
		{"notification unknown field", map[string]any{"notifications": `[{"protocol":"sms","endpoint":"+14155550100","topic":"x"}]`}, []string{`notifications[0]: unknown field "topic"`}},
		{"notification not an object", map[string]any{"notifications": `["ops@example.com"]`}, []string{`notifications[0]: "ops@example.com" is not an object`}},
		{"notification endpoint a number", map[string]any{"notifications": `[{"protocol":"sms","endpoint":14155550100}]`}, []string{"notifications[0].endpoint: 14155550100 is not a string", "notifications[0]: endpoint \"\""}},
		{"email endpoint malformed", map[string]any{"notifications": `[{"protocol":"email","endpoint":"ops@"}]`}, []string{`notifications[0]: endpoint "ops@" is not an email address`}},
		{"http for https", map[string]any{"notifications": `[{"protocol":"https","endpoint":"http://example.com"}]`}, []string{"is not a URL starting with https://"}},
		{"https for http", map[string]any{"notifications": `[{"protocol":"http","endpoint":"https://example.com"}]`}, []string{"is not a URL starting with http://"}},
		{"url with credentials", map[string]any{"notifications": `[{"protocol":"https","endpoint":"https://bot:s3cret@hooks.example.com/x"}]`}, []string{"notifications[0]: endpoint must not contain credentials"}},
		{"branch given as a ref", map[string]any{"branch": "refs/heads/main"}, []string{`branch: "refs/heads/main" is not a valid git branch name: give the branch name alone`}},
		{"url without host", map[string]any{"notifications": `[{"protocol":"https","endpoint":"https:///path"}]`}, []string{"is not a URL"}},
		{"sqs with a lambda ARN", map[string]any{"notifications": `[{"protocol":"sqs","endpoint":"arn:aws:lambda:us-east-1:123456789012:function:f"}]`}, []string{"is not an ARN like arn:aws:sqs:"}},
		{"lambda with a short account", map[string]any{"notifications": `[{"protocol":"lambda","endpoint":"arn:aws:lambda:us-east-1:1234:function:f"}]`}, []string{"is not an ARN like arn:aws:lambda:"}},
		{"firehose with an sns ARN", map[string]any{"notifications": `[{"protocol":"firehose","endpoint":"arn:aws:sns:us-east-1:123456789012:topic"}]`}, []string{"is not an ARN like arn:aws:firehose:"}},
		{"application with a topic ARN", map[string]any{"notifications": `[{"protocol":"application","endpoint":"arn:aws:sns:us-east-1:123456789012:my-topic"}]`}, []string{"is not an ARN like arn:aws:sns:"}},
		{"unknown partition", map[string]any{"notifications": `[{"protocol":"sqs","endpoint":"arn:evil:sqs:us-east-1:123456789012:q"}]`}, []string{"is not an ARN"}},
		{"mixed partitions", map[string]any{"notifications": `[{"protocol":"sqs","endpoint":"arn:aws:sqs:us-east-1:123456789012:q"},{"protocol":"sqs","endpoint":"arn:aws-cn:sqs:cn-north-1:123456789012:q"}]`}, []string{"notifications: the ARNs name 2 partitions (aws, aws-cn)"}},
		{"sms not E.164", map[string]any{"notifications": `[{"protocol":"sms","endpoint":"4155550100"}]`}, []string{"is not a phone number in E.164 form"}},
		{"notifyOn unknown state", map[string]any{"notifyOn": `["FAILED","BROKEN"]`}, []string{`notifyOn[1]: "BROKEN" is not a pipeline state`}},
		{"notifyOn empty", map[string]any{"notifyOn": `[]`}, []string{"notifyOn: the list is empty"}},
		{"unknown target", map[string]any{"deployTarget": "lambda"}, []string{`deployTarget: "lambda" is not a target; use fleet, instances, beanstalk`}},
		{"fleetSize zero", map[string]any{"fleetSize": "0"}, []string{"fleetSize: 0 is out of range; use 1 to 10"}},
		{"fleetSize too big", map[string]any{"fleetSize": 11.0}, []string{"fleetSize: 11 is out of range"}},
		{"fleetSize not a number", map[string]any{"fleetSize": "two"}, []string{`fleetSize: "two" is not a whole number`}},
		{"fleetSize a fraction", map[string]any{"fleetSize": 2.5}, []string{"fleetSize: 2.5 is not a whole number"}},
		{"instanceType malformed", map[string]any{"instanceType": "big"}, []string{`instanceType: "big" is not an EC2 instance type`}},
		{"instanceType Graviton", map[string]any{"instanceType": "t4g.micro"}, []string{`instanceType: "t4g.micro" is an Arm (Graviton) type`}},
		{"instances without tag", map[string]any{"deployTarget": "instances"}, []string{`instanceTag: required when deployTarget is "instances", for example -c instanceTag=Environment=prod`}},
		// Only the form error: a tag was given (issue 19).
		{"malformed tag", map[string]any{"deployTarget": "instances", "instanceTag": "Environment"}, []string{`instanceTag: "Environment" is not of the form Key=Value, for example -c instanceTag=Environment=prod`}},
		{"malformed tag an entry inherits", map[string]any{"instanceTag": "Env", "environments": `[{"name":"prod","deployTarget":"instances"}]`},
			[]string{`instanceTag: "Env" is not of the form Key=Value`}},
		// An entry's messages show the entry's JSON form, not -c.
		{"malformed tag in an entry", map[string]any{"environments": `[{"name":"prod","deployTarget":"instances","instanceTag":"Env"}]`},
			[]string{`environments[0].instanceTag: "Env" is not of the form Key=Value, for example "instanceTag": "Environment=prod"`}},
		{"tag with an aws: key", map[string]any{"deployTarget": "instances", "instanceTag": "aws:foo=bar"}, []string{"instanceTag: \"aws:foo=bar\" is not a valid EC2 tag"}},
		{"beanstalk without names", map[string]any{"deployTarget": "beanstalk"}, []string{"beanstalkApplication: required", "beanstalkEnvironment: required"}},
		{"beanstalk environment malformed", map[string]any{"deployTarget": "beanstalk", "beanstalkApplication": "app", "beanstalkEnvironment": "-x"}, []string{`beanstalkEnvironment: "-x" is not an Elastic Beanstalk environment name`}},
		{"unknown deployment config", map[string]any{"deploymentConfig": "TwoAtATime"}, []string{`deploymentConfig: "TwoAtATime" is not a deployment configuration; use OneAtATime, HalfAtATime, AllAtOnce`}},
		{"operator user malformed", map[string]any{"operatorUsers": `["alice","bad user"]`}, []string{`operatorUsers[1]: "bad user" is not an IAM user name`}},
		{"terminationProtection not boolean", map[string]any{"terminationProtection": "maybe"}, []string{"terminationProtection: "}},
		{"pullRequestChecks not boolean", map[string]any{"pullRequestChecks": []any{}}, []string{"pullRequestChecks: [] is not a boolean"}},
		{"unknown execution mode", map[string]any{"executionMode": "FAST"}, []string{`executionMode: "FAST" is not an execution mode; use SUPERSEDED, QUEUED, PARALLEL`}},
		{"unknown compliance pack", map[string]any{"compliancePacks": `["SOC2"]`}, []string{`compliancePacks[0]: "SOC2" is not a rule pack`}},
		{"repeated operator user", map[string]any{"operatorUsers": `["alice","bob","alice"]`}, []string{"operatorUsers[2]: repeats operatorUsers[0]"}},
		{"repeated approver", map[string]any{"approverEmails": `["a@example.com","a@example.com"]`}, []string{"approverEmails[1]: repeats approverEmails[0]"}},
		{"repeated subscriber", map[string]any{"notifications": `[{"protocol":"sms","endpoint":"+14155550100"},{"protocol":"sms","endpoint":"+14155550100"}]`}, []string{"notifications[1]: repeats notifications[0]"}},
		{"repeated state", map[string]any{"notifyOn": `["FAILED","FAILED"]`}, []string{"notifyOn[1]: repeats notifyOn[0]"}},
		{"repeated pack", map[string]any{"compliancePacks": `["HIPAA.Security","HIPAA.Security"]`}, []string{"compliancePacks[1]: repeats compliancePacks[0]"}},
		{"very long value", map[string]any{"branch": long}, []string{"branch: value is 4097 characters long; the limit is 4096"}},
		{"misspelled key", map[string]any{"fleetsize": "3"}, []string{"fleetsize: unknown setting; did you mean fleetSize?"}},
		{"misspelled approval", map[string]any{"aproval": "false"}, []string{"aproval: unknown setting; did you mean approval?"}},
		{"snake case key", map[string]any{"fleet_size": "3"}, []string{"fleet_size: unknown setting; did you mean fleetSize?"}},
		{"singular of a list key", map[string]any{"notification": `[]`}, []string{"notification: unknown setting; did you mean notifications?"}},
		{"misspelled key in cdk.json", map[string]any{"aprovers": []any{"lead@example.com"}}, []string{"aprovers: unknown setting; did you mean approverEmails?"}},
		{"unknown key far from any setting", map[string]any{"colour": "blue"}, []string{"colour: unknown setting; the settings are listed in docs/settings.md"}},
		{"unknown key with a control character", map[string]any{"a\x1bb": "x"}, []string{`"a\x1bb": unknown setting`}},
		{"instanceTag with the fleet", map[string]any{"instanceTag": "Env=prod"}, []string{`instanceTag: applies only when deployTarget is "instances", not "fleet"`}},
		{"beanstalk names with instances", map[string]any{"deployTarget": "instances", "instanceTag": "Env=prod", "beanstalkApplication": "app", "beanstalkEnvironment": "app-env"},
			[]string{`beanstalkApplication: applies only when deployTarget is "beanstalk", not "instances"`, `beanstalkEnvironment: applies only when deployTarget is "beanstalk", not "instances"`}},
		{"fleet settings with instances", map[string]any{"deployTarget": "instances", "instanceTag": "Env=prod", "fleetSize": "3", "instanceType": "t3.small"},
			[]string{`fleetSize: applies only when deployTarget is "fleet", not "instances"`, `instanceType: applies only when deployTarget is "fleet", not "instances"`}},
		{"deployment config with beanstalk", map[string]any{"deployTarget": "beanstalk", "beanstalkApplication": "app", "beanstalkEnvironment": "app-env", "deploymentConfig": "AllAtOnce"},
			[]string{"deploymentConfig: applies only when CodeDeploy releases"}},
		{"approvers without approval", map[string]any{"approval": "false", "approverEmails": `["lead@example.com"]`}, []string{"approverEmails: applies only when approval is true"}},
		{"instance size typo", map[string]any{"instanceType": "t3.mirco"}, []string{`instanceType: "t3.mirco" is not an EC2 instance type: no instance size "mirco"; did you mean t3.micro?`}},
		{"instance family typo", map[string]any{"instanceType": "m7y.large"}, []string{`instanceType: "m7y.large" is not an EC2 instance type: no instance family "m7y"; did you mean`}},
		{"instance family unknown", map[string]any{"instanceType": "zz9.large"}, []string{`instanceType: "zz9.large" is not an EC2 instance type: no instance family "zz9"`}},
		{"dedicated-host instance type", map[string]any{"instanceType": "u-6tb1.metal"}, []string{`instanceType: "u-6tb1.metal" runs only on dedicated hosts`}},
		{"window in the wrong form", map[string]any{"deployWindow": "9-17 weekdays"}, []string{`deployWindow: "9-17 weekdays" is not a deployment window: use 6 or 7 fields`}},
		{"window with both day fields", map[string]any{"deployWindow": "* * 9-16 * * MON-FRI"}, []string{`deployWindow: "* * 9-16 * * MON-FRI" is not a deployment window: exactly one of day-of-month and day-of-week must be ?`}},
		{"unknown time zone", map[string]any{"deployWindowTimeZone": "CET+1"}, []string{`deployWindowTimeZone: "CET+1" is not an IANA time zone name`}},
		{"bake over a day", map[string]any{"bakeMinutes": "2000"}, []string{"bakeMinutes: 2000 is out of range; use 0 to 1440 (a day)"}},
		{"archive over ten years", map[string]any{"metricsArchiveDays": "4000"}, []string{"metricsArchiveDays: 4000 is out of range; use 0 to 3650 (ten years)"}},
		{"negative archive", map[string]any{"metricsArchiveDays": -1.0}, []string{"metricsArchiveDays: -1 is out of range; use 0 to 3650 (ten years)"}},
		{"bake without alarms", map[string]any{"deployTarget": "instances", "instanceTag": "Env=prod", "bakeMinutes": "30"},
			[]string{`bakeMinutes: the deploy stage deploys to "instances", which has no alarms to watch`}},
		{"environments not a list", map[string]any{"environments": `{"name":"prod"}`}, []string{"environments: "}},
		{"environment names repeat", map[string]any{"environments": `[{"name":"prod"},{"name":"Prod"}]`},
			[]string{`environments[1].name: "Prod" is the name of environments[0] too`}},
		{"environment names the outputs cannot tell apart", map[string]any{"environments": `[{"name":"a-b"},{"name":"AB"}]`},
			[]string{`environments[1].name: "AB" differs from environments[0]'s "a-b" only in case or '-', which the stack's output names drop; names must differ in a letter or digit`}},
		{"environment named as an artifact store's stack", map[string]any{"environments": `[{"name":"replication-us-east-1","region":"us-east-1"}]`},
			[]string{`environments[0].name: "replication-us-east-1" starts with "replication-", which names the stacks of the artifact stores`}},
		{"more stages than a pipeline holds", map[string]any{"environments": manyEnvironments(25)},
			[]string{"environments: 25 environments make 52 stages (Source, Build, the update stage with selfUpdate, a deploy stage each and an approval stage each that has approval), but CodePipeline allows 50"}},
		{"environment without a name", map[string]any{"environments": `[{"fleetSize":1}]`}, []string{`environments[0].name: "" is not an environment name`}},
		{"environment field typo", map[string]any{"environments": `[{"name":"prod","fleetsize":1}]`}, []string{`environments[0]: unknown field "fleetsize"; did you mean fleetSize?`}},
		{"environment field wrong type", map[string]any{"environments": `[{"name":"prod","approval":"maybe"}]`}, []string{`environments[0].approval: "maybe" is not a boolean`}},
		{"environment missing its companion", map[string]any{"environments": `[{"name":"prod","deployTarget":"instances"}]`},
			[]string{`environments[0].instanceTag: required when deployTarget is "instances", for example "instanceTag": "Environment=prod"`}},
		{"environment bake without alarms", map[string]any{"environments": `[{"name":"prod","deployTarget":"beanstalk","beanstalkApplication":"app","beanstalkEnvironment":"app-env","bakeMinutes":5}]`},
			[]string{`environments[0].bakeMinutes: environment prod deploys to "beanstalk", which has no alarms to watch`}},
		{"environment account and region", map[string]any{"environments": `[{"name":"prod","account":"1234","region":"mars-1"}]`},
			[]string{`environments[0].account: "1234" is not an AWS account id`, `environments[0].region: "mars-1" is not an AWS region name`}},
		{"environment key its target ignores", map[string]any{"environments": `[{"name":"prod","fleetSize":3,"deployTarget":"instances","instanceTag":"Env=prod"}]`},
			[]string{`environments[0].fleetSize: applies only when deployTarget is "fleet", not "instances"`}},
		{"top-level key no environment uses", map[string]any{"instanceTag": "Env=prod", "environments": `[{"name":"beta"},{"name":"prod"}]`},
			[]string{"instanceTag: no environment uses it"}},
		{"approvers and no environment approves", map[string]any{"approverEmails": `["lead@example.com"]`, "environments": `[{"name":"beta","approval":false}]`},
			[]string{"approverEmails: applies only when an environment has approval true"}},
		{"bake in another account", map[string]any{"environments": `[{"name":"prod","account":"210987654321","bakeMinutes":15}]`},
			[]string{"environments[0].bakeMinutes: environment prod is in account 210987654321: CodePipeline reads a bake's alarms with the pipeline's role"}},
		{"beanstalk in another region", map[string]any{"environments": `[{"name":"prod","region":"us-east-1","deployTarget":"beanstalk","beanstalkApplication":"app","beanstalkEnvironment":"app-env"}]`},
			[]string{"environments[0].deployTarget: environment prod: a beanstalk target must be in the pipeline's account and region"}},
		{"instance type in capitals", map[string]any{"instanceType": "T3.MICRO"}, []string{`instanceType: "T3.MICRO" is not an EC2 instance type: they are written in lowercase; did you mean t3.micro?`}},
		{"target in capitals", map[string]any{"deployTarget": "Fleet"}, []string{`deployTarget: "Fleet" is not a target; use fleet, instances, beanstalk; did you mean fleet?`}},
		{"cron(...) with the seconds first", map[string]any{"deployWindow": "cron(* * 9-16 ? * MON-FRI)"},
			[]string{`deployWindow: "cron(* * 9-16 ? * MON-FRI)" is not a deployment window: month field "?": ? is allowed in the day fields only; inside cron(...) the fields are EventBridge's, minutes first: minutes hours day-of-month month day-of-week year, and these fields are a window in the DeploymentWindow form, seconds first ("* * 9-16 ? * MON-FRI"): write it without cron(...)`}},
		// Inside JSON, values have their JSON type; only top-level text is parsed.
		{"number as a string in an entry", map[string]any{"environments": `[{"name":"prod","fleetSize":"1"}]`},
			[]string{`environments[0].fleetSize: "1" is a string, not a JSON number: write 1 without quotes`}},
		{"boolean as a string in an entry", map[string]any{"environments": `[{"name":"prod","approval":"False"}]`},
			[]string{`environments[0].approval: "False" is a string, not a JSON boolean: write false without quotes`}},
		{"approvers differing in case", map[string]any{"approverEmails": `["Lead@Example.com","lead@example.com"]`},
			[]string{`approverEmails[1]: repeats approverEmails[0] ("Lead@Example.com" and "lead@example.com": email addresses are compared ignoring case`}},
		{"email subscribers differing in case", map[string]any{"notifications": `[{"protocol":"email","endpoint":"ops@example.com"},{"protocol":"email","endpoint":"OPS@example.com"}]`},
			[]string{`notifications[1]: repeats notifications[0] ({"protocol":"email","endpoint":"ops@example.com"} and {"protocol":"email","endpoint":"OPS@example.com"}: email addresses are compared ignoring case`}},
		{"approval as 0", map[string]any{"approval": "0"}, []string{`approval: "0" is not a boolean: use true or false (any letter case); did you mean false?`}},
		{"approval as yes", map[string]any{"approval": "yes"}, []string{`approval: "yes" is not a boolean: use true or false (any letter case); did you mean true?`}},
		{"approval as 1 in cdk.json", map[string]any{"approval": 1.0}, []string{`approval: 1 is not a boolean: use true or false; did you mean true?`}},
		{"pipeline-wide key in an entry", map[string]any{"environments": `[{"name":"prod","stageRollback":false}]`},
			[]string{`environments[0]: "stageRollback" is a setting of the whole pipeline, not of an environment; give it at the top level`}},
		{"entry key at the top level", map[string]any{"account": "210987654321"},
			[]string{`account: a field of an environments entry, not a setting; give it in an entry`}},
		{"inherited bad value reported once", map[string]any{"fleetSize": "0", "environments": `[{"name":"beta"},{"name":"prod"}]`},
			[]string{"fleetSize: 0 is out of range; use 1 to 10"}},
		{"deployment config no environment uses", map[string]any{"deploymentConfig": "AllAtOnce", "environments": `[{"name":"prod","deployTarget":"beanstalk","beanstalkApplication":"app","beanstalkEnvironment":"app-env"}]`},
			[]string{"deploymentConfig: no environment uses it"}},
		{"self-update in PARALLEL mode", map[string]any{"selfUpdate": "true", "executionMode": "PARALLEL", "stageRollback": "false", "bakeMinutes": "0"},
			[]string{"selfUpdate: true deploys the pipeline's stacks from its executions, and executionMode PARALLEL runs executions side by side"}},
		{"self-update on an unprotected branch", map[string]any{"selfUpdate": "true", "pullRequestChecks": "false"},
			[]string{"selfUpdate: true deploys infrastructure from the branch, and pullRequestChecks=false leaves the branch open to every operator's push, unreviewed; keep pullRequestChecks=true, or selfUpdate=false"}},
		{"many problems at once", map[string]any{"repositoryName": "a b", "approval": "x", "fleetSize": "99", "notifications": `[{"protocol":"pager","endpoint":"x"}]`},
			[]string{"repositoryName: ", "approval: ", "fleetSize: ", "notifications[0]: "}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.ctx)
			require.Error(t, err)
			lines := strings.Split(err.Error(), "\n")
			assert.Len(t, lines, len(tc.want), "one line per problem: %q", lines)
			for _, want := range tc.want {
				assert.Contains(t, err.Error(), want)
			}
			for _, line := range lines {
				assert.Regexp(t, `^("[^"]*"|[A-Za-z_-]+)(\[\d+\])?(\.[A-Za-z]+)?: `, line, "every line names its key")
				assert.NotContains(t, line, "\x1b", "control characters are escaped")
				assert.Less(t, len(line), 400, "values are cut short")
			}
		})
	}
}

// TestEveryKeyRejectsTheWrongType gives each setting a value of the wrong type, as cdk.json or -c
// could, and fails if a setting is added without a case here.
func TestEveryKeyRejectsTheWrongType(t *testing.T) {
	wrong := map[string]any{
		"repositoryName": 7.0, "importRepository": "sometimes", "branch": []any{"main"}, "approval": 1.0,
		"approverEmails": "lead@example.com", "notifications": map[string]any{"protocol": "sms"}, "notifyOn": "FAILED",
		"deployTarget": true, "fleetSize": "2x", "instanceType": 3.0, "instanceTag": map[string]any{"Env": "prod"},
		"beanstalkApplication": false, "beanstalkEnvironment": 1.0, "deploymentConfig": []any{}, "operatorUsers": "alice",
		"terminationProtection": "on", "pullRequestChecks": 0.0, "selfUpdate": "auto", "executionMode": 1.0, "compliancePacks": `{"pack":1}`,
		"deployWindow": 9.0, "deployWindowTimeZone": []any{"UTC"}, "bakeMinutes": "ten", "stageRollback": "yes", "metricsArchiveDays": "a year",
		"environments": `{"name":"prod"}`,
	}
	for _, key := range Keys {
		value, ok := wrong[key]
		if !assert.True(t, ok, "no wrong-type case for %s", key) {
			continue
		}
		_, err := Parse(map[string]any{key: value})
		if assert.Error(t, err, key) {
			assert.Regexp(t, `(?m)^`+key+`: .* is not (a|an) `, err.Error(), key)
		}
	}
	assert.Len(t, wrong, len(Keys), "a case for a key that does not exist")
}

// TestCheckPlace: with the stack's account known, a function or Firehose stream of another
// account is refused; queues and endpoints of any account are fine, and an unknown account
// checks nothing. With the region known, a Firehose stream of another region is refused.
func TestCheckPlace(t *testing.T) {
	s, err := Parse(map[string]any{"notifications": `[
		{"protocol":"lambda","endpoint":"arn:aws:lambda:eu-west-1:210987654321:function:f"},
		{"protocol":"sqs","endpoint":"arn:aws:sqs:eu-west-1:210987654321:q"},
		{"protocol":"firehose","endpoint":"arn:aws:firehose:eu-west-1:210987654321:deliverystream/s"},
		{"protocol":"lambda","endpoint":"arn:aws:lambda:eu-west-1:123456789012:function:mine"}]`})
	require.NoError(t, err)
	assert.NoError(t, s.CheckPlace("", ""))
	assert.ErrorContains(t, s.CheckPlace("210987654321", ""), "notifications[3]: ")
	err = s.CheckPlace("123456789012", "")
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, "the queue and the stack's own function pass")
	assert.True(t, strings.HasPrefix(lines[0], `notifications[0]: function "arn:aws:lambda:eu-west-1:210987654321:function:f" is in account 210987654321, not the stack's account 123456789012`))
	assert.True(t, strings.HasPrefix(lines[1], `notifications[2]: delivery stream "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s" is in account 210987654321`))
	err = s.CheckPlace("", "us-east-1")
	require.Error(t, err)
	assert.Equal(t, `notifications[2]: firehose "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s" is in region eu-west-1, not the stack's region us-east-1: SNS delivers to another region only for sqs and lambda subscribers`, err.Error(), "the queue and the functions may be in another region")
}

// TestCheckEnvironments: an environment in another account or region needs the pipeline's own
// account and region; naming the pipeline's own account is refused (it would silently not bake).
func TestCheckEnvironments(t *testing.T) {
	s, err := Parse(map[string]any{"environments": `[{"name":"beta"},
		{"name":"prod","account":"210987654321"},
		{"name":"dr","region":"us-east-1"}]`})
	require.NoError(t, err)
	assert.NoError(t, s.CheckEnvironments("123456789012", "eu-west-1"))
	err = s.CheckEnvironments("", "")
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Len(t, lines, 2, "beta names neither")
	assert.True(t, strings.HasPrefix(lines[0], "environments[1]: environment prod names an account or region, so the pipeline's own account and region must be known"))
	assert.True(t, strings.HasPrefix(lines[1], "environments[2]: environment dr names an account or region"))
	assert.EqualError(t, s.CheckEnvironments("210987654321", "eu-west-1"),
		"environments[1].account: 210987654321 is the pipeline's own account; leave account out for an environment there")
	plain, err := Parse(map[string]any{"environments": `[{"name":"beta"},{"name":"prod"}]`})
	require.NoError(t, err)
	assert.NoError(t, plain.CheckEnvironments("", ""), "environments in the pipeline's own account and region synthesize agnostic")
}

// manyEnvironments is an environments list of n entries, e1 to en, each with its approval.
func manyEnvironments(n int) string {
	var entries []string
	for i := 1; i <= n; i++ {
		entries = append(entries, fmt.Sprintf(`{"name":"e%d"}`, i))
	}
	return "[" + strings.Join(entries, ",") + "]"
}
