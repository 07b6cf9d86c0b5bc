package pullrequest_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
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
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("shop"))
	pullrequest.New(stack, jsii.String("Checks"), &pullrequest.Props{
		Repository: repo,
		Branch:     jsii.String("release"),
		Commands:   []string{"make lint", "make test"},
	})
	fmt.Println(cdktest.Count(stack, "AWS::CodeBuild::Project", "AWS::Events::Rule", "Custom::AWS"))
	// Output:
	// AWS::CodeBuild::Project: 1
	// AWS::Events::Rule: 1
	// Custom::AWS: 2
}

func TestNagCleanOnItsOwn(t *testing.T) {
	stack := cdktest.NewStack("Test")
	repo := awscodecommit.NewRepository(stack, jsii.String("Repo"), &awscodecommit.RepositoryProps{RepositoryName: jsii.String("app")})
	pullrequest.New(stack, jsii.String("Checks"), &pullrequest.Props{Repository: repo})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	assert.Contains(t, s.Text(), `go vet ./...`)
}

func TestNeedsARepository(t *testing.T) {
	assert.PanicsWithValue(t, "pullrequest: New needs a Repository", func() { pullrequest.New(cdktest.NewStack("T"), jsii.String("C"), nil) })
}
