// Package notify is the vocabulary of the pipeline's notifications: the SNS protocols a
// subscriber may use, the pipeline execution states and the CodeDeploy deployment states that
// notify. The settings contract (package settings) and the construct (constructs/notification)
// both use these types, so a value means the same in cdk.json and in a Go program.
//
// It is pure Go and never starts jsii: package settings, which must stay pure Go, could not import
// the construct package, which loads aws-cdk-lib.
package notify

// Protocol is an SNS subscription protocol.
type Protocol string

// The SNS protocols a subscriber may use. Email and SMS subscribers are people and get readable
// text (Protocol.Readable); the others are machines and get the event JSON.
const (
	Email       Protocol = "email"
	EmailJSON   Protocol = "email-json"
	HTTP        Protocol = "http"
	HTTPS       Protocol = "https"
	SQS         Protocol = "sqs"
	Lambda      Protocol = "lambda"
	Firehose    Protocol = "firehose"
	Application Protocol = "application"
	SMS         Protocol = "sms"
)

// Protocols lists every protocol, in the order docs/notifications.md documents them.
var Protocols = []Protocol{Email, EmailJSON, HTTP, HTTPS, SQS, Lambda, Firehose, Application, SMS}

// Readable reports whether p's subscribers are people, who get readable text, rather than
// machines, who get the event JSON.
func (p Protocol) Readable() bool {
	return p == Email || p == SMS
}

// PipelineState is a state of a CodePipeline "Pipeline Execution State Change" event.
type PipelineState string

// The pipeline execution states.
const (
	PipelineCanceled   PipelineState = "CANCELED"
	PipelineFailed     PipelineState = "FAILED"
	PipelineResumed    PipelineState = "RESUMED"
	PipelineStarted    PipelineState = "STARTED"
	PipelineStopped    PipelineState = "STOPPED"
	PipelineStopping   PipelineState = "STOPPING"
	PipelineSucceeded  PipelineState = "SUCCEEDED"
	PipelineSuperseded PipelineState = "SUPERSEDED"
)

// PipelineStates lists every pipeline execution state.
var PipelineStates = []PipelineState{PipelineCanceled, PipelineFailed, PipelineResumed, PipelineStarted,
	PipelineStopped, PipelineStopping, PipelineSucceeded, PipelineSuperseded}

// DeploymentState is a state of a CodeDeploy "Deployment State-change Notification" event.
type DeploymentState string

// The CodeDeploy deployment states that matter to people. A rollback shows as the failed or
// stopped deployment's FAILURE or STOP, then as the rollback deployment's own START and SUCCESS.
const (
	DeploymentStart   DeploymentState = "START"
	DeploymentSuccess DeploymentState = "SUCCESS"
	DeploymentFailure DeploymentState = "FAILURE"
	DeploymentStop    DeploymentState = "STOP"
)

// DeploymentStates are the CodeDeploy states that notify.
var DeploymentStates = []DeploymentState{DeploymentStart, DeploymentSuccess, DeploymentFailure, DeploymentStop}
