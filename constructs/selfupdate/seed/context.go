package seed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/pipekit/cdk-pipeline/featureflags"
)

// Overrides returns the values of ctx, the app's context, that differ from the context of config
// (the text of cdk.json) and are settings (a key of settings) or feature flags this app sets
// (featureflags.Context): what the command line's -c gave. The CLI's own keys, the lookups
// (cdk.context.json) and any other key starting with @ are not among them: the CLI puts some in
// the context by itself (@aws-cdk/core:failSynthOnValidationErrors), and one of them in the seeded
// cdk.json would make its digest differ from the update stage's for good. A -c value is text; it is read as JSON when it is JSON (true, 3, ["a"]), or as
// a boolean in any letter case, so that the seeded cdk.json holds it in cdk.json's own form.
func Overrides(config []byte, ctx map[string]any, settings []string) (map[string]any, error) {
	var doc struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("seed: cdk.json: %w", err)
	}
	flags := featureflags.Context()
	out := map[string]any{}
	for k, v := range ctx {
		if _, flag := flags[k]; !flag && !slices.Contains(settings, k) {
			continue
		}
		v = native(v)
		if old, ok := doc.Context[k]; ok && reflect.DeepEqual(old, v) {
			continue
		}
		out[k] = v
	}
	return out, nil
}

// native reads a -c value as cdk.json would hold it.
func native(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "true":
		return true
	case "false":
		return false
	}
	var parsed any
	if err := json.Unmarshal([]byte(t), &parsed); err == nil {
		switch parsed.(type) {
		case float64, []any, map[string]any:
			return parsed
		}
	}
	return s
}

// WithContext returns config, the text of cdk.json, with overrides set in its context: each key's
// value replaced where it is, new keys after the others, every other key and value as it was, in
// its order.
func WithContext(config []byte, overrides map[string]any) ([]byte, error) {
	top, err := orderedObject(config)
	if err != nil {
		return nil, fmt.Errorf("seed: cdk.json: %w", err)
	}
	i := slices.IndexFunc(top, func(m member) bool { return m.key == "context" })
	var ctx []member
	if i >= 0 {
		if ctx, err = orderedObject(top[i].value); err != nil {
			return nil, fmt.Errorf("seed: cdk.json's context: %w", err)
		}
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b, err := marshal(overrides[k])
		if err != nil {
			return nil, err
		}
		if j := slices.IndexFunc(ctx, func(m member) bool { return m.key == k }); j >= 0 {
			ctx[j].value = b
		} else {
			ctx = append(ctx, member{k, b})
		}
	}
	if i >= 0 {
		top[i].value = encode(ctx)
	} else {
		top = append(top, member{"context", encode(ctx)})
	}
	var out bytes.Buffer
	if err := json.Indent(&out, encode(top), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// member is one key of a JSON object, with its value as JSON text.
type member struct {
	key   string
	value json.RawMessage
}

// orderedObject reads a JSON object's members in their order.
func orderedObject(text []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		out = append(out, member{tok.(string), value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

// marshal is json.Marshal without HTML escapes: a value reads in cdk.json as it was given.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

func encode(members []member) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(m.key)
		b.Write(key)
		b.WriteByte(':')
		compact := new(bytes.Buffer)
		if json.Compact(compact, m.value) == nil {
			b.Write(compact.Bytes())
		} else {
			b.Write(m.value)
		}
	}
	b.WriteByte('}')
	return b.Bytes()
}
