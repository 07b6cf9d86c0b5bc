package delivery_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodedeploy"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/delivery"
	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

type obj = map[string]any

// Example measures a pipeline's two environments, with prod's alarm as its incident signal, and
// alarms when a production deployment fails.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("DeliveryExample"), nil)

	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	p.AddStage("Source", awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"), Repository: repo, Output: source,
	}))
	for _, env := range []string{"beta", "prod"} {
		group := awscodedeploy.ServerDeploymentGroup_FromServerDeploymentGroupAttributes(stack, jsii.String("Group-"+env),
			&awscodedeploy.ServerDeploymentGroupAttributes{
				Application:         awscodedeploy.ServerApplication_FromServerApplicationName(stack, jsii.String("App-"+env), jsii.String("app-"+env)),
				DeploymentGroupName: jsii.String("app-" + env),
			})
		p.AddStage("Deploy-"+env, awscodepipelineactions.NewCodeDeployServerDeployAction(&awscodepipelineactions.CodeDeployServerDeployActionProps{
			ActionName: jsii.String("Deploy"), DeploymentGroup: group, Input: source,
		}))
	}
	errors := awscloudwatch.NewAlarm(stack, jsii.String("ProdErrors"), &awscloudwatch.AlarmProps{
		Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace: jsii.String("AWS/ApplicationELB"), MetricName: jsii.String("HTTPCode_Target_5XX_Count"), Statistic: jsii.String("Sum"),
		}),
		Threshold: jsii.Number(5), EvaluationPeriods: jsii.Number(1),
	})

	d := delivery.New(stack, jsii.String("Delivery"), &delivery.Props{
		Pipeline: p.Pipeline, Stages: []string{"Deploy-beta", "Deploy-prod"}, Repository: repo,
		Alarms: map[string][]awscloudwatch.IAlarm{"Deploy-prod": {errors}},
	})
	d.Metric(delivery.FailedDeployments, "Deploy-prod", &awscloudwatch.MetricOptions{Statistic: jsii.String("Sum")}).
		CreateAlarm(stack, jsii.String("ProdDeployFailed"), &awscloudwatch.CreateAlarmOptions{Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1)})
	awscdk.NewCfnOutput(stack, jsii.String("DashboardUrl"), &awscdk.CfnOutputProps{Value: d.DashboardURL()})

	template := assertions.Template_FromStack(stack, nil)
	for _, typ := range []string{"AWS::CloudWatch::Dashboard", "AWS::DynamoDB::Table", "AWS::Events::Archive", "AWS::Lambda::Function"} {
		fmt.Println(typ, len(*template.FindResources(jsii.String(typ), nil)))
	}
	feeds := template.FindResources(jsii.String("AWS::Events::Rule"), map[string]any{"Properties": map[string]any{
		"Description": assertions.Match_StringLikeRegexp(jsii.String("for the delivery metrics")),
	}})
	fmt.Println("rules feeding the function:", len(*feeds))
	// Output:
	// AWS::CloudWatch::Dashboard 1
	// AWS::DynamoDB::Table 1
	// AWS::Events::Archive 1
	// AWS::Lambda::Function 1
	// rules feeding the function: 5
}

