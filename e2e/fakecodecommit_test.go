package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// The fake CodeCommit keeps each repository as a bare git repository: CodeCommit is git, and its
// commit, tree and blob ids are git's. What it answers, and the errors it answers with, follow the
// CodeCommit API reference (GetBranch, GetFile, PutFile, DeleteRepository).

func init() {
	for k, v := range map[string]operation{
		"codecommit get-branch": {api: "GetBranch", options: map[string]option{"--repository-name": {required: true}, "--branch-name": {required: true}},
			do: (*cloud).getBranch},
		"codecommit get-file": {api: "GetFile", options: map[string]option{"--repository-name": {required: true}, "--commit-specifier": {},
			"--file-path": {required: true}}, do: (*cloud).getFile},
		"codecommit put-file": {api: "PutFile", options: map[string]option{"--repository-name": {required: true}, "--branch-name": {required: true},
			"--file-content": {required: true}, "--file-path": {required: true}, "--file-mode": {}, "--parent-commit-id": {},
			"--commit-message": {}, "--name": {}, "--email": {}}, do: (*cloud).putFile},
		"codecommit delete-repository": {api: "DeleteRepository", options: map[string]option{"--repository-name": {required: true}},
			do: (*cloud).deleteRepository},
	} {
		operations[k] = v
	}
}

// repo is a CodeCommit repository.
type repo struct {
	name, id, dir string
	// pushed is called with the branch, old and new commit after every commit, as CodeCommit
	// emits a repository state change event.
	pushed func(branch, old, commit string)
	files  map[string][]byte // by commit:path, nil for none
}

// git runs git on the repository, without the user's configuration.
func (r *repo) git(stdin []byte, env []string, args ...string) (string, error) {
	return gitIn(r.dir, stdin, env, args...)
}

func gitIn(dir string, stdin []byte, env []string, args ...string) (string, error) {
	out, err := gitBytes(dir, stdin, env, args...)
	return strings.TrimSpace(string(out)), err
}

// gitBytes is gitIn's output as it is, for file contents.
func gitBytes(dir string, stdin []byte, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C",
		"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com", "GIT_COMMITTER_NAME=AWS CodeCommit", "GIT_COMMITTER_EMAIL=noreply@example.com")
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.Bytes(), nil
}

// seedRepository makes a bare repository whose branch holds the files of dir as one commit, every
// file 0644: CloudFormation creates a repository's first commit from the code zip that way (the
// seed modes custom resource's reason to exist).
func seedRepository(gitDir, dir, branch string) error {
	if _, err := gitIn(gitDir, nil, nil, "init", "--bare", "--quiet", gitDir); err != nil {
		return err
	}
	index := []string{"GIT_INDEX_FILE=" + filepath.Join(gitDir, "seed-index")}
	if _, err := gitIn(gitDir, nil, index, "--work-tree", dir, "add", "--all", "."); err != nil {
		return err
	}
	files, err := gitIn(gitDir, nil, index, "ls-files")
	if err != nil {
		return err
	}
	if files == "" {
		return fmt.Errorf("the seed %s is empty", dir)
	}
	if _, err := gitIn(gitDir, []byte(files+"\n"), index, "--work-tree", dir, "update-index", "--chmod=-x", "--stdin"); err != nil {
		return err
	}
	tree, err := gitIn(gitDir, nil, index, "write-tree")
	if err != nil {
		return err
	}
	commit, err := gitIn(gitDir, nil, nil, "commit-tree", tree, "-m", "Initial commit by AWS CloudFormation")
	if err != nil {
		return err
	}
	if _, err = gitIn(gitDir, nil, nil, "update-ref", "refs/heads/"+branch, commit); err != nil {
		return err
	}
	// The first branch of a repository is its default branch, which GetFile reads when given no
	// commit.
	_, err = gitIn(gitDir, nil, nil, "symbolic-ref", "HEAD", "refs/heads/"+branch)
	return err
}

func (c *cloud) repo(name string) (*repo, error) {
	if r := c.repos[name]; r != nil {
		return r, nil
	}
	return nil, errorf("RepositoryDoesNotExistException", "%s does not exist", name)
}

