package rehearsal_test

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// appspec is the part of the AppSpec reference (EC2/on-premises, version 0.0) the agent
// emulation reads.
type appspec struct {
	Version string `yaml:"version"`
	OS      string `yaml:"os"`
	Files   []struct {
		Source      string `yaml:"source"`
		Destination string `yaml:"destination"`
	} `yaml:"files"`
	FileExistsBehavior string `yaml:"file_exists_behavior"`
	Permissions        []struct {
		Object string   `yaml:"object"`
		Owner  string   `yaml:"owner"`
		Group  string   `yaml:"group"`
		Mode   string   `yaml:"mode"` // octal digits, as the agent reads them
		Type   []string `yaml:"type"`
	} `yaml:"permissions"`
	Hooks map[string][]struct {
		Location string `yaml:"location"`
		Timeout  int    `yaml:"timeout"`
		Runas    string `yaml:"runas"`
	} `yaml:"hooks"`
}

// instanceJob is what the rehearsal's instance plays, handed to the test binary that runs itself
// inside the namespaces (TestMain).
type instanceJob struct {
	Dir         string          // the instance's own folder
	Shims       string          // the stand-ins for what needs systemd
	HookEnv     []string        // added to every hook's environment
	TargetGroup targetGroup     // the load balancer's health check, from the synthesized stack
	Probe       time.Duration   // the pause between two health checks
	Deployments []deploymentJob // in order
}

// deploymentJob is one CodeDeploy deployment to the instance.
type deploymentJob struct {
	ID     string
	Bundle string // the revision, a zip as CodePipeline hands it to CodeDeploy
	// IgnoreApplicationStopFailures is CreateDeployment's flag: the pipeline's deployments and
	// CodeDeploy's automatic rollbacks of them leave it off; an operator may set it.
	IgnoreApplicationStopFailures bool
	Env                           []string // added to this deployment's hooks' environment
}

type deploymentResult struct {
	ID          string
	Status      string // Succeeded or Failed
	FailedEvent string
	Error       string
	Events      []eventResult
}

type eventResult struct {
	Name     string
	Status   string // Succeeded, Failed or Ignored (ignoreApplicationStopFailures)
	Error    string
	Revision string // the deployment folder the hooks came from; "" when there was none
	Log      string // the hooks' output as the agent logs it, or the health checks'
	Took     time.Duration
}

