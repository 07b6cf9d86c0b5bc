// Package stacks composes the construct packages into the pipeline stack. NewPipelineStack is the
// pipeline's table of contents, in the order its pieces are made; each step below it gives one
// construct its props from the settings, and the package holds no logic of its own beyond those
// choices.
package stacks

import (
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/pipekit/cdk-pipeline/constructs/approval"
	"github.com/pipekit/cdk-pipeline/constructs/build"
	"github.com/pipekit/cdk-pipeline/constructs/delivery"
	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/constructs/notification"
	"github.com/pipekit/cdk-pipeline/constructs/operators"
	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/constructs/pullrequest"
	"github.com/pipekit/cdk-pipeline/constructs/selfupdate"
	"github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
	"github.com/pipekit/cdk-pipeline/constructs/source"
	"github.com/pipekit/cdk-pipeline/internal/gofunc"
	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/settings"
)

// Props configures the pipeline stack: the typed settings, so that a Go program can build the same
// stack without CDK context.
type Props struct {
	awscdk.StackProps
	// Settings are the pipeline's settings; start from settings.Defaults().
	// Required.
	Settings settings.Settings
	// SeedDirectory holds the application that a new repository starts with, when the pipeline
	// does not update itself.
	// Default: none; a new repository starts empty.
	SeedDirectory string
	// SelfUpdate is this CDK app staged as the repository's content (selfupdate/seed.Stage), with
	// the application in seed.AppDir. Required with Settings.SelfUpdate: a new repository starts
	// with it, and the update stage compares its digest with its checkout's.
	// Default: none.
	SelfUpdate *seed.Seed
}

// approveStage is part of the pipeline's public shape: the operators' approval permission and
// people's bookmarks name it.
const approveStage = "Approve"

// updateStage is the stage of a self-updating pipeline that deploys the pipeline's own stacks,
// right after Source.
const updateStage = "SelfUpdate"

// deployStage names the deploy stages, Deploy-<environment> (Deploy alone without an
// environments list): the delivery metrics count their deployments.
const deployStage = "Deploy"

// NewPipelineStack builds the whole pipeline: source, build, the environments' approvals and
// deploy stages, notifications, delivery metrics and operators, in stacks that cdk-nag checks at
// synthesis (with the settings' compliance packs). It panics when props is nil, when the settings
// are invalid, or when they name another account or region while props.Env does not give the
// stack's own; check them first with Settings.Validate and Settings.CheckEnvironments for a
// readable error.
func NewPipelineStack(scope constructs.Construct, id *string, props *Props) awscdk.Stack {
	guard.Required("stacks.NewPipelineStack", "Settings", props == nil)
	guard.Required("stacks.NewPipelineStack", "SelfUpdate (the app's seed, from seed.Stage, which Settings.SelfUpdate deploys from the repository)",
		props.Settings.SelfUpdate && props.SelfUpdate == nil)
	stack := newStack(scope, id, props)
	s := props.Settings
	environments := s.Deployments()
	stores := newReplications(scope, stack, environments, s)

	// The parts, each from its construct package.
	parts := &stackParts{settings: s, stack: stack, app: props.SelfUpdate}
	parts.pipeline = newPipeline(stack, s, stores)
	parts.source = newSource(stack, s, props, parts.pipeline.ArtifactKey)
	parts.build = parts.newBuild()
	for _, e := range environments {
		parts.deployments = append(parts.deployments, newDeployment(scope, stack, e, parts.pipeline, s, stores))
	}
	parts.startWhenReady()
	parts.notification = parts.newNotification()
	parts.update = parts.newUpdate(stores)
	parts.operators = parts.newOperators(parts.newPullRequestChecks())

	// The pipeline: Source, the update of the pipeline itself when it deploys itself, Build, then
	// for each environment its approval, if it has one, and its deploy stage.
	built := awscodepipeline.NewArtifact(jsii.String("Build"), nil)
	parts.pipeline.AddStage("Source", parts.source.Action)
	if parts.update != nil {
		parts.pipeline.AddStage(updateStage, parts.update.NewAction(parts.source.Output))
	}
	parts.pipeline.AddStage("Build", parts.build.NewAction(parts.source.Output, built))
	for i, d := range parts.deployments {
		if d.env.Approval {
			parts.addApproval(i)
		}
		parts.addDeployStage(d, built)
	}

	metrics := parts.addMetrics()
	parts.addOutputs(metrics)
	return stack
}

