package sweep

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// App is one synthesized configuration: its stacks' templates, where they are, and the order
// cdk deploy --all creates them in.
type App struct {
	// Stacks are the app's stacks.
	Stacks []*Stack
	// Pipeline is the stack with the pipeline.
	Pipeline *Stack
}

// Stack is one stack of an App.
type Stack struct {
	// Name is the stack's name; Account and Region are empty for an environment-agnostic stack.
	Name, Account, Region string
	// Template is the synthesized template, as plain JSON values.
	Template map[string]any
	// DependsOn names the stacks created before this one.
	DependsOn []string
}

// Resource is one resource of a Stack.
type Resource struct {
	// Stack is the stack the resource is in.
	Stack *Stack
	// ID is its logical id.
	ID string
	// Body is its template entry: Type, Properties, DeletionPolicy and the rest.
	Body map[string]any
}

// Type is the resource's CloudFormation type.
func (r Resource) Type() string { s, _ := r.Body["Type"].(string); return s }

// Props are the resource's Properties.
func (r Resource) Props() map[string]any { p, _ := r.Body["Properties"].(map[string]any); return p }

// String names the resource as stack/logical-id.
func (r Resource) String() string { return r.Stack.Name + "/" + r.ID }

// Resources returns the stack's resources of type typ (every resource when typ is empty), in
// logical-id order.
func (s *Stack) Resources(typ string) []Resource {
	all, _ := s.Template["Resources"].(map[string]any)
	var out []Resource
	for id, body := range all {
		b, _ := body.(map[string]any)
		if r := (Resource{s, id, b}); typ == "" || r.Type() == typ {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Resource returns the stack's resource with logical id id.
func (s *Stack) Resource(id string) (Resource, bool) {
	all, _ := s.Template["Resources"].(map[string]any)
	b, ok := all[id].(map[string]any)
	return Resource{s, id, b}, ok
}

// Resources returns every resource of type typ in every stack of the app.
func (a *App) Resources(typ string) []Resource {
	var out []Resource
	for _, s := range a.Stacks {
		out = append(out, s.Resources(typ)...)
	}
	return out
}

// Stack returns the app's stack named name, or nil.
func (a *App) Stack(name string) *Stack {
	for _, s := range a.Stacks {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Before reports whether stack first is created before stack then: then depends on it, directly or
// through other stacks.
func (a *App) Before(first, then *Stack) bool {
	seen := map[string]bool{}
	var walk func(*Stack) bool
	walk = func(s *Stack) bool {
		for _, d := range s.DependsOn {
			if d == first.Name {
				return true
			}
			if !seen[d] {
				seen[d] = true
				if next := a.Stack(d); next != nil && walk(next) {
					return true
				}
			}
		}
		return false
	}
	return walk(then)
}

// Render writes a template value as text, resolving what synthesis fixed: Fn::Join, Fn::Sub of
// pseudo parameters, and the pseudo parameters themselves (the stack's account and region where
// known, partition aws). A reference to a resource renders as ${Ref:id} or ${GetAtt:id.attr}; an
// unknown account or region as ${AWS::AccountId} or ${AWS::Region}.
func (s *Stack) Render(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = s.Render(x)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			return s.pseudo(ref, "${Ref:"+ref+"}")
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 && len(att) == 2 {
			return fmt.Sprintf("${GetAtt:%v.%v}", att[0], att[1])
		}
		if join, ok := v["Fn::Join"].([]any); ok && len(v) == 1 && len(join) == 2 {
			sep, _ := join[0].(string)
			items, _ := join[1].([]any)
			parts := make([]string, len(items))
			for i, x := range items {
				parts[i] = s.Render(x)
			}
			return strings.Join(parts, sep)
		}
		if sub, ok := v["Fn::Sub"].(string); ok && len(v) == 1 {
			for _, p := range []string{"AWS::Partition", "AWS::AccountId", "AWS::Region", "AWS::URLSuffix"} {
				sub = strings.ReplaceAll(sub, "${"+p+"}", s.pseudo(p, "${"+p+"}"))
			}
			return sub
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (s *Stack) pseudo(name, otherwise string) string {
	switch name {
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::AccountId":
		if s.Account != "" {
			return s.Account
		}
	case "AWS::Region":
		if s.Region != "" {
			return s.Region
		}
	}
	return otherwise
}

// Statements returns the statements of a policy document.
func Statements(doc any) []map[string]any {
	d, _ := doc.(map[string]any)
	var out []map[string]any
	switch st := d["Statement"].(type) {
	case []any:
		for _, x := range st {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
	case map[string]any:
		out = append(out, st)
	}
	return out
}

// list returns v as a list: itself when it is one, else a list of one. CloudFormation allows
// either where it allows a list. cdktest's listOf is the same few lines on purpose: this package
// stays free of the CDK, and cdktest has no business importing the sweep.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}
