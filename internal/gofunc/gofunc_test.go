package gofunc_test

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/internal/gofunc"
	"github.com/pipekit/cdk-pipeline/internal/secure"
	"github.com/pipekit/cdk-pipeline/internal/tier"
)

func TestMain(m *testing.M) { cdktest.Main(m) }

type obj = map[string]any

const (
	formatter = "github.com/pipekit/cdk-pipeline/constructs/notification/formatter"
	function  = "github.com/pipekit/cdk-pipeline/constructs/delivery/function"
)

// TestDefaults: a function with only its package is a Go function on the OS-only runtime on arm64,
// 128 MB and 30 s, whose failed asynchronous invocations are tried twice more within six hours and
// then kept in its own dead-letter queue; it logs to its own group, kept a year and encrypted with
// its own key, through a role that Lambda assumes and that may write there and send to the queue,
// nothing else. Props replace each default.
func TestDefaults(t *testing.T) {
	stack := cdktest.NewStack("Functions")
	f := gofunc.New(stack, jsii.String("Plain"), &gofunc.Props{Package: formatter})
	queue := secure.NewDeadLetterQueue(stack, "Queue")
	logs := awslogs.NewLogGroup(stack, jsii.String("Group"), nil)
	g := gofunc.New(stack, jsii.String("Tuned"), &gofunc.Props{
		Package: function, Description: jsii.String("tuned"), Environment: &map[string]*string{"MODE": jsii.String("b")},
		Logs: logs, DeadLetterQueue: queue, RetryAttempts: jsii.Number(0), MaxEventAge: awscdk.Duration_Minutes(jsii.Number(5)),
		MemorySize: jsii.Number(256), Timeout: awscdk.Duration_Seconds(jsii.Number(10)),
	})
	s := cdktest.Synth(t, stack)
	assert.Empty(t, s.NagErrors)

	fn := func(name string) obj { return s.Resources("AWS::Lambda::Function")[name]["Properties"].(obj) }
	plain, tuned := logical(stack, f.Lambda), logical(stack, g.Lambda)
	// The function has the logical id of a function made as the construct itself: wrapping an
	// existing function in the construct replaces nothing.
	bare := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Functions"), nil)
	direct := awslambda.NewFunction(bare, jsii.String("Plain"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_22_X(), Handler: jsii.String("index.handler"), Code: awslambda.Code_FromInline(jsii.String("x")),
	})
	assert.Equal(t, logical(bare, direct), plain)
	p := fn(plain)
	assert.Equal(t, "provided.al2023", p["Runtime"])
	assert.Equal(t, []any{"arm64"}, p["Architectures"])
	assert.Equal(t, "bootstrap", p["Handler"])
	assert.Equal(t, 128.0, p["MemorySize"])
	assert.Equal(t, 30.0, p["Timeout"])
	assert.Equal(t, obj{"LogGroup": obj{"Ref": logical(stack, f.Logs)}}, p["LoggingConfig"])
	assert.Equal(t, obj{"Fn::GetAtt": []any{logical(stack, f.Role), "Arn"}}, p["Role"])
	assert.NotContains(t, p, "Environment")
	assert.NotContains(t, p, "Description")
	q := fn(tuned)
	assert.Equal(t, "tuned", q["Description"])
	assert.Equal(t, obj{"Variables": obj{"MODE": "b"}}, q["Environment"])
	assert.Equal(t, 256.0, q["MemorySize"])
	assert.Equal(t, 10.0, q["Timeout"])
	assert.Equal(t, obj{"LogGroup": obj{"Ref": logical(stack, logs)}}, q["LoggingConfig"])

	invoke := map[string]obj{}
	for _, r := range s.Resources("AWS::Lambda::EventInvokeConfig") {
		props := r["Properties"].(obj)
		invoke[props["FunctionName"].(obj)["Ref"].(string)] = props
	}
	assert.Equal(t, obj{
		"FunctionName": obj{"Ref": plain}, "Qualifier": "$LATEST", "MaximumRetryAttempts": 2.0, "MaximumEventAgeInSeconds": 21600.0,
		"DestinationConfig": obj{"OnFailure": obj{"Destination": obj{"Fn::GetAtt": []any{logical(stack, f.DeadLetterQueue), "Arn"}}}},
	}, invoke[plain])
	assert.Equal(t, 0.0, invoke[tuned]["MaximumRetryAttempts"])
	assert.Equal(t, 300.0, invoke[tuned]["MaximumEventAgeInSeconds"])
	assert.Equal(t, obj{"OnFailure": obj{"Destination": obj{"Fn::GetAtt": []any{logical(stack, queue), "Arn"}}}}, invoke[tuned]["DestinationConfig"])

	group := s.Resources("AWS::Logs::LogGroup")[logical(stack, f.Logs)]
	assert.Equal(t, 365.0, group["Properties"].(obj)["RetentionInDays"])
	assert.Contains(t, cdktest.Resolve(stack, group["Properties"].(obj)["KmsKeyId"]), `"Fn::GetAtt":["PlainKey`)
	assert.Equal(t, "RetainExceptOnCreate", group["DeletionPolicy"])
	assert.Len(t, s.Resources("AWS::KMS::Key"), 1, "a key for the group the construct made, none for a group it was given")
	assert.Len(t, s.Resources("AWS::SQS::Queue"), 2, "a queue for the function without one, and the given queue")

	// The role: Lambda assumes it, and it may write its logs and send failed events, nothing else.
	role := s.Resources("AWS::IAM::Role")[logical(stack, f.Role)]["Properties"].(obj)
	assert.Equal(t, []any{obj{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": obj{"Service": "lambda.amazonaws.com"}}},
		role["AssumeRolePolicyDocument"].(obj)["Statement"])
	assert.NotContains(t, role, "ManagedPolicyArns", "no AWSLambdaBasicExecutionRole: it writes to its own group only")
	assert.Equal(t, "The role of the function Functions/Plain.", role["Description"])
	var statements []any
	for _, policy := range s.Resources("AWS::IAM::Policy") {
		props := policy["Properties"].(obj)
		if cdktest.Resolve(stack, props["Roles"]) == `[{"Ref":"`+logical(stack, f.Role)+`"}]` {
			statements = append(statements, props["PolicyDocument"].(obj)["Statement"].([]any)...)
		}
	}
	assert.Equal(t, []any{
		obj{"Action": []any{"logs:CreateLogStream", "logs:PutLogEvents"}, "Effect": "Allow", "Resource": obj{"Fn::GetAtt": []any{logical(stack, f.Logs), "Arn"}}},
		obj{"Action": []any{"sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"}, "Effect": "Allow", "Resource": obj{"Fn::GetAtt": []any{logical(stack, f.DeadLetterQueue), "Arn"}}},
	}, statements)

	// Not bundled here (tests turn bundling off): the asset is named by a folder inside the cloud
	// assembly, relative to it, never by a path of the machine.
	assert.Equal(t, "gofunc.github_com_pipekit_cdk-pipeline_constructs_notification_formatter",
		s.Resources("AWS::Lambda::Function")[plain]["Metadata"].(obj)["aws:asset:path"])
}

// logical is the logical id of c's resource.
func logical(stack awscdk.Stack, c constructs.IConstruct) string {
	return *stack.GetLogicalId(c.Node().DefaultChild().(awscdk.CfnElement))
}

// TestRequiredProps: a function without a package of this module stops with one line.
func TestRequiredProps(t *testing.T) {
	stack := cdktest.NewStack("Required")
	assert.PanicsWithValue(t, "gofunc.New: props.Package is required", func() { gofunc.New(stack, jsii.String("A"), nil) })
	// Keys Lambda refuses at deploy (one letter; reserved), refused here in one line.
	assert.PanicsWithValue(t, `gofunc.New: props.Environment key "A", "AWS_REGION": Lambda takes a letter and then at least one letter, digit or underscore, and reserves its own (AWS_REGION, _HANDLER, ...)`, func() {
		gofunc.New(stack, jsii.String("E"), &gofunc.Props{Package: formatter, Environment: &map[string]*string{"A": jsii.String("1"), "AWS_REGION": jsii.String("x"), "OK_1": jsii.String("y")}})
	})
	assert.PanicsWithValue(t, `gofunc.New: props.Package "example.com/tool" is not a package of module github.com/pipekit/cdk-pipeline`, func() {
		gofunc.New(stack, jsii.String("B"), &gofunc.Props{Package: "example.com/tool"})
	})
}

// consumerApp is a CDK app of another team: it imports the constructs and nothing for the
// functions.
const consumerApp = `package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscodepipeline"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/constructs/delivery"
	"github.com/pipekit/cdk-pipeline/constructs/notification"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Consumer"), nil)
	notification.New(stack, jsii.String("Notification"), nil)
	pipeline := awscodepipeline.Pipeline_FromPipelineArn(stack, jsii.String("Pipeline"), jsii.String("arn:aws:codepipeline:eu-west-1:123456789012:app"))
	delivery.New(stack, jsii.String("Delivery"), &delivery.Props{Pipeline: pipeline, Stages: []string{"Deploy"}})
	app.Synth(nil)
}
`

// TestConsumerModule builds, outside this repository, a module of another team that imports the
// constructs through a replace, and synthesizes its stack as the CDK CLI does, with both functions
// bundled: the functions build from this module's own folder, so the other module's go.sum holds
// nothing for them (no aws-lambda-go, no AWS SDK), and it stays as it was. It runs with another
// temp folder and home, and no path of the build machine reaches the cloud assembly. For time, the
// go command's, jsii's and the functions' caches are kept (internal/gobuild's TestBuild builds
// into a new user cache).
func TestConsumerModule(t *testing.T) {
	tier.Deep(t)
	t.Parallel() // subprocesses only: no CDK call in this process
	started := time.Now()
	repo, err := filepath.Abs("../..")
	require.NoError(t, err)
	app, tmp, home := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, app, "go.mod", "module example.com/consumer\n\ngo 1.26.0\n\nrequire github.com/pipekit/cdk-pipeline v0.0.0\n\nreplace github.com/pipekit/cdk-pipeline => "+repo+"\n")
	write(t, app, "main.go", consumerApp)

	goenv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	require.NoError(t, err)
	caches := strings.Split(strings.TrimSpace(string(goenv)), "\n")
	realHome, _ := os.UserHomeDir()
	userCache, err := os.UserCacheDir()
	require.NoError(t, err)
	env := append(os.Environ(), "GOCACHE="+caches[0], "GOMODCACHE="+caches[1], "GOPATH="+caches[2], "GOWORK=off",
		"JSII_RUNTIME_PACKAGE_CACHE_ROOT="+filepath.Join(realHome, ".cache", "aws", "jsii", "package-cache"))
	// The app's go.sum, as go mod tidy would write it for a build on this platform: from the module
	// cache, without the checksum database, which is out of reach here.
	build := exec.Command("go", "build", "-ldflags=-s -w", "-o", "app", ".") // no debug information: a faster link
	build.Dir = app
	build.Env = append(env, "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	built := time.Since(started)
	sum := read(t, filepath.Join(app, "go.sum"))
	for _, module := range []string{"github.com/aws/aws-lambda-go", "github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go"} {
		assert.NotContains(t, string(sum), module, "the app's go.sum needs nothing for the functions")
	}

	cdkOut := filepath.Join(t.TempDir(), "cdk.out")
	synth := exec.Command(filepath.Join(app, "app"))
	synth.Dir = app
	synth.Env = append(env, "TMPDIR="+tmp, "HOME="+home, "XDG_CACHE_HOME="+userCache,
		"GOFLAGS=-mod=readonly", "CDK_OUTDIR="+cdkOut,
		// What the CLI puts in the context: asset and path metadata, every stack bundled.
		`CDK_CONTEXT_JSON={"aws:cdk:enable-asset-metadata":true,"aws:cdk:enable-path-metadata":true,"aws:cdk:bundling-stacks":["**"]}`)
	out, err = synth.CombinedOutput()
	require.NoError(t, err, string(out))
	t.Logf("consumer module: build %v, synthesis with both functions %v", built.Round(time.Millisecond), (time.Since(started) - built).Round(time.Millisecond))
	assert.Equal(t, sum, read(t, filepath.Join(app, "go.sum")), "the app's go.sum is as it was")

	var template struct {
		Resources map[string]struct {
			Type     string
			Metadata map[string]any
		}
	}
	require.NoError(t, json.Unmarshal(read(t, filepath.Join(cdkOut, "Consumer.template.json")), &template))
	var functions []string
	for id, r := range template.Resources {
		if r.Type != "AWS::Lambda::Function" || r.Metadata["aws:asset:is-bundled"] != true {
			continue
		}
		functions = append(functions, id)
		asset := r.Metadata["aws:asset:path"].(string)
		assert.Regexp(t, `^asset\.[0-9a-f]{64}$`, asset)
		bootstrap := filepath.Join(cdkOut, asset, "bootstrap")
		f, err := elf.Open(bootstrap)
		if assert.NoError(t, err, id) {
			assert.Equal(t, elf.EM_AARCH64, f.Machine, id)
			f.Close()
		}
		info, err := os.Stat(bootstrap)
		if assert.NoError(t, err) {
			assert.NotZero(t, info.Mode()&0o111, "executable")
		}
	}
	assert.Len(t, functions, 2, "both functions bundled")
	// No path of this machine in the assembly: templates, asset manifests, the manifest.
	files, err := filepath.Glob(filepath.Join(cdkOut, "*.json"))
	require.NoError(t, err)
	for _, file := range files {
		text := read(t, file)
		for _, path := range []string{repo, app, tmp, home, realHome, caches[1], os.TempDir()} {
			assert.False(t, bytes.Contains(text, []byte(path+"/")), "%s names %s", filepath.Base(file), path)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
