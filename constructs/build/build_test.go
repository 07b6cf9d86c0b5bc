package build_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
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
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("BuildExample"), nil)
	b := build.New(stack, jsii.String("Build"), &build.Props{
		Variables:      map[string]string{"STAGE": "test"},
		ParameterStore: map[string]string{"API_URL": "/app/api-url"},
		SecretsManager: map[string]string{"DB_PASSWORD": "app/db:password"},
	})
	action := b.NewAction(awscodepipeline.NewArtifact(jsii.String("Source"), nil), awscodepipeline.NewArtifact(jsii.String("Build"), nil))
	template := assertions.Template_FromStack(stack, nil)
	template.HasResourceProperties(jsii.String("AWS::CodeBuild::Project"), map[string]any{"Environment": assertions.Match_ObjectLike(&map[string]any{
		"EnvironmentVariables": assertions.Match_ArrayWith(&[]any{map[string]any{"Name": "DB_PASSWORD", "Type": "SECRETS_MANAGER", "Value": "app/db:password"}}),
	})})
	fmt.Println(*action.ActionProperties().ActionName, *b.BuildURL())
	// Output: Build #{BuildVariables.BUILD_URL}
}

// TestNilProps: nil props give a project with its own key, logs and report group. It reads the
// repository's buildspec.yml: with no Source.BuildSpec, CodeBuild reads buildspec.yml at the root
// of the source artifact (CodeBuild's ProjectSource reference), the file the rehearsal runs; a
// BuildSpec would replace it with an inline buildspec or another path.
func TestNilProps(t *testing.T) {
	stack := cdktest.NewStack("NilProps")
	build.New(stack, jsii.String("Build"), nil)
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::CodeBuild::Project", map[string]any{"Source": map[string]any{"Type": "CODEPIPELINE", "BuildSpec": assertions.Match_Absent()}})
	s.Count(t, "AWS::CodeBuild::ReportGroup", 1)
	s.Has(t, "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": 365.0})
}

func TestDefaults(t *testing.T) {
	stack := cdktest.NewStack("Test")
	build.New(stack, jsii.String("Build"), &build.Props{SecretsManager: map[string]string{"TOKEN": "ci/token"}})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::CodeBuild::Project", map[string]any{
		"Cache":       map[string]any{"Type": "LOCAL", "Modes": []any{"LOCAL_SOURCE_CACHE", "LOCAL_CUSTOM_CACHE"}},
		"Environment": cdktest.ObjectLike(map[string]any{"PrivilegedMode": false, "EnvironmentVariables": cdktest.ArrayWith(assertions.Match_Exact(map[string]any{"Name": "TOKEN", "Type": "SECRETS_MANAGER", "Value": "ci/token"}))}),
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
