package rehearsal_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	appseed "github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
)

// The self-updating pipeline's rehearsal (docs/self-update.md, docs/runtime.md): the first deploy
// of a laptop's checkout of the app with -c values, and what the pipeline then does with the
// repository CloudFormation seeds from it, checked out without file modes as CodePipeline hands
// it to CodeBuild. Three syntheses and a build: about a minute, so it runs when CI asks for the
// rehearsal (CDK_PIPELINE_REHEARSAL=required) or when CDK_PIPELINE_SELF_UPDATE=full.

// laptopOverrides are the -c values of the first deploy, on top of cdk.json's context.
var laptopOverrides = map[string]any{
	"selfUpdate": "true", "fleetSize": "3", "approval": "false",
	"notifications": `[{"protocol":"email","endpoint":"ops@example.com"}]`,
}

// TestSelfUpdateSeed: the seed reproduces the deployed stacks. Synthesized from an extracted copy
// of the seed, from a 0644 checkout, with its cdk.json and no -c values, every stack's template is
// the first deploy's, Lambda code and seed asset included; the checkout's digest, as the update
// stage computes it, is the deployed one, so the first self-update deploys nothing; a change of
// the sample app alone changes no template; and the application builds from sample-app/ with the
// buildspec and variables the synthesized Build project gives CodeBuild.
func TestSelfUpdateSeed(t *testing.T) {
	if os.Getenv("CDK_PIPELINE_REHEARSAL") != "required" && os.Getenv("CDK_PIPELINE_SELF_UPDATE") != "full" {
		t.Skip("the self-update rehearsal runs in CI (CDK_PIPELINE_REHEARSAL=required) or with CDK_PIPELINE_SELF_UPDATE=full: three syntheses and a build")
	}
	started := time.Now()
	dir := t.TempDir()
	t.Cleanup(func() { exec.Command("chmod", "-R", "u+w", dir).Run() })

	// The laptop: this checkout's app, with the lookups the CLI made (cdk.context.json).
	laptop := filepath.Join(dir, "laptop")
	require.NoError(t, copyTree("..", laptop, 0))
	lookups := map[string]any{"availability-zones:account=" + account + ":region=eu-west-1": []any{"eu-west-1a", "eu-west-1b", "eu-west-1c"}}
	b, _ := json.MarshalIndent(lookups, "", "  ")
	require.NoError(t, os.WriteFile(filepath.Join(laptop, "cdk.context.json"), b, 0o644))
	first := runApp(t, laptop, filepath.Join(dir, "first.out"), laptopOverrides)
	seedDir := seedAsset(t, first)

	// The repository, as CodeBuild gets it: the seed's files, every one 0644, no .git.
	checkout := filepath.Join(dir, "checkout")
	require.NoError(t, copyTree(seedDir, checkout, 0o644))
	again := runApp(t, checkout, filepath.Join(dir, "again.out"), nil)
	assert.Equal(t, templates(t, first), templates(t, again), "synthesized from the seeded repository, the stacks are the deployed ones")

	// The update stage's decision: the digest it computes of the checkout is the deployed one.
	digest := shellDigest(t, checkout)
	assert.Equal(t, deployedDigest(t, first), digest, "the first self-update deploys nothing")

	// A change of the sample app alone: the same stacks, the same digest.
	require.NoError(t, os.WriteFile(filepath.Join(checkout, appseed.AppDir, "CHANGED.md"), []byte("a change of the application\n"), 0o644))
	changed := runApp(t, checkout, filepath.Join(dir, "changed.out"), nil)
	assert.Equal(t, templates(t, first), templates(t, changed), "a push that changes only sample-app/ changes no stack")
	assert.Equal(t, digest, shellDigest(t, checkout))
	synthesized := time.Since(started)

	// The Build stage: the buildspec the project reads, with the project's variables, in the
	// checkout; the artifact and the report are what the default layout's are.
	build := buildProject(t, first)
	require.Equal(t, appseed.AppDir+"/buildspec.yml", build.spec)
	require.Equal(t, appseed.AppDir, build.variables["APP_DIR"])
	var spec buildspec
	readYAML(t, filepath.Join(checkout, build.spec), &spec)
	m := machine{filepath.Join(dir, "build")}
	out, err := codebuild(spec, checkout, m, build.variables)
	require.NoError(t, err)
	files, err := artifact(out, spec.Artifacts, filepath.Join(dir, "bundle.zip"))
	require.NoError(t, err)
	assert.Equal(t, []string{"Buildfile", "Procfile", "appspec.yml", "bin/sample-app", "scripts/after_install.sh", "scripts/application_start.sh",
		"scripts/application_stop.sh", "scripts/before_install.sh", "scripts/sample-app.service", "scripts/validate_service.sh"}, files)
	for _, set := range spec.Reports {
		reports, err := resolve(checkout, set)
		require.NoError(t, err)
		assert.Len(t, reports, 1, "the JUnit report, where the report group reads it")
	}
	t.Logf("self-update rehearsal: %s (three syntheses %s, the build %s)", time.Since(started).Round(time.Millisecond),
		synthesized.Round(time.Millisecond), (time.Since(started) - synthesized).Round(time.Millisecond))
}

