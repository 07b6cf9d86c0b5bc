package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/notify"
)

// maxValueLen bounds any single raw value, so that a pasted file or an attacker's megabyte string
// is refused before it reaches a regular expression or the template.
const maxValueLen = 4096

// Parse turns raw CDK context into validated settings. A key that is absent or nil keeps its
// default. At the top level, values may be native JSON (from cdk.json) or strings (from -c
// key=value on the command line), where booleans are true or false in any letter case, numbers
// are digits and lists are JSON text. Inside a JSON value (an environments entry, a subscriber),
// values have their JSON type: "fleetSize": 1, not "1". Every problem is reported, one per line,
// in a single joined error.
func Parse(ctx map[string]any) (Settings, error) {
	p := parser{failed: map[string]bool{}}
	s := Defaults()
	p.check(unknownKeys(ctx))
	for _, f := range fields {
		if f.scope != entryOnly {
			p.read(f, spot{name: f.key, key: f.key, text: true, example: f.example}, ctx[f.key], place{s: &s})
		}
	}
	p.inherit(&s)
	// A key that failed to parse keeps its default, and validation does not report it again.
	p.errs = append(p.errs, s.problems(p.failed)...)
	p.errs = append(p.errs, s.unusedInEnvironments(p.given)...)
	return s, errors.Join(p.errs...)
}

// parser reads one key at a time and gathers every problem instead of stopping at the first.
type parser struct {
	errs []error
	// failed holds the names of the values that did not parse.
	failed map[string]bool
	// given holds, for each environments entry, the keys it sets.
	given []map[string]bool
}

// spot is where a raw value was given, for messages.
type spot struct {
	// name names the value in messages: fleetSize, environments[0].fleetSize.
	name string
	// key is the key or field alone: fleetSize.
	key string
	// text: a top-level value, which -c gives as a string.
	text bool
	// example is a value of the key, as JSON text.
	example string
}

// forExample shows the key with its example in the form the value was given in: -c key=value for
// text, "key": value for JSON.
func (sp spot) forExample(native bool) string {
	if sp.example == "" {
		return ""
	}
	if sp.text && !native {
		var s string
		if json.Unmarshal([]byte(sp.example), &s) == nil {
			return ", for example -c " + sp.key + "=" + s
		}
		return ", for example -c " + sp.key + "='" + sp.example + "'"
	}
	return fmt.Sprintf(", for example %q: %s", sp.key, sp.example)
}

func (p *parser) check(err error) {
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

func (p *parser) add(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
}

func (p *parser) fail(name string, raw any, want string) {
	p.add(name, "%s is not %s", hint.Show(raw), want)
}

// read reads raw, the value of f at sp, into pl. A nil raw value is absent.
func (p *parser) read(f field, sp spot, raw any, pl place) bool {
	if raw == nil {
		return false
	}
	if s, isString := raw.(string); isString && len(s) > maxValueLen {
		p.add(sp.name, "value is %d characters long; the limit is %d", len(s), maxValueLen)
		p.failed[sp.name] = true
		return false
	}
	if !f.read(p, sp, raw, pl) {
		p.failed[sp.name] = true
		return false
	}
	return true
}

// inherit gives every environments entry the top-level value of each per-environment key it
// leaves out: that is what a top-level key means with an environments list.
func (p *parser) inherit(s *Settings) {
	top := place{s: s}
	for i := range s.Environments {
		pl, given := place{s: s, e: &s.Environments[i]}, p.given[i]
		for _, f := range fields {
			if f.scope != perEnvironment || given[f.key] {
				continue
			}
			f.copy(pl, top)
			if p.failed[f.key] {
				p.failed[entryName(i, f.key)] = true
			}
		}
		// Once the entry's target and account are known: an entry that cannot use such a key
		// (a bake needs alarms) does not inherit it.
		for _, f := range fields {
			if f.scope == perEnvironment && !given[f.key] && f.use != nil && f.use.onlyWhereUsed && !f.use.by(s.Environments[i]) {
				f.clear(pl)
			}
		}
	}
}

// entryName names an entry's field in messages, as environments[i].key. The sweep validates many
// thousand configurations: concatenation, not fmt.
func entryName(i int, key string) string { return "environments[" + strconv.Itoa(i) + "]." + key }

func (p *parser) text(sp spot, raw any) (string, bool) {
	s, isString := raw.(string)
	if !isString {
		p.fail(sp.name, raw, "a string")
		return "", false
	}
	return strings.TrimSpace(s), true
}

func (p *parser) boolean(sp spot, raw any) (bool, bool) {
	switch v := raw.(type) {
	case bool:
		return v, true
	case string:
		word := strings.ToLower(strings.TrimSpace(v))
		if word == "true" || word == "false" {
			if sp.text {
				return word == "true", true
			}
			p.add(sp.name, "%s is a string, not a JSON boolean: write %s without quotes", hint.Show(raw), word)
			return false, false
		}
	}
	// true and false only, so that a value reads the same in cdk.json, whose JSON has no other
	// booleans, as on the command line: 1, yes or on would be a guess.
	want := "a boolean: use true or false"
	if _, isString := raw.(string); isString && sp.text {
		want += " (any letter case)"
	}
	switch strings.ToLower(strings.TrimSpace(fmt.Sprint(raw))) {
	case "1", "yes", "y", "on", "t":
		want += "; did you mean true?"
	case "0", "no", "n", "off", "f":
		want += "; did you mean false?"
	}
	p.fail(sp.name, raw, want)
	return false, false
}

func (p *parser) integer(sp spot, raw any) (int, bool) {
	switch v := raw.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e9 {
			return int(v), true
		}
	case int:
		return v, true
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			if sp.text {
				return n, true
			}
			p.add(sp.name, "%s is a string, not a JSON number: write %d without quotes", hint.Show(raw), n)
			return 0, false
		}
	}
	p.fail(sp.name, raw, "a whole number")
	return 0, false
}

