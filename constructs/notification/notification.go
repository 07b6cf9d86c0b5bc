// Package notification sends every pipeline execution and CodeDeploy deployment state change
// through EventBridge to SNS. People (email, sms) get plain text with a console link, written by a
// small Go function (package formatter); machines (email-json, http, https, sqs, lambda, firehose,
// application) get the full event JSON. Nothing is lost: each rule target retries and has a
// dead-letter queue, so has the function, and so has every subscription.
//
// The subscription protocols and the states that notify are package notify's types, which the
// app's settings use too.
package notification

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/gofunc"
	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/internal/secure"
	"github.com/pipekit/cdk-pipeline/notify"
)

// FormatterPackage is the Go main package of the function that writes the readable messages.
const FormatterPackage = "github.com/pipekit/cdk-pipeline/constructs/notification/formatter"

// Props configures a Notification. Nil props means all defaults.
type Props struct {
	// Pipeline is the pipeline whose executions notify.
	// Default: none; no pipeline feed.
	Pipeline awscodepipeline.IPipeline
	// States are the pipeline execution states that notify.
	// Default: notify.PipelineFailed, notify.PipelineStopped and notify.PipelineSucceeded.
	States []notify.PipelineState
	// DeploymentGroups are the CodeDeploy groups whose deployments notify.
	// Default: none; no deployment feed.
	DeploymentGroups []awscodedeploy.IServerDeploymentGroup
	// Key encrypts the topics this construct creates and the formatter function's logs.
	// Default: a new customer-managed key with rotation on.
	Key awskms.IKey
	// Messages is an existing topic for the readable messages, which the formatter function
	// publishes to with its role. If the topic is encrypted, its key must let that role use it.
	// Default: a new topic encrypted with Key, TLS only.
	Messages awssns.ITopic
	// Events is an existing topic for the event JSON, which EventBridge publishes to with a role
	// of this construct. If the topic is encrypted, its key must let that role use it.
	// Default: a new topic encrypted with Key, TLS only.
	Events awssns.ITopic
}

// Notification is the two topics, the rules that feed them, the formatter function, and the
// dead-letter queues.
type Notification struct {
	constructs.Construct
	// Messages carries one readable message per event, for people.
	Messages awssns.ITopic
	// Events carries the full event JSON, for machines.
	Events awssns.ITopic
	// Key encrypts the topics this construct created and the formatter's logs.
	Key awskms.IKey
	// Formatter turns events into the readable messages and publishes them to Messages.
	Formatter awslambda.Function
	// RuleDeadLetters keeps events that EventBridge could not deliver to a topic or to the
	// formatter, and events the formatter failed on.
	RuleDeadLetters awssqs.Queue
	// SubscriptionDeadLetters keeps messages that SNS could not deliver to a subscriber.
	SubscriptionDeadLetters awssqs.Queue

	publisher awsiam.Role
}