// pipelineIn makes a pipeline with a source and two deploy stages, and the environments' alarms.
func pipelineIn(stack awscdk.Stack) (awscodepipeline.Pipeline, awscodecommit.IRepository, map[string][]awscloudwatch.IAlarm) {
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("app"))
	source := awscodepipeline.NewArtifact(jsii.String("Source"), nil)
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	p.AddStage("Source", awscodepipelineactions.NewCodeCommitSourceAction(&awscodepipelineactions.CodeCommitSourceActionProps{
		ActionName: jsii.String("Source"), Repository: repo, Output: source,
	}))
	alarms := map[string][]awscloudwatch.IAlarm{}
	for _, env := range []string{"beta", "prod"} {
		group := awscodedeploy.ServerDeploymentGroup_FromServerDeploymentGroupAttributes(stack, jsii.String("Group-"+env),
			&awscodedeploy.ServerDeploymentGroupAttributes{
				Application:         awscodedeploy.ServerApplication_FromServerApplicationName(stack, jsii.String("App-"+env), jsii.String("app-"+env)),
				DeploymentGroupName: jsii.String("app-" + env),
			})
		p.AddStage("Deploy-"+env, awscodepipelineactions.NewCodeDeployServerDeployAction(&awscodepipelineactions.CodeDeployServerDeployActionProps{
			ActionName: jsii.String("Deploy"), DeploymentGroup: group, Input: source,
		}))
		alarms["Deploy-"+env] = []awscloudwatch.IAlarm{awscloudwatch.Alarm_FromAlarmName(stack, jsii.String("Errors-"+env), jsii.String(env+"-errors"))}
	}
	p.AddStage("Approve", awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Approve")}))
	return p.Pipeline, repo, alarms
}

