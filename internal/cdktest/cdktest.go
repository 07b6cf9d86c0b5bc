// Package cdktest helps tests synthesize a stack once and ask many questions of it.
package cdktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Synthesized is one stack's synthesized template and annotations.
type Synthesized struct {
	// Stack is the synthesized stack; nil when Load read it from another process's assembly.
	Stack awscdk.Stack
	// view is the assertions view of its template, made on first use.
	view assertions.Template
	// JSON is the template as plain Go values, for questions Match cannot ask.
	JSON map[string]any
	// NagErrors lists "path: finding" for every unsuppressed cdk-nag error.
	NagErrors []string
	// paths are the resources' construct paths by logical id, made on first use.
	paths map[string]string
}

// Account is the AWS account of the tests' region-pinned stacks, and OtherAccount that of their
// environments in another account; cdktest supplies the lookups the CLI would make for them
// (availability zones in eu-west-1 and us-east-1).
const (
	Account      = "123456789012"
	OtherAccount = "210987654321"
)

// NewApp returns an app with the context of the project's cdk.json (its feature flags and
// settings), so that tests synthesize what `cdk synth` does. Each app writes its cloud assembly to
// a directory of its own below the package's output directory (see Main). Its stacks' assets are
// not bundled.
func NewApp() awscdk.App {
	ctx := Context()
	// No bundling: the stack's Go functions would be compiled in every test package. The CLI
	// bundles every stack; TestFormatterBundle builds the function as cdk synth does.
	ctx["aws:cdk:bundling-stacks"] = []any{}
	apps++
	return awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(filepath.Join(outdir(), fmt.Sprintf("app%d", apps)))})
}

// apps counts the apps NewApp made, for their output directories; tests never run CDK code in
// parallel (jsii is not goroutine-safe), so a plain counter is enough.
var apps int

// AssemblyDir returns a new directory for the cloud assembly of an app that another process
// synthesizes, below the package's output directory, so that Main keeps its templates as it
// keeps those of NewApp's apps.
func AssemblyDir() string {
	dir, err := os.MkdirTemp(outdir(), "process")
	if err != nil {
		panic(err)
	}
	return dir
}

