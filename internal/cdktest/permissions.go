package cdktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Permissions returns everything the role or group at path (its construct path below the stack,
// as cdk diff shows it: "Pipeline/Pipeline/Role") is given, one line per effect, resource set and
// condition, in the form HasPermissions takes:
//
//	Allow s3:GetObject*, s3:List* on ${Pipeline/ArtifactBucket.Arn}, ${Pipeline/ArtifactBucket.Arn}/*
//	Deny codecommit:GitPush on ${Source/Repository.Arn} if {"Null":{"codecommit:References":"false"}}
//	Managed arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore
//	Trust sts:AssumeRole by Service:codebuild.amazonaws.com
//
// It collects the statements of every AWS::IAM::Policy and AWS::IAM::ManagedPolicy of the template
// that names the principal (how the library's grants and AddToPolicy arrive), the principal's own
// inline Policies, its ManagedPolicyArns (a managed policy of the template by its statements, an
// AWS managed one by its ARN), and, for a role, its trust policy. A reference renders as ${path} or
// ${path.Attribute}, a pseudo parameter as ${AWS::Region}; a condition as JSON with sorted keys.
// A path that names an AWS::IAM::ManagedPolicy gives that policy's own statements.
func (s *Synthesized) Permissions(path string) ([]string, error) {
	atoms, err := s.permissionAtoms(path)
	if err != nil {
		return nil, err
	}
	return groupAtoms(atoms), nil
}

// HasPermissions asserts that the role, group or managed policy at path (see Permissions) is given
// exactly want: every (effect, action, resource, condition) that the lines of want name, no more
// and no fewer, however the template groups them into statements. A line may name several actions
// and several resources, each pair meant. The failure names the principal and lists what is
// missing and what is unexpected.
func (s *Synthesized) HasPermissions(t testing.TB, path string, want ...string) {
	t.Helper()
	got, err := s.permissionAtoms(path)
	if err != nil {
		t.Error(err)
		return
	}
	expected := map[atom]bool{}
	for _, line := range want {
		atoms, err := parsePermission(line)
		if err != nil {
			t.Errorf("%s: the test's line %q: %v", path, line, err)
			return
		}
		for _, a := range atoms {
			expected[a] = true
		}
	}
	var missing, extra []atom
	for a := range expected {
		if !got[a] {
			missing = append(missing, a)
		}
	}
	for a := range got {
		if !expected[a] {
			extra = append(extra, a)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: its permissions are not the test's", path)
	for _, l := range groupAtoms(setOf(extra)) {
		fmt.Fprintf(&b, "\n  unexpected: %s", l)
	}
	for _, l := range groupAtoms(setOf(missing)) {
		fmt.Fprintf(&b, "\n  missing:    %s", l)
	}
	t.Error(b.String())
}

// Principals returns the paths of every role and group of the template, sorted.
func (s *Synthesized) Principals() []string {
	var out []string
	for id, r := range s.resources() {
		if r["Type"] == "AWS::IAM::Role" || r["Type"] == "AWS::IAM::Group" {
			out = append(out, s.path(id))
		}
	}
	slices.Sort(out)
	return out
}

// atom is one (effect, action, resource, condition) that a statement allows or denies. For a
// managed policy of AWS, Effect is "Managed" and Resource its ARN; for a trust statement, Effect
// is "Trust" and Resource the trusted principal.
type atom struct {
	Effect, Action, Resource, Condition string
}

func setOf(atoms []atom) map[atom]bool {
	out := map[atom]bool{}
	for _, a := range atoms {
		out[a] = true
	}
	return out
}

func (s *Synthesized) resources() map[string]map[string]any {
	out := map[string]map[string]any{}
	all, _ := s.JSON["Resources"].(map[string]any)
	for id, r := range all {
		if body, ok := r.(map[string]any); ok {
			out[id] = body
		}
	}
	return out
}

// path is a logical id's construct path below the stack, without the trailing "/Resource", or the
// logical id itself when the template has no path metadata.
func (s *Synthesized) path(id string) string {
	if s.paths == nil {
		s.paths = map[string]string{}
		for id, r := range s.resources() {
			meta, _ := r["Metadata"].(map[string]any)
			if p, ok := meta["aws:cdk:path"].(string); ok {
				_, below, _ := strings.Cut(p, "/")
				s.paths[id] = strings.TrimSuffix(below, "/Resource")
			}
		}
	}
	if p, ok := s.paths[id]; ok {
		return p
	}
	return id
}

// LogicalID finds the resource at path, a construct path below the stack ("Build/Project").
func (s *Synthesized) LogicalID(path string) (string, bool) {
	for id := range s.resources() {
		if s.path(id) == path {
			return id, true
		}
	}
	return "", false
}

func (s *Synthesized) permissionAtoms(path string) (map[atom]bool, error) {
	id, ok := s.LogicalID(path)
	if !ok {
		return nil, fmt.Errorf("cdktest: no resource at %s; the template's roles and groups are %s", path, strings.Join(s.Principals(), ", "))
	}
	resources := s.resources()
	principal := resources[id]
	props, _ := principal["Properties"].(map[string]any)
	out := map[atom]bool{}
	add := func(doc any) {
		for _, st := range statementsOf(doc) {
			for _, a := range s.explode(st) {
				out[a] = true
			}
		}
	}
	switch principal["Type"] {
	case "AWS::IAM::ManagedPolicy":
		add(props["PolicyDocument"])
		return out, nil
	case "AWS::IAM::Role", "AWS::IAM::Group":
	default:
		return nil, fmt.Errorf("cdktest: %s is a %v, not a role, group or managed policy", path, principal["Type"])
	}
	list := "Roles"
	if principal["Type"] == "AWS::IAM::Group" {
		list = "Groups"
	}
	names := []any{map[string]any{"Ref": id}}
	if name, ok := props["RoleName"].(string); ok {
		names = append(names, name)
	}
	if name, ok := props["GroupName"].(string); ok {
		names = append(names, name)
	}
	for _, r := range resources {
		if r["Type"] != "AWS::IAM::Policy" && r["Type"] != "AWS::IAM::ManagedPolicy" {
			continue
		}
		p, _ := r["Properties"].(map[string]any)
		attached, _ := p[list].([]any)
		if slices.ContainsFunc(attached, func(v any) bool { return slices.ContainsFunc(names, func(n any) bool { return equalJSON(v, n) }) }) {
			add(p["PolicyDocument"])
		}
	}
	inline, _ := props["Policies"].([]any)
	for _, p := range inline {
		if m, ok := p.(map[string]any); ok {
			add(m["PolicyDocument"])
		}
	}
	managed, _ := props["ManagedPolicyArns"].([]any)
	for _, arn := range managed {
		if ref, ok := arn.(map[string]any)["Ref"].(string); ok {
			if r, ok := resources[ref]; ok && r["Type"] == "AWS::IAM::ManagedPolicy" {
				p, _ := r["Properties"].(map[string]any)
				add(p["PolicyDocument"])
				continue
			}
		}
		out[atom{Effect: "Managed", Resource: s.render(arn)}] = true
	}
	for _, st := range statementsOf(props["AssumeRolePolicyDocument"]) {
		condition := s.condition(st["Condition"])
		principals, _ := st["Principal"].(map[string]any)
		for _, kind := range slices.Sorted(maps.Keys(principals)) {
			for _, who := range listOf(principals[kind]) {
				for _, action := range listOf(st["Action"]) {
					out[atom{Effect: "Trust", Action: s.render(action), Resource: kind + ":" + s.render(who), Condition: condition}] = true
				}
			}
		}
	}
	return out, nil
}

// explode turns a statement into its atoms. NotAction and NotResource are kept apart from Action
// and Resource by a prefix, so that they never match a test's Action or Resource.
func (s *Synthesized) explode(st map[string]any) []atom {
	effect, _ := st["Effect"].(string)
	condition := s.condition(st["Condition"])
	actions, resources := listOf(st["Action"]), listOf(st["Resource"])
	actionPrefix, resourcePrefix := "", ""
	if na, ok := st["NotAction"]; ok {
		actions, actionPrefix = listOf(na), "NotAction:"
	}
	if nr, ok := st["NotResource"]; ok {
		resources, resourcePrefix = listOf(nr), "NotResource:"
	}
	var out []atom
	for _, a := range actions {
		for _, r := range resources {
			out = append(out, atom{Effect: effect, Action: actionPrefix + s.render(a), Resource: resourcePrefix + s.render(r), Condition: condition})
		}
	}
	return out
}

// condition renders a condition block as JSON with sorted keys, its values rendered.
func (s *Synthesized) condition(c any) string {
	m, ok := c.(map[string]any)
	if !ok || len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(s.renderValues(m))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// renderValues renders every intrinsic inside v, keeping plain maps and lists as they are.
func (s *Synthesized) renderValues(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return s.render(v)
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			out[k] = s.renderValues(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = s.renderValues(x)
		}
		return out
	}
	return v
}

// Render writes a template value as text, as Permissions does: see render.
func (s *Synthesized) Render(v any) string { return s.render(v) }

// render writes a template value as text: ${path} for a reference to a resource, ${path.Attr} for
// one of its attributes, ${AWS::Region} for a pseudo parameter, Fn::Join joined, Fn::Sub's
// ${logical id} as ${path}, another intrinsic as a call; any other value as JSON.
func (s *Synthesized) render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			if strings.HasPrefix(ref, "AWS::") {
				return "${" + ref + "}"
			}
			return "${" + s.path(ref) + "}"
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 && len(att) == 2 {
			id, _ := att[0].(string)
			return fmt.Sprintf("${%s.%v}", s.path(id), att[1])
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(v) == 1 && len(join) == 2 {
			sep, _ := join[0].(string)
			var parts []string
			for _, x := range listOf(join[1]) {
				parts = append(parts, s.render(x))
			}
			return strings.Join(parts, sep)
		}
		if sub, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			return subVariable.ReplaceAllStringFunc(sub, func(m string) string {
				name := m[2 : len(m)-1]
				if strings.HasPrefix(name, "AWS::") {
					return m
				}
				id, attr, _ := strings.Cut(name, ".")
				if attr != "" {
					return "${" + s.path(id) + "." + attr + "}"
				}
				return "${" + s.path(id) + "}"
			})
		}
	}
	// Another intrinsic reads as a call: Fn::Select(1,Fn::Split(/,${Build/Tests})).
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, x := range m {
			if strings.HasPrefix(k, "Fn::") {
				var args []string
				for _, a := range listOf(x) {
					args = append(args, s.render(a))
				}
				return k + "(" + strings.Join(args, ",") + ")"
			}
		}
	}
	b, err := json.Marshal(s.renderValues(v))
	if err != nil {
		panic(err)
	}
	return string(b)
}

