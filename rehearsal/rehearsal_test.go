package rehearsal_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/tier"
)

// TestMain runs the tests, or, when the rehearsal starts this binary again inside the instance's
// namespaces, the part it plays there: the instance (its CodeDeploy agent), the namespace probe,
// or a release's app.
func TestMain(m *testing.M) {
	if name := os.Getenv(roleVariable); name != "" {
		var err error
		switch name {
		case "instance", "probe":
			var job instanceJob
			if err = json.Unmarshal([]byte(os.Getenv("CDK_PIPELINE_REHEARSAL_JOB")), &job); err == nil {
				if name == "probe" {
					err = isolate(job.Dir)
				} else {
					err = instance(job)
				}
			}
		case "unhealthy-app":
			err = unhealthyApp()
		default:
			err = fmt.Errorf("unknown role %q", name)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "rehearsal %s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRehearsal plays the pipeline's run-time path with the sample app's own files and the stack
// main.go synthesizes, from the seed to the rollbacks (see the package documentation for what it
// emulates and what it does not). The app runs in its own process, as the CLI runs it; the
// repository is its seed asset; the deployments that need only the first build's revision run
// while the second build runs.
func TestRehearsal(t *testing.T) {
	if os.Getenv("CDK_PIPELINE_REHEARSAL") != "required" {
		tier.Deep(t)
	}
	dir := t.TempDir()
	t.Cleanup(func() {
		// The builds' module caches are read-only, as Go makes them; a user other than root
		// cannot remove them otherwise.
		exec.Command("chmod", "-R", "u+w", dir).Run()
	})
	started := time.Now()
	facts := synthFacts(t)
	synthesized := time.Since(started)

	// Seed: what the first commit of the new repository holds.
	repo := filepath.Join(dir, "repository")
	require.NoError(t, seed(facts.Seed, repo))
	for _, excluded := range []string{"bin", "reports"} {
		assert.NoDirExists(t, filepath.Join(repo, excluded), "the seed leaves out local build output")
	}
	info, err := os.Stat(filepath.Join(repo, "scripts", "validate_service.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "the seed drops file modes")
	var spec buildspec
	readYAML(t, filepath.Join(repo, "buildspec.yml"), &spec)

	outcomes := make(chan buildOutcome, 2)
	go runBuilds(spec, facts.Seed, dir, outcomes)
	t.Cleanup(func() {
		for range outcomes { // the builds write below dir, which goes after this
		}
	})

	// The build project reads the repository's buildspec.yml, the one the rehearsal runs:
	// CodeBuild takes Source.BuildSpec, when set, as an inline buildspec or another file's path.
	require.Empty(t, facts.BuildSpec, "the build project overrides the repository's buildspec.yml")
	goMod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	require.NoError(t, err)
	imageGo := goRuntime(t, spec, facts.Image, string(goMod))
	for _, inline := range facts.CheckSpecs {
		var check buildspec
		require.NoError(t, yamlUnmarshal([]byte(inline), &check))
		assert.Equal(t, spec.Phases["install"].RuntimeVersions["golang"], check.Phases["install"].RuntimeVersions["golang"],
			"the pull-request checks build the repository with the Go its buildspec.yml selects")
	}

	// First build, on a fresh machine.
	first := <-outcomes
	require.NoError(t, first.err)
	firstBuilt := time.Since(started)
	assert.Equal(t, minor(imageGo), minor(builtWith(t, first.build.log)), "the build runs with the Go that buildspec.yml selects on %s", facts.Image)
	assert.Equal(t, "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/rehearsal/build/rehearsal:1", first.build.exported["BUILD_URL"],
		"the approval links to the build through the exported BUILD_URL")
	require.Len(t, spec.Reports, 1)
	for group, set := range spec.Reports {
		require.True(t, strings.HasPrefix(group, "$"), "the report group comes from a variable")
		assert.Equal(t, "JUNITXML", set.FileFormat)
		files, err := resolve(first.build.src, set)
		require.NoError(t, err)
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
	expected := []string{"Buildfile", "Procfile", "appspec.yml", "bin/sample-app"}
	scripts, _ := filepath.Glob(filepath.Join(repo, "scripts", "*"))
	for _, s := range scripts {
		expected = append(expected, "scripts/"+filepath.Base(s))
	}
	sort.Strings(expected)
	assert.Equal(t, expected, first.files, "the artifact carries the CodeDeploy and Beanstalk bundle")

	// CodeDeploy, on one instance of the fleet, while the second build runs.
	if reason := isolation(t, dir); reason != "" {
		second := <-outcomes
		require.NoError(t, second.err)
		if os.Getenv("CDK_PIPELINE_REHEARSAL") == "required" || os.Getenv("CDK_PIPELINE_NO_SKIP") != "" {
			t.Fatalf("the rehearsal's CodeDeploy part needs %s", reason)
		}
		t.Skipf("the build part passed; the CodeDeploy part needs %s (CI requires it)", reason)
	}
	require.Equal(t, "WITH_TRAFFIC_CONTROL", facts.DeploymentOption, "the rehearsal plays in-place deployments behind the load balancer")
	require.Contains(t, facts.AutoRollback, "DEPLOYMENT_FAILURE", "CodeDeploy rolls a failed deployment back (the rehearsal plays those rollbacks)")
	self, err := os.Executable()
	require.NoError(t, err)
	// A release whose app exits at once; one that starts but answers 503 on its health path and
	// whose application_stop.sh fails.
	bundle1, broken, unhealthy := first.bundle, filepath.Join(dir, "broken.zip"), filepath.Join(dir, "unhealthy.zip")
	variant(t, bundle1, broken, map[string]string{"bin/sample-app": "#!/bin/sh\necho 'broken release: exiting' >&2\nexit 1\n"})
	variant(t, bundle1, unhealthy, map[string]string{
		"bin/sample-app":              fmt.Sprintf("#!/bin/sh\nexec env %s=unhealthy-app %q\n", roleVariable, self),
		"scripts/application_stop.sh": "#!/usr/bin/env bash\necho 'this release cannot be stopped' >&2\nexit 1\n",
	})
	shims, err := filepath.Abs("testdata/shims")
	require.NoError(t, err)
	bundle2 := filepath.Join(dir, "bundle2.zip")
	instance := start(t, instanceJob{
		Dir: filepath.Join(dir, "instance"), Shims: shims, TargetGroup: facts.TargetGroup, Probe: 20 * time.Millisecond,
		HookEnv: []string{pause, validateBudget()},
		Deployments: []deploymentJob{
			{ID: "d1", Bundle: bundle1},
			{ID: "d2", Bundle: broken, Env: []string{"VALIDATE_BUDGET_SECONDS=1"}},
			{ID: "d3", Bundle: bundle1}, // CodeDeploy's rollback: the last good revision, as a new deployment
			{ID: "d4", Bundle: unhealthy, Env: []string{"VALIDATE_BUDGET_SECONDS=2"}}, // at least 1 s for the app to start
			{ID: "d5", Bundle: bundle1},                                      // its rollback
			{ID: "d6", Bundle: bundle1, IgnoreApplicationStopFailures: true}, // an operator's redeploy
			{ID: "d7", Bundle: bundle2},                                      // the next pipeline execution
		},
	})
	t.Cleanup(func() {
		os.WriteFile(bundle2+".abort", nil, 0o644)
		<-instance.done
	})

	// Second build: a fresh machine with only the cache paths restored, and no module proxy. It
	// must download nothing.
	second := <-outcomes
	require.NoError(t, second.err)
	assert.NotContains(t, second.build.log, "go: downloading")
	require.NoError(t, os.Rename(second.bundle, bundle2))
	built := time.Since(started)

	results := instance.wait(t)
	agentRoot := filepath.Join(dir, "instance", "agent", "rehearsal-group")
	t.Cleanup(func() {
		if t.Failed() {
			for _, id := range []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7"} {
				for _, e := range results[id].Events {
					if e.Log != "" || e.Error != "" {
						t.Logf("%s %s %s %s\n%s", id, e.Name, e.Status, e.Error, e.Log)
					}
				}
			}
		}
	})

	d1 := results["d1"]
	assert.Equal(t, "Succeeded", d1.Status, "the first release: %s at %s: %s", d1.Status, d1.FailedEvent, d1.Error)
	assert.Empty(t, d1.event(t, "ApplicationStop").Revision, "no previous install, so no ApplicationStop")
	assert.Contains(t, d1.event(t, "ValidateService").Log, `"version":"1"`)
	assert.Contains(t, d1.event(t, "AllowTraffic").Log, facts.TargetGroup.Path+": 200 OK", "the load balancer's health check passes")

	d2 := results["d2"]
	assert.Equal(t, "ValidateService", d2.FailedEvent, "a release that exits fails its validation, and CodeDeploy rolls back")
	assert.Equal(t, filepath.Join(agentRoot, "d1"), d2.event(t, "ApplicationStop").Revision, "the first release's ApplicationStop stops it")
	validate := d2.event(t, "ValidateService").Log
	assert.Contains(t, validate, "did not become healthy")
	assert.Contains(t, validate, "inactive (dead)", "the diagnostics come before the hook's timeout")
	assert.Contains(t, validate, "broken release: exiting", "and show the service's log")

	d3 := results["d3"]
	assert.Equal(t, "Succeeded", d3.Status, "the rollback: %s at %s: %s", d3.Status, d3.FailedEvent, d3.Error)
	assert.Equal(t, filepath.Join(agentRoot, "d2"), d3.event(t, "ApplicationStop").Revision,
		"the failed release's Install succeeded, so the rollback runs its ApplicationStop")
	assert.Contains(t, d3.event(t, "ValidateService").Log, `"version":"1"`, "the previous release serves again")

	d4 := results["d4"]
	assert.Equal(t, "ValidateService", d4.FailedEvent, "a release that answers 503 on its health path fails its own validation: %s", d4.Error)
	assert.Contains(t, d4.event(t, "ValidateService").Log, "503")

	d5 := results["d5"]
	assert.Equal(t, "ApplicationStop", d5.FailedEvent, "the rollback runs the failed release's ApplicationStop, which fails it")
	assert.Equal(t, filepath.Join(agentRoot, "d4"), d5.event(t, "ApplicationStop").Revision)
	assert.Equal(t, "Script at specified location: scripts/application_stop.sh run as user root failed with exit code 1", d5.Error)

	d6 := results["d6"]
	assert.Equal(t, "Succeeded", d6.Status, "a redeploy that ignores ApplicationStop failures: %s at %s: %s", d6.Status, d6.FailedEvent, d6.Error)
	assert.Equal(t, "Ignored", d6.event(t, "ApplicationStop").Status)
	assert.Contains(t, d6.event(t, "ValidateService").Log, `"version":"1"`)

	d7 := results["d7"]
	assert.Equal(t, "Succeeded", d7.Status, "the second release replaces the running first: %s at %s: %s", d7.Status, d7.FailedEvent, d7.Error)
	assert.Equal(t, filepath.Join(agentRoot, "d6"), d7.event(t, "ApplicationStop").Revision)
	assert.Contains(t, d7.event(t, "ValidateService").Log, `"version":"2"`)
	assert.Contains(t, d7.event(t, "AllowTraffic").Log, facts.TargetGroup.Path+": 200 OK")

	installed, err := os.Stat(filepath.Join(dir, "instance", "opt", "sample-app", "bin", "sample-app"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), installed.Mode().Perm(), "appspec.yml's permissions make the binary executable")
	for _, id := range []string{"d1", "d2", "d3", "d4", "d5", "d6", "d7"} {
		var line strings.Builder
		var total time.Duration
		for _, e := range results[id].Events {
			total += e.Took
			if e.Took > 20*time.Millisecond {
				fmt.Fprintf(&line, " %s %s", e.Name, e.Took.Round(time.Millisecond))
			}
		}
		t.Logf("%s %s:%s", id, total.Round(time.Millisecond), line.String())
	}
	t.Logf("rehearsal took %s: synth %s, first build done at %s, second at %s", time.Since(started).Round(time.Millisecond),
		synthesized.Round(time.Millisecond), firstBuilt.Round(time.Millisecond), built.Round(time.Millisecond))
}

// buildOutcome is one CodeBuild run and its artifact.
type buildOutcome struct {
	build  build
	bundle string   // the artifact's zip
	files  []string // its files
	err    error
}

// runBuilds runs the two builds, each on a fresh machine with the seeded repository: the first
// with empty caches; the second with only the buildspec's cache paths restored from the first,
// and no module proxy.
func runBuilds(spec buildspec, asset, dir string, out chan<- buildOutcome) {
	defer close(out)
	one := func(n int, m machine, env map[string]string) bool {
		o := buildOutcome{bundle: filepath.Join(dir, fmt.Sprintf("build%d.zip", n))}
		src := filepath.Join(dir, fmt.Sprintf("src%d", n))
		if o.err = seed(asset, src); o.err == nil {
			if o.build, o.err = codebuild(spec, src, m, env); o.err == nil {
				o.files, o.err = artifact(o.build, spec.Artifacts, o.bundle)
			}
		}
		out <- o
		return o.err == nil
	}
	first, second := machine{filepath.Join(dir, "build1")}, machine{filepath.Join(dir, "build2")}
	if !one(1, first, nil) {
		return
	}
	for _, p := range spec.Cache.Paths {
		base := strings.TrimSuffix(p, "/**/*")
		if base == p {
			out <- buildOutcome{err: fmt.Errorf("cache path %s: the rehearsal restores folders (path/**/*)", p)}
			return
		}
		if base == spec.Env.Variables["GOCACHE"] {
			continue // the rehearsal builds with this machine's build cache (see buildEnv)
		}
		err := os.MkdirAll(filepath.Dir(second.path(base)), 0o755)
		if err == nil {
			var b []byte
			if b, err = exec.Command("cp", "-a", first.path(base), second.path(base)).CombinedOutput(); err != nil {
				err = fmt.Errorf("restoring the cache path %s: %v\n%s", p, err, b)
			}
		}
		if err != nil {
			out <- buildOutcome{err: err}
			return
		}
	}
	one(2, second, map[string]string{"GOPROXY": "off", "CODEBUILD_BUILD_NUMBER": "2"})
}

// isolation returns what the machine lacks to run the instance, or "". The instance needs the
// tools it runs and a user namespace of its own (no root needed) with private mounts, an overlay
// on /etc and a private network; the probe is the instance's own set-up, run in the same way.
func isolation(t *testing.T, dir string) string {
	t.Helper()
	var missing []string
	path := instancePath("")
	for _, tool := range []string{"unshare", "ip", "unzip", "curl", "timeout", "setsid", "bash", "getent", "useradd", "cp"} {
		found := false
		for _, d := range filepath.SplitList(path) {
			if _, err := exec.LookPath(filepath.Join(d, tool)); err == nil && d != "" {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return strings.Join(missing, ", ")
	}
	probe := filepath.Join(dir, "probe")
	for _, d := range []string{"opt", "units", "layer"} {
		if err := os.MkdirAll(filepath.Join(probe, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := role(t, "probe", instanceJob{Dir: probe}).CombinedOutput(); err != nil {
		return fmt.Sprintf("%s in a user namespace (%v: %s)", strings.Join(unshare, " "), err, strings.TrimSpace(string(out)))
	}
	return ""
}
