// Package sweep describes the settings space as value classes, covers every pair of them with a
// small set of configurations (a covering array), and checks synthesized templates against the
// documented service constraints and the stack-update rules that a synthesis alone does not
// enforce. It is pure Go: package stacks' tests synthesize the configurations it chooses.
package sweep

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Class is one value class of a setting: a name and the CDK context that puts a configuration in
// it. The first class of every Dimension is the default and sets nothing.
type Class struct {
	// Name names the class in configuration names, as dimension=name.
	Name string
	// Context is the CDK context the class sets, as cdk.json or -c would.
	Context map[string]any
	// Pinned puts the pipeline stack in a known account and region (PipelineAccount in
	// PipelineRegion), as cdk deploy with credentials does; otherwise it is environment-agnostic.
	Pinned bool
}

// Dimension is a setting, or a few settings that only make sense together, with its value classes.
type Dimension struct {
	// Name names the dimension, usually after its setting.
	Name string
	// Classes are its value classes, the default first.
	Classes []Class
}

// Config is a configuration: one class of every dimension, by index.
type Config []int

// Context returns the CDK context of c: every chosen class's keys, in dimension order.
func (c Config) Context(dims []Dimension) map[string]any {
	ctx := map[string]any{}
	for d, class := range c {
		maps.Copy(ctx, dims[d].Classes[class].Context)
	}
	return ctx
}

// Pinned reports whether c puts the pipeline stack in a known account and region.
func (c Config) Pinned(dims []Dimension) bool {
	for d, class := range c {
		if dims[d].Classes[class].Pinned {
			return true
		}
	}
	return false
}

// Name lists the classes of c that are not defaults, as dimension=class, or "default".
func (c Config) Name(dims []Dimension) string {
	var parts []string
	for d, class := range c {
		if class != 0 {
			parts = append(parts, dims[d].Name+"="+dims[d].Classes[class].Name)
		}
	}
	if len(parts) == 0 {
		return "default"
	}
	return strings.Join(parts, ",")
}

// Problems counts what is wrong with a configuration's context: 0 when the settings accept it.
// Cover only compares counts; the settings' own error lines are checked by the caller.
type Problems func(ctx map[string]any, pinned bool) int

// Coverage is what Cover chose: configurations the settings accept, which together hold every
// pair of classes that some accepted configuration can hold, and, for every other pair, one
// configuration that holds it and that the settings refuse.
type Coverage struct {
	// Accepted are the configurations the settings accept.
	Accepted []Config
	// Refused are one configuration for each refused pair: the defaults around it.
	Refused []Config
}

type pair struct{ d1, c1, d2, c2 int }

// pairSet is a set of pairs of dims' classes, as a dense table: Cover asks it millions of times.
type pairSet struct {
	offset  []int // the index of each dimension's first class among all classes
	classes int   // how many classes all dimensions have
	in      []bool
}

func newPairSet(dims []Dimension) *pairSet {
	s := &pairSet{offset: make([]int, len(dims))}
	for d := range dims {
		s.offset[d] = s.classes
		s.classes += len(dims[d].Classes)
	}
	s.in = make([]bool, s.classes*s.classes)
	return s
}

func (s *pairSet) at(p pair) *bool {
	return &s.in[(s.offset[p.d1]+p.c1)*s.classes+s.offset[p.d2]+p.c2]
}

// Cover returns a covering array of dims under problems: every pair of classes of two dimensions
// is in some configuration. It is greedy and deterministic (AETG's construction without its random
// candidates): each configuration starts from the first pair not yet covered, every other
// dimension takes the class that covers the most new pairs, and a configuration the settings
// refuse is repaired one dimension at a time towards fewer problems, keeping the starting pair.
// A pair that no repair makes acceptable is a refused pair; it gets a configuration of its own,
// the defaults around it, which the settings must refuse with a clear message.
func Cover(dims []Dimension, problems Problems) Coverage {
	count := memoize(dims, problems)
	if count(make(Config, len(dims))) != 0 {
		panic("sweep.Cover: the settings refuse the default configuration")
	}
	uncovered := newPairSet(dims)
	var order []pair
	for d1 := range dims {
		for d2 := d1 + 1; d2 < len(dims); d2++ {
			for c1 := range dims[d1].Classes {
				for c2 := range dims[d2].Classes {
					p := pair{d1, c1, d2, c2}
					*uncovered.at(p) = true
					order = append(order, p)
				}
			}
		}
	}
	gain := func(c Config, d int) int {
		n := 0
		for other := range dims {
			if other == d || c[other] < 0 {
				continue
			}
			if *uncovered.at(ordered(d, c[d], other, c[other])) {
				n++
			}
		}
		return n
	}
	var out Coverage
	for _, seed := range order {
		if !*uncovered.at(seed) {
			continue
		}
		c := make(Config, len(dims))
		for d := range c {
			c[d] = -1
		}
		c[seed.d1], c[seed.d2] = seed.c1, seed.c2
		for d := range dims {
			if c[d] >= 0 {
				continue
			}
			best, bestGain := 0, -1
			for class := range dims[d].Classes {
				c[d] = class
				if g := gain(c, d); g > bestGain {
					best, bestGain = class, g
				}
			}
			c[d] = best
		}
		if !repair(dims, c, seed, count, gain) {
			// No acceptable configuration holds the pair: the defaults around it show the refusal.
			c = make(Config, len(dims))
			c[seed.d1], c[seed.d2] = seed.c1, seed.c2
			out.Refused = append(out.Refused, c)
			*uncovered.at(seed) = false
			continue
		}
		for d1 := range dims {
			for d2 := d1 + 1; d2 < len(dims); d2++ {
				*uncovered.at(pair{d1, c[d1], d2, c[d2]}) = false
			}
		}
		out.Accepted = append(out.Accepted, c)
	}
	return out
}

