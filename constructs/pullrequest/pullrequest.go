// Package pullrequest checks every pull request to a CodeCommit repository before it merges: when a
// pull request is opened or updated, EventBridge starts a CodeBuild run of the tests on its source
// commit, and the run comments pass or fail, with a link to its logs, on the pull request and
// approves it or revokes its approval. An approval rule template on the repository then requires
// that approval to merge into the protected branch.
package pullrequest

import (
	_ "embed"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// report is the post_build step: approve or revoke, then comment; a stale or closed pull request
// is superseded, any other error fails the build.
//
//go:embed report.sh
var report string

// comment adds a check's own text to the report's comment (Props.CommentFile).
//
//go:embed comment.sh
var comment string

// Props configures a Check. Repository is required.
type Props struct {
	// Repository is the repository whose pull requests are checked.
	// Default: none; required.
	Repository awscodecommit.IRepository
	// Branch is the protected branch: merging into it needs a passing check.
	// Default: "main".
	Branch *string
	// Commands run the checks in the repository's root; any failure fails the check.
	// Default: go vet ./... and go test ./....
	Commands []string
	// RuntimeVersions are the buildspec's install runtime-versions: the image's default Go is
	// older than most go.mod files need (standard:7.0 defaults to Go 1.20).
	// Default: golang 1.26, what the sample app's buildspec.yml selects.
	RuntimeVersions map[string]string
	// EncryptionKey encrypts the check's logs and output.
	// Default: a new customer-managed key with rotation on.
	EncryptionKey awskms.IKey
	// BuildImage is the managed image the checks run in.
	// Default: awscodebuild.LinuxBuildImage_STANDARD_7_0().
	BuildImage awscodebuild.IBuildImage
	// Directory is the folder of the repository the commands run in, such as the application's
	// folder in a repository that holds more.
	// Default: the repository's root.
	Directory *string
	// Description describes the check's project.
	// Default: "Runs the checks of a pull request and reports on it."
	Description *string
	// ComputeType is the size of the machine the checks run on.
	// Default: awscodebuild.ComputeType_SMALL.
	ComputeType awscodebuild.ComputeType
	// Cache keeps what the buildspec's cache section names between checks.
	// Default: none.
	Cache awscodebuild.Cache
	// CachePaths are the buildspec's cache paths, for Cache.
	// Default: none.
	CachePaths []string
	// Variables are plaintext environment variables of the checks.
	// Default: none but REPOSITORY_NAME and the pull request's, which the report uses.
	Variables map[string]string
	// CommentFile is a file, relative to the repository's root, that the commands may write: its
	// text follows the verdict in the check's comment, cut to CodeCommit's comment limit.
	// Default: none; the comment is the verdict and the link to the build.
	CommentFile *string
	// Timeout stops a check that hangs.
	// Default: 20 minutes.
	Timeout awscdk.Duration
}

// Check is the pull-request build, the rule that starts it, and the approval rule template.
type Check struct {
	constructs.Construct
	// Project runs the checks.
	Project awscodebuild.Project
	// LogGroup receives the checks' build logs.
	LogGroup awslogs.ILogGroup
	// Rule starts Project on pull request events.
	Rule awsevents.Rule
	// TemplateNames name the approval rule templates associated with the repository, one for each
	// protected branch.
	TemplateNames []*string
	repo          awscodecommit.IRepository
	key           awskms.IKey
}

// New creates a Check. It panics without a Repository, or when Branch is not a valid name.
func New(scope constructs.Construct, id *string, props *Props) *Check {
	guard.Required("pullrequest.New", "Repository", props == nil || props.Repository == nil)
	if props.Branch != nil {
		guard.Must("pullrequest.New: props.Branch", names.Branch(*props.Branch))
	}
	c := &Check{repo: props.Repository, key: props.EncryptionKey}
	constructs.NewConstruct_Override(c, scope, id)
	branch, commands, key, image := "main", props.Commands, props.EncryptionKey, props.BuildImage
	if props.Directory != nil {
		guard.Must("pullrequest.New: props.Directory", folder(*props.Directory))
	}
	if props.Branch != nil {
		branch = *props.Branch
	}
	if len(commands) == 0 {
		commands = []string{"go vet ./...", "go test ./..."}
	}
	runtimes := props.RuntimeVersions
	if runtimes == nil {
		runtimes = map[string]string{"golang": "1.26"}
	}
	if key == nil {
		key = secure.NewKey(c, "Key", "Encrypts pull request check logs.")
		c.key = key
	}
	if image == nil {
		image = awscodebuild.LinuxBuildImage_STANDARD_7_0()
	}
	description, compute, timeout := props.Description, props.ComputeType, props.Timeout
	if description == nil {
		description = jsii.String("Runs the checks of a pull request and reports on it.")
	}
	if compute == "" {
		compute = awscodebuild.ComputeType_SMALL
	}
	if timeout == nil {
		timeout = awscdk.Duration_Minutes(jsii.Number(20))
	}
	repo := props.Repository
	variables := map[string]*awscodebuild.BuildEnvironmentVariable{"REPOSITORY_NAME": {Value: repo.RepositoryName()}}
	for name, value := range props.Variables {
		variables[name] = &awscodebuild.BuildEnvironmentVariable{Value: jsii.String(value)}
	}
	if props.CommentFile != nil {
		variables["COMMENT_FILE"] = &awscodebuild.BuildEnvironmentVariable{Value: props.CommentFile}
	}
	c.LogGroup = secure.NewLogGroup(c, "Logs", key, awslogs.RetentionDays_ONE_YEAR)
	c.Project = awscodebuild.NewProject(c, jsii.String("Project"), &awscodebuild.ProjectProps{
		Description:          description,
		Source:               awscodebuild.Source_CodeCommit(&awscodebuild.CodeCommitSourceProps{Repository: repo}),
		BuildSpec:            awscodebuild.BuildSpec_FromObject(buildspec(runtimes, commands, props)),
		Environment:          &awscodebuild.BuildEnvironment{BuildImage: image, ComputeType: compute, Privileged: jsii.Bool(false)},
		EncryptionKey:        key,
		Timeout:              timeout,
		Cache:                props.Cache,
		Logging:              &awscodebuild.LoggingOptions{CloudWatch: &awscodebuild.CloudWatchLoggingOptions{LogGroup: c.LogGroup}},
		EnvironmentVariables: &variables,
	})
	// Read the repository (the source grant), comment, and approve: nothing else.
	repo.Grant(c.Project, jsii.String("codecommit:GetPullRequest"), jsii.String("codecommit:PostCommentForPullRequest"), jsii.String("codecommit:UpdatePullRequestApprovalState"))
	// The rule that starts a check assumes a role the library makes.
	secure.ConfineEventBridgeRoles(c)
	secure.SuppressPolicies(c.Project, "AwsSolutions-IAM5",
		"The library scopes the check's role to its own log streams and report groups (named after the project) and to its key.",
		slices.Concat(secure.CodeBuildOwnGrants, []string{"Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"})...)

	field := func(path string) *string { return awsevents.EventField_FromPath(jsii.String(path)) }
	variable := func(name string, value *string) map[string]any {
		return map[string]any{"name": name, "value": value, "type": "PLAINTEXT"}
	}
	attempts, maxAge := secure.RetryForADay()
	// The rule is the repository's child: a second check of one repository names its own.
	ruleID := "PullRequestChecks"
	if repo.Node().TryFindChild(jsii.String(ruleID)) != nil {
		ruleID += "-" + *id
	}
	c.Rule = repo.OnPullRequestStateChange(jsii.String(ruleID), &awsevents.OnEventOptions{
		Description:  jsii.String("Checks pull requests when they are opened or updated."),
		EventPattern: &awsevents.EventPattern{Detail: &map[string]any{"event": []string{"pullRequestCreated", "pullRequestSourceBranchUpdated"}}},
		Target: awseventstargets.NewCodeBuildProject(c.Project, &awseventstargets.CodeBuildProjectProps{
			Event: awsevents.RuleTargetInput_FromObject(map[string]any{
				"sourceVersion": field("$.detail.sourceCommit"),
				"environmentVariablesOverride": []any{
					variable("PULL_REQUEST_ID", field("$.detail.pullRequestId")),
					variable("SOURCE_COMMIT", field("$.detail.sourceCommit")),
					variable("DESTINATION_COMMIT", field("$.detail.destinationCommit")),
					variable("REVISION_ID", field("$.detail.revisionId")),
				},
			}),
			DeadLetterQueue: secure.NewDeadLetterQueue(c, "DeadLetters"),
			RetryAttempts:   attempts,
			MaxEventAge:     maxAge,
		}),
	})
	c.ProtectBranch(branch)
	return c
}

// ProtectBranch requires a passing check to merge into branch: it creates an approval rule
// template that only the check's role can satisfy, and associates it with the repository.
// CloudFormation has no resource for approval rule templates, so the library's AwsCustomResource
// calls the CodeCommit API. CodeCommit applies a template to pull requests created after the
// association; open ones keep their rules.
//
// The template's name ends with the stack's id, so that no other stack's template can have it:
// the custom resources only ever update, delete or disassociate the template they created, also
// when a failed create rolls back. Deleting what is already gone is not an error, so a stack whose
// imported repository was deleted can still be deleted.
func (c *Check) ProtectBranch(branch string) {
	guard.Must("pullrequest.ProtectBranch", names.Branch(branch))
	stack, repo := awscdk.Stack_Of(c), c.repo
	// The first branch's ids carry no suffix: they were the construct's only ids, and ids are API.
	suffix := ""
	if len(c.TemplateNames) > 0 {
		suffix = "-" + branch
	}
	scope := constructs.NewConstruct(c, jsii.String("ApprovalRule"+suffix))
	stackUUID := awscdk.Fn_Select(jsii.Number(2), awscdk.Fn_Split(jsii.String("/"), awscdk.Aws_STACK_ID(), nil))
	name := jsii.String(*awscdk.Names_UniqueResourceName(scope, &awscdk.UniqueResourceNameOptions{MaxLength: jsii.Number(63)}) + "-" + *stackUUID)
	c.TemplateNames = append(c.TemplateNames, name)
	content := stack.ToJsonString(map[string]any{
		"Version":               "2018-11-08",
		"DestinationReferences": []string{"refs/heads/" + branch},
		"Statements": []any{map[string]any{
			"Type":                    "Approvers",
			"NumberOfApprovalsNeeded": 1,
			// CodeBuild runs as this role; its sessions are the only approvers that count.
			"ApprovalPoolMembers": []string{fmt.Sprintf("arn:%s:sts::%s:assumed-role/%s/*", *awscdk.Aws_PARTITION(), *awscdk.Aws_ACCOUNT_ID(), *c.Project.Role().RoleName())},
		}},
	}, nil)
	call := func(action string, params map[string]any, id customresources.PhysicalResourceId, ignore string) *customresources.AwsSdkCall {
		c := &customresources.AwsSdkCall{Service: jsii.String("CodeCommit"), Action: jsii.String(action), Parameters: params, PhysicalResourceId: id}
		if ignore != "" {
			c.IgnoreErrorCodesMatching = jsii.String(ignore)
		}
		return c
	}
	// The template's physical id is the name CodeCommit answered with: a create that failed has
	// another id (the provider's log stream), which names no template, so its rollback deletes
	// nothing.
	created := customresources.PhysicalResourceId_FromResponse(jsii.String("approvalRuleTemplate.approvalRuleTemplateName"))
	mine := customresources.NewPhysicalResourceIdReference()
	const gone = "ApprovalRuleTemplateDoesNotExistException|InvalidApprovalRuleTemplateNameException|RepositoryDoesNotExistException"
	template := secure.NewAwsCustomResource(scope, "Template", c.key, &customresources.AwsCustomResourceProps{
		OnCreate: call("createApprovalRuleTemplate", map[string]any{"approvalRuleTemplateName": name, "approvalRuleTemplateContent": content,
			"approvalRuleTemplateDescription": "A passing pull request check is required to merge."}, created, ""),
		OnUpdate: call("updateApprovalRuleTemplateContent", map[string]any{"approvalRuleTemplateName": mine, "newRuleContent": content}, created, ""),
		OnDelete: call("deleteApprovalRuleTemplate", map[string]any{"approvalRuleTemplateName": mine}, nil, gone),
		// Approval rule templates have no ARN: IAM accepts only "*" for these actions.
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("codecommit:CreateApprovalRuleTemplate", "codecommit:UpdateApprovalRuleTemplateContent", "codecommit:DeleteApprovalRuleTemplate"),
			Resources: jsii.Strings("*"),
		})}),
	})
	secure.Suppress(template, "AwsSolutions-IAM5", "CodeCommit approval rule templates have no ARN, so IAM accepts only \"*\" for creating, updating and deleting them.", "Resource::*")
	// The association's physical id names the repository: when the repository changes, the update
	// associates the new one and CloudFormation deletes the old association, with the old
	// repository's name.
	associated := customresources.PhysicalResourceId_Of(jsii.String(*name + "@" + *repo.RepositoryName()))
	association := secure.NewAwsCustomResource(scope, "Association", c.key, &customresources.AwsCustomResourceProps{
		OnCreate: call("associateApprovalRuleTemplateWithRepository", map[string]any{"approvalRuleTemplateName": name, "repositoryName": repo.RepositoryName()}, associated, ""),
		OnUpdate: call("associateApprovalRuleTemplateWithRepository", map[string]any{"approvalRuleTemplateName": name, "repositoryName": repo.RepositoryName()}, associated, ""),
		OnDelete: call("disassociateApprovalRuleTemplateFromRepository", map[string]any{"approvalRuleTemplateName": name, "repositoryName": repo.RepositoryName()}, nil, gone),
		// Any repository of the account and region: after a change of repository, the old
		// association is deleted with this policy, which then names the new repository.
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("codecommit:AssociateApprovalRuleTemplateWithRepository", "codecommit:DisassociateApprovalRuleTemplateFromRepository"),
			Resources: jsii.Strings(*stack.FormatArn(&awscdk.ArnComponents{Service: jsii.String("codecommit"), Resource: jsii.String("*"),
				ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME})),
		})}),
	})
	secure.Suppress(association, "AwsSolutions-IAM5", "Associations are removed with the current policy, which must still cover the repository the template leaves when the stack moves to another one; the actions only touch this stack's template.",
		`/^Resource::arn:<AWS::Partition>:codecommit:<AWS::Region>:<AWS::AccountId>:\*$/g`, `/^Resource::arn:aws[a-z-]*:codecommit:[a-z0-9-]+:[0-9]{12}:\*$/g`)
	association.Node().AddDependency(template)
}

