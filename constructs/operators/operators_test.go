package operators_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodebuild"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/operators"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example lets two existing users work with one repository, and nothing else.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("OperatorsExample"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	operators.New(stack, jsii.String("Operators"), &operators.Props{Repository: repo, Users: []string{"alice", "bob"}})
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::IAM::User"), nil)), "users created,",
		len(*template.FindResources(jsii.String("AWS::IAM::UserToGroupAddition"), nil)), "existing users added")
	// Output: 0 users created, 2 existing users added
}

// TestNilProps: a group with no permissions but the console's list actions.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("Test")
	operators.New(stack, jsii.String("Operators"), nil)
	assert.Empty(t, cdktest.Synth(t, stack).NagErrors)
	assert.PanicsWithValue(t, `operators.New: props.Users: "bad user" is not an IAM user name: use 1-64 letters, digits or +=,.@_-`, func() {
		operators.New(stack, jsii.String("Bad"), &operators.Props{Users: []string{"bad user"}})
	})
}

// TestProtectedBranch: with pull request checks guarding main, operators change it only through
// pull requests (AWS's documented deny on codecommit:References), may not override the check, and
// still push other branches and merge pull requests.
func TestProtectedBranch(t *testing.T) {
	stack := cdktest.NewStack("Protected")
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	pipeline := awscodepipeline.Pipeline_FromPipelineArn(stack, jsii.String("Pipeline"), jsii.String("arn:aws:codepipeline:eu-west-1:123456789012:app"))
	reports := awscodebuild.ReportGroup_FromReportGroupName(stack, jsii.String("Reports"), jsii.String("app-tests"))
	operators.New(stack, jsii.String("Operators"), &operators.Props{
		Repository: repo, ProtectedBranch: jsii.String("main"), Pipeline: pipeline, ReportGroups: []awscodebuild.IReportGroup{reports},
	})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	statements := map[string]map[string]any{}
	for _, st := range s.Props("AWS::IAM::Policy")["PolicyDocument"].(map[string]any)["Statement"].([]any) {
		statement := st.(map[string]any)
		if sid, ok := statement["Sid"].(string); ok {
			statements[sid] = statement
		}
		if actions, ok := statement["Action"].([]any); ok {
			for _, a := range actions {
				statements[a.(string)] = statement
			}
		} else {
			statements[statement["Action"].(string)] = statement
		}
	}
	deny := statements["ProtectedBranchChangesOnlyThroughPullRequests"]
	require.NotNil(t, deny)
	assert.Equal(t, "Deny", deny["Effect"])
	assert.ElementsMatch(t, []any{"codecommit:GitPush", "codecommit:DeleteBranch", "codecommit:PutFile", "codecommit:DeleteFile", "codecommit:CreateCommit",
		"codecommit:MergeBranchesByFastForward", "codecommit:MergeBranchesBySquash", "codecommit:MergeBranchesByThreeWay"}, deny["Action"])
	assert.Equal(t, map[string]any{
		"StringEqualsIfExists": map[string]any{"codecommit:References": []any{"refs/heads/main"}},
		"Null":                 map[string]any{"codecommit:References": "false"},
	}, deny["Condition"])
	assert.Equal(t, "Deny", statements["NoOverrideOfThePullRequestCheck"]["Effect"])
	for _, allowed := range []string{"codecommit:GitPush", "codecommit:CreatePullRequest", "codecommit:MergePullRequestBySquash", "codecommit:PostCommentForPullRequest"} {
		found := false
		for _, st := range s.Props("AWS::IAM::Policy")["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			statement := st.(map[string]any)
			if statement["Effect"] == "Allow" && strings.Contains(fmt.Sprint(statement["Action"]), allowed) {
				found = true
			}
		}
		assert.True(t, found, "%s is allowed (on other branches, or through a pull request)", allowed)
	}
	assert.Equal(t, "arn:aws:codepipeline:eu-west-1:123456789012:app/*", statements["codepipeline:RetryStageExecution"]["Resource"], "stage actions are authorized on the stage")
	assert.Equal(t, statements["codepipeline:RetryStageExecution"], statements["codepipeline:RollbackStage"])
	assert.Contains(t, fmt.Sprint(statements["codebuild:DescribeTestCases"]["Resource"]), ":report/app-tests:*")
	assert.NotContains(t, statements, "codepipeline:UpdatePipeline")

	assert.PanicsWithValue(t, "operators.New: props.Repository is required", func() {
		operators.New(stack, jsii.String("NoRepo"), &operators.Props{ProtectedBranch: jsii.String("main")})
	})
}
