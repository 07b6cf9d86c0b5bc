package e2e

import (
	"fmt"
	"path"
	"strings"
)

// Layout says where the files of this checkout are in the CodeCommit repository the stack creates.
// The stack seeds that repository with the contents of one folder of the app (main.go passes
// SeedDirectory to stacks.NewPipelineStack; the CDK leaves out source.SeedExcludes when it stages
// the folder as an asset), so a file's repository path is its path below that folder.
type Layout struct {
	// SeedDir is the folder, relative to the app's root, whose contents are the repository's first
	// commit: "sample-app" today. The self-updating pipeline (issue 23) seeds the app itself, with
	// the sample app in sample-app/; its layout is Layout{SeedDir: "."}.
	SeedDir string
}

// Seeded is the default stack's layout: main.go seeds the repository with sample-app/.
var Seeded = Layout{SeedDir: "sample-app"}

// Files of this checkout that the end-to-end test changes in the repository, relative to the app's
// root. Their repository paths come from Layout.Path.
const (
	// UnitFile is the sample app's systemd unit, which CodeDeploy installs.
	UnitFile = "sample-app/scripts/sample-app.service"
	// ChangeFile is a file the test adds to the sample app, to push a change that builds and ships.
	ChangeFile = "sample-app/E2E.md"
)

// Path returns the repository path of the file local, given relative to the app's root with
// forward slashes. It fails for a file outside the seed folder, which is not in the repository.
func (l Layout) Path(local string) (string, error) {
	dir, file := path.Clean(l.SeedDir), path.Clean(local)
	if path.IsAbs(file) || file == ".." || strings.HasPrefix(file, "../") {
		return "", fmt.Errorf("layout: %q is not a path inside the app", local)
	}
	if dir == "." {
		return file, nil
	}
	rel, ok := strings.CutPrefix(file, dir+"/")
	if !ok {
		return "", fmt.Errorf("layout: %q is outside the seed folder %q, so it is not in the repository", local, l.SeedDir)
	}
	return rel, nil
}

// Local returns the path in this checkout, relative to the app's root, of the repository path repo:
// the inverse of Path.
func (l Layout) Local(repo string) string {
	return path.Join(l.SeedDir, repo)
}
