package settings

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/internal/names"
	"github.com/pipekit/cdk-pipeline/notify"
)

// Validate reports every problem with s at once, one error per problem, each naming its key. The
// checks are packages names, deploywindow and instancetype's, which the construct packages apply to
// their props too.
func (s Settings) Validate() error {
	var errs []error
	check := func(key string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	check("repositoryName", names.RepositoryName(s.RepositoryName))
	check("branch", names.Branch(s.Branch))
	for i, e := range s.ApproverEmails {
		check(fmt.Sprintf("approverEmails[%d]", i), names.EmailAddress(e))
	}
	partitions := map[string]bool{}
	for i, sub := range s.Notifications {
		arn, err := names.Endpoint(sub.Protocol, sub.Endpoint)
		check(fmt.Sprintf("notifications[%d]", i), err)
		if arn != nil {
			partitions[arn.Partition] = true
		}
	}
	if len(partitions) > 1 {
		add("notifications: the ARNs name %d partitions (%s); they must all be the stack's partition", len(partitions), strings.Join(sortedKeys(partitions), ", "))
	}
	if len(s.NotifyOn) == 0 {
		add("notifyOn: the list is empty; name at least one of %s", joined(notify.PipelineStates))
	}
	for i, state := range s.NotifyOn {
		check(fmt.Sprintf("notifyOn[%d]", i), hint.OneOf(state, notify.PipelineStates, "a pipeline state"))
	}
	// The top-level target keys describe the one environment of a pipeline without an
	// environments list, and are the defaults of the list's entries otherwise, which are checked
	// whole on their own.
	top := s.Deployments()[0]
	if len(s.Environments) > 0 {
		top = s.DefaultEnvironment("")
	}
	errs = append(errs, validateEnvironment(top, len(s.Environments) == 0, func(field string) string { return field })...)
	errs = append(errs, s.validateEnvironments()...)
	for i, u := range s.OperatorUsers {
		check(fmt.Sprintf("operatorUsers[%d]", i), names.IAMUserName(u))
	}
	check("executionMode", hint.OneOf(s.ExecutionMode, ExecutionModes, "an execution mode"))
	for i, pack := range s.CompliancePacks {
		check(fmt.Sprintf("compliancePacks[%d]", i), hint.OneOf(pack, Packs, "a rule pack"))
	}
	errs = append(errs, s.unused()...)
	errs = append(errs, repeats("approverEmails", s.ApproverEmails)...)
	errs = append(errs, repeats("notifications", s.Notifications)...)
	errs = append(errs, repeats("notifyOn", s.NotifyOn)...)
	errs = append(errs, repeats("operatorUsers", s.OperatorUsers)...)
	errs = append(errs, repeats("compliancePacks", s.CompliancePacks)...)
	return errors.Join(errs...)
}

// CheckAccount reports what the settings ask that a stack in account cannot do: subscribe a
// function or a Firehose stream of another account. An empty account (an environment-agnostic
// stack) checks nothing; the stack then guards the function's permission with a CloudFormation
// condition instead.
func (s Settings) CheckAccount(account string) error {
	var errs []error
	for i, sub := range s.Notifications {
		if err := names.SameAccount(sub.Protocol, sub.Endpoint, account); err != nil {
			errs = append(errs, fmt.Errorf("notifications[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// unused reports settings that are given, or changed from their default, although the chosen
// target or mode does not use them: the user believes they took effect, and they did not.
func (s Settings) unused() []error {
	var errs []error
	d := Defaults()
	target := fmt.Sprintf("%q", s.DeployTarget)
	unused := func(key string, given bool, when string) {
		if given {
			errs = append(errs, fmt.Errorf("%s: applies only when %s; remove it, or change the setting it depends on", key, when))
		}
	}
	if len(s.Environments) > 0 {
		// The environments decide; see unusedInEnvironments.
		if !s.anyApproval() {
			unused("approverEmails", len(s.ApproverEmails) > 0, "an environment has approval true")
		}
		return errs
	}
	if s.DeployTarget != Instances {
		unused("instanceTag", s.InstanceTag != (Tag{}), `deployTarget is "instances", not `+target)
	}
	if s.DeployTarget != Beanstalk {
		unused("beanstalkApplication", s.BeanstalkApplication != "", `deployTarget is "beanstalk", not `+target)
		unused("beanstalkEnvironment", s.BeanstalkEnvironment != "", `deployTarget is "beanstalk", not `+target)
	}
	if s.DeployTarget != Fleet {
		unused("fleetSize", s.FleetSize != d.FleetSize, `deployTarget is "fleet", not `+target)
		unused("instanceType", s.InstanceType != d.InstanceType, `deployTarget is "fleet", not `+target)
	}
	if s.DeployTarget == Beanstalk {
		unused("deploymentConfig", s.DeploymentConfig != d.DeploymentConfig,
			`CodeDeploy releases (deployTarget "fleet" or "instances"); Elastic Beanstalk follows its environment's deployment policy`)
	}
	if !s.Approval {
		unused("approverEmails", len(s.ApproverEmails) > 0, "approval is true")
	}
	return errs
}

func (s Settings) anyApproval() bool {
	for _, e := range s.Deployments() {
		if e.Approval {
			return true
		}
	}
	return false
}

// repeats reports every entry of a list setting that repeats an earlier one. A repeat would
// subscribe, add or check the same thing twice, which the stack cannot express.
func repeats[T comparable](key string, items []T) []error {
	var errs []error
	first := map[T]int{}
	for i, item := range items {
		if j, seen := first[item]; seen {
			errs = append(errs, fmt.Errorf("%s[%d]: repeats %s[%d]; list each entry once", key, i, key, j))
			continue
		}
		first[item] = i
	}
	return errs
}

func joined[T ~string](items []T) string {
	names := make([]string, len(items))
	for i, item := range items {
		names[i] = string(item)
	}
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortErrors(errs []error) {
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
}
