package dora

import (
	"context"
	"errors"
	"slices"
	"sort"
	"time"
)

// The metrics, each with the dimensions Pipeline and Stage, and their units in CloudWatch.
const (
	Deployments       = "Deployments"
	DeploymentDays    = "DeploymentDays"
	FailedAttempts    = "FailedAttempts"
	FailedDeployments = "FailedDeployments"
	ReworkDeployments = "ReworkDeployments"
	LeadTime          = "LeadTime"
	PipelineLeadTime  = "PipelineLeadTime"
	RecoveryTime      = "FailedDeploymentRecoveryTime"
)

const (
	// Retention is how long the state remembers executions, deployments and delivered commits,
	// counted back from the newest event (not the wall clock, so that a replay gives the same
	// answer). Open failures are kept until they are restored, however long that takes.
	Retention = 35 * 24 * time.Hour
	// Attribution is how long after a deployment a failure found later (an operator's rollback, an
	// alarm) is still that deployment's: the failed deployment is dated at the deployment, and
	// CloudWatch takes no data point older than two weeks; a day is left for retries.
	Attribution = 13 * 24 * time.Hour
	// Unheard is how long a deployment waits for its commit (the source action's event) or its
	// execution's STARTED event before its lead time is given up: EventBridge tries an event for a
	// day, then keeps it in the dead-letter queue.
	Unheard = 24 * time.Hour
	// longestRun bounds a deploy stage whose end never came: no run lasts two days (a day's bake
	// at most, and the deployment).
	longestRun = 48 * time.Hour
	// seenEvents is how many event ids the state keeps to drop EventBridge's duplicate deliveries.
	seenEvents = 500
	// maxWalk bounds the commits one deployment delivers; maxOpen the open failures a stage keeps.
	maxWalk = 500
	maxOpen = 100
	// SchemaVersion changes when the stored state's meaning does; a state of another version is
	// started anew.
	SchemaVersion = 2
)

// How a failure was found.
const (
	byRollback = "rollback"
	byStage    = "stage"
	byAlarm    = "alarm"
)

// Config is what to measure: the pipeline, its deploy stages (one per environment), and each
// stage's alarms, whose ALARM outside a deploy is an incident in that environment.
type Config struct {
	// Pipeline is the pipeline's name.
	Pipeline string
	// Stages are its deploy stages, one per environment.
	Stages []string
	// Alarms are, per stage, the names of its environment's alarms.
	Alarms map[string][]string
}

func (c Config) stageOf(alarm string) string {
	for _, stage := range c.Stages {
		if slices.Contains(c.Alarms[stage], alarm) {
			return stage
		}
	}
	return ""
}

// Sample is one data point of a metric, at the time the thing it measures happened.
type Sample struct {
	// Metric is one of the metrics (Deployments, LeadTime, ...).
	Metric string
	// Stage is the deploy stage, which stands for its environment.
	Stage string
	// Value is 1 for a count, or the seconds of a time.
	Value float64
	// Unit is Count or Seconds.
	Unit string
	// Time is when the measured thing happened, the data point's date.
	Time time.Time
	// Execution and Commit say what the sample is about, for the logs.
	Execution, Commit string
}

// State is everything the computation remembers between events, stored as one JSON document.
// Apply gives the same samples whatever order the events of a minute arrive in.
type State struct {
	// Schema is the SchemaVersion the state was written by.
	Schema int `json:"schema"`
	// Seen are the ids of the latest events, newest last.
	Seen []string `json:"seen,omitempty"`
	// Latest is the newest event time: the clock of Retention and Unheard.
	Latest time.Time `json:"latest"`
	// Executions are the pipeline executions of Retention, by id.
	Executions map[string]*Execution `json:"executions,omitempty"`
	// Stages are the deploy stages' memories, by name.
	Stages map[string]*Stage `json:"stages,omitempty"`
}

