package e2e

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Recorded answers: testdata/answers holds what the AWS CLI prints for each command the flow runs,
// testdata/events the events the stack routes, each copied from the page named in its doc field.
// The flow must read them, and the fakes must answer in their shapes.

type recorded struct {
	Doc     string          `json:"doc"`
	Note    string          `json:"note"`
	Command string          `json:"command"`
	Output  json.RawMessage `json:"output"`
	Stdout  *string         `json:"stdout"`
	Stderr  string          `json:"stderr"`
	Code    int             `json:"code"`
	Event   json.RawMessage `json:"event"`
}

func loadRecorded(t *testing.T, dir string) map[string][]recorded {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string][]recorded{}
	for _, f := range files {
		var r recorded
		require.NoError(t, readJSON(f, &r), f)
		require.True(t, strings.HasPrefix(r.Doc, "https://"), "%s: the doc link", f)
		key := strings.TrimSuffix(filepath.Base(f), ".json")
		if r.Command != "" {
			fields := strings.Fields(r.Command)
			key = strings.Join(fields[:3], " ")
		}
		out[key] = append(out[key], r)
	}
	return out
}

// shape lists the paths of a JSON value's fields: "a", "a.b", "list[]", "list[].c".
func shape(v any, prefix string, into map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			into[prefix+k] = true
			shape(e, prefix+k+".", into)
		}
	case []any:
		p := strings.TrimSuffix(prefix, ".") + "[]."
		for _, e := range x {
			shape(e, p, into)
		}
	}
}

func shapeOf(t *testing.T, raw []byte) map[string]bool {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(raw, &v), "%s", raw)
	out := map[string]bool{}
	shape(v, "", out)
	return out
}

