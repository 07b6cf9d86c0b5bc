// Package seed makes the first commit of a self-updating pipeline's repository: this CDK app as it
// deploys, with the application in sample-app/, and the settings it was synthesized with in its
// cdk.json. Synthesizing from a checkout of that repository reproduces the deployed stacks: the
// repository's seed asset keeps the hash it was first created with, and the record (seed.json)
// keeps what a checkout loses, the file modes, and what another machine would change, the Go
// version that built the Lambda functions.
//
// It also gives the digest that the update stage compares to decide, without synthesizing, that
// nothing outside sample-app/ changed since the last deploy (Digest, DigestCommand).
//
// It is pure Go: it never starts jsii.
package seed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// AppDir is the application's folder in the repository of a self-updating pipeline.
const AppDir = "sample-app"

// RecordFile is the seed's record, at the repository's root.
const RecordFile = "seed.json"

// Limits of what CodeCommit takes. A seed larger than these fails the stack's creation.
const (
	// MaxFileBytes is CodeCommit's limit on one file added through its API or console (Quotas in
	// AWS CodeCommit, "File size": 6 MB); the seed stays below it, as if CloudFormation's import
	// went through the same API.
	MaxFileBytes = 6 << 20
	// MaxExecutables is the most files one CreateCommit may change (its setFileModes entries;
	// MaximumFileEntriesExceededException), and so the most executable files the seed's
	// file-mode commit restores.
	MaxExecutables = 100
)

// Excluded name patterns (path.Match) stay out of the seed wherever they are: build output, the
// CDK's and npm's folders, version control and editor state. They include source.SeedExcludes,
// the patterns the seed asset leaves out, so that what is staged is what the asset holds.
var Excluded = []string{".git", "node_modules", "cdk.out", "bin", "reports", "bundle", "*.test", ".idea", ".vscode"}

// LibraryOnly patterns stay out of the seed outside AppDir: the library's own tests and their
// fixtures (the default stack's snapshot, the rehearsal's shims), the test helper package that
// embeds fixtures of testdata (doratest: without them it would not compile), its CI script, and
// the binary `go build` leaves at the root. They test the library's defaults, not the deployed
// app, and the synthesis never reads them. The application's tests, in AppDir, stay.
var LibraryOnly = []string{"*_test.go", "*.test.js", "testdata", "doratest", ".ci", "cdk-pipeline"}

// Record is what a seed remembers of the deploy that made it.
type Record struct {
	// Note says what the file is, for a reader of the repository.
	Note string `json:"_"`
	// Asset is the hash of the repository's seed asset, made from the seed's content when the
	// repository was created, and kept afterwards so that a checkout names the same asset.
	Asset string `json:"asset"`
	// Go is the Go version (go env GOVERSION) that built the Lambda functions, which the update
	// stage builds them with again (GOTOOLCHAIN), so that their assets have the same hash.
	Go string `json:"go"`
	// Executables are the seed's executable files, which a commit after the seed marks so:
	// CloudFormation commits the seed without file modes, and a checkout has none to read.
	Executables []string `json:"executables"`
}

const note = "Written by the first deploy of this self-updating pipeline (docs/self-update.md). Synthesizing from this repository reproduces the deployed stacks with it: do not edit it."

// Seed is the app staged as the repository's content.
type Seed struct {
	// Dir is the staged folder: the repository's first commit.
	Dir string
	// Record is the seed's record, also in Dir/seed.json.
	Record Record
	// Digest is the digest of everything in the repository outside AppDir, and of the settings
	// given on the command line (see Digest).
	Digest string
}

