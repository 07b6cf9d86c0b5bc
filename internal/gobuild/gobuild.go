// Package gobuild compiles the module's Lambda functions: Go main packages built with the local
// toolchain for the OS-only runtime (provided.al2023) on arm64, statically linked, as an executable
// named bootstrap. It needs nothing but the go command and the module; package gofunc turns the
// result into CDK assets. It imports no CDK package, so that its tests link small binaries.
package gobuild

import (
	"fmt"
	"os"
	"os/exec"
)

// Build compiles the main package importPath for the functions' runtime into the file out.
func Build(importPath, out string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, importPath)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gofunc: building %s for Lambda: %v\n%s", importPath, err, output)
	}
	return nil
}