// buildspec runs the checks, in props.Directory when it is given, then reports on the pull
// request whatever their result. The report runs in a subshell, so that its set -euo pipefail and
// its exits are its own: CodeBuild counts a command's last status only. With a CommentFile, the
// same command first defines the function that adds it to the comment (comment.sh).
func buildspec(runtimes map[string]string, commands []string, props *Props) *map[string]any {
	if props.Directory != nil {
		commands = append([]string{"cd " + shellQuote(*props.Directory)}, commands...)
	}
	post := "(\n" + strings.TrimPrefix(report, "#!/usr/bin/env bash\n") + ")"
	if props.CommentFile != nil {
		// In the same command as the report: CodeBuild carries a command's exported variables to
		// the next, not its functions (nor its arrays: aws/aws-cdk#26694).
		post = strings.TrimPrefix(comment, "#!/usr/bin/env bash\n") + "\n" + post
	}
	spec := map[string]any{
		"version": "0.2",
		"env":     map[string]any{"shell": "bash"},
		"phases": map[string]any{
			"install":    map[string]any{"runtime-versions": runtimes},
			"build":      map[string]any{"commands": commands},
			"post_build": map[string]any{"commands": []string{post}},
		},
	}
	if len(props.CachePaths) > 0 {
		spec["cache"] = map[string]any{"paths": props.CachePaths}
	}
	return &spec
}

// folder checks a folder of the repository: relative, inside it, clean.
func folder(dir string) error {
	if dir == "" || path.IsAbs(dir) || path.Clean(dir) != dir || dir == ".." || strings.HasPrefix(dir, "../") || strings.ContainsAny(dir, "\x00\n\r") {
		return fmt.Errorf("%q is not a folder of the repository: give a clean relative path, such as \"sample-app\"", dir)
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
