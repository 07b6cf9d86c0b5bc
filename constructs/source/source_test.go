package source_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodecommit"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipelineactions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/pipeline"
	"github.com/pipekit/cdk-pipeline/constructs/source"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

// Example creates a repository seeded from a folder, and a pipeline that follows its main branch.
func Example() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("SourceExample"), nil)
	src := source.New(stack, jsii.String("Source"), &source.Props{SeedDirectory: jsii.String("../../sample-app")})
	p := pipeline.New(stack, jsii.String("Pipeline"), nil)
	p.AddStage("Source", src.Action)
	p.AddStage("Approve", awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Approve")}))
	template := assertions.Template_FromStack(stack, nil)
	template.HasResourceProperties(jsii.String("AWS::CodeCommit::Repository"), map[string]any{"Code": assertions.Match_ObjectLike(&map[string]any{"BranchName": "main"})})
	fmt.Println(*src.Branch, *src.CommitID())
	// Output: main #{SourceVariables.CommitId}
}

// Example_existingRepository follows a branch of a repository the stack does not own.
func Example_existingRepository() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("ExistingRepositoryExample"), nil)
	repo := awscodecommit.Repository_FromRepositoryName(stack, jsii.String("Repo"), jsii.String("legacy"))
	src := source.New(stack, jsii.String("Source"), &source.Props{Repository: repo, Branch: jsii.String("release")})
	fmt.Println(*src.Repository.RepositoryName(), *src.Branch)
	// Output: legacy release
}

// TestNilProps: names are checked as the settings check them, before anything is created (the
// repository that nil props make: TestNewRepositoryIsRetainedAndUnseededByDefault).
func TestNilProps(t *testing.T) {
	assert.PanicsWithValue(t, `source.New: props.RepositoryName: "my app" is not a CodeCommit repository name: use 1-100 letters, digits, '.', '_' or '-', not ending in .git`, func() {
		source.New(cdktest.NewStack("Bad"), jsii.String("Source"), &source.Props{RepositoryName: jsii.String("my app")})
	})
}

func TestNewRepositoryIsRetainedAndUnseededByDefault(t *testing.T) {
	stack := cdktest.NewStack("Test")
	src := source.New(stack, jsii.String("Source"), nil)
	withPipeline(stack, src) // depends on src.Ready(), which an unseeded source must allow
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)
	for id, p := range s.Resources("AWS::CodePipeline::Pipeline") {
		assert.NotContains(t, toJSON(p["DependsOn"]), "Source", id+": nothing of the source to wait for")
	}
	s.HasResource(t, "AWS::CodeCommit::Repository", map[string]any{
		"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain", "Properties": map[string]any{"RepositoryName": "sample-app"},
	})
	assert.NotContains(t, s.Props("AWS::CodeCommit::Repository"), "Code")
	s.Count(t, "Custom::AWS", 0)
	s.Has(t, "AWS::Events::Rule", map[string]any{"EventPattern": cdktest.ObjectLike(map[string]any{"detail": cdktest.ObjectLike(map[string]any{"referenceName": []any{"main"}})})})
}

