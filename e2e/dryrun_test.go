package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/tier"
)

// The dry run: the flow of TestDeployedPipeline against the fake aws and npx commands, in seconds.
// What it proves, and what only a real run proves, is in docs/runtime.md.

// dryRun is a fresh fake account with the fakes first on PATH, and the flow's configuration for it.
type dryRun struct {
	cloud  *cloud
	config Config
}

func newDryRun(t *testing.T) *dryRun {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	c := newCloud(t, root)
	installFakes(t, c.handle)
	return &dryRun{cloud: c, config: Config{
		Root: root, Suffix: "0101-000000", Layout: Seeded, DeleteRetained: true,
		Poll: time.Millisecond, HealthPause: time.Millisecond, HealthTimeout: 5 * time.Second, ReceiveWait: 0,
		Limits: Limits{Release: 10 * time.Second, Served: 5 * time.Second, RolledBackServed: 5 * time.Second, Rollback: 10 * time.Second},
	}}
}

// recorder is a T whose failure stops the flow, as FailNow stops a test, without failing the test
// that runs it: the dry run injects failures and checks what the flow does next.
type recorder struct {
	t        *testing.T
	mu       sync.Mutex
	failed   bool
	errors   []string
	logs     []string
	cleanups []func()
	deadline time.Time
}

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = true
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	r.FailNow()
}

func (r *recorder) FailNow() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cleanups = append(r.cleanups, f)
}

func (r *recorder) TempDir() string { return r.t.TempDir() }

func (r *recorder) Deadline() (time.Time, bool) { return r.deadline, !r.deadline.IsZero() }

// run runs f as go test runs a test: in a goroutine of its own, then its cleanups, last first,
// each in a goroutine of its own, so that a cleanup that fails stops only itself.
func (r *recorder) run(f func(T)) {
	inGoroutine := func(f func()) {
		done := make(chan struct{})
		go func() { defer close(done); f() }()
		<-done
	}
	inGoroutine(func() { f(r) })
	for {
		r.mu.Lock()
		if len(r.cleanups) == 0 {
			r.mu.Unlock()
			return
		}
		cleanup := r.cleanups[len(r.cleanups)-1]
		r.cleanups = r.cleanups[:len(r.cleanups)-1]
		r.mu.Unlock()
		inGoroutine(cleanup)
	}
}

func (r *recorder) messages() string { return strings.Join(r.errors, "\n") }

// record runs the flow with a recorder.
func (d *dryRun) record(t *testing.T) *recorder {
	r := &recorder{t: t}
	r.run(func(t T) { deployedPipeline(t, d.config) })
	return r
}

// keys are the commands the flow ran, named as in call.key.
func keys(calls []call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.key())
	}
	return out
}

// steps collapses repeated commands (the polls) into one.
func steps(calls []call) []string {
	var out []string
	for _, k := range keys(calls) {
		if len(out) == 0 || out[len(out)-1] != k {
			out = append(out, k)
		}
	}
	return out
}

// happy is the command log of a dry run without failures, for the tests that inject failures at
// its steps: TestDryRun's, or one made for them.
var happy struct {
	sync.Mutex
	calls []call
}

// TestDryRun runs the whole flow against the fakes: every step passes, the cleanup deletes
// everything, every answer has a shape AWS documents.
func TestDryRun(t *testing.T) {
	tier.Deep(t)
	d := newDryRun(t)
	start := time.Now()
	t.Run("flow", func(t *testing.T) { deployedPipeline(t, d.config) })
	t.Logf("the dry run took %s, %d commands", time.Since(start).Round(time.Millisecond), len(d.cloud.calls))
	assert.Empty(t, d.cloud.leftovers(), "what the flow left in the account")
	assert.Equal(t, []string{
		"aws sts get-caller-identity", "aws sqs create-queue", "aws sqs get-queue-attributes", "aws sqs set-queue-attributes",
		"npx cdk deploy", "aws cloudformation list-stack-resources",
		// 1. the first release
		"aws codecommit get-branch", "aws codepipeline list-pipeline-executions",
		// 2. a change
		"aws codecommit put-file", "aws codepipeline list-pipeline-executions",
		// 3. a broken release
		"aws codecommit get-file", "aws codecommit put-file", "aws codepipeline list-pipeline-executions",
		"aws cloudformation list-stack-resources", "aws deploy list-deployments", "aws deploy batch-get-deployments",
		"aws codepipeline list-pipeline-executions",
		// 4. the events
		"aws sqs receive-message",
		// cleanup: the stack, what it retained, the queue
		"aws cloudformation list-stack-resources", "npx cdk destroy", "aws codecommit delete-repository",
		"aws s3api list-object-versions", "aws s3api delete-bucket", // the logs bucket: empty
		"aws s3api list-object-versions", "aws s3api delete-objects", "aws s3api list-object-versions", "aws s3api delete-bucket", // the artifacts
		"aws logs delete-log-group", "aws kms schedule-key-deletion", "aws sqs delete-queue",
	}, steps(d.cloud.calls))
	checkShapes(t, d.cloud.calls)
	require.NotNil(t, d.cloud.deployed)
	checkSeed(t, d.cloud.deployed, d.config)
	checkPlan(t, d.cloud.deployed, Default)
	if !t.Failed() {
		happy.Lock()
		happy.calls = d.cloud.calls
		happy.Unlock()
	}
}