// TestDefaults: the state table is encrypted with its own key and recoverable; the function is a
// Go binary on the OS-only runtime that may read and write that table and read the repository's
// commits, nothing more; the rules feed it what it reads, with retries and a dead-letter queue;
// the archive keeps the pipeline's and the alarms' events 400 days; the dashboard has the five
// measures of each environment.
func TestDefaults(t *testing.T) {
	stack := cdktest.NewStack("Delivery")
	p, repo, alarms := pipelineIn(stack)
	d := delivery.New(stack, jsii.String("Delivery"), &delivery.Props{Pipeline: p, Stages: []string{"Deploy-beta", "Deploy-prod"}, Repository: repo, Alarms: alarms})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)

	s.Has(t, "AWS::DynamoDB::Table", obj{
		"BillingMode": "PAY_PER_REQUEST", "KeySchema": []any{obj{"AttributeName": "pk", "KeyType": "HASH"}},
		"SSESpecification":                 obj{"SSEEnabled": true, "SSEType": "KMS", "KMSMasterKeyId": cdktest.ObjectLike(obj{"Fn::GetAtt": cdktest.ArrayWith("Arn")})},
		"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
	})
	s.Has(t, "AWS::Lambda::Function", obj{
		"Runtime": "provided.al2023", "Architectures": []any{"arm64"}, "Handler": "bootstrap",
		"Environment": obj{"Variables": cdktest.ObjectLike(obj{
			"STAGES": "Deploy-beta,Deploy-prod", "NAMESPACE": "CdkPipeline/Delivery", "REPOSITORY": "app",
			"ALARMS": `{"Deploy-beta":["beta-errors"],"Deploy-prod":["prod-errors"]}`,
		})},
	})
	s.Has(t, "AWS::Lambda::EventInvokeConfig", obj{"MaximumRetryAttempts": 2, "DestinationConfig": cdktest.ObjectLike(obj{"OnFailure": assertions.Match_AnyValue()})})

	// Every permission of the function's role, exactly, by intent: writing its logs and its
	// dead letters (gofunc), reading and writing its state, the key that encrypts it, and reading
	// the commits of the repository it measures (GetCommit only: no code, no other repository).
	assert.Equal(t, []string{
		`{"Action":["logs:CreateLogStream","logs:PutLogEvents"],"Effect":"Allow","Resource":{"Fn::GetAtt":["DeliveryLogsE7964E8F","Arn"]}}`,
		`{"Action":["sqs:GetQueueAttributes","sqs:GetQueueUrl","sqs:SendMessage"],"Effect":"Allow","Resource":{"Fn::GetAtt":["DeliveryDeadLettersA8B3558F","Arn"]}}`,
		`{"Action":["dynamodb:GetItem","dynamodb:PutItem"],"Effect":"Allow","Resource":{"Fn::GetAtt":["DeliveryStateC533DCCE","Arn"]}}`,
		`{"Action":["kms:Decrypt","kms:DescribeKey","kms:Encrypt","kms:GenerateDataKey*","kms:ReEncrypt*"],"Effect":"Allow","Resource":{"Fn::GetAtt":["DeliveryKey9B966447","Arn"]}}`,
		`{"Action":"codecommit:GetCommit","Effect":"Allow","Resource":{"Fn::Join":["",["arn:",{"Ref":"AWS::Partition"},":codecommit:",{"Ref":"AWS::Region"},":",{"Ref":"AWS::AccountId"},":app"]]}}`,
	}, functionStatements(s))
	s.Count(t, "AWS::IAM::ManagedPolicy", 0)

	rule := func(source, detailType string, detail obj) {
		s.Has(t, "AWS::Events::Rule", obj{
			"EventPattern": obj{"source": []any{source}, "detail-type": []any{detailType}, "detail": detail},
			"Targets": cdktest.ArrayWith(cdktest.ObjectLike(obj{
				"RetryPolicy": obj{"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}, "DeadLetterConfig": assertions.Match_AnyValue(),
			})),
		})
	}
	pipeline := []any{obj{"Ref": assertions.Match_StringLikeRegexp(jsii.String("^Pipeline"))}}
	deploys := []any{"Deploy-beta", "Deploy-prod"}
	rule("aws.codepipeline", "CodePipeline Pipeline Execution State Change", obj{"pipeline": pipeline, "state": []any{"STARTED"}})
	rule("aws.codepipeline", "CodePipeline Stage Execution State Change", obj{"pipeline": pipeline, "stage": deploys, "state": []any{"STARTED", "SUCCEEDED", "FAILED"}})
	rule("aws.codepipeline", "CodePipeline Action Execution State Change", obj{"pipeline": pipeline, "type": obj{"category": []any{"Source"}}, "state": []any{"SUCCEEDED"}})
	rule("aws.codepipeline", "CodePipeline Action Execution State Change", obj{"pipeline": pipeline, "stage": deploys, "type": obj{"category": []any{"Deploy"}}, "state": []any{"SUCCEEDED", "FAILED"}})
	rule("aws.cloudwatch", "CloudWatch Alarm State Change", obj{"alarmName": []any{"beta-errors", "prod-errors"}})

	s.Has(t, "AWS::Events::Archive", obj{
		"RetentionDays": 400,
		"SourceArn":     obj{"Fn::Join": cdktest.ArrayWith(cdktest.ArrayWith(":event-bus/default"))},
		"EventPattern": obj{
			"source":      []any{"aws.codepipeline", "aws.cloudwatch"},
			"detail-type": []any{"CodePipeline Pipeline Execution State Change", "CodePipeline Stage Execution State Change", "CodePipeline Action Execution State Change", "CloudWatch Alarm State Change"},
			"resources":   cdktest.ArrayWith(obj{"Fn::Join": cdktest.ArrayWith(cdktest.ArrayWith(":alarm:prod-errors"))}),
		},
	})
	require.NotNil(t, d.Archive)

	body := s.Text()
	for _, want := range []string{
		`\"Deployments\"`, `\"DeploymentDays\"`, `\"FailedAttempts\"`, `\"FailedDeployments\"`, `\"ReworkDeployments\"`,
		`\"LeadTime\"`, `\"PipelineLeadTime\"`, `\"FailedDeploymentRecoveryTime\"`,
		`Deploy-prod: deployment frequency`, `Deploy-prod: change lead time`, `Deploy-prod: change failure and rework rates`,
		`Deploy-prod: failed deployment recovery time`, `deployment days per week`, `nw / (PERIOD(nw) / 604800)`,
		`deploy success rate (%)`, `rework rate (%)`, `\"stat\":\"p90\"`, `\"setPeriodToTimeRange\":true`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "time to restore", "DORA's name is failed deployment recovery time")
	assert.Contains(t, *d.DashboardURL(), "#dashboards/dashboard/")
}

