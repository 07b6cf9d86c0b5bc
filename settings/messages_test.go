package settings

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJSONSyntaxErrors: a JSON-valued setting given as broken JSON text says what is wrong (the
// parser's reason), where (the column, and the text around it), and shows the right shape of
// that setting, whatever the length of the value.
func TestJSONSyntaxErrors(t *testing.T) {
	// Each is broken in the middle of a valid value, after a long enough prefix that a message
	// showing only the value's start would not show the mistake.
	broken := map[string]struct{ text, shape string }{
		"approverEmails":  {`["lead@example.com","second@example.com","third@example.com" "fourth@example.com"]`, `-c approverEmails='["lead@example.com"]'`},
		"notifications":   {`[{"protocol":"email","endpoint":"ops@example.com"},{"protocol":"sms","endpoint":"+14155550100",}]`, `-c notifications='[{"protocol":"email","endpoint":"ops@example.com"}]'`},
		"notifyOn":        {`["FAILED","STOPPED","SUCCEEDED","SUPERSEDED","CANCELED","STARTED",,"RESUMED"]`, `-c notifyOn='["FAILED","SUCCEEDED"]'`},
		"operatorUsers":   {`["alice","bob","carol","dave","erin","frank","grace","heidi","ivan" "judy"]`, `-c operatorUsers='["alice"]'`},
		"compliancePacks": {`["NIST.800.53.R5","HIPAA.Security","PCI.DSS.321","NIST.800.53.R5",]`, `-c compliancePacks='["NIST.800.53.R5"]'`},
		"environments":    {`[{"name":"beta","fleetSize":1,"approval":false},{"name":"prod","fleetSize":4,"deploymentConfig":"HalfAtATime",}]`, `-c environments='[{"name":"beta","fleetSize":1},{"name":"prod"}]'`},
	}
	for _, key := range Keys {
		if f := lookup(key); reflect.ValueOf(f.def).Kind() != reflect.Slice {
			continue
		}
		b, ok := broken[key]
		if !assert.True(t, ok, "%s takes JSON: give it a broken case here", key) {
			continue
		}
		_, err := Parse(map[string]any{key: b.text})
		require.Error(t, err, key)
		msg := err.Error()
		assert.NotContains(t, msg, "\n", "%s: one line", key)
		assert.Regexp(t, `^`+key+`: invalid JSON at column \d+ \(offset \d+\): invalid character `, msg, key)
		assert.Contains(t, msg, "<<here>>", "%s: the text around the mistake", key)
		assert.NotContains(t, msg, "characters)", "%s: not the value cut short at its start", key)
		assert.True(t, strings.HasSuffix(msg, "; "+key+" takes a JSON list, for example "+b.shape), "%s: the setting's own shape: %s", key, msg)
		delete(broken, key)
	}
	assert.Empty(t, broken, "a case for a key that takes no JSON")

	// Where exactly: the column and the text before the mistake.
	_, err := Parse(map[string]any{"environments": `[{"name":"beta",}]`})
	assert.EqualError(t, err, `environments: invalid JSON at column 17 (offset 16): invalid character '}' looking for beginning of object key string: [{"name":"beta",<<here>>}]; environments takes a JSON list, for example -c environments='[{"name":"beta","fleetSize":1},{"name":"prod"}]'`)
	// A long value shows the part around the mistake.
	long := `[{"name":"beta","fleetSize":1,"approval":false},{"name":"prod","fleetSize":4,"deploymentConfig":"HalfAtATime",}]`
	_, err = Parse(map[string]any{"environments": long})
	assert.ErrorContains(t, err, `: …ize":4,"deploymentConfig":"HalfAtATime",<<here>>}]; `)
	// Several lines (a value from a file): line and column.
	_, err = Parse(map[string]any{"environments": "[\n  {\"name\": \"beta\"}\n  {\"name\": \"prod\"}\n]"})
	assert.ErrorContains(t, err, `environments: invalid JSON at line 3, column 3 (offset 23): invalid character '{' after array element: [\n  {"name": "beta"}\n  <<here>>{"name": "prod"}\n]; `)
	// Cut short: where it ends.
	_, err = Parse(map[string]any{"notifications": `[{"protocol":"email",`})
	assert.ErrorContains(t, err, `notifications: invalid JSON: unexpected end of JSON input, before its lists and objects are closed: [{"protocol":"email",<<here>>; notifications takes a JSON list`)
	// Not JSON at all: the shape, with the value.
	_, err = Parse(map[string]any{"environments": `beta,prod`})
	assert.EqualError(t, err, `environments: "beta,prod" is not a JSON list, for example -c environments='[{"name":"beta","fleetSize":1},{"name":"prod"}]'`)
	// Strings where environments takes objects: the shape of an entry.
	_, err = Parse(map[string]any{"environments": `["beta","prod"]`})
	assert.ErrorContains(t, err, `environments[0]: "beta" is not an object like {"name": "prod", "fleetSize": 2}`)
	// In cdk.json, the shape in cdk.json's form.
	_, err = Parse(map[string]any{"approverEmails": map[string]any{"lead": "lead@example.com"}})
	assert.EqualError(t, err, `approverEmails: {"lead":"lead@example.com"} is not a JSON list, for example "approverEmails": ["lead@example.com"]`)
}

// TestBooleans: on the command line a boolean is true or false in any letter case, as in cdk.json
// (where JSON has only those two); 1, 0, yes and no are refused with the word meant.
func TestBooleans(t *testing.T) {
	for raw, want := range map[any]bool{"true": true, "False": false, "TRUE": true, " false ": false, true: true, false: false} {
		s, err := Parse(map[string]any{"approval": raw})
		if assert.NoError(t, err, raw) {
			assert.Equal(t, want, s.Approval, raw)
		}
	}
	for raw, meant := range map[any]string{"1": "true", "0": "false", "yes": "true", "no": "false", "on": "true", "off": "false", 1.0: "true", 0.0: "false"} {
		_, err := Parse(map[string]any{"pullRequestChecks": raw})
		assert.ErrorContains(t, err, "is not a boolean: use true or false", raw)
		assert.ErrorContains(t, err, "did you mean "+meant+"?", raw)
	}
	_, err := Parse(map[string]any{"approval": "maybe"})
	assert.EqualError(t, err, `approval: "maybe" is not a boolean: use true or false (any letter case)`)
}

// TestEveryEntryKeyRejectsTheWrongType gives each key of an environments entry a value of the
// wrong JSON type, and fails if an entry key is added without a case here. Inside the JSON,
// strings are not parsed as numbers or booleans.
func TestEveryEntryKeyRejectsTheWrongType(t *testing.T) {
	wrong := map[string]any{
		"name": 5.0, "account": 210987654321.0, "region": true, "deployTarget": 1.0, "fleetSize": "2", "instanceType": 3.0,
		"instanceTag": map[string]any{"Env": "prod"}, "beanstalkApplication": false, "beanstalkEnvironment": 1.0,
		"deploymentConfig": []any{}, "approval": "true", "bakeMinutes": "5", "deployWindow": 9.0, "deployWindowTimeZone": []any{"UTC"},
	}
	for _, key := range entryKeys() {
		value, ok := wrong[key]
		if !assert.True(t, ok, "no wrong-type case for %s", key) {
			continue
		}
		entry := map[string]any{"name": "prod", key: value}
		_, err := Parse(map[string]any{"environments": []any{entry}})
		if assert.Error(t, err, key) {
			assert.Regexp(t, `(?m)^environments\[0\]\.`+key+`: .* is (not (a|an) |a string, not a JSON )`, err.Error(), key)
		}
	}
	assert.Len(t, wrong, len(entryKeys()), "a case for a key that does not exist")
}

// TestParallel: CodePipeline has no rollback in PARALLEL mode, so PARALLEL requires
// stageRollback=false and no bake in any environment; each line names its key and says why.
func TestParallel(t *testing.T) {
	const why = "CodePipeline has no rollback in PARALLEL mode, so executionMode PARALLEL requires stageRollback=false and bakeMinutes=0"
	for name, tc := range map[string]struct {
		ctx  map[string]any
		want []string
	}{
		"defaults": {map[string]any{"executionMode": "PARALLEL"}, []string{
			"stageRollback: true rolls a failed deploy stage back, but " + why + "; set stageRollback=false, or use executionMode SUPERSEDED or QUEUED",
			"bakeMinutes: 10 bakes the deploy stage, and a bake rolls the stage back on an alarm, but " + why + "; set bakeMinutes=0, or use executionMode SUPERSEDED or QUEUED",
		}},
		"no rollback, the default bake": {map[string]any{"executionMode": "PARALLEL", "stageRollback": "false"}, []string{
			"bakeMinutes: 10 bakes the deploy stage, and a bake rolls the stage back on an alarm, but " + why,
		}},
		"no bake, rollback": {map[string]any{"executionMode": "PARALLEL", "bakeMinutes": "0"}, []string{"stageRollback: true rolls"}},
		"environments inherit the bake": {map[string]any{"executionMode": "PARALLEL", "stageRollback": "false",
			"environments": `[{"name":"beta"},{"name":"edge","deployTarget":"instances","instanceTag":"Env=edge"},{"name":"prod"}]`}, []string{
			"bakeMinutes: 10 bakes environment beta, environment prod, and a bake rolls",
		}},
		"an environment's own bake": {map[string]any{"executionMode": "PARALLEL", "stageRollback": "false", "bakeMinutes": "0",
			"environments": `[{"name":"beta"},{"name":"prod","bakeMinutes":30}]`}, []string{
			`environments[1].bakeMinutes: 30 bakes environment prod, and a bake rolls the stage back on an alarm, but ` + why + `; set "bakeMinutes": 0 in the entry, or use executionMode SUPERSEDED or QUEUED`,
		}},
	} {
		_, err := Parse(tc.ctx)
		if !assert.Error(t, err, name) {
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		assert.Len(t, lines, len(tc.want), "%s: %q", name, lines)
		for i, want := range tc.want {
			if i < len(lines) {
				assert.True(t, strings.HasPrefix(lines[i], want), "%s:\n%s\nwant %s", name, lines[i], want)
			}
		}
	}
	for name, ctx := range map[string]map[string]any{
		"no rollback, no bake":            {"executionMode": "PARALLEL", "stageRollback": "false", "bakeMinutes": "0"},
		"a target without alarms":         {"executionMode": "PARALLEL", "stageRollback": "false", "deployTarget": "instances", "instanceTag": "Env=prod"},
		"environments that do not bake":   {"executionMode": "PARALLEL", "stageRollback": "false", "environments": `[{"name":"beta","bakeMinutes":0},{"name":"prod","account":"210987654321"}]`},
		"rollback and bake in SUPERSEDED": {"executionMode": "SUPERSEDED"},
	} {
		_, err := Parse(ctx)
		assert.NoError(t, err, name)
	}
}

// TestTableRules runs every rule of the table on a value of its field's type, so that a rule
// written for another type fails here rather than on a user's value.
func TestTableRules(t *testing.T) {
	s := Defaults()
	s.Environments = []Environment{s.DefaultEnvironment("prod")}
	for _, f := range fields {
		pl := place{s: &s}
		if f.scope == entryOnly {
			pl.e = &s.Environments[0]
		}
		for i, r := range f.rules {
			assert.NotPanics(t, func() { r(f.key, f.value(pl)) }, "%s: rule %d", f.key, i)
		}
	}
	assert.Equal(t, "environments", Keys[len(Keys)-1], "docs/settings.md documents environments last")
	assert.Equal(t, []string{"name", "account", "region"}, entryKeys()[:3])
	assert.NoError(t, Defaults().Validate())
}
