package pullrequest_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/pullrequest"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example checks pull requests to an existing repository with its own commands, and requires a
// passing check to merge into release.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("PullRequestExample"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("shop"))
	pullrequest.New(stack, jsii.String("Checks"), &pullrequest.Props{
		Repository: repo,
		Branch:     jsii.String("release"),
		Commands:   []string{"make lint", "make test"},
	})
	template := assertions.Template_FromStack(stack, nil)
	fmt.Println(len(*template.FindResources(jsii.String("AWS::CodeBuild::Project"), nil)), "check project,",
		len(*template.FindResources(jsii.String("Custom::AWS"), nil)), "custom resources for the approval rule template")
	// Output: 1 check project, 2 custom resources for the approval rule template
}

func TestNagCleanOnItsOwn(t *testing.T) {
	stack := cdktest.NewStack("Test")
	repo := awscodecommit.NewRepository(stack, jsii.String("Repo"), &awscodecommit.RepositoryProps{RepositoryName: jsii.String("app")})
	pullrequest.New(stack, jsii.String("Checks"), &pullrequest.Props{Repository: repo})
	// A check of an application in a folder, and one that adds its own text to its comment.
	pullrequest.New(stack, jsii.String("InFolder"), &pullrequest.Props{Repository: repo, Directory: jsii.String("sample-app")})
	pullrequest.New(stack, jsii.String("Commented"), &pullrequest.Props{Repository: repo, Commands: []string{"./check > out/comment.md"},
		CommentFile: jsii.String("out/comment.md"), Description: jsii.String("Comments."), Variables: map[string]string{"TARGET": "main"}})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	assert.Contains(t, s.Text(), `go vet ./...`)
	assert.Contains(t, s.Text(), "set -euo pipefail", "the report runs with errexit, in its own subshell")
	phase := func(spec map[string]any, name string) []any {
		return spec["phases"].(map[string]any)[name].(map[string]any)["commands"].([]any)
	}
	byFirst := map[string]map[string]any{}
	for _, r := range s.Resources("AWS::CodeBuild::Project") {
		var spec map[string]any
		require.NoError(t, json.Unmarshal([]byte(r["Properties"].(map[string]any)["Source"].(map[string]any)["BuildSpec"].(string)), &spec))
		byFirst[phase(spec, "build")[0].(string)] = spec
	}
	require.Len(t, byFirst, 3)
	for _, first := range []string{"go vet ./...", "cd 'sample-app'"} {
		assert.Len(t, phase(byFirst[first], "post_build"), 1, "the report alone")
	}
	commented := byFirst["./check > out/comment.md"]
	require.NotNil(t, commented)
	post := phase(commented, "post_build")
	require.Len(t, post, 1, "the comment's wrapper and the report in one command: CodeBuild does not carry functions from one command to the next")
	assert.Regexp(t, `(?s)\naws\(\) \{\n.*\n}\n+\(\n.*\)$`, post[0], "the comment's wrapper, defined before the report's subshell")
	s.Has(t, "AWS::CodeBuild::Project", map[string]any{"Description": "Comments.", "Environment": cdktest.ObjectLike(map[string]any{
		"EnvironmentVariables": cdktest.ArrayWith(
			map[string]any{"Name": "COMMENT_FILE", "Type": "PLAINTEXT", "Value": "out/comment.md"},
			map[string]any{"Name": "TARGET", "Type": "PLAINTEXT", "Value": "main"})})})
	assert.Len(t, s.Resources("AWS::Events::Rule"), 3, "a rule of its own for each check of the repository")
	assert.Equal(t, []any{"cd 'sample-app'", "go vet ./...", "go test ./..."}, phase(byFirst["cd 'sample-app'"], "build"), "the check in a folder runs there")
}