// Load reads stack's template and unsuppressed cdk-nag errors from the cloud assembly in dir, as
// Synth keeps them for a stack synthesized in this process. Its Stack is nil.
func Load(t testing.TB, dir, stack string) *Synthesized {
	t.Helper()
	type entries map[string][]struct {
		Type string
		Data any
	}
	var manifest struct {
		Artifacts map[string]struct {
			Type       string
			Properties struct{ TemplateFile string }
			// Metadata is the construct tree's annotations, by path; aws-cdk-lib writes them to
			// the file AdditionalMetadataFile names instead.
			Metadata               entries
			AdditionalMetadataFile string
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("cdktest.Load: %v", err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatalf("cdktest.Load: %s: %v", dir, err)
	}
	artifact, ok := manifest.Artifacts[stack]
	if !ok || artifact.Type != "aws:cloudformation:stack" {
		t.Fatalf("cdktest.Load: the assembly in %s has no stack %s", dir, stack)
	}
	s := &Synthesized{}
	if b, err = os.ReadFile(filepath.Join(dir, artifact.Properties.TemplateFile)); err == nil {
		err = json.Unmarshal(b, &s.JSON)
	}
	if err != nil {
		t.Fatalf("cdktest.Load: %s's template: %v", stack, err)
	}
	metadata := artifact.Metadata
	if file := artifact.AdditionalMetadataFile; file != "" {
		more := entries{}
		if b, err = os.ReadFile(filepath.Join(dir, file)); err == nil {
			err = json.Unmarshal(b, &more)
		}
		if err != nil {
			t.Fatalf("cdktest.Load: %s's metadata: %v", stack, err)
		}
		metadata = entries{}
		maps.Copy(metadata, artifact.Metadata)
		for path, list := range more {
			metadata[path] = append(metadata[path], list...)
		}
	}
	for path, list := range metadata {
		for _, e := range list {
			if e.Type == "aws:cdk:error" {
				s.NagErrors = append(s.NagErrors, fmt.Sprintf("%s: %v", path, e.Data))
			}
		}
	}
	slices.Sort(s.NagErrors)
	return s
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
			// What the CLI adds: construct paths and asset locations in metadata, and no version
			// report (cdk.json turns it off so templates are reproducible).
			doc.Context["aws:cdk:enable-path-metadata"] = true
			doc.Context["aws:cdk:enable-asset-metadata"] = true
			doc.Context["aws:cdk:version-reporting"] = false
			// What the CLI would look up for a stack with a known environment (cdk.context.json):
			// without it, a VPC spreads over placeholder zones such as dummy1a.
			for _, account := range []string{Account, OtherAccount} {
				for _, region := range []string{"eu-west-1", "us-east-1"} {
					doc.Context["availability-zones:account="+account+":region="+region] = []any{region + "a", region + "b", region + "c"}
				}
			}
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
	return SynthAll(t, stack)[0]
}

// SynthAll synthesizes the app of stacks once and keeps, for each stack, everything a test asks
// of it. (assertions.Template.FromStack and Annotations.FromStack would each synthesize the whole
// app again, for every stack.)
func SynthAll(t testing.TB, stacks ...awscdk.Stack) []*Synthesized {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("synthesis of %s failed: %v", *stacks[0].StackName(), r)
		}
	}()
	assembly := awscdk.Stage_Of(stacks[0]).Synth(&awscdk.StageSynthesisOptions{Force: jsii.Bool(true)})
	var out []*Synthesized
	for _, stack := range stacks {
		artifact := assembly.GetStackArtifact(stack.ArtifactId())
		s := &Synthesized{Stack: stack}
		b, err := json.Marshal(artifact.Template())
		if err != nil {
			panic(err)
		}
		if err := json.Unmarshal(b, &s.JSON); err != nil {
			panic(err)
		}
		for _, m := range *artifact.Messages() {
			if m.Level == cxapi.SynthesisMessageLevel_ERROR {
				s.NagErrors = append(s.NagErrors, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
			}
		}
		slices.Sort(s.NagErrors)
		out = append(out, s)
	}
	return out
}

// Template is the assertions view of the template, made on first use: Has and HasResource use
// the library's matchers.
func (s *Synthesized) Template() assertions.Template {
	if s.view == nil {
		s.view = assertions.Template_FromJSON(&s.JSON, nil)
	}
	return s.view
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
	slices.Sort(ids)
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
	s.try(t, func() { s.Template().HasResourceProperties(jsii.String(typ), props) })
}

// HasResource is Has for the whole resource body, for DeletionPolicy and the like.
func (s *Synthesized) HasResource(t testing.TB, typ string, body any) {
	t.Helper()
	s.try(t, func() { s.Template().HasResource(jsii.String(typ), body) })
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

// ObjectLike is Match.objectLike: an object with at least m's keys, whose values match m's (the
// objects nested in m match the same way). The object may have other keys.
func ObjectLike(m map[string]any) assertions.Matcher { return assertions.Match_ObjectLike(&m) }

// ArrayWith is Match.arrayWith: an array that contains items, in this order, among others. A
// plain object among items matches exactly, every key; wrap it in ObjectLike to name some.
func ArrayWith(items ...any) assertions.Matcher { return assertions.Match_ArrayWith(&items) }

// TemplatesDirVariable names the environment variable that asks Main to keep every template the
// package's tests synthesized, so that CI can lint them all with cfn-lint (.ci/run sets it).
const TemplatesDirVariable = "CDK_PIPELINE_TEMPLATES_DIR"

// Main runs a package's tests and closes jsii after them; call it from TestMain. Assets are not
// bundled (see NewApp).
//
// aws-cdk-lib's built-in template validation is off in tests unless CDK_VALIDATION is set: it costs
// about two seconds per test process, and CI lints every synthesized template with cfn-lint, AWS's
// own linter, instead. Every app, including those an Example makes with awscdk.NewApp(nil), writes
// below one output directory (CDK_OUTDIR), from which Main copies the templates to
// $CDK_PIPELINE_TEMPLATES_DIR when that is set.
//
// Main runs the offload tests, those of them the command line selects, in a second process (this
// test binary again, verbose) beside this one; each of them starts with `if cdktest.Offloaded(t)
// { return }`, which reports its outcome here. jsii is not goroutine-safe, so a package's
// syntheses otherwise use one core.
func Main(m *testing.M, offload ...string) {
	if os.Getenv("CDK_VALIDATION") == "" {
		os.Setenv("CDK_VALIDATION", "false")
	}
	// The CLI's way to pass context, read by every app, also one an Example makes with
	// awscdk.NewApp(nil): no bundling, as in NewApp. A test that bundles sets it in the app's
	// PostCliContext, which comes after.
	if os.Getenv("CDK_CONTEXT_JSON") == "" {
		os.Setenv("CDK_CONTEXT_JSON", `{"aws:cdk:bundling-stacks":[]}`)
	}
	os.Setenv("CDK_OUTDIR", outdir())
	// The jsii client, and with it the environment its Node.js process will get, is created while
	// packages initialize (type registration); only the process start is lazy. Closing the
	// unstarted client makes the first CDK call start one that sees the variables above.
	jsii.Close()
	if len(offload) > 0 && os.Getenv(offloadVariable) == "" {
		startOffload(offload)
	}
	code := m.Run()
	jsii.Close()
	if offloaded.done != nil {
		<-offloaded.done // its templates are kept too, and no process outlives the tests
	}
	if dir := os.Getenv(TemplatesDirVariable); dir != "" && code == 0 {
		if err := keepTemplates(dir); err != nil {
			fmt.Fprintln(os.Stderr, "cdktest:", err)
			code = 1
		}
	}
	os.RemoveAll(outdir())
	os.Exit(code)
}

var outdirPath string

// outdir is the package's output directory for cloud assemblies, made on first use.
func outdir() string {
	if outdirPath == "" {
		dir, err := os.MkdirTemp("", "cdktest-")
		if err != nil {
			panic(err)
		}
		outdirPath = dir
	}
	return outdirPath
}

// keepTemplates copies every synthesized template to dir, named after the package and the app's
// directory so that no two packages' templates collide. Only cloud assemblies' own templates: a
// folder without a manifest.json (an asset, a staged seed of this repository) holds sources.
func keepTemplates(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	pkg := keepName(filepath.Base(wd))
	return filepath.WalkDir(outdir(), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if _, err := os.Stat(filepath.Join(path, "manifest.json")); err != nil && path != outdir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".template.json") {
			return nil
		}
		rel, err := filepath.Rel(outdir(), path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, pkg+"-"+strings.ReplaceAll(rel, string(filepath.Separator), "-")), b, 0o644)
	})
}

// Resolve renders a value that may hold tokens as the template would, as JSON text.
func Resolve(stack awscdk.Stack, value any) string {
	b, err := json.Marshal(stack.Resolve(value))
	if err != nil {
		panic(err)
	}
	return string(b)
}
