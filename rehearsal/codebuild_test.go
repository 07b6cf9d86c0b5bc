package rehearsal_test

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// seed copies the seed asset's folder to dst as CloudFormation commits it to the new
// repository: every file 0644 and every folder 0755 (CodeCommit keeps no other modes). The CDK
// left the asset's excludes out when it staged the folder.
func seed(asset, dst string) error {
	return filepath.WalkDir(asset, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(asset, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// buildspec is the part of the buildspec reference (version 0.2) the sample app uses.
type buildspec struct {
	Version string `yaml:"version"`
	Env     struct {
		Shell             string            `yaml:"shell"`
		Variables         map[string]string `yaml:"variables"`
		ExportedVariables []string          `yaml:"exported-variables"`
	} `yaml:"env"`
	Phases map[string]struct {
		RuntimeVersions map[string]string `yaml:"runtime-versions"`
		Commands        []string          `yaml:"commands"`
	} `yaml:"phases"`
	Reports   map[string]fileSet `yaml:"reports"`
	Artifacts fileSet            `yaml:"artifacts"`
	Cache     struct {
		Paths []string `yaml:"paths"`
	} `yaml:"cache"`
}

type fileSet struct {
	FileFormat    string   `yaml:"file-format"`
	BaseDirectory string   `yaml:"base-directory"`
	Files         []string `yaml:"files"`
	DiscardPaths  string   `yaml:"discard-paths"`
}

// machine is the build container's file system, mapped into a temporary folder: its /root
// (HOME) and /go (GOPATH).
type machine struct{ dir string }

// path maps an absolute path of the image into the machine's folder.
func (m machine) path(p string) string {
	for _, root := range []string{"/root", "/go"} {
		if p == root || strings.HasPrefix(p, root+"/") {
			return filepath.Join(m.dir, p)
		}
	}
	return p
}

// build is one CodeBuild run's outcome.
type build struct {
	src      string            // the source folder, after the build
	exported map[string]string // the exported-variables
	log      string
}

// codebuild runs spec in src as CodeBuild runs it on m: the phases in order, in one bash session,
// each command's failure stopping the build. env adds to the project's variables.
func codebuild(spec buildspec, src string, m machine, env map[string]string) (build, error) {
	if spec.Version != "0.2" || spec.Env.Shell != "bash" {
		return build{}, fmt.Errorf("buildspec version %q, shell %q; the rehearsal plays version 0.2 with bash", spec.Version, spec.Env.Shell)
	}
	var script strings.Builder
	script.WriteString("cd \"$CODEBUILD_SRC_DIR\"\n")
	for runtime, version := range spec.Phases["install"].RuntimeVersions {
		// The image's runtimes.yml runs its commands for the version (goenv global ...); the
		// rehearsal builds with this machine's Go, which goRuntime has checked against them.
		fmt.Fprintf(&script, "echo 'Installing %s version %s ...'\n", runtime, version)
	}
	for _, phase := range []string{"install", "pre_build", "build", "post_build"} {
		for i, command := range spec.Phases[phase].Commands {
			// Each command's status is its last line's: CodeBuild runs them as they are, in the
			// same shell, so exports carry over and a failed command fails the phase.
			fmt.Fprintf(&script, "{\n%s\n}\nrc=$?; [ $rc -eq 0 ] || { echo \"rehearsal: %s command %d failed with $rc\" >&2; exit $rc; }\n", command, phase, i+1)
		}
	}
	exported := m.path("/root/exported-variables")
	if err := os.MkdirAll(filepath.Dir(exported), 0o755); err != nil {
		return build{}, err
	}
	for _, name := range spec.Env.ExportedVariables {
		fmt.Fprintf(&script, "printf '%%s=%%s\\n' %s \"${%s:-}\" >>%q\n", name, name, exported)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = buildEnv(spec, src, m, env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return build{}, fmt.Errorf("the build failed: %v\n%s", err, out)
	}
	b := build{src: src, exported: map[string]string{}, log: string(out)}
	lines, _ := os.ReadFile(exported)
	for _, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			b.exported[k] = v
		}
	}
	return b, nil
}

// buildEnv is what a command sees: the image's environment, the CODEBUILD_* variables, the
// project's and the buildspec's variables (paths mapped into m), and env.
func buildEnv(spec buildspec, src string, m machine, env map[string]string) []string {
	local, _ := exec.Command(goBinary(), "env", "GOCACHE", "GOMODCACHE", "GOPROXY").Output()
	goEnv := strings.Split(strings.TrimSpace(string(local)), "\n")
	goEnv = append(goEnv, "", "", "")
	vars := map[string]string{
		"PATH": filepath.Dir(goBinary()) + ":/usr/bin:/bin", "HOME": m.path("/root"), "GOPATH": m.path("/go"),
		"GOTOOLCHAIN": "local", "LANG": "C.UTF-8",
		"CODEBUILD_SRC_DIR": src, "CODEBUILD_BUILD_ID": "rehearsal:1", "CODEBUILD_BUILD_NUMBER": "1",
		"CODEBUILD_BUILD_URL":               "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/rehearsal/build/rehearsal:1",
		"CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567", "CODEBUILD_BUILD_SUCCEEDING": "1",
		"CODEBUILD_INITIATOR": "codepipeline/rehearsal",
		"JUNIT_REPORT_GROUP":  "arn:aws:codebuild:eu-west-1:123456789012:report-group/rehearsal-Tests",
	}
	// Modules come from this machine's module cache when it has them, from its proxy otherwise:
	// either way the build downloads them into its own empty GOMODCACHE, as CodeBuild's first
	// build does from the public proxy.
	vars["GOPROXY"] = "file://" + filepath.Join(goEnv[1], "cache", "download") + "," + goEnv[2]
	for k, v := range spec.Env.Variables {
		vars[k] = m.path(v)
	}
	// This machine's build cache, not an empty one: it changes how long the build takes, not what
	// it downloads or produces.
	vars["GOCACHE"] = goEnv[0]
	for k, v := range env {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// goRuntimes is what a CodeBuild image offers of Go: the version each runtime-versions value
// installs, and the one it uses without a request.
type goRuntimes struct {
	Default  string
	Versions map[string]string
}

// imageGo is the images the rehearsal knows. aws/codebuild/standard:7.0
// (aws-codebuild-docker-images at 1590e48, ubuntu/standard/7.0): the Dockerfile installs Go
// through goenv (lines 452-468) and makes 1.20 the global default (line 589); runtimes.yml maps
// each golang value to "goenv global $GOLANG_<minor>_VERSION" (lines 105-134), and any other to
// "goenv install $VERSION" at every build (lines 135-139).
var imageGo = map[string]goRuntimes{
	"aws/codebuild/standard:7.0": {Default: "1.20.14", Versions: map[string]string{
		"1.26": "1.26.0", "1.25": "1.25.7", "1.24": "1.24.13", "1.23": "1.23.12", "1.22": "1.22.12", "1.21": "1.21.13", "1.20": "1.20.14",
	}},
}

// goRuntime returns the Go that CodeBuild's image installs for spec, and fails unless this
// machine's Go has the same minor version, so that the rehearsal builds with the Go CodeBuild
// would, and unless go.mod's go line needs no newer Go than the image's (the image's go, with
// GOTOOLCHAIN=auto, would download another toolchain at every build).
func goRuntime(t *testing.T, spec buildspec, image, goMod string) string {
	t.Helper()
	offered, ok := imageGo[image]
	if !ok {
		t.Fatalf("the build project runs on %s; the rehearsal knows the Go runtimes of %v only", image, slices.Collect(maps.Keys(imageGo)))
	}
	installed, selected := offered.Default, "the image's default: buildspec.yml selects none"
	if request, ok := spec.Phases["install"].RuntimeVersions["golang"]; ok {
		selected = "buildspec.yml's runtime-versions: golang " + request
		if installed, ok = offered.Versions[request]; !ok {
			t.Fatalf("buildspec.yml asks for golang %q, which %s does not ship: CodeBuild would run goenv install %[1]s at every build", request, image)
		}
	}
	local, err := exec.Command(goBinary(), "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(local))
	if minor(strings.TrimPrefix(version, "go")) != minor(installed) {
		t.Fatalf("CodeBuild builds with Go %s on %s (%s); this machine's Go is %s: the rehearsal needs the same minor version", installed, image, selected, version)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(goMod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if semver(m[1]) > semver(installed) {
		t.Fatalf("go.mod says go %s, newer than the image's Go %s: CodeBuild's go would download a toolchain at every build", m[1], installed)
	}
	return installed
}

// minor is "1.26" of "1.26.8" or "1.26".
func minor(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}

// semver orders Go versions (1.26 < 1.26.0 < 1.26.1 for go lines as Go orders them, here by
// number only).
func semver(version string) int {
	n := 0
	parts := strings.SplitN(version, ".", 3)
	for i := 0; i < 3; i++ {
		v := 0
		if i < len(parts) {
			v, _ = strconv.Atoi(parts[i])
		}
		n = n*1000 + v
	}
	return n
}

// builtWith reads the Go version from the build log's `go version` line.
func builtWith(t *testing.T, log string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go version go(\S+) `).FindStringSubmatch(log)
	if m == nil {
		t.Fatal("the build log has no `go version` line: buildspec.yml's install phase prints it")
	}
	return m[1]
}

func goBinary() string {
	p, err := exec.LookPath("go")
	if err != nil {
		panic(err)
	}
	return p
}

// match reports whether a slash-separated path matches a buildspec files pattern: ** spans any
// number of folders, * and ? stay within one, as CodeBuild documents.
func match(pattern, name string) bool {
	var walk func(ps, ns []string) bool
	walk = func(ps, ns []string) bool {
		switch {
		case len(ps) == 0:
			return len(ns) == 0
		case ps[0] == "**":
			for i := 0; i <= len(ns); i++ {
				if walk(ps[1:], ns[i:]) {
					return true
				}
			}
			return false
		case len(ns) == 0:
			return false
		}
		ok, _ := path.Match(ps[0], ns[0])
		return ok && walk(ps[1:], ns[1:])
	}
	return walk(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

// resolve lists the files of set as CodeBuild collects them: the paths below base-directory that
// match a files pattern, with the path each gets in the artifact (discard-paths keeps the name).
func resolve(root string, set fileSet) (map[string]string, error) {
	base := filepath.Join(root, set.BaseDirectory)
	found := map[string]string{}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(base, p)
		rel = filepath.ToSlash(rel)
		for _, pattern := range set.Files {
			if match(pattern, rel) {
				name := rel
				if set.DiscardPaths == "yes" {
					name = path.Base(rel)
				}
				found[p] = name
			}
		}
		return nil
	})
	return found, err
}

// artifact zips the build's artifacts as CodePipeline receives them. It stores no file modes:
// whether CodeBuild keeps them is not documented, so the rehearsal assumes the worst.
func artifact(b build, set fileSet, zipPath string) ([]string, error) {
	files, err := resolve(b.src, set)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("the artifact is empty")
	}
	f, err := os.Create(zipPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := zip.NewWriter(f)
	var names []string
	for p, name := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		dst, err := w.CreateHeader(h)
		if err != nil {
			return nil, err
		}
		src, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	sort.Strings(names)
	return names, f.Close()
}

// junit is the part of a JUnit XML report that CodeBuild's report groups read.
type junit struct {
	Suites []struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junit {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r junit
	if err := xml.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s is not JUnit XML: %v", path, err)
	}
	return r
}

var yamlUnmarshal = yaml.Unmarshal

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
