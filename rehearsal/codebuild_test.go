package rehearsal_test

import (
	"archive/zip"
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/pipekit/cdk-pipeline/constructs/source"
)

// seed copies dir to dst as CloudFormation seeds the repository from the asset: the asset's
// excludes left out (a pattern matches any file or folder name, as CDK's glob excludes do), every
// file 0644 and every folder 0755.
func seed(t *testing.T, dir, dst string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, pattern := range source.SeedExcludes {
			if ok, _ := path.Match(pattern, d.Name()); ok && rel != "." {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
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
	if err != nil {
		t.Fatal(err)
	}
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
		Commands []string `yaml:"commands"`
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
func codebuild(t *testing.T, spec buildspec, src string, m machine, env map[string]string) build {
	t.Helper()
	if spec.Version != "0.2" || spec.Env.Shell != "bash" {
		t.Fatalf("buildspec version %q, shell %q; the rehearsal plays version 0.2 with bash", spec.Version, spec.Env.Shell)
	}
	var script strings.Builder
	script.WriteString("cd \"$CODEBUILD_SRC_DIR\"\n")
	for _, phase := range []string{"install", "pre_build", "build", "post_build"} {
		for i, command := range spec.Phases[phase].Commands {
			// Each command's status is its last line's: CodeBuild runs them as they are, in the
			// same shell, so exports carry over and a failed command fails the phase.
			fmt.Fprintf(&script, "{\n%s\n}\nrc=$?; [ $rc -eq 0 ] || { echo \"rehearsal: %s command %d failed with $rc\" >&2; exit $rc; }\n", command, phase, i+1)
		}
	}
	exported := filepath.Join(t.TempDir(), "exported")
	for _, name := range spec.Env.ExportedVariables {
		fmt.Fprintf(&script, "printf '%%s=%%s\\n' %s \"${%s:-}\" >>%q\n", name, name, exported)
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Env = buildEnv(spec, src, m, env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the build failed: %v\n%s", err, out)
	}
	b := build{src: src, exported: map[string]string{}, log: string(out)}
	lines, _ := os.ReadFile(exported)
	for _, line := range strings.Split(strings.TrimSpace(string(lines)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			b.exported[k] = v
		}
	}
	return b
}

// buildEnv is what a command sees: the image's environment, the CODEBUILD_* variables, the
// project's and the buildspec's variables (paths mapped into m), and env.
func buildEnv(spec buildspec, src string, m machine, env map[string]string) []string {
	gocache, _ := exec.Command("go", "env", "GOCACHE").Output()
	vars := map[string]string{
		"PATH": filepath.Dir(goBinary()) + ":/usr/bin:/bin", "HOME": m.path("/root"), "GOPATH": m.path("/go"),
		"GOTOOLCHAIN": "local", "LANG": "C.UTF-8",
		"CODEBUILD_SRC_DIR": src, "CODEBUILD_BUILD_ID": "rehearsal:1", "CODEBUILD_BUILD_NUMBER": "1",
		"CODEBUILD_BUILD_URL":               "https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/rehearsal/build/rehearsal:1",
		"CODEBUILD_RESOLVED_SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567", "CODEBUILD_BUILD_SUCCEEDING": "1",
		"CODEBUILD_INITIATOR": "codepipeline/rehearsal",
		"JUNIT_REPORT_GROUP":  "arn:aws:codebuild:eu-west-1:123456789012:report-group/rehearsal-Tests",
	}
	if proxy := os.Getenv("GOPROXY"); proxy != "" {
		vars["GOPROXY"] = proxy
	}
	for k, v := range spec.Env.Variables {
		vars[k] = m.path(v)
	}
	// This machine's build cache, not an empty one: it changes how long the build takes, not what
	// it downloads or produces.
	vars["GOCACHE"] = strings.TrimSpace(string(gocache))
	for k, v := range env {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
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
func resolve(t *testing.T, root string, set fileSet) map[string]string {
	t.Helper()
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
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// artifact zips the build's artifacts as CodePipeline receives them. It stores no file modes:
// whether CodeBuild keeps them is not documented, so the rehearsal assumes the worst.
func artifact(t *testing.T, b build, set fileSet, zipPath string) []string {
	t.Helper()
	files := resolve(t, b.src, set)
	if len(files) == 0 {
		t.Fatal("the artifact is empty")
	}
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := zip.NewWriter(f)
	var names []string
	for p, name := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		dst, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(dst, src)
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
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
