// Command mutate breaks the code on purpose, one named mutation at a time, and tells which test
// notices: the mutations are the defects that would matter on AWS (a widened permission, a lost
// condition, a hard-coded branch), kept as data in testdata/mutations.txt. For each it copies the
// repository's files to a temporary directory, applies the edit, runs the tests of the packages it
// touches without TestSnapshot, and prints
//
//	caught         a test other than the snapshot failed: which one
//	snapshot-only  only TestSnapshot noticed: a test that names the intent is missing
//	survived       nothing noticed
//	broken         the mutation no longer applies or no longer compiles: update the list
//
// scripts/mutate runs it (docs/testing.md). With -sample only the mutations marked [sample] run, as
// CI does; with names as arguments, those. It exits 1 unless every mutation that ran was caught.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Mutation is one named edit of one file.
type Mutation struct {
	// Name names the mutation in the report; Why says what it breaks, as AWS would see it.
	Name, Why string
	// File is the file it edits, relative to the repository's root.
	File string
	// Old is the text it replaces, which must occur in File exactly once; New replaces it.
	Old, New string
	// Packages are the packages whose tests run, in order, until one catches the mutation.
	// Default: File's package, then ./stacks, then the app's (the configuration sweep).
	Packages []string
	// Sample marks the mutations CI runs.
	Sample bool
}

// Parse reads a mutation list: blocks that start with a line "== name" (with " [sample]" after the
// name for CI's sample), then "why:", "file:" and optionally "packages:" lines, then the old text's
// lines each after a "-", and the new text's each after a "+". Lines starting with "#" outside a
// block's text are comments.
func Parse(r io.Reader) ([]Mutation, error) {
	var out []Mutation
	var m *Mutation
	var old, new []string
	done := func() error {
		if m == nil {
			return nil
		}
		m.Old, m.New = strings.Join(old, "\n"), strings.Join(new, "\n")
		switch {
		case m.File == "":
			return fmt.Errorf("mutation %s: no file", m.Name)
		case m.Why == "":
			return fmt.Errorf("mutation %s: no why", m.Name)
		case m.Old == "":
			return fmt.Errorf("mutation %s: no old text", m.Name)
		case m.Old == m.New:
			return fmt.Errorf("mutation %s: changes nothing", m.Name)
		}
		out = append(out, *m)
		return nil
	}
	seen := map[string]bool{}
	lines := bufio.NewScanner(r)
	n := 0
	for lines.Scan() {
		n++
		line := lines.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			if err := done(); err != nil {
				return nil, err
			}
			name, sample := strings.CutSuffix(strings.TrimSpace(line[3:]), " [sample]")
			if seen[name] {
				return nil, fmt.Errorf("line %d: mutation %s twice", n, name)
			}
			seen[name] = true
			m, old, new = &Mutation{Name: name, Sample: sample}, nil, nil
		case strings.HasPrefix(line, "-") && m != nil:
			old = append(old, line[1:])
		case strings.HasPrefix(line, "+") && m != nil:
			new = append(new, line[1:])
		case strings.HasPrefix(line, "#"), strings.TrimSpace(line) == "":
		case m == nil:
			return nil, fmt.Errorf("line %d: %q before the first \"== name\"", n, line)
		default:
			key, value, ok := strings.Cut(line, ":")
			value = strings.TrimSpace(value)
			switch {
			case ok && key == "why":
				m.Why = value
			case ok && key == "file":
				m.File = value
			case ok && key == "packages":
				m.Packages = strings.Fields(value)
			default:
				return nil, fmt.Errorf("line %d: %q is not why:, file:, packages:, or a -/+ line", n, line)
			}
		}
	}
	if err := lines.Err(); err != nil {
		return nil, err
	}
	if err := done(); err != nil {
		return nil, err
	}
	return out, nil
}

// Apply returns content with the mutation applied, or an error when its old text does not occur
// exactly once.
func (m Mutation) Apply(content string) (string, error) {
	if n := strings.Count(content, m.Old); n != 1 {
		return "", fmt.Errorf("%s: the old text occurs %d times in %s, want once", m.Name, n, m.File)
	}
	return strings.Replace(content, m.Old, m.New, 1), nil
}

// packages are the packages whose tests judge m.
func (m Mutation) packages() []string {
	if len(m.Packages) > 0 {
		return m.Packages
	}
	own := "./" + filepath.ToSlash(filepath.Dir(m.File))
	if own == "./." {
		own = "."
	}
	out := []string{own}
	for _, p := range []string{"./stacks", "."} {
		if p != own {
			out = append(out, p)
		}
	}
	return out
}

// Result is what became of one mutation.
type Result struct {
	Mutation Mutation
	// Verdict is caught, snapshot-only, survived or broken.
	Verdict string
	// By names the tests that failed (caught), or why the mutation is broken.
	By       string
	Duration time.Duration
}