var subVariable = regexp.MustCompile(`\$\{[^}!]+\}`)

// groupAtoms writes atoms as lines: for each effect and condition, the actions that share a set of
// resources on one line.
func groupAtoms(atoms map[atom]bool) []string {
	type key struct{ effect, action, condition string }
	resources := map[key][]string{}
	for a := range atoms {
		k := key{a.Effect, a.Action, a.Condition}
		resources[k] = append(resources[k], a.Resource)
	}
	type line struct{ effect, resources, condition string }
	actions := map[line][]string{}
	for k, rs := range resources {
		slices.Sort(rs)
		l := line{k.effect, strings.Join(rs, ", "), k.condition}
		actions[l] = append(actions[l], k.action)
	}
	var out []string
	for l, as := range actions {
		slices.Sort(as)
		text := ""
		switch l.effect {
		case "Managed":
			text = "Managed " + l.resources
		case "Trust":
			text = "Trust " + strings.Join(as, ", ") + " by " + l.resources
		default:
			text = l.effect + " " + strings.Join(as, ", ") + " on " + l.resources
		}
		if l.condition != "" {
			text += " if " + l.condition
		}
		out = append(out, text)
	}
	slices.Sort(out)
	return out
}

// parsePermission reads a line of the form Permissions writes into its atoms.
func parsePermission(line string) ([]atom, error) {
	effect, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	condition := ""
	if body, cond, ok := strings.Cut(rest, " if "); ok {
		var c any
		if err := json.Unmarshal([]byte(cond), &c); err != nil {
			return nil, fmt.Errorf("the condition is not JSON: %w", err)
		}
		b, _ := json.Marshal(c)
		rest, condition = body, string(b)
	}
	split := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, ", ") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	var actions, resources []string
	switch effect {
	case "Managed":
		return []atom{{Effect: effect, Resource: strings.TrimSpace(rest), Condition: condition}}, nil
	case "Trust":
		a, r, ok := strings.Cut(rest, " by ")
		if !ok {
			return nil, fmt.Errorf(`want "Trust <actions> by <principals>"`)
		}
		actions, resources = split(a), split(r)
	case "Allow", "Deny":
		a, r, ok := strings.Cut(rest, " on ")
		if !ok {
			return nil, fmt.Errorf(`want "%s <actions> on <resources>"`, effect)
		}
		actions, resources = split(a), split(r)
	default:
		return nil, fmt.Errorf("%q is not Allow, Deny, Managed or Trust", effect)
	}
	if len(actions) == 0 || len(resources) == 0 {
		return nil, fmt.Errorf("no actions or no resources")
	}
	var out []atom
	for _, a := range actions {
		for _, r := range resources {
			out = append(out, atom{Effect: effect, Action: a, Resource: r, Condition: condition})
		}
	}
	return out, nil
}

// statementsOf returns the statements of a policy document.
func statementsOf(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	var out []map[string]any
	for _, x := range listOf(d["Statement"]) {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// listOf returns v as a list: itself when it is one, else a list of one (none for nil). The
// sweep's list is the same few lines on purpose (see there).
func listOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
