package dora_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora/doratest"
	"github.com/pipekit/cdk-pipeline/internal/tier"
)

// TestScenarios: each recorded history gives the totals its definitions give.
func TestScenarios(t *testing.T) {
	for _, sc := range doratest.Scenarios(t) {
		t.Run(sc.Name, func(t *testing.T) {
			got := dora.Summarize(sc.Config.Stages, doratest.Apply(t, sc, sc.Events))
			for _, stage := range sc.Config.Stages {
				want := sc.Want[stage]
				for _, l := range []*[]float64{&want.LeadTimeMinutes, &want.PipelineLeadTimeMinutes, &want.RecoveryMinutes} {
					if *l == nil {
						*l = []float64{}
					}
				}
				assert.Equal(t, want, *got[stage], stage)
			}
		})
	}
}

// TestDatedWhenItHappened: a failure is dated at its deployment, whenever it is found; a recovery
// at its restore; every point names its execution and commit, for the logs.
func TestDatedWhenItHappened(t *testing.T) {
	sc := scenario(t, "release rolled back by hand hours later, then fixed forward")
	lines := doratest.Lines(doratest.Apply(t, sc, sc.Events))
	assert.Contains(t, lines, "FailedDeployments Deploy 1@11-25 11:10:00 e2 c2", "dated at e2's deployment, not at the rollback (13:50)")
	assert.Contains(t, lines, "FailedDeploymentRecoveryTime Deploy 9900@11-25 13:55:00 e2 c2", "from the deployment to the restore, naming the failed deployment")
	assert.Contains(t, lines, "ReworkDeployments Deploy 1@11-25 13:55:00 r1 ", "the rollback")
	assert.Contains(t, lines, "DeploymentDays Deploy 1@11-25 00:00:00 e1 c1", "a day, dated at its start")
	assert.Contains(t, lines, "LeadTime Deploy 2520@11-25 15:12:00 e3 c3", "from c3's commit to e3's deploy action")
}

func scenario(t *testing.T, name string) doratest.Scenario {
	for _, sc := range doratest.Scenarios(t) {
		if sc.Name == name {
			return sc
		}
	}
	t.Fatalf("no scenario %q", name)
	return doratest.Scenario{}
}

// TestOutOfOrder: EventBridge does not keep order. Events of the same minute arrive in any order,
// an execution's STARTED event may come last and its source action's after its deployments
// (retried deliveries), and every event may come twice: the samples stay the same.
func TestOutOfOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	shuffles := 50 // each replays a scenario's whole state in JSON, as DynamoDB stores it
	if tier.On() {
		shuffles = 200
	}
	for _, sc := range doratest.Scenarios(t) {
		want := doratest.Lines(doratest.Apply(t, sc, sc.Events))
		moved := 0
		for i := 0; i < shuffles; i++ {
			shuffled := localShuffle(rng, sc.Events, time.Minute)
			if fmt.Sprint(ids(shuffled)) != fmt.Sprint(ids(sc.Events)) {
				moved++
			}
			require.Equal(t, want, doratest.Lines(doratest.Apply(t, sc, shuffled)), "%s, order %v", sc.Name, ids(shuffled))
		}
		require.Greater(t, moved, shuffles/2, "%s: the shuffles change the order", sc.Name)
		for _, e := range sc.Events {
			if e.DetailType == dora.PipelineExecution && e.State == "STARTED" {
				late := append(without(sc.Events, e.ID), e)
				require.Equal(t, want, doratest.Lines(doratest.Apply(t, sc, late)), "%s, %s last", sc.Name, e.ID)
			}
		}
		// A source action's event delivered after its execution's deployments and later ones (a
		// retried delivery):
		// the lead times wait for it (the points emitted before it name no commit in their log line).
		totals := dora.Summarize(sc.Config.Stages, doratest.Apply(t, sc, sc.Events))
		for i, e := range sc.Events {
			if e.Category != dora.SourceCategory {
				continue
			}
			// Up to twelve hours late: after every event of the next twelve hours (EventBridge retries
			// for a day; the state waits as long).
			late := slices.Delete(slices.Clone(sc.Events), i, i+1)
			at := i
			for at < len(late) && late[at].Time.Before(e.Time.Add(12*time.Hour)) {
				at++
			}
			late = slices.Insert(late, at, e)
			require.Equal(t, totals, dora.Summarize(sc.Config.Stages, doratest.Apply(t, sc, late)), "%s, %s after its deployments", sc.Name, e.ID)
		}
		require.Equal(t, want, doratest.Lines(doratest.Apply(t, sc, append(slices.Clone(sc.Events), sc.Events...))), sc.Name+" twice")
	}
}

// localShuffle swaps, many times, two events less than window apart.
func localShuffle(rng *rand.Rand, events []dora.Event, window time.Duration) []dora.Event {
	out := slices.Clone(events)
	for n := 0; n < 3*len(out); n++ {
		i, j := rng.Intn(len(out)), rng.Intn(len(out))
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

func without(events []dora.Event, id string) []dora.Event {
	return slices.DeleteFunc(slices.Clone(events), func(e dora.Event) bool { return e.ID == id })
}

func ids(events []dora.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.ID)
	}
	return out
}

