package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

// TestBetaProdExample keeps the public API honest: examples/betaprod must compile, synthesize
// clean, and keep its shape. It runs as its documentation says, `go run ./examples/betaprod`, with
// cdk.json's context and no bundling: the go tool keeps the linked program in its build cache,
// where a test package of the example would link the CDK again on every run. The checks read the
// assembly in Go, so that no CDK call runs in this process.
func TestBetaProdExample(t *testing.T) {
	t.Parallel() // a subprocess: no CDK call in this process
	ctx := cdktest.Context()
	ctx["aws:cdk:bundling-stacks"] = []any{}
	b, err := json.Marshal(ctx)
	require.NoError(t, err)
	dir := cdktest.AssemblyDir()
	cmd := exec.Command("go", "run", "./examples/betaprod")
	cmd.Env = append(os.Environ(), "CDK_CONTEXT_JSON="+string(b), "CDK_OUTDIR="+dir)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go run ./examples/betaprod:\n%s", out)
	s := cdktest.Load(t, dir, "BetaProdPipeline")

	assert.Empty(t, s.NagErrors)
	pipeline := s.Props("AWS::CodePipeline::Pipeline")
	byName := map[string]map[string]any{}
	var stages []string
	for _, st := range pipeline["Stages"].([]any) {
		name := st.(map[string]any)["Name"].(string)
		stages = append(stages, name)
		byName[name] = st.(map[string]any)
	}
	assert.Equal(t, []string{"Source", "Build", "Beta", "Approve", "Prod"}, stages)
	assert.Equal(t, "QUEUED", pipeline["ExecutionMode"])
	assert.Empty(t, s.Resources("AWS::CodeCommit::Repository"), "an existing repository")
	source := byName["Source"]["Actions"].([]any)[0].(map[string]any)["Configuration"].(map[string]any)
	assert.Equal(t, "shop", source["RepositoryName"])
	for typ, n := range map[string]int{"AWS::CodeDeploy::Application": 1, "AWS::CodeDeploy::DeploymentGroup": 2, "AWS::EC2::VPC": 1, "AWS::AutoScaling::AutoScalingGroup": 2} {
		assert.Len(t, s.Resources(typ), n, typ)
	}
	assert.True(t, hasProps(s, "AWS::AutoScaling::AutoScalingGroup", map[string]any{"MinSize": "4", "MaxSize": "4"}), "the production fleet")
	assert.True(t, hasProps(s, "AWS::CodeDeploy::DeploymentGroup", map[string]any{"DeploymentConfigName": "CodeDeployDefault.HalfAtATime"}))
	assert.True(t, hasProps(s, "AWS::CloudWatch::Alarm", map[string]any{"MetricName": "CPUUtilization", "Threshold": 90.0}), "the program's own alarm")
	// Both deploy stages roll back on failure and bake with their fleet's alarms; prod waits for
	// office hours and also watches the program's own alarm.
	for _, name := range []string{"Beta", "Prod"} {
		assert.Equal(t, map[string]any{"Result": "ROLLBACK"}, byName[name]["OnFailure"], name)
		assert.Contains(t, byName[name], "OnSuccess", name)
	}
	assert.NotContains(t, byName["Beta"], "BeforeEntry")
	assert.Contains(t, s.Text(), `"Cron":"* * 9-16 ? * MON-FRI *","TimeZone":"Europe/Paris"`)
	rules := byName["Prod"]["OnSuccess"].(map[string]any)["Conditions"].([]any)[0].(map[string]any)["Rules"].([]any)
	assert.Len(t, rules, 3, "the fleet's two alarms and ProdHot")
	for _, p := range s.Resources("AWS::CodePipeline::Pipeline") {
		for id := range s.Resources("AWS::AutoScaling::AutoScalingGroup") {
			assert.Contains(t, p["DependsOn"], id, "the first execution waits for both fleets' agents")
		}
	}
}

// hasProps reports whether some resource of type typ has each of props' keys with its value.
func hasProps(s *cdktest.Synthesized, typ string, props map[string]any) bool {
	for _, r := range s.Resources(typ) {
		got, _ := r["Properties"].(map[string]any)
		match := true
		for k, v := range props {
			if !assert.ObjectsAreEqual(v, got[k]) {
				match = false
			}
		}
		if match {
			return true
		}
	}
	return false
}
