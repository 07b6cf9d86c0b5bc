package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pipelineName = "CicdPipeline-Pipeline"

// template reads one of AWS's documented event shapes from testdata.
func template(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// at is a time of the test day, "15:04:05".
func at(t *testing.T, clock string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04:05", "2026-11-25 "+clock)
	require.NoError(t, err)
	return v
}

// event fills a template: the execution, the time, and the fields set.
func event(t *testing.T, name, execution, clock string, set func(detail map[string]any)) Event {
	t.Helper()
	m := template(t, name)
	detail := m["detail"].(map[string]any)
	detail["execution-id"] = execution
	if set != nil {
		set(detail)
	}
	m["time"] = at(t, clock).Format(time.RFC3339)
	m["id"] = fmt.Sprintf("%s/%s/%v/%v/%s", name, execution, detail["stage"], detail["state"], clock)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var e Event
	require.NoError(t, json.Unmarshal(b, &e))
	return e
}

func start(t *testing.T, x, clock string) Event {
	return event(t, "pipeline-started.json", x, clock, nil)
}

func rollback(t *testing.T, x, clock string) Event {
	return event(t, "pipeline-started.json", x, clock, func(d map[string]any) {
		d["execution-trigger"] = map[string]any{"trigger-type": "AutomatedRollback", "trigger-detail": "Deploy"}
	})
}

func ended(t *testing.T, x, clock, state string) Event {
	return event(t, "pipeline-ended.json", x, clock, func(d map[string]any) { d["state"] = state })
}

func stage(t *testing.T, x, name, clock, state string) Event {
	return event(t, "stage-ended.json", x, clock, func(d map[string]any) { d["stage"], d["state"] = name, state })
}

func source(t *testing.T, x, clock, commit string) Event {
	return event(t, "source-succeeded.json", x, clock, func(d map[string]any) {
		d["execution-result"].(map[string]any)["external-execution-id"] = commit
	})
}

// run applies events in order, through a JSON round trip of the state after each as the store
// does, and lists the samples as "Metric Stage value@time", sorted.
func run(t *testing.T, stages []string, events []Event) []string {
	t.Helper()
	var s State
	var out []string
	for _, e := range events {
		samples, _ := s.Apply(e, pipelineName, stages)
		for _, x := range samples {
			out = append(out, fmt.Sprintf("%s %s %g@%s", x.Metric, x.Stage, x.Value, x.Time.Format("15:04:05")))
		}
		b, err := json.Marshal(s)
		require.NoError(t, err)
		s = State{}
		require.NoError(t, json.Unmarshal(b, &s))
	}
	sort.Strings(out)
	return out
}

var deploy = []string{"Deploy"}

// A release: pushed, built, deployed.
func success(t *testing.T) []Event {
	return []Event{
		start(t, "e1", "10:00:00"), source(t, "e1", "10:00:04", "c1"),
		stage(t, "e1", "Deploy", "10:12:00", succeeded), ended(t, "e1", "10:12:01", succeeded),
	}
}

func TestSuccess(t *testing.T) {
	assert.Equal(t, []string{"Deployments Deploy 1@10:12:00", "LeadTime Deploy 720@10:12:00"}, run(t, deploy, success(t)))
}

// A failed deploy (no stage rollback), then a fix that deploys: the fix's deploy also delivers the
// failed change, and restores the environment.
func failureThenRestore(t *testing.T) []Event {
	return append(success(t),
		start(t, "e2", "11:00:00"), source(t, "e2", "11:00:03", "c2"),
		stage(t, "e2", "Deploy", "11:10:00", failed), ended(t, "e2", "11:10:01", failed),
		start(t, "e3", "11:30:00"), source(t, "e3", "11:30:03", "c3"),
		stage(t, "e3", "Deploy", "11:40:00", succeeded), ended(t, "e3", "11:40:02", succeeded),
	)
}

func TestFailureThenRestore(t *testing.T) {
	assert.Equal(t, []string{
		"Deployments Deploy 1@10:12:00", "Deployments Deploy 1@11:10:00", "Deployments Deploy 1@11:40:00",
		"FailedDeployments Deploy 1@11:10:00",
		"LeadTime Deploy 2400@11:40:00", // c2: from 11:00 to the fix's deploy
		"LeadTime Deploy 600@11:40:00",  // c3
		"LeadTime Deploy 720@10:12:00",
		"TimeToRestore Deploy 1800@11:40:00",
	}, run(t, deploy, failureThenRestore(t)))
}

// A failed deploy that the stage rolls back: the rollback execution restores the environment and is
// no deployment of its own; the failed change is delivered by nothing yet.
func failureRolledBack(t *testing.T) []Event {
	return append(success(t),
		start(t, "e2", "11:00:00"), source(t, "e2", "11:00:03", "c2"),
		stage(t, "e2", "Deploy", "11:10:00", failed), ended(t, "e2", "11:10:01", failed),
		rollback(t, "r1", "11:10:02"), stage(t, "r1", "Deploy", "11:15:00", succeeded), ended(t, "r1", "11:15:01", succeeded),
	)
}

func TestRollbackAfterFailure(t *testing.T) {
	assert.Equal(t, []string{
		"Deployments Deploy 1@10:12:00", "Deployments Deploy 1@11:10:00",
		"FailedDeployments Deploy 1@11:10:00",
		"LeadTime Deploy 720@10:12:00",
		"TimeToRestore Deploy 300@11:15:00",
	}, run(t, deploy, failureRolledBack(t)))
}

// A deploy that succeeded, then a bake alarm rolled it back: the release failed when the rollback
// started; it did reach the environment, so its lead time counts.
func bakeRolledBack(t *testing.T) []Event {
	return append(success(t),
		start(t, "e2", "11:00:00"), source(t, "e2", "11:00:03", "c2"),
		stage(t, "e2", "Deploy", "11:10:00", succeeded), ended(t, "e2", "11:10:01", succeeded),
		rollback(t, "r1", "11:20:00"), stage(t, "r1", "Deploy", "11:25:00", succeeded), ended(t, "r1", "11:25:01", succeeded),
	)
}

func TestRollbackAfterBake(t *testing.T) {
	assert.Equal(t, []string{
		"Deployments Deploy 1@10:12:00", "Deployments Deploy 1@11:10:00",
		"FailedDeployments Deploy 1@11:20:00",
		"LeadTime Deploy 600@11:10:00",
		"LeadTime Deploy 720@10:12:00",
		"TimeToRestore Deploy 300@11:25:00",
	}, run(t, deploy, bakeRolledBack(t)))
}

// Two pushes while the first runs: the first execution is superseded, the second deploys both
// changes. The first change's lead time runs from its own start.
func superseded(t *testing.T) []Event {
	return []Event{
		start(t, "e1", "10:00:00"), source(t, "e1", "10:00:04", "c1"),
		start(t, "e2", "10:02:00"), source(t, "e2", "10:02:04", "c2"),
		ended(t, "e1", "10:06:00", "SUPERSEDED"),
		stage(t, "e2", "Deploy", "10:15:00", succeeded), ended(t, "e2", "10:15:01", succeeded),
	}
}

func TestSuperseded(t *testing.T) {
	assert.Equal(t, []string{
		"Deployments Deploy 1@10:15:00",
		"LeadTime Deploy 780@10:15:00",
		"LeadTime Deploy 900@10:15:00",
	}, run(t, deploy, superseded(t)))
}

// Two environments: beta deploys at once, prod after an approval; the same change has a lead time
// in each. A re-run of the deployed commit is a deployment but no new change.
var environments = []string{"Deploy-beta", "Deploy-prod"}

func environmentsAndReruns(t *testing.T) []Event {
	return []Event{
		start(t, "e1", "10:00:00"), source(t, "e1", "10:00:04", "c1"),
		stage(t, "e1", "Deploy-beta", "10:10:00", succeeded),
		stage(t, "e1", "Deploy-prod", "13:00:00", succeeded), ended(t, "e1", "13:00:01", succeeded),
		start(t, "e2", "14:00:00"), source(t, "e2", "14:00:04", "c1"),
		stage(t, "e2", "Deploy-beta", "14:10:00", succeeded), ended(t, "e2", "14:10:05", "STOPPED"),
	}
}

func TestEnvironmentsAndReruns(t *testing.T) {
	assert.Equal(t, []string{
		"Deployments Deploy-beta 1@10:10:00", "Deployments Deploy-beta 1@14:10:00", "Deployments Deploy-prod 1@13:00:00",
		"LeadTime Deploy-beta 600@10:10:00", "LeadTime Deploy-prod 10800@13:00:00",
	}, run(t, environments, environmentsAndReruns(t)))
}

// A failed deploy stage retried by an operator in the same execution: two deployments, one failed,
// restored by the retry, which delivers the change.
func retriedStage(t *testing.T) []Event {
	return append(success(t),
		start(t, "e2", "11:00:00"), source(t, "e2", "11:00:03", "c2"),
		stage(t, "e2", "Deploy", "11:10:00", failed), ended(t, "e2", "11:10:01", failed),
		stage(t, "e2", "Deploy", "11:30:00", succeeded), ended(t, "e2", "11:30:01", succeeded),
	)
}

func TestRetriedStage(t *testing.T) {
	assert.Equal(t, []string{
		"Deployments Deploy 1@10:12:00", "Deployments Deploy 1@11:10:00", "Deployments Deploy 1@11:30:00",
		"FailedDeployments Deploy 1@11:10:00",
		"LeadTime Deploy 1800@11:30:00", "LeadTime Deploy 720@10:12:00",
		"TimeToRestore Deploy 1200@11:30:00",
	}, run(t, deploy, retriedStage(t)))
}

// Events of other pipelines, stages and kinds change nothing; a duplicate delivery counts once.
func TestIgnoredAndDuplicates(t *testing.T) {
	var s State
	other := start(t, "e9", "09:00:00")
	other.Detail.Pipeline = "Another"
	for _, e := range []Event{other, stage(t, "e1", "Build", "10:05:00", succeeded), event(t, "stage-ended.json", "e1", "10:06:00", func(d map[string]any) { d["state"] = "STARTED" })} {
		samples, changed := s.Apply(e, pipelineName, deploy)
		assert.Empty(t, samples)
		assert.False(t, changed, e.ID)
	}
	events := success(t)
	twice := append(append([]Event{}, events...), events...)
	assert.Equal(t, run(t, deploy, events), run(t, deploy, twice))
}

// TestOutOfOrder: EventBridge does not keep order. Events of the same few moments (within a
// minute) arrive in any order, an execution's STARTED event may come last (a retried delivery),
// and every event may come twice: the samples stay the same.
func TestOutOfOrder(t *testing.T) {
	type scenario struct {
		stages []string
		events []Event
	}
	scenarios := map[string]scenario{
		"success": {deploy, success(t)}, "failure then restore": {deploy, failureThenRestore(t)},
		"rollback after failure": {deploy, failureRolledBack(t)}, "rollback after bake": {deploy, bakeRolledBack(t)},
		"superseded": {deploy, superseded(t)}, "environments and reruns": {environments, environmentsAndReruns(t)},
		"retried stage": {deploy, retriedStage(t)},
	}
	rng := rand.New(rand.NewSource(1))
	for name, sc := range scenarios {
		events := sc.events
		want := run(t, sc.stages, events)
		moved := 0
		for i := 0; i < 200; i++ {
			shuffled := localShuffle(rng, events, time.Minute)
			if fmt.Sprint(ids(shuffled)) != fmt.Sprint(ids(events)) {
				moved++
			}
			require.Equal(t, want, run(t, sc.stages, shuffled), "%s, order %v", name, ids(shuffled))
		}
		require.Greater(t, moved, 100, "%s: the shuffles change the order", name)
		for _, e := range events {
			if e.DetailType == pipelineExecution && e.Detail.State == started {
				late := append(without(events, e.ID), e)
				require.Equal(t, want, run(t, sc.stages, late), "%s, %s last", name, e.ID)
			}
		}
		require.Equal(t, want, run(t, sc.stages, append(append([]Event{}, events...), events...)), name+" twice")
	}
}

// localShuffle swaps, many times, two events less than window apart.
func localShuffle(rng *rand.Rand, events []Event, window time.Duration) []Event {
	out := append([]Event{}, events...)
	for n := 0; n < 3*len(out); n++ {
		i := rng.Intn(len(out))
		j := rng.Intn(len(out))
		d := out[i].Time.Sub(out[j].Time)
		if d < 0 {
			d = -d
		}
		if d >= window {
			continue
		}
		// Only if no event between them is a window or more away from either.
		lo, hi := min(i, j), max(i, j)
		ok := true
		for k := lo; k <= hi; k++ {
			for _, x := range []int{i, j} {
				if d := out[k].Time.Sub(out[x].Time); d >= window || d <= -window {
					ok = false
				}
			}
		}
		if ok {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

func without(events []Event, id string) []Event {
	var out []Event
	for _, e := range events {
		if e.ID != id {
			out = append(out, e)
		}
	}
	return out
}

func ids(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

// TestRetention: what is older than Retention is forgotten, so the state stays small.
func TestRetention(t *testing.T) {
	var s State
	for _, e := range success(t) {
		s.Apply(e, pipelineName, deploy)
	}
	require.Len(t, s.Executions, 1)
	later := start(t, "e2", "10:00:00")
	later.Time = later.Time.Add(Retention + time.Hour)
	s.Apply(later, pipelineName, deploy)
	assert.Len(t, s.Executions, 1, "e1 is forgotten")
	assert.Empty(t, s.Stages["Deploy"].Delivered)
	s.trim(0)
	assert.Empty(t, s.Executions)
}
