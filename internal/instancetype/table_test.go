package instancetype

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableDigest is the digest the generator records of the table's entries: sha256 of
// "family=architecture\n" lines, then "size\n" lines, each sorted.
func tableDigest(families map[string]string, sizes map[string]bool) string {
	h := sha256.New()
	for _, f := range slices.Sorted(maps.Keys(families)) {
		fmt.Fprintf(h, "%s=%s\n", f, families[f])
	}
	for _, s := range slices.Sorted(maps.Keys(sizes)) {
		fmt.Fprintf(h, "%s\n", s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestEC2TableIsCurrent fails when aws-cdk-go was upgraded without regenerating the instance-type
// table, or when the table was edited by hand: run go generate ./internal/instancetype. It reads go.mod
// instead of asking aws-cdk-lib, so that this package's tests start no jsii process.
func TestEC2TableIsCurrent(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	required := regexp.MustCompile(`(?m)^\s*github\.com/aws/aws-cdk-go/awscdk/v2 (v\S+)`).FindSubmatch(mod)
	require.NotNil(t, required, "go.mod requires aws-cdk-go")
	assert.Equal(t, string(required[1]), ec2TableVersion, "run go generate ./internal/instancetype")
	assert.Equal(t, ec2TableDigest, tableDigest(ec2Families, ec2Sizes), "the table was edited; run go generate ./internal/instancetype")
}