// Execution is what the events said of one pipeline execution.
type Execution struct {
	// First is the time of its first event, for Retention.
	First time.Time `json:"first"`
	// Start is the time of its STARTED event.
	Start time.Time `json:"start,omitempty"`
	// Known says its STARTED event came.
	Known bool `json:"known,omitempty"`
	// Rollback marks an execution that a stage rollback started: it deploys an older release again.
	Rollback bool `json:"rollback,omitempty"`
	// Commit is the head commit its source action read.
	Commit string `json:"commit,omitempty"`
	// Attributed are the stages whose rollback by this execution has been attributed.
	Attributed []string `json:"attributed,omitempty"`
}

// Try is one result of a deploy stage's deploy action: a deployment when it succeeded, a failed
// attempt when it failed.
type Try struct {
	// Execution is the pipeline execution that deployed.
	Execution string `json:"execution"`
	// Attempt is its pipeline-execution-attempt: an operator's retry is another.
	Attempt int `json:"attempt"`
	// Time is when the deploy action succeeded or failed.
	Time time.Time `json:"time"`
	// Succeeded: a deployment; otherwise a failed attempt.
	Succeeded bool `json:"succeeded,omitempty"`
	// Counted: its deployment or failed attempt was emitted.
	Counted bool `json:"counted,omitempty"`
	// Failed: the deployment failed afterwards.
	Failed bool `json:"failed,omitempty"`
	// FailCounted: its failure was emitted.
	FailCounted bool `json:"failCounted,omitempty"`
	// Settled: its rework and pipeline lead time were decided (they need the execution's STARTED).
	Settled bool `json:"settled,omitempty"`
	// LeadDone: the lead times of the commits it delivered were emitted, or given up.
	LeadDone bool `json:"leadDone,omitempty"`
}

// Run is one run of a deploy stage: from STARTED to its end, the deploy and the bake.
type Run struct {
	// Execution is the pipeline execution that ran the stage.
	Execution string `json:"execution"`
	// Attempt is its pipeline-execution-attempt.
	Attempt int `json:"attempt"`
	// Start is when the stage started, if that event came.
	Start time.Time `json:"start,omitempty"`
	// End is when the stage ended, if it did.
	End time.Time `json:"end,omitempty"`
	// Result is how it ended: SUCCEEDED or FAILED.
	Result string `json:"result,omitempty"`
}

// Failure is a failed deployment, from its deployment to its restore.
type Failure struct {
	// Execution is the failed deployment's execution.
	Execution string `json:"execution"`
	// Commit is that execution's head commit.
	Commit string `json:"commit,omitempty"`
	// Deployed is when the failed deployment succeeded.
	Deployed time.Time `json:"deployed"`
	// Detected is when the failure was found.
	Detected time.Time `json:"detected"`
	// By is how: a rollback, the stage, an alarm.
	By string `json:"by"`
	// Recovered is when the stage was restored, once it is.
	Recovered time.Time `json:"recovered,omitempty"`
	// Done: its recovery time was emitted.
	Done bool `json:"done,omitempty"`
}

// Stage is the memory of one environment.
type Stage struct {
	// Tries are the deploy actions' results, oldest first.
	Tries []*Try `json:"tries,omitempty"`
	// Runs are the stage's runs, deploy and bake.
	Runs []*Run `json:"runs,omitempty"`
	// Failures are the failed deployments, open or restored.
	Failures []*Failure `json:"failures,omitempty"`
	// Delivered are the commits that reached the environment, and when.
	Delivered map[string]time.Time `json:"delivered,omitempty"`
	// Tip is the newest head commit delivered, kept past Retention so that the next deployment's
	// walk stops there.
	Tip string `json:"tip,omitempty"`
	// Days are the UTC days with a deployment, "2006-01-02".
	Days []string `json:"days,omitempty"`
	// Alarming are the alarms in ALARM that make the open incident.
	Alarming []string `json:"alarming,omitempty"`
}

