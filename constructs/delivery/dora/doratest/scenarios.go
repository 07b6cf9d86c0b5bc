// Package doratest holds the recorded-event scenarios of the delivery metrics, for the tests of
// package dora, of the delivery function and of cmd/dora-replay: the same histories through each.
package doratest

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
)

//go:embed testdata/*.json
var testdata embed.FS

// The states the events name.
const (
	started   = "STARTED"
	succeeded = "SUCCEEDED"
	failed    = "FAILED"
	alarm     = "ALARM"
)

// The recorded-event scenarios: each is a history of events in AWS's documented shapes
// (testdata/README.md), with the commits the repository holds, and the totals its definitions give,
// worked out by hand in the comments (never copied from the code's output).

// PipelineName is the pipeline of every scenario.
const PipelineName = "CicdPipeline-Pipeline"

// Scenario is a history and what it measures.
type Scenario struct {
	// Name says what happens.
	Name string
	// Config is what is measured: the stages and their alarms.
	Config dora.Config
	// Events are the history, in the order it happened.
	Events []dora.Event
	// Raw are the same events as EventBridge delivers them.
	Raw [][]byte
	// Commits are the repository's commits.
	Commits dora.CommitMap
	// Want are the totals per stage, worked out from the definitions.
	Want map[string]dora.Totals
}

// builder makes the events of one scenario from the recorded shapes.
type builder struct {
	t       testing.TB
	events  []dora.Event
	raw     [][]byte
	commits dora.CommitMap
	n       int
}

// NewBuilder starts a history.
func NewBuilder(t testing.TB) *builder { return &builder{t: t, commits: dora.CommitMap{}} }

// At reads "15:04:05", or "+N 15:04:05" for N days after the scenario's first day.
func At(t testing.TB, clock string) time.Time {
	t.Helper()
	days := 0
	if strings.HasPrefix(clock, "+") {
		var rest string
		_, err := fmt.Sscanf(clock, "+%d %s", &days, &rest)
		require.NoError(t, err)
		clock = rest
	}
	v, err := time.Parse("2006-01-02 15:04:05", "2026-11-25 "+clock)
	require.NoError(t, err)
	return v.AddDate(0, 0, days)
}

