package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Keys are the context keys of the contract, in the order the README documents them.
var Keys = []string{
	"repositoryName", "importRepository", "branch", "approval", "approverEmails", "notifications",
	"notifyOn", "deployTarget", "fleetSize", "instanceType", "instanceTag", "beanstalkApplication",
	"beanstalkEnvironment", "deploymentConfig", "operatorUsers", "terminationProtection",
	"pullRequestChecks", "executionMode", "compliancePacks",
}

// maxValueLen bounds any single raw value, so that a pasted file or an attacker's megabyte string
// is refused before it reaches a regular expression or the template.
const maxValueLen = 4096

// Parse turns raw CDK context into validated settings. A key that is absent or nil keeps its
// default. Values may be native JSON (from cdk.json) or strings (from -c key=value on the command
// line), where booleans are "true" or "false" and lists are JSON text. Every problem is reported,
// one per line, in a single joined error.
func Parse(ctx map[string]any) (Settings, error) {
	p := parser{ctx: ctx}
	s := Defaults()
	p.check(misspelledKeys(ctx))
	p.str("repositoryName", &s.RepositoryName)
	p.boolean("importRepository", &s.ImportRepository)
	p.str("branch", &s.Branch)
	p.boolean("approval", &s.Approval)
	p.list("approverEmails", &s.ApproverEmails)
	p.subscribers("notifications", &s.Notifications)
	p.list("notifyOn", &s.NotifyOn)
	var target string
	if p.str("deployTarget", &target) {
		s.DeployTarget = Target(target)
	}
	p.integer("fleetSize", &s.FleetSize)
	p.str("instanceType", &s.InstanceType)
	var tag string
	if p.str("instanceTag", &tag) {
		var err error
		s.InstanceTag, err = parseTag(tag)
		p.check(err)
	}
	p.str("beanstalkApplication", &s.BeanstalkApplication)
	p.str("beanstalkEnvironment", &s.BeanstalkEnvironment)
	p.str("deploymentConfig", &s.DeploymentConfig)
	p.list("operatorUsers", &s.OperatorUsers)
	p.boolean("terminationProtection", &s.TerminationProtection)
	p.boolean("pullRequestChecks", &s.PullRequestChecks)
	p.str("executionMode", &s.ExecutionMode)
	p.list("compliancePacks", &s.CompliancePacks)
	// A key that failed to parse keeps its default, so validation never reports it twice.
	p.check(s.Validate())
	return s, errors.Join(p.errs...)
}

// parser reads one key at a time and gathers every problem instead of stopping at the first.
type parser struct {
	ctx  map[string]any
	errs []error
}

func (p *parser) check(err error) {
	if err != nil {
		p.errs = append(p.errs, err)
	}
}

func (p *parser) fail(key string, raw any, want string) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s is not %s", key, show(raw), want))
}

// value returns the raw value of key, or false when the key is absent, nil or too long to consider.
func (p *parser) value(key string) (any, bool) {
	raw, ok := p.ctx[key]
	if !ok || raw == nil {
		return nil, false
	}
	if s, isString := raw.(string); isString && len(s) > maxValueLen {
		p.errs = append(p.errs, fmt.Errorf("%s: value is %d characters long; the limit is %d", key, len(s), maxValueLen))
		return nil, false
	}
	return raw, true
}

func (p *parser) str(key string, dst *string) bool {
	raw, ok := p.value(key)
	if !ok {
		return false
	}
	s, isString := raw.(string)
	if !isString {
		p.fail(key, raw, "a string")
		return false
	}
	*dst = strings.TrimSpace(s)
	return true
}

func (p *parser) boolean(key string, dst *bool) {
	raw, ok := p.value(key)
	if !ok {
		return
	}
	switch v := raw.(type) {
	case bool:
		*dst = v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			p.fail(key, raw, "a boolean: use true or false")
		}
	default:
		p.fail(key, raw, "a boolean: use true or false")
	}
}

func (p *parser) integer(key string, dst *int) {
	raw, ok := p.value(key)
	if !ok {
		return
	}
	switch v := raw.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e9 {
			*dst = int(v)
			return
		}
	case int:
		*dst = v
		return
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			*dst = n
			return
		}
	}
	p.fail(key, raw, "a whole number")
}

// list accepts a JSON array of strings, natively or as JSON text.
func (p *parser) list(key string, dst *[]string) {
	var items []any
	if !p.array(key, &items) {
		return
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			p.fail(fmt.Sprintf("%s[%d]", key, i), item, "a string")
			continue
		}
		out = append(out, strings.TrimSpace(s))
	}
	*dst = out
}

func (p *parser) subscribers(key string, dst *[]Subscriber) {
	var items []any
	if !p.array(key, &items) {
		return
	}
	out := make([]Subscriber, 0, len(items))
	for i, item := range items {
		name := fmt.Sprintf("%s[%d]", key, i)
		obj, ok := item.(map[string]any)
		if !ok {
			p.fail(name, item, `an object like {"protocol": "email", "endpoint": "ops@example.com"}`)
			continue
		}
		var sub Subscriber
		fields := map[string]*string{"protocol": &sub.Protocol, "endpoint": &sub.Endpoint}
		for k, v := range obj {
			field, known := fields[k]
			if !known {
				p.errs = append(p.errs, fmt.Errorf("%s: unknown field %q; the fields are protocol and endpoint", name, k))
				continue
			}
			s, isString := v.(string)
			if !isString {
				p.fail(name+"."+k, v, "a string")
				continue
			}
			*field = strings.TrimSpace(s)
		}
		out = append(out, sub)
	}
	*dst = out
}

// array reads key as a JSON array, given natively or as JSON text.
func (p *parser) array(key string, dst *[]any) bool {
	raw, ok := p.value(key)
	if !ok {
		return false
	}
	if text, isString := raw.(string); isString {
		dec := json.NewDecoder(bytes.NewReader([]byte(text)))
		if err := dec.Decode(&raw); err != nil || dec.More() {
			p.fail(key, text, fmt.Sprintf(`a JSON list, for example -c %s='["..."]'`, key))
			return false
		}
	}
	items, isList := raw.([]any)
	if !isList {
		p.fail(key, raw, "a JSON list")
		return false
	}
	*dst = items
	return true
}

func parseTag(s string) (Tag, error) {
	if s == "" {
		return Tag{}, nil
	}
	k, v, found := strings.Cut(s, "=")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	if !found || k == "" {
		return Tag{}, fmt.Errorf("instanceTag: %s is not of the form Key=Value", show(s))
	}
	return Tag{Key: k, Value: v}, nil
}

// misspelledKeys catches a known key typed in the wrong case, which CDK would otherwise ignore in
// silence. Other unknown keys are left alone: CDK itself keeps feature flags and lookups in context.
func misspelledKeys(ctx map[string]any) error {
	known := make(map[string]string, len(Keys))
	for _, k := range Keys {
		known[strings.ToLower(k)] = k
	}
	var errs []error
	for k := range ctx {
		if want, ok := known[strings.ToLower(k)]; ok && want != k {
			errs = append(errs, fmt.Errorf("%s: unknown setting; did you mean %s?", k, want))
		}
	}
	sortErrors(errs)
	return errors.Join(errs...)
}

// show renders a raw value for an error message: quoted, escaped and cut short, so control
// characters and huge values cannot garble the terminal.
func show(raw any) string {
	var s string
	switch v := raw.(type) {
	case string:
		s = strconv.QuoteToASCII(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		s = string(b)
	}
	const limit = 80
	if len(s) > limit {
		s = s[:limit] + fmt.Sprintf("…(%d characters)", len(s))
	}
	return s
}
