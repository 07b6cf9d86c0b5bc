package notification_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/notification"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example subscribes a person by email, a webhook by string, and a queue of this app by type.
// The person gets readable lines, the machines the event JSON, with the dead-letter queue.
func Example() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	n := notification.New(stack, jsii.String("Notification"), nil)
	n.Subscribe("email", "ops@example.com")
	n.Subscribe("https", "https://hooks.example.com/pipeline")
	queue := awssqs.NewQueue(stack, jsii.String("Audit"), &awssqs.QueueProps{EnforceSSL: jsii.Bool(true), DeadLetterQueue: &awssqs.DeadLetterQueue{Queue: n.SubscriptionDeadLetters, MaxReceiveCount: jsii.Number(5)}})
	n.Events.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, &awssnssubscriptions.SqsSubscriptionProps{DeadLetterQueue: n.SubscriptionDeadLetters}))
	fmt.Println(notification.Readable("email"), notification.Readable("https"))
	fmt.Println(cdktest.Count(stack, "AWS::SNS::Topic", "AWS::SNS::Subscription"))
	// Output:
	// true false
	// AWS::SNS::Topic: 2
	// AWS::SNS::Subscription: 3
}

// Example_existingTopics sends the feed to topics another stack owns; no key or topic is created.
func Example_existingTopics() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	messages := awssns.Topic_FromTopicArn(stack, jsii.String("Messages"), jsii.String("arn:aws:sns:us-east-1:123456789012:ops"))
	events := awssns.Topic_FromTopicArn(stack, jsii.String("Events"), jsii.String("arn:aws:sns:us-east-1:123456789012:ops-json"))
	n := notification.New(stack, jsii.String("Notification"), &notification.Props{Messages: messages, Events: events})
	n.Subscribe("sms", "+14155550100")
	fmt.Println(n.Key == nil)
	fmt.Println(cdktest.Count(stack, "AWS::SNS::Topic", "AWS::KMS::Key", "AWS::SNS::Subscription"))
	// Output:
	// true
	// AWS::SNS::Topic: 0
	// AWS::KMS::Key: 0
	// AWS::SNS::Subscription: 1
}

func TestUnknownProtocolPanics(t *testing.T) {
	n := notification.New(cdktest.NewStack("Test"), jsii.String("N"), nil)
	assert.PanicsWithValue(t, `notification: unknown protocol "pager"`, func() { n.Subscribe("pager", "x") })
}

func TestOnItsOwnIsNagClean(t *testing.T) {
	stack := cdktest.NewStack("Clean")
	n := notification.New(stack, jsii.String("N"), nil)
	n.Subscribe("sms", "+14155550100")
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Count(t, "AWS::Events::Rule", 0)
}