// tag reads Key=Value; empty is no tag.
func (p *parser) tag(sp spot, raw any) (Tag, bool) {
	s, ok := p.text(sp, raw)
	if !ok || s == "" {
		return Tag{}, ok
	}
	k, v, found := strings.Cut(s, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !found || k == "" {
		p.add(sp.name, "%s is not of the form Key=Value%s", hint.Show(s), sp.forExample(false))
		return Tag{}, false
	}
	return Tag{Key: k, Value: v}, true
}

// strings reads a JSON list of strings.
func (p *parser) strings(sp spot, raw any) ([]string, bool) {
	items, ok := p.array(sp, raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, isString := item.(string)
		if !isString {
			p.fail(fmt.Sprintf("%s[%d]", sp.name, i), item, "a string")
			ok = false
			continue
		}
		out = append(out, strings.TrimSpace(s))
	}
	return out, ok
}

func (p *parser) subscribers(sp spot, raw any) ([]Subscriber, bool) {
	items, ok := p.array(sp, raw)
	if !ok {
		return nil, false
	}
	out := make([]Subscriber, 0, len(items))
	for i, item := range items {
		name := fmt.Sprintf("%s[%d]", sp.name, i)
		obj, isObject := item.(map[string]any)
		if !isObject {
			p.fail(name, item, `an object like {"protocol": "email", "endpoint": "ops@example.com"}`)
			continue
		}
		var protocol, endpoint string
		fields := map[string]*string{"protocol": &protocol, "endpoint": &endpoint}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			field, known := fields[k]
			if !known {
				p.add(name, "unknown field %s; the fields are protocol and endpoint", hint.Show(k))
				continue
			}
			if s, ok := p.text(spot{name: name + "." + k, key: k}, obj[k]); ok {
				*field = s
			}
		}
		out = append(out, Subscriber{Protocol: notify.Protocol(protocol), Endpoint: endpoint})
	}
	return out, true
}

// entries reads the environments list: each entry's keys with the table's rows for them. The keys
// an entry leaves out are inherited once every top-level key is read (inherit).
func (p *parser) entries(sp spot, raw any) ([]Environment, bool) {
	items, ok := p.array(sp, raw)
	if !ok {
		return nil, false
	}
	envs, given := make([]Environment, len(items)), make([]map[string]bool, len(items))
	for i, item := range items {
		name := fmt.Sprintf("%s[%d]", sp.name, i)
		obj, isObject := item.(map[string]any)
		if !isObject {
			p.fail(name, item, `an object like {"name": "prod", "fleetSize": 2}`)
			ok = false
			continue
		}
		given[i] = map[string]bool{}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			f := lookup(k)
			switch {
			case f == nil:
				if near := hint.Nearest(k, entryKeys()); near != "" {
					p.add(name, "unknown field %s; did you mean %s?", hint.Show(k), near)
				} else {
					p.add(name, "unknown field %s; the fields are %s", hint.Show(k), strings.Join(entryKeys(), ", "))
				}
			case f.scope == pipelineWide:
				p.add(name, "%s is a setting of the whole pipeline, not of an environment; give it at the top level", hint.Show(k))
			default:
				if p.read(*f, spot{name: name + "." + k, key: k, example: f.example}, obj[k], place{e: &envs[i]}) {
					given[i][k] = true
				}
			}
		}
	}
	if !ok {
		return nil, false
	}
	p.given = given
	return envs, true
}

