// Package approval provides the manual approval that turns continuous deployment into continuous
// delivery: a pipeline action that waits for a person, and an encrypted topic that tells approvers,
// with enough context (commit, build, review link) to decide from the message alone.
package approval

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Props configures an Approval. Nil props means all defaults.
type Props struct {
	// Emails are the approvers told when an approval waits. Each must confirm the SNS subscription
	// once.
	// Default: none.
	Emails []string
	// Topic carries the approval requests.
	// Default: a new topic encrypted with Key when Emails is not empty; none otherwise.
	Topic awssns.ITopic
	// Key encrypts a new Topic.
	// Default: a new customer-managed key with rotation on.
	Key awskms.IKey
	// SourceNamespace is the source action's variables namespace, for the commit id and message.
	// Default: none; the request does not name the commit.
	SourceNamespace *string
	// BuildURL links to the build that produced what is to be approved, for example
	// build.Build.BuildURL().
	// Default: none.
	BuildURL *string
	// ReviewURL is where approvers look at the release: an app URL or a change set.
	// Default: BuildURL.
	ReviewURL *string
	// ActionName names the action in the pipeline.
	// Default: "Approve".
	ActionName *string
	// Environment names the environment the approval guards, in the request.
	// Default: none; the request speaks of "this change".
	Environment *string
	// DeadLetterQueue keeps the approval requests SNS could not deliver to an approver, for
	// example notification.Notification.SubscriptionDeadLetters.
	// Default: none; an undeliverable request is dropped (the approval still waits in the console).
	DeadLetterQueue awssqs.IQueue
}

// Approval is a manual approval action and the topic that announces it.
type Approval struct {
	constructs.Construct
	// Topic announces waiting approvals; nil when nobody is to be told.
	Topic awssns.ITopic
	// Action waits for an approver; put it in a stage between build and deploy.
	Action awscodepipelineactions.ManualApprovalAction
}

// New creates an Approval. It panics when an entry of Emails is not an email address.
func New(scope constructs.Construct, id *string, props *Props) *Approval {
	if props == nil {
		props = &Props{}
	}
	for _, email := range props.Emails {
		guard.Must("approval.New: props.Emails", names.EmailAddress(email))
	}
	a := &Approval{Topic: props.Topic}
	constructs.NewConstruct_Override(a, scope, id)
	if a.Topic == nil && len(props.Emails) > 0 {
		key := props.Key
		if key == nil {
			key = secure.NewKey(a, "Key", "Encrypts approval requests.")
		}
		a.Topic = awssns.NewTopic(a, jsii.String("Topic"), &awssns.TopicProps{
			DisplayName: jsii.String("Pipeline approvals"),
			MasterKey:   key,
			EnforceSSL:  jsii.Bool(true),
		})
	}
	// Subscribing here, not through the action's NotifyEmails, keeps the subscriptions under this
	// construct whatever pipeline the action joins.
	for _, email := range props.Emails {
		a.Topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), &awssnssubscriptions.EmailSubscriptionProps{DeadLetterQueue: props.DeadLetterQueue}))
	}
	review := props.ReviewURL
	if review == nil {
		review = props.BuildURL
	}
	name := props.ActionName
	if name == nil {
		name = jsii.String("Approve")
	}
	a.Action = awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{
		ActionName:            name,
		NotificationTopic:     a.Topic,
		AdditionalInformation: jsii.String(information(props.SourceNamespace, props.BuildURL, props.Environment, props.ReviewURL)),
		ExternalEntityLink:    review,
		Timeout:               awscdk.Duration_Days(jsii.Number(7)),
	})
	return a
}

// GrantApprove lets grantee approve or reject this action in pipeline, in the stage stageName.
func (a *Approval) GrantApprove(grantee awsiam.IGrantable, pipeline awscodepipeline.IPipeline, stageName string) awsiam.Grant {
	return awsiam.Grant_AddToPrincipal(&awsiam.GrantOnPrincipalOptions{
		Grantee:      grantee,
		Actions:      jsii.Strings("codepipeline:PutApprovalResult"),
		ResourceArns: jsii.Strings(fmt.Sprintf("%s/%s/%s", *pipeline.PipelineArn(), stageName, *a.Action.ActionProperties().ActionName)),
	})
}

// information is the approval request's text. CodePipeline resolves the #{...} variables when the
// approval starts, and caps the text at 1000 characters.
func information(sourceNamespace, buildURL, environment, reviewURL *string) string {
	text := "Approve to release this change."
	if environment != nil {
		text = "Approve to release this change to " + *environment + "."
		if reviewURL != nil {
			text += "\nThe release before it runs at " + *reviewURL
		}
	}
	if sourceNamespace != nil {
		text = fmt.Sprintf("Commit #{%[1]s.CommitId} on #{%[1]s.BranchName}: #{%[1]s.CommitMessage}\n%s", *sourceNamespace, text)
	}
	if buildURL != nil {
		text += "\nTests and build: " + *buildURL
	}
	return text
}
