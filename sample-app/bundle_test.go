package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAppSpecHooks checks the CodeDeploy bundle: every lifecycle hook the deployment relies on is
// declared, and each script exists, starts with a bash shebang and parses. It does not require
// the executable bit: the repository is seeded and checked out without file modes, and the
// CodeDeploy agent makes a hook script executable before it runs it.
func TestAppSpecHooks(t *testing.T) {
	appspec := read(t, "appspec.yml")
	for _, hook := range []string{"ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"} {
		if !regexp.MustCompile(`(?m)^  ` + hook + `:$`).MatchString(appspec) {
			t.Errorf("appspec.yml lacks the %s hook", hook)
		}
	}
	scripts := regexp.MustCompile(`location: (\S+)`).FindAllStringSubmatch(appspec, -1)
	if len(scripts) != 5 {
		t.Fatalf("%d hook scripts, want 5", len(scripts))
	}
	for _, m := range scripts {
		if !strings.HasPrefix(read(t, m[1]), "#!/usr/bin/env bash\n") {
			t.Errorf("hook script %s does not start with #!/usr/bin/env bash", m[1])
		}
		if out, err := exec.Command("bash", "-n", m[1]).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", m[1], err, out)
		}
	}
	for _, m := range regexp.MustCompile(`- source: (\S+)`).FindAllStringSubmatch(appspec, -1) {
		if m[1] == "bin/sample-app" {
			continue // built by buildspec.yml
		}
		if _, err := os.Stat(m[1]); err != nil {
			t.Errorf("appspec.yml installs %s: %v", m[1], err)
		}
	}
}

// TestModesAreSetWhereTheBundleIsUsed: the binary's mode does not depend on the zip archives
// keeping it. CodeDeploy sets it from appspec.yml's permissions; Elastic Beanstalk runs the
// Buildfile before it starts the Procfile's process.
func TestModesAreSetWhereTheBundleIsUsed(t *testing.T) {
	appspec := read(t, "appspec.yml")
	if !regexp.MustCompile(`(?s)permissions:\n  - object: /opt/sample-app/bin/sample-app\n(    \S.*\n)*    mode: 755\n`).MatchString(appspec) {
		t.Error("appspec.yml's permissions must set /opt/sample-app/bin/sample-app to mode 755")
	}
	if got := strings.TrimSpace(read(t, "Buildfile")); got != "permissions: chmod 0755 bin/sample-app" {
		t.Errorf("Buildfile = %q", got)
	}
}

// TestValidateServiceFitsItsHook: the validation's polling budget, its last try and its two
// diagnostics end before the hook's timeout, so a failed release shows why it failed.
func TestValidateServiceFitsItsHook(t *testing.T) {
	script := read(t, "scripts/validate_service.sh")
	budget := regexp.MustCompile(`VALIDATE_BUDGET_SECONDS:-(\d+)`).FindStringSubmatch(script)
	timeout := regexp.MustCompile(`location: scripts/validate_service.sh\n\s+timeout: (\d+)`).FindStringSubmatch(read(t, "appspec.yml"))
	if budget == nil || timeout == nil {
		t.Fatal("cannot find the validation budget or the hook timeout")
	}
	pause := regexp.MustCompile(`VALIDATE_PAUSE_SECONDS:-(\d+)`).FindStringSubmatch(script)
	if pause == nil {
		t.Fatal("cannot find the pause between tries")
	}
	b, _ := strconv.Atoi(budget[1])
	limit, _ := strconv.Atoi(timeout[1])
	p, _ := strconv.Atoi(pause[1])
	const request, diagnostics = 2, 2 * 10 // curl --max-time 2; two "timeout 10" commands
	if lastTry := request + p; b+lastTry+diagnostics >= limit {
		t.Errorf("validate_service.sh may run %d s, but its hook times out after %d s", b+lastTry+diagnostics, limit)
	}
}

// TestShellcheck runs shellcheck on the hook scripts; CI installs it.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Skip("shellcheck is not installed; .ci/run installs it")
	}
	if out, err := exec.Command("sh", "-c", "shellcheck scripts/*.sh").CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestArtifactCarriesTheBundle checks that the build artifact holds what CodeDeploy and Elastic
// Beanstalk need, and that the validation hook probes the port the service listens on.
func TestArtifactCarriesTheBundle(t *testing.T) {
	buildspec := read(t, "buildspec.yml")
	for _, want := range []string{"- bin/sample-app", "- appspec.yml", "- scripts/**/*", "- Procfile", "- Buildfile", "-o bin/sample-app", "  $JUNIT_REPORT_GROUP:"} {
		if !strings.Contains(buildspec, want) {
			t.Errorf("buildspec.yml lacks %q", want)
		}
	}
	if got := strings.TrimSpace(read(t, "Procfile")); got != "web: bin/sample-app" {
		t.Errorf("Procfile = %q", got)
	}
	if !strings.Contains(read(t, "scripts/sample-app.service"), "Environment=PORT=8080") ||
		!strings.Contains(read(t, "scripts/validate_service.sh"), "${PORT:-8080}/health") {
		t.Error("the service and its validation must agree on port 8080 and /health")
	}
}
