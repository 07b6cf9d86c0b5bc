package settings_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/settings"
)

// TestDocsListEverySetting: docs/settings.md's table has a row for each key, in the contract's
// order, and for nothing else.
func TestDocsListEverySetting(t *testing.T) {
	doc, err := os.ReadFile("../docs/settings.md")
	require.NoError(t, err)
	var documented []string
	for _, row := range regexp.MustCompile("(?m)^\\| (`[^|]+`) \\|").FindAllStringSubmatch(string(doc), -1) {
		for _, key := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(row[1], -1) {
			documented = append(documented, key[1])
		}
	}
	assert.Equal(t, settings.Keys, documented)
}