// runApp runs the app in dir as `cdk deploy` runs it there, for the pipeline's account and region
// (the CLI's context: cdk.json's, cdk.context.json's, then the -c values; every stack bundled), and
// returns the cloud assembly.
func runApp(t *testing.T, dir, out string, overrides map[string]any) string {
	t.Helper()
	var config struct {
		App string `json:"app"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "cdk.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &config))
	ctx := cdkJSONContext(t, dir)
	if b, err := os.ReadFile(filepath.Join(dir, "cdk.context.json")); err == nil {
		var cached map[string]any
		require.NoError(t, json.Unmarshal(b, &cached))
		maps.Copy(ctx, cached)
	}
	maps.Copy(ctx, overrides)
	ctx["aws:cdk:bundling-stacks"] = []any{"**"}
	runBuilt(t, config.App, dir, out, ctx, true, []string{"CDK_DEFAULT_ACCOUNT=" + account, "CDK_DEFAULT_REGION=eu-west-1"})
	return out
}

// cdkJSONContext is the context of dir's cdk.json, with what the CLI adds: construct paths and
// asset locations in metadata.
func cdkJSONContext(t *testing.T, dir string) map[string]any {
	t.Helper()
	var config struct {
		Context map[string]any `json:"context"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "cdk.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &config))
	config.Context["aws:cdk:enable-path-metadata"] = true
	config.Context["aws:cdk:enable-asset-metadata"] = true
	return config.Context
}

// runBuilt runs an app command in dir as the CLI does, with ctx as its context, out as its
// assembly and env added to its environment (the credentials' account and region, when the CLI
// has them): through a shell when shell is set (cdk.json's "app"), else the program itself. The
// CDK variables of this process stay out.
func runBuilt(t *testing.T, command, dir, out string, ctx map[string]any, shell bool, env []string) {
	t.Helper()
	ctxJSON, err := json.Marshal(ctx)
	require.NoError(t, err)
	cmd := exec.Command(command)
	if shell {
		cmd = exec.Command("sh", "-c", command)
	}
	cmd.Dir = dir
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "CDK_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(append(cmd.Env, "CDK_OUTDIR="+out, "CDK_CONTEXT_JSON="+string(ctxJSON)), env...)
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "the app in %s:\n%s", dir, output)
}

// account is the pipeline's account in the rehearsal's syntheses, and in the lookups they read.
const account = "123456789012"

// manifest is the part of a cloud assembly's manifest the rehearsal reads.
type manifest struct {
	Artifacts map[string]struct {
		Type       string
		Properties struct {
			TemplateFile string
			File         string
		}
	}
}

