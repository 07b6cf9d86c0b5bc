// Package gofunc is the construct of the stack's Lambda functions: a Go main package of this
// module, on the OS-only runtime (provided.al2023) on arm64 (Graviton), with its own encrypted log
// group, a role that may write only there, and asynchronous invocations that are tried again and
// then kept, with their error, in a dead-letter queue.
//
// The function is built with the local Go toolchain when the CDK stages its asset: no Docker. It
// is built from this module's own folder with the module's go.mod and go.sum (package gobuild), so
// an app that imports the constructs, through a replace, a module proxy or vendoring, needs nothing
// for the functions in its own go.mod. The build starts in the background when the function is
// created, and the binary is kept in the user's cache between runs.
//
// The CDK builds an asset only for the stacks in the context key aws:cdk:bundling-stacks (the
// CLI's stack selection; every stack by default). Tests set it to none, so only the tests that
// check the binary pay for a build; the others get a placeholder asset. Either way the asset's
// path in the template's metadata is inside the cloud assembly, relative to it: no path of the
// build machine reaches a template.
package gofunc

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/gobuild"
	"github.com/pipekit/cdk-pipeline/internal/guard"
	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/internal/secure"
)

// Props configures a Function.
type Props struct {
	// Package is the function's Go main package, an import path in this module, such as
	// "github.com/pipekit/cdk-pipeline/constructs/notification/formatter". Required.
	Package string
	// Description says what the function does.
	// Default: none.
	Description *string
	// Environment are the function's environment variables. Lambda accepts a key of a letter
	// followed by at least one letter, digit or underscore, and reserves some (AWS_REGION,
	// _HANDLER, ...): New refuses others in one line rather than at deploy.
	// Default: none.
	Environment *map[string]*string
	// Logs is the function's log group. A construct that had made the group itself before it used
	// this one passes it here, so that the group keeps its logical id: it holds data and is
	// retained, and a new id would orphan it and start another.
	// Default: a new group in this construct, encrypted with Key and kept for LogRetention.
	Logs awslogs.ILogGroup
	// Key encrypts the log group this construct makes.
	// Default: a new customer-managed key with rotation on, when this construct makes the group.
	Key awskms.IKey
	// LogRetention is how long the log group this construct makes keeps the function's logs.
	// Default: one year.
	LogRetention awslogs.RetentionDays
	// DeadLetterQueue keeps the events of asynchronous invocations that failed every try, with
	// the error.
	// Default: a new encrypted queue that keeps messages 14 days.
	DeadLetterQueue awssqs.IQueue
	// RetryAttempts is how often Lambda tries a failed asynchronous invocation again.
	// Default: 2, Lambda's most.
	RetryAttempts *float64
	// MaxEventAge is how long Lambda keeps an event of an asynchronous invocation for its tries.
	// Default: 6 hours, Lambda's most.
	MaxEventAge awscdk.Duration
	// MemorySize is the function's memory in MB, which also sets its share of CPU.
	// Default: 128.
	MemorySize *float64
	// Timeout is the longest one invocation may run.
	// Default: 30 seconds.
	Timeout awscdk.Duration
}

// Function is a Go Lambda function with its log group, role and dead-letter queue.
type Function struct {
	constructs.Construct
	// Lambda is the function itself, the construct's default child.
	Lambda awslambda.Function
	// Role is the function's role. It may write to Logs and send to DeadLetterQueue; grant it
	// what the function calls.
	Role awsiam.Role
	// Logs is the function's log group.
	Logs awslogs.ILogGroup
	// DeadLetterQueue keeps the events of invocations that failed every try.
	DeadLetterQueue awssqs.IQueue
}

