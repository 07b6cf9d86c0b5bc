// Package tier splits the test suite in two. The README's `go test ./...` runs the first tier,
// kept within its time budget (docs/performance.md): every construct, stack and setting, and the
// parts of the rehearsal and of the end-to-end dry run. The deep tier adds the tests that play a
// whole path end to end at a higher cost: the rehearsal, the dry run and its failures, a whole app
// run in another process, a second Go module, the fleet's boot script through every outcome. CI runs both (.ci/run sets CDK_PIPELINE_NO_SKIP, under which
// nothing skips); so does anyone who sets CDK_PIPELINE_DEEP=1.
package tier

import (
	"os"
	"testing"
)

// Deep skips t, saying why and how to run it, unless the deep tier is on: CDK_PIPELINE_DEEP or
// CDK_PIPELINE_NO_SKIP set to anything but empty.
func Deep(t testing.TB) {
	t.Helper()
	if !On() {
		t.Skip("deep tier (docs/testing.md): CDK_PIPELINE_DEEP=1 runs it; CI does")
	}
}

// On reports whether the deep tier runs.
func On() bool {
	return os.Getenv("CDK_PIPELINE_DEEP") != "" || os.Getenv("CDK_PIPELINE_NO_SKIP") != ""
}