// TestOptions: no repository reads no commits; no alarms make no alarm rule; a zero retention keeps
// no archive.
func TestOptions(t *testing.T) {
	stack := cdktest.NewStack("Options")
	p, _, _ := pipelineIn(stack)
	d := delivery.New(stack, jsii.String("Delivery"), &delivery.Props{Pipeline: p, Stages: []string{"Deploy-prod"}, ArchiveRetention: awscdk.Duration_Days(jsii.Number(0))})
	s := cdktest.Synth(t, stack)
	assert.Nil(t, d.Archive)
	s.Count(t, "AWS::Events::Archive", 0)
	assert.NotContains(t, strings.Join(functionStatements(s), " "), "codecommit:")
	assert.NotContains(t, s.Text(), "aws.cloudwatch")
	assert.NotContains(t, s.Text(), `"ALARMS"`)
}

// TestRequiredProps: missing props stop with one line that names them.
func TestRequiredProps(t *testing.T) {
	stack := cdktest.NewStack("Required")
	assert.PanicsWithValue(t, "delivery.New: props.Pipeline and props.Stages are required", func() { delivery.New(stack, jsii.String("A"), nil) })
	p, _, _ := pipelineIn(stack)
	assert.PanicsWithValue(t, "delivery.New: props.Stages is required", func() { delivery.New(stack, jsii.String("B"), &delivery.Props{Pipeline: p}) })
	assert.PanicsWithValue(t, "delivery.New: props.Pipeline is required", func() { delivery.New(stack, jsii.String("C"), &delivery.Props{Stages: []string{"Deploy"}}) })
}

// TestStagesAreChecked: a stage that is not the pipeline's, one without a deploy action, alarms of
// a stage not measured and an alarm of another region fail the synthesis, each with a line.
func TestStagesAreChecked(t *testing.T) {
	app := cdktest.NewApp()
	stack := awscdk.NewStack(app, jsii.String("Checked"), &awscdk.StackProps{Env: &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String("eu-west-1")}})
	p, _, _ := pipelineIn(stack)
	elsewhere := awscloudwatch.Alarm_FromAlarmArn(stack, jsii.String("Elsewhere"), jsii.String("arn:aws:cloudwatch:us-east-1:"+cdktest.Account+":alarm:dr-errors"))
	delivery.New(stack, jsii.String("Delivery"), &delivery.Props{Pipeline: p, Stages: []string{"Deploy-prd", "Approve", "Deploy-beta"},
		Alarms: map[string][]awscloudwatch.IAlarm{"Deploy-beta": {elsewhere}, "Deploy-dr": {elsewhere}}})
	var failure string
	func() {
		defer func() { failure = fmt.Sprint(recover()) }()
		app.Synth(nil)
	}()
	for _, want := range []string{
		`delivery: Stages: "Deploy-prd" is not a stage of the pipeline, whose stages are Source, Deploy-beta, Deploy-prod, Approve; did you mean "Deploy-prod"?`,
		`delivery: Stages: stage "Approve" has no deploy action, so it would never count a deployment`,
		`delivery: Alarms: "Deploy-dr" is not one of Stages (Deploy-prd, Approve, Deploy-beta)`,
		`delivery: Alarms: an alarm of Deploy-beta is in ` + cdktest.Account + ` us-east-1; EventBridge delivers its state changes there, not to this stack's ` + cdktest.Account + ` eu-west-1`,
	} {
		assert.Contains(t, failure, want)
	}
}

// functionStatements are the statements of the function role's policy, as JSON.
func functionStatements(s *cdktest.Synthesized) []string {
	var statements []string
	for id, policy := range s.Resources("AWS::IAM::Policy") {
		if !strings.HasPrefix(id, "DeliveryFunction") {
			continue
		}
		for _, st := range policy["Properties"].(obj)["PolicyDocument"].(obj)["Statement"].([]any) {
			statements = append(statements, toJSON(st))
		}
	}
	return statements
}

func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