// New creates a Function. It panics when Package is missing or not a package of this module.
func New(scope constructs.Construct, id *string, props *Props) *Function {
	if props == nil {
		props = &Props{}
	}
	guard.Required("gofunc.New", "Package", props.Package == "")
	if !strings.HasPrefix(props.Package, gobuild.Module+"/") {
		panic(fmt.Sprintf("gofunc.New: props.Package %s is not a package of module %s", hint.Show(props.Package), gobuild.Module))
	}
	checkEnvironment(props.Environment)
	f := &Function{Logs: props.Logs, DeadLetterQueue: props.DeadLetterQueue}
	constructs.NewConstruct_Override(f, scope, id)
	if f.Logs == nil {
		key := props.Key
		if key == nil {
			key = secure.NewKey(f, "Key", "Encrypts the logs of the function "+*f.Node().Path()+".")
		}
		retention := props.LogRetention
		if retention == "" {
			retention = awslogs.RetentionDays_ONE_YEAR
		}
		f.Logs = secure.NewLogGroup(f, "Logs", key, retention)
	}
	if f.DeadLetterQueue == nil {
		f.DeadLetterQueue = secure.NewDeadLetterQueue(f, "DeadLetters")
	}
	f.Role = awsiam.NewRole(f, jsii.String("Role"), &awsiam.RoleProps{
		Description: jsii.String("The role of the function " + *f.Node().Path() + "."),
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	f.Logs.GrantWrite(f.Role)
	or := func(v *float64, d float64) *float64 {
		if v == nil {
			return jsii.Number(d)
		}
		return v
	}
	orDuration := func(v, d awscdk.Duration) awscdk.Duration {
		if v == nil {
			return d
		}
		return v
	}
	// "Default": the function keeps the logical id it would have as the construct's own child
	// named id (the CDK leaves Default out of paths), so wrapping it replaced nothing.
	f.Lambda = awslambda.NewFunction(f, jsii.String("Default"), &awslambda.FunctionProps{
		Description:   props.Description,
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          code(f, props.Package),
		MemorySize:    or(props.MemorySize, 128),
		Timeout:       orDuration(props.Timeout, awscdk.Duration_Seconds(jsii.Number(30))),
		Role:          f.Role,
		LogGroup:      f.Logs,
		Environment:   props.Environment,
		RetryAttempts: or(props.RetryAttempts, 2),
		MaxEventAge:   orDuration(props.MaxEventAge, awscdk.Duration_Hours(jsii.Number(6))),
		OnFailure:     awslambdadestinations.NewSqsDestination(f.DeadLetterQueue),
	})
	Prebuild(awscdk.Stack_Of(f), props.Package)
	return f
}

// environmentKey is Lambda's pattern for an environment variable's key
// (https://docs.aws.amazon.com/lambda/latest/api/API_Environment.html).
var environmentKey = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)

// reservedKeys are the keys the Lambda runtime sets and refuses to take from a function's
// configuration (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html).
var reservedKeys = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

func checkEnvironment(env *map[string]*string) {
	if env == nil {
		return
	}
	var bad []string
	for k := range *env {
		if !environmentKey.MatchString(k) || reservedKeys[k] {
			bad = append(bad, hint.Show(k))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		panic(fmt.Sprintf("gofunc.New: props.Environment key %s: Lambda takes a letter and then at least one letter, digit or underscore, and reserves its own (AWS_REGION, _HANDLER, ...)", strings.Join(bad, ", ")))
	}
}

// FunctionArn is the function's ARN, for policies and event targets.
func (f *Function) FunctionArn() *string { return f.Lambda.FunctionArn() }

// code returns the Lambda code of the main package importPath, an executable named bootstrap. Its
// asset hash is the binary's: Go builds are reproducible, so the same source and Go version give
// the same hash, and a change of either updates the function.
func code(scope constructs.Construct, importPath string) awslambda.Code {
	return awslambda.Code_FromAsset(jsii.String(placeholder(scope, importPath)), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Never pulled: the local build either succeeds or stops the synth.
			Image:       awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang")),
			Local:       &localBuild{pkg: importPath},
			Environment: &map[string]*string{"GO_PACKAGE": jsii.String(importPath)},
		},
	})
}

// placeholder is the asset's source folder, made inside the cloud assembly: the build reads the
// package from the module, not from here, and the folder only has to exist, and to differ per
// package, because the CDK caches assets by source path and bundling options. Inside the
// assembly, it is what the template's aws:asset:path names, relative, when the stack is not
// bundled (tests, and stacks the CLI did not select); a bundled asset is named by its hash.
func placeholder(scope constructs.Construct, importPath string) string {
	dir := filepath.Join(*awscdk.Stage_Of(scope).AssetOutdir(), "gofunc."+strings.NewReplacer("/", "_", ".", "_").Replace(importPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic("gofunc: " + err.Error())
	}
	if err := os.WriteFile(filepath.Join(dir, "PACKAGE"), []byte(importPath+"\n"), 0o644); err != nil {
		panic("gofunc: " + err.Error())
	}
	return dir
}

type localBuild struct{ pkg string }

// TryBundle writes the binary of the package to outputDir/bootstrap, from the build Prebuild
// started. It panics with the compiler's output when the build fails, which stops the synth with
// that message.
func (b *localBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	bin, err := binary(b.pkg)
	if err == nil {
		err = os.WriteFile(filepath.Join(*outputDir, "bootstrap"), bin, 0o755)
	}
	if err != nil {
		panic(err.Error())
	}
	return jsii.Bool(true)
}

// build is a build that Prebuild started.
type build struct {
	done chan struct{}
	bin  []byte
	err  error
}

var builds sync.Map // import path → *build

// Prebuild starts building the main packages importPaths in the background, when stack's assets
// will be bundled (the CLI's stack selection; tests turn bundling off), so that the builds run on
// another core while the app constructs the rest of the stack. The bundling then waits for the
// binary instead of building it. A package is built once per process. New calls it for its
// package; an app may call it earlier.
func Prebuild(stack awscdk.Stack, importPaths ...string) {
	if !*stack.BundlingRequired() {
		return
	}
	for _, pkg := range importPaths {
		start(pkg)
	}
}

// start starts building pkg unless that has started, and returns the build.
func start(pkg string) *build {
	b := &build{done: make(chan struct{})}
	if started, loaded := builds.LoadOrStore(pkg, b); loaded {
		return started.(*build)
	}
	// Only the go command runs here: no CDK call, since jsii is not goroutine-safe.
	go func() {
		defer close(b.done)
		b.bin, b.err = gobuild.Binary(pkg)
	}()
	return b
}

// binary waits for pkg's build and returns the binary.
func binary(pkg string) ([]byte, error) {
	b := start(pkg)
	<-b.done
	return b.bin, b.err
}
