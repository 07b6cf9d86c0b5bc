package settings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/notify"
)

// scope says where a key may be given.
type scope int

const (
	// pipelineWide keys are given at the top level: fields of Settings.
	pipelineWide scope = iota
	// perEnvironment keys are given at the top level, as the default, and in each environments
	// entry: fields of Stage.
	perEnvironment
	// entryOnly keys are given in an environments entry only: fields of Environment.
	entryOnly
)

// place is where a value lives: the settings' top level, or one of their environments entries.
type place struct {
	s *Settings
	e *Environment // nil at the top level
}

// owner is a struct that holds settings.
type owner interface{ Settings | Stage | Environment }

// locate returns the O that holds pl's values.
func locate[O owner](pl place) *O {
	var o any
	switch any((*O)(nil)).(type) {
	case *Settings:
		o = pl.s
	case *Stage:
		if pl.e != nil {
			o = &pl.e.Stage
		} else {
			o = &pl.s.Stage
		}
	case *Environment:
		o = pl.e
	}
	return o.(*O)
}

func scopeOf[O owner]() scope {
	switch any((*O)(nil)).(type) {
	case *Settings:
		return pipelineWide
	case *Stage:
		return perEnvironment
	}
	return entryOnly
}

// field is one row of the table. newField makes its functions from a typed accessor, so that the
// rest of the package handles every key alike.
type field struct {
	key   string
	scope scope
	// def is the default; example is a value of the key, as JSON text, for messages.
	def     any
	example string
	// always checks the zero value too. Otherwise a key whose default is the zero value may stay
	// empty: it means none (instanceTag, deployWindow, account, ...).
	always      bool
	defaultZero bool
	rules       []rule
	// use says which environments use a per-environment key; usedIf whether the settings use a
	// pipeline-wide one, and when they would.
	use    *use
	usedIf func(Settings) (used bool, when string)

	read              func(p *parser, at spot, raw any, pl place) bool
	reset, clear      func(pl place) // set the default, the zero value
	isDefault, isZero func(pl place) bool
	equal             func(a, b place) bool
	copy              func(dst, src place)
	value             func(pl place) any
}

// A rule checks a value of the field and returns one error per problem, each naming name (or an
// entry of it).
type rule func(name string, v any) []error

// An option adds to a row.
type option func(*field)

// codec is how a key's Go type is read from raw context, compared and copied.
type codec[T any] struct {
	decode func(p *parser, at spot, raw any) (T, bool)
	equal  func(a, b T) bool
	clone  func(v T) T
}

func scalar[T comparable](decode func(p *parser, at spot, raw any) (T, bool)) codec[T] {
	return codec[T]{decode: decode, equal: func(a, b T) bool { return a == b }, clone: func(v T) T { return v }}
}

func sliceOf[E comparable](decode func(p *parser, at spot, raw any) ([]E, bool)) codec[[]E] {
	// A default is never shared: a list from Defaults may be changed in place.
	return codec[[]E]{decode: decode, equal: slices.Equal[[]E], clone: func(v []E) []E { return append([]E{}, v...) }}
}

func newField[O owner, T any](key string, at func(*O) *T, def T, c codec[T], opts []option) field {
	var zero T
	ptr := func(pl place) *T { return at(locate[O](pl)) }
	f := field{key: key, scope: scopeOf[O](), def: def, defaultZero: c.equal(def, zero)}
	f.read = func(p *parser, sp spot, raw any, pl place) bool {
		v, ok := c.decode(p, sp, raw)
		if ok {
			*ptr(pl) = v
		}
		return ok
	}
	f.reset = func(pl place) { *ptr(pl) = c.clone(def) }
	f.clear = func(pl place) { *ptr(pl) = zero }
	f.isDefault = func(pl place) bool { return c.equal(*ptr(pl), def) }
	f.isZero = func(pl place) bool { return c.equal(*ptr(pl), zero) }
	f.equal = func(a, b place) bool { return c.equal(*ptr(a), *ptr(b)) }
	f.copy = func(dst, src place) { *ptr(dst) = c.clone(*ptr(src)) }
	f.value = func(pl place) any { return *ptr(pl) }
	for _, o := range opts {
		o(&f)
	}
	return f
}

