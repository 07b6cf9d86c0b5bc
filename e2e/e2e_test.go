//go:build e2e

package e2e

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	deleteRetained = flag.Bool("delete-retained", false, "also delete what the stack retains when it is destroyed")
	selfUpdate     = flag.Bool("self-update", false, "deploy the pipeline that deploys itself (-c selfUpdate=true, docs/self-update.md)")
)

// TestDeployedPipeline is the whole story on a real account; see the package documentation. The dry
// run goes first: a defect it finds costs seconds, not an hour of AWS time. -self-update runs it
// with the pipeline that deploys itself.
func TestDeployedPipeline(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	config, dryRun := RealConfig(root, *deleteRetained), TestDryRun
	if *selfUpdate {
		config, dryRun = config.WithSelfUpdate(), TestDryRunSelfUpdate
	}
	if !t.Run("dry run", dryRun) {
		t.Fatal("the dry run failed: nothing deployed")
	}
	deployedPipeline(t, config)
}
