package build_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/constructs/build"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example builds with a database password from Secrets Manager and a parameter from SSM: the
// project is granted read access to both, and neither value enters the template.
func Example() {
	stack := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Example"), nil)
	b := build.New(stack, jsii.String("Build"), &build.Props{
		Variables:      map[string]string{"STAGE": "test"},
		ParameterStore: map[string]string{"API_URL": "/app/api-url"},
		SecretsManager: map[string]string{"DB_PASSWORD": "app/db:password"},
	})
	action := b.NewAction(awscodepipeline.NewArtifact(jsii.String("Source"), nil), awscodepipeline.NewArtifact(jsii.String("Build"), nil))
	fmt.Println(*action.ActionProperties().ActionName, *b.BuildURL())
	fmt.Println(cdktest.Count(stack, "AWS::CodeBuild::Project", "AWS::CodeBuild::ReportGroup", "AWS::KMS::Key"))
	// Output:
	// Build #{BuildVariables.BUILD_URL}
	// AWS::CodeBuild::Project: 1
	// AWS::CodeBuild::ReportGroup: 1
	// AWS::KMS::Key: 1
}

func TestDefaults(t *testing.T) {
	stack := cdktest.NewStack("Test")
	build.New(stack, jsii.String("Build"), &build.Props{SecretsManager: map[string]string{"TOKEN": "ci/token"}})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::CodeBuild::Project", map[string]any{
		"Cache":       map[string]any{"Type": "LOCAL", "Modes": []any{"LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE"}},
		"Environment": cdktest.Obj(map[string]any{"PrivilegedMode": false, "EnvironmentVariables": cdktest.Arr(map[string]any{"Name": "TOKEN", "Type": "SECRETS_MANAGER", "Value": "ci/token"})}),
	})
	s.Has(t, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})
	assert.Contains(t, toJSON(s.Resources("AWS::IAM::Policy")), `"secretsmanager:GetSecretValue"`, "the project may read the secret")
	assert.Contains(t, toJSON(s.Resources("AWS::IAM::Policy")), `:secret:ci/token-??????`, "and only that secret")
}

func TestPlaintextSecretsAreRefused(t *testing.T) {
	for _, name := range []string{"DB_PASSWORD", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "api_secret"} {
		assert.PanicsWithValue(t, "build: variable "+name+" looks like a secret; pass it through ParameterStore or SecretsManager, never as plaintext", func() {
			build.New(cdktest.NewStack("Refused"), jsii.String("Build"), &build.Props{Variables: map[string]string{name: "hunter2"}})
		})
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