// TestIgnored: events of other pipelines, stages, alarms and kinds change nothing.
func TestIgnored(t *testing.T) {
	sc := scenario(t, "success")
	var s dora.State
	for _, e := range sc.Events {
		other := e
		other.Pipeline, other.ID = "Another", "other-"+e.ID
		samples, changed, err := s.Apply(context.Background(), other, sc.Config, sc.Commits)
		require.NoError(t, err)
		assert.Empty(t, samples)
		assert.False(t, changed, e.ID)
	}
	for _, e := range []dora.Event{
		{ID: "a", Source: dora.PipelineSource, DetailType: dora.StageExecution, Pipeline: doratest.PipelineName, Execution: "e1", Stage: "Build", State: "SUCCEEDED", Time: time.Now()},
		{ID: "b", Source: dora.PipelineSource, DetailType: dora.ActionExecution, Pipeline: doratest.PipelineName, Execution: "e1", Stage: "Build", Category: "Build", State: "SUCCEEDED", Time: time.Now()},
		{ID: "c", Source: dora.AlarmSource, DetailType: dora.AlarmStateChange, Alarm: "SomeoneElses", AlarmState: "ALARM", Time: time.Now()},
		{ID: "d", Source: "aws.codedeploy", DetailType: "CodeDeploy Deployment State-change Notification", Time: time.Now()},
	} {
		_, changed, err := s.Apply(context.Background(), e, sc.Config, sc.Commits)
		require.NoError(t, err)
		assert.False(t, changed, e.ID)
	}
}

// TestOpenFailuresOutliveRetention: an outage longer than Retention still yields its recovery time.
func TestOpenFailuresOutliveRetention(t *testing.T) {
	sc := scenario(t, "success")
	events := slices.Clone(sc.Events)
	alarmAt := func(clock, state string) dora.Event {
		raw, err := os.ReadFile("doratest/testdata/alarm-state-change.json")
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(raw, &m))
		d := m["detail"].(map[string]any)
		d["alarmName"] = "ServerErrors"
		d["state"].(map[string]any)["value"] = state
		m["time"], m["id"] = doratest.At(t, clock).Format(time.RFC3339), clock
		raw, err = json.Marshal(m)
		require.NoError(t, err)
		e, err := dora.ParseEvent(raw)
		require.NoError(t, err)
		return e
	}
	// An execution starts in between, past Retention: the state is pruned, the open failure kept.
	later := sc.Events[0]
	later.ID, later.Execution, later.Time = "later", "e9", doratest.At(t, "+36 09:00:00")
	events = append(events, alarmAt("12:12:00", "ALARM"), later, alarmAt("+40 12:12:00", "OK"))
	lines := doratest.Lines(doratest.Apply(t, sc, events))
	assert.Contains(t, lines, fmt.Sprintf("FailedDeploymentRecoveryTime Deploy %g@01-04 12:12:00 e1 c1", (40*24*time.Hour+2*time.Hour).Seconds()))
}

// TestParseEvent: the documented shapes parse, and an alarm event in another shape is refused
// rather than read as nothing.
func TestParseEvent(t *testing.T) {
	raw, err := os.ReadFile("doratest/testdata/alarm-state-change.json")
	require.NoError(t, err)
	e, err := dora.ParseEvent(raw)
	require.NoError(t, err)
	assert.Equal(t, dora.Event{ID: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92", DetailType: dora.AlarmStateChange, Source: dora.AlarmSource,
		Time: time.Date(2026, 11, 25, 17, 4, 40, 0, time.UTC), Alarm: "CicdPipeline-ServerErrors", AlarmState: "ALARM"}, e)

	flat := strings.Replace(string(raw), `"state": {`, `"state": "ALARM", "stateObject": {`, 1)
	_, err = dora.ParseEvent([]byte(flat))
	assert.ErrorContains(t, err, "reading the CloudWatch Alarm State Change event")
	_, err = dora.ParseEvent([]byte(`{"commit":"c1","parents":[],"committed":"2026-11-25T10:00:00Z"}`))
	assert.ErrorContains(t, err, "not an EventBridge event")
}

// TestParseGitDate: CodeCommit's dates are git's raw "<seconds> <offset>".
func TestParseGitDate(t *testing.T) {
	d, err := dora.ParseGitDate("1484167798 -0800")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2017, 1, 11, 20, 49, 58, 0, time.UTC), d.UTC())
	assert.Equal(t, "2017-01-11T12:49:58-08:00", d.Format(time.RFC3339))
	for _, bad := range []string{"2017-01-11T12:49:58-08:00", "1484167798", "1484167798 0800", "x -0800"} {
		_, err := dora.ParseGitDate(bad)
		assert.Error(t, err, bad)
	}
}