func main() {
	list := flag.String("list", "testdata/mutations.txt", "the mutation list")
	sample := flag.Bool("sample", false, "run only the mutations marked [sample], as CI does")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: scripts/mutate [-sample] [-list FILE] [NAME ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	root, err := repositoryRoot()
	if err != nil {
		fail(err)
	}
	f, err := os.Open(filepath.Join(root, *list))
	if err != nil {
		fail(err)
	}
	all, err := Parse(f)
	f.Close()
	if err != nil {
		fail(err)
	}
	chosen := all
	if *sample {
		chosen = slices.DeleteFunc(slices.Clone(all), func(m Mutation) bool { return !m.Sample })
	}
	if names := flag.Args(); len(names) > 0 {
		chosen = nil
		for _, name := range names {
			i := slices.IndexFunc(all, func(m Mutation) bool { return m.Name == name })
			if i < 0 {
				fail(fmt.Errorf("no mutation %s in %s", name, *list))
			}
			chosen = append(chosen, all[i])
		}
	}
	dir, err := copyRepository(root)
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	fmt.Printf("mutate: %d of %d mutations, in a copy at %s\n", len(chosen), len(all), dir)
	counts := map[string]int{}
	var results []Result
	for _, m := range chosen {
		r := run(dir, m)
		counts[r.Verdict]++
		results = append(results, r)
		fmt.Printf("%-44s %-13s %s (%s)\n", m.Name, r.Verdict, r.By, r.Duration.Round(time.Second))
	}
	fmt.Printf("mutate: %d caught, %d snapshot-only, %d survived, %d broken\n",
		counts["caught"], counts["snapshot-only"], counts["survived"], counts["broken"])
	if counts["caught"] != len(chosen) {
		os.Exit(1)
	}
}

// run applies m in dir, judges it, and puts the file back.
func run(dir string, m Mutation) Result {
	start := time.Now()
	result := func(verdict, by string) Result {
		return Result{Mutation: m, Verdict: verdict, By: by, Duration: time.Since(start)}
	}
	path := filepath.Join(dir, m.File)
	original, err := os.ReadFile(path)
	if err != nil {
		return result("broken", err.Error())
	}
	mutated, err := m.Apply(string(original))
	if err != nil {
		return result("broken", err.Error())
	}
	info, _ := os.Stat(path)
	if err := os.WriteFile(path, []byte(mutated), info.Mode()); err != nil {
		return result("broken", err.Error())
	}
	defer os.WriteFile(path, original, info.Mode())
	for _, pkg := range m.packages() {
		failed, buildErr := goTest(dir, pkg, "-skip", "^TestSnapshot$")
		if buildErr != "" {
			return result("broken", buildErr)
		}
		if len(failed) > 0 {
			return result("caught", strings.Join(failed, ", ")+" in "+pkg)
		}
	}
	failed, buildErr := goTest(dir, ".", "-run", "^TestSnapshot$")
	switch {
	case buildErr != "":
		return result("broken", buildErr)
	case len(failed) > 0:
		return result("snapshot-only", "TestSnapshot")
	}
	return result("survived", "no test failed")
}

// goTest runs one package's tests in dir and returns the tests that failed (the first three,
// deepest subtests first), or the build's error.
func goTest(dir, pkg string, args ...string) (failed []string, buildErr string) {
	argv := append([]string{"go", "test", "-count=1", "-json"}, args...)
	argv = append(argv, pkg)
	// jsii runs one Node.js process per test binary: on a shared machine, one package's tests at a
	// time (see the developers' notes), when MUTATE_LOCK names the lock file.
	if lock := os.Getenv("MUTATE_LOCK"); lock != "" {
		argv = append([]string{"flock", lock}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	// Both tiers (package tier): a mutation a deep test catches is caught.
	cmd.Env = append(os.Environ(), "CDK_PIPELINE_DEEP=1")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return nil, err.Error()
	}
	var packageFailed bool
	var build []string
	dec := json.NewDecoder(&out)
	for {
		var e struct{ Action, Package, Test, Output string }
		if err := dec.Decode(&e); err != nil {
			break
		}
		switch {
		case e.Action == "fail" && e.Test != "":
			failed = append(failed, e.Test)
		case e.Action == "fail":
			packageFailed = true
		case e.Action == "build-output":
			build = append(build, strings.TrimSpace(e.Output))
		}
	}
	// Subtests fail before their parents: keep the most specific names, without their parents.
	var named []string
	for _, t := range failed {
		if !slices.ContainsFunc(named, func(n string) bool { return strings.HasPrefix(n, t+"/") }) {
			named = append(named, t)
		}
	}
	if len(named) > 3 {
		named = append(named[:3], fmt.Sprintf("and %d more", len(named)-3))
	}
	if len(named) == 0 && (packageFailed || err != nil) {
		// A package that fails without a failing test did not build, or failed in TestMain.
		msg := strings.TrimSpace(strings.Join(build, "; ") + " " + stderr.String())
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return nil, "the tests of " + pkg + " did not run: " + msg
	}
	return named, ""
}

// repositoryRoot is the top of the git work tree the command runs in.
func repositoryRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", fmt.Errorf("mutate runs inside the repository: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// copyRepository copies the files git knows (committed or not, not ignored) to a new temporary
// directory, so that the mutations never touch the work tree; node_modules, which the sweep's CDK
// diff reads, is linked.
func copyRepository(root string) (string, error) {
	dir, err := os.MkdirTemp("", "mutate-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet in git
		}
		if err != nil {
			return "", err
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(src)
			if err != nil {
				return "", err
			}
			if err := os.Symlink(target, dst); err != nil {
				return "", err
			}
			continue
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, info.Mode().Perm()); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat(filepath.Join(root, "node_modules")); err == nil {
		if err := os.Symlink(filepath.Join(root, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}
