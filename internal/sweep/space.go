package sweep

import "fmt"

// The account and regions of the sweep's stacks. package cdktest supplies the lookups (availability
// zones) that synthesizing them needs.
const (
	PipelineAccount = "123456789012"
	OtherAccount    = "210987654321"
	PipelineRegion  = "eu-west-1"
	OtherRegion     = "us-east-1"
)

// Space is the settings space the sweep covers: every setting, by value classes that change what
// is synthesized. compliancePacks is left out: the optional cdk-nag packs are documented as gates
// that fail the synthesis of the default stack (docs/security.md).
func Space() []Dimension {
	return []Dimension{
		{"target", []Class{
			{Name: "fleet"},
			{Name: "instances", Context: map[string]any{"deployTarget": "instances", "instanceTag": "Environment=prod"}},
			{Name: "beanstalk", Context: map[string]any{"deployTarget": "beanstalk", "beanstalkApplication": "shop", "beanstalkEnvironment": "shop-prod"}},
		}},
		{"fleetShape", []Class{
			{Name: "default"},
			{Name: "one-box", Context: map[string]any{"fleetSize": "1", "instanceType": "t3.small"}},
			{Name: "ten-large", Context: map[string]any{"fleetSize": 10, "instanceType": "m7i.large"}},
		}},
		{"deploymentConfig", []Class{
			{Name: "OneAtATime"},
			{Name: "AllAtOnce", Context: map[string]any{"deploymentConfig": "AllAtOnce"}},
			{Name: "HalfAtATime", Context: map[string]any{"deploymentConfig": "HalfAtATime"}},
		}},
		{"approval", []Class{
			{Name: "on"},
			{Name: "off", Context: map[string]any{"approval": "false"}},
			{Name: "on-with-approvers", Context: map[string]any{"approverEmails": `["lead@example.com","ops@example.org"]`}},
		}},
		{"executionMode", []Class{
			{Name: "SUPERSEDED"},
			{Name: "QUEUED", Context: map[string]any{"executionMode": "QUEUED"}},
			{Name: "PARALLEL", Context: map[string]any{"executionMode": "PARALLEL"}},
		}},
		{"bake", []Class{
			{Name: "default"},
			{Name: "none", Context: map[string]any{"bakeMinutes": "0"}},
			{Name: "hour", Context: map[string]any{"bakeMinutes": 60}},
		}},
		{"window", []Class{
			{Name: "always"},
			{Name: "office-hours", Context: map[string]any{"deployWindow": "* * 9-16 ? * MON-FRI", "deployWindowTimeZone": "Europe/Paris"}},
			{Name: "eventbridge-cron", Context: map[string]any{"deployWindow": "cron(* 9-16 ? * MON-FRI *)"}},
		}},
		{"stageRollback", []Class{
			{Name: "on"},
			{Name: "off", Context: map[string]any{"stageRollback": false}},
		}},
		{"notifications", subscriberClasses()},
		{"notifyOn", []Class{
			{Name: "default"},
			{Name: "every-state", Context: map[string]any{"notifyOn": `["CANCELED","FAILED","RESUMED","STARTED","STOPPED","STOPPING","SUCCEEDED","SUPERSEDED"]`}},
		}},
		{"repository", []Class{
			{Name: "new"},
			{Name: "new-named", Context: map[string]any{"repositoryName": "shop-app"}},
			{Name: "imported", Context: map[string]any{"importRepository": "true", "repositoryName": "existing-app"}},
		}},
		{"branch", []Class{
			{Name: "main"},
			{Name: "release", Context: map[string]any{"branch": "release/v2"}},
		}},
		{"pullRequestChecks", []Class{
			{Name: "on"},
			{Name: "off", Context: map[string]any{"pullRequestChecks": "false"}},
		}},
		{"selfUpdate", []Class{
			{Name: "off"},
			{Name: "on", Context: map[string]any{"selfUpdate": "true"}},
		}},
		{"operatorUsers", []Class{
			{Name: "none"},
			{Name: "two", Context: map[string]any{"operatorUsers": []any{"alice", "bob.smith"}}},
		}},
		{"terminationProtection", []Class{
			{Name: "on"},
			{Name: "off", Context: map[string]any{"terminationProtection": "false"}},
		}},
		{"metricsArchive", []Class{
			{Name: "default"},
			{Name: "two-weeks", Context: map[string]any{"metricsArchiveDays": "14"}},
			{Name: "decade", Context: map[string]any{"metricsArchiveDays": 3650}},
			{Name: "none", Context: map[string]any{"metricsArchiveDays": "0"}},
		}},
		{"environments", environmentClasses()},
		{"stack", []Class{
			{Name: "agnostic"},
			{Name: "pinned", Pinned: true},
		}},
	}
}

