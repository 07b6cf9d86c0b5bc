// Package cdktest helps tests synthesize a stack once and ask many questions of it.
package cdktest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Synthesized is one stack's synthesized template and annotations.
type Synthesized struct {
	// Stack is the synthesized stack.
	Stack awscdk.Stack
	// Template is the assertions view of its template.
	Template assertions.Template
	// JSON is the template as plain Go values, for questions Match cannot ask.
	JSON map[string]any
	// NagErrors lists "path: finding" for every unsuppressed cdk-nag error.
	NagErrors []string
}

// NewApp returns an app with the context of the project's cdk.json (its feature flags and
// settings), so that tests synthesize what `cdk synth` does.
func NewApp() awscdk.App {
	ctx := Context()
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx})
}

// Context returns the context of the project's cdk.json, found by walking up from the working
// directory.
func Context() map[string]any {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "cdk.json")); err == nil {
			var doc struct {
				Context map[string]any `json:"context"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				panic(err)
			}
			// What the CLI adds: construct paths in metadata, and no version report (cdk.json
			// turns it off so templates are reproducible).
			doc.Context["aws:cdk:enable-path-metadata"] = true
			doc.Context["aws:cdk:version-reporting"] = false
			return doc.Context
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("cdktest: no cdk.json above the working directory")
		}
		dir = parent
	}
}

// NewStack returns an environment-agnostic stack checked by cdk-nag's AwsSolutions pack, for
// testing one construct package on its own.
func NewStack(id string) awscdk.Stack {
	stack := awscdk.NewStack(NewApp(), jsii.String(id), nil)
	awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	return stack
}

// Synth synthesizes stack once and keeps everything a test asks of it. A synthesis that fails (an
// unsuppressed cdk-nag error fails it, as it fails cdk synth) stops the test with the reason; the
// findings are printed above it.
func Synth(t testing.TB, stack awscdk.Stack) *Synthesized {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("synthesis of %s failed: %v", *stack.StackName(), r)
		}
	}()
	s := &Synthesized{Stack: stack, Template: assertions.Template_FromStack(stack, nil)}
	b, err := json.Marshal(s.Template.ToJSON())
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(b, &s.JSON); err != nil {
		panic(err)
	}
	for _, m := range *assertions.Annotations_FromStack(stack).FindError(jsii.String("*"), assertions.Match_StringLikeRegexp(jsii.String(".*"))) {
		s.NagErrors = append(s.NagErrors, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
	}
	sort.Strings(s.NagErrors)
	return s
}

// Resources returns the logical ids and bodies of every resource of a type.
func (s *Synthesized) Resources(typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range s.JSON["Resources"].(map[string]any) {
		body := r.(map[string]any)
		if body["Type"] == typ {
			out[id] = body
		}
	}
	return out
}

// LogicalIDs returns the sorted logical ids of every resource of a type.
func (s *Synthesized) LogicalIDs(typ string) []string {
	ids := []string{}
	for id := range s.Resources(typ) {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Props returns the Properties of the only resource of a type, and panics if there is not one.
func (s *Synthesized) Props(typ string) map[string]any {
	rs := s.Resources(typ)
	if len(rs) != 1 {
		panic(fmt.Sprintf("cdktest: %d resources of type %s, want 1", len(rs), typ))
	}
	for _, r := range rs {
		props, _ := r["Properties"].(map[string]any)
		return props
	}
	return nil
}

// Text is the whole template as JSON text, for checks that something appears nowhere.
func (s *Synthesized) Text() string {
	b, _ := json.Marshal(s.JSON)
	return string(b)
}

// Has asserts that some resource of type typ has properties matching props (a Match pattern or
// a plain value), reporting the mismatch as a test error instead of a jsii panic.
func (s *Synthesized) Has(t testing.TB, typ string, props any) {
	t.Helper()
	s.try(t, func() { s.Template.HasResourceProperties(jsii.String(typ), props) })
}

// HasResource is Has for the whole resource body, for DeletionPolicy and the like.
func (s *Synthesized) HasResource(t testing.TB, typ string, body any) {
	t.Helper()
	s.try(t, func() { s.Template.HasResource(jsii.String(typ), body) })
}

// Count asserts how many resources of a type there are.
func (s *Synthesized) Count(t testing.TB, typ string, n int) {
	t.Helper()
	if got := len(s.Resources(typ)); got != n {
		t.Errorf("%d resources of type %s, want %d", got, typ, n)
	}
}

func (s *Synthesized) try(t testing.TB, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Error(r)
		}
	}()
	f()
}

// Obj and Arr shorten Match patterns in tests.
func Obj(m map[string]any) assertions.Matcher { return assertions.Match_ObjectLike(&m) }

// Arr matches an array that contains the given items, in order.
func Arr(items ...any) assertions.Matcher { return assertions.Match_ArrayWith(&items) }

// Main runs a package's tests and closes jsii after them; call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// Count returns how many resources of each type the stack synthesizes, for Examples to print.
func Count(stack awscdk.Stack, types ...string) string {
	t := assertions.Template_FromStack(stack, nil)
	var out []string
	for _, typ := range types {
		n := len(*t.FindResources(jsii.String(typ), nil))
		out = append(out, fmt.Sprintf("%s: %d", typ, n))
	}
	return strings.Join(out, "\n")
}

// Resolve renders a value that may hold tokens as the template would, as JSON text.
func Resolve(stack awscdk.Stack, value any) string {
	b, err := json.Marshal(stack.Resolve(value))
	if err != nil {
		panic(err)
	}
	return string(b)
}