// stackParts are the constructs of one pipeline stack, which the steps below wire together.
type stackParts struct {
	settings settings.Settings
	stack    awscdk.Stack
	// app is the pipeline's own app when it updates itself; nil otherwise.
	app          *seed.Seed
	pipeline     *pipeline.Pipeline
	source       *source.Source
	build        *build.Build
	update       *selfupdate.Update
	deployments  []deployment
	notification *notification.Notification
	operators    *operators.Operators
	// approvalTopic is the first approval's topic, which the later approvals share.
	approvalTopic awssns.ITopic
}

// newStack checks the settings against the stack's environment, and creates the stack, which
// cdk-nag checks at synthesis.
func newStack(scope constructs.Construct, id *string, props *Props) awscdk.Stack {
	s := props.Settings
	if err := s.Validate(); err != nil {
		panic(err)
	}
	// An environment in another account or region needs the stack's own account and region.
	account, region := "", ""
	if e := props.Env; e != nil && e.Account != nil && e.Region != nil {
		account, region = *e.Account, *e.Region
	}
	if err := s.CheckEnvironments(account, region); err != nil {
		panic(err)
	}
	stackProps := props.StackProps
	stackProps.TerminationProtection = jsii.Bool(s.TerminationProtection)
	if stackProps.Description == nil {
		stackProps.Description = jsii.String("CI/CD pipeline: CodeCommit, CodeBuild, CodeDeploy, with notifications.")
	}
	stack := awscdk.NewStack(scope, id, &stackProps)
	check(stack, s.CompliancePacks)
	// The stack's two Go functions compile on another core while the rest is constructed.
	gofunc.Prebuild(stack, notification.FormatterPackage, delivery.FunctionPackage)
	return stack
}

// newPipeline is the pipeline in the settings' execution mode, with the artifact stores of the
// other regions.
func newPipeline(stack awscdk.Stack, s settings.Settings, stores map[string]*pipeline.Replication) *pipeline.Pipeline {
	props := &pipeline.Props{ExecutionMode: awscodepipeline.ExecutionMode(s.ExecutionMode), RestartExecutionOnUpdate: s.SelfUpdate}
	for region, store := range stores {
		if props.ReplicationBuckets == nil {
			props.ReplicationBuckets = map[string]awss3.IBucket{}
		}
		props.ReplicationBuckets[region] = store.Store()
	}
	return pipeline.New(stack, jsii.String("Pipeline"), props)
}

// newSource is the repository, new and seeded or imported by name, and the action that reads the
// settings' branch. A self-updating pipeline's repository starts with the app itself, under the
// asset hash and with the executable files its seed recorded.
func newSource(stack awscdk.Stack, s settings.Settings, props *Props, logKey awskms.IKey) *source.Source {
	var repo awscodecommit.IRepository
	if s.ImportRepository {
		repo = awscodecommit.Repository_FromRepositoryName(stack, jsii.String("ImportedRepository"), jsii.String(s.RepositoryName))
	}
	sourceProps := &source.Props{
		Repository: repo, RepositoryName: jsii.String(s.RepositoryName), Branch: jsii.String(s.Branch), LogKey: logKey,
	}
	switch {
	case props.SelfUpdate != nil:
		app := props.SelfUpdate
		sourceProps.SeedDirectory, sourceProps.SeedHash, sourceProps.SeedExecutables = jsii.String(app.Dir), jsii.String(app.Record.Asset), app.Record.Executables
		if sourceProps.SeedExecutables == nil {
			sourceProps.SeedExecutables = []string{}
		}
	case props.SeedDirectory != "":
		sourceProps.SeedDirectory = jsii.String(props.SeedDirectory)
	}
	return source.New(stack, jsii.String("Source"), sourceProps)
}