func readManifest(t *testing.T, assembly string) manifest {
	t.Helper()
	var m manifest
	b, err := os.ReadFile(filepath.Join(assembly, "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// templates are the assembly's templates, by stack.
func templates(t *testing.T, assembly string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for id, a := range readManifest(t, assembly).Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		var template any
		b, err := os.ReadFile(filepath.Join(assembly, a.Properties.TemplateFile))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &template))
		out[id] = template
	}
	require.Contains(t, out, "CicdPipeline")
	return out
}

// pipelineResources are the pipeline stack's resources.
func pipelineResources(t *testing.T, assembly string) map[string]any {
	t.Helper()
	return templates(t, assembly)["CicdPipeline"].(map[string]any)["Resources"].(map[string]any)
}

// seedAsset is the folder of the repository's seed asset: what CloudFormation commits.
func seedAsset(t *testing.T, assembly string) string {
	t.Helper()
	var key string
	for _, r := range pipelineResources(t, assembly) {
		if r.(map[string]any)["Type"] == "AWS::CodeCommit::Repository" {
			key = r.(map[string]any)["Properties"].(map[string]any)["Code"].(map[string]any)["S3"].(map[string]any)["Key"].(string)
		}
	}
	var assets struct {
		Files map[string]struct{ Source struct{ Path string } }
	}
	b, err := os.ReadFile(filepath.Join(assembly, readManifest(t, assembly).Artifacts["CicdPipeline.assets"].Properties.File))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &assets))
	asset, ok := assets.Files[strings.TrimSuffix(key, ".zip")]
	require.True(t, ok, "the repository's code %q is an asset of the assembly", key)
	return filepath.Join(assembly, asset.Source.Path)
}

// project is a CodeBuild project of the pipeline stack: its Source.BuildSpec and variables.
type project struct {
	spec      string
	variables map[string]string
}

func projects(t *testing.T, assembly string) map[string]project {
	t.Helper()
	out := map[string]project{}
	for id, r := range pipelineResources(t, assembly) {
		res := r.(map[string]any)
		if res["Type"] != "AWS::CodeBuild::Project" {
			continue
		}
		props := res["Properties"].(map[string]any)
		p := project{variables: map[string]string{}}
		p.spec, _ = props["Source"].(map[string]any)["BuildSpec"].(string)
		vars, _ := props["Environment"].(map[string]any)["EnvironmentVariables"].([]any)
		for _, v := range vars {
			if value, ok := v.(map[string]any)["Value"].(string); ok {
				p.variables[v.(map[string]any)["Name"].(string)] = value
			}
		}
		out[id] = p
	}
	return out
}

func buildProject(t *testing.T, assembly string) project {
	t.Helper()
	for id, p := range projects(t, assembly) {
		if strings.HasPrefix(id, "BuildProject") {
			return p
		}
	}
	t.Fatal("no build project")
	return project{}
}

// deployedDigest is the digest the pipeline stack's update project carries.
func deployedDigest(t *testing.T, assembly string) string {
	t.Helper()
	for id, p := range projects(t, assembly) {
		if strings.HasPrefix(id, "SelfUpdateProject") {
			require.NotEmpty(t, p.variables["DEPLOYED_DIGEST"])
			return p.variables["DEPLOYED_DIGEST"]
		}
	}
	t.Fatal("no update project")
	return ""
}

// shellDigest runs the update stage's digest command in dir.
func shellDigest(t *testing.T, dir string) string {
	t.Helper()
	cmd := exec.Command("bash", "-c", "set -euo pipefail; "+appseed.DigestCommand())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return strings.TrimSpace(string(out))
}

// copyTree copies the files of src that the seed keeps (appseed.List) to dst, with their modes, or
// every one with mode when it is not 0.
func copyTree(src, dst string, mode fs.FileMode) error {
	files, err := appseed.List(src)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s is empty", src)
	}
	for _, f := range slices.Clone(files) {
		from, to := filepath.Join(src, filepath.FromSlash(f)), filepath.Join(dst, filepath.FromSlash(f))
		info, err := os.Stat(from)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return err
		}
		perm := info.Mode().Perm()
		if mode != 0 {
			perm = mode
		}
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, b, perm); err != nil {
			return err
		}
	}
	return nil
}
