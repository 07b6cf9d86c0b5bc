package settings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsListEverySetting: docs/settings.md's table has a row for each top-level key of the
// field table, in its order, and for nothing else, with the table's default.
func TestDocsListEverySetting(t *testing.T) {
	doc, err := os.ReadFile("../docs/settings.md")
	require.NoError(t, err)
	var documented []string
	for _, row := range regexp.MustCompile("(?m)^\\| (`[^|]+`) \\| ([^|]+) \\|").FindAllStringSubmatch(string(doc), -1) {
		for _, key := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(row[1], -1) {
			documented = append(documented, key[1])
			f := lookup(key[1])
			if f == nil {
				continue
			}
			if strings.HasPrefix(row[2], "–") {
				assert.True(t, f.defaultZero, "%s: documented without a default, but it has %v", key[1], f.def)
				continue
			}
			shown := regexp.MustCompile("`([^`]*)`").FindStringSubmatch(row[2])
			if assert.NotNil(t, shown, "%s: its default in `code`", key[1]) {
				assert.Equal(t, docDefault(f.def), shown[1], "%s: the documented default is the table's", key[1])
			}
		}
	}
	assert.Equal(t, Keys, documented)
}

// docDefault is how docs/settings.md writes a default: a string as it is (empty as ""), the rest
// as JSON.
func docDefault(v any) string {
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.String && rv.String() == "":
		return `""`
	case rv.Kind() == reflect.String:
		return rv.String()
	case rv.Kind() == reflect.Slice && rv.Len() == 0:
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestDocsListEveryEnvironmentField: docs/environments.md's table of an entry's fields names each
// key an entry may set, and nothing else.
func TestDocsListEveryEnvironmentField(t *testing.T) {
	doc, err := os.ReadFile("../docs/environments.md")
	require.NoError(t, err)
	_, table, found := strings.Cut(string(doc), "| field | meaning |\n")
	require.True(t, found, "the table of an entry's fields")
	table, _, _ = strings.Cut(table, "\n\n")
	var documented []string
	for _, row := range strings.Split(table, "\n")[1:] {
		first := strings.Split(row, "|")[1]
		for _, key := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(first, -1) {
			documented = append(documented, key[1])
		}
	}
	assert.ElementsMatch(t, entryKeys(), documented)
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
			_, err := Parse(ctx)
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

// TestDocumentedTranscripts: each "$ npx cdk synth -c ..." transcript in docs/settings.md prints
// what Parse reports for its settings, line for line.
func TestDocumentedTranscripts(t *testing.T) {
	doc, err := os.ReadFile("../docs/settings.md")
	require.NoError(t, err)
	arg := regexp.MustCompile(`-c ((?:[^\s'"]|'[^']*'|"[^"]*")+)`)
	lines := strings.Split(string(doc), "\n")
	checked := 0
	for i, line := range lines {
		command, isTranscript := strings.CutPrefix(line, "$ npx cdk synth ")
		if !isTranscript || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "invalid settings") {
			continue
		}
		ctx := map[string]any{}
		for _, m := range arg.FindAllStringSubmatch(command, -1) {
			key, value, _ := strings.Cut(m[1], "=")
			ctx[key] = strings.Trim(value, `'"`)
		}
		var printed []string
		for _, out := range lines[i+2:] {
			problem, isProblem := strings.CutPrefix(out, "  ")
			if !isProblem {
				break
			}
			printed = append(printed, problem)
		}
		_, err := Parse(ctx)
		if assert.Error(t, err, command) {
			assert.Equal(t, strings.Join(printed, "\n"), err.Error(), command)
		}
		checked++
	}
	assert.Equal(t, 2, checked, "the transcripts were found")
}