// TestSeedModes: CloudFormation seeds the repository without file modes; one commit by a custom
// resource, on create only, marks executable what is executable in the folder and kept in the seed.
func TestSeedModes(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{
		"README.md": 0o644, "run.sh": 0o755, "scripts/deep/hook.sh": 0o700, "scripts/data.txt": 0o644,
		"bin/app": 0o755, "pkg/pkg.test": 0o755, ".git/hooks/pre-commit": 0o755, "tools/.idea/x.sh": 0o755,
	} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode))
		require.NoError(t, os.Chmod(filepath.Join(dir, name), mode))
	}
	stack := cdktest.NewStack("Seed")
	src := source.New(stack, jsii.String("Source"), &source.Props{SeedDirectory: jsii.String(dir)})
	withPipeline(stack, src)
	require.NotNil(t, src.Ready())
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)

	calls := map[string]map[string]any{}
	for id, r := range s.Resources("Custom::AWS") {
		props := r["Properties"].(map[string]any)
		assert.NotContains(t, props, "Update", id+": a stack update never commits again")
		assert.NotContains(t, props, "Delete", id+": deleting the stack leaves the repository's history alone")
		b, _ := json.Marshal(props["Create"])
		text := strings.ReplaceAll(string(b), `\`, "")
		for _, action := range []string{"getBranch", "createCommit"} {
			if strings.Contains(text, `"action":"`+action+`"`) {
				calls[action] = map[string]any{"id": id, "text": text}
			}
		}
	}
	require.Len(t, calls, 2)
	commit := calls["createCommit"]["text"].(string)
	assert.Contains(t, commit, `"setFileModes":[{"fileMode":"EXECUTABLE","filePath":"run.sh"},{"fileMode":"EXECUTABLE","filePath":"scripts/deep/hook.sh"}]`,
		"executable files, sorted; none that the seed excludes, at any depth")
	assert.Contains(t, commit, `"parentCommitId":"`, "on top of the seed commit")
	// The tip's physical id, which its handler keeps on a stack update, never a response field,
	// which an update without an update call leaves out.
	tip := calls["getBranch"]["id"].(string)
	assert.Contains(t, commit, `"parentCommitId":"",{"Ref":"`+tip+`"}`)
	assert.NotContains(t, commit, `"Fn::GetAtt":["`+tip)
	assert.Contains(t, commit, `"outputPaths":["commitId"]`, "CloudFormation takes 4 KB back; the response lists every file")
	assert.Contains(t, commit, calls["getBranch"]["id"].(string), "the parent is the branch tip the first call read")
	s.Has(t, "AWS::IAM::Policy", map[string]any{"PolicyDocument": cdktest.ObjectLike(map[string]any{"Statement": []any{
		cdktest.ObjectLike(map[string]any{"Action": "codecommit:CreateCommit", "Resource": cdktest.ObjectLike(map[string]any{"Fn::GetAtt": []any{s.LogicalIDs("AWS::CodeCommit::Repository")[0], "Arn"}})}),
	}})})
	pipeline := s.Resources("AWS::CodePipeline::Pipeline")
	for _, p := range pipeline {
		assert.Contains(t, p["DependsOn"], calls["createCommit"]["id"], "the pipeline's first execution reads the complete seed")
	}
}

// TestSeedFromACheckout: a seed given its hash and its executable files names the same asset
// whatever its content, and restores the modes listed, from a folder without any (a checkout).
func TestSeedFromACheckout(t *testing.T) {
	stack := cdktest.NewStack("Checkout")
	keys := map[string]string{}
	for _, name := range []string{"first", "later"} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n# "+name+"\n"), 0o644))
		source.New(stack, jsii.String(name), &source.Props{RepositoryName: jsii.String(name), SeedDirectory: jsii.String(dir),
			SeedHash: jsii.String("recorded"), SeedExecutables: []string{"run.sh"}})
	}
	plain := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(plain, "run.sh"), []byte("#!/bin/sh\n"), 0o644))
	source.New(stack, jsii.String("plain"), &source.Props{RepositoryName: jsii.String("plain"), SeedDirectory: jsii.String(plain)})
	s := cdktest.Synth(t, stack)
	for _, r := range s.Resources("AWS::CodeCommit::Repository") {
		props := r["Properties"].(map[string]any)
		keys[props["RepositoryName"].(string)] = toJSON(props["Code"].(map[string]any)["S3"].(map[string]any)["Key"])
	}
	assert.Equal(t, keys["first"], keys["later"], "the recorded hash, not the content's")
	assert.NotEqual(t, keys["first"], keys["plain"])
	commits := 0
	for _, r := range s.Resources("Custom::AWS") {
		text := strings.ReplaceAll(toJSON(r["Properties"].(map[string]any)["Create"]), `\`, "")
		if strings.Contains(text, `"action":"createCommit"`) {
			commits++
			assert.Contains(t, text, `"setFileModes":[{"fileMode":"EXECUTABLE","filePath":"run.sh"}]`)
		}
	}
	assert.Equal(t, 2, commits, "the listed files, though the folders have no modes; none for the plain 0644 folder")
}

// TestTooManyExecutables: CodeCommit changes at most 100 files in one commit.
func TestTooManyExecutables(t *testing.T) {
	dir := t.TempDir()
	for i := range 101 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%03d.sh", i)), nil, 0o755))
	}
	assert.PanicsWithValue(t, "source.New: props.SeedDirectory has 101 executable files; one CodeCommit commit changes at most 100", func() {
		source.New(cdktest.NewStack("Many"), jsii.String("Source"), &source.Props{SeedDirectory: jsii.String(dir)})
	})
}

// withPipeline puts src in a minimal valid pipeline (CodePipeline needs two stages), with the
// secure artifact store of package pipeline.
func withPipeline(stack awscdk.Stack, src *source.Source) {
	p := pipeline.New(stack, jsii.String("Pipeline"), nil).Pipeline
	p.Node().AddDependency(src.Ready())
	p.AddStage(&awscodepipeline.StageOptions{StageName: jsii.String("Source"), Actions: &[]awscodepipeline.IAction{src.Action}})
	p.AddStage(&awscodepipeline.StageOptions{StageName: jsii.String("Approve"), Actions: &[]awscodepipeline.IAction{
		awscodepipelineactions.NewManualApprovalAction(&awscodepipelineactions.ManualApprovalActionProps{ActionName: jsii.String("Approve")}),
	}})
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
