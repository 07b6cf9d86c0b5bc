package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	list := `# a comment
== widen [sample]
why: a resource widened
file: constructs/x/x.go
-	Resources: jsii.Strings(arn),
-	Actions: a,
+	Resources: jsii.Strings("*"),

== drop
why: a line dropped
file: x.go
packages: ./a ./b
-	gone()
`
	ms, err := Parse(strings.NewReader(list))
	require.NoError(t, err)
	require.Len(t, ms, 2)
	assert.Equal(t, Mutation{Name: "widen", Why: "a resource widened", File: "constructs/x/x.go", Sample: true,
		Old: "\tResources: jsii.Strings(arn),\n\tActions: a,", New: "\tResources: jsii.Strings(\"*\"),"}, ms[0])
	assert.Equal(t, []string{"./constructs/x", "./stacks", "."}, ms[0].packages())
	assert.Equal(t, []string{"./a", "./b"}, ms[1].packages())
	assert.Equal(t, "", ms[1].New)
	assert.Equal(t, []string{"."}, Mutation{File: "main.go", Packages: []string{"."}}.packages())

	for _, bad := range []string{
		"why: before any mutation\n",
		"== a\nfile: x.go\n-old\n",
		"== a\nwhy: w\n-old\n",
		"== a\nwhy: w\nfile: x.go\n",
		"== a\nwhy: w\nfile: x.go\n-same\n+same\n",
		"== a\nwhy: w\nfile: x.go\n-x\n== a\nwhy: w\nfile: x.go\n-y\n",
		"== a\nwhy: w\nfile: x.go\nwhat: else\n-x\n",
	} {
		_, err := Parse(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
}

func TestApply(t *testing.T) {
	m := Mutation{Name: "m", File: "f.go", Old: "b", New: "B"}
	got, err := m.Apply("abc")
	require.NoError(t, err)
	assert.Equal(t, "aBc", got)
	_, err = m.Apply("abcb")
	assert.EqualError(t, err, "m: the old text occurs 2 times in f.go, want once")
	_, err = m.Apply("ac")
	assert.EqualError(t, err, "m: the old text occurs 0 times in f.go, want once")
}

// TestMutationsApply: every mutation of the list still applies to the code as it is (its old text
// occurs once in its file), names packages that exist, and some are CI's sample; a list that no
// longer applies fails here, before anyone runs scripts/mutate.
func TestMutationsApply(t *testing.T) {
	root := filepath.Join("..", "..")
	f, err := os.Open(filepath.Join(root, "testdata", "mutations.txt"))
	require.NoError(t, err)
	defer f.Close()
	ms, err := Parse(f)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(ms), 30)
	samples := 0
	for _, m := range ms {
		if m.Sample {
			samples++
		}
		b, err := os.ReadFile(filepath.Join(root, m.File))
		if !assert.NoError(t, err, m.Name) {
			continue
		}
		_, err = m.Apply(string(b))
		assert.NoError(t, err)
		tested := false
		for _, pkg := range m.packages() {
			matches, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
			tested = tested || len(matches) > 0
		}
		assert.True(t, tested, "%s: some package of %v has tests", m.Name, m.packages())
	}
	assert.Positive(t, samples, "CI runs a sample")
}
