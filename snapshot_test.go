package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.template.json from the current synth")

// snapshot is the committed default template that reviewers read in pull requests, and the base
// for `cdk diff --template`.
var snapshot = filepath.Join("testdata", StackName+".template.json")

// assetHash matches the content hashes CDK puts in asset object keys; they change with any byte of
// the seeded app, not with the infrastructure.
var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// normalize makes the template depend on the infrastructure only: asset hashes become a fixed
// string and CDK's version metadata is dropped.
func normalize(t *testing.T, synthesized map[string]any) []byte {
	t.Helper()
	// A copy: the synthesized template is shared with other tests.
	var template map[string]any
	b, err := json.Marshal(synthesized)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &template))
	delete(template["Resources"].(map[string]any), "CDKMetadata")
	delete(template, "Conditions") // only CDKMetadataAvailable, which goes with CDKMetadata
	b, err = json.MarshalIndent(template, "", " ")
	require.NoError(t, err)
	b = assetHash.ReplaceAll(b, []byte("0000000000000000000000000000000000000000000000000000000000000000"))
	b = bytes.ReplaceAll(b, []byte(`\u003c`), []byte("<"))
	b = bytes.ReplaceAll(b, []byte(`\u003e`), []byte(">"))
	b = bytes.ReplaceAll(b, []byte(`\u0026`), []byte("&"))
	return append(b, '\n')
}

// TestSnapshot fails when the default stack's template changes. Refresh it with
// go test . -run TestSnapshot -update, and commit it with the change that caused it: the template
// diff is the infrastructure change a reviewer approves.
func TestSnapshot(t *testing.T) {
	got := normalize(t, synthDefault(t).JSON)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(snapshot), 0o755))
		require.NoError(t, os.WriteFile(snapshot, got, 0o644))
		return
	}
	want, err := os.ReadFile(snapshot)
	require.NoError(t, err, "no snapshot yet: run go test . -run TestSnapshot -update")
	if !bytes.Equal(want, got) {
		t.Fatalf("the synthesized template differs from %s.\nIf the change is intended, run: go test . -run TestSnapshot -update\nand commit the snapshot; scripts/review-diff shows what it replaces, deletes or broadens.", snapshot)
	}
}