var commitID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// tip is the branch's head commit, or "" when there is no such branch.
func (r *repo) tip(branch string) string {
	out, err := r.git(nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return out
}

func (c *cloud) getBranch(p params, _ string) (any, error) {
	r, err := c.repo(p.get("--repository-name"))
	if err != nil {
		return nil, err
	}
	branch := p.get("--branch-name")
	tip := r.tip(branch)
	if tip == "" {
		return nil, errorf("BranchDoesNotExistException", "Could not retrieve the branch. The specified branch does not exist: %s", branch)
	}
	return map[string]any{"branch": map[string]string{"branchName": branch, "commitId": tip}}, nil
}

// cleanPath reads a file path as CodeCommit does: "/examples/file.md" and "examples/file.md" name
// the same file.
func cleanPath(p string) (string, error) {
	clean := strings.TrimPrefix(p, "/")
	if clean == "" || path.Clean(clean) != clean || strings.HasPrefix(clean, "../") || clean == ".." {
		return "", errorf("InvalidPathException", "The specified path is not valid: %s", p)
	}
	return clean, nil
}

// entry is a file of a commit: its git mode and blob.
func (r *repo) entry(commit, file string) (mode, blob string) {
	out, err := r.git(nil, nil, "ls-tree", commit, "--", file)
	if err != nil || out == "" {
		return "", ""
	}
	fields := strings.Fields(out) // <mode> <type> <object>\t<path>
	if len(fields) < 3 || fields[1] != "blob" {
		return "", ""
	}
	return fields[0], fields[2]
}

// readFile is the content of a file at a commit, or ok false. Commits do not change, so what was
// read once is kept.
func (r *repo) readFile(commit, file string) (content []byte, ok bool) {
	key := commit + ":" + file
	if b, ok := r.files[key]; ok {
		return b, b != nil
	}
	b, err := gitBytes(r.dir, nil, nil, "cat-file", "blob", key)
	switch {
	case err != nil:
		b = nil
	case b == nil:
		b = []byte{} // an empty file
	}
	if r.files == nil {
		r.files = map[string][]byte{}
	}
	r.files[key] = b
	return b, b != nil
}

var fileModes = map[string]string{"100644": "NORMAL", "100755": "EXECUTABLE", "120000": "SYMLINK"}

func (c *cloud) getFile(p params, _ string) (any, error) {
	r, err := c.repo(p.get("--repository-name"))
	if err != nil {
		return nil, err
	}
	file, err := cleanPath(p.get("--file-path"))
	if err != nil {
		return nil, err
	}
	spec := p.get("--commit-specifier")
	if spec == "" {
		spec = "HEAD"
	}
	commit, err := r.git(nil, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", spec+"^{commit}")
	if err != nil {
		return nil, errorf("CommitDoesNotExistException", "The specified commit does not exist or no commit was specified, and the specified repository has no default branch.")
	}
	mode, blob := r.entry(commit, file)
	if blob == "" {
		return nil, errorf("FileDoesNotExistException", "The specified file does not exist. Verify that you have used the correct file name, full path, and extension.")
	}
	raw, err := gitBytes(r.dir, nil, nil, "cat-file", "blob", blob)
	if err != nil {
		return nil, err
	}
	return map[string]any{"commitId": commit, "blobId": blob, "filePath": file, "fileMode": fileModes[mode], "fileSize": len(raw),
		"fileContent": base64.StdEncoding.EncodeToString(raw)}, nil
}

func (c *cloud) putFile(p params, dir string) (any, error) {
	r, err := c.repo(p.get("--repository-name"))
	if err != nil {
		return nil, err
	}
	content, err := blob(p.get("--file-content"), dir)
	if err != nil {
		return nil, err
	}
	file, err := cleanPath(p.get("--file-path"))
	if err != nil {
		return nil, err
	}
	branch, parent := p.get("--branch-name"), p.get("--parent-commit-id")
	tip := r.tip(branch)
	if tip == "" {
		return nil, errorf("BranchDoesNotExistException", "The specified branch does not exist: %s", branch)
	}
	switch {
	case parent == "":
		return nil, errorf("ParentCommitIdRequiredException", "A parent commit ID is required. To view the full commit ID of a branch in a repository, use GetBranch or a Git command (for example, git pull or git log).")
	case !commitID.MatchString(parent):
		return nil, errorf("InvalidParentCommitIdException", "The parent commit ID is not valid. The commit ID cannot be empty, and must match the head commit ID for the branch of the repository where you want to add or update a file.")
	case parent != tip:
		if _, err := r.git(nil, nil, "merge-base", "--is-ancestor", parent, tip); err != nil {
			return nil, errorf("ParentCommitDoesNotExistException", "The parent commit ID is not valid because it does not exist. The specified parent commit ID does not exist in the specified branch of the repository.")
		}
		return nil, errorf("ParentCommitIdOutdatedException", "The file could not be added because the provided parent commit ID is not the current tip of the specified branch. To view the full commit ID of the current head of the branch, use GetBranch.")
	}
	mode := "100644"
	oldMode, oldBlob := r.entry(tip, file)
	if oldMode != "" {
		mode = oldMode
	}
	switch m := p.get("--file-mode"); m {
	case "":
	case "NORMAL", "EXECUTABLE", "SYMLINK":
		mode = map[string]string{"NORMAL": "100644", "EXECUTABLE": "100755", "SYMLINK": "120000"}[m]
	default:
		return nil, errorf("InvalidFileModeException", "The specified file mode permission is not valid: %s", m)
	}
	newBlob, err := r.git(content, nil, "hash-object", "-w", "--stdin")
	if err != nil {
		return nil, err
	}
	if newBlob == oldBlob && mode == oldMode {
		return nil, errorf("SameFileContentException", "The file was not added or updated because the content of the file is exactly the same as the content of that file in the repository and branch that you specified.")
	}
	index := []string{"GIT_INDEX_FILE=" + filepath.Join(c.tmp, "index-"+c.id())}
	if _, err := r.git(nil, index, "read-tree", tip); err != nil {
		return nil, err
	}
	if _, err := r.git(nil, index, "update-index", "--add", "--cacheinfo", mode+","+newBlob+","+file); err != nil {
		return nil, errorf("FileNameConflictsWithDirectoryNameException", "fake: %v", err)
	}
	tree, err := r.git(nil, index, "write-tree")
	if err != nil {
		return nil, err
	}
	message := p.get("--commit-message")
	env := []string{}
	if name := p.get("--name"); name != "" {
		env = append(env, "GIT_AUTHOR_NAME="+name)
	}
	commit, err := r.git(nil, env, "commit-tree", tree, "-p", tip, "-m", message)
	if err != nil {
		return nil, err
	}
	if _, err := r.git(nil, nil, "update-ref", "refs/heads/"+branch, commit, tip); err != nil {
		return nil, err
	}
	if r.pushed != nil {
		r.pushed(branch, tip, commit)
	}
	return map[string]string{"commitId": commit, "blobId": newBlob, "treeId": tree}, nil
}

func (c *cloud) deleteRepository(p params, _ string) (any, error) {
	r := c.repos[p.get("--repository-name")]
	if r == nil {
		// DeleteRepository: "If a specified repository was already deleted, a null repository ID
		// is returned."
		return map[string]any{}, nil
	}
	delete(c.repos, r.name)
	return map[string]string{"repositoryId": r.id}, nil
}
