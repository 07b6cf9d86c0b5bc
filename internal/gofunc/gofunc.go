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
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/jsii-runtime-go"
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

// TryBundle builds the package into outputDir/bootstrap. It panics with the compiler's output
// when the build fails, which stops the synth with that message.
func (b *localBuild) TryBundle(outputDir *string, _ *awscdk.BundlingOptions) *bool {
	if err := Build(b.pkg, filepath.Join(*outputDir, "bootstrap")); err != nil {
		panic(err.Error())
	}
	return jsii.Bool(true)
}

// Build compiles the main package importPath for the functions' runtime into the file out.
func Build(importPath, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, importPath)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gofunc: building %s for Lambda: %v\n%s", importPath, err, output)
	}
	return nil
}
