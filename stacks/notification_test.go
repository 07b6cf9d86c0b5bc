package stacks_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
)

func ref(prefix string) any {
	return obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^" + prefix))}
}

func TestTopicsAreEncryptedAndTLSOnly(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::SNS::Topic", obj{"DisplayName": "Pipeline notifications", "KmsMasterKeyId": obj{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^NotificationKey")), "Arn"}}})
	s.Has(t, "AWS::SNS::Topic", obj{"DisplayName": "Pipeline events (JSON)", "KmsMasterKeyId": any_()})
	for id, p := range s.Resources("AWS::SNS::TopicPolicy") {
		text := toJSON(p)
		assert.Contains(t, text, `"aws:SecureTransport":"false"`, id)
		assert.Contains(t, text, `"Effect":"Deny"`, id)
		assert.Contains(t, text, `"Service":"events.amazonaws.com"`, id)
	}
}

// TestKeyLetsEventBridgeIn: with an AWS-managed key, EventBridge deliveries are dropped silently.
func TestKeyLetsEventBridgeIn(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::KMS::Key", obj{"Description": "Encrypts pipeline and deployment notifications.", "KeyPolicy": obj{"Statement": arr(obj_(obj{
		"Effect": "Allow", "Principal": obj{"Service": "events.amazonaws.com"},
		"Action": []any{"kms:Decrypt", "kms:GenerateDataKey*"},
	}))}})
}

func TestPipelineFeed(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::Events::Rule", obj{
		"EventPattern": obj{
			"source": []any{"aws.codepipeline"}, "detail-type": []any{"CodePipeline Pipeline Execution State Change"},
			"resources": []any{any_()}, "detail": obj{"state": []any{"FAILED", "STOPPED", "SUCCEEDED"}},
		},
		"Targets": []any{
			obj_(obj{
				"Arn": ref("NotificationMessages"), "InputTransformer": obj_(obj{"InputTemplate": assertions.Match_StringLikeRegexp(jsii.String(`pipeline <detail-pipeline>: execution <detail-execution-id> <detail-state> https://.*codepipeline.*`))}),
				"DeadLetterConfig": obj{"Arn": any_()}, "RetryPolicy": obj{"MaximumRetryAttempts": 185.0, "MaximumEventAgeInSeconds": 86400.0},
			}),
			obj_(obj{"Arn": ref("NotificationEvents"), "DeadLetterConfig": obj{"Arn": any_()}, "RetryPolicy": any_()}),
		},
	})
	// The event topic gets the event itself.
	for _, r := range s.Resources("AWS::Events::Rule") {
		for _, target := range r["Properties"].(obj)["Targets"].([]any) {
			tg := target.(obj)
			if strings.Contains(toJSON(tg["Arn"]), "NotificationEvents") {
				assert.NotContains(t, tg, "InputTransformer")
				assert.NotContains(t, tg, "Input")
			}
		}
	}
	assert.True(t, strings.Contains(synth(t, "instances").Text(), `"state":["FAILED"]`), "notifyOn filters the states")
}

func TestDeploymentFeed(t *testing.T) {
	s := synth(t, "default")
	s.Has(t, "AWS::Events::Rule", obj{
		"EventPattern": obj{
			"source": []any{"aws.codedeploy"}, "detail-type": []any{"CodeDeploy Deployment State-change Notification"},
			"detail": obj{"application": []any{ref("FleetApplication")}, "deploymentGroup": []any{ref("FleetDeploymentGroup")}, "state": []any{"START", "SUCCESS", "FAILURE", "STOP"}},
		},
		"Targets": arr(obj_(obj{"InputTransformer": any_(), "DeadLetterConfig": any_(), "RetryPolicy": any_()})),
	})
}

func TestDeadLetterQueuesAreEncrypted(t *testing.T) {
	s := synth(t, "default")
	s.Count(t, "AWS::SQS::Queue", 3) // rule targets, machine subscriptions, pull request checks
	for id, q := range s.Resources("AWS::SQS::Queue") {
		props := q["Properties"].(obj)
		assert.Equal(t, true, props["SqsManagedSseEnabled"], id)
		assert.Equal(t, 1209600.0, props["MessageRetentionPeriod"], id)
	}
}

// TestEveryProtocol checks each subscriber's topic, form and redrive policy.
func TestEveryProtocol(t *testing.T) {
	s := synth(t, "instances")
	subs := s.Resources("AWS::SNS::Subscription")
	assert.Len(t, subs, 9)
	byProtocol := map[string]obj{}
	for _, sub := range subs {
		p := sub["Properties"].(obj)
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
		machine := topic == "NotificationEvents" && protocol != "email-json"
		assert.Equal(t, machine, p["RedrivePolicy"] != nil, "%s: redrive policy", protocol)
	}
	assert.Equal(t, true, byProtocol["sqs"]["RawMessageDelivery"])
	assert.Equal(t, true, byProtocol["firehose"]["RawMessageDelivery"])
	assert.Contains(t, byProtocol["firehose"], "SubscriptionRoleArn")
	assert.NotContains(t, byProtocol["https"], "RawMessageDelivery", "the envelope carries the signature")
	s.Has(t, "AWS::Lambda::Permission", obj{"Action": "lambda:InvokeFunction", "Principal": "sns.amazonaws.com", "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:notify"})
	s.Has(t, "AWS::IAM::Policy", obj{"PolicyDocument": obj{"Statement": arr(obj_(obj{
		"Action": arr("firehose:PutRecord"), "Resource": "arn:aws:firehose:us-east-1:123456789012:deliverystream/events",
	}))}})
	// SNS may send to the subscription dead-letter queue.
	s.Has(t, "AWS::SQS::QueuePolicy", obj{"PolicyDocument": obj{"Statement": arr(obj_(obj{
		"Action": "sqs:SendMessage", "Principal": obj{"Service": "sns.amazonaws.com"},
	}))}})
}

func TestOperators(t *testing.T) {
	s := synth(t, "instances")
	var users []any
	for _, add := range s.Resources("AWS::IAM::UserToGroupAddition") {
		users = append(users, add["Properties"].(obj)["Users"].([]any)...)
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
}
