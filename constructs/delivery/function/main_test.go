package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lambdaEnvironment sets what Lambda gives the function, and none of the machine's AWS settings
// (a CA bundle, profiles, shared config files).
func lambdaEnvironment(t testing.TB) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"PIPELINE": "CicdPipeline-Pipeline", "STAGES": "Deploy-beta,Deploy-prod", "TABLE": "state", "NAMESPACE": "ns",
		"ALARMS": `{"Deploy-prod":["ServerErrors"]}`, "REPOSITORY": "sample-app",
	} {
		t.Setenv(k, v)
	}
}

// TestSetup: the start-up reads the stack's settings and names every one that is missing.
func TestSetup(t *testing.T) {
	lambdaEnvironment(t)
	h, err := setup(context.Background())
	require.NoError(t, err)
	assert.NotNil(t, h)
	t.Setenv("TABLE", "")
	t.Setenv("STAGES", "")
	_, err = setup(context.Background())
	assert.EqualError(t, err, "STAGES, TABLE not set")
	t.Setenv("TABLE", "state")
	t.Setenv("STAGES", "Deploy")
	t.Setenv("ALARMS", `["ServerErrors"]`)
	_, err = setup(context.Background())
	assert.ErrorContains(t, err, "ALARMS is not a JSON object of stage to alarm names")
}

// BenchmarkSetup is the function's start-up in an execution environment, after the process
// started: the AWS configuration from Lambda's environment, the DynamoDB client, the handler.
// docs/performance.md keeps its result.
func BenchmarkSetup(b *testing.B) {
	lambdaEnvironment(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := setup(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