// lookup returns the row of key, or nil.
func lookup(key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// entryKeys are the keys an environments entry may set: its own, then the per-environment ones.
func entryKeys() []string {
	var own, shared []string
	for _, f := range fields {
		switch f.scope {
		case entryOnly:
			own = append(own, f.key)
		case perEnvironment:
			shared = append(shared, f.key)
		}
	}
	return append(own, shared...)
}

// array reads a JSON list, given natively or, at the top level, as JSON text.
func (p *parser) array(sp spot, raw any) ([]any, bool) {
	native := true
	if text, isString := raw.(string); isString && sp.text {
		native = false
		var v any
		if err := json.Unmarshal([]byte(text), &v); err == nil {
			raw = v
		} else if t := strings.TrimSpace(text); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			p.add(sp.name, "%s; %s takes a JSON list%s", jsonSyntax(text, err), sp.key, sp.forExample(false))
			return nil, false
		}
	}
	items, isList := raw.([]any)
	if !isList {
		p.fail(sp.name, raw, "a JSON list"+sp.forExample(native))
		return nil, false
	}
	return items, true
}

// jsonSyntax says what is wrong with text, which err reports is not JSON, and where: the
// position, and the text around it with <<here>> before the character that is wrong.
func jsonSyntax(text string, err error) string {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return "invalid JSON: " + err.Error()
	}
	if int(se.Offset) >= len(text) && strings.HasPrefix(se.Error(), "unexpected end") {
		return fmt.Sprintf("invalid JSON: %s, before its lists and objects are closed: %s<<here>>", se.Error(), around(text, len(text)))
	}
	// Offset counts the bytes read, the wrong one included.
	at := min(max(int(se.Offset)-1, 0), len(text))
	before := text[:at]
	line := strings.Count(before, "\n") + 1
	column := utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:]) + 1
	where := fmt.Sprintf("column %d", column)
	if strings.Contains(text, "\n") {
		where = fmt.Sprintf("line %d, column %d", line, column)
	}
	return fmt.Sprintf("invalid JSON at %s (offset %d): %s: %s", where, at, se.Error(), around(text, at))
}

// around shows text near at, with <<here>> at at: up to 40 characters before and 20 after, with
// control and non-ASCII characters escaped, and "…" where it cuts text short.
func around(text string, at int) string {
	from, to := max(at-40, 0), min(at+20, len(text))
	for from > 0 && !utf8.RuneStart(text[from]) {
		from--
	}
	for to < len(text) && !utf8.RuneStart(text[to]) {
		to++
	}
	show := func(s string) string {
		q := strconv.QuoteToASCII(s)
		return strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
	}
	s := show(text[from:at])
	if at < len(text) {
		s += "<<here>>" + show(text[at:to])
	}
	if from > 0 {
		s = "…" + s
	}
	if to < len(text) {
		s += "…"
	}
	return s
}

// unknownKeys reports every context key that is neither a setting nor one the CDK toolkit puts in
// context itself, with the nearest setting when the key looks like a typo of one: an unknown key
// would otherwise be ignored in silence, and the user would believe it took effect.
func unknownKeys(ctx map[string]any) error {
	var errs []error
	for k := range ctx {
		if slices.Contains(Keys, k) || toolkitKey(k) {
			continue
		}
		name := k
		if !plainKeyRE.MatchString(k) {
			name = hint.Show(k)
		}
		if f := lookup(k); f != nil && f.scope == entryOnly {
			errs = append(errs, fmt.Errorf("%s: a field of an environments entry, not a setting; give it in an entry, for example -c environments='[{\"name\":\"prod\",%q:...}]'", name, k))
		} else if near := hint.Nearest(k, Keys); near != "" {
			errs = append(errs, fmt.Errorf("%s: unknown setting; did you mean %s?", name, near))
		} else {
			errs = append(errs, fmt.Errorf("%s: unknown setting; the settings are listed in docs/settings.md", name))
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

var (
	plainKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	// lookupKeyRE matches the keys of context lookups, which the CLI records in cdk.context.json,
	// such as availability-zones:account=123456789012:region=eu-west-1.
	lookupKeyRE = regexp.MustCompile(`^[a-z][a-z0-9-]*:.*account=`)
)

// toolkitKey reports whether key is one that the CDK CLI, aws-cdk-lib or the user's toolkit
// configuration puts in context: feature flags (@aws-cdk/..., @aws-cdk-containers/...), the
// CLI's own keys (aws:cdk:enable-path-metadata, aws:cdk:bundling-stacks, ...), notices the user
// acknowledged, the telemetry choice, and the results of lookups.
func toolkitKey(key string) bool {
	switch {
	case strings.HasPrefix(key, "@"), strings.HasPrefix(key, "aws:cdk:"), strings.HasPrefix(key, "aws-cdk:"),
		strings.HasPrefix(key, "cdk-"), key == "acknowledged-issue-numbers", key == "cli-telemetry":
		return true
	}
	return lookupKeyRE.MatchString(key)
}