// Apply records e and returns the samples that it completes, and whether the state changed.
// Events of other pipelines, stages, alarms or kinds, and events seen before, change nothing. An
// error (from commits) leaves the state to be thrown away: try the event again.
func (s *State) Apply(ctx context.Context, e Event, cfg Config, commits Commits) ([]Sample, bool, error) {
	if e.ID != "" && slices.Contains(s.Seen, e.ID) {
		return nil, false, nil
	}
	if !s.record(e, cfg) {
		return nil, false, nil
	}
	s.Schema = SchemaVersion
	if e.ID != "" {
		s.Seen = append(s.Seen, e.ID)
		if len(s.Seen) > seenEvents {
			s.Seen = s.Seen[len(s.Seen)-seenEvents:]
		}
	}
	if e.Time.After(s.Latest) {
		s.Latest = e.Time
	}
	var out []Sample
	for _, stage := range cfg.Stages {
		samples, err := s.settle(ctx, stage, commits)
		if err != nil {
			return nil, false, err
		}
		out = append(out, samples...)
	}
	s.prune()
	return out, true, nil
}

func (s *State) stage(name string) *Stage {
	if s.Stages == nil {
		s.Stages = map[string]*Stage{}
	}
	st := s.Stages[name]
	if st == nil {
		st = &Stage{}
		s.Stages[name] = st
	}
	if st.Delivered == nil {
		st.Delivered = map[string]time.Time{}
	}
	return st
}

func (s *State) execution(e Event) *Execution {
	if s.Executions == nil {
		s.Executions = map[string]*Execution{}
	}
	x := s.Executions[e.Execution]
	if x == nil {
		x = &Execution{First: e.Time}
		s.Executions[e.Execution] = x
	}
	if e.Time.Before(x.First) {
		x.First = e.Time
	}
	return x
}

// record stores what e says, and reports whether it said anything the computation uses.
func (s *State) record(e Event, cfg Config) bool {
	if e.Source == AlarmSource && e.DetailType == AlarmStateChange {
		return s.recordAlarm(e, cfg)
	}
	if e.Source != PipelineSource || e.Pipeline != cfg.Pipeline || e.Execution == "" {
		return false
	}
	deployStage := slices.Contains(cfg.Stages, e.Stage)
	switch {
	case e.DetailType == PipelineExecution && e.State == started:
		x := s.execution(e)
		x.Known, x.Start = true, e.Time
		x.Rollback = slices.Contains(rollbackTriggers, e.Trigger)
	case e.DetailType == StageExecution && deployStage && (e.State == started || e.State == succeeded || e.State == failed):
		s.execution(e)
		st := s.stage(e.Stage)
		var run *Run
		for _, r := range st.Runs {
			if r.Execution == e.Execution && r.Attempt == e.Attempt {
				run = r
			}
		}
		if run == nil {
			run = &Run{Execution: e.Execution, Attempt: e.Attempt}
			st.Runs = append(st.Runs, run)
		}
		if e.State == started {
			run.Start = e.Time
		} else {
			run.End, run.Result = e.Time, e.State
		}
	case e.DetailType == ActionExecution && e.Category == SourceCategory && e.State == succeeded && e.ExternalID != "":
		s.execution(e).Commit = e.ExternalID
	case e.DetailType == ActionExecution && e.Category == DeployCategory && deployStage && (e.State == succeeded || e.State == failed):
		s.execution(e)
		st := s.stage(e.Stage)
		st.Tries = append(st.Tries, &Try{Execution: e.Execution, Attempt: e.Attempt, Time: e.Time, Succeeded: e.State == succeeded})
		sort.SliceStable(st.Tries, func(i, j int) bool { return st.Tries[i].Time.Before(st.Tries[j].Time) })
	default:
		return false
	}
	return true
}

