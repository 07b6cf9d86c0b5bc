package sweep

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Path is a change of settings after a first deploy: the update cdk deploy makes from From to To.
type Path struct {
	// Name says what changes, as dimension=class or environments=from->to.
	Name string
	// From is the configuration of the first deploy, To that of the update.
	From, To Config
}

// Paths returns the update paths the sweep checks: every setting changed from its default to each
// of its other classes the settings accept alone, from a pinned default where the class needs a
// known account and region; selfUpdate turned off again; and environments added, removed and
// reordered.
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
	// A setting turned off again after a deploy with it on, where the way back differs from the way
	// there: selfUpdate's stage and review leave their logs behind.
	for _, name := range []string{"selfUpdate"} {
		d := index(dims, name)
		from := slices.Clone(defaults)
		from[d] = classIndex(dims[d], "on")
		out = append(out, Path{Name: name + "=on->off", From: from, To: slices.Clone(defaults)})
	}
	// Environments added, removed and reordered, each way.
	for _, t := range [][2]string{
		{"one", "beta-prod"}, {"beta-prod", "one"}, {"beta-prod", "prod-beta"},
		{"other-account", "every-relation"}, {"every-relation", "other-account"},
		{"remote-then-local-in-region", "local-then-remote-in-region"},
		{"other-account", "beta-prod"},
	} {
		from, to := slices.Clone(pinned), slices.Clone(pinned)
		from[envDim], to[envDim] = classIndex(dims[envDim], t[0]), classIndex(dims[envDim], t[1])
		out = append(out, Path{Name: "environments=" + t[0] + "->" + t[1], From: from, To: to})
	}
	// Several settings at once, each way: an environment in another account, whose resources
	// have names fixed at synthesis, changing its target; and PARALLEL, which the settings accept
	// only with stageRollback off and no bake.
	parallel := []string{"executionMode=PARALLEL", "stageRollback=off", "bake=none"}
	for _, t := range [][2][]string{
		{{"environments=other-account"}, {"environments=other-account", "target=instances"}},
		{{"environments=other-account", "target=instances"}, {"environments=other-account"}},
		{nil, parallel},
		{parallel, nil},
	} {
		from, to := with(dims, pinned, t[0]), with(dims, pinned, t[1])
		side := func(classes []string) string {
			if len(classes) == 0 {
				return "defaults"
			}
			return strings.Join(classes, "+")
		}
		out = append(out, Path{Name: side(t[0]) + "->" + side(t[1]), From: from, To: to})
	}
	return out
}

// with returns base with the classes named dimension=class.
func with(dims []Dimension, base Config, classes []string) Config {
	c := slices.Clone(base)
	for _, dc := range classes {
		dim, class, _ := strings.Cut(dc, "=")
		d := index(dims, dim)
		c[d] = classIndex(dims[d], class)
	}
	return c
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
	"AWS::CodePipeline::Pipeline", "AWS::Logs::LogGroup", "AWS::Events::Archive",
}

// Change is what an update does to one stateful resource, or to a stack.
type Change struct {
	// Stack and ID name the resource; ID is empty for the stack itself.
	Stack, ID string
	// Impact is "replaced", "removed" (deleted, or orphaned when retained) or "stack removed".
	Impact string
}

// String is the change as the settings docs and failures show it.
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

