// Package operators provides the IAM group for the people who run one pipeline: push and pull its
// repository, start, retry or stop it, and read its build logs and deployments. Approvals grant
// themselves to the group (approval.Approval.GrantApprove). It replaces the tutorial's AdministratorAccess user; it creates no users and no
// passwords, and only adds existing users to the group.
package operators

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/rules"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Props names what the operators may act on. Nil props gives a group with no permissions.
type Props struct {
	// Repository is pushed to and pulled from.
	// Default: none.
	Repository awscodecommit.IRepository
	// Pipeline is started, retried, stopped and watched.
	// Default: none.
	Pipeline awscodepipeline.IPipeline
	// Projects are the build projects whose builds and reports operators may read.
	// Default: none.
	Projects []awscodebuild.IProject
	// LogGroups are the build logs operators may read.
	// Default: none.
	LogGroups []awslogs.ILogGroup
	// DeploymentGroups are the CodeDeploy groups whose deployments operators may read.
	// Default: none.
	DeploymentGroups []awscodedeploy.IServerDeploymentGroup
	// Users are the names of existing IAM users to add to the group.
	// Default: none.
	Users []string
}

// Operators is the operators' IAM group.
type Operators struct {
	constructs.Construct
	// Group is the operators' IAM group; add users to it, or grant it more.
	Group awsiam.Group
}

// New creates Operators. It panics when an entry of Users is not an IAM user name.
func New(scope constructs.Construct, id *string, props *Props) *Operators {
	if props == nil {
		props = &Props{}
	}
	for _, name := range props.Users {
		rules.Must("operators.New: props.Users", rules.IAMUserName(name))
	}
	o := &Operators{}
	constructs.NewConstruct_Override(o, scope, id)
	o.Group = awsiam.NewGroup(o, jsii.String("Group"), nil)
	allow := func(actions []string, resources ...string) {
		o.Group.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...),
		}))
	}
	if props.Repository != nil {
		props.Repository.GrantPullPush(o.Group)
		props.Repository.GrantRead(o.Group)
	}
	if p := props.Pipeline; p != nil {
		arn := *p.PipelineArn()
		allow([]string{"codepipeline:StartPipelineExecution", "codepipeline:StopPipelineExecution", "codepipeline:RetryStageExecution",
			"codepipeline:GetPipeline", "codepipeline:GetPipelineState", "codepipeline:GetPipelineExecution",
			"codepipeline:ListPipelineExecutions", "codepipeline:ListActionExecutions"}, arn)
	}
	for _, project := range props.Projects {
		allow([]string{"codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject", "codebuild:BatchGetProjects"}, *project.ProjectArn())
	}
	for _, logs := range props.LogGroups {
		logs.GrantRead(o.Group)
	}
	for _, group := range props.DeploymentGroups {
		allow([]string{"codedeploy:GetDeploymentGroup", "codedeploy:ListDeployments", "codedeploy:GetDeployment",
			"codedeploy:ListDeploymentInstances", "codedeploy:GetDeploymentInstance", "codedeploy:ListDeploymentTargets",
			"codedeploy:GetDeploymentTarget", "codedeploy:BatchGetDeployments"}, *group.DeploymentGroupArn())
		allow([]string{"codedeploy:GetApplication", "codedeploy:GetApplicationRevision"}, *group.Application().ApplicationArn())
	}
	// The consoles' list pages need these, and they support no resource-level permissions.
	allow([]string{"codepipeline:ListPipelines", "codecommit:ListRepositories", "codebuild:ListProjects", "codedeploy:ListApplications"}, "*")
	secure.Suppress(o.Group, "AwsSolutions-IAM5",
		"The console list actions support no resource-level permissions; the repository read grant (codecommit:Get*, Describe*) and the log reads are scoped to this pipeline's repository and log groups, with wildcards only in action names and below them.",
		"Resource::*", `/^Resource::<.+\.Arn>:\*$/g`, "Action::codecommit:Get*", "Action::codecommit:Describe*")
	for _, name := range props.Users {
		o.AddUser(name)
	}
	return o
}

// AddUser adds the existing IAM user name to the group. It panics when name is not an IAM user
// name.
func (o *Operators) AddUser(name string) {
	rules.Must("operators.AddUser", rules.IAMUserName(name))
	o.Group.AddUser(awsiam.User_FromUserName(o, jsii.String("User"+name), jsii.String(name)))
}
