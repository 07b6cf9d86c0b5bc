package stacks_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ref(prefix string) any {
	return object{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^" + prefix))}
}

func getAtt(prefix string) any {
	return object{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^" + prefix)), "Arn"}}
}

// TestTopicsAreEncryptedAndTLSOnly: the topic policies only deny; publishers are roles of the
// stack, so no service principal is allowed in a topic or key policy (no confused deputy).
func TestTopicsAreEncryptedAndTLSOnly(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::SNS::Topic", object{"DisplayName": "Pipeline notifications", "KmsMasterKeyId": getAtt("NotificationKey")})
	s.Has(t, "AWS::SNS::Topic", object{"DisplayName": "Pipeline events (JSON)", "KmsMasterKeyId": getAtt("NotificationKey")})
	// One policy per topic, each denying requests without TLS and allowing nothing.
	policies := s.Resources("AWS::SNS::TopicPolicy")
	require.Len(t, policies, 2, "the Messages and Events topics' policies")
	var topics []string
	for id, p := range policies {
		props := p["Properties"].(object)
		topics = append(topics, regexp.MustCompile(`[0-9A-F]{8}"`).ReplaceAllString(toJSON(props["Topics"]), `"`))
		statements := props["PolicyDocument"].(object)["Statement"].([]any)
		require.NotEmpty(t, statements, id)
		for _, st := range statements {
			assert.Equal(t, "Deny", st.(object)["Effect"], id)
		}
		assert.Contains(t, toJSON(statements), `"Condition":{"Bool":{"aws:SecureTransport":"false"}}`, id)
	}
	assert.ElementsMatch(t, []string{`[{"Ref":"NotificationEvents"}]`, `[{"Ref":"NotificationMessages"}]`}, topics)
	for id, k := range s.Resources("AWS::KMS::Key") {
		assert.NotContains(t, toJSON(k), "events.amazonaws.com", id)
	}
}

// TestEventBridgePublishesWithARole: the event JSON reaches the Events topic through a role that
// trusts EventBridge only for this account's rules, and may publish to that topic only.
func TestEventBridgePublishesWithARole(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::IAM::Role", object{"AssumeRolePolicyDocument": object{"Statement": []any{objectLike(object{
		"Principal": object{"Service": "events.amazonaws.com"},
		"Condition": object{
			"StringEquals": object{"aws:SourceAccount": object{"Ref": "AWS::AccountId"}},
			"ArnLike":      object{"aws:SourceArn": object{"Fn::Join": []any{"", arrayWith(":rule/*")}}},
		},
	})}}})
	// So do the roles the library makes for the rules that start the pipeline and the checks.
	events := 0
	for id, r := range s.Resources("AWS::IAM::Role") {
		if text := toJSON(r); strings.Contains(text, `"Service":"events.amazonaws.com"`) {
			events++
			assert.Contains(t, text, `"StringEquals":{"aws:SourceAccount":{"Ref":"AWS::AccountId"}}`, id)
		}
	}
	assert.Equal(t, 3, events)
	var publisher string
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "NotificationEventsPublisher") {
			publisher = toJSON(p["Properties"])
		}
	}
	assert.Contains(t, publisher, `{"Action":"sns:Publish","Effect":"Allow","Resource":{"Ref":"NotificationEvents`)
	assert.NotContains(t, publisher, "NotificationMessages")
}

