package cdktest

import (
	"flag"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// offloadVariable marks the second process of a package whose Main offloads tests.
const offloadVariable = "CDKTEST_OFFLOADED"

// offloaded is what Main started in the second process: the tests it runs there, and, once done
// is closed, their output and the process's error.
var offloaded struct {
	names  map[string]bool
	done   chan struct{}
	output string
	err    error
}

// startOffload starts this test binary again, running the named tests that the command line selects,
// verbose; it runs beside this process from here on. jsii is not goroutine-safe, so a package's
// syntheses run one at a time in one process: a second process is the only way to use a second
// core, and go test runs the last package of ./... alone.
func startOffload(names []string) {
	if !flag.Parsed() {
		flag.Parse()
	}
	value := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	// One run of each selected test, with nothing the second process would not report back.
	if value("test.count") != "1" || value("test.list") != "" || value("test.bench") != "" || value("test.coverprofile") != "" {
		return
	}
	run, err := topLevel(value("test.run"))
	skip, err2 := topLevel(value("test.skip"))
	if err != nil || err2 != nil {
		return // testing reports the pattern
	}
	var selected []string
	for _, n := range names {
		if (run == nil || run.MatchString(n)) && (skip == nil || !skip.MatchString(n)) {
			selected = append(selected, n)
		}
	}
	if len(selected) == 0 {
		return
	}
	offloaded.names = map[string]bool{}
	for _, n := range selected {
		offloaded.names[n] = true
	}
	offloaded.done = make(chan struct{})
	// The selected tests, and the subtests the command line names; its skip pattern as given.
	pattern := "^(" + strings.Join(selected, "|") + ")$"
	if _, subtests, ok := strings.Cut(value("test.run"), "/"); ok {
		pattern += "/" + subtests
	}
	cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.skip="+value("test.skip"), "-test.v=true", "-test.count=1",
		"-test.timeout="+value("test.timeout"), "-test.short="+value("test.short"))
	cmd.Env = append(os.Environ(), offloadVariable+"=1")
	go func() {
		defer close(offloaded.done)
		out, err := cmd.CombinedOutput()
		offloaded.output, offloaded.err = string(out), err
	}()
}

// topLevel compiles the part of a -test.run or -test.skip pattern that matches top-level tests
// (before the first '/'); nil for an empty pattern.
func topLevel(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, nil
	}
	first, _, _ := strings.Cut(pattern, "/")
	return regexp.Compile(first)
}

// Offloaded reports whether t, a top-level test, ran in the package's second process (see Main),
// after reporting its outcome here: a failure with what the test wrote there, or a skip with its
// reason. The caller then returns at once. In the second process, and for a test that Main did not
// offload, it reports false, and the test runs here.
func Offloaded(t *testing.T) bool {
	t.Helper()
	if os.Getenv(offloadVariable) != "" || !offloaded.names[t.Name()] {
		return false
	}
	<-offloaded.done
	result, lines := outcome(offloaded.output, t.Name())
	switch result {
	case "PASS":
	case "SKIP":
		t.Skip(strings.Join(lines, "\n"))
	case "FAIL":
		t.Errorf("%s failed in the second process:\n%s", t.Name(), strings.Join(lines, "\n"))
	default:
		t.Errorf("%s did not report in the second process (%v):\n%s", t.Name(), offloaded.err, offloaded.output)
	}
	return true
}

// outcome finds top-level test name's result (PASS, FAIL or SKIP; "" when it has none) in the
// verbose output of a test binary, and the lines it wrote there. The lines that frame tests (===
// and ---) are left out: go test's JSON reader would take them for this process's own.
func outcome(output, name string) (result string, lines []string) {
	in := false
	for _, line := range strings.Split(output, "\n") {
		if line == "=== RUN   "+name {
			in = true
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(line, "=== RUN   ") && !strings.HasPrefix(line, "=== RUN   "+name+"/") {
			break // the next test
		}
		for _, r := range []string{"PASS", "FAIL", "SKIP"} {
			if strings.HasPrefix(line, "--- "+r+": "+name+" (") {
				result = r
			}
		}
		trimmed := strings.TrimSpace(line)
		framing := strings.HasPrefix(trimmed, "=== ") || strings.HasPrefix(trimmed, "--- ") ||
			trimmed == "PASS" || trimmed == "FAIL" || strings.HasPrefix(trimmed, "exit status ")
		if !framing {
			lines = append(lines, line)
		}
	}
	return result, lines
}

// keepName is the prefix of this process's kept templates: the second process's differ.
func keepName(pkg string) string {
	if os.Getenv(offloadVariable) != "" {
		return pkg + "-offloaded"
	}
	return pkg
}
