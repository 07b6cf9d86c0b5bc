package gobuild

import (
	"os"
	"path/filepath"
	"strings"
)

// BuildCached is Build through a folder of the user's cache that is kept between runs: the go
// command leaves an up-to-date binary there as it is (it compares build IDs), so building
// unchanged sources again costs a check, not a link. The binary is then copied to out. A lock file
// keeps two processes from building or copying the same package at once. Without a user cache
// folder, or a way to lock, it is Build.
func BuildCached(importPath, out string) error {
	base, err := os.UserCacheDir()
	if err != nil {
		return Build(importPath, out)
	}
	dir := filepath.Join(base, "cdk-pipeline", "gofunc", strings.NewReplacer("/", "_", ".", "_").Replace(importPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Build(importPath, out)
	}
	unlock, ok := lock(filepath.Join(dir, "lock"))
	if !ok {
		return Build(importPath, out)
	}
	defer unlock()
	cached := filepath.Join(dir, "bootstrap")
	if err := Build(importPath, cached); err != nil {
		return err
	}
	b, err := os.ReadFile(cached)
	if err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o755)
}
