package rehearsal_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hook writes script as archive/scripts/hook.sh, with mode, and runs it as the agent would, with
// timeout. It returns the log, the error, and how long the agent waited.
func hook(t *testing.T, script string, mode os.FileMode, runas string, timeout time.Duration) (string, error, time.Duration) {
	t.Helper()
	archive := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(archive, "scripts"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(archive, "scripts", "hook.sh"), []byte(script), mode))
	shims, err := filepath.Abs("testdata/shims")
	require.NoError(t, err)
	t.Setenv("PATH", instancePath(shims)) // where the agent finds su
	log := &scriptLog{}
	started := time.Now()
	pgid, err := executeScript(hookScript{Location: "scripts/hook.sh", Runas: runas, Timeout: timeout}, archive,
		[]string{"PATH=" + instancePath(shims), "LIFECYCLE_EVENT=ApplicationStart"}, log)
	waited := time.Since(started)
	if pgid > 0 {
		t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	}
	return log.String(), err, waited
}

// TestHookOutput: the agent tags each line of a hook's output with its stream, and passes the
// lifecycle variables.
func TestHookOutput(t *testing.T) {
	log, err, _ := hook(t, "#!/bin/sh\necho \"out $LIFECYCLE_EVENT\"\necho err >&2\n", 0o755, "", time.Second)
	require.NoError(t, err)
	assert.Contains(t, log, "[stdout]out ApplicationStart\n")
	assert.Contains(t, log, "[stderr]err\n")
}

// TestHookMadeExecutable: a hook without its executable bit (lost in a zip) is made executable
// and run (hook_executor.rb lines 133-140).
func TestHookMadeExecutable(t *testing.T) {
	log, err, _ := hook(t, "#!/bin/sh\necho ran\n", 0o644, "", time.Second)
	require.NoError(t, err)
	assert.Contains(t, log, "[stdout]ran")
}

func TestHookExitStatus(t *testing.T) {
	_, err, _ := hook(t, "#!/bin/sh\nexit 3\n", 0o755, "", time.Second)
	require.EqualError(t, err, "Script at specified location: scripts/hook.sh failed with exit code 3")
	_, err, _ = hook(t, "#!/bin/sh\nexit 3\n", 0o755, "root", time.Second)
	require.EqualError(t, err, "Script at specified location: scripts/hook.sh run as user root failed with exit code 3")
}

// TestHookRunsAsItsUser: with runas the agent runs `su <runas> -c <script>`. An account whose
// shell refuses logins (nobody, /usr/sbin/nologin) cannot run hooks; an unknown one neither.
func TestHookRunsAsItsUser(t *testing.T) {
	log, err, _ := hook(t, "#!/bin/sh\necho \"$HOME $SHELL\"\n", 0o755, "root", time.Second)
	require.NoError(t, err)
	assert.Contains(t, log, "[stdout]/root /bin/bash", "su sets HOME and SHELL from the account")
	log, err, _ = hook(t, "#!/bin/sh\necho ran\n", 0o755, "nobody", time.Second)
	require.Error(t, err)
	assert.NotContains(t, log, "ran")
	assert.Contains(t, log, "This account is currently not available.")
	log, err, _ = hook(t, "#!/bin/sh\necho ran\n", 0o755, "no_such_user", time.Second)
	require.Error(t, err)
	assert.Contains(t, log, "su: user no_such_user does not exist")
}

func TestHookMissing(t *testing.T) {
	archive := t.TempDir()
	_, err := executeScript(hookScript{Location: "scripts/missing.sh", Timeout: time.Second}, archive, nil, &scriptLog{})
	require.EqualError(t, err, "Script does not exist at specified location: "+filepath.Join(archive, "scripts/missing.sh"))
}

// TestHookTimeout: a hook still running at its timeout fails, and its process group, the
// children it started included, gets SIGTERM.
func TestHookTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	_, err, waited := hook(t, fmt.Sprintf("#!/bin/sh\nsleep 30 >/dev/null 2>&1 &\necho $! >%s\nsleep 30\n", pidFile), 0o755, "", 300*time.Millisecond)
	require.EqualError(t, err, "Script at specified location: scripts/hook.sh failed to complete in 0 seconds")
	assert.Less(t, waited, 2*time.Second)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	assert.Eventually(t, func() bool { return !alive(pid) }, 2*time.Second, 20*time.Millisecond, "the hook's child got SIGTERM")
}

// TestHookLeavesOutputOpen: a hook that exits but leaves a process holding its stdout (or
// stderr) fails once its timeout is up, whatever its exit status (hook_executor.rb lines
// 184-193); a process with its own outputs does not hold the hook up.
func TestHookLeavesOutputOpen(t *testing.T) {
	_, err, waited := hook(t, "#!/bin/sh\nsleep 30 &\nexit 0\n", 0o755, "", 300*time.Millisecond)
	require.EqualError(t, err, "Script at specified location: scripts/hook.sh failed to close STDOUT")
	assert.GreaterOrEqual(t, waited, 300*time.Millisecond, "the agent waits until the hook's timeout")
	_, err, _ = hook(t, "#!/bin/sh\nsleep 30 >/dev/null &\nexit 0\n", 0o755, "", 300*time.Millisecond)
	require.EqualError(t, err, "Script at specified location: scripts/hook.sh failed to close STDERR")
	_, err, waited = hook(t, "#!/bin/sh\nsleep 30 >/dev/null 2>&1 &\nexit 0\n", 0o755, "", 5*time.Second)
	require.NoError(t, err)
	assert.Less(t, waited, time.Second)
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// A zombie has exited; it waits for this machine's init to reap it.
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestHealthCheck: the load balancer's check passes on the target group's success codes within
// its timeout, and marks the target unhealthy otherwise.
func TestHealthCheck(t *testing.T) {
	status := http.StatusOK
	var agent string
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent = r.UserAgent()
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer server.Close()
	u, err := url.Parse(server.URL)
	require.NoError(t, err)
	port, _ := strconv.Atoi(u.Port())
	tg := targetGroup{Port: port, CheckPort: "traffic-port", Protocol: "HTTP", Path: "/health", Timeout: time.Second, Healthy: 2, Unhealthy: 2, Codes: "200"}
	log, err := tg.allowTraffic("127.0.0.1", time.Millisecond)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(log, "200 OK"), "two checks in a row")
	assert.Equal(t, "ELB-HealthChecker/2.0", agent)

	status = http.StatusServiceUnavailable
	_, err = tg.allowTraffic("127.0.0.1", time.Millisecond)
	require.ErrorContains(t, err, "503 Service Unavailable")

	tg.Path = "/healthz"
	_, err = tg.allowTraffic("127.0.0.1", time.Millisecond)
	require.ErrorContains(t, err, "404 Not Found", "the check goes to the target group's path")

	tg.Path, tg.Codes, status = "/health", "200-299", http.StatusNoContent
	_, err = tg.allowTraffic("127.0.0.1", time.Millisecond)
	require.NoError(t, err)

	tg.CheckPort = strconv.Itoa(port + 1)
	_, err = tg.allowTraffic("127.0.0.1", time.Millisecond)
	require.ErrorContains(t, err, "connect", "the check goes to HealthCheckPort when it is set")
}

func TestMatcher(t *testing.T) {
	statuses := []int{200, 202, 250, 299, 300, 503}
	for codes, want := range map[string][]bool{
		"200":     {true, false, false, false, false, false},
		"200,202": {true, true, false, false, false, false},
		"200-299": {true, true, true, true, false, false},
	} {
		for i, status := range statuses {
			assert.Equal(t, want[i], matches(codes, status), "%s %d", codes, status)
		}
	}
}