// newBuild is the Build stage's project; in a self-updating pipeline's repository the application
// is in its folder, and so is its buildspec.
func (parts *stackParts) newBuild() *build.Build {
	props := &build.Props{EncryptionKey: parts.pipeline.ArtifactKey, CacheBucket: parts.pipeline.ArtifactBucket}
	if parts.app != nil {
		props.BuildSpec = jsii.String(seed.AppDir + "/buildspec.yml")
		props.Variables = map[string]string{"APP_DIR": seed.AppDir}
	}
	return build.New(parts.stack, jsii.String("Build"), props)
}

// newUpdate is the stage that deploys the app's stacks, when the pipeline updates itself (nil
// otherwise): every stack of the app, the environments' and the replication stores' included.
func (parts *stackParts) newUpdate(stores map[string]*pipeline.Replication) *selfupdate.Update {
	if parts.app == nil {
		return nil
	}
	targets := []awscdk.Stack{parts.stack}
	for _, d := range parts.deployments {
		if d.remote {
			targets = append(targets, d.stack)
		}
	}
	for _, region := range slices.Sorted(maps.Keys(stores)) {
		targets = append(targets, awscdk.Stack_Of(stores[region]))
	}
	return selfupdate.New(parts.stack, jsii.String("SelfUpdate"), &selfupdate.Props{
		Digest: jsii.String(parts.app.Digest), Targets: targets,
		ArtifactBucket: parts.pipeline.ArtifactBucket, ArtifactKey: parts.pipeline.ArtifactKey,
	})
}

// startWhenReady holds the pipeline until the seed is complete and the targets in this stack can
// take a release: CodePipeline starts its first execution when it is created. Other stacks are
// deployed before this one.
func (parts *stackParts) startWhenReady() {
	parts.pipeline.Pipeline.Node().AddDependency(parts.source.Ready())
	for _, d := range parts.deployments {
		if !d.remote {
			parts.pipeline.Pipeline.Node().AddDependency(d.target.Ready())
		}
	}
}

// newNotification tells the settings' subscribers of the pipeline's and the deployments' state
// changes; the deployment events of other accounts and regions are forwarded to the pipeline's
// event bus first.
func (parts *stackParts) newNotification() *notification.Notification {
	var groups []awscodedeploy.IServerDeploymentGroup
	for _, d := range parts.deployments {
		if g := d.target.DeploymentGroup(); g != nil {
			groups = append(groups, g)
		}
		d.forwardDeploymentEvents(parts.stack)
	}
	notifications := notification.New(parts.stack, jsii.String("Notification"), &notification.Props{
		Pipeline: parts.pipeline.Pipeline, States: parts.settings.NotifyOn, DeploymentGroups: groups,
	})
	for _, sub := range parts.settings.Notifications {
		notifications.Subscribe(sub.Protocol, sub.Endpoint)
	}
	return notifications
}

// newPullRequestChecks checks pull requests into the pipeline's branch, when the settings ask for
// it: the application's checks and, when the pipeline updates itself, the infrastructure review
// beside them. None otherwise.
func (parts *stackParts) newPullRequestChecks() []*pullrequest.Check {
	if !parts.settings.PullRequestChecks {
		return nil
	}
	props := &pullrequest.Props{
		Repository: parts.source.Repository, Branch: jsii.String(parts.settings.Branch), EncryptionKey: parts.pipeline.ArtifactKey,
	}
	if parts.app == nil {
		return []*pullrequest.Check{pullrequest.New(parts.stack, jsii.String("PullRequestChecks"), props)}
	}
	props.Directory = jsii.String(seed.AppDir)
	return []*pullrequest.Check{
		pullrequest.New(parts.stack, jsii.String("PullRequestChecks"), props),
		selfupdate.NewReview(parts.stack, jsii.String("InfrastructureReview"), &selfupdate.ReviewProps{
			Repository: parts.source.Repository, Branch: jsii.String(parts.settings.Branch), EncryptionKey: parts.pipeline.ArtifactKey,
		}),
	}
}

