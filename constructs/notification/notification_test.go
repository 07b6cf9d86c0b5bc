package notification_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/notification"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/notify"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example subscribes a person by email, a webhook by URL, and a queue of this app by type. The
// person gets readable text, the machines the event JSON with a dead-letter queue.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("NotificationExample"), nil)
	n := notification.New(stack, jsii.String("Notification"), nil)
	n.Subscribe(notify.Email, "ops@example.com")
	n.Subscribe(notify.HTTPS, "https://hooks.example.com/pipeline")
	queue := awssqs.NewQueue(stack, jsii.String("Audit"), &awssqs.QueueProps{EnforceSSL: jsii.Bool(true),
		DeadLetterQueue: &awssqs.DeadLetterQueue{Queue: n.SubscriptionDeadLetters, MaxReceiveCount: jsii.Number(5)}})
	n.Events.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, &awssnssubscriptions.SqsSubscriptionProps{DeadLetterQueue: n.SubscriptionDeadLetters}))
	template := assertions.Template_FromStack(stack, nil)
	for _, protocol := range []string{"email", "https", "sqs"} {
		subs := template.FindResources(jsii.String("AWS::SNS::Subscription"), map[string]any{"Properties": map[string]any{"Protocol": protocol}})
		fmt.Println(protocol, len(*subs))
	}
	fmt.Println(notify.Email.Readable(), notify.HTTPS.Readable())
	// Output:
	// email 1
	// https 1
	// sqs 1
	// true false
}

// Example_existingTopics sends the feed to topics another stack owns: no topic is created, and
// the one key encrypts the formatter function's logs.
func Example_existingTopics() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("ExistingTopicsExample"), nil)
	messages := awssns.Topic_FromTopicArn(stack, jsii.String("Messages"), jsii.String("arn:aws:sns:us-east-1:123456789012:ops"))
	events := awssns.Topic_FromTopicArn(stack, jsii.String("Events"), jsii.String("arn:aws:sns:us-east-1:123456789012:ops-json"))
	n := notification.New(stack, jsii.String("Notification"), &notification.Props{Messages: messages, Events: events})
	n.Subscribe(notify.SMS, "+14155550100")
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::SNS::Topic"), nil)), "topics,", len(*template.FindResources(jsii.String("AWS::KMS::Key"), nil)), "key")
	// Output: 0 topics, 1 key
}

// TestSubscribeChecksEndpoints: Subscribe refuses what the settings refuse, in the same words,
// and never changes the protocol.
func TestSubscribeChecksEndpoints(t *testing.T) {
	n := notification.New(cdktest.NewStack("Checked"), jsii.String("N"), nil)
	for _, c := range []struct {
		protocol notify.Protocol
		endpoint string
		want     string
	}{
		{notify.HTTPS, "http://hooks.example.com/x", `notification.Subscribe: endpoint "http://hooks.example.com/x" is not a URL starting with https:// for protocol https`},
		{notify.Email, "not-an-email", `notification.Subscribe: endpoint "not-an-email" is not an email address for protocol email`},
		{notify.SQS, "arn:aws:lambda:us-east-1:123456789012:function:f", "notification.Subscribe: endpoint \"arn:aws:lambda:us-east-1:123456789012:function:f\" is not an ARN like arn:aws:sqs:us-east-1:123456789012:my-queue for protocol sqs"},
		{"pager", "x", `notification.Subscribe: protocol "pager" is not supported; use email, email-json, http, https, sqs, lambda, firehose, application, sms`},
	} {
		assert.PanicsWithValue(t, c.want, func() { n.Subscribe(c.protocol, c.endpoint) })
	}
	assert.PanicsWithValue(t, `notification.New: "DONE" is not a pipeline state; use CANCELED, FAILED, RESUMED, STARTED, STOPPED, STOPPING, SUCCEEDED, SUPERSEDED`, func() {
		notification.New(cdktest.NewStack("States"), jsii.String("N"), &notification.Props{States: []notify.PipelineState{"DONE"}})
	})
}

// TestNilProps: nil props make the topics, key and dead-letter queues, and no rules.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("Clean")
	n := notification.New(stack, jsii.String("N"), nil)
	n.Subscribe(notify.SMS, "+14155550100")
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Count(t, "AWS::Events::Rule", 0)
	s.Count(t, "AWS::SNS::Topic", 2)
	s.Has(t, "AWS::SNS::Subscription", map[string]any{"Protocol": "sms", "Endpoint": "+14155550100"})
}

// TestSubscribeInAKnownAccount: with the stack's account known, another account's function or
// stream is refused in one line, as the settings refuse it.
func TestSubscribeInAKnownAccount(t *testing.T) {
	stack := awscdk.NewStack(cdktest.NewApp(), jsii.String("Known"), &awscdk.StackProps{Env: &awscdk.Environment{
		Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1"),
	}})
	n := notification.New(stack, jsii.String("N"), nil)
	assert.PanicsWithValue(t, `notification.Subscribe: delivery stream "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s" is in account 210987654321, not the stack's account 123456789012: SNS delivers only to a Firehose stream of the topic's own account`, func() {
		n.Subscribe(notify.Firehose, "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s")
	})
	assert.PanicsWithValue(t, `notification.Subscribe: function "arn:aws:lambda:eu-west-1:210987654321:function:f" is in account 210987654321, not the stack's account 123456789012: the stack cannot give SNS the right to invoke it; subscribe an SQS queue of that account instead, or deploy the stack environment-agnostic and let the function's owner add the permission (docs/notifications.md)`, func() {
		n.Subscribe(notify.Lambda, "arn:aws:lambda:eu-west-1:210987654321:function:f")
	})
	n.Subscribe(notify.Lambda, "arn:aws:lambda:eu-west-1:123456789012:function:mine")
	assertions.Template_FromStack(stack, nil).HasResourceProperties(jsii.String("AWS::Lambda::Permission"), map[string]any{
		"Principal": "sns.amazonaws.com", "FunctionName": "arn:aws:lambda:eu-west-1:123456789012:function:mine",
	})
}
