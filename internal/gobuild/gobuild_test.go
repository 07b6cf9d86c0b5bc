package gobuild

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	formatter = Module + "/constructs/notification/formatter"
	function  = Module + "/constructs/delivery/function"
)

// repository is this checkout's root, the module's folder.
func repository(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	require.NoError(t, err)
	return dir
}

// TestBuild: a function is a static Linux arm64 executable named as the OS-only runtime expects,
// with no path of the build machine in it and no RPC mode, kept in the user's cache folder (here a
// new one, as another user's); builds of the same package at once wait for each other; a package
// that does not build stops with the compiler's words. (That an up-to-date binary is not linked
// again is the go command's doing, and shows in scripts/bench, not in a file's times: the go
// command touches the binary it keeps.)
func TestBuild(t *testing.T) {
	home, _ := os.UserHomeDir()
	keepGoCaches(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	bin, err := Binary(formatter)
	require.NoError(t, err)
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	kept, err := filepath.Glob(filepath.Join(cache, "cdk-pipeline", "gofunc", "*", "github_com_pipekit_cdk-pipeline_constructs_notification_formatter", "bootstrap"))
	require.NoError(t, err)
	require.Len(t, kept, 1)
	assert.Equal(t, bin, read(t, kept[0]))
	f, err := elf.Open(kept[0])
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, elf.EM_AARCH64, f.Machine)
	assert.Equal(t, elf.ELFOSABI_NONE, f.OSABI)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "statically linked: no dynamic loader")
	}
	for _, path := range []string{repository(t), home, os.Getenv("GOMODCACHE")} {
		assert.False(t, bytes.Contains(bin, []byte(path+"/")), "the binary names %s", path)
	}
	assert.False(t, bytes.Contains(bin, []byte("net/rpc")), "no RPC mode (lambda.norpc)")

	var wg sync.WaitGroup
	bins := make([][]byte, 3)
	errs := make([]error, 3)
	for i := range bins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bins[i], errs[i] = Binary(formatter)
		}()
	}
	wg.Wait()
	for i := range bins {
		require.NoError(t, errs[i])
		assert.Equal(t, bin, bins[i], "reproducible, and whole")
	}

	out := filepath.Join(t.TempDir(), "bootstrap")
	err = Build(Module+"/internal/nosuchpackage", out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gofunc: building github.com/pipekit/cdk-pipeline/internal/nosuchpackage for Lambda")
	assert.EqualError(t, Build("example.com/other", out), "gofunc: example.com/other is not a package of module github.com/pipekit/cdk-pipeline")
}

// keepGoCaches pins the go command's build and module caches, so that a test may move HOME and
// the user cache folder without building everything again.
func keepGoCaches(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	require.NoError(t, err)
	values := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, values, 3)
	for i, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		t.Setenv(k, values[i])
	}
}

// TestModuleDir: the functions are built from the library's own folder as the app's go command
// finds it: this checkout; the target of an app's replace; for a vendored app, the module as the
// module cache or the go command has it (vendor/ holds only what the app imports). Where the go
// command finds no module, the error is one line that names the fix.
func TestModuleDir(t *testing.T) {
	repo := repository(t)
	dir, err := moduleDir(repo)
	require.NoError(t, err)
	assert.Equal(t, repo, dir)

	app := t.TempDir()
	write(t, app, "go.mod", "module example.com/app\n\ngo 1.26.0\n\nrequire "+Module+" v0.0.0\n\nreplace "+Module+" => "+repo+"\n")
	write(t, app, "main.go", "package main\n\nimport _ \""+Module+"/settings\"\n\nfunc main() {}\n")
	dir, err = moduleDir(app)
	require.NoError(t, err)
	assert.Equal(t, repo, dir)

	// Vendored, with this module's go.sum (a superset of the app's), offline.
	write(t, app, "go.sum", string(read(t, filepath.Join(repo, "go.sum"))))
	vendor := exec.Command("go", "mod", "vendor")
	vendor.Dir = app
	vendor.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := vendor.CombinedOutput()
	require.NoError(t, err, string(out))
	require.FileExists(t, filepath.Join(app, "vendor", "modules.txt"))
	require.NoDirExists(t, filepath.Join(app, "vendor", "github.com", "pipekit", "cdk-pipeline", "constructs"), "vendor/ has no function")
	dir, err = moduleDir(app)
	require.NoError(t, err)
	assert.Equal(t, repo, dir)

	nowhere := t.TempDir()
	_, err = moduleDir(nowhere)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, err.Error(), "gofunc: the stack's Lambda functions are built from the source of module github.com/pipekit/cdk-pipeline, which the go command in "+nowhere+" cannot find (")
	assert.True(t, strings.HasSuffix(err.Error(), "; run `go mod download github.com/pipekit/cdk-pipeline` there"), err.Error())
}

