package settings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/notify"
)

// Keys are the context keys of the contract, in the order docs/settings.md documents them.
var Keys = []string{
	"repositoryName", "importRepository", "branch", "approval", "approverEmails", "notifications",
	"notifyOn", "deployTarget", "fleetSize", "instanceType", "instanceTag", "beanstalkApplication",
	"beanstalkEnvironment", "deploymentConfig", "operatorUsers", "terminationProtection",
	"pullRequestChecks", "executionMode", "compliancePacks", "deployWindow", "deployWindowTimeZone", "bakeMinutes",
	"stageRollback", "environments",
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
	p.check(unknownKeys(ctx))
	p.str("repositoryName", &s.RepositoryName)
	p.boolean("importRepository", &s.ImportRepository)
	p.str("branch", &s.Branch)
	p.boolean("approval", &s.Approval)
	p.list("approverEmails", &s.ApproverEmails)
	p.subscribers("notifications", &s.Notifications)
	p.states("notifyOn", &s.NotifyOn)
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
	p.str("deployWindow", &s.DeployWindow)
	p.str("deployWindowTimeZone", &s.DeployWindowTimeZone)
	p.integer("bakeMinutes", &s.BakeMinutes)
	p.boolean("stageRollback", &s.StageRollback)
	// Read last: entries inherit the top-level keys they leave out.
	envs, given := p.environments("environments", s)
	if envs != nil {
		s.Environments = envs
	}
	// A key that failed to parse keeps its default, so validation never reports it twice.
	p.check(s.Validate())
	p.check(errors.Join(s.unusedInEnvironments(given)...))
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
	p.errs = append(p.errs, fmt.Errorf("%s: %s is not %s", key, hint.Show(raw), want))
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

// states reads a list of pipeline states.
func (p *parser) states(key string, dst *[]notify.PipelineState) {
	var names []string
	if p.list(key, &names) {
		*dst = make([]notify.PipelineState, len(names))
		for i, n := range names {
			(*dst)[i] = notify.PipelineState(n)
		}
	}
}

// list accepts a JSON array of strings, natively or as JSON text.
func (p *parser) list(key string, dst *[]string) bool {
	var items []any
	if !p.array(key, &items) {
		return false
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
	return true
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
		var protocol, endpoint string
		fields := map[string]*string{"protocol": &protocol, "endpoint": &endpoint}
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
		out = append(out, Subscriber{Protocol: notify.Protocol(protocol), Endpoint: endpoint})
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
		return Tag{}, fmt.Errorf("instanceTag: %s is not of the form Key=Value", hint.Show(s))
	}
	return Tag{Key: k, Value: v}, nil
}

// unknownKeys reports every context key that is neither a setting nor one the CDK toolkit puts in
// context itself, with the nearest setting when the key looks like a typo of one: an unknown key
// would otherwise be ignored in silence, and the user would believe it took effect.
func unknownKeys(ctx map[string]any) error {
	known := map[string]bool{}
	for _, k := range Keys {
		known[k] = true
	}
	var errs []error
	for k := range ctx {
		if known[k] || toolkitKey(k) {
			continue
		}
		name := k
		if !plainKeyRE.MatchString(k) {
			name = hint.Show(k)
		}
		if near := hint.Nearest(k, Keys); near != "" {
			errs = append(errs, fmt.Errorf("%s: unknown setting; did you mean %s?", name, near))
		} else {
			errs = append(errs, fmt.Errorf("%s: unknown setting; the settings are listed in docs/settings.md", name))
		}
	}
	sortErrors(errs)
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
