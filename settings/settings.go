// Package settings is the public settings contract of the pipeline app: the typed form of the CDK
// context keys in cdk.json, how raw context values are parsed, and how they are validated.
//
// Every key is one row of a table (fields.go): the Go field it fills, its default, the checks of
// its value, and the environments that use it. Parsing at the top level and in each environments
// entry, the defaults, the checks and the unused-key errors all loop over that table.
//
// It is pure Go and never starts jsii, so that another program (or a table-driven test) can build
// and check settings without the CDK.
package settings

import (
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/notify"
)

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
	// ApproverEmails are told when an approval waits.
	ApproverEmails []string
	// Notifications are the subscribers to pipeline and deployment events.
	Notifications []Subscriber
	// NotifyOn are the pipeline execution states that notify.
	NotifyOn []notify.PipelineState
	// Stage holds the keys each environment has: those of the one environment of a pipeline
	// without an environments list, or the defaults of the list's entries.
	Stage
	// OperatorUsers are existing IAM users added to the operators group.
	OperatorUsers []string
	// TerminationProtection turns on the stack's termination protection.
	TerminationProtection bool
	// PullRequestChecks builds and reports on pull requests to the application repository.
	PullRequestChecks bool
	// SelfUpdate makes the pipeline deploy itself: the repository holds this CDK app, with the
	// application in sample-app/, and a stage right after Source deploys the app's stacks when
	// their code changed (docs/self-update.md).
	SelfUpdate bool
	// ExecutionMode is how the pipeline handles a new execution while one runs. PARALLEL has no
	// rollback: it needs StageRollback false and no bake.
	ExecutionMode string
	// CompliancePacks are the cdk-nag packs checked in addition to AwsSolutions.
	CompliancePacks []string
	// StageRollback rolls a failed deploy stage back to the last successful release.
	StageRollback bool
	// MetricsArchiveDays is how long an EventBridge archive keeps the events of the delivery
	// metrics, for a replay after a change of definitions; 0 keeps no archive.
	MetricsArchiveDays int
	// Environments are the deploy stages in order, each with its own target, approval and safety
	// settings, possibly in another account or region; empty means one environment from the
	// top-level keys. Parse fills the keys an entry leaves out from the top-level keys.
	Environments []Environment
}

// Stage is what each environment's deploy stage does: its target, its approval, and its safety
// settings. The settings' top-level keys of these names are the Stage of the one environment of
// a pipeline without an environments list, and the default of each entry of the list.
type Stage struct {
	// DeployTarget is where the application is released.
	DeployTarget Target
	// FleetSize is the number of instances in a new fleet; 1 makes a one-box environment.
	FleetSize int
	// InstanceType is the EC2 instance type of a new fleet.
	InstanceType string
	// InstanceTag selects existing instances; it is required for the instances target.
	InstanceTag Tag
	// BeanstalkApplication and BeanstalkEnvironment name an existing Elastic Beanstalk
	// environment; they are required for the beanstalk target.
	BeanstalkApplication, BeanstalkEnvironment string
	// DeploymentConfig is the CodeDeploy deployment configuration.
	DeploymentConfig string
	// Approval waits for an approver right before the deploy stage.
	Approval bool
	// BakeMinutes is how long the deploy stage watches its target's alarms once it succeeded; an
	// alarm rolls the stage back to the last successful release. 0 for targets without alarms,
	// which don't bake.
	BakeMinutes int
	// DeployWindow is when the deploy stage may be entered, in the form of CodePipeline's
	// DeploymentWindow rule (or EventBridge's cron(...) form); empty means always.
	// DeployWindowTimeZone is its IANA time zone.
	DeployWindow, DeployWindowTimeZone string
}

// DefaultMetricsArchiveDays keeps the delivery metrics' events a little more than a year, to
// compare a quarter with the same quarter a year before.
const DefaultMetricsArchiveDays = 400

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
	var s Settings
	for _, f := range fields {
		if f.scope != entryOnly {
			f.reset(place{s: &s})
		}
	}
	return s
}

// check checks the tag that selects instances.
func (t Tag) check() error { return names.Tag(t.Key, t.Value) }

// check checks the subscriber's endpoint against its protocol.
func (sub Subscriber) check() error {
	_, err := names.Endpoint(sub.Protocol, sub.Endpoint)
	return err
}
