// Command cdk-pipeline is the CDK app: it reads the settings from CDK context, validates them, and
// synthesizes the pipeline stack. Run it through the CDK CLI: npx cdk synth.
package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/constructs/selfupdate/seed"
	"github.com/pipekit/cdk-pipeline/settings"
	"github.com/pipekit/cdk-pipeline/stacks"
)

// StackName is the id, and so the CloudFormation name, of the pipeline stack.
const StackName = "CicdPipeline"

func main() {
	// The CLI's context, read in Go: a typo fails at once, before jsii starts Node.js and loads
	// aws-cdk-lib (about half a second).
	if ctx, ok := cliContext(); ok {
		if _, _, err := check(ctx); err != nil {
			invalid(err)
		}
	}
	app := awscdk.NewApp(&awscdk.AppProps{BuiltinCloudFormationValidation: jsii.Bool(builtinValidation())})
	if err := newApp(app); err != nil {
		jsii.Close()
		invalid(err)
	}
	synth(app)
	jsii.Close()
}

// invalid reports every settings problem, one line each, and exits with 1.
func invalid(err error) {
	fmt.Fprintln(os.Stderr, "invalid settings (cdk.json context or -c key=value):")
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(os.Stderr, "  "+line)
	}
	os.Exit(1)
}

// cliContext is the context the CDK CLI gives the app, as aws-cdk-lib's App reads it
// (core/lib/app.js, loadContext): the JSON of CDK_CONTEXT_JSON, and that of the file
// CONTEXT_OVERFLOW_LOCATION_ENV names (the CLI's overflow for a context too large for the
// environment), the file's keys last; an empty variable, or JSON null, is no context. ok is false
// when neither is set, or one does not read as a JSON object: the app's own reading is then the
// only one.
func cliContext() (ctx map[string]any, ok bool) {
	ctx = map[string]any{}
	read := func(b []byte) bool {
		var part map[string]any
		if json.Unmarshal(b, &part) != nil {
			return false
		}
		maps.Copy(ctx, part)
		return true
	}
	text, file := os.Getenv("CDK_CONTEXT_JSON"), os.Getenv("CONTEXT_OVERFLOW_LOCATION_ENV")
	if text != "" && !read([]byte(text)) {
		return nil, false
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil || !read(b) {
			return nil, false
		}
	}
	return ctx, text != "" || file != ""
}

// synth synthesizes app. A failed synthesis (an unsuppressed cdk-nag finding, reported above it)
// ends with one line and exit code 1, not a Go panic trace.
func synth(app awscdk.App) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "synthesis failed: %v\n", r)
			jsii.Close()
			os.Exit(1)
		}
	}()
	app.Synth(nil)
}

// newApp adds the pipeline stack to app, or returns every settings problem without adding anything.
func newApp(app awscdk.App) error {
	ctx, _ := app.Node().GetAllContext(nil).(map[string]interface{})
	s, e, err := check(ctx)
	if err != nil {
		return err
	}
	props := &stacks.Props{Settings: s, StackProps: awscdk.StackProps{Env: e}}
	if props.SelfUpdate, err = appSeed(app, s, ctx); err != nil {
		return err
	}
	if props.SelfUpdate == nil {
		props.SeedDirectory = seed.AppDir
	}
	stacks.NewPipelineStack(app, jsii.String(StackName), props)
	return nil
}

// check parses the settings from ctx and checks them against the place the stack deploys to:
// the credentials' account and region (env), or none.
func check(ctx map[string]any) (settings.Settings, *awscdk.Environment, error) {
	s, err := settings.Parse(ctx)
	if err != nil {
		return s, nil, err
	}
	e := env()
	account, region := "", ""
	if e != nil {
		account, region = *e.Account, *e.Region
		if err := s.CheckPlace(account, region); err != nil {
			return s, nil, err
		}
	}
	return s, e, s.CheckEnvironments(account, region)
}

// appSeed is the repository's content when the pipeline deploys itself: this app, staged from
// the working directory (the app's root, where the CLI runs it) into the cloud assembly, with the
// context it runs with; nil when it does not. docs/self-update.md says what the seed holds.
func appSeed(app awscdk.App, s settings.Settings, ctx map[string]any) (*seed.Seed, error) {
	if !s.SelfUpdate {
		return nil, nil
	}
	staged, err := seed.Stage(".", filepath.Join(*app.Outdir(), "selfupdate-seed"), ctx, settings.Keys)
	if err != nil {
		return nil, fmt.Errorf("selfUpdate: %w", err)
	}
	return staged, nil
}

// builtinValidation reports whether aws-cdk-lib's built-in CloudFormation validation runs at
// synthesis: only when CDK_VALIDATION=true. It is the largest single cost of a synth (about two
// seconds of WebAssembly start-up and template checks), and every configuration the tests
// synthesize is linted in CI with cfn-lint, AWS's own template linter, instead. The CDK CLI only
// ever sets CDK_VALIDATION=false (--no-validation), so true is the explicit opt-in.
func builtinValidation() bool {
	return os.Getenv("CDK_VALIDATION") == "true"
}

// env pins the stack to the account and region of the CLI's credentials when there are any, as
// during cdk deploy, which turns on what needs a known region (load balancer access logs). Without
// credentials, or with CDK_PIPELINE_AGNOSTIC=1 (scripts/review-diff sets it, so that a reviewer's
// credentials do not turn every ARN into a diff), the stack stays environment-agnostic.
func env() *awscdk.Environment {
	account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
	if account == "" || region == "" || os.Getenv("CDK_PIPELINE_AGNOSTIC") == "1" {
		return nil
	}
	return &awscdk.Environment{Account: &account, Region: &region}
}
