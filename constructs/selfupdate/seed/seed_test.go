package seed

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/settings"
)

// root is this checkout of the app.
const root = "../../.."

func context(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	require.NoError(t, err)
	var doc struct {
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc.Context
}

// TestListKeepsTheAppAsItDeploys: the seed of this checkout has the app and the sample app with
// its tests, and none of the library's tests, fixtures, CI script or build output; it fits
// CodeCommit's limits.
func TestListKeepsTheAppAsItDeploys(t *testing.T) {
	files, err := List(root)
	require.NoError(t, err)
	for _, want := range []string{"main.go", "cdk.json", "go.mod", "go.sum", "package.json", "package-lock.json", "scripts/cdk-app",
		"scripts/template-diff.js", "stacks/pipeline.go",
		"sample-app/buildspec.yml", "sample-app/handler_test.go", "sample-app/scripts/validate_service.sh"} {
		assert.Contains(t, files, want)
	}
	for _, f := range files {
		if strings.HasPrefix(f, AppDir+"/") {
			continue
		}
		assert.False(t, strings.HasSuffix(f, "_test.go"), "%s: a test of the library", f)
		assert.NotContains(t, "/"+f, "/testdata/", "%s: a fixture of the library's tests", f)
		assert.False(t, strings.HasPrefix(f, ".ci/") || strings.HasPrefix(f, "cdk.out/") || strings.HasPrefix(f, "node_modules/"), f)
	}
	var size int64
	executables := 0
	for _, f := range files {
		info, err := os.Stat(filepath.Join(root, f))
		require.NoError(t, err)
		size += info.Size()
		assert.LessOrEqual(t, info.Size(), int64(MaxFileBytes), f)
		if info.Mode().Perm()&0o111 != 0 {
			executables++
		}
	}
	assert.LessOrEqual(t, executables, MaxExecutables)
	t.Logf("the seed of this checkout: %d files, %d bytes, %d executable", len(files), size, executables)
}

// TestStageAndReproduce: a first deploy with -c overrides stages the app with the overrides in its
// cdk.json (as cdk.json holds values), and its record; a checkout of that seed (every file 0644,
// as CodeCommit gives it) stages the same content with the same record and digest, and its
// cdk.json parses to the same settings.
func TestStageAndReproduce(t *testing.T) {
	ctx := context(t)
	ctx["selfUpdate"] = "TRUE"
	ctx["fleetSize"] = "3"
	ctx["notifications"] = `[{"protocol":"email","endpoint":"ops@example.com"}]`
	ctx["@aws-cdk/aws-ec2:restrictDefaultSecurityGroup"] = "FALSE"
	// What the CDK CLI sets by itself (cdk validate, aws-cdk 2.1148), and a flag the app does not
	// define: neither is a -c value of the deploy.
	ctx["@aws-cdk/core:failSynthOnValidationErrors"] = false
	ctx["@aws-cdk/aws-lambda:recognizeVersionProps"] = "true"
	ctx["aws:cdk:bundling-stacks"] = []any{"**"}
	ctx["availability-zones:account=123456789012:region=eu-west-1"] = []any{"eu-west-1a"}
	first, err := Stage(root, filepath.Join(t.TempDir(), "seed"), ctx, settings.Keys)
	require.NoError(t, err)

	var doc struct {
		Context map[string]any `json:"context"`
	}
	b, err := os.ReadFile(filepath.Join(first.Dir, "cdk.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, true, doc.Context["selfUpdate"])
	assert.Equal(t, 3.0, doc.Context["fleetSize"])
	assert.Equal(t, []any{map[string]any{"protocol": "email", "endpoint": "ops@example.com"}}, doc.Context["notifications"])
	assert.Equal(t, false, doc.Context["@aws-cdk/aws-ec2:restrictDefaultSecurityGroup"], "a feature flag of the app")
	for _, k := range []string{"@aws-cdk/core:failSynthOnValidationErrors", "@aws-cdk/aws-lambda:recognizeVersionProps"} {
		_, seeded := doc.Context[k]
		assert.False(t, seeded, "%s: the CLI's own key, or a flag the app does not define", k)
	}
	assert.NotContains(t, doc.Context, "aws:cdk:bundling-stacks", "the CLI's own keys")
	assert.NotContains(t, doc.Context, "availability-zones:account=123456789012:region=eu-west-1", "lookups belong in cdk.context.json")
	want, err := settings.Parse(ctx)
	require.NoError(t, err)
	got, err := settings.Parse(doc.Context)
	require.NoError(t, err)
	assert.Equal(t, want, got, "the seeded cdk.json carries the settings, -c overrides included")

	r := first.Record
	assert.Regexp(t, `^[0-9a-f]{64}$`, r.Asset)
	assert.Regexp(t, `^go1\.`, r.Go)
	assert.Contains(t, r.Executables, "scripts/cdk-app")
	assert.Contains(t, r.Executables, "sample-app/scripts/validate_service.sh")
	assert.NotContains(t, r.Executables, ".ci/run", "the library's CI stays out")
	assert.FileExists(t, filepath.Join(first.Dir, RecordFile))

	// A checkout: the staged files, every one 0644, and nothing but what the repository has.
	checkout := filepath.Join(t.TempDir(), "checkout")
	require.NoError(t, copyAs0644(first.Dir, checkout))
	again, err := Stage(checkout, filepath.Join(t.TempDir(), "again"), doc.Context, settings.Keys)
	require.NoError(t, err)
	assert.Equal(t, first.Record, again.Record, "the record, not the checkout's modes")
	assert.Equal(t, first.Digest, again.Digest, "the digest of the deployed stacks is the checkout's")
	assert.Equal(t, tree(t, first.Dir), tree(t, again.Dir), "the same content")

	// A change in the sample app leaves the digest as it was; any other change, or a -c value
	// the checkout's cdk.json does not have, changes it.
	require.NoError(t, os.WriteFile(filepath.Join(checkout, AppDir, "main.go"), []byte("package main\n"), 0o644))
	d, err := Digest(checkout, nil)
	require.NoError(t, err)
	assert.Equal(t, first.Digest, d, "a change of the sample app only")
	require.NoError(t, os.WriteFile(filepath.Join(checkout, "README.md"), []byte("changed\n"), 0o644))
	d, err = Digest(checkout, nil)
	require.NoError(t, err)
	assert.NotEqual(t, first.Digest, d, "a change outside the sample app")
	overridden := maps(doc.Context)
	overridden["fleetSize"] = "4"
	withC, err := Stage(checkout, filepath.Join(t.TempDir(), "c"), overridden, settings.Keys)
	require.NoError(t, err)
	assert.NotEqual(t, d, withC.Digest, "a -c value makes stacks the repository does not describe")
}

func maps(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestWithContextKeepsTheFile: without overrides cdk.json is written back byte for byte; an
// override changes its value in place, a new key goes last.
func TestWithContextKeepsTheFile(t *testing.T) {
	config, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	require.NoError(t, err)
	same, err := WithContext(config, nil)
	require.NoError(t, err)
	assert.Equal(t, string(config), string(same))
	out, err := WithContext([]byte(`{"app": "x", "context": {"a": 1, "b": [1, 2], "c": "<&>"}}`), map[string]any{"b": "z", "d": false})
	require.NoError(t, err)
	assert.Equal(t, "{\n  \"app\": \"x\",\n  \"context\": {\n    \"a\": 1,\n    \"b\": \"z\",\n    \"c\": \"<&>\",\n    \"d\": false\n  }\n}\n", string(out))
}

// TestDigestCommand: the shell pipeline the update stage runs prints Digest, on a tree with
// every kind of thing it leaves out and names whose order depends on the byte order.
func TestDigestCommand(t *testing.T) {
	dir := t.TempDir()
	for f, content := range map[string]string{
		"main.go": "package main\n", "a-b": "1", "a.b": "2", "a/b": "3", "a b/c d": "4", "Z": "5", "é/x": "6",
		"sample-app/main.go": "app", "sample-app/x_test.go": "app test",
		"node_modules/x/index.js": "no", "cdk.out/t.json": "no", "stacks/x_test.go": "no", "internal/testdata/f": "no", "x/cdk.out/y": "no",
		".ci/run": "no", "cdk-pipeline": "no", "pkg/bin/tool": "no", "pkg.test": "no", ".git/HEAD": "no",
	} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	require.NoError(t, os.Symlink("main.go", filepath.Join(dir, "link")))
	want, err := Digest(dir, nil)
	require.NoError(t, err)
	cmd := exec.Command("bash", "-c", "set -euo pipefail; "+DigestCommand())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Equal(t, want, strings.TrimSpace(string(out)))

	// The folder's files, as the update stage's checkout has them: its .git is no repository.
	files, err := walk(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"Z", "a b/c d", "a-b", "a.b", "a/b", "main.go", "sample-app/main.go", "sample-app/x_test.go", "é/x"}, files)
}

// TestCheck: CodeCommit's limits, one line each.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big"), make([]byte, MaxFileBytes+1), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "small"), make([]byte, MaxFileBytes), 0o644))
	many := make([]string, MaxExecutables+1)
	err := Check(dir, Record{Executables: many})
	require.Error(t, err)
	assert.Equal(t, []string{
		"seed: big is 6291457 bytes; CodeCommit takes files of at most 6291456 bytes (6 MB)",
		"seed: 101 executable files; the commit that restores their modes changes at most 100",
	}, strings.Split(err.Error(), "\n"))
	require.NoError(t, os.Remove(filepath.Join(dir, "big")))
	assert.NoError(t, Check(dir, Record{Executables: many[:MaxExecutables]}), "within the limits")
}

// TestStageRefusesARecordItCannotRead: a damaged record is a clear error, not another asset.
func TestStageRefusesARecordItCannotRead(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cdk.json"), []byte(`{"context":{}}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, RecordFile), []byte(`{}`), 0o644))
	_, err := Stage(dir, filepath.Join(t.TempDir(), "s"), map[string]any{}, settings.Keys)
	assert.ErrorContains(t, err, "seed: seed.json is not a seed record")
}

func copyAs0644(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// tree is every file of dir with its content.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := walk(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		out[f] = string(b)
	}
	return out
}

// TestOverridesTakeTheAppsKeysOnly: a key the CDK CLI puts in the context by itself is not a -c
// value, and would otherwise make the seeded cdk.json, and so the stored digest, differ from what
// the update stage computes from the repository.
func TestOverridesTakeTheAppsKeysOnly(t *testing.T) {
	config := []byte(`{"context":{"fleetSize":2,"@aws-cdk/aws-ec2:restrictDefaultSecurityGroup":true}}`)
	got, err := Overrides(config, map[string]any{
		"fleetSize": "2", "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": "false",
		"@aws-cdk/core:failSynthOnValidationErrors": false, "@aws-cdk/core:newStyleStackSynthesis": "true",
		"aws:cdk:enable-path-metadata": true, "branch": "trunk",
	}, settings.Keys)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"@aws-cdk/aws-ec2:restrictDefaultSecurityGroup": false, "branch": "trunk"}, got)
}

