package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Health is the sample app's /health answer.
type Health struct {
	// Status is "ok" when the app serves.
	Status string `json:"status"`
	// Commit is the commit the running release was built from.
	Commit string `json:"commit"`
}

// ServedCommit reads the commit of every /health answer and returns it when they all agree: every
// instance behind the load balancer serves the same release. It fails on a non-ok status.
func ServedCommit(answers [][]byte) (string, error) {
	commits := map[string]int{}
	for _, a := range answers {
		var h Health
		if err := json.Unmarshal(a, &h); err != nil {
			return "", fmt.Errorf("health answer %q: %w", a, err)
		}
		if h.Status != "ok" {
			return "", fmt.Errorf("health status %q", h.Status)
		}
		commits[h.Commit]++
	}
	if len(commits) != 1 {
		return "", fmt.Errorf("instances serve %d commits: %v", len(commits), commits)
	}
	for c := range commits {
		return c, nil
	}
	return "", fmt.Errorf("no health answers")
}

// Execution is a pipeline execution as aws codepipeline list-pipeline-executions lists it.
type Execution struct {
	// ID is the execution id.
	ID string `json:"pipelineExecutionId"`
	// Status is InProgress, Succeeded, Failed, Stopped, Superseded, ...
	Status string `json:"status"`
	// SourceRevisions are the commits the execution runs.
	SourceRevisions []struct {
		ActionName string `json:"actionName"`
		RevisionID string `json:"revisionId"`
	} `json:"sourceRevisions"`
	// Type is STANDARD, or ROLLBACK for the execution a stage's rollback starts; older answers
	// leave it out.
	Type string `json:"executionType"`
	// Rollback names, for a ROLLBACK execution, the execution it rolls the stage back to.
	Rollback struct {
		Target string `json:"rollbackTargetPipelineExecutionId"`
	} `json:"rollbackMetadata"`
}

// finished reports whether an execution's status is final. Executions superseded or stopped count
// as finished.
func finished(status string) bool {
	switch status {
	case "Succeeded", "Failed", "Stopped", "Superseded", "Cancelled":
		return true
	}
	return false
}

// Finished reports the final status of the standard execution that built commit, or "" while
// there is none yet or it still runs. A rollback execution runs an older commit again and is not
// that commit's execution.
func Finished(executions []Execution, commit string) string {
	for _, e := range executions {
		if e.Type == "ROLLBACK" {
			continue
		}
		for _, r := range e.SourceRevisions {
			if r.RevisionID == commit && finished(e.Status) {
				return e.Status
			}
		}
	}
	return ""
}

// RolledBack reports the final status of the rollback execution that returned a stage to the
// execution target, or "" while there is none yet or it still runs.
func RolledBack(executions []Execution, target string) string {
	for _, e := range executions {
		if e.Type == "ROLLBACK" && e.Rollback.Target == target && finished(e.Status) {
			return e.Status
		}
	}
	return ""
}

// Succeeded returns the id of the standard execution of commit that succeeded, or "".
func Succeeded(executions []Execution, commit string) string {
	for _, e := range executions {
		for _, r := range e.SourceRevisions {
			if e.Type != "ROLLBACK" && r.RevisionID == commit && e.Status == "Succeeded" {
				return e.ID
			}
		}
	}
	return ""
}

// EventKinds lists the distinct detail types and states of the events an SQS subscriber received
// (raw message delivery: each body is the EventBridge event), such as
// "CodeDeploy Deployment State-change Notification SUCCESS".
func EventKinds(bodies []string) ([]string, error) {
	seen := map[string]bool{}
	for _, b := range bodies {
		var e struct {
			DetailType string `json:"detail-type"`
			Detail     struct {
				State string `json:"state"`
			} `json:"detail"`
			// Type is "Notification" in the SNS envelope that a subscriber without raw message
			// delivery receives.
			Type string
		}
		if err := json.Unmarshal([]byte(b), &e); err != nil {
			return nil, fmt.Errorf("message %q is not an event: %w", b, err)
		}
		if e.DetailType == "" {
			return nil, fmt.Errorf("message %q is not an event (an SNS envelope %q: is raw message delivery off?)", b, e.Type)
		}
		seen[e.DetailType+" "+e.Detail.State] = true
	}
	kinds := make([]string, 0, len(seen))
	for k := range seen {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds, nil
}

// BreakUnit returns the systemd unit with its ExecStart replaced by /bin/false: a release that
// builds and passes its tests but never starts, which ValidateService must catch.
func BreakUnit(unit string) (string, error) {
	out, found := "", false
	for _, line := range splitLines(unit) {
		if len(line) > 10 && line[:10] == "ExecStart=" {
			line, found = "ExecStart=/bin/false", true
		}
		out += line + "\n"
	}
	if !found {
		return "", fmt.Errorf("the unit has no ExecStart line")
	}
	return out, nil
}

func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}
