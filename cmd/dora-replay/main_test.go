package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora/doratest"
)

// history writes a scenario as the command reads it: its events as delivered and its commits as
// records, newest first, to show that the order of the lines does not matter.
func history(t *testing.T, sc doratest.Scenario) string {
	var lines []string
	for _, raw := range sc.Raw {
		lines = append(lines, string(raw))
	}
	for id, c := range sc.Commits {
		b, err := json.Marshal(map[string]any{"commit": id, "parents": c.Parents, "committed": c.Committed.Format(time.RFC3339)})
		require.NoError(t, err)
		lines = append(lines, string(b))
	}
	slices.Reverse(lines)
	return strings.Join(lines, "\n") + "\n"
}

// TestScenarios: every recorded history gives the totals its definitions give, the same as the
// function's (package function's TestScenarios checks it against the same totals, and against the
// same samples, doratest.Apply).
func TestScenarios(t *testing.T) {
	for _, sc := range doratest.Scenarios(t) {
		t.Run(sc.Name, func(t *testing.T) {
			alarms, err := json.Marshal(sc.Config.Alarms)
			require.NoError(t, err)
			var out, errs bytes.Buffer
			require.Equal(t, 0, run([]string{"-alarms", string(alarms)}, strings.NewReader(history(t, sc)), &out, &errs), errs.String())
			var got map[string]dora.Totals
			require.NoError(t, json.Unmarshal(out.Bytes(), &got))
			assert.Len(t, got, len(sc.Config.Stages))
			same := dora.Summarize(sc.Config.Stages, doratest.Apply(t, sc, sc.Events))
			for _, stage := range sc.Config.Stages {
				want := sc.Want[stage]
				for _, l := range []*[]float64{&want.LeadTimeMinutes, &want.PipelineLeadTimeMinutes, &want.RecoveryMinutes} {
					if *l == nil {
						*l = []float64{}
					}
				}
				assert.Equal(t, want, got[stage], stage)
				assert.Equal(t, *same[stage], got[stage], "%s: the function's code gives the same", stage)
			}
		})
	}
}

// TestOutput: the keys the output promises, for one environment.
func TestOutput(t *testing.T) {
	sc := doratest.Scenarios(t)[0]
	var out, errs bytes.Buffer
	require.Equal(t, 0, run(nil, strings.NewReader(history(t, sc)), &out, &errs), errs.String())
	var got map[string]map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &got))
	require.Contains(t, got, "Deploy")
	for _, key := range []string{"deployments", "deploymentDays", "failedAttempts", "failedDeployments", "reworkDeployments",
		"changeFailureRate", "leadTimeMinutes", "recoveryMinutes"} {
		assert.Contains(t, got["Deploy"], key)
	}
	assert.Equal(t, []any{32.0}, got["Deploy"]["leadTimeMinutes"])
}

// TestBadInput: each mistake is one line naming where it is.
func TestBadInput(t *testing.T) {
	sc := doratest.Scenarios(t)[0]
	for input, want := range map[string]string{
		"not json\n": "dora-replay: line 1: invalid character",
		`{"commit":"c1","committed":"yesterday"}` + "\n":                                                 "line 1: a commit record is",
		`{"something":"else"}` + "\n":                                                                    "line 1: neither an EventBridge event nor a commit record",
		"\n" + strings.ReplaceAll(string(sc.Raw[0]), `"time"`, `"when"`):                                 "line 2: reading the event: no time",
		`{"commit":"c1","parents":[],"committed":"2026-11-25T10:00:00Z"}`:                                "no CodePipeline event in the history",
		string(sc.Raw[0]) + "\n" + strings.ReplaceAll(string(sc.Raw[1]), doratest.PipelineName, "Other"): "the history names pipelines CicdPipeline-Pipeline, Other: choose one with -pipeline",
	} {
		var out, errs bytes.Buffer
		assert.Equal(t, 1, run(nil, strings.NewReader(input), &out, &errs), input)
		assert.Contains(t, errs.String(), want, input)
		assert.Equal(t, 1, strings.Count(errs.String(), "\n"), "one line")
	}
	var out, errs bytes.Buffer
	assert.Equal(t, 2, run([]string{"-alarms", "[1]"}, strings.NewReader(""), &out, &errs))
	assert.Contains(t, errs.String(), "-alarms is not a JSON object")
}
