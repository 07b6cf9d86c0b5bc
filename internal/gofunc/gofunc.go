// Package gofunc makes Lambda functions from Go main packages of this module: built with the
// local Go toolchain when the CDK stages the asset, for the OS-only runtime (provided.al2023) on
// arm64 (Graviton). No Docker and no network: the functions use the standard library only, so
// the build needs nothing but the module itself, also inside another CDK app that imports it.
//
// The CDK builds an asset only for the stacks in the context key aws:cdk:bundling-stacks (the
// CLI's stack selection; every stack by default). Tests set it to none, so only the test that
// checks the binary pays for a build; the others get a placeholder asset.
package gofunc

import (
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"

	"github.com/pipekit/cdk-pipeline/internal/gobuild"
)

// Runtime is the runtime of every function of the stack: OS-only, Amazon Linux 2023.
func Runtime() awslambda.Runtime { return awslambda.Runtime_PROVIDED_AL2023() }

// Architecture is the functions' architecture: arm64 (Graviton), which Build compiles for.
func Architecture() awslambda.Architecture { return awslambda.Architecture_ARM_64() }

// Code returns the Lambda code of the main package importPath (for example
// "github.com/pipekit/cdk-pipeline/constructs/notification/formatter"), an executable named
// bootstrap. Its asset hash is the binary's: Go builds are reproducible, so the same source and
// Go version give the same hash, and a change of either updates the function.
func Code(importPath string) awslambda.Code {
	return awslambda.Code_FromAsset(jsii.String(placeholder(importPath)), &awss3assets.AssetOptions{
		AssetHashType: awscdk.AssetHashType_OUTPUT,
		Bundling: &awscdk.BundlingOptions{
			// Never pulled: the local build either succeeds or stops the synth.
			Image:       awscdk.DockerImage_FromRegistry(jsii.String("public.ecr.aws/docker/library/golang")),
			Local:       &localBuild{pkg: importPath},
			Environment: &map[string]*string{"GO_PACKAGE": jsii.String(importPath)},
		},
	})
}

// placeholder is the asset's source folder. The build reads the package from the module, not
// from here; the folder only has to exist, and to differ per package, because the CDK caches
// assets by source path and bundling options.
func placeholder(importPath string) string {
	dir := filepath.Join(os.TempDir(), "cdk-pipeline-gofunc", strings.NewReplacer("/", "_", ".", "_").Replace(importPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic("gofunc: " + err.Error())
	}
	if err := os.WriteFile(filepath.Join(dir, "PACKAGE"), []byte(importPath+"\n"), 0o644); err != nil {
		panic("gofunc: " + err.Error())
	}
	return dir
}

type localBuild struct{ pkg string }

// TryBundle builds the package into outputDir/bootstrap, or takes the binary Prebuild made. It
// panics with the compiler's output when the build fails, which stops the synth with that message.
func (b *localBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	out := filepath.Join(*outputDir, "bootstrap")
	if v, ok := prebuilds.Load(b.pkg); ok {
		p := v.(*prebuild)
		<-p.done
		if p.err == nil {
			p.err = copyFile(p.path, out)
		}
		if p.err != nil {
			panic(p.err.Error())
		}
		return jsii.Bool(true)
	}
	if err := gobuild.BuildCached(b.pkg, out); err != nil {
		panic(err.Error())
	}
	return jsii.Bool(true)
}

// Build compiles the main package importPath for the functions' runtime into the file out.
func Build(importPath, out string) error { return gobuild.Build(importPath, out) }

// prebuild is a build that Prebuild started.
type prebuild struct {
	done chan struct{}
	path string
	err  error
}

var prebuilds sync.Map // import path → *prebuild

// Prebuild starts building the main packages importPaths in the background, when stack's assets
// will be bundled (the CLI's stack selection; tests turn bundling off), so that the builds run on
// another core while the app constructs the rest of the stack. Code's bundling then waits for the
// binary instead of building it. A package is built once per process.
func Prebuild(stack awscdk.Stack, importPaths ...string) {
	if !*stack.BundlingRequired() {
		return
	}
	for _, pkg := range importPaths {
		p := &prebuild{done: make(chan struct{})}
		if _, started := prebuilds.LoadOrStore(pkg, p); started {
			continue
		}
		// Only the go command runs here: no CDK call, since jsii is not goroutine-safe.
		go func() {
			defer close(p.done)
			dir, err := os.MkdirTemp("", "gofunc-prebuild")
			if err != nil {
				p.err = err
				return
			}
			p.path = filepath.Join(dir, "bootstrap")
			p.err = gobuild.BuildCached(pkg, p.path)
		}()
	}
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