// happyCalls is the command log of a dry run without failures.
func happyCalls(t *testing.T) []call {
	happy.Lock()
	defer happy.Unlock()
	if happy.calls == nil {
		d := newDryRun(t)
		r := d.record(t)
		require.False(t, r.failed, r.messages())
		happy.calls = d.cloud.calls
	}
	return happy.calls
}

// TestDryRunSelfUpdate runs the whole flow against the pipeline that deploys itself: the
// repository holds this app with the sample app in sample-app/ (Layout{SeedDir: "."}), and the
// flow changes the sample app there. Every execution runs the update stage's buildspec on its
// commit, which finds the stacks' digest unchanged and deploys nothing (a deploy would fail: the
// fake CLI emulates no update); the rest of the flow is the default's.
func TestDryRunSelfUpdate(t *testing.T) {
	tier.Deep(t)
	d := newDryRun(t)
	d.config = d.config.WithSelfUpdate()
	r := d.record(t)
	require.False(t, r.failed, r.messages())
	assert.Empty(t, d.cloud.leftovers(), "what the flow left in the account")
	assert.Equal(t, steps(happyCalls(t)), steps(d.cloud.calls), "the flow's commands are the default's")
	checkShapes(t, d.cloud.calls)
	require.NotNil(t, d.cloud.deployed)
	checkSeed(t, d.cloud.deployed, d.config)
	checkPlan(t, d.cloud.deployed, SelfUpdating)
	require.Len(t, d.cloud.updateLogs, 3, "the seed's, the change's and the broken release's executions")
	for _, log := range d.cloud.updateLogs {
		assert.Regexp(t, `^self-update: nothing outside sample-app/ changed since the deployed stacks were synthesized \(digest [0-9a-f]{12}\): nothing to deploy\n$`, log)
	}
	path, err := d.config.Layout.Path(UnitFile)
	require.NoError(t, err)
	assert.Equal(t, "sample-app/scripts/sample-app.service", path)
}

// TestDryRunOldPath: the unit's old path, sample-app/scripts/sample-app.service, is not in the
// repository, which holds the contents of sample-app/. The flow fails at step 3 as CodeCommit would
// make it fail, and still destroys everything.
func TestDryRunOldPath(t *testing.T) {
	tier.Deep(t)
	d := newDryRun(t)
	d.config.Layout = Layout{SeedDir: "."}
	d.config.DeleteRetained = false // the short cleanup: TestDryRun deletes what the stack retains
	path, err := d.config.Layout.Path(UnitFile)
	require.NoError(t, err)
	require.Equal(t, "sample-app/scripts/sample-app.service", path, "the path the flow read before the fix")
	r := d.record(t)
	require.True(t, r.failed)
	assert.Contains(t, r.messages(), "An error occurred (FileDoesNotExistException) when calling the GetFile operation")
	assert.Contains(t, r.messages(), "--file-path sample-app/scripts/sample-app.service")
	checkCleanup(t, d, r)
}