// TestApprovalRuleResources: the template's name ends with the stack's id, its physical id is the
// name CodeCommit answered with, deletes tolerate what is already gone, and the association
// follows a change of repository.
func TestApprovalRuleResources(t *testing.T) {
	stack := cdktest.NewStack("Rules")
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("shop"))
	pullrequest.New(stack, jsii.String("Checks"), &pullrequest.Props{Repository: repo})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	template, association := "", ""
	for _, r := range s.Resources("Custom::AWS") {
		b, _ := json.Marshal(r["Properties"])
		// The SDK calls are JSON inside JSON inside Fn::Join: drop the escaping to read them.
		switch text := strings.ReplaceAll(string(b), `\`, ""); {
		case strings.Contains(text, "createApprovalRuleTemplate"):
			template = text
		case strings.Contains(text, "associateApprovalRuleTemplateWithRepository"):
			association = text
		}
	}
	require.NotEmpty(t, template)
	require.NotEmpty(t, association)
	assert.Contains(t, template, `AWS::StackId`, "the name ends with the stack's id")
	assert.Contains(t, template, `"responsePath":"approvalRuleTemplate.approvalRuleTemplateName"`)
	assert.Contains(t, template, `PHYSICAL:RESOURCEID:`, "update and delete name the template the create made")
	assert.Contains(t, template, `ApprovalRuleTemplateDoesNotExistException|InvalidApprovalRuleTemplateNameException|RepositoryDoesNotExistException`)
	assert.Contains(t, association, `associateApprovalRuleTemplateWithRepository`)
	assert.Contains(t, template, `updateApprovalRuleTemplateContent`, "a changed rule updates the template in place")
	assert.Contains(t, association, `"Update":`, "a renamed repository moves the association")
	assert.Contains(t, association, `shop`, "the association's id names its repository")
	assert.Contains(t, association, `disassociateApprovalRuleTemplateFromRepository`)
}

// TestNilProps: a repository is required, and said so in one line before anything is created.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("T")
	assert.PanicsWithValue(t, "pullrequest.New: props.Repository is required", func() { pullrequest.New(stack, jsii.String("C"), nil) })
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("shop"))
	assert.PanicsWithValue(t, `pullrequest.New: props.Branch: "refs/heads/main" is not a valid git branch name: give the branch name alone, such as "main", not a ref`, func() {
		pullrequest.New(stack, jsii.String("D"), &pullrequest.Props{Repository: repo, Branch: jsii.String("refs/heads/main")})
	})
	assert.Len(t, *stack.Node().Children(), 1, "only the imported repository")
}

// TestCommentFile runs the report with the comment's wrapper against a stand-in AWS CLI: the
// check's text follows the verdict, cut to CodeCommit's 10,240 characters (counted as characters,
// not bytes); other calls, and a check that wrote nothing, pass through as they were.
func TestCommentFile(t *testing.T) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "aws"), []byte(fakeAWS+`[ "$2" != post-comment-for-pull-request ] || { while [ "$1" != --content ]; do shift; done; printf %s "$2" >"$CONTENT"; }
`), 0o755))
	script, err := os.ReadFile("comment.sh")
	require.NoError(t, err)
	report, err := os.ReadFile("report.sh")
	require.NoError(t, err)
	for _, c := range []struct {
		name, body string
		want       func(t *testing.T, content string)
	}{
		{"short", "## Infrastructure\nnothing replaced", func(t *testing.T, content string) {
			assert.Equal(t, "Checks passed for 01234567: https://example.com/build\n\n## Infrastructure\nnothing replaced", content)
		}},
		{"none", "", func(t *testing.T, content string) {
			assert.Equal(t, "Checks passed for 01234567: https://example.com/build", content)
		}},
		{"long", strings.Repeat("é", 20000), func(t *testing.T, content string) {
			assert.Equal(t, 10240, len([]rune(content)), "cut to the limit, in characters")
			assert.True(t, strings.HasSuffix(content, "[... cut to CodeCommit's comment limit: the whole text is in the build log]"))
			assert.True(t, strings.HasPrefix(content, "Checks passed for 01234567: https://example.com/build\n\néé"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			if c.body != "" {
				require.NoError(t, os.WriteFile(filepath.Join(src, "comment.md"), []byte(c.body), 0o644))
			}
			content := filepath.Join(t.TempDir(), "content")
			cmd := exec.Command("bash", "-c", string(script)+"\n(\n"+string(report)+")")
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "CALLS=" + filepath.Join(t.TempDir(), "calls"), "CONTENT=" + content,
				"CODEBUILD_BUILD_SUCCEEDING=1", "CODEBUILD_SRC_DIR=" + src, "COMMENT_FILE=comment.md", "FAKE_GET=OPEN\trev1",
				"PULL_REQUEST_ID=7", "REVISION_ID=rev1", "SOURCE_COMMIT=0123456789abcdef", "DESTINATION_COMMIT=fedcba9876543210",
				"REPOSITORY_NAME=sample-app", "CODEBUILD_BUILD_URL=https://example.com/build"}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			posted, err := os.ReadFile(content)
			require.NoError(t, err)
			c.want(t, string(posted))
		})
	}
}

// fakeAWS is a stand-in for the AWS CLI: it logs each call's subcommand and answers as the
// FAKE_GET, FAKE_APPROVE and FAKE_COMMENT variables say ("fail:<error text>" fails the call).
const fakeAWS = `#!/usr/bin/env bash
echo "$2 $*" >>"$CALLS"
answer() { case $1 in fail:*) echo "${1#fail:}" >&2; exit 254 ;; *) echo "$1" ;; esac; }
case $2 in
  get-pull-request) answer "$FAKE_GET" ;;
  update-pull-request-approval-state) answer "${FAKE_APPROVE:-}" ;;
  post-comment-for-pull-request) answer "${FAKE_COMMENT:-}" ;;