func fixture(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

// set replaces a field the recorded shape has: a field it lacks is a shape that changed, and the
// scenario must not paper over it.
func (b *builder) set(m map[string]any, key string, value any) {
	b.t.Helper()
	require.Contains(b.t, m, key, "the recorded shape has no %q", key)
	m[key] = value
}

// add fills a recorded shape and parses it as the function does.
func (b *builder) add(name, clock string, set func(detail map[string]any)) {
	b.t.Helper()
	m := fixture(b.t, name)
	if set != nil {
		set(m["detail"].(map[string]any))
	}
	b.n++
	b.set(m, "time", At(b.t, clock).Format(time.RFC3339))
	b.set(m, "id", fmt.Sprintf("%s-%03d", strings.TrimSuffix(name, ".json"), b.n))
	raw, err := json.Marshal(m)
	require.NoError(b.t, err)
	e, err := dora.ParseEvent(raw)
	require.NoError(b.t, err)
	b.events = append(b.events, e)
	b.raw = append(b.raw, raw)
}

func (b *builder) codepipeline(name, x, clock string, set func(d map[string]any)) {
	b.add(name, clock, func(d map[string]any) {
		b.set(d, "execution-id", x)
		if set != nil {
			set(d)
		}
	})
}

// commit is a commit of the repository, committed at clock.
func (b *builder) commit(id, clock string, parents ...string) {
	b.commits[id] = dora.Commit{ID: id, Parents: parents, Committed: At(b.t, clock)}
}

func (b *builder) start(x, clock string) { b.codepipeline("pipeline-started.json", x, clock, nil) }

// rollback starts a rollback execution, by the stage's failure condition or by an operator.
func (b *builder) rollback(x, clock, trigger string) {
	b.codepipeline("pipeline-started.json", x, clock, func(d map[string]any) {
		b.set(d["execution-trigger"].(map[string]any), "trigger-type", trigger)
	})
}

func (b *builder) ended(x, clock, state string) {
	b.codepipeline("pipeline-ended.json", x, clock, func(d map[string]any) { b.set(d, "state", state) })
}

func (b *builder) source(x, clock, commit string) {
	b.codepipeline("source-succeeded.json", x, clock, func(d map[string]any) {
		b.set(d["execution-result"].(map[string]any), "external-execution-id", commit)
	})
}

func (b *builder) stage(x, stage, clock, state string, attempt int) {
	name := "stage-ended.json"
	if state == started {
		name = "stage-started.json"
	}
	b.codepipeline(name, x, clock, func(d map[string]any) {
		b.set(d, "stage", stage)
		b.set(d, "state", state)
		b.set(d, "pipeline-execution-attempt", attempt)
	})
}

func (b *builder) deploy(x, stage, clock, state string, attempt int) {
	name := "deploy-succeeded.json"
	if state == failed {
		name = "deploy-failed.json"
	}
	b.codepipeline(name, x, clock, func(d map[string]any) {
		b.set(d, "stage", stage)
		b.set(d, "pipeline-execution-attempt", attempt)
	})
}

func (b *builder) alarm(name, clock, state string) {
	b.add("alarm-state-change.json", clock, func(d map[string]any) {
		b.set(d, "alarmName", name)
		b.set(d["state"].(map[string]any), "value", state)
		b.set(d["previousState"].(map[string]any), "value", map[string]string{"ALARM": "OK", "OK": "ALARM"}[state])
	})
}

// release is an execution of commit that deploys to stage at deploy after its stage started five
// minutes before, and bakes until bakeEnd.
func (b *builder) release(x, commit, start, stage, deploy, bakeEnd string) {
	b.start(x, start)
	b.source(x, At(b.t, start).Add(4*time.Second).Format(time.TimeOnly), commit)
	b.stage(x, stage, At(b.t, deploy).Add(-5*time.Minute).Format(time.TimeOnly), started, 1)
	b.deploy(x, stage, deploy, succeeded, 1)
	b.stage(x, stage, bakeEnd, succeeded, 1)
	b.ended(x, At(b.t, bakeEnd).Add(time.Second).Format(time.TimeOnly), succeeded)
}

func (b *builder) scenario(name string, stages []string, alarms map[string][]string, want map[string]dora.Totals) Scenario {
	return Scenario{Name: name, Config: dora.Config{Pipeline: PipelineName, Stages: stages, Alarms: alarms},
		Events: b.events, Raw: b.raw, Commits: b.commits, Want: want}
}

var (
	deploy       = []string{"Deploy"}
	environments = []string{"Deploy-beta", "Deploy-prod"}
	fleetAlarms  = map[string][]string{"Deploy": {"ServerErrors", "SlowResponses"}}
)

// first is the release every scenario starts from: c1, committed at 09:40, deployed at 10:12 by an
// execution that started at 10:00. The stage's first known deployment brings its head commit only.
func first(b *builder) {
	b.commit("c1", "09:40:00", "c0")
	b.release("e1", "c1", "10:00:00", "Deploy", "10:12:00", "10:22:00")
}

// Scenarios are every recorded history the tests replay.
func Scenarios(t testing.TB) []Scenario {
	var out []Scenario
	add := func(s Scenario) { out = append(out, s) }

	// A release: lead time 10:12-09:40 = 32 min from the commit, 12 min from the execution's start.
	b := NewBuilder(t)
	first(b)
	add(b.scenario("success", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 1, DeploymentDays: 1, DeploySuccessRate: 1,
		LeadTimeMinutes: []float64{32}, PipelineLeadTimeMinutes: []float64{12},
	}}))

	// Two commits pushed together after a deployed c0: one execution with head c2, whose deployment
	// brings c2 (10:12-09:58 = 14 min) and c1 (10:12-09:50 = 22 min).
	b = NewBuilder(t)
	b.commit("c0", "09:00:00")
	b.release("e0", "c0", "09:10:00", "Deploy", "09:22:00", "09:32:00")
	b.commit("c1", "09:50:00", "c0")
	b.commit("c2", "09:58:00", "c1")
	b.release("e1", "c2", "10:00:00", "Deploy", "10:12:00", "10:22:00")
	add(b.scenario("two commits pushed together", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 2, DeploymentDays: 1, DeploySuccessRate: 1,
		LeadTimeMinutes: []float64{22, 14, 22}, PipelineLeadTimeMinutes: []float64{12, 12},
	}}))

	// A deploy that failed (CodeDeploy rolled its instances back; no stage rollback), then a fix: a
	// failed attempt, not a deployment and not a change failure; the fix brings c3 (15 min) and c2
	// (50 min).
	b = NewBuilder(t)
	first(b)
	b.commit("c2", "10:50:00", "c1")
	b.start("e2", "11:00:00")
	b.source("e2", "11:00:03", "c2")
	b.stage("e2", "Deploy", "11:02:00", started, 1)
	b.deploy("e2", "Deploy", "11:10:00", failed, 1)
	b.stage("e2", "Deploy", "11:10:01", failed, 1)
	b.ended("e2", "11:10:02", failed)
	b.commit("c3", "11:25:00", "c2")
	b.release("e3", "c3", "11:30:00", "Deploy", "11:40:00", "11:50:00")
	add(b.scenario("failed attempt then a fix", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 2, DeploymentDays: 1, FailedAttempts: 1, DeploySuccessRate: 2.0 / 3,
		LeadTimeMinutes: []float64{32, 15, 50}, PipelineLeadTimeMinutes: []float64{12, 10},
	}}))

	// A failed deploy rolled back by the stage, then fixed forward: the rollback is a deployment and
	// rework; the release before was not what failed, so no change failure and no recovery. The fix
	// brings c3 (12:12-11:40 = 32 min) and c2 (82 min).
	b = NewBuilder(t)
	first(b)
	b.commit("c2", "10:50:00", "c1")
	b.start("e2", "11:00:00")
	b.source("e2", "11:00:03", "c2")
	b.stage("e2", "Deploy", "11:02:00", started, 1)
	b.deploy("e2", "Deploy", "11:10:00", failed, 1)
	b.stage("e2", "Deploy", "11:10:01", failed, 1)
	b.ended("e2", "11:10:02", failed)
	b.rollback("r1", "11:10:40", "AutomatedRollback")
	b.stage("r1", "Deploy", "11:11:00", started, 1)
	b.deploy("r1", "Deploy", "11:15:00", succeeded, 1)
	b.stage("r1", "Deploy", "11:25:00", succeeded, 1)
	b.ended("r1", "11:25:01", succeeded)
	b.commit("c3", "11:40:00", "c2")
	b.release("e3", "c3", "12:00:00", "Deploy", "12:12:00", "12:22:00")
	add(b.scenario("failed deploy rolled back by the stage, then fixed forward", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 3, DeploymentDays: 1, FailedAttempts: 1, DeploySuccessRate: 3.0 / 4,
		ReworkDeployments: 1, ReworkRate: 1.0 / 3,
		LeadTimeMinutes: []float64{32, 32, 82}, PipelineLeadTimeMinutes: []float64{12, 12},
	}}))

	// A deployment the bake rolled back: its alarm went into ALARM during the bake (the bake handles
	// it: no incident of its own), the stage failed, the rollback restored c1 at 11:20. One failed
	// deployment of three (the rollback is one, and rework); recovery 11:20-11:10 = 10 min.
	b = NewBuilder(t)
	first(b)
	b.commit("c2", "10:50:00", "c1")
	b.start("e2", "11:00:00")
	b.source("e2", "11:00:03", "c2")
	b.stage("e2", "Deploy", "11:02:00", started, 1)
	b.deploy("e2", "Deploy", "11:10:00", succeeded, 1)
	b.alarm("ServerErrors", "11:14:00", alarm)
	b.stage("e2", "Deploy", "11:15:00", failed, 1)
	b.ended("e2", "11:15:01", failed)
	b.rollback("r1", "11:15:30", "AutomatedRollback")
	b.stage("r1", "Deploy", "11:16:00", started, 1)
	b.deploy("r1", "Deploy", "11:20:00", succeeded, 1)
	b.alarm("ServerErrors", "11:23:00", "OK")
	b.stage("r1", "Deploy", "11:30:00", succeeded, 1)
	b.ended("r1", "11:30:01", succeeded)
	add(b.scenario("deployment rolled back by its bake", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 3, DeploymentDays: 1, DeploySuccessRate: 1,
		FailedDeployments: 1, ChangeFailureRate: 1.0 / 3, ReworkDeployments: 1, ReworkRate: 1.0 / 3,
		LeadTimeMinutes: []float64{32, 20}, PipelineLeadTimeMinutes: []float64{12, 10}, RecoveryMinutes: []float64{10},
	}}))

	// A release rolled back by hand hours later, then fixed forward. e2 deployed c2 at 11:10; an
	// operator rolled the stage back at 13:50, restored at 13:55: e2 failed (dated 11:10), and the
	// recovery is 13:55-11:10 = 2 h 45 min (counting from the rollback would say 5 min). The fix at
	// 15:12 is made after the restore: no rework. It brings c3 only (c2 reached the stage before).
	b = NewBuilder(t)
	first(b)
	b.commit("c2", "10:50:00", "c1")
	b.release("e2", "c2", "11:00:00", "Deploy", "11:10:00", "11:20:00")
	b.rollback("r1", "13:50:00", "ManualRollback")
	b.stage("r1", "Deploy", "13:51:00", started, 1)
	b.deploy("r1", "Deploy", "13:55:00", succeeded, 1)
	b.stage("r1", "Deploy", "14:05:00", succeeded, 1)
	b.ended("r1", "14:05:01", succeeded)
	b.commit("c3", "14:30:00", "c2")
	b.release("e3", "c3", "15:00:00", "Deploy", "15:12:00", "15:22:00")
	add(b.scenario("release rolled back by hand hours later, then fixed forward", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 4, DeploymentDays: 1, DeploySuccessRate: 1,
		FailedDeployments: 1, ChangeFailureRate: 0.25, ReworkDeployments: 1, ReworkRate: 0.25,
		LeadTimeMinutes: []float64{32, 20, 42}, PipelineLeadTimeMinutes: []float64{12, 10, 12}, RecoveryMinutes: []float64{165},
	}}))

	// A stage that failed, retried by an operator in the same execution (attempt 2): one failed
	// attempt and one deployment, no change failure. c2 arrives at 11:38: 48 min. An alarm during the
	// retry's deploy is the deploy's to handle, not an incident.
	b = NewBuilder(t)
	first(b)
	b.commit("c2", "10:50:00", "c1")
	b.start("e2", "11:00:00")
	b.source("e2", "11:00:03", "c2")
	b.stage("e2", "Deploy", "11:02:00", started, 1)
	b.deploy("e2", "Deploy", "11:10:00", failed, 1)
	b.stage("e2", "Deploy", "11:10:01", failed, 1)
	b.ended("e2", "11:10:02", failed)
	b.stage("e2", "Deploy", "11:30:00", started, 2)
	b.alarm("ServerErrors", "11:35:00", alarm)
	b.alarm("ServerErrors", "11:37:00", "OK")
	b.deploy("e2", "Deploy", "11:38:00", succeeded, 2)
	b.stage("e2", "Deploy", "11:48:00", succeeded, 2)
	b.ended("e2", "11:48:01", succeeded)
	add(b.scenario("stage retried in the same execution", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 2, DeploymentDays: 1, FailedAttempts: 1, DeploySuccessRate: 2.0 / 3,
		LeadTimeMinutes: []float64{32, 48}, PipelineLeadTimeMinutes: []float64{12, 38},
	}}))

	// A hotfix after an alarm, with no rollback. e2 deployed c2 at 11:10 and its bake passed; at
	// 12:00 ServerErrors goes into ALARM (no deploy runs): e2 failed. SlowResponses joins at 12:05.
	// The hotfix c3 deploys at 12:33, while the incident is open: rework. The alarms are OK again at
	// 12:36 and 12:38: recovery 12:38-11:10 = 88 min.
	b = NewBuilder(t)
	first(b)
	b.commit("c2", "10:50:00", "c1")
	b.release("e2", "c2", "11:00:00", "Deploy", "11:10:00", "11:20:00")
	b.alarm("ServerErrors", "12:00:00", alarm)
	b.alarm("SlowResponses", "12:05:00", alarm)
	b.commit("c3", "12:20:00", "c2")
	b.start("e3", "12:21:00")
	b.source("e3", "12:21:04", "c3")
	b.stage("e3", "Deploy", "12:23:00", started, 1)
	b.deploy("e3", "Deploy", "12:33:00", succeeded, 1)
	b.alarm("ServerErrors", "12:36:00", "OK")
	b.alarm("SlowResponses", "12:38:00", "OK")
	b.stage("e3", "Deploy", "12:43:00", succeeded, 1)
	b.ended("e3", "12:43:01", succeeded)
	add(b.scenario("hotfix after an alarm, no rollback", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 3, DeploymentDays: 1, DeploySuccessRate: 1,
		FailedDeployments: 1, ChangeFailureRate: 1.0 / 3, ReworkDeployments: 1, ReworkRate: 1.0 / 3,
		LeadTimeMinutes: []float64{32, 20, 13}, PipelineLeadTimeMinutes: []float64{12, 10, 12}, RecoveryMinutes: []float64{88},
	}}))

	// Two pushes while the first runs after a deployed c0: e1 (c1) is superseded, e2 (c2) deploys
	// both: c2 10:15-10:01 = 14 min, c1 10:15-09:50 = 25 min.
	b = NewBuilder(t)
	b.commit("c0", "09:00:00")
	b.release("e0", "c0", "09:10:00", "Deploy", "09:22:00", "09:32:00")
	b.commit("c1", "09:50:00", "c0")
	b.commit("c2", "10:01:00", "c1")
	b.start("e1", "10:00:00")
	b.source("e1", "10:00:04", "c1")
	b.start("e2", "10:02:00")
	b.source("e2", "10:02:04", "c2")
	b.ended("e1", "10:06:00", "SUPERSEDED")
	b.stage("e2", "Deploy", "10:10:00", started, 1)
	b.deploy("e2", "Deploy", "10:15:00", succeeded, 1)
	b.stage("e2", "Deploy", "10:25:00", succeeded, 1)
	b.ended("e2", "10:25:01", succeeded)
	add(b.scenario("superseded", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 2, DeploymentDays: 1, DeploySuccessRate: 1,
		LeadTimeMinutes: []float64{22, 14, 25}, PipelineLeadTimeMinutes: []float64{12, 13},
	}}))

	// Two environments: beta deploys at once, prod after an approval; the same commit has a lead
	// time in each. A re-run of the deployed commit the next day is a deployment (and a deployment
	// day) but brings no commit. An alarm of prod's concerns prod only.
	b = NewBuilder(t)
	b.commit("c1", "09:40:00", "c0")
	b.start("e1", "10:00:00")
	b.source("e1", "10:00:04", "c1")
	b.stage("e1", "Deploy-beta", "10:05:00", started, 1)
	b.deploy("e1", "Deploy-beta", "10:10:00", succeeded, 1)
	b.stage("e1", "Deploy-beta", "10:20:00", succeeded, 1)
	b.stage("e1", "Deploy-prod", "12:55:00", started, 1)
	b.deploy("e1", "Deploy-prod", "13:00:00", succeeded, 1)
	b.stage("e1", "Deploy-prod", "13:10:00", succeeded, 1)
	b.ended("e1", "13:10:01", succeeded)
	b.alarm("ProdErrors", "13:30:00", alarm)
	b.alarm("ProdErrors", "13:45:00", "OK")
	b.start("e2", "+1 14:00:00")
	b.source("e2", "+1 14:00:04", "c1")
	b.stage("e2", "Deploy-beta", "+1 14:05:00", started, 1)
	b.deploy("e2", "Deploy-beta", "+1 14:10:00", succeeded, 1)
	b.stage("e2", "Deploy-beta", "+1 14:20:00", succeeded, 1)
	b.ended("e2", "+1 14:20:05", "STOPPED")
	add(b.scenario("environments and re-runs", environments, map[string][]string{"Deploy-prod": {"ProdErrors"}}, map[string]dora.Totals{
		// beta: 10:10-09:40 = 30 min; pipeline 10 min twice.
		"Deploy-beta": {Deployments: 2, DeploymentDays: 2, DeploySuccessRate: 1,
			LeadTimeMinutes: []float64{30}, PipelineLeadTimeMinutes: []float64{10, 10}},
		// prod: 13:00-09:40 = 200 min; the alarm at 13:30 fails it, OK at 13:45: 45 min.
		"Deploy-prod": {Deployments: 1, DeploymentDays: 1, DeploySuccessRate: 1, FailedDeployments: 1, ChangeFailureRate: 1,
			LeadTimeMinutes: []float64{200}, PipelineLeadTimeMinutes: []float64{180}, RecoveryMinutes: []float64{45}},
	}))

	// An alarm two weeks after the last deployment: an incident, but no change caused it as far as
	// the pipeline can tell (Attribution): no change failure, no recovery time.
	b = NewBuilder(t)
	first(b)
	b.alarm("ServerErrors", "+14 10:00:00", alarm)
	b.alarm("ServerErrors", "+14 11:00:00", "OK")
	add(b.scenario("alarm long after the last deployment", deploy, fleetAlarms, map[string]dora.Totals{"Deploy": {
		Deployments: 1, DeploymentDays: 1, DeploySuccessRate: 1,
		LeadTimeMinutes: []float64{32}, PipelineLeadTimeMinutes: []float64{12},
	}}))
	return out
}

// Apply applies events to a new state in the order given, through a JSON round trip of the state
// after each, as the function stores it, and returns every sample.
func Apply(t testing.TB, sc Scenario, events []dora.Event) []dora.Sample {
	t.Helper()
	var s dora.State
	var out []dora.Sample
	for _, e := range events {
		samples, _, err := s.Apply(context.Background(), e, sc.Config, sc.Commits)
		require.NoError(t, err)
		out = append(out, samples...)
		b, err := json.Marshal(s)
		require.NoError(t, err)
		s = dora.State{}
		require.NoError(t, json.Unmarshal(b, &s))
	}
	return out
}

// Lines shows samples as "Metric Stage value@time execution commit", sorted, to compare runs.
func Lines(samples []dora.Sample) []string {
	var out []string
	for _, x := range samples {
		out = append(out, fmt.Sprintf("%s %s %g@%s %s %s", x.Metric, x.Stage, x.Value, x.Time.Format("01-02 15:04:05"), x.Execution, x.Commit))
	}
	sort.Strings(out)
	return out
}
