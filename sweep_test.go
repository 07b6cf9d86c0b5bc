package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/internal/sweep"
)

// SweepVariable asks TestSweep for every configuration and update path (CI sets it to "full");
// without it, a fixed sample runs.
const SweepVariable = "CDK_PIPELINE_SWEEP"

// sweptApps keeps each configuration's synthesized app, for the update paths that share it.
var sweptApps = map[string]*sweptApp{}

type sweptApp struct {
	app       *sweep.App
	nagErrors []string
}

// synthSwept synthesizes configuration c as the app does (newApp, as main runs it): cdk.json's
// context with c's on top, each value as -c gives it (text: a list or an object crossing jsii
// inside an untyped value would arrive wrapped), and the credentials' account and region where c
// pins the pipeline.
func synthSwept(t *testing.T, dims []sweep.Dimension, c sweep.Config) *sweptApp {
	t.Helper()
	key := fmt.Sprint([]int(c))
	if got, ok := sweptApps[key]; ok {
		return got
	}
	if !slices.ContainsFunc(c, func(class int) bool { return class != 0 }) {
		// The defaults: the app as TestDefaultApp synthesizes it, one stack.
		s := synthDefault(t)
		st := &sweep.Stack{Name: *s.Stack.StackName(), Template: s.JSON}
		sweptApps[key] = &sweptApp{app: &sweep.App{Stacks: []*sweep.Stack{st}, Pipeline: st}, nagErrors: s.NagErrors}
		return sweptApps[key]
	}
	app := cdktest.NewApp()
	for k, v := range c.Context(dims) {
		if _, isText := v.(string); !isText {
			b, err := json.Marshal(v)
			require.NoError(t, err)
			v = string(b)
		}
		app.Node().SetContext(jsii.String(k), v)
	}
	account, region := "", ""
	if c.Pinned(dims) {
		account, region = sweep.PipelineAccount, sweep.PipelineRegion
	}
	var err error
	var failed any
	withEnv(map[string]string{"CDK_DEFAULT_ACCOUNT": account, "CDK_DEFAULT_REGION": region, "CDK_PIPELINE_AGNOSTIC": ""}, func() {
		defer func() { failed = recover() }()
		err = newApp(app)
	})
	if err != nil || failed != nil {
		t.Errorf("%s: the settings accept it, the app refuses it: %v%v", c.Name(dims), err, failed)
		sweptApps[key] = &sweptApp{app: &sweep.App{}}
		return sweptApps[key]
	}
	var all []awscdk.Stack
	for _, child := range *app.Node().Children() {
		if st, ok := child.(awscdk.Stack); ok {
			all = append(all, st)
		}
	}
	got := &sweptApp{app: &sweep.App{}}
	for _, syn := range cdktest.SynthAll(t, all...) {
		st := &sweep.Stack{Name: *syn.Stack.StackName(), Template: syn.JSON}
		if !*awscdk.Token_IsUnresolved(syn.Stack.Account()) {
			st.Account, st.Region = *syn.Stack.Account(), *syn.Stack.Region()
		}
		for _, d := range *syn.Stack.Dependencies() {
			st.DependsOn = append(st.DependsOn, *d.StackName())
		}
		got.app.Stacks = append(got.app.Stacks, st)
		if st.Name == StackName {
			got.app.Pipeline = st
		}
		for _, e := range syn.NagErrors {
			got.nagErrors = append(got.nagErrors, st.Name+": "+e)
		}
	}
	sweptApps[key] = got
	return got
}

// settingLine is how every line of a settings error starts: the setting, or the entry and field,
// it is about.
var settingLine = regexp.MustCompile(`^[a-zA-Z]+(\[[0-9]+\])?(\.[a-zA-Z]+)?: \S`)

// withEnv runs f with the environment variables vars set (an empty value unsets one), then puts
// them back: the app reads the credentials' account and region from the environment, as the CLI
// passes them. Tests never run the app in parallel in this process.
func withEnv(vars map[string]string, f func()) {
	for k, v := range vars {
		old, had := os.LookupEnv(k)
		if v == "" {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, v)
		}
		defer func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		}()
	}
	f()
}

