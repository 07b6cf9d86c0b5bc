package gofunc

import (
	"debug/elf"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuild: a function is a static Linux arm64 executable named as the OS-only runtime expects,
// and a package that does not build stops with the compiler's words.
func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bootstrap")
	require.NoError(t, Build("github.com/pipekit/cdk-pipeline/constructs/notification/formatter", out))
	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, elf.EM_AARCH64, f.Machine)
	assert.Equal(t, elf.ELFOSABI_NONE, f.OSABI)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "statically linked: no dynamic loader")
	}
	err = Build("github.com/pipekit/cdk-pipeline/internal/nosuchpackage", out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "gofunc: building github.com/pipekit/cdk-pipeline/internal/nosuchpackage for Lambda")
}
