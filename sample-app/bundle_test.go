package main

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// appSpec is the part of appspec.yml (EC2/on-premises, version 0.0) that the bundle relies on.
type appSpec struct {
	Version string `yaml:"version"`
	OS      string `yaml:"os"`
	Files   []struct {
		Source      string `yaml:"source"`
		Destination string `yaml:"destination"`
	} `yaml:"files"`
	Permissions []struct {
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

// buildSpec is the part of buildspec.yml that the bundle relies on.
type buildSpec struct {
	Env struct {
		Variables map[string]string `yaml:"variables"`
	} `yaml:"env"`
	Phases map[string]struct {
		RuntimeVersions map[string]string `yaml:"runtime-versions"`
		Commands        []string          `yaml:"commands"`
	} `yaml:"phases"`
	Reports   map[string]struct{ Files []string } `yaml:"reports"`
	Artifacts struct {
		BaseDirectory string   `yaml:"base-directory"`
		Files         []string `yaml:"files"`
	} `yaml:"artifacts"`
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readYAML parses path into v; v names only the keys the tests use.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	if err := yaml.Unmarshal([]byte(read(t, path)), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestAppSpecHooks checks the CodeDeploy bundle: every lifecycle hook the deployment relies on is
// declared with one script, which exists, starts with a bash shebang and parses. It does not
// require the executable bit: the repository is seeded and checked out without file modes, and the
// CodeDeploy agent makes a hook script executable before it runs it.
func TestAppSpecHooks(t *testing.T) {
	var spec appSpec
	readYAML(t, "appspec.yml", &spec)
	if spec.Version != "0.0" || spec.OS != "linux" {
		t.Errorf("appspec.yml version %q, os %q; want 0.0 and linux", spec.Version, spec.OS)
	}
	events := []string{"ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"}
	for event := range spec.Hooks {
		if !slices.Contains(events, event) {
			t.Errorf("appspec.yml declares the %s hook, which the sample app does not use", event)
		}
	}
	for _, event := range events {
		hooks := spec.Hooks[event]
		if len(hooks) != 1 {
			t.Errorf("appspec.yml has %d scripts for %s, want 1", len(hooks), event)
			continue
		}
		location := hooks[0].Location
		if !strings.HasPrefix(read(t, location), "#!/usr/bin/env bash\n") {
			t.Errorf("hook script %s does not start with #!/usr/bin/env bash", location)
		}
		if out, err := exec.Command("bash", "-n", location).CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", location, err, out)
		}
	}
	for _, f := range spec.Files {
		if f.Source == "bin/sample-app" {
			continue // built by buildspec.yml
		}
		if _, err := os.Stat(f.Source); err != nil {
			t.Errorf("appspec.yml installs %s: %v", f.Source, err)
		}
	}
}

// TestModesAreSetWhereTheBundleIsUsed: the binary's mode does not depend on the zip archives
// keeping it. CodeDeploy sets it from appspec.yml's permissions; Elastic Beanstalk runs the
// Buildfile before it starts the Procfile's process.
func TestModesAreSetWhereTheBundleIsUsed(t *testing.T) {
	var spec appSpec
	readYAML(t, "appspec.yml", &spec)
	found := false
	for _, p := range spec.Permissions {
		if p.Object == "/opt/sample-app/bin/sample-app" {
			found = true
			if p.Mode != "755" || !slices.Contains(p.Type, "file") {
				t.Errorf("appspec.yml sets /opt/sample-app/bin/sample-app to mode %s for types %v, want 755 for files", p.Mode, p.Type)
			}
		}
	}
	if !found {
		t.Error("appspec.yml's permissions must set /opt/sample-app/bin/sample-app's mode")
	}
	if got := strings.TrimSpace(read(t, "Buildfile")); got != "permissions: chmod 0755 bin/sample-app" {
		t.Errorf("Buildfile = %q", got)
	}
}

// TestValidateServiceFitsItsHook: the validation's polling budget, its last try and its two
// diagnostics end before the hook's timeout, so a failed release shows why it failed.
func TestValidateServiceFitsItsHook(t *testing.T) {
	var spec appSpec
	readYAML(t, "appspec.yml", &spec)
	script := read(t, "scripts/validate_service.sh")
	budget := regexp.MustCompile(`VALIDATE_BUDGET_SECONDS:-(\d+)`).FindStringSubmatch(script)
	pause := regexp.MustCompile(`VALIDATE_PAUSE_SECONDS:-(\d+)`).FindStringSubmatch(script)
	hooks := spec.Hooks["ValidateService"]
	if budget == nil || pause == nil || len(hooks) != 1 || hooks[0].Location != "scripts/validate_service.sh" {
		t.Fatal("cannot find the validation budget, its pause, or the ValidateService hook running validate_service.sh")
	}
	b, _ := strconv.Atoi(budget[1])
	p, _ := strconv.Atoi(pause[1])
	const request, diagnostics = 2, 2 * 10 // curl --max-time 2; two "timeout 10" commands
	if lastTry := request + p; b+lastTry+diagnostics >= hooks[0].Timeout {
		t.Errorf("validate_service.sh may run %d s, but its hook times out after %d s", b+lastTry+diagnostics, hooks[0].Timeout)
	}
}

// TestShellcheck runs shellcheck on the hook scripts. Without shellcheck it skips and says so; CI
// installs it and sets CDK_PIPELINE_NO_SKIP, under which it fails instead.
func TestShellcheck(t *testing.T) {
	if _, err := exec.LookPath("shellcheck"); err != nil {
		if os.Getenv("CDK_PIPELINE_NO_SKIP") != "" {
			t.Fatal("shellcheck is not installed, and CDK_PIPELINE_NO_SKIP forbids skipping: .ci/run installs it")
		}
		t.Skip("shellcheck is not installed; .ci/run installs it")
	}
	if out, err := exec.Command("sh", "-c", "shellcheck scripts/*.sh").CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

// TestArtifactCarriesTheBundle checks that the build artifact holds exactly what CodeDeploy and
// Elastic Beanstalk need, that the tests report to the group the project names, and that Go is
// pinned to the version go.mod declares.
func TestArtifactCarriesTheBundle(t *testing.T) {
	var spec buildSpec
	readYAML(t, "buildspec.yml", &spec)
	// The build copies BUNDLE into bundle/, which the artifact is, whatever folder of the
	// repository the app is in.
	want := []string{"Buildfile", "Procfile", "appspec.yml", "bin/sample-app", "scripts"}
	got := slices.Sorted(slices.Values(strings.Fields(spec.Env.Variables["BUNDLE"])))
	if !slices.Equal(got, want) {
		t.Errorf("buildspec.yml's BUNDLE is %q, want %q", got, want)
	}
	if spec.Artifacts.BaseDirectory != "bundle" || !slices.Equal(spec.Artifacts.Files, []string{"**/*"}) {
		t.Errorf("buildspec.yml's artifact is %s/%q, want everything in bundle/", spec.Artifacts.BaseDirectory, spec.Artifacts.Files)
	}
	if !slices.Contains(spec.Phases["build"].Commands, `mkdir -p "$CODEBUILD_SRC_DIR/bundle" && cp -R --parents $BUNDLE "$CODEBUILD_SRC_DIR/bundle/"`) {
		t.Error("buildspec.yml's build phase does not copy BUNDLE into bundle/")
	}
	if _, ok := spec.Reports["$JUNIT_REPORT_GROUP"]; !ok || len(spec.Reports) != 1 {
		t.Errorf("buildspec.yml's reports are %v, want one group named $JUNIT_REPORT_GROUP (the variable the project sets)", spec.Reports)
	}
	if got := strings.TrimSpace(read(t, "Procfile")); got != "web: bin/sample-app" {
		t.Errorf("Procfile = %q", got)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindStringSubmatch(read(t, "go.mod"))
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	if got := spec.Phases["install"].RuntimeVersions["golang"]; got != goLine[1] {
		t.Errorf("buildspec.yml asks for Go %q, go.mod declares go %s: CodeBuild's image would build with another Go than the module declares", got, goLine[1])
	}
}

// TestServiceListensWhereItIsValidated: the unit's PORT and validate_service.sh's default port
// agree (the rehearsal checks both against the load balancer's target group).
func TestServiceListensWhereItIsValidated(t *testing.T) {
	env := map[string]string{}
	scanner := bufio.NewScanner(strings.NewReader(read(t, "scripts/sample-app.service")))
	for scanner.Scan() {
		if assignment, ok := strings.CutPrefix(scanner.Text(), "Environment="); ok {
			if k, v, ok := strings.Cut(assignment, "="); ok {
				env[k] = v
			}
		}
	}
	url := regexp.MustCompile(`(?m)^url="http://127\.0\.0\.1:\$\{PORT:-(\d+)\}(/\S*)"$`).FindStringSubmatch(read(t, "scripts/validate_service.sh"))
	if url == nil {
		t.Fatal(`validate_service.sh sets no url="http://127.0.0.1:${PORT:-N}/path"`)
	}
	if env["PORT"] != url[1] {
		t.Errorf("the unit sets PORT=%q; validate_service.sh checks port %s", env["PORT"], url[1])
	}
}
