// Package settings is the public settings contract of the pipeline app: the typed form of the CDK
// context keys in cdk.json, how raw context values are parsed, and how they are validated.
//
// It is pure Go and never starts jsii, so that another program (or a table-driven test) can build
// and check settings without the CDK.
package settings

import "github.com/pipekit/cdk-pipeline/notify"

// Target is where the Deploy stage releases the application.
type Target string

// The deploy targets.
const (
	// Fleet is a new Auto Scaling group of EC2 instances behind an Application Load Balancer.
	Fleet Target = "fleet"
	// Instances are existing EC2 instances selected by tag.
	Instances Target = "instances"
	// Beanstalk is an existing Elastic Beanstalk application and environment.
	Beanstalk Target = "beanstalk"
)

// Subscriber is one SNS subscription to pipeline and deployment events.
type Subscriber struct {
	// Protocol is an SNS protocol: email, email-json, http, https, sqs, lambda, firehose,
	// application or sms.
	Protocol notify.Protocol `json:"protocol"`
	// Endpoint is the address in the protocol's form: an email address, a URL, an ARN or an
	// E.164 phone number.
	Endpoint string `json:"endpoint"`
}

// Tag is an EC2 tag that selects existing instances.
type Tag struct {
	// Key is the tag's key, such as Environment.
	Key string
	// Value is the tag's value, such as prod.
	Value string
}

// Settings is the typed form of every context key. The zero value is not useful: start from
// Defaults.
type Settings struct {
	// RepositoryName is the CodeCommit repository that holds the application.
	RepositoryName string
	// ImportRepository uses the existing repository RepositoryName instead of creating one.
	ImportRepository bool
	// Branch is the branch whose pushes run the pipeline.
	Branch string
	// Approval puts a manual approval between build and deploy (continuous delivery).
	Approval bool
	// ApproverEmails are told when an approval waits.
	ApproverEmails []string
	// Notifications are the subscribers to pipeline and deployment events.
	Notifications []Subscriber
	// NotifyOn are the pipeline execution states that notify.
	NotifyOn []notify.PipelineState
	// DeployTarget is where the application is released.
	DeployTarget Target
	// FleetSize is the number of instances in a new fleet.
	FleetSize int
	// InstanceType is the EC2 instance type of a new fleet.
	InstanceType string
	// InstanceTag selects existing instances; it is required for the instances target.
	InstanceTag Tag
	// BeanstalkApplication is the existing Elastic Beanstalk application.
	BeanstalkApplication string
	// BeanstalkEnvironment is the existing Elastic Beanstalk environment.
	BeanstalkEnvironment string
	// DeploymentConfig is the CodeDeploy deployment configuration.
	DeploymentConfig string
	// OperatorUsers are existing IAM users added to the operators group.
	OperatorUsers []string
	// TerminationProtection turns on the stack's termination protection.
	TerminationProtection bool
	// PullRequestChecks builds and reports on pull requests to the application repository.
	PullRequestChecks bool
	// ExecutionMode is how the pipeline handles a new execution while one runs.
	ExecutionMode string
	// CompliancePacks are the cdk-nag packs checked in addition to AwsSolutions.
	CompliancePacks []string
	// DeployWindow is when the deploy stages may be entered, in the form of CodePipeline's
	// DeploymentWindow rule (or EventBridge's cron(...) form); empty means always.
	DeployWindow string
	// DeployWindowTimeZone is the deployment window's IANA time zone.
	DeployWindowTimeZone string
	// BakeMinutes is how long a deploy stage watches its target's alarms once it succeeded; an
	// alarm rolls the stage back to the last successful release. Targets without alarms don't bake.
	BakeMinutes int
	// StageRollback rolls a failed deploy stage back to the last successful release.
	StageRollback bool
	// Environments are the deploy stages in order, each with its own target, approval and safety
	// settings, possibly in another account or region; empty means one environment from the
	// top-level keys. Parse fills the keys an entry leaves out from the top-level keys.
	Environments []Environment
}

// The allowed values of the enumerated settings, in the order they are documented.
var (
	Targets           = []Target{Fleet, Instances, Beanstalk}
	DeploymentConfigs = []string{"OneAtATime", "HalfAtATime", "AllAtOnce"}
	ExecutionModes    = []string{"SUPERSEDED", "QUEUED", "PARALLEL"}
	// Packs are the optional cdk-nag rule packs.
	Packs = []string{"NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321"}
)

// Defaults returns the settings that cdk.json ships with.
func Defaults() Settings {
	return Settings{
		RepositoryName:        "sample-app",
		Branch:                "main",
		Approval:              true,
		ApproverEmails:        []string{},
		Notifications:         []Subscriber{},
		NotifyOn:              []notify.PipelineState{notify.PipelineFailed, notify.PipelineStopped, notify.PipelineSucceeded},
		DeployTarget:          Fleet,
		FleetSize:             2,
		InstanceType:          "t3.micro",
		DeploymentConfig:      "OneAtATime",
		OperatorUsers:         []string{},
		TerminationProtection: true,
		PullRequestChecks:     true,
		ExecutionMode:         "SUPERSEDED",
		CompliancePacks:       []string{},
		DeployWindowTimeZone:  "UTC",
		BakeMinutes:           DefaultBakeMinutes,
		StageRollback:         true,
		Environments:          []Environment{},
	}
}
