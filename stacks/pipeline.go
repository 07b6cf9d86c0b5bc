// Package stacks composes the construct packages into the pipeline stack. It holds no logic of its
// own beyond choosing pieces from the settings.
package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/pipekit/cdk-pipeline/constructs/approval"
	"github.com/pipekit/cdk-pipeline/constructs/build"
	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/constructs/notification"
	"github.com/pipekit/cdk-pipeline/constructs/operators"
	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/constructs/pullrequest"
	"github.com/pipekit/cdk-pipeline/constructs/source"
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

// NewPipelineStack builds the whole pipeline: source, build, optional approval, deploy,
// notifications, operators, and the compliance checks. It panics when the settings are invalid;
// validate them first with Settings.Validate for a readable error.
func NewPipelineStack(scope constructs.Construct, id string, props *Props) awscdk.Stack {
	s := props.Settings
	if err := s.Validate(); err != nil {
		panic(err)
	}
	sp := props.StackProps
	sp.TerminationProtection = jsii.Bool(s.TerminationProtection)
	if sp.Description == nil {
		sp.Description = jsii.String("CI/CD pipeline: CodeCommit, CodeBuild, CodeDeploy, with notifications.")
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &sp)

	p := pipeline.New(stack, jsii.String("Pipeline"), &pipeline.Props{
		ExecutionMode: awscodepipeline.ExecutionMode(s.ExecutionMode),
	})
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
	target := newTarget(stack, s, p)
	// CodePipeline starts its first execution when it is created: not before the seed is complete
	// and the target can take a release.
	for _, ready := range []constructs.IDependable{src.Ready(), target.Ready()} {
		if ready != nil {
			p.Pipeline.Node().AddDependency(ready)
		}
	}

	n := notification.New(stack, jsii.String("Notification"), &notification.Props{
		Pipeline: p.Pipeline, States: s.NotifyOn, DeploymentGroups: groupsOf(target),
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
		ReportGroups: []awscodebuild.IReportGroup{b.ReportGroup}, DeploymentGroups: groupsOf(target), Users: s.OperatorUsers,
	})
	p.AddStage("Source", src.Action)
	p.AddStage("Build", b.NewAction(src.Output, built))
	if s.Approval {
		a := approval.New(stack, jsii.String("Approval"), &approval.Props{
			Emails: s.ApproverEmails, Key: n.Key, SourceNamespace: src.Namespace, DeadLetterQueue: n.SubscriptionDeadLetters,
			BuildURL: b.BuildURL(), ReviewURL: target.URL(),
		})
		p.AddStage(approveStage, a.Action)
		a.GrantApprove(ops.Group, p.Pipeline, approveStage)
	}
	p.AddStage("Deploy", target.NewAction("Deploy", built))
	output(stack, "RepositoryCloneUrlHttp", src.Repository.RepositoryCloneUrlHttp(), "Clone over HTTPS (git-remote-codecommit or a credential helper).")
	output(stack, "RepositoryCloneUrlGrc", src.Repository.RepositoryCloneUrlGrc(), "Clone with git-remote-codecommit.")
	output(stack, "PipelineConsoleUrl", jsii.String("https://"+*awscdk.Aws_REGION()+".console.aws.amazon.com/codesuite/codepipeline/pipelines/"+
		*p.Pipeline.PipelineName()+"/view?region="+*awscdk.Aws_REGION()), "The pipeline in the AWS console.")
	if url := target.URL(); url != nil {
		output(stack, "AppUrl", url, "The application, behind its load balancer.")
	}
	if in, ok := target.(*deploy.Instances); ok {
		output(stack, "InstancePolicyArn", in.InstancePolicy.ManagedPolicyArn(), "Attach to the role of the tagged instances.")
	}
	check(stack, s.CompliancePacks)
	return stack
}

func newTarget(stack awscdk.Stack, s settings.Settings, p *pipeline.Pipeline) deploy.Target {
	switch s.DeployTarget {
	case settings.Instances:
		return deploy.NewInstances(stack, jsii.String("Instances"), &deploy.InstancesProps{
			TagKey: jsii.String(s.InstanceTag.Key), TagValue: jsii.String(s.InstanceTag.Value),
			DeploymentConfig: deploy.Config(s.DeploymentConfig), ArtifactBucket: p.ArtifactBucket, ArtifactKey: p.ArtifactKey,
		})
	case settings.Beanstalk:
		return deploy.NewBeanstalk(stack, jsii.String("Beanstalk"), &deploy.BeanstalkProps{
			Application: jsii.String(s.BeanstalkApplication), Environment: jsii.String(s.BeanstalkEnvironment),
			PipelineRole: p.Pipeline.Role(),
		})
	}
	return deploy.NewFleet(stack, jsii.String("Fleet"), &deploy.FleetProps{
		InstanceType: awsec2.NewInstanceType(jsii.String(s.InstanceType)), Size: jsii.Number(float64(s.FleetSize)),
		DeploymentConfig: deploy.Config(s.DeploymentConfig), ArtifactBucket: p.ArtifactBucket, ArtifactKey: p.ArtifactKey,
		LogBucket: p.AccessLogBucket,
	})
}

func groupsOf(t deploy.Target) []awscodedeploy.IServerDeploymentGroup {
	if g := t.DeploymentGroup(); g != nil {
		return []awscodedeploy.IServerDeploymentGroup{g}
	}
	return nil
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