// newOperators is the operators' group: it may read and run what this stack made, approve its
// approvals (addApproval), and change the pipeline's branch only through pull requests when checks
// (which may be none) protect it. The deployment groups of other accounts are not theirs to read.
func (parts *stackParts) newOperators(checks []*pullrequest.Check) *operators.Operators {
	projects, logs := []awscodebuild.IProject{parts.build.Project}, []awslogs.ILogGroup{parts.build.LogGroup}
	if parts.update != nil {
		projects, logs = append(projects, parts.update.Project), append(logs, parts.update.LogGroup)
	}
	var protected *string
	if len(checks) > 0 {
		protected = jsii.String(parts.settings.Branch)
	}
	for _, check := range checks {
		projects, logs = append(projects, check.Project), append(logs, check.LogGroup)
	}
	var groups []awscodedeploy.IServerDeploymentGroup
	for _, d := range parts.deployments {
		if g := d.target.DeploymentGroup(); g != nil && !d.remote {
			groups = append(groups, g)
		}
	}
	return operators.New(parts.stack, jsii.String("Operators"), &operators.Props{
		Repository: parts.source.Repository, ProtectedBranch: protected, Pipeline: parts.pipeline.Pipeline, Projects: projects, LogGroups: logs,
		ReportGroups: []awscodebuild.IReportGroup{parts.build.ReportGroup}, DeploymentGroups: groups, Users: parts.settings.OperatorUsers,
		NoManualStart: parts.settings.SelfUpdate,
	})
}

// addApproval adds the stage Approve-<environment> before the i-th environment's deploy stage.
// The first approval tells the settings' approvers; later ones share its topic, so that approvers
// confirm one subscription. The operators may answer it.
func (parts *stackParts) addApproval(i int) {
	d := parts.deployments[i]
	var guards *string
	if d.env.Name != "" {
		guards = jsii.String(d.env.Name)
	}
	emails := parts.settings.ApproverEmails
	if parts.approvalTopic != nil {
		emails = nil
	}
	gate := approval.New(parts.stack, jsii.String("Approval"+d.suffix()), &approval.Props{
		Emails: emails, Topic: parts.approvalTopic, Key: parts.notification.Key, SourceNamespace: parts.source.Namespace,
		DeadLetterQueue: parts.notification.SubscriptionDeadLetters, BuildURL: parts.build.BuildURL(), ReviewURL: parts.reviewURL(i), Environment: guards,
	})
	if parts.approvalTopic == nil {
		parts.approvalTopic = gate.Topic
	}
	stage := approveStage + d.suffix()
	parts.pipeline.AddStage(stage, gate.Action)
	gate.GrantApprove(parts.operators.Group, parts.pipeline.Pipeline, stage)
}

// reviewURL is what the approvers of the i-th environment look at: the environment before it, when
// it is in the pipeline's stack (another stack's address would be a cross-environment reference);
// for the implicit environment, the release it replaces. It may be nil.
func (parts *stackParts) reviewURL(i int) *string {
	d := parts.deployments[i]
	if d.env.Name == "" {
		return d.target.URL()
	}
	if i > 0 && !parts.deployments[i-1].remote {
		return parts.deployments[i-1].target.URL()
	}
	return nil
}

// addDeployStage adds the stage Deploy-<environment>, which releases built to the environment's
// target, guarded by its window, its bake and the settings' stage rollback.
func (parts *stackParts) addDeployStage(d deployment, built awscodepipeline.Artifact) {
	e := d.env
	safety := &pipeline.Safety{Rollback: parts.settings.StageRollback}
	if e.DeployWindow != "" {
		safety.Window, safety.TimeZone = jsii.String(e.DeployWindow), jsii.String(e.DeployWindowTimeZone)
	}
	if alarms := d.target.WatchedAlarms(); e.BakeMinutes > 0 && len(alarms) > 0 {
		safety.Bake, safety.Alarms = awscdk.Duration_Minutes(jsii.Number(float64(e.BakeMinutes))), alarms
		if d.remote {
			safety.AlarmRegion = d.stack.Region()
		}
	}
	parts.pipeline.AddGuardedStage(deployStage+d.suffix(), safety, d.target.NewAction("Deploy", built))
}

