package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The fake aws and npx commands of the dry run are this test binary, linked into a folder first on
// PATH under those names: TestMain sees the name it was started under and forwards the command
// line to the dry run's fake cloud, which answers as the AWS CLI v2 and the CDK CLI would, over a
// loopback connection named by fakeAddrVariable.

const fakeAddrVariable = "CDK_PIPELINE_E2E_FAKE"

func TestMain(m *testing.M) {
	if addr := os.Getenv(fakeAddrVariable); addr != "" {
		switch name := filepath.Base(os.Args[0]); name {
		case "aws", "npx":
			os.Exit(fakeClient(addr, name, os.Args[1:]))
		}
	}
	code := m.Run()
	if synths.dir != "" {
		os.RemoveAll(synths.dir)
	}
	os.Exit(code)
}

// command is one command line the flow ran.
type command struct {
	Name string   // aws or npx
	Args []string // what follows the name
	Dir  string   // the working directory
}

// result is what the command printed and its exit code.
type result struct {
	Stdout, Stderr string
	Code           int
}

func fakeClient(addr, name string, args []string) int {
	dir, _ := os.Getwd()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake %s: %v\n", name, err)
		return 255
	}
	defer conn.Close()
	var r result
	if err := json.NewEncoder(conn).Encode(command{name, args, dir}); err == nil {
		err = json.NewDecoder(conn).Decode(&r)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake %s: %v\n", name, err)
		return 255
	}
	os.Stdout.WriteString(r.Stdout)
	os.Stderr.WriteString(r.Stderr)
	return r.Code
}