// TestPipelineFeed: each state change goes to the formatter, which writes the readable message,
// and as it is to the Events topic; both with EventBridge's most retries and a dead-letter queue.
func TestPipelineFeed(t *testing.T) {
	s := synth(t, "default")
	target := func(arn any, extra object) any {
		o := object{"Arn": arn, "DeadLetterConfig": object{"Arn": getAtt("NotificationRuleDeadLetters")}, "RetryPolicy": object{"MaximumRetryAttempts": 185.0, "MaximumEventAgeInSeconds": 86400.0}}
		for k, v := range extra {
			o[k] = v
		}
		return objectLike(o)
	}
	targets := []any{target(getAtt("NotificationFormatter"), nil), target(ref("NotificationEvents"), object{"RoleArn": getAtt("NotificationEventsPublisher")})}
	s.Has(t, "AWS::Events::Rule", object{
		"EventPattern": object{
			"source": []any{"aws.codepipeline"}, "detail-type": []any{"CodePipeline Pipeline Execution State Change"},
			"resources": []any{anyValue()}, "detail": object{"state": []any{"FAILED", "STOPPED", "SUCCEEDED"}},
		},
		"Targets": targets,
	})
	s.Has(t, "AWS::Events::Rule", object{
		"EventPattern": object{
			"source": []any{"aws.codedeploy"}, "detail-type": []any{"CodeDeploy Deployment State-change Notification"},
			"detail": object{"application": []any{ref("FleetApplication")}, "deploymentGroup": []any{ref("FleetDeploymentGroup")}, "state": []any{"START", "SUCCESS", "FAILURE", "STOP"}},
		},
		"Targets": targets,
	})
	// Events pass untouched: no input transformer, whose text templates arrive in quotes.
	for id, r := range s.Resources("AWS::Events::Rule") {
		if strings.HasPrefix(id, "Notification") {
			assert.NotContains(t, toJSON(r), "InputTransformer", id)
		}
	}
	// EventBridge may invoke the formatter for these two rules only.
	invokes := 0
	for id, p := range s.Resources("AWS::Lambda::Permission") {
		if strings.Contains(toJSON(p), "NotificationFormatter") {
			invokes++
			assert.Equal(t, "events.amazonaws.com", p["Properties"].(object)["Principal"], id)
			assert.Regexp(t, `^\{"Fn::GetAtt":\["Notification(ExecutionStateChange|DeploymentStateChange)[0-9A-F]{8}","Arn"\]\}$`, toJSON(p["Properties"].(object)["SourceArn"]), id)
		}
	}
	assert.Equal(t, 2, invokes, "one permission per rule")
	assert.True(t, strings.Contains(synth(t, "instances").Text(), `"state":["FAILED"]`), "notifyOn filters the states")
}

// TestFormatter: the Go function on the OS-only runtime, logging to its own encrypted group,
// retried twice and then kept in the dead-letter queue, with a role that has no managed policy.
func TestFormatter(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::Lambda::Function", object{
		"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap", "MemorySize": 128.0, "Timeout": 30.0,
		"LoggingConfig": object{"LogGroup": ref("NotificationFormatterLogs")},
		"Environment":   object{"Variables": object{"TOPIC_ARN": ref("NotificationMessages")}},
	})
	s.Has(t, "AWS::Lambda::EventInvokeConfig", object{
		"FunctionName": ref("NotificationFormatter"), "MaximumRetryAttempts": 2.0,
		"DestinationConfig": object{"OnFailure": object{"Destination": getAtt("NotificationRuleDeadLetters")}},
	})
	// No AWSLambdaBasicExecutionRole: it may write to its own log group only (TestPermissions).
	lines, err := s.Permissions("Notification/Formatter/Role")
	require.NoError(t, err)
	assert.NotContains(t, strings.Join(lines, "\n"), "Managed ")
}

func TestDeadLetterQueuesAreEncrypted(t *testing.T) {
	s := synth(t, "default")
	s.Count(t, "AWS::SQS::Queue", 3) // rule targets and the formatter, subscriptions, pull request checks
	for id, q := range s.Resources("AWS::SQS::Queue") {
		props := q["Properties"].(object)
		assert.Equal(t, true, props["SqsManagedSseEnabled"], id)
		assert.Equal(t, 1209600.0, props["MessageRetentionPeriod"], id)
	}
}

