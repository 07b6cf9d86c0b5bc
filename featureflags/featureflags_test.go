package featureflags

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestContextIsCDKJSONs keeps Context and cdk.json's feature flags the same: a flag changed in
// cdk.json without go generate ./featureflags fails here.
func TestContextIsCDKJSONs(t *testing.T) {
	b, err := os.ReadFile("../cdk.json")
	require.NoError(t, err)
	var doc struct {
		Context map[string]any `json:"context"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	want := map[string]any{}
	for k, v := range doc.Context {
		if strings.HasPrefix(k, "@aws-cdk") {
			want[k] = v
		}
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, Context(), "cdk.json's feature flags changed: run go generate ./featureflags")
	assert.Contains(t, Context(), "@aws-cdk/aws-ec2:restrictDefaultSecurityGroup")
}

// TestContextIsANewMap: a caller may add its own context to the map it gets.
func TestContextIsANewMap(t *testing.T) {
	a := Context()
	a["mine"] = true
	assert.NotContains(t, Context(), "mine")
}
