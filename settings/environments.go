package settings

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/deploywindow"
	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/internal/instancetype"
	"github.com/pipekit/cdk-pipeline/internal/names"
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
	// DeployTarget is what the environment deploys to, as the top-level deployTarget.
	DeployTarget Target
	// FleetSize is the number of fleet instances, as the top-level fleetSize; 1 makes a one-box
	// environment.
	FleetSize int
	// InstanceType is the fleet's instance type, as the top-level instanceType.
	InstanceType string
	// InstanceTag selects existing instances, as the top-level instanceTag.
	InstanceTag Tag
	// BeanstalkApplication and BeanstalkEnvironment name an existing Elastic Beanstalk
	// environment, as the top-level keys of those names.
	BeanstalkApplication, BeanstalkEnvironment string
	// DeploymentConfig is the CodeDeploy deployment configuration, as the top-level
	// deploymentConfig.
	DeploymentConfig string
	// Approval waits for an approver right before this environment's deploy stage.
	Approval bool
	// BakeMinutes is how long the deploy stage watches the target's alarms once it succeeded; an
	// alarm then rolls the stage back. 0 for targets without alarms.
	BakeMinutes int
	// DeployWindow, in the DeploymentWindow rule's form, is when the deploy stage may be entered;
	// empty means always. DeployWindowTimeZone is its IANA time zone.
	DeployWindow, DeployWindowTimeZone string
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
	if !e.HasAlarms() && s.BakeMinutes == DefaultBakeMinutes {
		e.BakeMinutes = 0
	}
	return []Environment{e}
}

// DefaultEnvironment returns an environment named name with the top-level keys' values, the
// starting point for an entry of Environments in a Go program.
func (s Settings) DefaultEnvironment(name string) Environment {
	return Environment{
		Name: name, DeployTarget: s.DeployTarget, FleetSize: s.FleetSize, InstanceType: s.InstanceType,
		InstanceTag: s.InstanceTag, BeanstalkApplication: s.BeanstalkApplication, BeanstalkEnvironment: s.BeanstalkEnvironment,
		DeploymentConfig: s.DeploymentConfig, Approval: s.Approval, BakeMinutes: s.BakeMinutes,
		DeployWindow: s.DeployWindow, DeployWindowTimeZone: s.DeployWindowTimeZone,
	}
}

// environmentKeys are the keys an entry of environments may set.
var environmentKeys = []string{"name", "account", "region", "deployTarget", "fleetSize", "instanceType", "instanceTag",
	"beanstalkApplication", "beanstalkEnvironment", "deploymentConfig", "approval", "bakeMinutes", "deployWindow", "deployWindowTimeZone"}

// environments reads the environments list. Each entry starts from the top-level settings s (so
// the list must be read after them) and sets the keys it names; given records which.
func (p *parser) environments(key string, s Settings) ([]Environment, []map[string]bool) {
	var items []any
	if !p.array(key, &items) {
		return nil, nil
	}
	envs, given := []Environment{}, []map[string]bool{}
	for i, item := range items {
		name := fmt.Sprintf("%s[%d]", key, i)
		obj, ok := item.(map[string]any)
		if !ok {
			p.fail(name, item, `an object like {"name": "prod", "fleetSize": 2}`)
			continue
		}
		// The entry's keys are read with the same parser, so their errors name them in full.
		sub := parser{ctx: map[string]any{}}
		set := map[string]bool{}
		for k, v := range obj {
			if !contains(environmentKeys, k) {
				if near := hint.Nearest(k, environmentKeys); near != "" {
					p.errs = append(p.errs, fmt.Errorf("%s: unknown field %s; did you mean %s?", name, hint.Show(k), near))
				} else {
					p.errs = append(p.errs, fmt.Errorf("%s: unknown field %s; the fields are %s", name, hint.Show(k), strings.Join(environmentKeys, ", ")))
				}
				continue
			}
			sub.ctx[name+"."+k] = v
			set[k] = true
		}
		e := s.DefaultEnvironment("")
		sub.str(name+".name", &e.Name)
		sub.str(name+".account", &e.Account)
		sub.str(name+".region", &e.Region)
		var target string
		if sub.str(name+".deployTarget", &target) {
			e.DeployTarget = Target(target)
		}
		sub.integer(name+".fleetSize", &e.FleetSize)
		sub.str(name+".instanceType", &e.InstanceType)
		var tag string
		if sub.str(name+".instanceTag", &tag) {
			t, err := parseTag(tag)
			if err != nil {
				sub.errs = append(sub.errs, fmt.Errorf("%s.%w", name, err))
			}
			e.InstanceTag = t
		}
		sub.str(name+".beanstalkApplication", &e.BeanstalkApplication)
		sub.str(name+".beanstalkEnvironment", &e.BeanstalkEnvironment)
		sub.str(name+".deploymentConfig", &e.DeploymentConfig)
		sub.boolean(name+".approval", &e.Approval)
		sub.integer(name+".bakeMinutes", &e.BakeMinutes)
		sub.str(name+".deployWindow", &e.DeployWindow)
		sub.str(name+".deployWindowTimeZone", &e.DeployWindowTimeZone)
		p.errs = append(p.errs, sub.errs...)
		// An environment that cannot bake (no alarms, or alarms in another account) does not
		// inherit the default bake.
		if !set["bakeMinutes"] && !canBake(e) {
			e.BakeMinutes = 0
		}
		envs, given = append(envs, e), append(given, set)
	}
	return envs, given
}

var environmentNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,31}$`)

// validateEnvironment checks one environment, whose messages start with key (environments[i], or
// the top-level keys' names for the implicit environment). An incomplete environment, the
// top-level defaults of an environments list, is checked for the form of each value only: the
// entries that inherit it are checked whole.
func validateEnvironment(e Environment, complete bool, key func(field string) string) []error {
	var errs []error
	check := func(field string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key(field), err))
		}
	}
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key(field)}, args...)...))
	}
	check("deployTarget", hint.OneOf(e.DeployTarget, Targets, "a target"))
	if e.FleetSize < 1 || e.FleetSize > 10 {
		add("fleetSize", "%d is out of range; use 1 to 10", e.FleetSize)
	}
	check("instanceType", instancetype.Check(e.InstanceType))
	switch {
	case !complete:
	case e.DeployTarget == Instances:
		if e.InstanceTag.Key == "" {
			add("instanceTag", `required when deployTarget is "instances"; give Key=Value, for example -c instanceTag=Environment=prod`)
		}
	case e.DeployTarget == Beanstalk:
		if e.BeanstalkApplication == "" {
			add("beanstalkApplication", `required when deployTarget is "beanstalk"`)
		}
		if e.BeanstalkEnvironment == "" {
			add("beanstalkEnvironment", `required when deployTarget is "beanstalk"`)
		}
	}
	if e.InstanceTag != (Tag{}) {
		check("instanceTag", names.Tag(e.InstanceTag.Key, e.InstanceTag.Value))
	}
	if e.BeanstalkApplication != "" {
		check("beanstalkApplication", names.BeanstalkApplication(e.BeanstalkApplication))
	}
	if e.BeanstalkEnvironment != "" {
		check("beanstalkEnvironment", names.BeanstalkEnvironment(e.BeanstalkEnvironment))
	}
	check("deploymentConfig", hint.OneOf(e.DeploymentConfig, DeploymentConfigs, "a deployment configuration"))
	if e.BakeMinutes < 0 || e.BakeMinutes > 1440 {
		add("bakeMinutes", "%d is out of range; use 0 to 1440 (a day)", e.BakeMinutes)
	} else if complete && e.BakeMinutes > 0 && !e.HasAlarms() {
		add("bakeMinutes", "%s deploys to %q, which has no alarms to watch; use 0, or the fleet target", e.Label(), e.DeployTarget)
	}
	if e.DeployWindow != "" {
		_, err := deploywindow.Parse(e.DeployWindow)
		check("deployWindow", err)
	}
	check("deployWindowTimeZone", deploywindow.TimeZone(e.DeployWindowTimeZone))
	if e.Account != "" {
		check("account", names.Account(e.Account))
		if e.BakeMinutes > 0 && complete {
			add("bakeMinutes", "%s is in account %s: CodePipeline reads a bake's alarms with the pipeline's role, in the pipeline's account; use 0", e.Label(), e.Account)
		}
	}
	if (e.Account != "" || e.Region != "") && e.DeployTarget == Beanstalk && complete {
		add("deployTarget", "%s: a beanstalk target must be in the pipeline's account and region; use fleet or instances there", e.Label())
	}
	if e.Region != "" {
		check("region", names.Region(e.Region))
	}
	return errs
}

// validateEnvironments checks the environments list: every entry, and the list as a whole.
func (s Settings) validateEnvironments() []error {
	var errs []error
	seen := map[string]int{}
	for i, e := range s.Environments {
		prefix := fmt.Sprintf("environments[%d]", i)
		if !environmentNameRE.MatchString(e.Name) {
			errs = append(errs, fmt.Errorf("%s.name: %s is not an environment name: use 1-32 letters, digits or '-', starting with a letter", prefix, hint.Show(e.Name)))
		} else if j, dup := seen[strings.ToLower(e.Name)]; dup {
			errs = append(errs, fmt.Errorf("%s.name: %q is the name of environments[%d] too; names must differ (ignoring case)", prefix, e.Name, j))
		} else {
			seen[strings.ToLower(e.Name)] = i
		}
		errs = append(errs, validateEnvironment(e, true, func(field string) string { return prefix + "." + field })...)
	}
	return errs
}

// unusedInEnvironments reports, for a pipeline with an environments list, entries that set a key
// their target does not use, and top-level target keys that no environment uses.
func (s Settings) unusedInEnvironments(given []map[string]bool) []error {
	if len(s.Environments) == 0 {
		return nil
	}
	var errs []error
	for i, e := range s.Environments {
		var set map[string]bool
		if i < len(given) {
			set = given[i]
		}
		prefix := fmt.Sprintf("environments[%d].", i)
		for _, u := range targetKeyUse(e) {
			if set[u.key] && !u.used {
				errs = append(errs, fmt.Errorf("%s%s: applies only when %s; remove it, or change the setting it depends on", prefix, u.key, u.when))
			}
		}
	}
	if s.BakeMinutes != DefaultBakeMinutes && s.BakeMinutes > 0 {
		used := false
		for i, e := range s.Environments {
			if (i >= len(given) || !given[i]["bakeMinutes"]) && canBake(e) {
				used = true
			}
		}
		if !used {
			errs = append(errs, fmt.Errorf("bakeMinutes: no environment uses it: every entry sets its own, or cannot bake (a target without alarms, or in another account)"))
		}
	}
	d := Defaults()
	changed := map[string]bool{
		"instanceTag": s.InstanceTag != (Tag{}), "beanstalkApplication": s.BeanstalkApplication != "",
		"beanstalkEnvironment": s.BeanstalkEnvironment != "", "fleetSize": s.FleetSize != d.FleetSize, "instanceType": s.InstanceType != d.InstanceType,
	}
	for _, key := range []string{"instanceTag", "beanstalkApplication", "beanstalkEnvironment", "fleetSize", "instanceType"} {
		if !changed[key] {
			continue
		}
		used := false
		for i, e := range s.Environments {
			inherited := i >= len(given) || !given[i][key]
			for _, u := range targetKeyUse(e) {
				if u.key == key && u.used && inherited {
					used = true
				}
			}
		}
		if !used {
			errs = append(errs, fmt.Errorf("%s: no environment uses it; with an environments list, a top-level key is the default of the entries that leave it out", key))
		}
	}
	return errs
}

type keyUse struct {
	key  string
	used bool
	when string
}

// targetKeyUse says which target keys an environment's target uses.
func targetKeyUse(e Environment) []keyUse {
	target := fmt.Sprintf("%q", e.DeployTarget)
	return []keyUse{
		{"instanceTag", e.DeployTarget == Instances, `deployTarget is "instances", not ` + target},
		{"beanstalkApplication", e.DeployTarget == Beanstalk, `deployTarget is "beanstalk", not ` + target},
		{"beanstalkEnvironment", e.DeployTarget == Beanstalk, `deployTarget is "beanstalk", not ` + target},
		{"fleetSize", e.DeployTarget == Fleet, `deployTarget is "fleet", not ` + target},
		{"instanceType", e.DeployTarget == Fleet, `deployTarget is "fleet", not ` + target},
		{"deploymentConfig", e.DeployTarget != Beanstalk, `CodeDeploy releases (deployTarget "fleet" or "instances"); Elastic Beanstalk follows its environment's deployment policy`},
	}
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