// NameClashes returns the resources an update creates under a fixed name that a resource it
// deletes from the same stack still holds. CloudFormation creates new resources before it deletes
// old ones (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html),
// so the create fails: CodeDeploy's DeploymentGroupAlreadyExistsException, S3's
// BucketAlreadyOwnedByYou, and so on. Resources of any type count, stateful or not.
func NameClashes(before, after *App) []string {
	var out []string
	for _, now := range after.Stacks {
		old := before.Stack(now.Name)
		if old == nil {
			continue
		}
		held := map[string]string{} // type and name -> the deleted resource that holds it
		for _, r := range old.Resources("") {
			if n, ok := now.Resource(r.ID); ok && n.Type() == r.Type() && !replaces(r, n) {
				continue
			}
			for _, name := range fixedNames(r) {
				held[r.Type()+" "+name] = r.ID
			}
		}
		for _, r := range now.Resources("") {
			if o, ok := old.Resource(r.ID); ok && o.Type() == r.Type() && !replaces(o, r) {
				continue
			}
			for _, name := range fixedNames(r) {
				if id, ok := held[r.Type()+" "+name]; ok {
					out = append(out, fmt.Sprintf("%s/%s: %s %q is still %s's when it is created", now.Name, r.ID, r.Type(), name, id))
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// fixedNames returns r's own name, as rendered, when synthesis fixed it: the property Name, or the
// one named for its type (DeploymentGroupName of AWS::CodeDeploy::DeploymentGroup, BucketName of
// AWS::S3::Bucket). Names of other resources it refers to (a group's ApplicationName) are not its own.
func fixedNames(r Resource) []string {
	typ := r.Type()
	own := typ[strings.LastIndex(typ, ":")+1:] + "Name"
	var out []string
	for _, k := range []string{"Name", own} {
		v, ok := r.Props()[k]
		if !ok {
			continue
		}
		// A name built from another resource's Ref or attribute may differ at deploy time.
		if name := r.Stack.Render(v); name != "" && !strings.Contains(name, "${Ref:") && !strings.Contains(name, "${GetAtt:") {
			out = append(out, k+"="+name)
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
	"AWS::Events::Archive":        {"ArchiveName", "SourceArn"},
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
	// Doc is the sentence of docs/settings.md ("Changing settings after the first deploy") that
	// tells the user; a test checks that it is there.
	Doc string
}

// ExpectedChanges are the stateful changes settings make on purpose, each documented.
var ExpectedChanges = []Expected{
	{
		Path:   regexp.MustCompile(`^repository=imported$`),
		Change: regexp.MustCompile(`^CicdPipeline/SourceRepository[0-9A-F]{8} removed$`),
		Doc:    "Turning `importRepository` on keeps the repository the stack created (it is retained, not deleted) and stops managing it",
	},
	{
		Path:   regexp.MustCompile(`^pullRequestChecks=off$`),
		Change: regexp.MustCompile(`^CicdPipeline/PullRequestChecksLogs[0-9A-F]{8} removed$`),
		Doc:    "Turning `pullRequestChecks` off keeps the checks' build logs (their log group is retained)",
	},
	{
		// The artifact bucket gets a name that stacks of other accounts can know.
		Path:   regexp.MustCompile(`^environments=(.*->)?(other-account|every-relation)$|^environments=other-account->beta-prod$`),
		Change: regexp.MustCompile(`^CicdPipeline/PipelineArtifactBucket[0-9A-F]{8} replaced$`),
		Doc:    "Adding the first environment in another account, or removing the last one, replaces the artifact bucket",
	},
	{
		Path:   regexp.MustCompile(`^selfUpdate=on->off$`),
		Change: regexp.MustCompile(`^CicdPipeline/(SelfUpdateLogs|InfrastructureReviewLogs)[0-9A-F]{8} removed$`),
		Doc:    "Turning `selfUpdate` off keeps the update stage's and the infrastructure review's build logs (their log groups are retained)",
	},
	{
		Path:   regexp.MustCompile(`^metricsArchive=none$`),
		Change: regexp.MustCompile(`^CicdPipeline/DeliveryArchive[0-9A-F]{8} removed$`),
		Doc:    "Setting `metricsArchiveDays` to 0 deletes the delivery metrics' archive and the events in it",
	},
	{
		Path:   regexp.MustCompile(`^environments=other-account->environments=other-account\+target=instances$`),
		Change: regexp.MustCompile(`^CicdPipeline-prod/(CustomResourceLogs|CustomResourceLogsKey|FleetprodLogs)[0-9A-F]{8} removed$`),
		Doc:    "Changing the `deployTarget` of an environment in another account or region between `fleet` and `instances` keeps the old target's logs (its log groups and their key are retained)",
	},
	{
		Path:   regexp.MustCompile(`^environments=.*->`),
		Change: regexp.MustCompile(`^CicdPipeline-[A-Za-z0-9-]+ stack removed$`),
		Doc:    "Removing an environment in another account or region leaves its stack deployed",
	},
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
	// ID is the resource's logical id.
	ID string `json:"id"`
	// Type is the resource's type.
	Type string `json:"type"`
	// Impact is the library's ResourceImpact: WILL_UPDATE, WILL_REPLACE, WILL_DESTROY, ...
	Impact string `json:"impact"`
	// Properties are the properties that changed.
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

// RetainedName is a kind of resource that outlives its stack under a name fixed at synthesis, so
// that deploying the stack again after deleting it stops at "already exists" until the resource is
// deleted by hand; docs/operations.md ("Deploying again after deleting") lists each kind.
type RetainedName struct {
	// Type is the resource type.
	Type string
	// Resource matches the resource's stack/logical-id.
	Resource *regexp.Regexp
	// Doc is how docs/operations.md names the kind; a test checks that it is there.
	Doc string
}

// RetainedNames are the kinds the stacks have.
var RetainedNames = []RetainedName{
	{"AWS::CodeCommit::Repository", regexp.MustCompile(`^CicdPipeline/SourceRepository[0-9A-F]{8}$`), "the repository (`repositoryName`)"},
	{"AWS::S3::Bucket", regexp.MustCompile(`^CicdPipeline/PipelineArtifactBucket[0-9A-F]{8}$`), "the artifact bucket, when an environment is in another account"},
	{"AWS::S3::Bucket", regexp.MustCompile(`^CicdPipeline-replication-[a-z0-9-]+/ReplicationBucket[0-9A-F]{8}$`), "each other region's artifact store, `<stack>-replication-<region>-<hash>`"},
}

// UndocumentedRetainedNames returns the retained resources of app with a fixed name that no
// RetainedName describes.
func UndocumentedRetainedNames(app *App) []string {
	var out []string
	for _, s := range app.Stacks {
		for _, r := range s.Resources("") {
			policy, _ := r.Body["DeletionPolicy"].(string)
			prop, named := nameProps[r.Type()]
			if !named || (policy != "Retain" && policy != "RetainExceptOnCreate" && policy != "Snapshot") {
				continue
			}
			v, ok := r.Props()[prop]
			if !ok {
				continue
			}
			name := s.Render(v)
			if !slices.ContainsFunc(RetainedNames, func(k RetainedName) bool { return k.Type == r.Type() && k.Resource.MatchString(r.String()) }) {
				out = append(out, fmt.Sprintf("%s: %s %q", r, r.Type(), name))
			}
		}
	}
	return out
}
