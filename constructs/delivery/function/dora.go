package main

import (
	"slices"
	"sort"
	"time"
)

// The event types and states the computation reads (CodePipeline user guide, "Monitoring
// CodePipeline events").
const (
	pipelineExecution = "CodePipeline Pipeline Execution State Change"
	stageExecution    = "CodePipeline Stage Execution State Change"
	actionExecution   = "CodePipeline Action Execution State Change"

	started   = "STARTED"
	succeeded = "SUCCEEDED"
	failed    = "FAILED"
)

// The metrics, with their units in CloudWatch.
const (
	Deployments       = "Deployments"
	FailedDeployments = "FailedDeployments"
	LeadTime          = "LeadTime"
	TimeToRestore     = "TimeToRestore"
)

// Retention is how long the state remembers an execution, a delivered change or an open failure,
// counted back from the newest event: a change that reaches no environment within it is not
// counted, nor is an outage longer than it.
const Retention = 35 * 24 * time.Hour

// seenEvents is how many event ids the state keeps to drop EventBridge's duplicate deliveries.
const seenEvents = 500

// Event is the part of a CodePipeline event that the computation reads.
type Event struct {
	ID         string    `json:"id"`
	DetailType string    `json:"detail-type"`
	Source     string    `json:"source"`
	Time       time.Time `json:"time"`
	Detail     struct {
		Pipeline    string `json:"pipeline"`
		ExecutionID string `json:"execution-id"`
		Stage       string `json:"stage"`
		Action      string `json:"action"`
		State       string `json:"state"`
		Trigger     struct {
			Type string `json:"trigger-type"`
		} `json:"execution-trigger"`
		Type struct {
			Category string `json:"category"`
		} `json:"type"`
		Result struct {
			// ExternalID is, for a source action, the commit it read.
			ExternalID string `json:"external-execution-id"`
		} `json:"execution-result"`
	} `json:"detail"`
}

// Sample is one data point of a metric, at the time the thing it measures happened.
type Sample struct {
	Metric string
	// Stage is the deploy stage, which stands for its environment.
	Stage string
	Value float64
	// Unit is Count or Seconds.
	Unit string
	Time time.Time
	// Execution and Commit say what the sample is about, for the logs.
	Execution, Commit string
}

// State is everything the computation remembers between events. It is stored as one JSON
// document, and Apply gives the same samples whatever order the events of a few minutes arrive
// in (see the package documentation).
type State struct {
	// Seen are the ids of the latest events, newest last.
	Seen []string `json:"seen,omitempty"`
	// Latest is the newest event time, the clock of Retention (not the wall clock, so that a
	// replay gives the same answer).
	Latest     time.Time             `json:"latest"`
	Executions map[string]*Execution `json:"executions,omitempty"`
	Stages     map[string]*Stage     `json:"stages,omitempty"`
}

// Execution is what the events said of one pipeline execution.
type Execution struct {
	// First is the time of its first event, for Retention when STARTED never comes.
	First time.Time `json:"first"`
	// Start is the time of its STARTED event; Known says that event came.
	Start time.Time `json:"start,omitempty"`
	Known bool      `json:"known,omitempty"`
	// Rollback marks an execution that a stage's rollback started (trigger AutomatedRollback or
	// ManualRollback); it deploys an older release again and is no change of its own.
	Rollback bool `json:"rollback,omitempty"`
	// Commit is the commit its source action read, when that event came.
	Commit string `json:"commit,omitempty"`
	// End is its latest final state (SUCCEEDED, FAILED, SUPERSEDED, STOPPED, CANCELED), once
	// known, and EndTime when it came: a failed execution that is retried ends again.
	End     string    `json:"end,omitempty"`
	EndTime time.Time `json:"endTime,omitempty"`
	// Results are its deploy stages' outcomes, by stage, oldest first: a failed stage may be
	// retried and succeed.
	Results map[string][]*Result `json:"results,omitempty"`
}

// last returns the stage's latest result at or before t, or nil.
func (x *Execution) last(stage string, t time.Time) *Result {
	var last *Result
	for _, r := range x.Results[stage] {
		if !r.Time.After(t) {
			last = r
		}
	}
	return last
}

// success returns the time of the stage's first successful result, or the zero time.
func (x *Execution) success(stage string) time.Time {
	for _, r := range x.Results[stage] {
		if r.State == succeeded {
			return r.Time
		}
	}
	return time.Time{}
}

// Result is the outcome of one deploy stage in one execution.
type Result struct {
	State string    `json:"state"`
	Time  time.Time `json:"time"`
	// Counted: its deployment (or, for a rollback execution, its attribution) was emitted.
	Counted bool `json:"counted,omitempty"`
	// Failed: it counts as a failed deployment, by its own failure or a later rollback.
	Failed bool `json:"failed,omitempty"`
}