// TestDryRunFailures fails the flow at every step: the first time it runs each command of the
// flow, then in the cleanup. Each time it checks that the flow still destroys the stack and
// deletes the queue, in that order, and leaves nothing but what it reports.
func TestDryRunFailures(t *testing.T) {
	tier.Deep(t)
	calls := happyCalls(t)
	destroyAt := slices.Index(keys(calls), "npx cdk destroy")
	require.Positive(t, destroyAt)
	cleanupFrom := destroyAt - 1 // destroy lists the stack's resources first
	getBranch := slices.Index(keys(calls), "aws codecommit get-branch")
	injected := func(c command) error { return errorf("ThrottlingException", "injected failure of %s", c.key()) }
	run := func(t *testing.T, deleteRetained bool, fail func(n int, c command) bool) (*dryRun, *recorder) {
		d := newDryRun(t)
		d.config.DeleteRetained = deleteRetained
		d.cloud.fail = func(n int, c command) error {
			if fail(n, c) {
				return injected(c)
			}
			return nil
		}
		r := d.record(t)
		require.True(t, r.failed, "the flow must fail")
		checkCleanup(t, d, r)
		return d, r
	}
	seen := map[string]bool{}
	for at, k := range keys(calls[:cleanupFrom]) {
		if seen[k] {
			continue
		}
		seen[k] = true
		t.Run(fmt.Sprintf("%d %s", at, k), func(t *testing.T) {
			// The short cleanup: the stack and the queue; TestDryRun checks the long one.
			_, r := run(t, false, func(n int, _ command) bool { return n == at })
			assert.Contains(t, r.messages(), "injected failure of "+k)
		})
	}
	// In the cleanup, after the flow failed at step 1: each command fails the first time it runs.
	for _, k := range []string{"aws cloudformation list-stack-resources", "npx cdk destroy", "aws sqs delete-queue"} {
		t.Run("cleanup "+k, func(t *testing.T) {
			_, r := run(t, false, func(n int, c command) bool { return n == getBranch || n > getBranch && c.key() == k })
			assert.Contains(t, r.messages(), "injected failure of "+k)
		})
	}
	t.Run("cleanup: every deletion of what the stack retains", func(t *testing.T) {
		failed := map[string]bool{}
		deletions := map[string]bool{}
		for _, c := range calls[destroyAt+1:] {
			if k := c.key(); k != "aws sqs delete-queue" {
				deletions[k] = true
			}
		}
		d, r := run(t, true, func(n int, c command) bool {
			if n == getBranch {
				return true
			}
			k := c.key()
			if n > getBranch && deletions[k] && !failed[k] {
				failed[k] = true
				return true
			}
			return false
		})
		// Every retained resource was still attempted: each log group and key, each bucket.
		attempts := func(calls []call) map[string]int {
			out := map[string]int{}
			buckets := map[string]bool{}
			for _, c := range calls {
				switch k := c.key(); k {
				case "aws codecommit delete-repository", "aws logs delete-log-group", "aws kms schedule-key-deletion":
					out[k]++
				case "aws s3api list-object-versions":
					buckets[c.Args[slices.Index(c.Args, "--bucket")+1]] = true
				}
			}
			out["buckets"] = len(buckets)
			return out
		}
		assert.Equal(t, attempts(calls), attempts(d.cloud.calls))
		assert.Len(t, failed, len(deletions)-1, "every deletion command but delete-bucket failed once: %v", failed)
		assert.Contains(t, r.messages(), "injected failure of aws s3api delete-objects")
	})
}

// TestDryRunServiceFailures fails what only the services can fail: each step of the flow stops,
// and the cleanup still runs.
func TestDryRunServiceFailures(t *testing.T) {
	tier.Deep(t)
	for _, tc := range []struct {
		name   string
		script script
		want   string
		config func(*Config)
	}{
		{"the first release does not build", script{buildFails: true}, "the first execution", nil},
		{"no execution ever finishes", script{neverFinishes: true}, "no finished execution of",
			func(c *Config) { c.Limits.Release, c.Poll = 100*time.Millisecond, 25*time.Millisecond }},
		{"the load balancer never has a healthy target", script{neverServes: true}, "Not equal",
			func(c *Config) { c.Limits.Served, c.HealthPause = 50*time.Millisecond, 10*time.Millisecond }},
		{"CodeDeploy does not roll back", script{noCodeDeployRoll: true}, "a rollback deployment succeeded", nil},
		{"no event reaches the queue", script{dropDeliveries: true}, "CodePipeline Pipeline Execution State Change SUCCEEDED", nil},
		{"a self-updating pipeline's repository without the app", script{sampleAppOnly: true}, "the first execution",
			func(c *Config) { *c = c.WithSelfUpdate() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDryRun(t)
			d.config.DeleteRetained = false
			d.cloud.script = tc.script
			if tc.config != nil {
				tc.config(&d.config)
			}
			r := d.record(t)
			require.True(t, r.failed)
			assert.Contains(t, r.messages(), tc.want)
			if tc.script.sampleAppOnly {
				require.NotEmpty(t, d.cloud.updateLogs)
				assert.Equal(t, "self-update: the repository holds no CDK app at its root (cdk.json, go.mod, package-lock.json, sample-app/): push this pipeline's app there first, see docs/self-update.md\n",
					d.cloud.updateLogs[0], "the update fails at once, one line")
			}
			checkCleanup(t, d, r)
		})
	}
}