// recordAlarm: an alarm of a stage going into ALARM while no deploy of that stage runs (its deploy
// and bake handle their own alarms) starts an incident, unless one is open; the incident marks the
// environment's last deployment failed, and ends when none of the stage's alarms is in ALARM.
func (s *State) recordAlarm(e Event, cfg Config) bool {
	stage := cfg.stageOf(e.Alarm)
	if stage == "" {
		return false
	}
	st := s.stage(stage)
	at := slices.Index(st.Alarming, e.Alarm)
	if e.AlarmState != alarm {
		if at < 0 {
			return false
		}
		st.Alarming = slices.Delete(st.Alarming, at, at+1)
		if len(st.Alarming) == 0 {
			for _, f := range st.Failures {
				if f.By == byAlarm && f.Recovered.IsZero() {
					f.Recovered = e.Time
				}
			}
		}
		return true
	}
	if at >= 0 || st.running(e.Time) {
		return false
	}
	st.Alarming = append(st.Alarming, e.Alarm)
	if len(st.Alarming) > 1 {
		return true
	}
	var victim *Try
	for _, t := range st.Tries {
		if t.Succeeded && t.Time.Before(e.Time) {
			victim = t
		}
	}
	if victim == nil || e.Time.Sub(victim.Time) > Attribution {
		return true // an incident no recent change caused: not a change failure
	}
	if !victim.Failed {
		s.fail(st, victim, e.Time, byAlarm)
		return true
	}
	for _, f := range st.Failures {
		if f.Execution == victim.Execution && f.Deployed.Equal(victim.Time) && f.Recovered.IsZero() {
			return true
		}
	}
	// Failed and restored before: a new incident of the same deployment, one more recovery.
	st.Failures = append(st.Failures, &Failure{Execution: victim.Execution, Commit: s.commitOf(victim.Execution),
		Deployed: victim.Time, Detected: e.Time, By: byAlarm})
	return true
}

// running reports whether a deploy of the stage ran at t.
func (st *Stage) running(t time.Time) bool {
	for _, r := range st.Runs {
		if r.Start.IsZero() || t.Before(r.Start) {
			continue
		}
		if (r.End.IsZero() && t.Sub(r.Start) < longestRun) || !t.After(r.End) {
			return true
		}
	}
	return false
}

func (s *State) commitOf(execution string) string {
	if x := s.Executions[execution]; x != nil {
		return x.Commit
	}
	return ""
}

// fail marks a deployment failed, found at detected.
func (s *State) fail(st *Stage, t *Try, detected time.Time, by string) {
	if t.Failed {
		return
	}
	t.Failed = true
	st.Failures = append(st.Failures, &Failure{Execution: t.Execution, Commit: s.commitOf(t.Execution),
		Deployed: t.Time, Detected: detected, By: by})
}

// openAt reports whether a failure of the stage was open at t: found before t, restored at t or
// later, or not yet.
func (st *Stage) openAt(t time.Time) bool {
	for _, f := range st.Failures {
		if f.Detected.Before(t) && (f.Recovered.IsZero() || !f.Recovered.Before(t)) {
			return true
		}
	}
	return false
}

