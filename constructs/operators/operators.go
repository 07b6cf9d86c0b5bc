// Package operators provides the IAM group for the people who run one pipeline: work with its
// repository (through pull requests, when its branch is protected), start, retry, roll back or
// stop it, and read its builds, test reports, logs and deployments. Approvals grant themselves to
// the group (approval.Approval.GrantApprove). It replaces the tutorial's AdministratorAccess user;
// it creates no users and no passwords, and only adds existing users to the group.
package operators

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Props names what the operators may act on. Nil props gives a group with no permissions.
type Props struct {
	// Repository is pushed to and pulled from, and its pull requests are created, reviewed and
	// merged.
	// Default: none.
	Repository awscodecommit.IRepository
	// ProtectedBranch is the Repository branch that only pull requests change, when pull request
	// checks guard it: operators may not push to it, delete it, or commit or merge to it through the
	// API, and may not override pull request approval rules.
	// Default: none; operators push to every branch.
	ProtectedBranch *string
	// Pipeline is started, retried, stopped and watched.
	// Default: none.
	Pipeline awscodepipeline.IPipeline
	// Projects are the build projects whose builds operators may read.
	// Default: none.
	Projects []awscodebuild.IProject
	// ReportGroups are the test report groups operators may read, such as the build's JUnit
	// reports that an approver should look at.
	// Default: none.
	ReportGroups []awscodebuild.IReportGroup
	// LogGroups are the build logs operators may read.
	// Default: none.
	LogGroups []awslogs.ILogGroup
	// DeploymentGroups are the CodeDeploy groups whose deployments operators may read.
	// Default: none.
	DeploymentGroups []awscodedeploy.IServerDeploymentGroup
	// Users are the names of existing IAM users to add to the group.
	// Default: none.
	Users []string
	// NoManualStart denies operators starting the Pipeline by hand. A start may name any commit
	// of the repository, of any branch, as its source (a source revision override,
	// https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-overrides.html),
	// so a pipeline that deploys its own infrastructure from its source before any approval would
	// deploy a commit no pull request reviewed. Retrying and rolling back stages stay allowed:
	// they rerun revisions the pipeline already took from its branch.
	// Default: false; operators may start it.
	NoManualStart bool
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
		guard.Must("operators.New: props.Users", names.IAMUserName(name))
	}
	if props.ProtectedBranch != nil {
		guard.Required("operators.New", "Repository", props.Repository == nil)
		guard.Must("operators.New: props.ProtectedBranch", names.Branch(*props.ProtectedBranch))
	}
	o := &Operators{}
	constructs.NewConstruct_Override(o, scope, id)
	o.Group = awsiam.NewGroup(o, jsii.String("Group"), nil)
	allow := func(actions []string, resources ...string) {
		o.Group.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings(actions...), Resources: jsii.Strings(resources...),
		}))
	}
	if repo := props.Repository; repo != nil {
		repo.GrantPullPush(o.Group)
		repo.GrantRead(o.Group)
		// The pull request flow: create, comment, approve, close and merge. Merging still needs
		// every approval rule satisfied, such as the pull request check's.
		allow([]string{"codecommit:CreatePullRequest", "codecommit:UpdatePullRequestTitle", "codecommit:UpdatePullRequestDescription",
			"codecommit:UpdatePullRequestStatus", "codecommit:UpdatePullRequestApprovalState",
			"codecommit:PostCommentForPullRequest", "codecommit:PostCommentReply", "codecommit:UpdateComment", "codecommit:DeleteCommentContent",
			"codecommit:PutCommentReaction", "codecommit:BatchDescribeMergeConflicts", "codecommit:CreateUnreferencedMergeCommit",
			"codecommit:MergePullRequestByFastForward", "codecommit:MergePullRequestBySquash", "codecommit:MergePullRequestByThreeWay",
		}, *repo.RepositoryArn())
		if props.ProtectedBranch != nil {
			// AWS's documented way to protect a branch: deny the actions that change it directly.
			// Pushes to other branches, and merges of pull requests into it, stay allowed.
			o.Group.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:    jsii.String("ProtectedBranchChangesOnlyThroughPullRequests"),
				Effect: awsiam.Effect_DENY,
				Actions: jsii.Strings("codecommit:GitPush", "codecommit:DeleteBranch", "codecommit:PutFile", "codecommit:DeleteFile",
					"codecommit:CreateCommit", "codecommit:MergeBranchesByFastForward", "codecommit:MergeBranchesBySquash",
					"codecommit:MergeBranchesByThreeWay"),
				Resources: jsii.Strings(*repo.RepositoryArn()),
				Conditions: &map[string]any{
					"StringEqualsIfExists": map[string]any{"codecommit:References": []string{"refs/heads/" + *props.ProtectedBranch}},
					"Null":                 map[string]any{"codecommit:References": "false"},
				},
			}))
			o.Group.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("NoOverrideOfThePullRequestCheck"),
				Effect:    awsiam.Effect_DENY,
				Actions:   jsii.Strings("codecommit:OverridePullRequestApprovalRules", "codecommit:DeletePullRequestApprovalRule"),
				Resources: jsii.Strings(*repo.RepositoryArn()),
			}))
		}
	}
	if p := props.Pipeline; p != nil {
		arn := *p.PipelineArn()
		actions := []string{"codepipeline:StartPipelineExecution", "codepipeline:StopPipelineExecution",
			"codepipeline:GetPipeline", "codepipeline:GetPipelineState", "codepipeline:GetPipelineExecution",
			"codepipeline:ListPipelineExecutions", "codepipeline:ListActionExecutions"}
		if props.NoManualStart {
			actions = actions[1:]
			// A deny too, so that no other grant of the operators' lets them.
			o.Group.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:       jsii.String("NoManualStartOfASelfUpdatingPipeline"),
				Effect:    awsiam.Effect_DENY,
				Actions:   jsii.Strings("codepipeline:StartPipelineExecution"),
				Resources: jsii.Strings(arn),
			}))
		}
		allow(actions, arn)
		// IAM authorizes these on the stage (<pipeline ARN>/<stage>), not on the pipeline.
		allow([]string{"codepipeline:RetryStageExecution", "codepipeline:RollbackStage", "codepipeline:OverrideStageCondition"}, arn+"/*")
	}
	for _, project := range props.Projects {
		allow([]string{"codebuild:BatchGetBuilds", "codebuild:ListBuildsForProject", "codebuild:BatchGetProjects"}, *project.ProjectArn())
	}
	for _, group := range props.ReportGroups {
		allow([]string{"codebuild:BatchGetReportGroups", "codebuild:ListReportsForReportGroup", "codebuild:GetReportGroupTrend"}, *group.ReportGroupArn())
		// A report's ARN is report/<group name>:<report id>.
		allow([]string{"codebuild:BatchGetReports", "codebuild:DescribeTestCases", "codebuild:DescribeCodeCoverages"},
			*awscdk.Stack_Of(o).FormatArn(&awscdk.ArnComponents{Service: jsii.String("codebuild"), Resource: jsii.String("report"),
				ResourceName: jsii.String(*group.ReportGroupName() + ":*")}))
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
	allow([]string{"codepipeline:ListPipelines", "codecommit:ListRepositories", "codebuild:ListProjects", "codebuild:ListReportGroups",
		"codedeploy:ListApplications"}, "*")
	secure.Suppress(o.Group, "AwsSolutions-IAM5",
		"The console list actions support no resource-level permissions; the repository read grant (codecommit:Get*, Describe*) and the log reads are scoped to this pipeline's repository and log groups, stage actions to this pipeline's stages, report reads to this pipeline's report groups, with wildcards only in action names and below them.",
		"Resource::*", `/^Resource::<.+\.Arn>:\*$/g`, "Action::codecommit:Get*", "Action::codecommit:Describe*",
		`/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):codepipeline:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):(<.+>|[A-Za-z0-9.@_-]+)\/\*$/g`,
		`/^Resource::arn:(<AWS::Partition>|aws[a-z-]*):codebuild:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):report\/.+:\*$/g`)
	for _, name := range props.Users {
		o.AddUser(name)
	}
	return o
}

// AddUser adds the existing IAM user name to the group. It panics when name is not an IAM user
// name.
func (o *Operators) AddUser(name string) {
	guard.Must("operators.AddUser", names.IAMUserName(name))
	o.Group.AddUser(awsiam.User_FromUserName(o, jsii.String("User"+name), jsii.String(name)))
}
