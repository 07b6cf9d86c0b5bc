package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/featureflags"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/internal/tier"
)

// TestMain doubles as the app: with RUN_AS_APP set, the test binary runs main, so tests can watch
// the exit code and output that `cdk synth` would show a user.
func TestMain(m *testing.M) {
	switch os.Getenv("RUN_AS_APP") {
	case "1", "default":
		main()
		os.Exit(0)
	case "floor":
		floorApp()
		os.Exit(0)
	}
	cdktest.Main(m)
}

// defaultSynth is the app synthesized with cdk.json's context, as `cdk synth` does it without
// credentials, once for every test that asks (the configuration sweep's default among them).
var defaultSynth *cdktest.Synthesized

func synthDefault(t *testing.T) *cdktest.Synthesized {
	t.Helper()
	if defaultSynth == nil {
		app := cdktest.NewApp()
		withEnv(map[string]string{"CDK_DEFAULT_ACCOUNT": "", "CDK_DEFAULT_REGION": ""}, func() { require.NoError(t, newApp(app)) })
		defaultSynth = cdktest.Synth(t, appStack(app))
	}
	return defaultSynth
}

// TestDefaultApp checks the shape of the default stack.
func TestDefaultApp(t *testing.T) {
	s := synthDefault(t)
	stack := s.Stack
	assert.Equal(t, StackName, *stack.StackName())
	assert.Empty(t, s.NagErrors)
	s.Has(t, "AWS::CodePipeline::Pipeline", map[string]any{"PipelineType": "V2"})
	s.Has(t, "AWS::CodeCommit::Repository", map[string]any{"RepositoryName": "sample-app", "Code": map[string]any{"BranchName": "main", "S3": map[string]any{"Bucket": map[string]any{"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}, "Key": assertions.Match_AnyValue()}}})
	s.Count(t, "AWS::CodeBuild::Project", 2) // the build and the pull request checks
	s.Count(t, "AWS::AutoScaling::AutoScalingGroup", 1)
	assert.True(t, *stack.TerminationProtection())
}

// appStack is the one stack of the app.
func appStack(app awscdk.App) awscdk.Stack {
	children := *app.Node().Children()
	if len(children) != 1 {
		panic("the app must have exactly one stack")
	}
	return awscdk.Stack_Of(children[0])
}

// runApp runs the app as the CLI does: cdk.json's context with the -c overrides on top, and env
// added to the environment.
func runApp(t *testing.T, overrides map[string]any, env ...string) (stderr string, code int, outdir string) {
	t.Helper()
	return runAppWith(t, env, overrides)
}

// runAppWith is runApp with env replacing the variables it names.
func runAppWith(t *testing.T, env []string, overrides map[string]any) (stderr string, code int, outdir string) {
	t.Helper()
	context := cdktest.Context()
	for k, v := range overrides {
		context[k] = v
	}
	ctx, err := json.Marshal(context)
	require.NoError(t, err)
	outdir = t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), "RUN_AS_APP=1", "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+outdir)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "CONTEXT_OVERFLOW_LOCATION_ENV=") })
	// Both streams: the CLI shows both, and synthesis reports its findings on stdout.
	var errb strings.Builder
	cmd.Stderr, cmd.Stdout = &errb, &errb
	err = cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return errb.String(), code, outdir
}

// TestBadSettingsFailCleanly is what a user sees after a typo: every problem, one line each, and
// nothing synthesized. The context arrives as strings, as -c key=value gives it. The app finds the
// problems before it starts Node.js: here it has none to start.
func TestBadSettingsFailCleanly(t *testing.T) {
	t.Parallel() // a subprocess: no CDK call in this process
	stderr, code, outdir := runAppWith(t, []string{"PATH=" + t.TempDir()}, map[string]any{
		"deployTarget":  "instances",
		"fleetSize":     "many",
		"notifications": `[{"protocol":"pager","endpoint":"x"}]`,
		"approval":      "yes",
		"branch":        "bad..branch",
		"fleet_size":    "3",
	})
	assert.Equal(t, 1, code)
	assert.NotContains(t, stderr, "panic")
	assert.NotContains(t, stderr, "goroutine")
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(line, "  ") {
			problems = append(problems, strings.TrimSpace(line))
		}
	}
	assert.Len(t, problems, 6, stderr)
	for _, key := range []string{"approval:", "branch:", "notifications[0]:", "fleetSize:", "instanceTag:", "fleet_size: unknown setting; did you mean fleetSize?"} {
		assert.Contains(t, stderr, "  "+key)
	}
	entries, err := os.ReadDir(outdir)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing is synthesized")
}

// TestCLIContextAndGoodSettings runs the app with the keys the CDK CLI 2.1148.1 adds to the context
// itself (recorded from its CDK_CONTEXT_JSON), lookups it records in cdk.context.json, a feature
// flag given on the command line, and valid -c strings: none of the CLI's keys is a setting, the
// strings parse, and the synth writes the template. One run answers both, because each run is a
// jsii process and a whole synth. .ci/run also synthesizes through the real CLI with a feature flag.
func TestCLIContextAndGoodSettings(t *testing.T) {
	tier.Deep(t)
	t.Parallel() // a subprocess: no CDK call in this process
	stderr, code, outdir := runApp(t, map[string]any{
		"aws:cdk:enable-path-metadata": true, "aws:cdk:enable-asset-metadata": true,
		"aws:cdk:disable-version-reporting": true, "aws:cdk:bundling-stacks": []any{"**"},
		"@aws-cdk/core:failSynthOnValidationErrors": false, "@aws-cdk/aws-lambda:recognizeVersionProps": "true",
		"availability-zones:account=123456789012:region=eu-west-1": []any{"eu-west-1a", "eu-west-1b"},
		"acknowledged-issue-numbers":                               []any{32775.0},
		"deployTarget":                                             "beanstalk", "beanstalkApplication": "app", "beanstalkEnvironment": "app-env",
		"approval": "false", "terminationProtection": "false",
	})
	require.Equal(t, 0, code, stderr)
	_, err := os.Stat(filepath.Join(outdir, StackName+".template.json"))
	assert.NoError(t, err)
}

// TestWrapperPrintsOnlyTheErrorBlock runs the app as cdk.json does (scripts/cdk-app) with a
// misspelled key: the output is the error block, and nothing from the go tool.
func TestWrapperPrintsOnlyTheErrorBlock(t *testing.T) {
	t.Parallel() // a subprocess: no CDK call in this process
	context := cdktest.Context()
	context["aproval"] = "false"
	ctx, err := json.Marshal(context)
	require.NoError(t, err)
	outdir := t.TempDir()
	stale := filepath.Join(outdir, "validation-report.json")
	require.NoError(t, os.WriteFile(stale, []byte(`{"pluginReports":[{"conclusion":"failure"}]}`), 0o644))
	cmd := exec.Command("bash", "scripts/cdk-app")
	// As a user runs it: none of jsii's silencing variables, whatever this shell exports. The app
	// reports a typo before Node.js starts, so no jsii banner can come here; scripts/fresh-clone-check
	// (in CI) checks that a whole `cdk synth` through this wrapper prints none on the README's Node.js.
	cmd.Env = append(withoutJSIISilencing(os.Environ()), "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+outdir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Equal(t, "invalid settings (cdk.json context or -c key=value):\n  aproval: unknown setting; did you mean approval?\n", string(out))
	assert.NoFileExists(t, stale, "an earlier failure's report would fail the next synth in the CLI")
}

// withoutJSIISilencing is env without jsii's JSII_SILENCE_WARNING_* variables.
func withoutJSIISilencing(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "JSII_SILENCE_WARNING_") {
			out = append(out, kv)
		}
	}
	return out
}

// TestReadmeNamesTheSupportedNodeVersions keeps the Node.js versions whose jsii banner scripts/cdk-app
// silences the same as the README's prerequisites: the app hides the banner of no version the
// README does not support, and of every version the README names.
func TestReadmeNamesTheSupportedNodeVersions(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	_, prerequisites, ok := strings.Cut(string(readme), "## Prerequisites\n")
	require.True(t, ok, "README.md has a Prerequisites section")
	prerequisites, _, _ = strings.Cut(prerequisites, "\n## ")
	line := ""
	for _, l := range strings.Split(prerequisites, "\n") {
		if strings.HasPrefix(l, "- Node.js ") {
			line = l
		}
	}
	require.NotEmpty(t, line, "a prerequisite names the Node.js versions")
	versions, _, _ := strings.Cut(line, " with ") // "- Node.js 20, 22 or 24, with npm (...)"
	named := regexp.MustCompile(`\b\d+\b`).FindAllString(versions, -1)

	wrapper, err := os.ReadFile("scripts/cdk-app")
	require.NoError(t, err)
	silenced := regexp.MustCompile(`(?m)^supported_node_majors=([0-9,]+)$`).FindStringSubmatch(string(wrapper))
	require.Len(t, silenced, 2, "scripts/cdk-app sets supported_node_majors")
	assert.Equal(t, strings.Split(silenced[1], ","), named, line)
}

// TestCompliancePacksAreChecked proves the setting adds a pack: the default stack does not pass
// NIST 800-53 R5 yet, so the synth fails with its findings, as the README says.
func TestCompliancePacksAreChecked(t *testing.T) {
	tier.Deep(t)
	t.Parallel() // a subprocess: no CDK call in this process
	// Without building the functions, which the packs do not look at.
	output, code, _ := runApp(t, map[string]any{"compliancePacks": `["NIST.800.53.R5"]`, "aws:cdk:bundling-stacks": []any{}})
	assert.Equal(t, 1, code)
	assert.Contains(t, output, "NIST.800.53.R5-")
	assert.Contains(t, output, "synthesis failed: ")
	assert.NotContains(t, output, "goroutine", "no Go panic trace")
	assert.NotContains(t, output, "ERROR AwsSolutions-", "AwsSolutions stays clean")
}

// TestOfflineCrossAccountSynth follows docs/review.md's offline path for an environment in another
// account: with the pipeline's account and region given as the CLI gives them without credentials
// (CDK_DEFAULT_ACCOUNT from the shell, CDK_DEFAULT_REGION from AWS_REGION), the synth needs exactly
// the availability-zone entries the page lists, and with them in cdk.context.json (which the CLI
// merges into the app's context) nothing is left to look up and every stack is written.
func TestOfflineCrossAccountSynth(t *testing.T) {
	tier.Deep(t)
	t.Parallel() // subprocesses: no CDK call in this process
	doc, err := os.ReadFile("docs/review.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "## Offline: other accounts and cdk diff\n")
	require.True(t, ok, "docs/review.md has the offline section")
	section, _, _ = strings.Cut(section, "\n## ")
	_, contextJSON, ok := strings.Cut(section, "```json\n")
	require.True(t, ok, "the section shows cdk.context.json")
	contextJSON, _, _ = strings.Cut(contextJSON, "```")
	var lookups map[string]any
	require.NoError(t, json.Unmarshal([]byte(contextJSON), &lookups))
	command := regexp.MustCompile(`CDK_DEFAULT_ACCOUNT=(\d{12}) AWS_REGION=([a-z0-9-]+) npx cdk synth -c environments='([^']+)'`).FindStringSubmatch(section)
	require.Len(t, command, 4, "the section shows the offline synth command")
	env := []string{"CDK_DEFAULT_ACCOUNT=" + command[1], "CDK_DEFAULT_REGION=" + command[2]}
	settings := map[string]any{"environments": command[3], "aws:cdk:bundling-stacks": []any{}}

	missing := func(outdir string) []string {
		b, err := os.ReadFile(filepath.Join(outdir, "manifest.json"))
		require.NoError(t, err)
		var manifest struct {
			Missing []struct{ Key string } `json:"missing"`
		}
		require.NoError(t, json.Unmarshal(b, &manifest))
		var keys []string
		for _, m := range manifest.Missing {
			keys = append(keys, m.Key)
		}
		return keys
	}
	var documented []string
	for k := range lookups {
		documented = append(documented, k)
	}

	// Without the entries, the CLI would have to look them up: exactly those, no more, no fewer.
	output, code, outdir := runApp(t, settings, env...)
	require.Equal(t, 0, code, output)
	assert.ElementsMatch(t, documented, missing(outdir), "the lookups the app asks for are the entries docs/review.md lists")

	for k, v := range lookups {
		settings[k] = v
	}
	output, code, outdir = runApp(t, settings, env...)
	require.Equal(t, 0, code, output)
	assert.Empty(t, missing(outdir), "with cdk.context.json's entries nothing is left to look up")
	for _, stack := range []string{StackName, StackName + "-prod"} {
		assert.FileExists(t, filepath.Join(outdir, stack+".template.json"))
	}
}

// TestFeatureFlagsForConsumers synthesizes a fleet, whose VPC depends on feature flags, as another
// team's app would: its own awscdk.NewApp with featureflags.Context(). It must synthesize what this
// app (cdk.json's context, as cdktest gives it) synthesizes; an app without the flags differs, for
// one in the VPC's default security group (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup).
func TestFeatureFlagsForConsumers(t *testing.T) {
	fleet := func(app awscdk.App) map[string]any {
		stack := awscdk.NewStack(app, jsii.String("Consumer"), nil)
		deploy.NewFleet(stack, jsii.String("Fleet"), nil)
		resources := cdktest.Synth(t, stack).JSON["Resources"].(map[string]any)
		for _, r := range resources {
			delete(r.(map[string]any), "Metadata") // construct paths: the CLI adds them, a plain app does not
		}
		return resources
	}
	ctx := featureflags.Context()
	ctx["aws:cdk:bundling-stacks"] = []any{} // as cdktest.NewApp: no function to build
	consumer := fleet(awscdk.NewApp(&awscdk.AppProps{Context: &ctx, Outdir: jsii.String(t.TempDir())}))
	this := fleet(cdktest.NewApp())
	without := fleet(awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{"aws:cdk:bundling-stacks": []any{}}, Outdir: jsii.String(t.TempDir())}))

	var differ []string
	for id := range this {
		if !reflect.DeepEqual(this[id], consumer[id]) {
			differ = append(differ, id)
		}
	}
	for id := range consumer {
		if _, ok := this[id]; !ok {
			differ = append(differ, id)
		}
	}
	assert.Empty(t, differ, "a consumer app with featureflags.Context() synthesizes what this app does; these resources differ")
	restricts := func(resources map[string]any) bool {
		for _, r := range resources {
			if r.(map[string]any)["Type"] == "Custom::VpcRestrictDefaultSG" {
				return true
			}
		}
		return false
	}
	assert.True(t, restricts(consumer), "the default security group's rules are removed")
	assert.False(t, restricts(without), "an app without the flags keeps them: the flags matter")
}

// TestConstructsDocCompiles type-checks the program in docs/constructs.md against the packages as
// they are, so the documented public API cannot drift.
func TestConstructsDocCompiles(t *testing.T) {
	t.Parallel() // the go tool: no CDK call in this process
	doc, err := os.ReadFile("docs/constructs.md")
	require.NoError(t, err)
	// The program is the Go block that is a whole package; the others are fragments of it.
	program := ""
	for _, block := range strings.Split(string(doc), "```go\n")[1:] {
		if code, _, _ := strings.Cut(block, "```"); strings.HasPrefix(code, "package main\n") {
			program = code
		}
	}
	require.NotEmpty(t, program, "docs/constructs.md has a Go program")
	// Inside the module, so that it builds against this checkout; go's ./... skips "_" folders.
	dir, err := os.MkdirTemp(".", "_docprogram")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(program), 0o644))
	out, err := exec.Command("go", "vet", "./"+dir).CombinedOutput()
	assert.NoError(t, err, string(out))
}

