package main

import (
	"os"
	"os/exec"
	"regexp"
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
// declared, each script exists, is executable and parses, and every file appspec.yml installs is
// in the repository.
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
		info, err := os.Stat(m[1])
		if err != nil {
			t.Errorf("hook script %s: %v", m[1], err)
			continue
		}
		if info.Mode()&0o111 == 0 {
			t.Errorf("hook script %s is not executable", m[1])
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
	for _, want := range []string{"- bin/sample-app", "- appspec.yml", "- scripts/**/*", "- Procfile", "-o bin/sample-app", "${JUNIT_REPORT_GROUP}:"} {
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