esac
`

// TestReport runs the post_build report against a stand-in AWS CLI in every outcome that matters:
// a stale or closed pull request is superseded and says nothing; every other error fails the build.
func TestReport(t *testing.T) {
	bin := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bin, "aws"), []byte(fakeAWS), 0o755))
	for _, c := range []struct {
		name       string
		succeeding string
		env        []string
		code       int
		calls      []string
		output     string
	}{
		{"passed", "1", []string{"FAKE_GET=OPEN\trev1"}, 0,
			[]string{"get-pull-request", "update-pull-request-approval-state", "post-comment-for-pull-request"}, "checks passed, approval APPROVE, comment posted"},
		{"failed", "0", []string{"FAKE_GET=OPEN\trev1"}, 0,
			[]string{"get-pull-request", "update-pull-request-approval-state", "post-comment-for-pull-request"}, "checks failed, approval REVOKE"},
		{"a newer revision", "1", []string{"FAKE_GET=OPEN\trev2"}, 0, []string{"get-pull-request"}, "revision rev2 replaced revision rev1, so this check's result (passed) is superseded"},
		{"closed", "1", []string{"FAKE_GET=MERGED\trev1"}, 0, []string{"get-pull-request"}, "it is MERGED"},
		{"a newer revision while approving", "1", []string{"FAKE_GET=OPEN\trev1", "FAKE_APPROVE=fail:An error occurred (RevisionNotCurrentException)"}, 0,
			[]string{"get-pull-request", "update-pull-request-approval-state"}, "a newer revision replaced revision rev1"},
		{"closed while commenting", "1", []string{"FAKE_GET=OPEN\trev1", "FAKE_COMMENT=fail:An error occurred (PullRequestAlreadyClosedException)"}, 0,
			[]string{"get-pull-request", "update-pull-request-approval-state", "post-comment-for-pull-request"}, "it was closed"},
		{"a comment denied", "1", []string{"FAKE_GET=OPEN\trev1", "FAKE_COMMENT=fail:An error occurred (AccessDeniedException)"}, 1,
			[]string{"get-pull-request", "update-pull-request-approval-state", "post-comment-for-pull-request"}, "commenting failed: An error occurred (AccessDeniedException)"},
		{"a throttled read", "1", []string{"FAKE_GET=fail:An error occurred (ThrottlingException)"}, 1,
			[]string{"get-pull-request"}, "reading the pull request failed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := filepath.Join(t.TempDir(), "calls")
			cmd := exec.Command("bash", "report.sh")
			cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "CALLS=" + calls, "CODEBUILD_BUILD_SUCCEEDING=" + c.succeeding,
				"PULL_REQUEST_ID=7", "REVISION_ID=rev1", "SOURCE_COMMIT=0123456789abcdef", "DESTINATION_COMMIT=fedcba9876543210",
				"REPOSITORY_NAME=sample-app", "CODEBUILD_BUILD_URL=https://example.com/build"}, c.env...)
			out, err := cmd.CombinedOutput()
			code := 0
			if exit, ok := err.(*exec.ExitError); ok {
				code = exit.ExitCode()
			}
			assert.Equal(t, c.code, code, string(out))
			assert.Contains(t, string(out), c.output)
			logged, _ := os.ReadFile(calls)
			var made []string
			for _, line := range strings.Split(strings.TrimSpace(string(logged)), "\n") {
				made = append(made, strings.Fields(line)[0])
			}
			assert.Equal(t, c.calls, made)
		})
	}
}
