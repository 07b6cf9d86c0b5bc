package main

import (
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// TestBetaThenProd keeps the public API honest: this program must compile, synthesize clean, and
// keep its shape.
func TestBetaThenProd(t *testing.T) {
	s := cdktest.Synth(t, NewStack(cdktest.NewApp(), jsii.String("BetaProd")))
	assert.Empty(t, s.NagErrors)
	var stages []string
	for _, st := range s.Props("AWS::CodePipeline::Pipeline")["Stages"].([]any) {
		stages = append(stages, st.(map[string]any)["Name"].(string))
	}
	assert.Equal(t, []string{"Source", "Build", "Beta", "Approve", "Prod"}, stages)
	s.Count(t, "AWS::CodeCommit::Repository", 0)
	s.Has(t, "AWS::CodePipeline::Pipeline", map[string]any{"Stages": cdktest.ArrayWith(cdktest.ObjectLike(map[string]any{"Name": "Source", "Actions": cdktest.ArrayWith(cdktest.ObjectLike(map[string]any{
		"Configuration": cdktest.ObjectLike(map[string]any{"RepositoryName": "shop"}),
	}))}))})
	s.Count(t, "AWS::CodeDeploy::Application", 1)
	s.Count(t, "AWS::CodeDeploy::DeploymentGroup", 2)
	s.Count(t, "AWS::EC2::VPC", 1)
	s.Count(t, "AWS::AutoScaling::AutoScalingGroup", 2)
	s.Has(t, "AWS::AutoScaling::AutoScalingGroup", map[string]any{"MinSize": "4", "MaxSize": "4"})
	s.Has(t, "AWS::CodeDeploy::DeploymentGroup", map[string]any{"DeploymentConfigName": "CodeDeployDefault.HalfAtATime"})
	s.Has(t, "AWS::CodePipeline::Pipeline", map[string]any{"ExecutionMode": "QUEUED"})
	// Both deploy stages roll back on failure and bake with their fleet's alarms; prod waits for
	// office hours and also watches the program's own alarm.
	byName := map[string]map[string]any{}
	for _, st := range s.Props("AWS::CodePipeline::Pipeline")["Stages"].([]any) {
		byName[st.(map[string]any)["Name"].(string)] = st.(map[string]any)
	}
	for _, name := range []string{"Beta", "Prod"} {
		assert.Equal(t, map[string]any{"Result": "ROLLBACK"}, byName[name]["OnFailure"], name)
		assert.Contains(t, byName[name], "OnSuccess", name)
	}
	assert.NotContains(t, byName["Beta"], "BeforeEntry")
	assert.Contains(t, s.Text(), `"Cron":"* * 9-16 ? * MON-FRI *","TimeZone":"Europe/Paris"`)
	rules := byName["Prod"]["OnSuccess"].(map[string]any)["Conditions"].([]any)[0].(map[string]any)["Rules"].([]any)
	assert.Len(t, rules, 3, "the fleet's two alarms and ProdHot")
	s.Has(t, "AWS::CloudWatch::Alarm", map[string]any{"MetricName": "CPUUtilization", "Threshold": 90})
	for _, p := range s.Resources("AWS::CodePipeline::Pipeline") {
		for id := range s.Resources("AWS::AutoScaling::AutoScalingGroup") {
			assert.Contains(t, p["DependsOn"], id, "the first execution waits for both fleets' agents")
		}
	}
}
