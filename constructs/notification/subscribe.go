package notification

import (
	"fmt"
	"hash/fnv"

	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"
)

// Readable reports whether a protocol's subscribers are people, who get the readable line, rather
// than machines, who get the event JSON.
func Readable(protocol string) bool {
	return protocol == "email" || protocol == "sms"
}

// Subscribe subscribes an endpoint, given as the settings contract does (see package settings),
// to the topic that suits its protocol. Endpoints of machine protocols get
// SubscriptionDeadLetters as their redrive policy. It panics on an unknown protocol.
//
// Subscribers that are resources of this app can be subscribed with their types instead, for
// example n.Events.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, ...)).
func (n *Notification) Subscribe(protocol, endpoint string) {
	// Content-derived ids keep a subscription in place when the list is reordered; a replaced
	// email subscription would need confirming again.
	h := fnv.New32a()
	h.Write([]byte(protocol + " " + endpoint))
	id := fmt.Sprintf("Subscriber%08x", h.Sum32())
	dlq := n.SubscriptionDeadLetters
	switch protocol {
	case "email":
		n.Messages.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(endpoint), nil))
	case "sms":
		n.Messages.AddSubscription(awssnssubscriptions.NewSmsSubscription(jsii.String(endpoint), nil))
	case "email-json":
		n.Events.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(endpoint), &awssnssubscriptions.EmailSubscriptionProps{Json: jsii.Bool(true)}))
	case "http", "https":
		// Not raw: the SNS envelope carries the signature that lets the receiver verify the sender.
		n.Events.AddSubscription(awssnssubscriptions.NewUrlSubscription(jsii.String(endpoint), &awssnssubscriptions.UrlSubscriptionProps{
			DeadLetterQueue: dlq,
			Protocol:        map[string]awssns.SubscriptionProtocol{"http": awssns.SubscriptionProtocol_HTTP, "https": awssns.SubscriptionProtocol_HTTPS}[protocol],
		}))
	case "sqs":
		queue := awssqs.Queue_FromQueueArn(n, jsii.String(id), jsii.String(endpoint))
		n.Events.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, &awssnssubscriptions.SqsSubscriptionProps{
			DeadLetterQueue: dlq, RawMessageDelivery: jsii.Bool(true),
		}))
	case "lambda":
		fn := awslambda.Function_FromFunctionAttributes(n, jsii.String(id), &awslambda.FunctionAttributes{
			FunctionArn: jsii.String(endpoint),
			// Lets the library add the permission for SNS to invoke it; see the README for a
			// function in another account.
			SameEnvironment: jsii.Bool(true),
		})
		n.Events.AddSubscription(awssnssubscriptions.NewLambdaSubscription(fn, &awssnssubscriptions.LambdaSubscriptionProps{DeadLetterQueue: dlq}))
	case "firehose":
		stream := awskinesisfirehose.DeliveryStream_FromDeliveryStreamArn(n, jsii.String(id), jsii.String(endpoint))
		n.Events.AddSubscription(awssnssubscriptions.NewFirehoseSubscription(stream, &awssnssubscriptions.FirehoseSubscriptionProps{
			DeadLetterQueue: dlq, RawMessageDelivery: jsii.Bool(true),
		}))
	case "application":
		awssns.NewSubscription(n, jsii.String(id), &awssns.SubscriptionProps{
			Topic: n.Events, Protocol: awssns.SubscriptionProtocol_APPLICATION, Endpoint: jsii.String(endpoint), DeadLetterQueue: dlq,
		})
	default:
		panic(fmt.Sprintf("notification: unknown protocol %q", protocol))
	}
}