// repair changes c, in dimensions other than the seed's, until the settings accept it, and reports
// whether they do. Each step takes the change of one dimension that leaves the fewest problems (then
// covers the most new pairs, then has the lowest index); when no single change helps, as when a
// problem names two settings that must change together, the best change of two.
func repair(dims []Dimension, c Config, seed pair, count func(Config) int, gain func(Config, int) int) bool {
	free := []int{}
	for d := range dims {
		if d != seed.d1 && d != seed.d2 {
			free = append(free, d)
		}
	}
	current := count(c)
	for current > 0 {
		if !improve(dims, c, free, 1, &current, count, gain) && !improve(dims, c, free, 2, &current, count, gain) {
			return false
		}
	}
	return true
}

// improve applies the best change of n (1 or 2) free dimensions that leaves fewer problems than
// *current, and reports whether there was one.
func improve(dims []Dimension, c Config, free []int, n int, current *int, count func(Config) int, gain func(Config, int) int) bool {
	best, bestProblems, bestGain := Config(nil), *current, -1
	try := func() {
		p := count(c)
		g := 0
		for _, d := range free {
			g += gain(c, d)
		}
		if p < bestProblems || (p == bestProblems && best != nil && g > bestGain) {
			best, bestProblems, bestGain = slices.Clone(c), p, g
		}
	}
	for i, d1 := range free {
		was1 := c[d1]
		for c1 := range dims[d1].Classes {
			if c1 == was1 {
				continue
			}
			c[d1] = c1
			if n == 1 {
				try()
				continue
			}
			for _, d2 := range free[i+1:] {
				was2 := c[d2]
				for c2 := range dims[d2].Classes {
					if c2 != was2 {
						c[d2] = c2
						try()
					}
				}
				c[d2] = was2
			}
		}
		c[d1] = was1
	}
	if best == nil {
		return false
	}
	copy(c, best)
	*current = bestProblems
	return true
}

// memoize counts the problems of a configuration once: the repairs ask about the same
// configurations many times.
func memoize(dims []Dimension, problems Problems) func(Config) int {
	seen := map[string]int{}
	return func(c Config) int {
		key := fmt.Sprint([]int(c))
		n, ok := seen[key]
		if !ok {
			n = problems(c.Context(dims), c.Pinned(dims))
			seen[key] = n
		}
		return n
	}
}

func ordered(d1, c1, d2, c2 int) pair {
	if d1 > d2 {
		return pair{d2, c2, d1, c1}
	}
	return pair{d1, c1, d2, c2}
}

// Pairs reports the pairs of classes that configs leave uncovered, as "dim=class+dim=class".
func Pairs(dims []Dimension, configs []Config) (uncovered []string) {
	covered := map[pair]bool{}
	for _, c := range configs {
		for d1 := range dims {
			for d2 := d1 + 1; d2 < len(dims); d2++ {
				covered[pair{d1, c[d1], d2, c[d2]}] = true
			}
		}
	}
	for d1 := range dims {
		for d2 := d1 + 1; d2 < len(dims); d2++ {
			for c1 := range dims[d1].Classes {
				for c2 := range dims[d2].Classes {
					if !covered[pair{d1, c1, d2, c2}] {
						uncovered = append(uncovered, fmt.Sprintf("%s=%s+%s=%s", dims[d1].Name, dims[d1].Classes[c1].Name, dims[d2].Name, dims[d2].Classes[c2].Name))
					}
				}
			}
		}
	}
	slices.Sort(uncovered)
	return uncovered
}