// installFakes puts fake aws and npx commands first on PATH for the rest of the test, answered by
// handle.
func installFakes(t *testing.T, handle func(command) result) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				var c command
				if err := json.NewDecoder(conn).Decode(&c); err != nil {
					return
				}
				_ = json.NewEncoder(conn).Encode(handle(c))
			}()
		}
	}()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, name := range []string{"aws", "npx"} {
		if err := os.Symlink(self, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(fakeAddrVariable, ln.Addr().String())
}

// awsError is an error a service answers: the CLI prints it and exits with 254.
type awsError struct {
	Code, Message string
}

func (e *awsError) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *awsError {
	return &awsError{code, fmt.Sprintf(format, args...)}
}

// usageError is a command line the CLI refuses before sending anything: exit 252.
type usageError string

func (e usageError) Error() string { return string(e) }

// params are an AWS CLI command's options, each with its values.
type params map[string][]string

func (p params) get(name string) string {
	if v := p[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// option describes an option an operation takes.
type option struct {
	required bool
	list     bool // takes several values, as --attribute-names A B does
}

// operation is an AWS CLI command the fake answers.
type operation struct {
	api     string // the API's name, for error messages
	options map[string]option
	do      func(c *cloud, p params, dir string) (any, error)
}

// globalOptions are the CLI's options that every command takes, with a value.
var globalOptions = map[string]bool{"--output": true, "--region": true, "--profile": true}

// runAWS answers an aws command line as the AWS CLI v2 does: JSON output indented by four, nothing
// for an empty answer, service errors on stderr with exit code 254, usage errors with 252
// (https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-returncodes.html).
func (c *cloud) runAWS(args []string, dir string) result {
	if len(args) < 2 {
		return result{Stderr: "usage: aws [options] <command> <subcommand> [<subcommand> ...] [parameters]\n", Code: 252}
	}
	key := args[0] + " " + args[1]
	op, ok := operations[key]
	if !ok {
		return result{Stderr: fmt.Sprintf("fake aws: %q is not emulated\n", key), Code: 252}
	}
	p, output, err := parseOptions(op, args[2:])
	if err != nil {
		return result{Stderr: "\naws: [ERROR]: " + err.Error() + "\n", Code: 252}
	}
	if err := c.inject(command{"aws", args, dir}); err != nil {
		return failure(op, err)
	}
	answer, err := op.do(c, p, dir)
	if err != nil {
		return failure(op, err)
	}
	return result{Stdout: format(answer, output)}
}

func failure(op operation, err error) result {
	switch e := err.(type) {
	case *awsError:
		return result{Stderr: fmt.Sprintf("\nAn error occurred (%s) when calling the %s operation: %s\n", e.Code, op.api, e.Message), Code: 254}
	case usageError:
		return result{Stderr: "\naws: [ERROR]: " + e.Error() + "\n", Code: 252}
	}
	return result{Stderr: "\n" + err.Error() + "\n", Code: 255}
}

// parseOptions reads --name value... pairs and checks them against what the operation takes.
func parseOptions(op operation, args []string) (params, string, error) {
	p, output := params{}, ""
	var unknown []string
	for i := 0; i < len(args); i++ {
		name := args[i]
		if !strings.HasPrefix(name, "--") {
			return nil, "", usageError(fmt.Sprintf("Unknown options: %s", name))
		}
		var values []string
		for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			values = append(values, args[i+1])
			i++
		}
		if globalOptions[name] {
			if len(values) != 1 {
				return nil, "", usageError("argument " + name + ": expected one argument")
			}
			if name == "--output" {
				output = values[0]
			}
			continue
		}
		o, ok := op.options[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if len(values) == 0 || (len(values) > 1 && !o.list) {
			return nil, "", usageError(fmt.Sprintf("argument %s: expected one argument", name))
		}
		p[name] = values
	}
	if len(unknown) > 0 {
		return nil, "", usageError("Unknown options: " + strings.Join(unknown, ", "))
	}
	var missing []string
	for name, o := range op.options {
		if o.required && len(p[name]) == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, "", usageError("the following arguments are required: " + strings.Join(missing, ", "))
	}
	return p, output, nil
}

// format prints an answer as the CLI does. Without --output json the fake prints a plain-text
// rendering, as a user whose configuration says output = text would get: the flow must ask for
// JSON whenever it reads the output.
func format(answer any, output string) string {
	b, err := json.Marshal(answer)
	if err != nil {
		panic(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 || v == nil {
		return "" // awscli/formatter.py prints nothing for an empty answer
	}
	if output != "json" {
		var lines []string
		textLines(v, &lines)
		return strings.Join(lines, "\n") + "\n"
	}
	b, _ = json.MarshalIndent(v, "", "    ")
	return string(b) + "\n"
}

func textLines(v any, lines *[]string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var scalars []string
		for _, k := range keys {
			switch x[k].(type) {
			case map[string]any, []any:
				textLines(x[k], lines)
			default:
				scalars = append(scalars, fmt.Sprint(x[k]))
			}
		}
		if len(scalars) > 0 {
			*lines = append(*lines, strings.Join(scalars, "\t"))
		}
	case []any:
		for _, e := range x {
			textLines(e, lines)
		}
	default:
		*lines = append(*lines, fmt.Sprint(x))
	}
}

// blob reads a blob option as the CLI v2 does: fileb:// passes a file's bytes; any text, a file://
// file's included, is base64, since cli_binary_format defaults to base64 in v2
// (aws-cli v2, awscli/customizations/binaryformat.py, Base64DecodeVisitor). Python's
// base64.b64decode skips the characters outside the alphabet and fails on what is left when its
// padding is wrong, with `Invalid base64: "<text>"`.
func blob(value, dir string) ([]byte, error) {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if p, ok := strings.CutPrefix(value, "fileb://"); ok {
		return os.ReadFile(abs(p))
	}
	if p, ok := strings.CutPrefix(value, "file://"); ok {
		b, err := os.ReadFile(abs(p))
		if err != nil {
			return nil, err
		}
		value = string(b)
	}
	kept := strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '+' || r == '/' || r == '=' {
			return r
		}
		return -1
	}, value)
	b, err := base64.StdEncoding.DecodeString(kept)
	if err != nil {
		return nil, usageError(fmt.Sprintf("Invalid base64: %q", value))
	}
	return b, nil
}

// jsonOption reads an option given as JSON into v. The CLI also takes shorthand syntax; the flow
// does not use it, so the fake refuses it.
func jsonOption(value string, v any) error {
	if err := json.Unmarshal([]byte(value), v); err != nil {
		return usageError(fmt.Sprintf("fake aws: not JSON (the fake takes no shorthand syntax): %v", err))
	}
	return nil
}