// The kinds of value. At the top level a value may be text, as -c gives every value; inside the
// JSON of a JSON-valued setting a value must have its JSON type.

func text[O owner, T ~string](key string, at func(*O) *T, def T, opts ...option) field {
	return newField(key, at, def, scalar(func(p *parser, sp spot, raw any) (T, bool) {
		s, ok := p.text(sp, raw)
		return T(s), ok
	}), opts)
}

func flag[O owner](key string, at func(*O) *bool, def bool, opts ...option) field {
	return newField(key, at, def, scalar((*parser).boolean), opts)
}

func number[O owner](key string, at func(*O) *int, def int, opts ...option) field {
	return newField(key, at, def, scalar((*parser).integer), opts)
}

// tag is a Key=Value text; it has no default.
func tag[O owner](key string, at func(*O) *Tag, opts ...option) field {
	return newField(key, at, Tag{}, scalar((*parser).tag), opts)
}

// list is a JSON list of strings, each given once.
func list[O owner, E ~string](key string, at func(*O) *[]E, def []E, opts ...option) field {
	return stringList(key, at, def, func(e E) string { return string(e) }, "", opts)
}

// emails is a list of email addresses, each given once, ignoring letter case.
func emails(key string, at func(*Settings) *[]string, opts ...option) field {
	return stringList(key, at, nil, strings.ToLower, emailsFold, append([]option{each(names.EmailAddress)}, opts...))
}

// emailsFold says why two addresses that differ only in letter case are one.
const emailsFold = "email addresses are compared ignoring case: the domain is case-insensitive, and in practice mail providers ignore the case of the rest, so both would be subscriptions of one mailbox and every message would arrive twice"

func stringList[O owner, E ~string](key string, at func(*O) *[]E, def []E, same func(E) string, why string, opts []option) field {
	return newField(key, at, def, sliceOf(func(p *parser, sp spot, raw any) ([]E, bool) {
		items, ok := p.strings(sp, raw)
		out := make([]E, len(items))
		for i, item := range items {
			out[i] = E(item)
		}
		return out, ok
	}), append([]option{once(same, why)}, opts...))
}

// subscribers is a list of SNS subscribers, each given once (an email endpoint ignoring case).
func subscribers(key string, at func(*Settings) *[]Subscriber, opts ...option) field {
	same := func(sub Subscriber) Subscriber {
		if sub.Protocol == notify.Email || sub.Protocol == notify.EmailJSON {
			sub.Endpoint = strings.ToLower(sub.Endpoint)
		}
		return sub
	}
	return newField(key, at, nil, sliceOf((*parser).subscribers), append([]option{each(Subscriber.check), once(same, emailsFold)}, opts...))
}

func entries(key string, at func(*Settings) *[]Environment, opts ...option) field {
	return newField(key, at, nil, sliceOf((*parser).entries), opts)
}

// Options.

// example gives a value of the key, as JSON text, for messages that show the right form.
func example(json string) option { return func(f *field) { f.example = json } }

// always checks the zero value too, although the default is the zero value.
func always() option { return func(f *field) { f.always = true } }

// check checks the value with fn.
func check[T any](fn func(T) error) option {
	return func(f *field) {
		f.rules = append(f.rules, func(name string, v any) []error {
			if err := fn(v.(T)); err != nil {
				return []error{fmt.Errorf("%s: %w", name, err)}
			}
			return nil
		})
	}
}

func oneOf[T ~string](allowed []T, what string) option {
	return check(func(v T) error { return hint.OneOf(v, allowed, what) })
}

// between refuses a number out of lo to hi; note says more of the range.
func between(lo, hi int, note string) option {
	return check(func(n int) error {
		if n < lo || n > hi {
			return fmt.Errorf("%d is out of range; use %d to %d%s", n, lo, hi, note)
		}
		return nil
	})
}