// settle emits what the facts now known complete for one stage.
func (s *State) settle(ctx context.Context, stage string, commits Commits) ([]Sample, error) {
	st := s.stage(stage)
	var out []Sample
	emit := func(metric string, value float64, unit string, at time.Time, execution, commit string) {
		out = append(out, Sample{Metric: metric, Stage: stage, Value: value, Unit: unit, Time: at, Execution: execution, Commit: commit})
	}
	// Deployments and failed attempts, as their results come; a day's first deployment.
	for _, t := range st.Tries {
		if t.Counted {
			continue
		}
		t.Counted = true
		if !t.Succeeded {
			emit(FailedAttempts, 1, "Count", t.Time, t.Execution, s.commitOf(t.Execution))
			continue
		}
		emit(Deployments, 1, "Count", t.Time, t.Execution, s.commitOf(t.Execution))
		day := t.Time.UTC().Truncate(24 * time.Hour)
		if key := day.Format(time.DateOnly); !slices.Contains(st.Days, key) {
			st.Days = append(st.Days, key)
			emit(DeploymentDays, 1, "Count", day, t.Execution, s.commitOf(t.Execution))
		}
	}
	// A stage that failed after its deploy action succeeded (the bake's alarm, a later action):
	// that deployment failed.
	for _, r := range st.Runs {
		if r.Result != failed {
			continue
		}
		for _, t := range st.Tries {
			if t.Execution == r.Execution && t.Attempt == r.Attempt && t.Succeeded && !t.Time.After(r.End) {
				s.fail(st, t, r.End, byStage)
			}
		}
	}
	// A rollback, once its own deploy came (by then every result before it has arrived): the
	// deployment at the stage when it started failed, unless that was a failed attempt (the
	// rollback only repeats CodeDeploy's own) or it is too old to be the cause.
	for _, id := range s.byStart() {
		x := s.Executions[id]
		if !x.Known || !x.Rollback || slices.Contains(x.Attributed, stage) || !slices.ContainsFunc(st.Tries, func(t *Try) bool { return t.Execution == id }) {
			continue
		}
		x.Attributed = append(x.Attributed, stage)
		var victim *Try
		for _, t := range st.Tries {
			if t.Execution != id && t.Time.Before(x.Start) {
				victim = t
			}
		}
		if victim != nil && victim.Succeeded && x.Start.Sub(victim.Time) <= Attribution {
			s.fail(st, victim, x.Start, byRollback)
		}
	}
	// Restores: a failure that a rollback or its stage found ends with the next successful
	// deployment there; one an alarm found, when the stage's alarms are all OK again (recordAlarm).
	for _, f := range st.Failures {
		if f.By == byAlarm || !f.Recovered.IsZero() {
			continue
		}
		for _, t := range st.Tries {
			if t.Succeeded && t.Time.After(f.Detected) {
				f.Recovered = t.Time
				break
			}
		}
	}
	for _, t := range st.Tries {
		if t.Failed && !t.FailCounted {
			t.FailCounted = true
			emit(FailedDeployments, 1, "Count", t.Time, t.Execution, s.commitOf(t.Execution))
		}
	}
	for _, f := range st.Failures {
		if !f.Recovered.IsZero() && !f.Done {
			f.Done = true
			emit(RecoveryTime, f.Recovered.Sub(f.Deployed).Seconds(), "Seconds", f.Recovered, f.Execution, f.Commit)
		}
	}
	// What needs the execution's STARTED: rework (a rollback's deployment, or one made while a
	// failure was open) and the pipeline lead time.
	for _, t := range st.Tries {
		x := s.Executions[t.Execution]
		if !t.Succeeded || t.Settled || x == nil || !x.Known {
			continue
		}
		t.Settled = true
		if x.Rollback || st.openAt(t.Time) {
			emit(ReworkDeployments, 1, "Count", t.Time, t.Execution, x.Commit)
		}
		if !x.Rollback {
			emit(PipelineLeadTime, t.Time.Sub(x.Start).Seconds(), "Seconds", t.Time, t.Execution, x.Commit)
		}
	}
	leads, err := s.leads(ctx, st, commits)
	if err != nil {
		return nil, err
	}
	for _, l := range leads {
		emit(LeadTime, l.Value, "Seconds", l.Time, l.Execution, l.Commit)
	}
	return out, nil
}