// Stage copies the app at root into dir (made anew) as the repository's first commit, and
// returns the seed. ctx is the app's context: cdk.json's with the command line's -c values.
//
// A root that holds a record is a checkout of a seeded repository, and is staged as it is, with
// its record. Otherwise the staged cdk.json gets the -c values of ctx that are settings or feature
// flags (settings is the settings' keys), and the record is made: the asset hash from the staged
// content, the Go version, the executable files.
func Stage(root, dir string, ctx map[string]any, settings []string) (*Seed, error) {
	files, err := List(root)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	var executables []string
	for _, f := range files {
		mode, err := copyFile(filepath.Join(root, filepath.FromSlash(f)), filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		if mode&0o111 != 0 && f != RecordFile {
			executables = append(executables, f)
		}
	}
	config, err := os.ReadFile(filepath.Join(root, "cdk.json"))
	if err != nil {
		return nil, fmt.Errorf("seed: the app's cdk.json: %w", err)
	}
	overrides, err := Overrides(config, ctx, settings)
	if err != nil {
		return nil, err
	}
	s := &Seed{Dir: dir}
	b, err := os.ReadFile(filepath.Join(root, RecordFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s.Record); err != nil || s.Record.Asset == "" {
			return nil, fmt.Errorf("seed: %s is not a seed record (%v); restore it from the repository's first commit", RecordFile, err)
		}
	case errors.Is(err, fs.ErrNotExist):
		written, err := WithContext(config, overrides)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "cdk.json"), written, 0o644); err != nil {
			return nil, err
		}
		overrides = nil // they are in the staged cdk.json now
		goVersion, err := GoVersion(root)
		if err != nil {
			return nil, err
		}
		asset, err := digest(dir, func(string) bool { return true })
		if err != nil {
			return nil, err
		}
		s.Record = Record{Note: note, Asset: asset, Go: goVersion, Executables: executables}
		b, err := json.MarshalIndent(s.Record, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, RecordFile), append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if err := Check(dir, s.Record); err != nil {
		return nil, err
	}
	s.Digest, err = Digest(dir, overrides)
	return s, err
}

// List returns the files of the app at root that the seed keeps, as slash-separated paths
// relative to root, sorted: regular files only, without Excluded anywhere and LibraryOnly outside
// AppDir. When root is in a git work tree, they are the files git tracks there (git ls-files), so
// that an untracked binary, .env or key in the developer's folder never reaches the repository;
// otherwise, as in the update stage's checkout (the source zip holds the tracked files only) or a
// copy git does not track, every file of the folder. A file name with a newline, carriage return
// or backslash is an error: the update stage's digest (sha256sum) would write it escaped.
func List(root string) ([]string, error) {
	tracked, err := gitFiles(root)
	if err != nil || tracked == nil {
		if err == nil {
			return walk(root)
		}
		return nil, err
	}
	var files []string
	for _, rel := range tracked {
		if skippedPath(rel) {
			continue
		}
		// A tracked file deleted from the work tree, a symbolic link or a submodule: not a file
		// the walk would take either.
		info, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) || err == nil && !info.Mode().IsRegular() {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := checkName(rel); err != nil {
			return nil, err
		}
		files = append(files, rel)
	}
	slices.Sort(files)
	return files, nil
}

// gitFiles returns the files git tracks below root, relative to it, or nil when root is in no git
// work tree (no .git in it or above it) or git tracks nothing there (a folder of the tree that is
// not part of the repository, such as a copy in an ignored folder). A work tree where git fails is
// an error: walking it instead would take the untracked files.
func gitFiles(root string) ([]string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		if _, err := os.Lstat(filepath.Join(dir, ".git")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			return nil, nil
		}
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("seed: %s is in a git work tree, and git ls-files failed there (%v: %s): the seed takes the files git tracks", root, err, strings.TrimSpace(stderr.String()))
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files, nil
}

// walk returns every file of dir that the seed keeps, as List does outside git: the staged seed
// and a checkout are folders of files, whatever git tree they are in.
func walk(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if Skipped(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if err := checkName(rel); err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	})
	slices.Sort(files)
	return files, err
}

func checkName(rel string) error {
	if strings.ContainsAny(rel, "\n\r\\") {
		return fmt.Errorf("seed: %q: a file name with a newline, carriage return or backslash cannot be seeded", rel)
	}
	return nil
}

