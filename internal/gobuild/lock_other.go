//go:build !unix

package gobuild

// lock is not available here: BuildCached builds without its cache.
func lock(string) (func(), bool) { return nil, false }