// New creates a Notification. It panics when a state in States is not a pipeline state.
func New(scope constructs.Construct, id *string, props *Props) *Notification {
	if props == nil {
		props = &Props{}
	}
	for _, state := range props.States {
		guard.Must("notification.New", hint.OneOf(state, notify.PipelineStates, "a pipeline state"))
	}
	n := &Notification{Key: props.Key, Messages: props.Messages, Events: props.Events}
	constructs.NewConstruct_Override(n, scope, id)
	if n.Key == nil {
		n.Key = secure.NewKey(n, "Key", "Encrypts pipeline and deployment notifications.")
	}
	topic := func(id, name string) awssns.ITopic {
		return awssns.NewTopic(n, jsii.String(id), &awssns.TopicProps{DisplayName: jsii.String(name), MasterKey: n.Key, EnforceSSL: jsii.Bool(true)})
	}
	if n.Messages == nil {
		n.Messages = topic("Messages", "Pipeline notifications")
	}
	if n.Events == nil {
		n.Events = topic("Events", "Pipeline events (JSON)")
	}
	n.RuleDeadLetters = secure.NewDeadLetterQueue(n, "RuleDeadLetters")
	n.SubscriptionDeadLetters = secure.NewDeadLetterQueue(n, "SubscriptionDeadLetters")
	n.Formatter = n.newFormatter()
	// EventBridge publishes the event JSON with this role rather than through a topic policy for
	// events.amazonaws.com, which any rule of any account could use: AWS recommends execution
	// roles for every target. The role trusts EventBridge only for rules of this account.
	trust := secure.EventBridgeTrust(n)
	n.publisher = awsiam.NewRole(n, jsii.String("EventsPublisher"), &awsiam.RoleProps{
		Description: jsii.String("EventBridge publishes pipeline and deployment events to the Events topic."),
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &trust,
		}),
	})

	secure.SuppressPolicies(n.publisher, "AwsSolutions-IAM5", "kms:GenerateDataKey* is the KMS action family SNS needs to encrypt a message with the topic's key; the grant names that key only.", "Action::kms:GenerateDataKey*")

	if props.Pipeline != nil {
		states := props.States
		if len(states) == 0 {
			states = []notify.PipelineState{notify.PipelineFailed, notify.PipelineStopped, notify.PipelineSucceeded}
		}
		// Created here rather than with the pipeline's OnStateChange, so that the rule belongs to
		// this construct.
		rule := awsevents.NewRule(n, jsii.String("ExecutionStateChange"), &awsevents.RuleProps{
			Description: jsii.String("Pipeline execution state changes that notify."),
			EventPattern: &awsevents.EventPattern{
				Source:     jsii.Strings("aws.codepipeline"),
				DetailType: jsii.Strings("CodePipeline Pipeline Execution State Change"),
				Resources:  jsii.Strings(*props.Pipeline.PipelineArn()),
				Detail:     &map[string]interface{}{"state": states},
			},
		})
		n.Feed(rule)
	}
	if len(props.DeploymentGroups) > 0 {
		apps, groups := []*string{}, []*string{}
		for _, g := range props.DeploymentGroups {
			apps = append(apps, g.Application().ApplicationName())
			groups = append(groups, g.DeploymentGroupName())
		}
		rule := awsevents.NewRule(n, jsii.String("DeploymentStateChange"), &awsevents.RuleProps{
			Description: jsii.String("CodeDeploy deployment state changes of the pipeline's deployment groups."),
			EventPattern: &awsevents.EventPattern{
				Source:     jsii.Strings("aws.codedeploy"),
				DetailType: jsii.Strings("CodeDeploy Deployment State-change Notification"),
				Detail: &map[string]interface{}{
					"application":     apps,
					"deploymentGroup": groups,
					"state":           notify.DeploymentStates,
				},
			},
		})
		n.Feed(rule)
	}
	return n
}

// Feed sends rule's events to both topics: the event JSON to Events, and through the formatter a
// readable message to Messages. Rules of other event types may be fed too; the formatter writes a
// generic message for types it does not know.
func (n *Notification) Feed(rule awsevents.Rule) {
	attempts, age := secure.RetryForADay()
	dlq := n.RuleDeadLetters
	rule.AddTarget(awseventstargets.NewLambdaFunction(n.Formatter, &awseventstargets.LambdaFunctionProps{
		RetryAttempts: attempts, MaxEventAge: age, DeadLetterQueue: dlq,
	}))
	rule.AddTarget(awseventstargets.NewSnsTopic(n.Events, &awseventstargets.SnsTopicProps{
		Role: n.publisher, RetryAttempts: attempts, MaxEventAge: age, DeadLetterQueue: dlq,
	}))
}

// newFormatter creates the function that writes the readable messages. It logs to its own log
// group, encrypted with Key, through a role that may only write there, publish to Messages, and put
// failed events into the dead-letter queue.
func (n *Notification) newFormatter() awslambda.Function {
	f := gofunc.New(n, jsii.String("Formatter"), &gofunc.Props{
		Package:     FormatterPackage,
		Description: jsii.String("Writes pipeline and deployment events as readable messages for email and SMS."),
		// Made here, where it always was, so that the retained group keeps its logical id.
		Logs:        secure.NewLogGroup(n, "FormatterLogs", n.Key, awslogs.RetentionDays_ONE_YEAR),
		Environment: &map[string]*string{"TOPIC_ARN": n.Messages.TopicArn()},
		// An invocation that fails (SNS refused, or an event it cannot read) is tried twice more,
		// then kept in the dead-letter queue with the error.
		DeadLetterQueue: n.RuleDeadLetters,
	})
	n.Messages.GrantPublish(f.Role)
	secure.Suppress(f.Role, "AwsSolutions-IAM5", "kms:GenerateDataKey* is the KMS action family SNS needs to encrypt a message with the topic's key; the grant names that key only.", "Action::kms:GenerateDataKey*")
	return f.Lambda
}
