package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServedCommit(t *testing.T) {
	ok := []byte(`{"status":"ok","version":"7","commit":"abc123","started":"2026-11-25T00:00:00Z"}`)
	c, err := ServedCommit([][]byte{ok, ok})
	require.NoError(t, err)
	assert.Equal(t, "abc123", c)
	_, err = ServedCommit([][]byte{ok, []byte(`{"status":"ok","commit":"def456"}`)})
	assert.ErrorContains(t, err, "instances serve 2 commits")
	_, err = ServedCommit([][]byte{[]byte(`<html>502 Bad Gateway</html>`)})
	assert.ErrorContains(t, err, "health answer")
	_, err = ServedCommit(nil)
	assert.EqualError(t, err, "instances serve 0 commits: map[]")
}

func TestFinished(t *testing.T) {
	e := func(status, commit string) Execution {
		x := Execution{ID: status, Status: status}
		x.SourceRevisions = append(x.SourceRevisions, struct {
			ActionName string `json:"actionName"`
			RevisionID string `json:"revisionId"`
		}{"Source", commit})
		return x
	}
	executions := []Execution{e("InProgress", "c3"), e("Failed", "c2"), e("Succeeded", "c1")}
	assert.Equal(t, "", Finished(executions, "c3"), "still running")
	assert.Equal(t, "Failed", Finished(executions, "c2"))
	assert.Equal(t, "Succeeded", Finished(executions, "c1"))
	assert.Equal(t, "", Finished(executions, "c9"), "not started yet")
	assert.Equal(t, "Succeeded", Succeeded(executions, "c1"))
	assert.Equal(t, "", Succeeded(executions, "c2"))

	// A failed deploy stage rolls back: a ROLLBACK execution runs c1 again, which is not c1's
	// own execution.
	rollback := e("InProgress", "c1")
	rollback.Type, rollback.Rollback.Target = "ROLLBACK", "Succeeded"
	executions = append([]Execution{rollback}, executions...)
	assert.Equal(t, "Succeeded", Finished(executions, "c1"))
	assert.Equal(t, "Succeeded", Succeeded(executions, "c1"))
	assert.Equal(t, "", RolledBack(executions, "Succeeded"), "still rolling back")
	executions[0].Status = "Succeeded"
	assert.Equal(t, "Succeeded", RolledBack(executions, "Succeeded"))
	assert.Equal(t, "", RolledBack(executions, "Failed"), "no rollback to that one")
}

// TestExecutionJSON: the fields as ListPipelineExecutions names them.
func TestExecutionJSON(t *testing.T) {
	var x Execution
	require.NoError(t, json.Unmarshal([]byte(`{"pipelineExecutionId":"b","status":"Succeeded","executionType":"ROLLBACK",
		"rollbackMetadata":{"rollbackTargetPipelineExecutionId":"a"},"sourceRevisions":[{"actionName":"Source","revisionId":"c1"}]}`), &x))
	assert.Equal(t, "ROLLBACK", x.Type)
	assert.Equal(t, "a", x.Rollback.Target)
	assert.Equal(t, "c1", x.SourceRevisions[0].RevisionID)
}

func TestEventKinds(t *testing.T) {
	kinds, err := EventKinds([]string{
		`{"detail-type":"CodePipeline Pipeline Execution State Change","detail":{"state":"SUCCEEDED"}}`,
		`{"detail-type":"CodeDeploy Deployment State-change Notification","detail":{"state":"FAILURE"}}`,
		`{"detail-type":"CodePipeline Pipeline Execution State Change","detail":{"state":"SUCCEEDED"}}`,
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"CodeDeploy Deployment State-change Notification FAILURE", "CodePipeline Pipeline Execution State Change SUCCEEDED"}, kinds)
	_, err = EventKinds([]string{`{"Type":"Notification","Message":"..."`})
	assert.Error(t, err, "an SNS envelope would mean raw delivery is off")
}

// TestBreakUnit breaks the sample app's real unit file.
func TestBreakUnit(t *testing.T) {
	unit, err := os.ReadFile("../sample-app/scripts/sample-app.service")
	require.NoError(t, err)
	broken, err := BreakUnit(string(unit))
	require.NoError(t, err)
	assert.Contains(t, broken, "\nExecStart=/bin/false\n")
	assert.NotContains(t, broken, "/opt/sample-app/bin/sample-app")
	assert.Equal(t, strings.Count(string(unit), "\n"), strings.Count(broken, "\n"))
	_, err = BreakUnit("[Unit]\n")
	assert.Error(t, err)
}
