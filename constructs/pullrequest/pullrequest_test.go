package pullrequest_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

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
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	assert.Contains(t, s.Text(), `go vet ./...`)
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
