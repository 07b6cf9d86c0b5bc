package cdktest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutcome reads a test's result and lines from a test binary's verbose output, as Offloaded
// relays them: its subtests' lines included, the framing lines and the next test's left out.
func TestOutcome(t *testing.T) {
	output := "=== RUN   TestA\n    a_test.go:3: from A\n--- PASS: TestA (0.10s)\n" +
		"=== RUN   TestAB\n=== RUN   TestAB/one\n    a_test.go:9: failed\n    --- FAIL: TestAB/one (0.00s)\n--- FAIL: TestAB (0.20s)\n" +
		"=== RUN   TestC\n    a_test.go:12: deep tier\n--- SKIP: TestC (0.00s)\nFAIL\nexit status 1\n"
	for _, c := range []struct {
		name, result string
		lines        []string
	}{
		{"TestA", "PASS", []string{"    a_test.go:3: from A"}},
		{"TestAB", "FAIL", []string{"    a_test.go:9: failed"}},
		{"TestC", "SKIP", []string{"    a_test.go:12: deep tier", ""}},
		{"TestD", "", nil},
	} {
		result, lines := outcome(output, c.name)
		assert.Equal(t, c.result, result, c.name)
		assert.Equal(t, c.lines, lines, c.name)
	}
}

// TestTopLevel: the part of -run or -skip that selects top-level tests.
func TestTopLevel(t *testing.T) {
	match := func(pattern, name string) bool {
		re, err := topLevel(pattern)
		require.NoError(t, err)
		return re.MatchString(name)
	}
	re, err := topLevel("")
	assert.Nil(t, re)
	assert.NoError(t, err)
	assert.True(t, match("TestSelfUpdate$/sub", "TestSelfUpdate"))
	assert.False(t, match("^TestSelf$", "TestSelfUpdate"))
	_, err = topLevel("(")
	assert.Error(t, err, "not a pattern: Main offloads nothing, and testing says why")
}