// TestCLIContext: the app reads the CLI's context in Go as aws-cdk-lib's App reads it, the
// overflow file's keys over the environment's; without either, or when one is not JSON, it leaves
// the reading to the App.
func TestCLIContext(t *testing.T) {
	overflow := filepath.Join(t.TempDir(), "context.json")
	require.NoError(t, os.WriteFile(overflow, []byte(`{"branch":"develop","fleetSize":3}`), 0o644))
	for _, c := range []struct {
		name, env, file string
		want            map[string]any
		ok              bool
	}{
		{"none", "", "", nil, false},
		{"environment", `{"branch":"main","approval":"false"}`, "", map[string]any{"branch": "main", "approval": "false"}, true},
		{"both", `{"branch":"main","approval":"false"}`, overflow, map[string]any{"branch": "develop", "approval": "false", "fleetSize": 3.0}, true},
		{"file only", "", overflow, map[string]any{"branch": "develop", "fleetSize": 3.0}, true},
		{"not JSON", `{"branch":`, "", nil, false},
		{"null, and a file", `null`, overflow, map[string]any{"branch": "develop", "fleetSize": 3.0}, true},
		{"a list", `["branch"]`, "", nil, false},
		{"no file", `{}`, filepath.Join(t.TempDir(), "absent.json"), nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("CDK_CONTEXT_JSON", c.env) // empty: as if unset, as the App reads it
			t.Setenv("CONTEXT_OVERFLOW_LOCATION_ENV", c.file)
			got, ok := cliContext()
			assert.Equal(t, c.ok, ok)
			if c.ok {
				assert.Equal(t, c.want, got)
			}
		})
	}
}
