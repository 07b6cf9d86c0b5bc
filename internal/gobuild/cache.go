package gobuild

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// Binary returns the binary Build makes of the main package importPath. It builds into a folder of
// the user's cache that is kept between runs, one per checkout of the module and package: the go
// command leaves an up-to-date binary there as it is (it compares build IDs), so building unchanged
// sources again costs a check, not a link. A lock file keeps two processes from building or
// reading the same binary at once. Being the user's own, the folder works for every user of a
// machine, whatever the temp folder. Without a user cache folder, or a way to lock, it builds into
// a temporary folder and removes it.
func Binary(importPath string) ([]byte, error) {
	dir, err := ModuleDir()
	if err != nil {
		return nil, err
	}
	if cache, ok := cacheDir(dir, importPath); ok {
		if unlock, ok := lock(filepath.Join(cache, "lock")); ok {
			defer unlock()
			out := filepath.Join(cache, "bootstrap")
			if err := build(dir, importPath, out); err != nil {
				return nil, err
			}
			return os.ReadFile(out)
		}
	}
	tmp, err := os.MkdirTemp("", "gofunc")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "bootstrap")
	if err := build(dir, importPath, out); err != nil {
		return nil, err
	}
	return os.ReadFile(out)
}

// cacheDir returns, made, the user's cache folder for importPath built from moduleDir.
func cacheDir(moduleDir, importPath string) (string, bool) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256([]byte(moduleDir))
	dir := filepath.Join(base, "cdk-pipeline", "gofunc", hex.EncodeToString(sum[:8]),
		strings.NewReplacer("/", "_", ".", "_").Replace(importPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false
	}
	return dir, true
}
