package source_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/constructs/source"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example creates a repository seeded from a folder, and a pipeline that follows its main branch.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("SourceExample"), nil)
	src := source.New(stack, jsii.String("Source"), &source.Props{SeedDirectory: jsii.String("../../sample-app")})
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	p.AddStage("Source", src.Action)
	p.AddStage("Approve", awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Approve")}))
	template := assertions.Template_FromStack(stack, nil)
	template.HasResourceProperties(jsii.String("AWS::CodeCommit::Repository"), map[string]any{"Code": assertions.Match_ObjectLike(&map[string]any{"BranchName": "main"})})
	fmt.Println(*src.Branch, *src.CommitID())
	// Output: main #{SourceVariables.CommitId}
}

// Example_existingRepository follows a branch of a repository the stack does not own.
func Example_existingRepository() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("ExistingRepositoryExample"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("legacy"))
	src := source.New(stack, jsii.String("Source"), &source.Props{Repository: repo, Branch: jsii.String("release")})
	fmt.Println(*src.Repository.RepositoryName(), *src.Branch)
	// Output: legacy release
}

// TestNilProps: a new, empty repository named sample-app, retained, and names checked as the
// settings check them.
func TestNilProps(t *testing.T) {
	assert.PanicsWithValue(t, `source.New: props.RepositoryName: "my app" is not a CodeCommit repository name: use 1-100 letters, digits, '.', '_' or '-', not ending in .git`, func() {
		source.New(cdktest.NewStack("Bad"), jsii.String("Source"), &source.Props{RepositoryName: jsii.String("my app")})
	})
}

func TestNewRepositoryIsRetainedAndUnseededByDefault(t *testing.T) {
	stack := cdktest.NewStack("Test")
	src := source.New(stack, jsii.String("Source"), nil)
	withPipeline(stack, src)
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.HasResource(t, "AWS::CodeCommit::Repository", map[string]any{"DeletionPolicy": "Retain", "Properties": map[string]any{"RepositoryName": "sample-app"}})
	assert.NotContains(t, s.Props("AWS::CodeCommit::Repository"), "Code")
	s.Has(t, "AWS::Events::Rule", map[string]any{"EventPattern": cdktest.Obj(map[string]any{"detail": cdktest.Obj(map[string]any{"referenceName": []any{"main"}})})})
}

// withPipeline puts src in a minimal valid pipeline (CodePipeline needs two stages), with the
// secure artifact store of package pipeline.
func withPipeline(stack awscdk.Stack, src *source.Source) {
	p := pipeline.New(stack, jsii.String("Pipeline"), nil).Pipeline
	p.AddStage(&awscodepipeline.StageOptions{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{src.Action}})
	p.AddStage(&awscodepipeline.StageOptions{StageName: jsii.String("Approve"), Actions: &[]awscodepipeline.IAction{
		awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Approve")}),
	}})
}
