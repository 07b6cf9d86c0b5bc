// Package notification sends every pipeline execution and CodeDeploy deployment state change
// through EventBridge to SNS. People (email, sms) get one readable line with a console link;
// machines (email-json, http, https, sqs, lambda, firehose, application) get the full event JSON.
// Nothing is lost: each rule target retries and has a dead-letter queue, and so has every machine
// subscription.
package notification

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/rules"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// PipelineState is a state of a pipeline execution. It is the same type as settings.PipelineState.
type PipelineState = rules.PipelineState

// The pipeline execution states that Props.States may name.
const (
	PipelineCanceled   = rules.PipelineCanceled
	PipelineFailed     = rules.PipelineFailed
	PipelineResumed    = rules.PipelineResumed
	PipelineStarted    = rules.PipelineStarted
	PipelineStopped    = rules.PipelineStopped
	PipelineStopping   = rules.PipelineStopping
	PipelineSucceeded  = rules.PipelineSucceeded
	PipelineSuperseded = rules.PipelineSuperseded
)

// DeploymentState is a state of a CodeDeploy deployment.
type DeploymentState = rules.DeploymentState

// The CodeDeploy deployment states that notify. A rollback shows as the failed or stopped
// deployment's FAILURE or STOP, then as the rollback deployment's own START and SUCCESS.
const (
	DeploymentStart   = rules.DeploymentStart
	DeploymentSuccess = rules.DeploymentSuccess
	DeploymentFailure = rules.DeploymentFailure
	DeploymentStop    = rules.DeploymentStop
)

// Props configures a Notification. Nil props means all defaults.
type Props struct {
	// Pipeline is the pipeline whose executions notify.
	// Default: none; no pipeline feed.
	Pipeline awscodepipeline.IPipeline
	// States are the pipeline execution states that notify.
	// Default: PipelineFailed, PipelineStopped and PipelineSucceeded.
	States []PipelineState
	// DeploymentGroups are the CodeDeploy groups whose deployments notify.
	// Default: none; no deployment feed.
	DeploymentGroups []awscodedeploy.IServerDeploymentGroup
	// Key encrypts the topics this construct creates. Its policy must let EventBridge use it,
	// which the library's publish grant adds for a key in this stack; an AWS-managed key would make
	// EventBridge drop every delivery without an error.
	// Default: a new customer-managed key with rotation on, unless both topics are given.
	Key awskms.IKey
	// Messages is an existing topic for the readable lines. Its policy must let
	// events.amazonaws.com publish, and its key (if any) must let EventBridge use it: the stack
	// cannot change an imported topic's policies.
	// Default: a new topic encrypted with Key, TLS only.
	Messages awssns.ITopic
	// Events is an existing topic for the event JSON, with the same needs as Messages.
	// Default: a new topic encrypted with Key, TLS only.
	Events awssns.ITopic
}

// Notification is the two topics, the rules that feed them, and the dead-letter queues.
type Notification struct {
	constructs.Construct
	// Messages carries one readable line per event, for people.
	Messages awssns.ITopic
	// Events carries the full event JSON, for machines.
	Events awssns.ITopic
	// Key encrypts the topics this construct created; nil when both were given.
	Key awskms.IKey
	// RuleDeadLetters keeps events that EventBridge could not deliver to a topic.
	RuleDeadLetters awssqs.Queue
	// SubscriptionDeadLetters keeps messages that SNS could not deliver to a machine subscriber.
	SubscriptionDeadLetters awssqs.Queue
}

// DeploymentStates are the CodeDeploy states that notify.
var DeploymentStates = []DeploymentState{DeploymentStart, DeploymentSuccess, DeploymentFailure, DeploymentStop}

// New creates a Notification. It panics when a state in States is not a pipeline state.
func New(scope constructs.Construct, id *string, props *Props) *Notification {
	if props == nil {
		props = &Props{}
	}
	for _, state := range props.States {
		rules.Must("notification.New", rules.OneOf(state, rules.PipelineStates, "a pipeline state"))
	}
	n := &Notification{Key: props.Key, Messages: props.Messages, Events: props.Events}
	constructs.NewConstruct_Override(n, scope, id)
	if n.Key == nil && (n.Messages == nil || n.Events == nil) {
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

	if props.Pipeline != nil {
		states := props.States
		if len(states) == 0 {
			states = []PipelineState{PipelineFailed, PipelineStopped, PipelineSucceeded}
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
		n.feed(rule, pipelineMessage())
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
					"state":           DeploymentStates,
				},
			},
		})
		n.feed(rule, deploymentMessage())
	}
	return n
}

// feed sends rule's events to both topics: a readable line to Messages, the event to Events.
func (n *Notification) feed(rule awsevents.Rule, message awsevents.RuleTargetInput) {
	target := func(topic awssns.ITopic, input awsevents.RuleTargetInput) awsevents.IRuleTarget {
		return awseventstargets.NewSnsTopic(topic, &awseventstargets.SnsTopicProps{
			Message:         input,
			DeadLetterQueue: n.RuleDeadLetters,
			RetryAttempts:   jsii.Number(185),
			MaxEventAge:     awscdk.Duration_Hours(jsii.Number(24)),
		})
	}
	rule.AddTarget(target(n.Messages, message))
	rule.AddTarget(target(n.Events, nil))
}

func pipelineMessage() awsevents.RuleTargetInput {
	f := awsevents.EventField_FromPath
	pipeline, execution, state, region := f(jsii.String("$.detail.pipeline")), f(jsii.String("$.detail.execution-id")),
		f(jsii.String("$.detail.state")), f(jsii.String("$.region"))
	return awsevents.RuleTargetInput_FromText(jsii.String(
		"pipeline " + *pipeline + ": execution " + *execution + " " + *state +
			" https://" + *region + ".console.aws.amazon.com/codesuite/codepipeline/pipelines/" + *pipeline +
			"/executions/" + *execution + "/timeline?region=" + *region))
}

func deploymentMessage() awsevents.RuleTargetInput {
	f := awsevents.EventField_FromPath
	app, group, deployment, state, region := f(jsii.String("$.detail.application")), f(jsii.String("$.detail.deploymentGroup")),
		f(jsii.String("$.detail.deploymentId")), f(jsii.String("$.detail.state")), f(jsii.String("$.region"))
	return awsevents.RuleTargetInput_FromText(jsii.String(
		"deployment " + *app + "/" + *group + ": " + *deployment + " " + *state +
			" https://" + *region + ".console.aws.amazon.com/codesuite/codedeploy/deployments/" + *deployment + "?region=" + *region))
}
