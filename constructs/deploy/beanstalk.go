package deploy

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// BeanstalkProps names an existing Elastic Beanstalk application and environment, and the pipeline
// role that deploys to it. All three are required.
type BeanstalkProps struct {
	// Application is the Elastic Beanstalk application name.
	// Default: none; required.
	Application *string
	// Environment is the Elastic Beanstalk environment name.
	// Default: none; required.
	Environment *string
	// PipelineRole is the role of the pipeline that runs the deploy action, for example
	// pipeline.Pipeline.Role(). It alone may assume the action role, which carries AWS's
	// AdministratorAccess-AWSElasticBeanstalk.
	// Default: none; required.
	PipelineRole awsiam.IRole
}

// Beanstalk releases to an existing Elastic Beanstalk environment. Beanstalk, not CodeDeploy, runs
// the rollout, with the environment's own deployment policy and health checks.
type Beanstalk struct {
	constructs.Construct
	// ActionRole is the role the deploy action runs as.
	ActionRole awsiam.Role
	props      BeanstalkProps
}

// NewBeanstalk creates a Beanstalk target. It panics when a name is missing or invalid.
func NewBeanstalk(scope constructs.Construct, id *string, props *BeanstalkProps) *Beanstalk {
	guard.Required("deploy.NewBeanstalk", "Application", props == nil || props.Application == nil)
	guard.Required("deploy.NewBeanstalk", "Environment", props.Environment == nil)
	guard.Required("deploy.NewBeanstalk", "PipelineRole", props.PipelineRole == nil)
	guard.Must("deploy.NewBeanstalk: props.Application", names.BeanstalkApplication(*props.Application))
	guard.Must("deploy.NewBeanstalk: props.Environment", names.BeanstalkEnvironment(*props.Environment))
	b := &Beanstalk{props: *props}
	constructs.NewConstruct_Override(b, scope, id)
	// The library's default action role trusts the whole account, so any principal allowed
	// sts:AssumeRole could use its Beanstalk administrator rights: this one trusts the pipeline's
	// role alone.
	b.ActionRole = awsiam.NewRole(b, jsii.String("ActionRole"), &awsiam.RoleProps{
		AssumedBy:   props.PipelineRole,
		Description: jsii.String("CodePipeline deploys to Elastic Beanstalk."),
	})
	secure.Suppress(b.ActionRole, "AwsSolutions-IAM4",
		"The library's Elastic Beanstalk action attaches AdministratorAccess-AWSElasticBeanstalk: a Beanstalk deployment drives CloudFormation, EC2 and Auto Scaling for the environment, which no narrower AWS policy covers.",
		secure.AWSManagedPolicy("AdministratorAccess-AWSElasticBeanstalk"))
	secure.SuppressPolicies(b.ActionRole, "AwsSolutions-IAM5",
		"The library grants the action read access to the pipeline's artifact bucket and key only; the wildcards are the artifact object keys chosen at run time.",
		secure.ArtifactGrants...)
	return b
}

// NewAction returns an Elastic Beanstalk deploy action for input.
func (b *Beanstalk) NewAction(name string, input awscodepipeline.Artifact) awscodepipeline.IAction {
	return awscodepipelineactions.NewElasticBeanstalkDeployAction(&awscodepipelineactions.ElasticBeanstalkDeployActionProps{
		ActionName:      jsii.String(name),
		Input:           input,
		ApplicationName: b.props.Application,
		EnvironmentName: b.props.Environment,
		Role:            b.ActionRole,
	})
}

// URL is nil: the environment's address is not known without a lookup.
func (b *Beanstalk) URL() *string { return nil }

// DeploymentGroup is nil: Elastic Beanstalk does not use CodeDeploy.
func (b *Beanstalk) DeploymentGroup() awscodedeploy.IServerDeploymentGroup { return nil }

// Ready is an empty group: the environment already exists.
func (b *Beanstalk) Ready() constructs.IDependable { return constructs.NewDependencyGroup() }

// WatchedAlarms is nil: the stack knows no alarms of the environment.
func (b *Beanstalk) WatchedAlarms() []awscloudwatch.IAlarm { return nil }
