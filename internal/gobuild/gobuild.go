// Package gobuild compiles the library's Lambda functions: Go main packages of this module, built
// with the local toolchain for the OS-only runtime (provided.al2023) on arm64, statically linked,
// as an executable named bootstrap. It builds from the module's own folder with the module's own
// go.mod and go.sum, wherever the go command of the app's working directory finds that folder (this
// checkout, a replace target, the module cache), so that an app importing the constructs needs
// nothing for the functions in its own go.mod or go.sum; the CDK's GoFunction builds from its
// module folder in the same way. Package gofunc turns the result into CDK assets. It imports no
// CDK package, so that its tests link small binaries.
package gobuild

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Module is the path of this module, whose main packages Build compiles.
const Module = "github.com/pipekit/cdk-pipeline"

// Build compiles the main package importPath, which must be in Module, for the functions' runtime
// into the file out. The build is reproducible and carries no path of the build machine
// (-trimpath, no VCS stamp), so the same source and Go version give the same binary anywhere.
func Build(importPath, out string) error {
	dir, err := ModuleDir()
	if err != nil {
		return err
	}
	return build(dir, importPath, out)
}

func build(moduleDir, importPath, out string) error {
	return buildFor(moduleDir, importPath, out, "linux", "arm64")
}

// buildFor is build for another platform, for benchmarks on the build machine.
func buildFor(moduleDir, importPath, out, goos, goarch string) error {
	rel, ok := strings.CutPrefix(importPath, Module)
	if !ok || (rel != "" && !strings.HasPrefix(rel, "/")) {
		return fmt.Errorf("gofunc: %s is not a package of module %s", importPath, Module)
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	// Lean: no symbol table or debug information, and no RPC mode (lambda.norpc), which only the
	// retired go1.x runtime used and which links net/rpc and html/template, 3 MB of each binary.
	cmd := exec.Command("go", "build", "-mod=readonly", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-tags=lambda.norpc", "-o", abs, "."+rel)
	cmd.Dir = moduleDir
	// The module's own go.mod and go.sum decide, not the app's: no workspace, and none of the app's
	// GOFLAGS (a -mod=vendor there would look for a vendor folder the module does not have).
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gofunc: building %s for Lambda: %v\n%s", importPath, err, output)
	}
	return nil
}

// ModuleDir returns the folder of Module's source, as the go command of the working directory
// finds it: the module itself, a replace target, or the module cache. It asks once per process.
func ModuleDir() (string, error) { return moduleDirOnce() }

var moduleDirOnce = sync.OnceValues(func() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return moduleDir(wd)
})

// moduleDir finds Module's folder from the working directory wd.
func moduleDir(wd string) (string, error) {
	list := func(args ...string) (string, error) {
		cmd := exec.Command("go", append([]string{"list", "-m", "-f", "{{.Dir}}"}, append(args, Module)...)...)
		cmd.Dir = wd
		cmd.Env = append(os.Environ(), "GOFLAGS=")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", errors.New(strings.TrimSpace(strings.SplitN(stderr.String()+err.Error(), "\n", 2)[0]))
		}
		return strings.TrimSpace(string(out)), nil
	}
	dir, err := list()
	if err == nil && dir != "" {
		return dir, nil
	}
	// A vendored app: go list knows the module but no folder, since vendor/ holds only the packages
	// the app imports, never the functions' main packages. The module cache has the whole module
	// (go mod vendor put it there), or the go command fetches it, checked against the app's go.sum.
	if dir, err2 := list("-mod=mod"); err2 == nil && dir != "" {
		return dir, nil
	}
	if err == nil {
		err = errors.New("no folder")
	}
	return "", fmt.Errorf("gofunc: the stack's Lambda functions are built from the source of module %s, which the go command in %s cannot find (%v); run `go mod download %s` there", Module, wd, err, Module)
}
