package rehearsal_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRehearsal plays the pipeline's run-time path with the sample app's own files, from the seed
// to a rollback (see the package documentation for what it emulates and what it skips).
func TestRehearsal(t *testing.T) {
	requireIsolation(t)
	dir := t.TempDir()
	started := time.Now()

	// Seed: what the first commit of the new repository holds.
	repo := filepath.Join(dir, "repository")
	seed(t, "../sample-app", repo)
	for _, excluded := range []string{"bin", "reports"} {
		assert.NoDirExists(t, filepath.Join(repo, excluded), "the seed leaves out local build output")
	}
	info, err := os.Stat(filepath.Join(repo, "scripts", "validate_service.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "the seed drops file modes")

	var spec buildspec
	readYAML(t, filepath.Join(repo, "buildspec.yml"), &spec)
	expected := []string{"Buildfile", "Procfile", "appspec.yml", "bin/sample-app"}
	scripts, _ := filepath.Glob(filepath.Join(repo, "scripts", "*"))
	for _, s := range scripts {
		expected = append(expected, "scripts/"+filepath.Base(s))
	}
	sort.Strings(expected)

	// First build, on a fresh machine.
	first := machine{filepath.Join(dir, "build1")}
	src1 := filepath.Join(dir, "src1")
	seed(t, "../sample-app", src1)
	b1 := codebuild(t, spec, src1, first, nil)
	assert.Equal(t, "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/rehearsal/build/rehearsal:1", b1.exported["BUILD_URL"],
		"the approval links to the build through the exported BUILD_URL")
	require.Len(t, spec.Reports, 1)
	for group, set := range spec.Reports {
		require.True(t, strings.HasPrefix(group, "$"), "the report group comes from a variable")
		assert.Equal(t, "JUNITXML", set.FileFormat)
		files := resolve(t, src1, set)
		require.Len(t, files, 1, "the report's files")
		for file := range files {
			report := readJUnit(t, file)
			require.NotEmpty(t, report.Suites)
			for _, suite := range report.Suites {
				assert.Positive(t, suite.Tests)
				assert.Zero(t, suite.Failures+suite.Errors)
			}
		}
	}
	bundle1 := filepath.Join(dir, "bundle1.zip")
	assert.Equal(t, expected, artifact(t, b1, spec.Artifacts, bundle1), "the artifact carries the CodeDeploy and Beanstalk bundle")

	// Second build: a fresh machine with only the cache paths restored, and no module proxy. It
	// must download nothing.
	second := machine{filepath.Join(dir, "build2")}
	for _, p := range spec.Cache.Paths {
		base := strings.TrimSuffix(p, "/**/*")
		require.NotEqual(t, p, base, "cache path %s", p)
		if base == spec.Env.Variables["GOCACHE"] {
			continue // the rehearsal builds with this machine's build cache (see buildEnv)
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(second.path(base)), 0o755))
		if out, err := exec.Command("cp", "-a", first.path(base), second.path(base)).CombinedOutput(); err != nil {
			t.Fatalf("restoring the cache path %s: %v\n%s", p, err, out)
		}
	}
	src2 := filepath.Join(dir, "src2")
	seed(t, "../sample-app", src2)
	b2 := codebuild(t, spec, src2, second, map[string]string{"GOPROXY": "off", "CODEBUILD_BUILD_NUMBER": "2"})
	assert.NotContains(t, b2.log, "go: downloading")
	bundle2 := filepath.Join(dir, "bundle2.zip")
	artifact(t, b2, spec.Artifacts, bundle2)

	// Deployments to one instance: two releases, a broken one, and the rollback.
	agent := filepath.Join(dir, "agent")
	d1 := deployment{id: "d1", archive: filepath.Join(agent, "d1", "deployment-archive")}
	d1.spec = unpack(t, bundle1, filepath.Join(agent, "d1"))
	d2 := deployment{id: "d2", archive: filepath.Join(agent, "d2", "deployment-archive"), previous: d1.archive}
	d2.spec = unpack(t, bundle2, filepath.Join(agent, "d2"))
	d3 := deployment{id: "d3", archive: filepath.Join(agent, "d3", "deployment-archive"), previous: d2.archive,
		env: []string{"VALIDATE_BUDGET_SECONDS=1"}}
	d3.spec = unpack(t, bundle2, filepath.Join(agent, "d3"))
	require.NoError(t, os.WriteFile(filepath.Join(d3.archive, "bin", "sample-app"), []byte("#!/bin/sh\necho 'broken release: exiting' >&2\nexit 1\n"), 0o644))
	d4 := deployment{id: "d4", archive: filepath.Join(agent, "d4", "deployment-archive"), previous: d2.archive}
	d4.spec = unpack(t, bundle2, filepath.Join(agent, "d4"))
	instance := filepath.Join(dir, "instance")
	results := run(t, instance, d1, d2, d3, d4)

	reached, stop := result(t, results, "d1", "ApplicationStop")
	assert.Equal(t, "Succeeded", reached, "the first release")
	assert.Empty(t, stop, "no previous revision, so no ApplicationStop")
	_, validate := result(t, results, "d1", "ValidateService")
	assert.Contains(t, validate, `"version":"1"`)

	reached, stop = result(t, results, "d2", "ApplicationStop")
	assert.Equal(t, "Succeeded", reached, "the second release replaces the running first")
	assert.FileExists(t, filepath.Join(results, "d2", "ApplicationStop.rc"), "the first revision's ApplicationStop ran")
	_, validate = result(t, results, "d2", "ValidateService")
	assert.Contains(t, validate, `"version":"2"`)

	reached, validate = result(t, results, "d3", "ValidateService")
	assert.Equal(t, "ValidateService", reached, "a broken release fails its validation, and CodeDeploy rolls back")
	assert.Contains(t, validate, "did not become healthy")
	assert.Contains(t, validate, "inactive (dead)", "the diagnostics come before the hook's timeout")
	assert.Contains(t, validate, "broken release: exiting", "and show the service's log")

	reached, validate = result(t, results, "d4", "ValidateService")
	assert.Equal(t, "Succeeded", reached, "the rollback deployment")
	assert.Contains(t, validate, `"version":"2"`, "the previous release serves again")

	installed, err := os.Stat(filepath.Join(instance, "opt", "sample-app", "bin", "sample-app"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), installed.Mode().Perm(), "appspec.yml's permissions make the binary executable")
	t.Logf("rehearsal took %s", time.Since(started).Round(time.Millisecond))
}

// requireIsolation skips the rehearsal where the machine cannot give it private mount and network
// namespaces (unshare needs root, or unprivileged user namespaces), unless
// CDK_PIPELINE_REHEARSAL=required, as .ci/run sets it, which makes that a failure.
func requireIsolation(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"unshare", "ip", "unzip", "curl", "timeout", "setsid", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		if out, err := exec.Command("unshare", "--mount", "--net", "--propagation", "private", "true").CombinedOutput(); err != nil {
			missing = append(missing, "unshare --mount --net ("+strings.TrimSpace(string(out))+")")
		}
	}
	if len(missing) > 0 {
		if os.Getenv("CDK_PIPELINE_REHEARSAL") == "required" {
			t.Fatalf("the rehearsal needs %s", strings.Join(missing, ", "))
		}
		t.Skipf("the rehearsal needs %s; CI requires it", strings.Join(missing, ", "))
	}
}
