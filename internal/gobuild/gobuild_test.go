package gobuild

import (
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// TestBuildCached: the binary comes from the user's cache folder, equal to a plain build, and
// builds of the same package at once wait for each other. (That an up-to-date binary is not linked
// again is the go command's doing, and shows in scripts/bench, not in a file's times: the go
// command touches the binary it keeps.)
func TestBuildCached(t *testing.T) {
	gocache, err := exec.Command("go", "env", "GOCACHE").Output()
	require.NoError(t, err)
	t.Setenv("GOCACHE", strings.TrimSpace(string(gocache))) // keep the build cache while moving the user cache
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	const pkg = "github.com/pipekit/cdk-pipeline/constructs/notification/formatter"
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	require.NoError(t, Build(pkg, plain))
	first := filepath.Join(dir, "first")
	require.NoError(t, BuildCached(pkg, first))
	cache, err := os.UserCacheDir()
	require.NoError(t, err)
	cached := filepath.Join(cache, "cdk-pipeline", "gofunc", "github_com_pipekit_cdk-pipeline_constructs_notification_formatter", "bootstrap")
	assert.Equal(t, read(t, plain), read(t, cached))

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = BuildCached(pkg, filepath.Join(dir, fmt.Sprint("again", i)))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err)
		assert.Equal(t, read(t, plain), read(t, filepath.Join(dir, fmt.Sprint("again", i))), "reproducible, and whole")
	}
	info, err := os.Stat(first)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), info.Mode().Perm())
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
