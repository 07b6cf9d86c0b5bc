//go:build e2e

package e2e

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var deleteRetained = flag.Bool("delete-retained", false, "also delete what the stack retains when it is destroyed")

// TestDeployedPipeline is the whole story on a real account; see the package documentation. The dry
// run goes first: a defect it finds costs seconds, not an hour of AWS time.
func TestDeployedPipeline(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	if !t.Run("dry run", TestDryRun) {
		t.Fatal("the dry run failed: nothing deployed")
	}
	deployedPipeline(t, RealConfig(root, *deleteRetained))
}