// TestDryRunDeadline: a wait that would run into go test's -timeout gives up early enough for the
// cleanup, which a test that times out never runs.
func TestDryRunDeadline(t *testing.T) {
	tier.Deep(t)
	d := newDryRun(t)
	d.config.DeleteRetained = false
	d.cloud.script.neverFinishes = true
	d.config.Limits.Release, d.config.Poll = time.Hour, 50*time.Millisecond
	d.config.CleanupReserve = time.Hour
	r := &recorder{t: t, deadline: time.Now().Add(time.Hour + 300*time.Millisecond)}
	start := time.Now()
	r.run(func(t T) { deployedPipeline(t, d.config) })
	assert.Less(t, time.Since(start), time.Minute)
	require.True(t, r.failed)
	// Depending on this machine's speed, the first wait is cut short or not even started.
	assert.Regexp(t, "no finished execution of .* after [0-9.]+m?s|-timeout is too close", r.messages())
	checkCleanup(t, d, r)
	assert.True(t, slices.ContainsFunc(r.logs, func(s string) bool { return strings.Contains(s, "a long wait gives up early") }), r.logs)
}

// cleanupKeys are the commands of the flow's cleanup.
var cleanupKeys = map[string]bool{
	"aws cloudformation list-stack-resources": true, "npx cdk destroy": true, "aws codecommit delete-repository": true,
	"aws s3api list-object-versions": true, "aws s3api delete-objects": true, "aws s3api delete-bucket": true,
	"aws logs delete-log-group": true, "aws kms schedule-key-deletion": true, "aws sqs delete-queue": true,
}

// checkCleanup checks what the flow did after a failure: nothing but its cleanup; the stack
// destroyed before the queue is deleted; and nothing left in the account but what a failing cleanup
// command kept, one resource for each, which the flow reported.
func checkCleanup(t *testing.T, d *dryRun, r *recorder) {
	t.Helper()
	calls, k := d.cloud.calls, keys(d.cloud.calls)
	t.Logf("%d commands", len(calls))
	deployAt, destroyAt, queueAt := slices.Index(k, "npx cdk deploy"), slices.Index(k, "npx cdk destroy"), slices.Index(k, "aws sqs create-queue")
	firstCleanup := len(calls)
	if destroyAt >= 0 {
		firstCleanup = destroyAt - 1
	} else if i := slices.Index(k, "aws sqs delete-queue"); i >= 0 {
		firstCleanup = i
	}
	for _, key := range k[firstCleanup:] {
		assert.True(t, cleanupKeys[key], "after the failure the flow ran %s", key)
	}
	if deployAt >= 0 {
		require.Greater(t, destroyAt, deployAt, "a deploy, even a failed one, is destroyed")
		assert.Equal(t, "aws cloudformation list-stack-resources", k[destroyAt-1], "destroy reads what the stack retains first")
	} else {
		assert.Equal(t, -1, destroyAt, "nothing deployed, nothing destroyed")
	}
	queueCreated := queueAt >= 0 && calls[queueAt].Code == 0
	if queueCreated {
		assert.Equal(t, "aws sqs delete-queue", k[len(k)-1], "the queue goes last, after the stack that delivers to it")
	} else {
		assert.NotContains(t, k, "aws sqs delete-queue")
	}
	failed := map[string]int{}
	for _, c := range calls[firstCleanup:] {
		if c.Code != 0 {
			failed[c.key()]++
			assert.Contains(t, r.messages(), c.Stderr, "the flow reports the failure of %s", c.key())
		}
	}
	left := d.cloud.leftovers()
	destroyed := destroyAt >= 0 && calls[destroyAt].Code == 0
	if !d.config.DeleteRetained {
		// Without -delete-retained what the stack retains stays, and the flow says what.
		var rest []string
		for _, l := range left {
			if !regexp.MustCompile("^(repository|bucket|log group|key) ").MatchString(l) {
				rest = append(rest, l)
			}
		}
		left = rest
		if destroyed && deployAt >= 0 && calls[deployAt].Code == 0 {
			assert.True(t, slices.ContainsFunc(r.logs, func(s string) bool { return strings.Contains(s, "kept the retained resources") }))
		}
	}
	switch {
	case failed["npx cdk destroy"] > 0:
		assert.Equal(t, []string{"stack " + stack}, left)
		assert.Contains(t, r.messages(), "MAY STILL EXIST")
	case failed["aws cloudformation list-stack-resources"] > 0:
		// Destroy cannot find what the stack retains: it says so, and destroys the rest.
		assert.Contains(t, r.messages(), "what it retained is not deleted")
	default:
		// Each deletion that failed leaves what it deletes; the others ran.
		n := 0
		for _, c := range failed {
			n += c
		}
		assert.Len(t, left, n, "left: %v", left)
	}
}