// leads emits, deployment by deployment in order, the lead time of each commit that a release's
// deployment brought to the stage: its head commit and the parents back to the commits already
// there. A deployment whose commit or STARTED has not come waits, and those after it too, for as
// long as EventBridge may still deliver them.
func (s *State) leads(ctx context.Context, st *Stage, commits Commits) ([]Sample, error) {
	var out []Sample
	for _, t := range st.Tries {
		if !t.Succeeded || t.LeadDone {
			continue
		}
		x := s.Executions[t.Execution]
		switch {
		case x != nil && x.Known && x.Rollback:
			t.LeadDone = true
			continue
		case x == nil || x.Commit == "":
			if s.Latest.Sub(t.Time) > Unheard {
				t.LeadDone = true
				continue
			}
			return out, nil
		}
		found, err := st.walk(ctx, x.Commit, commits)
		if err != nil {
			return nil, err
		}
		t.LeadDone = true
		for _, c := range found {
			if v := t.Time.Sub(c.Committed); v >= 0 {
				out = append(out, Sample{Value: v.Seconds(), Time: t.Time, Execution: t.Execution, Commit: c.ID})
			}
		}
		for _, c := range found {
			if _, ok := st.Delivered[c.ID]; !ok {
				st.Delivered[c.ID] = t.Time
			}
		}
		if _, ok := st.Delivered[x.Commit]; !ok {
			st.Delivered[x.Commit] = t.Time
		}
		st.Tip = x.Commit
	}
	return out, nil
}

// walk returns the commits that head brings to the stage: head and its ancestors back to the
// commits delivered there already. The stage's first known deployment brings its head only: with
// nothing delivered, the whole history would count.
func (st *Stage) walk(ctx context.Context, head string, commits Commits) ([]Commit, error) {
	first := st.Tip == "" && len(st.Delivered) == 0
	var found []Commit
	queue, visited := []string{head}, map[string]bool{}
	for len(queue) > 0 && len(found) < maxWalk {
		id := queue[0]
		queue = queue[1:]
		if _, done := st.Delivered[id]; done || visited[id] || id == st.Tip {
			continue
		}
		visited[id] = true
		c, err := commits.Commit(ctx, id)
		if errors.Is(err, ErrNoCommit) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c.ID = id
		found = append(found, c)
		if !first {
			queue = append(queue, c.Parents...)
		}
	}
	return found, nil
}

// byStart lists the executions oldest first (by start, then first event, then id).
func (s *State) byStart() []string {
	ids := make([]string, 0, len(s.Executions))
	for id := range s.Executions {
		ids = append(ids, id)
	}
	at := func(x *Execution) time.Time {
		if x.Known {
			return x.Start
		}
		return x.First
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := at(s.Executions[ids[i]]), at(s.Executions[ids[j]])
		if !a.Equal(b) {
			return a.Before(b)
		}
		return ids[i] < ids[j]
	})
	return ids
}

// Trim keeps the newest n executions, by first event.
func (s *State) Trim(n int) {
	if len(s.Executions) <= n {
		return
	}
	ids := make([]string, 0, len(s.Executions))
	for id := range s.Executions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return s.Executions[ids[i]].First.After(s.Executions[ids[j]].First) })
	for _, id := range ids[n:] {
		delete(s.Executions, id)
	}
}

// prune forgets what is older than Retention, except open failures (at most maxOpen a stage).
func (s *State) prune() {
	cutoff := s.Latest.Add(-Retention)
	for id, x := range s.Executions {
		if x.First.Before(cutoff) {
			delete(s.Executions, id)
		}
	}
	for _, st := range s.Stages {
		st.Tries = slices.DeleteFunc(st.Tries, func(t *Try) bool { return t.Time.Before(cutoff) })
		st.Runs = slices.DeleteFunc(st.Runs, func(r *Run) bool {
			return r.End.Before(cutoff) && r.Start.Before(cutoff)
		})
		for k, at := range st.Delivered {
			if at.Before(cutoff) {
				delete(st.Delivered, k)
			}
		}
		st.Days = slices.DeleteFunc(st.Days, func(d string) bool { return d < cutoff.UTC().Format(time.DateOnly) })
		st.Failures = slices.DeleteFunc(st.Failures, func(f *Failure) bool { return f.Done && f.Recovered.Before(cutoff) })
		if len(st.Failures) > maxOpen {
			st.Failures = st.Failures[len(st.Failures)-maxOpen:]
		}
	}
}
