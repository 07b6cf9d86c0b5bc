package delivery_test

import (
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/delivery"
	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

type obj = map[string]any

// pipelineIn makes a pipeline with a source and two approval stages standing in for deploys.
func pipelineIn(stack awscdk.Stack) awscodepipeline.Pipeline {
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	p.AddStage("Source", awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"), Repository: repo, Output: awscodepipeline.NewArtifact(jsii.String("Source"), nil),
	}))
	for _, name := range []string{"Deploy-beta", "Deploy-prod"} {
		p.AddStage(name, awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Stand-in")}))
	}
	return p.Pipeline
}

// Example measures a pipeline's two environments and alarms when a production deploy fails.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("DeliveryExample"), nil)
	p := pipelineIn(stack)
	d := delivery.New(stack, jsii.String("Delivery"), &delivery.Props{Pipeline: p, Stages: []string{"Deploy-beta", "Deploy-prod"}})
	d.Metric(delivery.FailedDeployments, "Deploy-prod", &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum")}).
		CreateAlarm(stack, jsii.String("ProdDeployFailed"), &awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1)})
	awscdk.NewCfnOutput(stack, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{Value: d.DashboardURL()})
	template := assertions.Template_FromStack(stack, nil)
	for _, typ := range []string{"AWS::CloudWatch::Dashboard", "AWS::DynamoDB::Table", "AWS::Lambda::Function"} {
		fmt.Println(typ, len(*template.FindResources(jsii.String(typ), nil)))
	}
	feeds := template.FindResources(jsii.String("AWS::Events::Rule"), map[string]any{"Properties": map[string]any{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("for the delivery metrics")),
	}})
	fmt.Println("rules feeding the function:", len(*feeds))
	// Output:
	// AWS::CloudWatch::Dashboard 1
	// AWS::DynamoDB::Table 1
	// AWS::Lambda::Function 1
	// rules feeding the function: 3
}

// TestDefaults: the state table is encrypted with its own key and recoverable; the function is a
// Go binary on the OS-only runtime that may read and write that table only; the three rules feed
// it what it reads, with retries and a dead-letter queue; the dashboard has the four measures of
// each environment.
func TestDefaults(t *testing.T) {
	stack := cdktest.NewStack("Delivery")
	p := pipelineIn(stack)
	d := delivery.New(stack, jsii.String("Delivery"), &delivery.Props{Pipeline: p, Stages: []string{"Deploy-beta", "Deploy-prod"}})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)

	s.Has(t, "AWS::DynamoDB::Table", obj{
		"BillingMode": "PAY_PER_REQUEST", "KeySchema": []any{obj{"AttributeName": "pk", "KeyType": "HASH"}},
		"SSESpecification":                 obj{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": cdktest.Obj(obj{"Fn::GetAtt": cdktest.Arr("Arn")})},
		"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
	})
	s.Has(t, "AWS::Lambda::Function", obj{
		"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
		"Environment": obj{"Variables": cdktest.Obj(obj{"STAGES": "Deploy-beta,Deploy-prod", "NAMESPACE": "CdkPipeline/Delivery"})},
	})
	s.Has(t, "AWS::Lambda::EventInvokeConfig", obj{"MaximumRetryAttempts": 2, "DestinationConfig": cdktest.Obj(obj{"OnFailure": assertions.Match_AnyValue()})})
	s.Has(t, "AWS::IAM::Policy", obj{"PolicyDocument": cdktest.Obj(obj{"Statement": cdktest.Arr(cdktest.Obj(obj{
		"Action": []any{"dynamodb:GetItem", "dynamodb:PutItem"},
	}))})})
	assert.NotContains(t, s.Text(), "dynamodb:Scan", "no more than the two calls")

	rule := func(detailType string, detail obj) {
		s.Has(t, "AWS::Events::Rule", obj{
			"EventPattern": obj{"source": []any{"aws.codepipeline"}, "detail-type": []any{detailType}, "detail": detail},
			"Targets": cdktest.Arr(cdktest.Obj(obj{
				"RetryPolicy": obj{"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}, "DeadLetterConfig": assertions.Match_AnyValue(),
			})),
		})
	}
	pipeline := []any{obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Pipeline"))}}
	rule("CodePipeline Pipeline Execution State Change", obj{"pipeline": pipeline})
	rule("CodePipeline Stage Execution State Change", obj{"pipeline": pipeline, "stage": []any{"Deploy-beta", "Deploy-prod"}, "state": []any{"SUCCEEDED", "FAILED"}})
	rule("CodePipeline Action Execution State Change", obj{"pipeline": pipeline, "type": obj{"category": []any{"Source"}}, "state": []any{"SUCCEEDED"}})

	s.Has(t, "AWS::CloudWatch::Dashboard", obj{})
	body := s.Text()
	for _, want := range []string{
		`\"Deployments\"`, `\"FailedDeployments\"`, `\"LeadTime\"`, `\"TimeToRestore\"`, `100 * FILL(f, 0) / d, 0)`,
		`d / (PERIOD(d) / 86400)`, `Deploy-prod: lead time for changes`, `\"stat\":\"p90\"`, `\"setPeriodToTimeRange\":true`,
	} {
		assert.Contains(t, body, want)
	}
	s.Has(t, "AWS::CloudWatch::Dashboard", obj{"DashboardBody": assertions.Match_AnyValue()})
	assert.Contains(t, *d.DashboardURL(), "#dashboards/dashboard/")
}

// TestRequiredProps: a missing prop stops with one line that names it.
func TestRequiredProps(t *testing.T) {
	stack := cdktest.NewStack("Required")
	assert.PanicsWithValue(t, "delivery.New: props.Pipeline is required", func() { delivery.New(stack, jsii.String("A"), nil) })
	p := pipelineIn(stack)
	assert.PanicsWithValue(t, "delivery.New: props.Stages is required", func() { delivery.New(stack, jsii.String("B"), &delivery.Props{Pipeline: p}) })
}
