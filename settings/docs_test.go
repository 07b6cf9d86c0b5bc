package settings_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// TestDocumentedSettingsParse: every group of -c key=value in the README, docs/ and the example's
// comment (one code line or inline code span) is valid settings, so the documentation cannot
// drift from the contract. Placeholders (<name>, …) and the bad-input transcript ($ …) are skipped.
func TestDocumentedSettingsParse(t *testing.T) {
	files, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	files = append(files, "../README.md", "../examples/betaprod/main.go")
	arg := regexp.MustCompile(`-c ((?:[^\s'"` + "`" + `]|'[^']*'|"[^"]*")+)`)
	spans := regexp.MustCompile("`[^`\n]*-c [^`\n]*`")
	checked := 0
	// Shown as mistakes the settings catch.
	bad := map[string]bool{"`-c fleetsize=3`": true}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		require.NoError(t, err)
		var groups []string
		for _, line := range strings.Split(string(doc), "\n") {
			line = strings.TrimPrefix(strings.TrimSpace(line), "//\t")
			if strings.HasPrefix(line, "npx cdk") || strings.HasPrefix(line, "-c ") {
				groups = append(groups, line)
			}
			groups = append(groups, spans.FindAllString(line, -1)...)
		}
		for _, g := range groups {
			ctx := map[string]any{}
			for _, m := range arg.FindAllStringSubmatch(g, -1) {
				key, value, _ := strings.Cut(m[1], "=")
				value = strings.Trim(value, `'"`)
				if key == "key" || strings.ContainsAny(value, "<…") {
					ctx = nil
					break
				}
				ctx[key] = value
			}
			if len(ctx) == 0 {
				continue
			}
			_, err := settings.Parse(ctx)
			if bad[g] {
				assert.Error(t, err, "%s: %s is shown as a mistake", f, g)
			} else {
				assert.NoError(t, err, "%s: %s", f, g)
			}
			checked++
		}
	}
	assert.Greater(t, checked, 15, "the documented examples were found")
}