// addMetrics measures delivery (DORA's five metrics) for every deploy stage, with the alarms of
// the environments in this stack as the incident signal: EventBridge delivers an alarm's state
// changes in the alarm's own account and region (docs/metrics.md).
func (parts *stackParts) addMetrics() *delivery.Delivery {
	var stages []string
	alarms := map[string][]awscloudwatch.IAlarm{}
	for _, d := range parts.deployments {
		stages = append(stages, deployStage+d.suffix())
		if watched := d.target.WatchedAlarms(); !d.remote && len(watched) > 0 {
			alarms[deployStage+d.suffix()] = watched
		}
	}
	return delivery.New(parts.stack, jsii.String("Delivery"), &delivery.Props{
		Pipeline: parts.pipeline.Pipeline, Stages: stages, Key: parts.pipeline.ArtifactKey, DeadLetterQueue: parts.notification.RuleDeadLetters,
		Repository: parts.source.Repository, Alarms: alarms, ArchiveRetention: awscdk.Duration_Days(jsii.Number(float64(parts.settings.MetricsArchiveDays))),
	})
}

// addOutputs gives people the addresses they start from: the repository, the pipeline, the
// metrics' dashboard, each application's address, and the policy that tagged instances need.
func (parts *stackParts) addOutputs(metrics *delivery.Delivery) {
	output(parts.stack, "RepositoryCloneUrlHttp", parts.source.Repository.RepositoryCloneUrlHttp(), "Clone over HTTPS (git-remote-codecommit or a credential helper).")
	output(parts.stack, "RepositoryCloneUrlGrc", parts.source.Repository.RepositoryCloneUrlGrc(), "Clone with git-remote-codecommit.")
	output(parts.stack, "PipelineConsoleUrl", jsii.String("https://"+*awscdk.Aws_REGION()+".console.aws.amazon.com/codesuite/codepipeline/pipelines/"+
		*parts.pipeline.Pipeline.PipelineName()+"/view?region="+*awscdk.Aws_REGION()), "The pipeline in the AWS console.")
	output(parts.stack, "DashboardUrl", metrics.DashboardURL(), "Delivery metrics (DORA's five) per environment, in the CloudWatch console.")
	for _, d := range parts.deployments {
		where := "The application"
		if d.env.Name != "" {
			where += " in " + d.env.Name
		}
		if url := d.target.URL(); url != nil {
			output(d.stack, d.outputID("AppUrl"), url, where+", behind its load balancer.")
		}
		if in, ok := d.target.(*deploy.Instances); ok && in.InstancePolicy != nil {
			output(d.stack, d.outputID("InstancePolicyArn"), in.InstancePolicy.ManagedPolicyArn(), "Attach to the role of the tagged instances"+strings.TrimPrefix(where, "The application")+".")
		}
	}
}

func output(stack awscdk.Stack, id string, value *string, description string) {
	awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: value, Description: jsii.String(description)})
}

// check runs cdk-nag's AwsSolutions pack, and any optional packs, over the stack at synthesis.
// An unsuppressed finding is an error, which fails `cdk synth`.
func check(stack awscdk.Stack, packs []string) {
	aspects := awscdk.Aspects_Of(stack)
	aspects.Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	for _, pack := range packs {
		props := &cdknag.NagPackProps{Verbose: jsii.Bool(true), Reports: jsii.Bool(true)}
		switch pack {
		case "NIST.800.53.R5":
			aspects.Add(cdknag.NewNIST80053R5Checks(props), nil)
		case "HIPAA.Security":
			aspects.Add(cdknag.NewHIPAASecurityChecks(props), nil)
		case "PCI.DSS.321":
			aspects.Add(cdknag.NewPCIDSS321Checks(props), nil)
		}
	}
}