// event returns r's event named name.
func (r deploymentResult) event(t *testing.T, name string) eventResult {
	t.Helper()
	for _, e := range r.Events {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("deployment %s did not reach %s: %s at %s: %s", r.ID, name, r.Status, r.FailedEvent, r.Error)
	return eventResult{}
}

// roleVariable tells the test binary, started again by the rehearsal, which part to play.
const roleVariable = "CDK_PIPELINE_REHEARSAL_ROLE"

// unshare is how the instance gets its namespaces: a user namespace whose root is the caller
// (so that it needs no privilege), with private mounts and a private network.
var unshare = []string{"unshare", "--map-root-user", "--mount", "--net", "--propagation", "private"}

// instancePath is the PATH of the instance: the stand-ins first, then Amazon Linux's.
func instancePath(shims string) string {
	return shims + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

// running is an instance playing its deployments.
type running struct {
	job  instanceJob
	cmd  *exec.Cmd
	out  strings.Builder
	err  error         // how the instance ended, once done is closed
	done chan struct{} // closed when the instance ends
}

// start starts an instance in fresh namespaces, playing job. A deployment whose bundle does not
// exist yet waits for it (see waitForBundle).
func start(t *testing.T, job instanceJob) *running {
	t.Helper()
	for _, dir := range []string{"opt", "units", "layer", "state", "agent"} {
		if err := os.MkdirAll(filepath.Join(job.Dir, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := &running{job: job, cmd: role(t, "instance", job), done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	return r
}

// wait waits for the instance to play every deployment, and returns each one's result.
func (r *running) wait(t *testing.T) map[string]deploymentResult {
	t.Helper()
	<-r.done
	err := r.err
	var results []deploymentResult
	if b, rerr := os.ReadFile(filepath.Join(r.job.Dir, "results.json")); rerr == nil {
		_ = json.Unmarshal(b, &results)
	}
	if err != nil || len(results) != len(r.job.Deployments) {
		t.Fatalf("the instance could not play the deployments: %v\n%s", err, r.out.String())
	}
	byID := map[string]deploymentResult{}
	for _, d := range results {
		byID[d.ID] = d
	}
	return byID
}

// role returns the command that runs the test binary as role in fresh namespaces, with job as
// its input.
func role(t *testing.T, name string, job any) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare[0], append(unshare[1:], self)...)
	cmd.Env = append(os.Environ(), roleVariable+"="+name, "CDK_PIPELINE_REHEARSAL_JOB="+string(b))
	return cmd
}

// waitForBundle waits until the revision exists: the rehearsal starts the instance while the
// second build still runs. A file named bundle+".abort" ends the wait.
func waitForBundle(bundle string) error {
	for {
		if _, err := os.Stat(bundle); err == nil {
			return nil
		}
		if _, err := os.Stat(bundle + ".abort"); err == nil {
			return fmt.Errorf("the revision %s was never built", bundle)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// instance plays the job in its namespaces: the loopback up, /etc a private overlay whose
// accounts are a fresh Amazon Linux's, /opt and /etc/systemd/system private folders; then the
// deployments, one after the other, by the agent emulation (agent_test.go).
func instance(job instanceJob) error {
	if err := isolate(job.Dir); err != nil {
		return err
	}
	// The agent's own PATH, which its commands (su) and every hook inherit.
	os.Setenv("PATH", instancePath(job.Shims))
	a := &agent{
		root: filepath.Join(job.Dir, "agent"), group: "rehearsal-group", targetGroup: job.TargetGroup, probe: job.Probe,
		groups: map[int]struct{}{},
		env: append([]string{"PATH=" + instancePath(job.Shims), "SHIM_STATE=" + filepath.Join(job.Dir, "state"), "LANG=C.UTF-8"},
			job.HookEnv...),
	}
	var results []deploymentResult
	for _, d := range job.Deployments {
		results = append(results, a.deploy(d))
	}
	// The rehearsal's own cleanup: the service, and whatever a hook left running.
	stop := exec.Command("systemctl", "stop", "sample-app.service")
	stop.Env = a.env
	_ = stop.Run()
	for pgid := range a.groups {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	b, err := json.Marshal(results)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(job.Dir, "results.json"), b, 0o644)
}

// instanceAddress is the instance's private address in the fleet's VPC (the CDK's default
// 10.0.0.0/16), which the load balancer's health checks reach; the rehearsal gives it to the
// instance's network namespace beside 127.0.0.1.
const instanceAddress = "10.0.0.10"

// accounts are a fresh Amazon Linux 2023's system accounts, enough for useradd to add to.
var accounts = map[string]string{
	"passwd":  "root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n",
	"group":   "root:x:0:\nbin:x:1:\ndaemon:x:2:\nnobody:x:65534:\n",
	"shadow":  "root:*::0:99999:7:::\nbin:*::0:99999:7:::\ndaemon:*::0:99999:7:::\nnobody:*::0:99999:7:::\n",
	"gshadow": "root:::\nbin:::\ndaemon:::\nnobody:::\n",
}

// isolate makes the namespaces the instance's: it runs in them already (unshare), as their root.
func isolate(dir string) error {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("ip link set lo up: %v: %s", err, out)
	}
	// The instance's private address, where the load balancer's health checks arrive: an app that
	// listens on 127.0.0.1 alone passes validate_service.sh and fails them.
	if out, err := exec.Command("ip", "address", "add", instanceAddress+"/32", "dev", "lo").CombinedOutput(); err != nil {
		return fmt.Errorf("ip address add %s: %v: %s", instanceAddress, err, out)
	}
	// The overlay's upper layer lives in a tmpfs of the namespace's own, whatever file system
	// TMPDIR is on.
	layer := filepath.Join(dir, "layer")
	if err := syscall.Mount("tmpfs", layer, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	upper, work := filepath.Join(layer, "upper"), filepath.Join(layer, "work")
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	// The accounts files, with the backups and the lock that useradd writes beside them.
	files := map[string]string{".pwd.lock": ""}
	for name, content := range accounts {
		files[name], files[name+"-"] = content, content
	}
	for name, content := range files {
		mode := os.FileMode(0o644)
		if strings.Contains(name, "shadow") || name == ".pwd.lock" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(upper, name), []byte(content), mode); err != nil {
			return err
		}
	}
	if err := syscall.Mount("overlay", "/etc", "overlay", 0, "lowerdir=/etc,upperdir="+upper+",workdir="+work); err != nil {
		return fmt.Errorf("mount an overlay on /etc: %w", err)
	}
	if err := os.MkdirAll("/etc/systemd/system", 0o755); err != nil {
		return err
	}
	for target, source := range map[string]string{"/etc/systemd/system": "units", "/opt": "opt"} {
		if err := syscall.Mount(filepath.Join(dir, source), target, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", target, err)
		}
	}
	return nil
}

// variant writes a copy of the bundle at base with some files replaced, as a release with those
// changes would be built.
func variant(t *testing.T, base, out string, replace map[string]string) {
	t.Helper()
	r, err := zip.OpenReader(base)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := zip.NewWriter(f)
	for _, entry := range r.File {
		h := entry.FileHeader
		dst, err := w.CreateHeader(&h)
		if err != nil {
			t.Fatal(err)
		}
		if content, ok := replace[entry.Name]; ok {
			_, err = io.WriteString(dst, content)
		} else {
			var src io.ReadCloser
			if src, err = entry.Open(); err == nil {
				_, err = io.Copy(dst, src)
				src.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// targetGroup is the load balancer's health check of the instances, read from the synthesized
// AWS::ElasticLoadBalancingV2::TargetGroup (defaults from its CloudFormation reference).
type targetGroup struct {
	Port      int    // the traffic port
	CheckPort string // HealthCheckPort: "traffic-port" or a number
	Protocol  string
	Path      string
	Timeout   time.Duration
	Healthy   int    // HealthyThresholdCount
	Unhealthy int    // UnhealthyThresholdCount
	Codes     string // Matcher.HttpCode
}

// allowTraffic plays AllowTraffic: the target is registered, and the load balancer checks it
// until it is healthy (Healthy successes in a row) or unhealthy (Unhealthy failures in a row).
// A check succeeds when the answer comes within the timeout with a status in Codes. CodeDeploy
// waits for a healthy target and fails AllowTraffic otherwise; the rehearsal stops at unhealthy.
// The checks go to host, the instance's private address. It returns a line per check.
func (tg targetGroup) allowTraffic(host string, pause time.Duration) (string, error) {
	if tg.Protocol != "HTTP" {
		return "", fmt.Errorf("the rehearsal checks HTTP targets; the target group's protocol is %s", tg.Protocol)
	}
	port := strconv.Itoa(tg.Port)
	if tg.CheckPort != "" && tg.CheckPort != "traffic-port" {
		port = tg.CheckPort
	}
	url := "http://" + host + ":" + port + tg.Path
	client := &http.Client{Timeout: tg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var log strings.Builder
	ok, failed := 0, 0
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("User-Agent", "ELB-HealthChecker/2.0")
		resp, err := client.Do(req)
		var outcome string
		healthy := false
		if err != nil {
			outcome = err.Error()
		} else {
			resp.Body.Close()
			outcome = resp.Status
			healthy = matches(tg.Codes, resp.StatusCode)
		}
		fmt.Fprintf(&log, "health check GET %s: %s\n", url, outcome)
		if healthy {
			ok, failed = ok+1, 0
		} else {
			ok, failed = 0, failed+1
		}
		switch {
		case ok >= tg.Healthy:
			return log.String(), nil
		case failed >= tg.Unhealthy:
			return log.String(), fmt.Errorf("the target is unhealthy in the target group (%s on %s): AllowTraffic fails", outcome, tg.Path)
		}
		time.Sleep(pause)
	}
}

// matches reports whether status is in an ELB matcher: codes and ranges separated by commas
// ("200", "200,202", "200-299").
func matches(codes string, status int) bool {
	for _, part := range strings.Split(codes, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && l <= status && status <= h {
			return true
		}
	}
	return false
}

// unhealthyApp is a release that starts and serves, but answers 503 on every path but /.
func unhealthyApp() error {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			fmt.Fprintln(w, "a release whose health check fails")
			return
		}
		http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return http.ListenAndServe(":"+port, mux)
}

// pause shortens validate_service.sh's pause between tries from 2 s: the checks are the same, the
// rehearsal only waits less for the service to answer.
const pause = "VALIDATE_PAUSE_SECONDS=0.2"

// validateBudget shortens validate_service.sh's budget from 90 s for the releases that should
// pass (the app answers within milliseconds here), so that a break that keeps them from passing
// fails the rehearsal in seconds: 5 s, or CDK_PIPELINE_REHEARSAL_VALIDATE_BUDGET on a slow
// machine. The releases that should fail get 1 or 2 s.
func validateBudget() string {
	if b := os.Getenv("CDK_PIPELINE_REHEARSAL_VALIDATE_BUDGET"); b != "" {
		return "VALIDATE_BUDGET_SECONDS=" + b
	}
	return "VALIDATE_BUDGET_SECONDS=5"
}
