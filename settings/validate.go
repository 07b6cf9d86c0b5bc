package settings

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/names"
)

// Validate reports every problem with s at once, one error per problem, each naming its key. The
// checks of single values are those of packages names, deploywindow and instancetype, which the
// construct packages apply to their props too.
func (s Settings) Validate() error {
	return errors.Join(s.problems(nil)...)
}

// problems returns every problem with s. failed holds the names of the values that did not parse,
// which keep their defaults and are not reported again.
func (s Settings) problems(failed map[string]bool) []error {
	var errs []error
	top := place{s: &s}
	for _, f := range fields {
		if f.scope != entryOnly && !failed[f.key] {
			errs = append(errs, f.check(f.key, top)...)
		}
	}
	for i := range s.Environments {
		pl := place{s: &s, e: &s.Environments[i]}
		for _, f := range fields {
			if f.scope == pipelineWide {
				continue
			}
			name := entryName(i, f.key)
			// A value an entry shares with the top level is reported there, once.
			if failed[name] || f.scope == perEnvironment && f.equal(pl, top) {
				continue
			}
			errs = append(errs, f.check(name, pl)...)
		}
	}
	// The top-level keys describe the one environment of a pipeline without an environments
	// list, and are only the defaults of the list's entries otherwise, which are checked whole.
	if len(s.Environments) == 0 {
		errs = append(errs, checkDeployment(s.Deployments()[0], func(field string) string { return field }, false, failed)...)
	}
	errs = append(errs, s.checkEnvironments(failed)...)
	errs = append(errs, s.partitions()...)
	errs = append(errs, s.parallel()...)
	errs = append(errs, s.selfUpdating()...)
	errs = append(errs, s.unused()...)
	return errs
}

// partitions reports subscribers' ARNs of more than one partition: a stack lives in one.
func (s Settings) partitions() []error {
	partitions := map[string]bool{}
	for _, sub := range s.Notifications {
		if arn, err := names.Endpoint(sub.Protocol, sub.Endpoint); err == nil && arn != nil {
			partitions[arn.Partition] = true
		}
	}
	if len(partitions) > 1 {
		return []error{fmt.Errorf("notifications: the ARNs name %d partitions (%s); they must all be the stack's partition", len(partitions), strings.Join(slices.Sorted(maps.Keys(partitions)), ", "))}
	}
	return nil
}

// parallel reports the rollbacks a PARALLEL pipeline cannot have. CodePipeline's user guide, "Set
// or change the pipeline execution mode"
// (https://docs.aws.amazon.com/codepipeline/latest/userguide/execution-modes.html): "For
// pipelines in PARALLEL mode, stage rollback is not available. Similarly, failure conditions with
// a rollback result type cannot be added to a PARALLEL mode pipeline." stageRollback is an
// OnFailure condition with the result ROLLBACK, and a bake an OnSuccess condition with the result
// ROLLBACK (pipeline.AddGuardedStage). The settings refuse them rather than switch them off, so
// that no one believes a production stage rolls back when it cannot.
func (s Settings) parallel() []error {
	if s.ExecutionMode != "PARALLEL" {
		return nil
	}
	const why = "CodePipeline has no rollback in PARALLEL mode, so executionMode PARALLEL requires stageRollback=false and bakeMinutes=0"
	const instead = "or use executionMode SUPERSEDED or QUEUED"
	var errs []error
	if s.StageRollback {
		errs = append(errs, fmt.Errorf("stageRollback: true rolls a failed deploy stage back, but %s; set stageRollback=false, %s", why, instead))
	}
	var inheriting []string
	for i, e := range s.Deployments() {
		switch {
		case e.BakeMinutes == 0:
		case len(s.Environments) == 0 || e.BakeMinutes == s.BakeMinutes:
			inheriting = append(inheriting, e.Label())
		default:
			errs = append(errs, fmt.Errorf("%s: %d bakes %s, and a bake rolls the stage back on an alarm, but %s; set \"bakeMinutes\": 0 in the entry, %s", entryName(i, "bakeMinutes"), e.BakeMinutes, e.Label(), why, instead))
		}
	}
	if len(inheriting) > 0 {
		errs = append(errs, fmt.Errorf("bakeMinutes: %d bakes %s, and a bake rolls the stage back on an alarm, but %s; set bakeMinutes=0, %s", s.BakeMinutes, strings.Join(inheriting, ", "), why, instead))
	}
	return errs
}

// selfUpdating reports what a self-updating pipeline cannot do. Its update stage runs cdk deploy of
// the pipeline's own stacks in every execution that changed them; CloudFormation updates a stack
// one operation at a time (an update of a stack in UPDATE_IN_PROGRESS fails), and a pipeline in
// PARALLEL mode runs executions side by side through every stage, while SUPERSEDED and QUEUED
// let one execution at a time into a stage (CodePipeline's user guide, "How pipeline executions
// work": https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html).
//
// And without pull-request checks the branch is not protected: any operator's push would deploy
// infrastructure with the CDK's deploy roles (administrator by default), unreviewed.
func (s Settings) selfUpdating() []error {
	if !s.SelfUpdate {
		return nil
	}
	var errs []error
	if s.ExecutionMode == "PARALLEL" {
		errs = append(errs, errors.New("selfUpdate: true deploys the pipeline's stacks from its executions, and executionMode PARALLEL runs executions side by side, so two could update the same stack at once, which CloudFormation refuses; use executionMode SUPERSEDED or QUEUED, or selfUpdate=false"))
	}
	if !s.PullRequestChecks {
		errs = append(errs, errors.New("selfUpdate: true deploys infrastructure from the branch, and pullRequestChecks=false leaves the branch open to every operator's push, unreviewed; keep pullRequestChecks=true, or selfUpdate=false"))
	}
	return errs
}

// CheckPlace reports what the settings ask that a stack in account and region cannot do:
// subscribe a function or a Firehose stream of another account, or a Firehose stream or mobile
// endpoint of another region (names.SamePlace). An empty account or region (an
// environment-agnostic stack) checks nothing; the stack then guards a function's permission with a
// CloudFormation condition instead.
func (s Settings) CheckPlace(account, region string) error {
	var errs []error
	for i, sub := range s.Notifications {
		if err := names.SamePlace(sub.Protocol, sub.Endpoint, account, region); err != nil {
			errs = append(errs, fmt.Errorf("notifications[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// unused reports settings that are changed from their default although the chosen target or mode
// does not use them: the user believes they took effect, and they did not. With an environments
// list the entries decide, and Parse reports their unused keys (unusedInEnvironments).
func (s Settings) unused() []error {
	var errs []error
	top := place{s: &s}
	unused := func(key, when string) {
		errs = append(errs, fmt.Errorf("%s: applies only when %s; remove it, or change the setting it depends on", key, when))
	}
	e := s.Deployments()[0]
	for _, f := range fields {
		if f.scope == entryOnly || f.isDefault(top) {
			continue
		}
		if f.usedIf != nil {
			if used, when := f.usedIf(s); !used {
				unused(f.key, when)
			}
		}
		if len(s.Environments) == 0 && f.use != nil && !f.use.onlyWhereUsed && !f.use.by(e) {
			unused(f.key, f.use.when(e))
		}
	}
	return errs
}