// Stage is the memory of one environment.
type Stage struct {
	// Delivered maps change keys (commits, and execution ids) that reached the environment to
	// when they did.
	Delivered map[string]time.Time `json:"delivered,omitempty"`
	// Open are failures not yet restored; Successes the recent successful deploys there.
	Open      []time.Time `json:"open,omitempty"`
	Successes []time.Time `json:"successes,omitempty"`
}

// Apply records e and returns the samples that it completes, and whether the state changed.
// stages are the deploy stages, one per environment; pipeline is the pipeline's name. Events of
// other pipelines, stages or kinds, and events seen before, change nothing.
func (s *State) Apply(e Event, pipeline string, stages []string) ([]Sample, bool) {
	if e.Source != "aws.codepipeline" || e.Detail.Pipeline != pipeline || e.Detail.ExecutionID == "" || slices.Contains(s.Seen, e.ID) {
		return nil, false
	}
	if !s.record(e, stages) {
		return nil, false
	}
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
	for _, stage := range stages {
		out = append(out, s.settle(stage)...)
	}
	s.prune()
	return out, true
}

// record stores what e says, and reports whether it said anything the computation uses.
func (s *State) record(e Event, stages []string) bool {
	d := e.Detail
	switch {
	case e.DetailType == pipelineExecution:
	case e.DetailType == stageExecution && slices.Contains(stages, d.Stage) && (d.State == succeeded || d.State == failed):
	case e.DetailType == actionExecution && d.Type.Category == "Source" && d.State == succeeded && d.Result.ExternalID != "":
	default:
		return false
	}
	if s.Executions == nil {
		s.Executions = map[string]*Execution{}
	}
	x := s.Executions[d.ExecutionID]
	if x == nil {
		x = &Execution{First: e.Time, Results: map[string][]*Result{}}
		s.Executions[d.ExecutionID] = x
	}
	if e.Time.Before(x.First) {
		x.First = e.Time
	}
	if x.Results == nil {
		x.Results = map[string][]*Result{}
	}
	switch e.DetailType {
	case pipelineExecution:
		switch d.State {
		case started:
			x.Known, x.Start = true, e.Time
			x.Rollback = d.Trigger.Type == "AutomatedRollback" || d.Trigger.Type == "ManualRollback"
		case succeeded, failed, "SUPERSEDED", "STOPPED", "CANCELED":
			if !e.Time.Before(x.EndTime) {
				x.End, x.EndTime = d.State, e.Time
			}
		default:
			return false
		}
	case stageExecution:
		rs := append(x.Results[d.Stage], &Result{State: d.State, Time: e.Time})
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Time.Before(rs[j].Time) })
		x.Results[d.Stage] = rs
	case actionExecution:
		x.Commit = d.Result.ExternalID
	}
	return true
}

// settle emits what the facts now known complete for one stage: deployments, failures, rollbacks,
// lead times and restores.
func (s *State) settle(stage string) []Sample {
	if s.Stages == nil {
		s.Stages = map[string]*Stage{}
	}
	st := s.Stages[stage]
	if st == nil {
		st = &Stage{}
		s.Stages[stage] = st
	}
	if st.Delivered == nil {
		st.Delivered = map[string]time.Time{}
	}
	ids := s.byStart()
	var out []Sample
	sample := func(metric string, value float64, unit string, at time.Time, id string) {
		out = append(out, Sample{Metric: metric, Stage: stage, Value: value, Unit: unit, Time: at, Execution: id, Commit: s.Executions[id].Commit})
	}
	// A release's deployment, and its failure. A retried stage is another deployment.
	for _, id := range ids {
		x := s.Executions[id]
		if !x.Known || x.Rollback {
			continue
		}
		for _, r := range x.Results[stage] {
			if r.Counted {
				continue
			}
			r.Counted = true
			sample(Deployments, 1, "Count", r.Time, id)
			if r.State == failed {
				r.Failed = true
				sample(FailedDeployments, 1, "Count", r.Time, id)
				st.Open = append(st.Open, r.Time)
			} else {
				st.Successes = append(st.Successes, r.Time)
			}
		}
	}
	// A rollback, once it finished: the release that was at the stage when it started failed, if
	// its deployment had not failed already (a bake's alarm, or an operator's rollback). Waiting
	// for the rollback's own end gives that release's result time to arrive.
	for _, id := range ids {
		x := s.Executions[id]
		if !x.Known || !x.Rollback {
			continue
		}
		for _, r := range x.Results[stage] {
			victim, v, ready := s.atStage(stage, x.Start)
			if r.Counted || !ready {
				continue
			}
			r.Counted = true
			if v != nil && !v.Failed {
				v.Failed = true
				sample(FailedDeployments, 1, "Count", x.Start, victim)
				st.Open = append(st.Open, x.Start)
			}
			if r.State == succeeded {
				st.Successes = append(st.Successes, r.Time)
			}
		}
	}
	s.deliver(stage, st, ids, sample)
	// Restores: the failures before each success, from the first of them.
	sort.Slice(st.Successes, func(i, j int) bool { return st.Successes[i].Before(st.Successes[j]) })
	sort.Slice(st.Open, func(i, j int) bool { return st.Open[i].Before(st.Open[j]) })
	var still []time.Time
	var from time.Time
	for i, f := range st.Open {
		k := sort.Search(len(st.Successes), func(k int) bool { return st.Successes[k].After(f) })
		if k == len(st.Successes) {
			still = append(still, f)
			continue
		}
		if from.IsZero() {
			from = f
		}
		// The last failure before this success closes the outage.
		if i+1 == len(st.Open) || !st.Open[i+1].Before(st.Successes[k]) {
			out = append(out, Sample{Metric: TimeToRestore, Stage: stage, Value: st.Successes[k].Sub(from).Seconds(), Unit: "Seconds", Time: st.Successes[k]})
			from = time.Time{}
		}
	}
	st.Open = still
	return out
}

