package pipeline_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
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

// TestGuardedStage: a window on entry, a bake watched by alarms on success, a rollback on failure,
// and the pipeline role's read access to the alarms the bake rules watch.
func TestGuardedStage(t *testing.T) {
	stack := cdktest.NewStack("Guarded")
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	source(p)
	metric := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String("App"), MetricName: jsii.String("Errors")})
	alarm := func(id string) awscloudwatch.IAlarm {
		return metric.CreateAlarm(stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1)})
	}
	p.AddGuardedStage("Prod", &pipeline.Safety{
		Window: jsii.String("cron(0 9-16 ? * MON-FRI *)"), TimeZone: jsii.String("Europe/Paris"),
		Bake: awscdk.Duration_Minutes(jsii.Number(15)), Alarms: []awscloudwatch.IAlarm{alarm("Errors"), alarm("Latency")},
		Rollback: true,
	}, awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Stand-in")}))
	p.AddGuardedStage("Unguarded", nil, awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Other")}))
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	rule := func(provider string, config map[string]any) any {
		return cdktest.ObjectLike(map[string]any{"RuleTypeId": cdktest.ObjectLike(map[string]any{"Provider": provider}), "Configuration": config})
	}
	s.Has(t, "AWS::CodePipeline::Pipeline", map[string]any{"Stages": cdktest.ArrayWith(cdktest.ObjectLike(map[string]any{
		"Name": "Prod",
		// EventBridge's 6-field form becomes the rule's own, which starts with seconds.
		"BeforeEntry": map[string]any{"Conditions": []any{map[string]any{"Result": "FAIL", "Rules": []any{
			rule("DeploymentWindow", map[string]any{"Cron": "* 0 9-16 ? * MON-FRI *", "TimeZone": "Europe/Paris"}),
		}}}},
		"OnSuccess": map[string]any{"Conditions": []any{map[string]any{"Result": "ROLLBACK", "Rules": []any{
			rule("CloudWatchAlarm", map[string]any{"AlarmName": cdktest.ObjectLike(map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Errors"))}), "WaitTime": "15"}),
			rule("CloudWatchAlarm", map[string]any{"AlarmName": cdktest.ObjectLike(map[string]any{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Latency"))}), "WaitTime": "15"}),
		}}}},
		"OnFailure": map[string]any{"Result": "ROLLBACK"},
	}))})
	var unguarded map[string]any
	for _, st := range s.Props("AWS::CodePipeline::Pipeline")["Stages"].([]any) {
		if stage := st.(map[string]any); stage["Name"] == "Unguarded" {
			unguarded = stage
		}
	}
	if assert.NotNil(t, unguarded, "the stage without safety") {
		assert.NotContains(t, unguarded, "BeforeEntry")
		assert.NotContains(t, unguarded, "OnSuccess")
		assert.NotContains(t, unguarded, "OnFailure")
	}
	s.Has(t, "AWS::IAM::Policy", map[string]any{"PolicyDocument": cdktest.ObjectLike(map[string]any{"Statement": cdktest.ArrayWith(cdktest.ObjectLike(map[string]any{
		"Action":   []any{"cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"},
		"Resource": []any{map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Errors")), "Arn"}}, map[string]any{"Fn::GetAtt": []any{assertions.Match_StringLikeRegexp(jsii.String("^Latency")), "Arn"}}},
	}))})})
}

// TestGuardedStageRejects: bad safety settings stop the program with one line naming the field.
func TestGuardedStageRejects(t *testing.T) {
	stack := cdktest.NewStack("Rejects")
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	alarm := awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("Alarm"), jsii.String("errors"))
	for name, tc := range map[string]struct {
		safety pipeline.Safety
		want   string
	}{
		"window": {pipeline.Safety{Window: jsii.String("0 9 * * *")}, "pipeline.AddGuardedStage S: Window: "},
		"zone":   {pipeline.Safety{Window: jsii.String("* * 9-16 ? * MON-FRI"), TimeZone: jsii.String("Mars/Olympus")}, "pipeline.AddGuardedStage S: TimeZone: "},
		"bake":   {pipeline.Safety{Bake: awscdk.Duration_Seconds(jsii.Number(90)), Alarms: []awscloudwatch.IAlarm{alarm}}, "pipeline.AddGuardedStage S: Bake is 90s; use whole minutes from 1 to 1440"},
		"alarms": {pipeline.Safety{Bake: awscdk.Duration_Minutes(jsii.Number(5)), Alarms: []awscloudwatch.IAlarm{alarm, alarm, alarm, alarm, alarm, alarm}}, "pipeline.AddGuardedStage S: 6 alarms; a condition holds at most 5 rules"},
	} {
		func() {
			defer func() {
				got := fmt.Sprint(recover())
				assert.Contains(t, got, tc.want, name)
				assert.NotContains(t, got, "\n", name+": one line")
			}()
			p.AddGuardedStage("S", &tc.safety)
		}()
	}
	// CodePipeline has no stage rollback in PARALLEL mode, so neither a rollback on failure nor a
	// bake, which rolls back too; a window is fine.
	parallel := pipeline.New(stack, jsii.String("Parallel"), &pipeline.Props{ExecutionMode: awscodepipeline.ExecutionMode_PARALLEL})
	for name, safety := range map[string]pipeline.Safety{
		"rollback": {Rollback: true},
		"bake":     {Bake: awscdk.Duration_Minutes(jsii.Number(5)), Alarms: []awscloudwatch.IAlarm{alarm}},
	} {
		assert.PanicsWithValue(t, "pipeline.AddGuardedStage P: Rollback and Bake roll the stage back, which a PARALLEL pipeline cannot do", func() {
			parallel.AddGuardedStage("P", &safety)
		}, name)
	}
	assert.NotPanics(t, func() { parallel.AddGuardedStage("W", &pipeline.Safety{Window: jsii.String("* * 9-16 ? * MON-FRI")}) })
}