// TestSweep: every configuration of the covering array over the settings space (package sweep) is
// either refused by the settings, with one clear line per problem, or synthesizes every stack with
// no unsuppressed cdk-nag finding and within every documented service constraint; every update
// path changes stateful resources only where the settings documentation says it does. Without
// CDK_PIPELINE_SWEEP=full a fixed sample runs; CI runs all of it and lints every template.
func TestSweep(t *testing.T) {
	start := time.Now()
	dims := sweep.Space()
	full := os.Getenv(SweepVariable) == "full"
	paths := sweep.Paths(dims)
	var configs []sweep.Config
	var coverage sweep.Coverage
	if full {
		coverage = sweep.Cover(dims, sweep.SettingsProblems)
		require.Empty(t, sweep.Pairs(dims, append(slices.Clone(coverage.Accepted), coverage.Refused...)), "every pair of classes is in a configuration")
		for _, c := range coverage.Refused {
			_, err := sweep.Check(c.Context(dims), c.Pinned(dims))
			if assert.Error(t, err, "%s is a refused pair's configuration", c.Name(dims)) {
				for _, line := range sweep.Lines(err) {
					assert.Regexp(t, settingLine, line, "%s: each problem, one line, naming its setting", c.Name(dims))
				}
			}
		}
		configs = coverage.Accepted
	} else {
		// The sample: the defaults to one named environment, each side also checked as a
		// configuration (one stack each, the defaults synthesized once for TestDefaultApp too: the
		// cheapest path that moves resources between ids). The covering array itself is package
		// sweep's pure-Go test, in the deep tier; CI's full sweep has every path.
		paths = slices.DeleteFunc(paths, func(p sweep.Path) bool { return p.Name != "environments=one" })
		require.Len(t, paths, 1, "the sample's update path")
		configs = []sweep.Config{paths[0].From, paths[0].To}
	}
	// The synths: a fixed sample in go test ./..., all of them in CI's own step.
	t.Run("Synth", func(t *testing.T) {
		for _, c := range configs {
			got := synthSwept(t, dims, c)
			assert.Empty(t, got.nagErrors, c.Name(dims))
			assert.Empty(t, sweep.Violations(got.app), c.Name(dims))
			assert.Empty(t, sweep.Suppressions(got.app), "%s: the suppression audit", c.Name(dims))
			assert.Empty(t, sweep.UndocumentedRetainedNames(got.app), "%s: retained under a fixed name, which blocks deploying again after deleting; document the recovery", c.Name(dims))
		}

		var pairs []templatePair
		dir := t.TempDir()
		for i, p := range paths {
			before, after := synthSwept(t, dims, p.From), synthSwept(t, dims, p.To)
			changes := sweep.Changes(before.app, after.app)
			assert.Empty(t, sweep.Unexpected(p, changes, sweep.ExpectedChanges), "%s: stateful resources replaced or removed", p.Name)
			assert.Empty(t, sweep.NameClashes(before.app, after.app), "%s: a fixed name taken before its holder is deleted", p.Name)
			for _, st := range before.app.Stacks {
				pair := templatePair{Name: fmt.Sprintf("%d/%s", i, st.Name), Before: writeTemplate(t, dir, "before", i, st)}
				if now := after.app.Stack(st.Name); now != nil {
					pair.After = writeTemplate(t, dir, "after", i, now)
				}
				pair.changes, pair.stack, pair.path = changes, st.Name, p.Name
				pairs = append(pairs, pair)
			}
		}
		checkWithCDKDiff(t, full, pairs)
	})
	if full {
		t.Logf("sweep: %d dimensions; %d configurations accepted and %d refused cover every pair", len(dims), len(coverage.Accepted), len(coverage.Refused))
	}
	t.Logf("sweep: %d configurations synthesized, %d update paths checked, in %s", len(configs), len(paths), time.Since(start).Round(time.Second))
}

type templatePair struct {
	Name    string `json:"name"`
	Before  string `json:"before"`
	After   string `json:"after,omitempty"`
	changes []sweep.Change
	stack   string
	path    string
}

func writeTemplate(t *testing.T, dir, side string, i int, st *sweep.Stack) string {
	t.Helper()
	b, err := json.Marshal(st.Template)
	require.NoError(t, err)
	file := filepath.Join(dir, fmt.Sprintf("%s-%d-%s.json", side, i, st.Name))
	require.NoError(t, os.WriteFile(file, b, 0o644))
	return file
}

// checkWithCDKDiff asks the CDK's own diff library (scripts/template-diff.js, in one Node.js
// process) what every update path replaces or removes, and fails where it disagrees with the
// sweep's reading, in the subtest CDKDiff. The library comes with npm ci; the full sweep and CI
// (CDK_PIPELINE_NO_SKIP) require it, a machine without it skips the subtest and says why.
func checkWithCDKDiff(t *testing.T, required bool, pairs []templatePair) {
	t.Helper()
	if len(pairs) == 0 {
		return
	}
	t.Run("CDKDiff", func(t *testing.T) { cdkDiff(t, required || os.Getenv("CDK_PIPELINE_NO_SKIP") != "", pairs) })
}

func cdkDiff(t *testing.T, required bool, pairs []templatePair) {
	if _, err := os.Stat("node_modules/@aws-cdk/cloudformation-diff"); err != nil {
		if required {
			t.Fatal("the CDK diff of the update paths needs @aws-cdk/cloudformation-diff: run npm ci first")
		}
		t.Skip("the CDK diff of the update paths needs @aws-cdk/cloudformation-diff, which npm ci installs")
	}
	input, err := json.Marshal(pairs)
	require.NoError(t, err)
	cmd := exec.Command("node", "scripts/template-diff.js")
	cmd.Stdin = strings.NewReader(string(input))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	byName := map[string]templatePair{}
	for _, p := range pairs {
		byName[p.Name] = p
	}
	lines := bufio.NewScanner(strings.NewReader(string(out)))
	lines.Buffer(nil, 1<<24)
	n := 0
	for lines.Scan() {
		var result struct {
			Name      string         `json:"name"`
			Resources []sweep.Impact `json:"resources"`
		}
		require.NoError(t, json.Unmarshal(lines.Bytes(), &result))
		p := byName[result.Name]
		if p.After == "" {
			continue // a removed stack: Changes reports it whole
		}
		assert.Empty(t, sweep.Disagreement(p.stack, p.changes, result.Resources), p.path)
		n++
	}
	require.NoError(t, lines.Err())
	assert.Equal(t, len(pairs), n+countRemoved(pairs), "one answer per template pair")
}

func countRemoved(pairs []templatePair) int {
	n := 0
	for _, p := range pairs {
		if p.After == "" {
			n++
		}
	}
	return n
}
