package settings

import (
	"github.com/pipekit/cdk-pipeline/internal/deploywindow"
	"github.com/pipekit/cdk-pipeline/internal/instancetype"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/notify"
)

// fields is the settings contract, one row per key: the Go field it fills, its default, the checks
// of its value, and which environments use it. The top-level keys are in the order
// docs/settings.md documents them. Everything else loops over this table: Keys, Parse (at the top
// level and in each environments entry), Defaults, Validate's checks of each value, the
// unused-key errors, and the docs test. Adding a setting is a row here with its Go field, a line
// in docs/settings.md, and its tests.
//
// A row's accessor says where the key may be given: a field of Settings at the top level only, a
// field of Stage at the top level (the default) and in each environments entry, a field of
// Environment in an entry only.
var fields []field

// Keys are the context keys of the contract, in the order docs/settings.md documents them.
var Keys []string

// The table is assigned in init because the environments row reads its entries with the table.
func init() {
	fields = []field{
		text("repositoryName", func(s *Settings) *string { return &s.RepositoryName }, "sample-app", check(names.RepositoryName)),
		flag("importRepository", func(s *Settings) *bool { return &s.ImportRepository }, false),
		text("branch", func(s *Settings) *string { return &s.Branch }, "main", check(names.Branch)),
		flag("approval", func(s *Stage) *bool { return &s.Approval }, true),
		emails("approverEmails", func(s *Settings) *[]string { return &s.ApproverEmails }, usedIf(approving), example(`["lead@example.com"]`)),
		subscribers("notifications", func(s *Settings) *[]Subscriber { return &s.Notifications },
			example(`[{"protocol":"email","endpoint":"ops@example.com"}]`)),
		list("notifyOn", func(s *Settings) *[]notify.PipelineState { return &s.NotifyOn },
			[]notify.PipelineState{notify.PipelineFailed, notify.PipelineStopped, notify.PipelineSucceeded},
			nonEmpty(notify.PipelineStates), eachOneOf(notify.PipelineStates, "a pipeline state"), example(`["FAILED","SUCCEEDED"]`)),
		text("deployTarget", func(s *Stage) *Target { return &s.DeployTarget }, Fleet, oneOf(Targets, "a target")),
		number("fleetSize", func(s *Stage) *int { return &s.FleetSize }, 2, between(1, 10, ""), usedBy(Fleet)),
		text("instanceType", func(s *Stage) *string { return &s.InstanceType }, "t3.micro", check(instancetype.Check), usedBy(Fleet)),
		tag("instanceTag", func(s *Stage) *Tag { return &s.InstanceTag }, check(Tag.check), requiredBy(Instances, "Environment=prod")),
		text("beanstalkApplication", func(s *Stage) *string { return &s.BeanstalkApplication }, "",
			check(names.BeanstalkApplication), requiredBy(Beanstalk, "my-app")),
		text("beanstalkEnvironment", func(s *Stage) *string { return &s.BeanstalkEnvironment }, "",
			check(names.BeanstalkEnvironment), requiredBy(Beanstalk, "my-app-env")),
		text("deploymentConfig", func(s *Stage) *string { return &s.DeploymentConfig }, "OneAtATime",
			oneOf(DeploymentConfigs, "a deployment configuration"), usedByCodeDeploy()),
		list("operatorUsers", func(s *Settings) *[]string { return &s.OperatorUsers }, nil, each(names.IAMUserName), example(`["alice"]`)),
		flag("terminationProtection", func(s *Settings) *bool { return &s.TerminationProtection }, true),
		flag("pullRequestChecks", func(s *Settings) *bool { return &s.PullRequestChecks }, true),
		flag("selfUpdate", func(s *Settings) *bool { return &s.SelfUpdate }, false),
		text("executionMode", func(s *Settings) *string { return &s.ExecutionMode }, "SUPERSEDED", oneOf(ExecutionModes, "an execution mode")),
		list("compliancePacks", func(s *Settings) *[]string { return &s.CompliancePacks }, nil,
			eachOneOf(Packs, "a rule pack"), example(`["NIST.800.53.R5"]`)),
		text("deployWindow", func(s *Stage) *string { return &s.DeployWindow }, "", check(deployWindow)),
		text("deployWindowTimeZone", func(s *Stage) *string { return &s.DeployWindowTimeZone }, "UTC", check(deploywindow.TimeZone)),
		number("bakeMinutes", func(s *Stage) *int { return &s.BakeMinutes }, DefaultBakeMinutes, between(0, 1440, " (a day)"), bakes()),
		flag("stageRollback", func(s *Settings) *bool { return &s.StageRollback }, true),
		number("metricsArchiveDays", func(s *Settings) *int { return &s.MetricsArchiveDays }, DefaultMetricsArchiveDays, between(0, 3650, " (ten years)")),
		// An environments entry's own keys.
		text("name", func(e *Environment) *string { return &e.Name }, "", always(), check(environmentName)),
		text("account", func(e *Environment) *string { return &e.Account }, "", check(names.Account)),
		text("region", func(e *Environment) *string { return &e.Region }, "", check(names.Region)),
		entries("environments", func(s *Settings) *[]Environment { return &s.Environments },
			example(`[{"name":"beta","fleetSize":1},{"name":"prod"}]`)),
	}
	Keys = nil
	for _, f := range fields {
		if f.scope != entryOnly {
			Keys = append(Keys, f.key)
		}
	}
}

// deployWindow checks a deployment window; the stack converts it when it builds the rule.
func deployWindow(w string) error {
	_, err := deploywindow.Parse(w)
	return err
}

// approving says whether approverEmails are used: when an environment waits for approval.
func approving(s Settings) (bool, string) {
	for _, e := range s.Deployments() {
		if e.Approval {
			return true, ""
		}
	}
	if len(s.Environments) == 0 {
		return false, "approval is true"
	}
	return false, "an environment has approval true"
}
