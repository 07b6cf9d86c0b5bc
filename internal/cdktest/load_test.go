package cdktest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad reads an assembly as aws-cdk-lib 2.276.0 writes it: the stack's annotations in the file
// its artifact's additionalMetadataFile names (core/lib/stack-synthesizers/_shared.js), or inline
// under metadata; only errors count, as in SynthAll.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"manifest.json": `{"version":"48.0.0","artifacts":{
			"Shop":{"type":"aws:cloudformation:stack","properties":{"templateFile":"Shop.template.json"},
				"metadata":{"/Shop/Queue":[{"type":"aws:cdk:error","data":"AwsSolutions-SQS3: inline"}]},
				"additionalMetadataFile":"Shop.metadata.json"},
			"Shop.assets":{"type":"cdk:asset-manifest","properties":{"file":"Shop.assets.json"}}}}`,
		"Shop.template.json": `{"Resources":{"Queue":{"Type":"AWS::SQS::Queue"}}}`,
		"Shop.metadata.json": `{"/Shop/Queue/Resource":[{"type":"aws:cdk:logicalId","data":"Queue"},
			{"type":"aws:cdk:error","data":"AwsSolutions-SQS4: The SQS queue does not require requests to use SSL."},
			{"type":"aws:cdk:warning","data":"AwsSolutions-SQS2: a warning"}]}`,
	}
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	s := Load(t, dir, "Shop")
	assert.Nil(t, s.Stack)
	assert.Len(t, s.Resources("AWS::SQS::Queue"), 1)
	assert.Equal(t, []string{
		"/Shop/Queue/Resource: AwsSolutions-SQS4: The SQS queue does not require requests to use SSL.",
		"/Shop/Queue: AwsSolutions-SQS3: inline",
	}, s.NagErrors)

	r := &fatalRecorder{recorder: recorder{TB: t}}
	func() {
		defer func() { recover() }()
		Load(r, dir, "Shop.assets")
	}()
	assert.Equal(t, []string{"cdktest.Load: the assembly in " + dir + " has no stack Shop.assets"}, r.errors)
}

// fatalRecorder is a recorder whose Fatalf ends the check, as FailNow would, without failing the
// test that runs it.
type fatalRecorder struct{ recorder }

func (r *fatalRecorder) Fatalf(f string, a ...any) {
	r.Errorf(f, a...)
	panic("fatal")
}