// TestRuntimeAPI runs the formatter as Lambda does, through aws-lambda-go and a fake runtime API:
// it asks for an event, and an event it cannot read fails the invocation with its reason, which
// Lambda then retries and keeps in the dead-letter queue.
func TestRuntimeAPI(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	require.NoError(t, buildFor(repository(t), formatter, bin, "", ""))
	reported := make(chan string, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/2018-06-01/runtime/invocation/next":
			if len(reported) > 0 {
				<-r.Context().Done()
				return
			}
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", "r-1")
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
			_, _ = w.Write([]byte("[]")) // JSON, but no event
		case "/2018-06-01/runtime/invocation/r-1/error":
			b, _ := io.ReadAll(r.Body)
			w.WriteHeader(http.StatusAccepted)
			reported <- string(b)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	defer api.CloseClientConnections()
	cmd := exec.Command(bin)
	cmd.Env = lambdaEnvironment(t, api.Listener.Addr().String())
	require.NoError(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case body := <-reported:
		var e struct{ ErrorMessage string }
		require.NoError(t, json.Unmarshal([]byte(body), &e), body)
		assert.True(t, strings.HasPrefix(e.ErrorMessage, "reading the event: "), body)
	case <-time.After(20 * time.Second):
		t.Fatal("the function reported no error")
	}
}

// lambdaEnvironment is what Lambda gives the stack's functions, with the runtime API at api.
func lambdaEnvironment(t testing.TB, api string) []string {
	return []string{
		"AWS_LAMBDA_RUNTIME_API=" + api, "AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=a", "AWS_SECRET_ACCESS_KEY=s", "AWS_SESSION_TOKEN=t", "AWS_LAMBDA_FUNCTION_NAME=f",
		"TOPIC_ARN=arn:aws:sns:eu-west-1:123456789012:Messages",
		"PIPELINE=p", "STAGES=Deploy", "TABLE=t", "NAMESPACE=n",
		"HOME=" + t.TempDir(),
	}
}

// BenchmarkColdStart measures each function's start in a new execution environment, from the
// process start to its first request for an invocation (Lambda's runtime API, faked), built as
// for Lambda but for the build machine's platform: the Go runtime, the packages' initialization,
// the AWS configuration and clients, aws-lambda-go. docs/performance.md keeps its result.
func BenchmarkColdStart(b *testing.B) {
	for _, pkg := range []string{formatter, function} {
		b.Run(filepath.Base(pkg), func(b *testing.B) {
			bin := filepath.Join(b.TempDir(), "bootstrap")
			if err := buildFor(repository(b), pkg, bin, "", ""); err != nil {
				b.Fatal(err)
			}
			var starts []time.Duration
			for b.Loop() {
				starts = append(starts, coldStart(b, bin))
			}
			sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
			b.ReportMetric(float64(starts[len(starts)/2].Microseconds())/1000, "ms-median")
		})
	}
}

// coldStart runs bin as Lambda would, and returns how long it took to ask for its first event.
func coldStart(b *testing.B, bin string) time.Duration {
	asked := make(chan struct{}, 1)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer api.Close()
	defer api.CloseClientConnections()
	cmd := exec.Command(bin)
	cmd.Env = lambdaEnvironment(b, api.Listener.Addr().String())
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	select {
	case <-asked:
		return time.Since(start)
	case <-time.After(10 * time.Second):
		b.Fatal("the function never asked for an event")
		return 0
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
