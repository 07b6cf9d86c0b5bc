package stacks_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/internal/sweep"
)

// suppressionProblems audits the cdk-nag suppressions of synthesized stacks (sweep.Suppressions):
// none stack-wide, IAM4 and IAM5 only with appliesTo, and every reason saying what it exempts.
func suppressionProblems(stacks ...*cdktest.Synthesized) []string {
	app := &sweep.App{}
	for _, s := range stacks {
		app.Stacks = append(app.Stacks, &sweep.Stack{Name: *s.Stack.StackName(), Template: s.JSON})
	}
	return sweep.Suppressions(app)
}

// TestSuppressionAudit: every configuration's suppressions pass the audit (the sweep's do too, in
// the app's TestSweep), and each configuration suppresses something, so that the audit has something to
// read.
func TestSuppressionAudit(t *testing.T) {
	for _, name := range slices.Sorted(maps.Keys(configurations)) {
		s := synth(t, name)
		assert.Empty(t, suppressionProblems(s), name)
		assert.Contains(t, s.Text(), `"rules_to_suppress"`, name)
	}
}