// TestEveryProtocol checks each subscriber's topic, form and redrive policy.
func TestEveryProtocol(t *testing.T) {
	s := synth(t, "instances")
	subs := s.Resources("AWS::SNS::Subscription")
	assert.Len(t, subs, 9)
	byProtocol := map[string]object{}
	for _, sub := range subs {
		p := sub["Properties"].(object)
		byProtocol[p["Protocol"].(string)] = p
	}
	for protocol, topic := range map[string]string{
		"email": "NotificationMessages", "sms": "NotificationMessages",
		"email-json": "NotificationEvents", "http": "NotificationEvents", "https": "NotificationEvents", "sqs": "NotificationEvents",
		"lambda": "NotificationEvents", "firehose": "NotificationEvents", "application": "NotificationEvents",
	} {
		p, ok := byProtocol[protocol]
		if !assert.True(t, ok, protocol) {
			continue
		}
		assert.Contains(t, toJSON(p["TopicArn"]), topic, protocol)
		assert.True(t, strings.Contains(toJSON(p["RedrivePolicy"]), "NotificationSubscriptionDeadLetters"), "%s: every subscription has a dead-letter queue", protocol)
	}
	assert.Equal(t, true, byProtocol["sqs"]["RawMessageDelivery"])
	assert.Equal(t, true, byProtocol["firehose"]["RawMessageDelivery"])
	assert.Contains(t, byProtocol["firehose"], "SubscriptionRoleArn")
	assert.NotContains(t, byProtocol["https"], "RawMessageDelivery", "the envelope carries the signature")
	s.Has(t, "AWS::IAM::Policy", object{"PolicyDocument": object{"Statement": arrayWith(objectLike(object{
		"Action": arrayWith("firehose:PutRecord"), "Resource": "arn:aws:firehose:us-east-1:123456789012:deliverystream/events",
	}))}})
	// SNS may send to the subscription dead-letter queue.
	s.Has(t, "AWS::SQS::QueuePolicy", object{"PolicyDocument": object{"Statement": arrayWith(objectLike(object{
		"Action": "sqs:SendMessage", "Principal": object{"Service": "sns.amazonaws.com"},
	}))}})
}

// TestLambdaSubscriberPermission: an environment-agnostic stack creates the permission for SNS
// to invoke a function only if the function is in the account it is deployed to; a stack of a
// known account creates it as is (the settings refuse another account's function there).
func TestLambdaSubscriberPermission(t *testing.T) {
	s := synth(t, "instances")
	var permissions []object
	for _, p := range s.Resources("AWS::Lambda::Permission") {
		if p["Properties"].(object)["Principal"] == "sns.amazonaws.com" {
			permissions = append(permissions, p)
		}
	}
	require.Len(t, permissions, 1)
	assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:notify", permissions[0]["Properties"].(object)["FunctionName"])
	condition, _ := permissions[0]["Condition"].(string)
	require.NotEmpty(t, condition)
	assert.Equal(t, object{"Fn::Equals": []any{"123456789012", object{"Ref": "AWS::AccountId"}}}, s.JSON["Conditions"].(object)[condition])

	regional := synth(t, "regional")
	regional.Has(t, "AWS::Lambda::Permission", object{"Principal": "sns.amazonaws.com", "FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:notify"})
	assert.NotContains(t, regional.JSON, "Conditions")
}

func TestOperators(t *testing.T) {
	s := synth(t, "instances")
	var users []any
	s.Count(t, "AWS::IAM::UserToGroupAddition", 2)
	for _, add := range s.Resources("AWS::IAM::UserToGroupAddition") {
		users = append(users, add["Properties"].(object)["Users"].([]any)...)
	}
	assert.ElementsMatch(t, []any{"alice", "bob"}, users)
	policy := ""
	for id, p := range s.Resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "OperatorsGroup") {
			policy = toJSON(p)
		}
	}
	for _, want := range []string{"codecommit:GitPull", "codecommit:GitPush", "codepipeline:StartPipelineExecution",
		"codepipeline:StopPipelineExecution", "codepipeline:RetryStageExecution", "logs:GetLogEvents", "codedeploy:GetDeployment"} {
		assert.Contains(t, policy, want)
	}
	for _, never := range []string{`"Action":"*"`, `"*:*"`, "iam:", "codepipeline:UpdatePipeline", "codepipeline:DeletePipeline"} {
		assert.NotContains(t, policy, never)
	}
	assert.NotContains(t, policy, `"Effect":"Deny"`, "without pull request checks, operators push to the branch")
	// With pull request checks, the branch changes only through pull requests, and operators can
	// read the test reports the approval points to.
	protected := ""
	for id, p := range synth(t, "default").Resources("AWS::IAM::Policy") {
		if strings.HasPrefix(id, "OperatorsGroup") {
			protected = toJSON(p)
		}
	}
	assert.Contains(t, protected, `"Sid":"ProtectedBranchChangesOnlyThroughPullRequests"`)
	assert.Contains(t, protected, `"codecommit:References":["refs/heads/main"]`)
	assert.Contains(t, protected, "codebuild:DescribeTestCases")
}
