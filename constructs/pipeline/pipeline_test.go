package pipeline_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// source is a first stage: CodePipeline requires one.
func source(p *pipeline.Pipeline) {
	repo := awscodecommit.Repository_FromRepositoryName(p, jsii.String("Repo"), jsii.String("app"))
	p.Pipeline.AddStage(&awscodepipeline.StageOptions{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{
		awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
			ActionName: jsii.String("Source"), Repository: repo, Output: awscodepipeline.NewArtifact(jsii.String("Source"), nil),
		}),
	}})
}

func approve(name string) *awscodepipeline.StageOptions {
	return &awscodepipeline.StageOptions{StageName: jsii.String(name), Actions: &[]awscodepipeline.IAction{
		awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String(name)}),
	}}
}

// Example creates a queued V2 pipeline with the default artifact store; stages come from the
// other construct packages, here a source and an approval.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("PipelineExample"), nil)
	p := pipeline.New(stack, jsii.String("Pipeline"), &pipeline.Props{ExecutionMode: awscodepipeline.ExecutionMode_QUEUED})
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	p.AddStage("Source", awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"), Repository: repo, Output: awscodepipeline.NewArtifact(jsii.String("Source"), nil),
	}))
	p.AddStage("Approve", awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Approve")}))
	template := assertions.Template_FromStack(stack, nil)
	template.HasResourceProperties(jsii.String("AWS::CodePipeline::Pipeline"), map[string]any{"PipelineType": "V2", "ExecutionMode": "QUEUED"})
	fmt.Println(len(*template.FindResources(jsii.String("AWS::S3::Bucket"), nil)), "buckets: artifacts and their access logs")
	// Output: 2 buckets: artifacts and their access logs
}

// TestDefaults: nil props give the secure artifact store and a V2 pipeline.
func TestDefaults(t *testing.T) {
	stack := cdktest.NewStack("Test")
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	source(p)
	p.Pipeline.AddStage(approve("Approve"))
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::CodePipeline::Pipeline", map[string]any{"PipelineType": "V2", "ExecutionMode": "SUPERSEDED"})
	s.Has(t, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})
	s.Count(t, "AWS::S3::Bucket", 2)
}

func TestBringYourOwnBucket(t *testing.T) {
	stack := cdktest.NewStack("Own")
	bucket := awss3.Bucket_FromBucketName(stack, jsii.String("Existing"), jsii.String("my-artifacts"))
	p := pipeline.New(stack, jsii.String("Pipeline"), &pipeline.Props{ArtifactBucket: bucket})
	assert.Nil(t, p.AccessLogBucket)
	assert.Nil(t, p.ArtifactKey, "an imported bucket brings no key")
	source(p)
	p.Pipeline.AddStage(approve("Approve"))
	s := cdktest.Synth(t, stack)
	s.Count(t, "AWS::S3::Bucket", 0)
	s.Has(t, "AWS::CodePipeline::Pipeline", map[string]any{"ArtifactStore": map[string]any{"Type": "S3", "Location": "my-artifacts"}})
}
