package notification

import (
	"fmt"
	"hash/fnv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/notify"
)

// Subscribe subscribes endpoint to the topic that suits its protocol, with SubscriptionDeadLetters
// as its redrive policy. It checks the endpoint as the app's settings do, and panics with that one
// line when it is not of the protocol's form (an https subscriber needs an https:// URL, an sqs
// subscriber a queue ARN, ...), or when a lambda or firehose subscriber is in another account than
// the stack's. When the stack's account is unknown (environment-agnostic), the permission for SNS
// to invoke a lambda subscriber is created only if the function turns out to be in the stack's
// account at deploy time (a CloudFormation condition).
//
// Subscribers that are resources of this app can be subscribed with their types instead, for
// example n.Events.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, ...)).
func (n *Notification) Subscribe(protocol notify.Protocol, endpoint string) {
	arn, err := names.Endpoint(protocol, endpoint)
	guard.Must("notification.Subscribe", err)
	stack := awscdk.Stack_Of(n)
	account, region := "", ""
	if !*awscdk.Token_IsUnresolved(stack.Account()) {
		account = *stack.Account()
	}
	if !*awscdk.Token_IsUnresolved(stack.Region()) {
		region = *stack.Region()
	}
	guard.Must("notification.Subscribe", names.SamePlace(protocol, endpoint, account, region))
	// Content-derived ids keep a subscription in place when the list is reordered; a replaced
	// email subscription would need confirming again.
	h := fnv.New32a()
	h.Write([]byte(string(protocol) + " " + endpoint))
	id := fmt.Sprintf("Subscriber%08x", h.Sum32())
	dlq := n.SubscriptionDeadLetters
	switch protocol {
	case notify.Email:
		n.Messages.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(endpoint), &awssnssubscriptions.EmailSubscriptionProps{DeadLetterQueue: dlq}))
	case notify.SMS:
		// The library's SmsSubscription drops its dead-letter queue; the plain subscription keeps it.
		awssns.NewSubscription(n, jsii.String(id), &awssns.SubscriptionProps{
			Topic: n.Messages, Protocol: awssns.SubscriptionProtocol_SMS, Endpoint: jsii.String(endpoint), DeadLetterQueue: dlq,
		})
	case notify.EmailJSON:
		n.Events.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(endpoint), &awssnssubscriptions.EmailSubscriptionProps{Json: jsii.Bool(true), DeadLetterQueue: dlq}))
	case notify.HTTP, notify.HTTPS:
		// Not raw: the SNS envelope carries the signature that lets the receiver verify the sender.
		n.Events.AddSubscription(awssnssubscriptions.NewUrlSubscription(jsii.String(endpoint), &awssnssubscriptions.UrlSubscriptionProps{
			DeadLetterQueue: dlq,
			Protocol:        map[notify.Protocol]awssns.SubscriptionProtocol{notify.HTTP: awssns.SubscriptionProtocol_HTTP, notify.HTTPS: awssns.SubscriptionProtocol_HTTPS}[protocol],
		}))
	case notify.SQS:
		queue := awssqs.Queue_FromQueueArn(n, jsii.String(id), jsii.String(endpoint))
		n.Events.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, &awssnssubscriptions.SqsSubscriptionProps{
			DeadLetterQueue: dlq, RawMessageDelivery: jsii.Bool(true),
		}))
	case notify.Lambda:
		fn := awslambda.Function_FromFunctionAttributes(n, jsii.String(id), &awslambda.FunctionAttributes{
			FunctionArn: jsii.String(endpoint),
			// Lets the library add the permission for SNS to invoke it.
			SameEnvironment: jsii.Bool(true),
		})
		n.Events.AddSubscription(awssnssubscriptions.NewLambdaSubscription(fn, &awssnssubscriptions.LambdaSubscriptionProps{DeadLetterQueue: dlq}))
		if account == "" {
			// CloudFormation could not create the permission on another account's function, and
			// the whole deploy would roll back: create it only where it can be created.
			same := awscdk.NewCfnCondition(n, jsii.String(id+"InStackAccount"), &awscdk.CfnConditionProps{
				Expression: awscdk.Fn_ConditionEquals(arn.Account, awscdk.Aws_ACCOUNT_ID()),
			})
			for _, c := range *fn.Node().FindAll(constructs.ConstructOrder_PREORDER) {
				if r, ok := c.(awslambda.CfnPermission); ok {
					r.CfnOptions().SetCondition(same)
				}
			}
		}
	case notify.Firehose:
		stream := awskinesisfirehose.DeliveryStream_FromDeliveryStreamArn(n, jsii.String(id), jsii.String(endpoint))
		n.Events.AddSubscription(awssnssubscriptions.NewFirehoseSubscription(stream, &awssnssubscriptions.FirehoseSubscriptionProps{
			DeadLetterQueue: dlq, RawMessageDelivery: jsii.Bool(true),
		}))
	case notify.Application:
		awssns.NewSubscription(n, jsii.String(id), &awssns.SubscriptionProps{
			Topic: n.Events, Protocol: awssns.SubscriptionProtocol_APPLICATION, Endpoint: jsii.String(endpoint), DeadLetterQueue: dlq,
		})
	}
}
