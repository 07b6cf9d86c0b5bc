package source_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
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

// Example creates a repository seeded from a folder and a pipeline that follows its main branch.
func Example() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	src := source.New(stack, jsii.String("Source"), &source.Props{SeedDirectory: jsii.String("../../sample-app")})
	withPipeline(stack, src)
	fmt.Println(*src.Branch, *src.Namespace)
	fmt.Println(cdktest.Count(stack, "AWS::CodeCommit::Repository", "AWS::Events::Rule"))
	// Output:
	// main SourceVariables
	// AWS::CodeCommit::Repository: 1
	// AWS::Events::Rule: 1
}

// Example_existingRepository follows a branch of a repository the stack does not own.
func Example_existingRepository() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("legacy"))
	src := source.New(stack, jsii.String("Source"), &source.Props{Repository: repo, Branch: jsii.String("release")})
	fmt.Println(*src.Repository.RepositoryName(), *src.Branch)
	// Output: legacy release
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