// each checks every entry of a list with fn.
func each[E any](fn func(E) error) option {
	return func(f *field) {
		f.rules = append(f.rules, func(name string, v any) []error {
			var errs []error
			for i, item := range v.([]E) {
				if err := fn(item); err != nil {
					errs = append(errs, fmt.Errorf("%s[%d]: %w", name, i, err))
				}
			}
			return errs
		})
	}
}

func eachOneOf[E ~string](allowed []E, what string) option {
	return each(func(v E) error { return hint.OneOf(v, allowed, what) })
}

// nonEmpty refuses an empty list.
func nonEmpty[E ~string](choices []E) option {
	return func(f *field) {
		f.rules = append(f.rules, func(name string, v any) []error {
			if len(v.([]E)) == 0 {
				return []error{fmt.Errorf("%s: the list is empty; name at least one of %s", name, hint.Joined(choices))}
			}
			return nil
		})
	}
}

// once refuses an entry of a list that repeats an earlier one, as key identifies them: a repeat
// would subscribe, add or check the same thing twice, which the stack cannot express. why says
// why two entries that differ are the same. The list kinds apply it.
func once[E any, K comparable](key func(E) K, why string) option {
	return func(f *field) {
		f.rules = append(f.rules, func(name string, v any) []error {
			var errs []error
			items := v.([]E)
			first := map[K]int{}
			for i, item := range items {
				j, seen := first[key(item)]
				if !seen {
					first[key(item)] = i
					continue
				}
				detail := ""
				if a, b := hint.Show(items[j]), hint.Show(item); a != b {
					detail = fmt.Sprintf(" (%s and %s: %s)", a, b, why)
				}
				errs = append(errs, fmt.Errorf("%s[%d]: repeats %s[%d]%s; list each entry once", name, i, name, j, detail))
			}
			return errs
		})
	}
}

// use says which environments use a per-environment key.
type use struct {
	by func(Environment) bool
	// need says when an environment uses the key, for messages; with byTarget, an environment
	// that does not is told its own target too.
	need     string
	byTarget bool
	// required: an environment that uses the key must give it.
	required bool
	// onlyWhereUsed: an entry that leaves the key out and cannot use it does not inherit the
	// top-level value. Whether a value given can be used is then checked on the value, with a
	// reason of its own (bakeMinutes: a bake needs alarms), not as an unused key.
	onlyWhereUsed bool
}

// when says when e, which does not use the key, would.
func (u use) when(e Environment) string {
	if u.byTarget {
		return fmt.Sprintf("%s, not %q", u.need, e.DeployTarget)
	}
	return u.need
}

// usedBy: the key applies to environments that deploy to t.
func usedBy(t Target) option {
	return func(f *field) {
		f.use = &use{by: func(e Environment) bool { return e.DeployTarget == t }, need: fmt.Sprintf("deployTarget is %q", t), byTarget: true}
	}
}

// requiredBy: environments that deploy to t need the key; example is a value of it.
func requiredBy(t Target, value string) option {
	return func(f *field) {
		usedBy(t)(f)
		f.use.required = true
		f.example = fmt.Sprintf("%q", value)
	}
}

// usedByCodeDeploy: the key applies to the targets CodeDeploy releases to.
func usedByCodeDeploy() option {
	return func(f *field) {
		f.use = &use{
			by:   func(e Environment) bool { return e.DeployTarget != Beanstalk },
			need: `CodeDeploy releases (deployTarget "fleet" or "instances"); Elastic Beanstalk follows its environment's deployment policy`,
		}
	}
}

// bakes: the key applies to environments that can bake.
func bakes() option {
	return func(f *field) { f.use = &use{by: canBake, onlyWhereUsed: true} }
}

// usedIf: the pipeline-wide key applies when used says so, and would when its second result says.
func usedIf(used func(Settings) (bool, string)) option {
	return func(f *field) { f.usedIf = used }
}

// check returns the problems of the field's value at pl, named name.
func (f field) check(name string, pl place) []error {
	if !f.always && f.defaultZero && f.isZero(pl) {
		return nil
	}
	var errs []error
	for _, r := range f.rules {
		errs = append(errs, r(name, f.value(pl))...)
	}
	return errs
}