// deliver emits the lead time of each change that reached the stage: a release reaches it with its
// own successful deploy there, or, once its execution ended without one (superseded, failed,
// stopped), with the first successful deploy there of an execution that started after it, whose
// commit contains it. A change counts once, from the first execution that carried it.
func (s *State) deliver(stage string, st *Stage, ids []string, sample func(string, float64, string, time.Time, string)) {
	type change struct {
		start, at time.Time
		ids       []string
	}
	changes := map[string]*change{}
	var keys []string
	// A commit that an execution not known yet also carries waits for it: that one may have
	// started first.
	waiting := map[string]bool{}
	for _, x := range s.Executions {
		if !x.Known && x.Commit != "" {
			waiting[x.Commit] = true
		}
	}
	for _, id := range ids {
		x := s.Executions[id]
		if !x.Known || x.Rollback {
			continue
		}
		key := id
		if x.Commit != "" {
			key = x.Commit
		}
		if _, done := st.Delivered[key]; done || waiting[key] {
			continue
		}
		if _, done := st.Delivered[id]; done {
			continue
		}
		at := x.success(stage)
		if at.IsZero() && (x.End == "" || x.End == succeeded) {
			// Still running (or retried), or its own success there has not arrived yet.
			continue
		}
		for _, later := range ids {
			y := s.Executions[later]
			if t := y.success(stage); y.Known && !y.Rollback && !y.Start.Before(x.Start) && !t.IsZero() && (at.IsZero() || t.Before(at)) {
				at = t
			}
		}
		if at.IsZero() {
			continue
		}
		c := changes[key]
		if c == nil {
			c = &change{start: x.Start, at: at}
			changes[key] = c
			keys = append(keys, key)
		}
		if x.Start.Before(c.start) {
			c.start = x.Start
		}
		if at.Before(c.at) {
			c.at = at
		}
		c.ids = append(c.ids, id)
	}
	for _, key := range keys {
		c := changes[key]
		st.Delivered[key] = c.at
		for _, id := range c.ids {
			st.Delivered[id] = c.at
		}
		sample(LeadTime, c.at.Sub(c.start).Seconds(), "Seconds", c.at, c.ids[0])
	}
}

// atStage returns the standard execution whose deploy to stage finished last before t, and that
// result: the release a rollback that started at t takes back. It is not ready while an execution
// with a result there before t is not known yet: it may be that release.
func (s *State) atStage(stage string, t time.Time) (string, *Result, bool) {
	var best string
	var last *Result
	for id, x := range s.Executions {
		r := x.last(stage, t)
		if r == nil || x.Rollback {
			continue
		}
		if !x.Known {
			return "", nil, false
		}
		if last == nil || r.Time.After(last.Time) || (r.Time.Equal(last.Time) && id > best) {
			best, last = id, r
		}
	}
	return best, last, true
}

// byStart lists the executions oldest first (by start, then first event, then id), so that
// samples come out in a stable order.
func (s *State) byStart() []string {
	ids := make([]string, 0, len(s.Executions))
	for id := range s.Executions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := s.Executions[ids[i]], s.Executions[ids[j]]
		ta, tb := a.Start, b.Start
		if !a.Known {
			ta = a.First
		}
		if !b.Known {
			tb = b.First
		}
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return ids[i] < ids[j]
	})
	return ids
}

// trim keeps the newest n executions, by first event.
func (s *State) trim(n int) {
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

// prune forgets what is older than Retention.
func (s *State) prune() {
	cutoff := s.Latest.Add(-Retention)
	for id, x := range s.Executions {
		if x.First.Before(cutoff) {
			delete(s.Executions, id)
		}
	}
	for _, st := range s.Stages {
		for k, at := range st.Delivered {
			if at.Before(cutoff) {
				delete(st.Delivered, k)
			}
		}
		st.Open = slices.DeleteFunc(st.Open, func(t time.Time) bool { return t.Before(cutoff) })
		st.Successes = slices.DeleteFunc(st.Successes, func(t time.Time) bool { return t.Before(cutoff) })
	}
}
