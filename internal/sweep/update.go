package sweep

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Path is a change of settings after a first deploy: the update cdk deploy makes from From to To.
type Path struct {
	Name     string
	From, To Config
}

// Paths returns the update paths the sweep checks: every setting changed from its default to each
// of its other classes the settings accept alone, from a pinned default where the class needs a
// known account and region; and environments added, removed and reordered.
func Paths(dims []Dimension) []Path {
	defaults := make(Config, len(dims))
	pinned := slices.Clone(defaults)
	stackDim, envDim := index(dims, "stack"), index(dims, "environments")
	pinned[stackDim] = classIndex(dims[stackDim], "pinned")
	var out []Path
	for d, dim := range dims {
		if d == stackDim {
			continue
		}
		for class := 1; class < len(dim.Classes); class++ {
			for _, from := range []Config{defaults, pinned} {
				to := slices.Clone(from)
				to[d] = class
				if SettingsProblems(to.Context(dims), to.Pinned(dims)) == 0 {
					out = append(out, Path{Name: dim.Name + "=" + dim.Classes[class].Name, From: from, To: to})
					break
				}
			}
		}
	}
	// Environments added, removed and reordered, each way.
	for _, t := range [][2]string{
		{"one", "beta-prod"}, {"beta-prod", "one"}, {"beta-prod", "prod-beta"},
		{"other-account", "every-relation"}, {"every-relation", "other-account"},
		{"remote-then-local-in-region", "local-then-remote-in-region"},
	} {
		from, to := slices.Clone(pinned), slices.Clone(pinned)
		from[envDim], to[envDim] = classIndex(dims[envDim], t[0]), classIndex(dims[envDim], t[1])
		out = append(out, Path{Name: "environments=" + t[0] + "->" + t[1], From: from, To: to})
	}
	return out
}

func index(dims []Dimension, name string) int {
	for d, dim := range dims {
		if dim.Name == name {
			return d
		}
	}
	panic("sweep: no dimension " + name)
}

func classIndex(dim Dimension, name string) int {
	for c, class := range dim.Classes {
		if class.Name == name {
			return c
		}
	}
	panic("sweep: dimension " + dim.Name + " has no class " + name)
}

// Stateful are the resource types whose data a replacement or a removal loses (or leaves behind,
// retained): the repository, buckets, keys, the delivery table, the pipeline itself (its execution
// history), and log groups.
var Stateful = []string{
	"AWS::CodeCommit::Repository", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::DynamoDB::Table",
	"AWS::CodePipeline::Pipeline", "AWS::Logs::LogGroup",
}

// Change is what an update does to one stateful resource, or to a stack.
type Change struct {
	// Stack and ID name the resource; ID is empty for the stack itself.
	Stack, ID string
	// Impact is "replaced", "removed" (deleted, or orphaned when retained) or "stack removed".
	Impact string
}

func (c Change) String() string {
	if c.ID == "" {
		return c.Stack + " " + c.Impact
	}
	return c.Stack + "/" + c.ID + " " + c.Impact
}

// Changes returns what updating before to after does to stateful resources and to stacks, as the
// resource schemas' create-only properties (Replacing) and logical ids tell.
func Changes(before, after *App) []Change {
	var out []Change
	for _, old := range before.Stacks {
		now := after.Stack(old.Name)
		if now == nil {
			out = append(out, Change{Stack: old.Name, Impact: "stack removed"})
			continue
		}
		for _, r := range old.Resources("") {
			if !slices.Contains(Stateful, r.Type()) {
				continue
			}
			n, ok := now.Resource(r.ID)
			switch {
			case !ok || n.Type() != r.Type():
				out = append(out, Change{old.Name, r.ID, "removed"})
			case replaces(r, n):
				out = append(out, Change{old.Name, r.ID, "replaced"})
			}
		}
	}
	return out
}

// Replacing are, for each stateful type, the properties whose change replaces the resource: the
// create-only properties of the CloudFormation resource schemas, as @aws-cdk/aws-service-spec
// records them (causesReplacement "yes"). scripts/template-diff.js asks the same specification for
// every type; the full sweep checks that the two agree.
var Replacing = map[string][]string{
	"AWS::CodeCommit::Repository": nil,
	"AWS::S3::Bucket":             {"BucketName", "ObjectLockEnabled", "BucketNamespace", "BucketNamePrefix"},
	"AWS::KMS::Key":               nil,
	"AWS::DynamoDB::Table":        {"ImportSourceSpecification", "TableName", "KeySchema"},
	"AWS::CodePipeline::Pipeline": {"Name"},
	"AWS::Logs::LogGroup":         {"LogGroupName"},
}

func replaces(before, after Resource) bool {
	for _, p := range Replacing[before.Type()] {
		if before.Stack.Render(before.Props()[p]) != after.Stack.Render(after.Props()[p]) {
			return true
		}
	}
	return false
}

// Expected is a change that a setting makes on purpose, and docs/settings.md says so.
type Expected struct {
	// Path matches the names of the paths it applies to.
	Path *regexp.Regexp
	// Change matches the change's String.
	Change *regexp.Regexp
	// Why is what the settings documentation says.
	Why string
}

// Unexpected returns the changes that no Expected entry allows.
func Unexpected(path Path, changes []Change, expected []Expected) []string {
	var out []string
	for _, c := range changes {
		if !slices.ContainsFunc(expected, func(e Expected) bool { return e.Path.MatchString(path.Name) && e.Change.MatchString(c.String()) }) {
			out = append(out, c.String())
		}
	}
	return out
}

// Impact is what scripts/template-diff.js reports for one resource.
type Impact struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	Impact     string   `json:"impact"`
	Properties []string `json:"properties"`
}

// Disagreement compares the changes Changes found in one stack with the impacts the CDK's diff
// library reports for it, for stateful resources: every replacement and removal one finds, the
// other must find.
func Disagreement(stack string, changes []Change, impacts []Impact) []string {
	ours := map[string]string{}
	for _, c := range changes {
		if c.Stack == stack && c.ID != "" {
			ours[c.ID] = c.Impact
		}
	}
	var out []string
	theirs := map[string]bool{}
	for _, i := range impacts {
		if !slices.Contains(Stateful, i.Type) {
			continue
		}
		var impact string
		switch i.Impact {
		case "WILL_REPLACE", "MAY_REPLACE":
			impact = "replaced"
		case "WILL_DESTROY", "WILL_ORPHAN":
			impact = "removed"
		default:
			continue
		}
		theirs[i.ID] = true
		if ours[i.ID] != impact {
			out = append(out, fmt.Sprintf("%s/%s: the CDK's diff says %s (%s), the sweep %q", stack, i.ID, i.Impact, strings.Join(i.Properties, ","), ours[i.ID]))
		}
	}
	for id, impact := range ours {
		if !theirs[id] {
			out = append(out, fmt.Sprintf("%s/%s: the sweep says %s, the CDK's diff does not", stack, id, impact))
		}
	}
	slices.Sort(out)
	return out
}
