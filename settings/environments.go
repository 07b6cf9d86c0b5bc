package settings

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/hint"
)

// DefaultBakeMinutes is how long a deploy stage watches its target's alarms after it succeeded,
// unless bakeMinutes says otherwise: long enough for the fleet's alarms (one to three one-minute
// periods) to see real traffic on the new release, short enough to keep a release under half an
// hour. Targets without alarms do not bake.
const DefaultBakeMinutes = 10

// Environment is one deploy stage of the pipeline, with its own target, approval and safety
// settings. The settings' top-level keys describe the one environment of a pipeline without an
// environments list; entries of the list inherit every key they leave out from them.
type Environment struct {
	// Name names the environment, its stages (Approve-<name>, Deploy-<name>) and its stack:
	// 1-32 letters, digits or '-', starting with a letter. Empty only for the implicit environment
	// of a pipeline without an environments list, whose stages are Approve and Deploy.
	Name string
	// Account and Region place the environment's target in another account or region than the
	// pipeline's, in a stack of its own; empty means the pipeline's.
	Account, Region string
	// Stage is what the environment's deploy stage does, as the top-level keys of the same names.
	Stage
}

// canBake reports whether an environment can bake: its target has alarms, in the pipeline's
// account.
func canBake(e Environment) bool { return e.HasAlarms() && e.Account == "" }

// HasAlarms reports whether the environment's target has alarms to bake with: a fleet does (5xx
// responses and slow responses at its load balancer); existing instances and Elastic Beanstalk do
// not, as far as the stack knows.
func (e Environment) HasAlarms() bool { return e.DeployTarget == Fleet }

// Label names the environment in messages: its name, or "the deploy stage" for the implicit one.
func (e Environment) Label() string {
	if e.Name == "" {
		return "the deploy stage"
	}
	return "environment " + e.Name
}

// Deployments returns the environments the pipeline deploys to, in order: the environments list,
// or one unnamed environment from the top-level keys.
func (s Settings) Deployments() []Environment {
	if len(s.Environments) > 0 {
		return s.Environments
	}
	e := s.DefaultEnvironment("")
	// A default it cannot use (the default bake, for a target without alarms) does not apply.
	for _, f := range fields {
		if f.use != nil && f.use.onlyWhereUsed && f.isDefault(place{s: &s}) && !f.use.by(e) {
			f.clear(place{e: &e})
		}
	}
	return []Environment{e}
}

// DefaultEnvironment returns an environment named name with the top-level keys' values, the
// starting point for an entry of Environments in a Go program.
func (s Settings) DefaultEnvironment(name string) Environment {
	return Environment{Name: name, Stage: s.Stage}
}

var environmentNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31}$`)

func environmentName(name string) error {
	if !environmentNameRE.MatchString(name) {
		return fmt.Errorf("%s is not an environment name: use 1-32 letters, digits or '-', starting with a letter", hint.Show(name))
	}
	return nil
}

// checkDeployment checks what one environment asks as a whole: the keys its target needs, and
// what its target and place allow. key names a field in messages; failed holds the names of the
// values that did not parse, which are not reported again.
func checkDeployment(e Environment, key func(field string) string, inEntry bool, failed map[string]bool) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key(field)}, args...)...))
	}
	for _, f := range fields {
		if f.use == nil || !f.use.required || !f.use.by(e) || failed[key(f.key)] || !f.isZero(place{e: &e}) {
			continue
		}
		sp := spot{key: f.key, text: !inEntry, example: f.example}
		add(f.key, "required when %s%s", f.use.need, sp.forExample(false))
	}
	if e.BakeMinutes > 0 && !e.HasAlarms() {
		add("bakeMinutes", "%s deploys to %q, which has no alarms to watch; use 0, or the fleet target", e.Label(), e.DeployTarget)
	}
	if e.Account != "" && e.BakeMinutes > 0 {
		add("bakeMinutes", "%s is in account %s: CodePipeline reads a bake's alarms with the pipeline's role, in the pipeline's account; use 0", e.Label(), e.Account)
	}
	if (e.Account != "" || e.Region != "") && e.DeployTarget == Beanstalk {
		add("deployTarget", "%s: a beanstalk target must be in the pipeline's account and region; use fleet or instances there", e.Label())
	}
	return errs
}

// MaxStages is CodePipeline's quota of stages in a pipeline
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html).
const MaxStages = 50

// fixedStages are the stages every pipeline has besides its environments': Source and Build.
const fixedStages = 2

// Stages counts the pipeline's stages: Source, Build, SelfUpdate with selfUpdate, and for each
// deployment its deploy stage and, with approval, its approval stage.
func (s Settings) Stages() int {
	stages := fixedStages
	if s.SelfUpdate {
		stages++
	}
	for _, e := range s.Deployments() {
		stages++
		if e.Approval {
			stages++
		}
	}
	return stages
}

// reservedPrefix starts the names of the stacks that hold each region's artifact store,
// <stack>-replication-<region>: an environment's stack, <stack>-<name>, must not take one.
const reservedPrefix = "replication-"

// checkEnvironments checks the environments list as a whole: each entry as a deployment; that
// their names differ, also as the outputs spell them (AppUrlProdEu for prod-eu and prodeu); that
// none takes a store's stack name; and that their stages fit in a pipeline.
func (s Settings) checkEnvironments(failed map[string]bool) []error {
	var errs []error
	seen := map[string]int{}
	for i, e := range s.Environments {
		key := strings.ToLower(strings.ReplaceAll(e.Name, "-", ""))
		if j, dup := seen[key]; dup && environmentName(e.Name) == nil {
			if other := s.Environments[j].Name; strings.EqualFold(other, e.Name) {
				errs = append(errs, fmt.Errorf("%s: %q is the name of environments[%d] too; names must differ (ignoring case)", entryName(i, "name"), e.Name, j))
			} else {
				errs = append(errs, fmt.Errorf("%s: %q differs from environments[%d]'s %q only in case or '-', which the stack's output names drop; names must differ in a letter or digit", entryName(i, "name"), e.Name, j, other))
			}
		} else if !dup {
			seen[key] = i
		}
		if strings.HasPrefix(strings.ToLower(e.Name), reservedPrefix) {
			errs = append(errs, fmt.Errorf("%s: %q starts with %q, which names the stacks of the artifact stores (<stack>-replication-<region>); choose another name", entryName(i, "name"), e.Name, reservedPrefix))
		}
		errs = append(errs, checkDeployment(e, func(field string) string { return entryName(i, field) }, true, failed)...)
	}
	if stages := s.Stages(); stages > MaxStages {
		errs = append(errs, fmt.Errorf("environments: %d environments make %d stages (Source, Build, the update stage with selfUpdate, a deploy stage each and an approval stage each that has approval), but CodePipeline allows %d; use fewer environments, or approval=false for some", len(s.Environments), stages, MaxStages))
	}
	return errs
}

// unusedInEnvironments reports, for a pipeline with an environments list, entries that set a key
// their target does not use, and top-level keys that no entry inherits where it is used. given
// holds the keys each entry set.
func (s Settings) unusedInEnvironments(given []map[string]bool) []error {
	if len(s.Environments) == 0 {
		return nil
	}
	var errs []error
	for i, e := range s.Environments {
		for _, f := range fields {
			if f.use != nil && !f.use.onlyWhereUsed && given[i][f.key] && !f.use.by(e) {
				errs = append(errs, fmt.Errorf("%s: applies only when %s; remove it, or change the setting it depends on", entryName(i, f.key), f.use.when(e)))
			}
		}
	}
	top := place{s: &s}
	for _, f := range fields {
		if f.use == nil || f.scope != perEnvironment || f.isDefault(top) || f.isZero(top) {
			continue
		}
		used := false
		for i, e := range s.Environments {
			used = used || !given[i][f.key] && f.use.by(e)
		}
		if !used {
			errs = append(errs, fmt.Errorf("%s: no environment uses it; with an environments list, a top-level key is the default of the entries that leave it out", f.key))
		}
	}
	return errs
}

// CheckEnvironments reports what the environments ask that a pipeline stack in account and region
// cannot do: an environment in another account or region needs the pipeline's own account and
// region to be known (cdk deploy with credentials gives them), because CodePipeline's cross-account
// and cross-region actions name them.
func (s Settings) CheckEnvironments(account, region string) error {
	var errs []error
	for i, e := range s.Environments {
		if (e.Account != "" || e.Region != "") && (account == "" || region == "") {
			errs = append(errs, fmt.Errorf("environments[%d]: %s names an account or region, so the pipeline's own account and region must be known: run the CDK CLI with credentials (it sets CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION), without CDK_PIPELINE_AGNOSTIC=1", i, e.Label()))
		}
		// account marks another account: such an environment never bakes, which would be a
		// surprise in the pipeline's own.
		if e.Account != "" && e.Account == account {
			errs = append(errs, fmt.Errorf("environments[%d].account: %s is the pipeline's own account; leave account out for an environment there", i, e.Account))
		}
	}
	return errors.Join(errs...)
}
