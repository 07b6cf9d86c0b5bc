// Package stacks composes the construct packages into the pipeline stack. It holds no logic of its
// own beyond choosing pieces from the settings.
package stacks

import (
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
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
	"github.com/pipekit/cdk-pipeline/constructs/source"
	"github.com/pipekit/cdk-pipeline/internal/gofunc"
	"github.com/pipekit/cdk-pipeline/internal/secure"
	"github.com/pipekit/cdk-pipeline/settings"
)

// Props configures the pipeline stack: the typed settings, so that a Go program can build the same
// stack without CDK context.
type Props struct {
	awscdk.StackProps
	// Settings are the pipeline's settings; start from settings.Defaults().
	Settings settings.Settings
	// SeedDirectory holds the application that a new repository starts with.
	// Default: none; a new repository starts empty.
	SeedDirectory string
}

// approveStage is part of the pipeline's public shape: the operators' approval permission and
// people's bookmarks name it.
const approveStage = "Approve"

// deployStage names the deploy stages, Deploy-<environment> (Deploy alone without an
// environments list): the delivery metrics count their deployments.
const deployStage = "Deploy"

// NewPipelineStack builds the whole pipeline: source, build, the environments' approvals and
// deploy stages, notifications, delivery metrics, operators, and the compliance checks. It panics
// when the settings are invalid, or name another account or region while props.Env does not give
// the stack's own; check them first with Settings.Validate and Settings.CheckEnvironments for a
// readable error.
func NewPipelineStack(scope constructs.Construct, id string, props *Props) awscdk.Stack {
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
	sp := props.StackProps
	sp.TerminationProtection = jsii.Bool(s.TerminationProtection)
	if sp.Description == nil {
		sp.Description = jsii.String("CI/CD pipeline: CodeCommit, CodeBuild, CodeDeploy, with notifications.")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)
	// The stack's two Go functions compile on another core while the rest is constructed.
	gofunc.Prebuild(stack, notification.FormatterPackage, delivery.FunctionPackage)

	deployments := s.Deployments()
	stores := newReplications(scope, stack, deployments, s)
	pp := &pipeline.Props{ExecutionMode: awscodepipeline.ExecutionMode(s.ExecutionMode)}
	for region, r := range stores {
		if pp.ReplicationBuckets == nil {
			pp.ReplicationBuckets = map[string]awss3.IBucket{}
		}
		pp.ReplicationBuckets[region] = r.Store()
	}
	p := pipeline.New(stack, jsii.String("Pipeline"), pp)
	var repo awscodecommit.IRepository
	if s.ImportRepository {
		repo = awscodecommit.Repository_FromRepositoryName(stack, jsii.String("ImportedRepository"), jsii.String(s.RepositoryName))
	}
	var seed *string
	if props.SeedDirectory != "" {
		seed = jsii.String(props.SeedDirectory)
	}
	src := source.New(stack, jsii.String("Source"), &source.Props{
		Repository: repo, RepositoryName: jsii.String(s.RepositoryName), Branch: jsii.String(s.Branch), SeedDirectory: seed,
		LogKey: p.ArtifactKey,
	})
	b := build.New(stack, jsii.String("Build"), &build.Props{EncryptionKey: p.ArtifactKey, CacheBucket: p.ArtifactBucket})
	built := awscodepipeline.NewArtifact(jsii.String("Build"), nil)
	ds := make([]deployment, len(deployments))
	for i, e := range deployments {
		ds[i] = newDeployment(scope, stack, e, p, s, stores)
	}
	// CodePipeline starts its first execution when it is created: not before the seed is complete
	// and the targets in this stack can take a release (other stacks are deployed before this one).
	p.Pipeline.Node().AddDependency(src.Ready())
	for _, d := range ds {
		if !d.remote {
			p.Pipeline.Node().AddDependency(d.target.Ready())
		}
	}

	var allGroups, localGroups []awscodedeploy.IServerDeploymentGroup
	for _, d := range ds {
		if g := d.target.DeploymentGroup(); g != nil {
			allGroups = append(allGroups, g)
			if !d.remote {
				localGroups = append(localGroups, g)
			}
		}
		d.forwardDeploymentEvents(stack)
	}
	n := notification.New(stack, jsii.String("Notification"), &notification.Props{
		Pipeline: p.Pipeline, States: s.NotifyOn, DeploymentGroups: allGroups,
	})
	for _, sub := range s.Notifications {
		n.Subscribe(sub.Protocol, sub.Endpoint)
	}

	projects, logs := []awscodebuild.IProject{b.Project}, []awslogs.ILogGroup{b.LogGroup}
	var protected *string
	if s.PullRequestChecks {
		protected = jsii.String(s.Branch)
		checks := pullrequest.New(stack, jsii.String("PullRequestChecks"), &pullrequest.Props{
			Repository: src.Repository, Branch: jsii.String(s.Branch), EncryptionKey: p.ArtifactKey,
		})
		projects, logs = append(projects, checks.Project), append(logs, checks.LogGroup)
	}
	ops := operators.New(stack, jsii.String("Operators"), &operators.Props{
		Repository: src.Repository, ProtectedBranch: protected, Pipeline: p.Pipeline, Projects: projects, LogGroups: logs,
		ReportGroups: []awscodebuild.IReportGroup{b.ReportGroup}, DeploymentGroups: localGroups, Users: s.OperatorUsers,
	})
	p.AddStage("Source", src.Action)
	p.AddStage("Build", b.NewAction(src.Output, built))
	// Later approvals share the first one's topic, so that approvers confirm one subscription.
	var approvalTopic awssns.ITopic
	for i, d := range ds {
		e := d.env
		if e.Approval {
			// The approval guards its environment; approvers look at the one before it, when it is
			// in the pipeline's stack (another stack's address would be a cross-environment
			// reference). The implicit environment's approvers look at the release it replaces.
			review := d.target.URL()
			var guards *string
			if e.Name != "" {
				guards, review = jsii.String(e.Name), nil
				if i > 0 && !ds[i-1].remote {
					review = ds[i-1].target.URL()
				}
			}
			stage := approveStage + d.suffix()
			emails := s.ApproverEmails
			if approvalTopic != nil {
				emails = nil
			}
			a := approval.New(stack, jsii.String("Approval"+d.suffix()), &approval.Props{
				Emails: emails, Topic: approvalTopic, Key: n.Key, SourceNamespace: src.Namespace, DeadLetterQueue: n.SubscriptionDeadLetters,
				BuildURL: b.BuildURL(), ReviewURL: review, Environment: guards,
			})
			if approvalTopic == nil {
				approvalTopic = a.Topic
			}
			p.AddStage(stage, a.Action)
			a.GrantApprove(ops.Group, p.Pipeline, stage)
		}
		safety := &pipeline.Safety{Rollback: s.StageRollback}
		if e.DeployWindow != "" {
			safety.Window, safety.TimeZone = jsii.String(e.DeployWindow), jsii.String(e.DeployWindowTimeZone)
		}
		if alarms := d.target.WatchedAlarms(); e.BakeMinutes > 0 && len(alarms) > 0 {
			safety.Bake, safety.Alarms = awscdk.Duration_Minutes(jsii.Number(float64(e.BakeMinutes))), alarms
			if d.remote {
				safety.AlarmRegion = d.stack.Region()
			}
		}
		p.AddGuardedStage(deployStage+d.suffix(), safety, d.target.NewAction("Deploy", built))
	}
	for _, d := range ds {
		if d.remote {
			secure.SuppressPolicies(p.Pipeline, "AwsSolutions-IAM5",
				"CodePipeline reaches stages in other accounts or regions through the library's cross-environment grants, which decrypt with any key because KMS keys in other stacks have no names; each key's own policy admits the pipeline's roles for that key only.",
				"Resource::*")
			break
		}
	}
	var deployStages []string
	alarms := map[string][]awscloudwatch.IAlarm{}
	for _, d := range ds {
		deployStages = append(deployStages, deployStage+d.suffix())
		// EventBridge delivers an alarm's state changes in the alarm's own account and region: the
		// delivery metrics watch the alarms of the environments in this stack (docs/metrics.md).
		if watched := d.target.WatchedAlarms(); !d.remote && len(watched) > 0 {
			alarms[deployStage+d.suffix()] = watched
		}
	}
	metrics := delivery.New(stack, jsii.String("Delivery"), &delivery.Props{
		Pipeline: p.Pipeline, Stages: deployStages, Key: p.ArtifactKey, DeadLetterQueue: n.RuleDeadLetters,
		Repository: src.Repository, Alarms: alarms, ArchiveRetention: awscdk.Duration_Days(jsii.Number(float64(s.MetricsArchiveDays))),
	})
	output(stack, "RepositoryCloneUrlHttp", src.Repository.RepositoryCloneUrlHttp(), "Clone over HTTPS (git-remote-codecommit or a credential helper).")
	output(stack, "RepositoryCloneUrlGrc", src.Repository.RepositoryCloneUrlGrc(), "Clone with git-remote-codecommit.")
	output(stack, "PipelineConsoleUrl", jsii.String("https://"+*awscdk.Aws_REGION()+".console.aws.amazon.com/codesuite/codepipeline/pipelines/"+
		*p.Pipeline.PipelineName()+"/view?region="+*awscdk.Aws_REGION()), "The pipeline in the AWS console.")
	output(stack, "DashboardUrl", metrics.DashboardURL(), "Delivery metrics (DORA's five) per environment, in the CloudWatch console.")
	for _, d := range ds {
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
		if d.remote {
			check(d.stack, s.CompliancePacks)
		}
	}
	check(stack, s.CompliancePacks)
	return stack
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