// missing lists the paths of got that are not in any of the wanted shapes.
func missing(got map[string]bool, want ...map[string]bool) []string {
	var out []string
	for p := range got {
		if !slices.ContainsFunc(want, func(w map[string]bool) bool { return w[p] }) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// TestRecordedAnswers: the flow reads what the documented answers hold, under the names they use.
func TestRecordedAnswers(t *testing.T) {
	answers := loadRecorded(t, "answers")
	one := func(key string) []byte {
		require.NotEmpty(t, answers[key], key)
		return answers[key][0].Output
	}
	decodeInto := func(raw []byte, v any) {
		t.Helper()
		require.NoError(t, decode(string(raw), v))
	}
	var id callerIdentity
	decodeInto(one("aws sts get-caller-identity"), &id)
	assert.Equal(t, "123456789012", id.Account)
	var q createdQueue
	decodeInto(one("aws sqs create-queue"), &q)
	assert.NotEmpty(t, q.QueueUrl)
	var attrs queueAttributes
	decodeInto(one("aws sqs get-queue-attributes"), &attrs)
	assert.NotEmpty(t, attrs.Attributes["QueueArn"])
	var list stackResources
	decodeInto(one("aws cloudformation list-stack-resources"), &list)
	assert.Equal(t, "AWS::S3::Bucket", list.StackResourceSummaries[0].ResourceType)
	assert.NotEmpty(t, list.StackResourceSummaries[0].PhysicalResourceId)
	var b branch
	decodeInto(one("aws codecommit get-branch"), &b)
	assert.Equal(t, "317f8570EXAMPLE", b.Branch.CommitID)
	var f file
	decodeInto(one("aws codecommit get-file"), &f)
	assert.Equal(t, "IyBQaHVzEXAMPLE", f.FileContent)
	var c commit
	decodeInto(one("aws codecommit put-file"), &c)
	assert.Equal(t, "317f8570EXAMPLE", c.CommitID)
	var ds deploymentList
	decodeInto(one("aws deploy list-deployments"), &ds)
	assert.Len(t, ds.Deployments, 3)
	var rolledBack bool
	for _, r := range answers["aws deploy batch-get-deployments"] {
		var infos deploymentInfos
		decodeInto(r.Output, &infos)
		require.NotEmpty(t, infos.DeploymentsInfo)
		rolledBack = rolledBack || infos.DeploymentsInfo[0].Creator == "codeDeployRollback"
	}
	assert.True(t, rolledBack)
	var found bool
	for _, r := range answers["aws codepipeline list-pipeline-executions"] {
		var list executionList
		decodeInto(r.Output, &list)
		require.NotEmpty(t, list.PipelineExecutionSummaries)
		if e := list.PipelineExecutionSummaries[0]; e.Type == "ROLLBACK" {
			found = true
			assert.Equal(t, "4f47bed9-6998-476c-a49d-e60beEXAMPLE", e.Rollback.Target)
			assert.Equal(t, "a7e5d7c1EXAMPLE", e.SourceRevisions[0].RevisionID)
			assert.Equal(t, "Succeeded", RolledBack(list.PipelineExecutionSummaries, e.Rollback.Target))
		}
	}
	assert.True(t, found, "a recorded rollback execution")
	var m messages
	for _, r := range answers["aws sqs receive-message"] {
		if r.Stdout != nil {
			decodeInto([]byte(*r.Stdout), &m)
			assert.Empty(t, m.Messages, "no output is no message")
		} else {
			decodeInto(r.Output, &m)
			assert.Equal(t, "My first message.", m.Messages[0].Body)
		}
	}
	var versions objectVersions
	decodeInto(one("aws s3api list-object-versions"), &versions)
	assert.Len(t, append(versions.Versions, versions.DeleteMarkers...), 2)

	events := loadRecorded(t, "events")
	var bodies []string
	for _, name := range []string{"codepipeline-pipeline-execution", "codedeploy-deployment"} {
		bodies = append(bodies, string(events[name][0].Event))
	}
	kinds, err := EventKinds(bodies)
	require.NoError(t, err)
	assert.Equal(t, []string{"CodeDeploy Deployment State-change Notification SUCCESS", "CodePipeline Pipeline Execution State Change STARTED"}, kinds)
	_, err = EventKinds([]string{string(events["sns-notification"][0].Event)})
	assert.Error(t, err, "the flow reads raw deliveries, not the SNS envelope")
}

// checkShapes checks the answers of a dry run against the recorded ones: every field a fake printed
// is in a recorded answer of the same command, and every message the queue delivered is an event
// of a recorded shape.
func checkShapes(t *testing.T, calls []call) {
	t.Helper()
	answers, events := loadRecorded(t, "answers"), loadRecorded(t, "events")
	shapes := func(key string) []map[string]bool {
		var out []map[string]bool
		for _, r := range answers[key] {
			if r.Output != nil {
				out = append(out, shapeOf(t, r.Output))
			}
		}
		return out
	}
	eventShapes := map[string]map[string]bool{}
	for name, rs := range events {
		eventShapes[name] = shapeOf(t, rs[0].Event)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		key := c.key()
		if c.Name != "aws" || c.Code != 0 || seen[key+c.Stdout] {
			continue
		}
		seen[key+c.Stdout] = true
		if c.Stdout == "" || !slices.Contains(c.Args, "json") {
			continue // nothing printed, or printed as text for a command whose output the flow ignores
		}
		want := shapes(key)
		if !assert.NotEmpty(t, want, "no recorded answer of %s in testdata/answers", key) {
			continue
		}
		assert.Empty(t, missing(shapeOf(t, []byte(c.Stdout)), want...), "fields of %s that no recorded answer has", key)
		if key != "aws sqs receive-message" {
			continue
		}
		var page messages
		require.NoError(t, decode(c.Stdout, &page))
		for _, m := range page.Messages {
			got := shapeOf(t, []byte(m.Body))
			assert.Empty(t, missing(got, eventShapes["codepipeline-pipeline-execution"], eventShapes["codedeploy-deployment"],
				eventShapes["sns-notification"]), "fields of a delivered message that no recorded event has: %s", m.Body)
		}
	}
}