// TestSeedLoads: every package of the seeded repository, the app's module and the application's,
// loads as the go command builds it: no file it embeds or imports is left out of the seed.
func TestSeedLoads(t *testing.T) {
	staged, err := Stage(root, filepath.Join(t.TempDir(), "seed"), context(t), settings.Keys)
	require.NoError(t, err)
	for _, module := range []string{".", AppDir} {
		// The whole -json: with a field list, go list leaves out what it does not print, the
		// embedded files among them, and with them their errors.
		cmd := exec.Command("go", "list", "-e", "-json", "./...")
		cmd.Dir = filepath.Join(staged.Dir, module)
		out, err := cmd.Output()
		require.NoError(t, err, "go list in the seed's %s", module)
		dec := json.NewDecoder(strings.NewReader(string(out)))
		packages := 0
		for dec.More() {
			var p struct {
				ImportPath string
				Error      *struct{ Err string }
				DepsErrors []struct{ Err string }
			}
			require.NoError(t, dec.Decode(&p))
			packages++
			assert.Nil(t, p.Error, "%s does not load in the seed", p.ImportPath)
			assert.Empty(t, p.DepsErrors, "%s: a dependency does not load in the seed", p.ImportPath)
		}
		assert.NotZero(t, packages, module)
	}
}

// TestListTakesWhatGitTracks: in a git work tree the seed is what git tracks there, less what it
// always leaves out: an untracked binary, .env or key in the developer's folder, and a tracked file
// deleted from the work tree, stay out. A folder outside git, as the update stage's checkout (the
// source zip holds only tracked files), or a copy git does not track, is listed whole.
func TestListTakesWhatGitTracks(t *testing.T) {
	write := func(dir string, files ...string) {
		for _, f := range files {
			p := filepath.Join(dir, filepath.FromSlash(f))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(f), 0o644))
		}
	}
	git := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
	}
	tracked := []string{"cdk.json", "main.go", "sample-app/main.go", "stacks/a b.go"}
	repo := t.TempDir()
	write(repo, tracked...)
	write(repo, "gone.go", "testdata/f.json", "node_modules/x/index.js", "sample-app/bin/tool")
	git(repo, "init", "-q")
	git(repo, "add", "-f", ".")
	require.NoError(t, os.Remove(filepath.Join(repo, "gone.go")))
	write(repo, ".env", "deploy.pem", "cdk-tool", "sample-app/secret.txt", "stacks/scratch.go")

	files, err := List(repo)
	require.NoError(t, err)
	assert.Equal(t, tracked, files, "what git tracks, less what the seed always leaves out")
	sub, err := List(filepath.Join(repo, "sample-app"))
	require.NoError(t, err)
	assert.Equal(t, []string{"main.go"}, sub, "below the work tree's top: relative to the folder")

	// A copy in a folder git does not track, inside the work tree, and the same copy outside git.
	for _, dir := range []string{filepath.Join(repo, "copy"), t.TempDir()} {
		write(dir, "main.go", ".env", "testdata/f.json")
		files, err := List(dir)
		require.NoError(t, err)
		assert.Equal(t, []string{".env", "main.go"}, files, "%s: every file but what the seed always leaves out", dir)
	}

	// A .git where git fails is an error, not a walk that would take the untracked files.
	broken := t.TempDir()
	write(broken, ".git/HEAD", "main.go")
	_, err = List(broken)
	assert.ErrorContains(t, err, "is in a git work tree, and git ls-files failed there")
}
