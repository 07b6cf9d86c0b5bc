package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
)

// floorApp is the least a CDK app in Go can synthesize: one stack, one resource. Its time is the
// jsii start and the loading of aws-cdk-lib, which every synth pays.
func floorApp() {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Floor"), nil)
	awscdk.NewCfnWaitConditionHandle(stack, jsii.String("Nothing"), nil)
	app.Synth(nil)
	jsii.Close()
}

// BenchmarkSynth times whole synth processes, as `cdk synth` runs the app: the floor first, then
// the default app with cdk.json's context, both with the CDK's defaults (the tests' CDK_VALIDATION
// is not passed on). maxrss-MB is the largest resident set of any process so far (Go or Node.js),
// so the floor's is its own and the default's is the larger of the two. scripts/bench prints the
// ratios, with the test suite's.
//
//	go test -run '^$' -bench Synth -benchtime 5x .
func BenchmarkSynth(b *testing.B) {
	ctx, err := json.Marshal(cdktest.Context())
	if err != nil {
		b.Fatal(err)
	}
	for _, app := range []string{"floor", "default"} {
		b.Run(app, func(b *testing.B) {
			for b.Loop() {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				var env []string
				for _, kv := range os.Environ() {
					if !strings.HasPrefix(kv, "CDK_VALIDATION=") {
						env = append(env, kv)
					}
				}
				cmd.Env = append(env, "RUN_AS_APP="+app, "CDK_CONTEXT_JSON="+string(ctx), "CDK_OUTDIR="+b.TempDir())
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", app, err, out)
				}
			}
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
			}
		})
	}
}

// BenchmarkConstructs reports the size of the default app's construct tree, what synth walks.
func BenchmarkConstructs(b *testing.B) {
	for b.Loop() {
		app := cdktest.NewApp()
		if err := newApp(app); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(*app.Node().FindAll(""))), "constructs")
	}
}