// skippedPath reports whether the seed leaves out rel because of it or a folder above it.
func skippedPath(rel string) bool {
	for i := range len(rel) {
		if rel[i] == '/' && Skipped(rel[:i]) {
			return true
		}
	}
	return Skipped(rel)
}

// Skipped reports whether the seed leaves out rel, a slash-separated path relative to the app's
// root, with what is below it.
func Skipped(rel string) bool {
	name := path.Base(rel)
	if matchAny(Excluded, name) {
		return true
	}
	inApp := rel == AppDir || strings.HasPrefix(rel, AppDir+"/")
	return !inApp && matchAny(LibraryOnly, name)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func copyFile(src, dst string) (fs.FileMode, error) {
	info, err := os.Stat(src)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	mode := info.Mode().Perm()&0o111 | 0o644
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return 0, err
	}
	return info.Mode().Perm(), out.Close()
}

// Check reports a seed that CodeCommit would refuse: a file over MaxFileBytes, or more than
// MaxExecutables executable files for the file-mode commit.
func Check(dir string, r Record) error {
	var errs []error
	files, err := walk(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return err
		}
		if info.Size() > MaxFileBytes {
			errs = append(errs, fmt.Errorf("seed: %s is %d bytes; CodeCommit takes files of at most %d bytes (6 MB)", f, info.Size(), MaxFileBytes))
		}
	}
	if len(r.Executables) > MaxExecutables {
		errs = append(errs, fmt.Errorf("seed: %d executable files; the commit that restores their modes changes at most %d", len(r.Executables), MaxExecutables))
	}
	return errors.Join(errs...)
}

// GoVersion is the version of the go command in dir, as the Lambda functions' builds use it.
func GoVersion(dir string) (string, error) {
	cmd := exec.Command("go", "env", "GOVERSION")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("seed: go env GOVERSION: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Digest is the infrastructure digest of the repository content at dir: a SHA-256 over every file
// of dir the seed keeps outside AppDir (List outside git: dir is a staged seed or a checkout), in
// the form DigestCommand computes in the update stage, and
// over the settings given on the command line (overrides, from Overrides), which a deploy from the
// repository does not have. Nothing else goes into a synthesis: when the digest of the commit the
// update stage runs equals the digest of the deployed stacks, the stacks are up to date.
func Digest(dir string, overrides map[string]any) (string, error) {
	d, err := digest(dir, func(f string) bool { return f != AppDir && !strings.HasPrefix(f, AppDir+"/") })
	if err != nil || len(overrides) == 0 {
		return d, err
	}
	b, err := marshal(overrides) // maps marshal with sorted keys
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\ncontext %s\n", d, b))
	return hex.EncodeToString(sum[:]), nil
}

// digest is sha256sum's output for the files of dir that keep says, in C-locale order, hashed:
// the pipeline `find | sort -z | xargs -0 sha256sum | sha256sum` computes the same.
func digest(dir string, keep func(string) bool) (string, error) {
	files, err := walk(dir)
	if err != nil {
		return "", err
	}
	var lines bytes.Buffer
	for _, f := range files {
		if !keep(f) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&lines, "%s  ./%s\n", hex.EncodeToString(sum[:]), f)
	}
	sum := sha256.Sum256(lines.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// DigestCommand is the shell pipeline (bash, GNU findutils and coreutils) that prints Digest of
// the current folder without overrides: the update stage runs it on its checkout. It leaves out
// what List does, by the same patterns.
func DigestCommand() string {
	var prune []string
	for _, p := range Excluded {
		prune = append(prune, "-name "+shellQuote(p))
	}
	for _, p := range LibraryOnly {
		prune = append(prune, "-name "+shellQuote(p))
	}
	return fmt.Sprintf(`find . -path ./%s -prune -o \( %s \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1`,
		AppDir, strings.Join(prune, " -o "))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