// subscriberClasses are no subscriber, one of each SNS protocol, a Lambda function of another
// account and a Firehose stream of another region (refused where the stack's account and region
// are known), and every protocol at once.
func subscriberClasses() []Class {
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, PipelineRegion, PipelineAccount, resource)
	}
	endpoints := []struct{ protocol, endpoint string }{
		{"email", "ops@example.com"},
		{"email-json", "audit@example.com"},
		{"http", "http://hooks.example.com/pipeline"},
		{"https", "https://hooks.example.com/pipeline"},
		{"sqs", arn("sqs", "pipeline-events")},
		{"lambda", arn("lambda", "function:on-pipeline-event")},
		{"firehose", arn("firehose", "deliverystream/pipeline-events")},
		{"application", arn("sns", "endpoint/GCM/pipeline-app/5a6b7c8d-1234-5678-9abc-def012345678")},
		{"sms", "+14155550100"},
	}
	subscriber := func(protocol, endpoint string) map[string]any {
		return map[string]any{"protocol": protocol, "endpoint": endpoint}
	}
	classes := []Class{{Name: "none"}}
	var all []any
	for _, e := range endpoints {
		classes = append(classes, Class{Name: e.protocol, Context: map[string]any{"notifications": []any{subscriber(e.protocol, e.endpoint)}}})
		all = append(all, subscriber(e.protocol, e.endpoint))
	}
	other := fmt.Sprintf("arn:aws:lambda:%s:%s:function:on-pipeline-event", PipelineRegion, OtherAccount)
	elsewhere := fmt.Sprintf("arn:aws:firehose:%s:%s:deliverystream/pipeline-events", OtherRegion, PipelineAccount)
	classes = append(classes,
		Class{Name: "lambda-other-account", Context: map[string]any{"notifications": []any{subscriber("lambda", other)}}},
		Class{Name: "firehose-other-region", Context: map[string]any{"notifications": []any{subscriber("firehose", elsewhere)}}},
		Class{Name: "every-protocol", Context: map[string]any{"notifications": all}},
	)
	return classes
}

// environmentClasses are the implicit environment and environments lists: one, several, and one
// in every relation of account and region to the pipeline's, in more than one order. Entries set
// only what places them, so they inherit the other dimensions' top-level keys.
func environmentClasses() []Class {
	env := func(name, account, region string, extra ...string) string {
		s := `{"name":"` + name + `"`
		if account != "" {
			s += `,"account":"` + account + `"`
		}
		if region != "" {
			s += `,"region":"` + region + `"`
		}
		for _, e := range extra {
			s += "," + e
		}
		return s + "}"
	}
	list := func(name string, entries ...string) Class {
		s := "["
		for i, e := range entries {
			if i > 0 {
				s += ","
			}
			s += e
		}
		return Class{Name: name, Context: map[string]any{"environments": s + "]"}}
	}
	beta := env("beta", "", "", `"approval":false`)
	return []Class{
		{Name: "implicit"},
		list("one", env("prod", "", "")),
		list("beta-prod", beta, env("prod", "", "")),
		list("prod-beta", env("prod", "", ""), beta),
		list("other-account", beta, env("prod", OtherAccount, "")),
		list("other-region", beta, env("dr", "", OtherRegion)),
		list("other-account-and-region", env("prod", OtherAccount, OtherRegion)),
		list("remote-then-local-in-region", env("prod", OtherAccount, OtherRegion), env("dr", "", OtherRegion)),
		list("local-then-remote-in-region", env("dr", "", OtherRegion), env("prod", OtherAccount, OtherRegion)),
		list("every-relation", beta, env("prod", OtherAccount, ""), env("dr", "", OtherRegion), env("lab", OtherAccount, OtherRegion)),
	}
}
