package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attribute is a DynamoDB attribute value in the JSON protocol.
type attribute struct {
	S string `json:"S,omitempty"`
	N string `json:"N,omitempty"`
	B []byte `json:"B,omitempty"`
}

// fakeTable is DynamoDB as the store uses it: GetItem and a conditional PutItem of one item per
// key, in the JSON protocol. conflicts makes that many PutItems fail as if another writer had won.
// lose drops the answer of that many PutItems, whatever they did, as a network that fails after
// the request arrived: the client sees the connection close.
type fakeTable struct {
	mu        sync.Mutex
	items     map[string]map[string]attribute
	conflicts int
	lose      int
	calls     []string
}

func (f *fakeTable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	f.calls = append(f.calls, target)
	body, _ := io.ReadAll(r.Body)
	var in struct {
		TableName                 string
		ConsistentRead            bool
		Key, Item                 map[string]attribute
		ConditionExpression       string
		ExpressionAttributeValues map[string]attribute
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=a/") || !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/dynamodb/aws4_request") {
		http.Error(w, `{"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"not signed for DynamoDB in eu-west-1"}`, http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal(body, &in); err != nil || in.TableName != "state" || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		http.Error(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"bad request"}`, http.StatusBadRequest)
		return
	}
	fail := func() {
		if f.lose > 0 {
			f.lose--
			hangUp(w)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`))
	}
	switch target {
	case "DynamoDB_20120810.GetItem":
		if !in.ConsistentRead {
			http.Error(w, `{"__type":"ValidationException","message":"want a consistent read"}`, http.StatusBadRequest)
			return
		}
		item := f.items[in.Key["pk"].S]
		_ = json.NewEncoder(w).Encode(map[string]any{"Item": item})
	case "DynamoDB_20120810.PutItem":
		current, exists := f.items[in.Item["pk"].S]
		switch {
		case f.conflicts > 0:
			f.conflicts--
			fail()
			return
		case in.ConditionExpression == "attribute_not_exists(pk)" && exists,
			in.ConditionExpression == "version = :v" && (!exists || current["version"].N != in.ExpressionAttributeValues[":v"].N):
			fail()
			return
		}
		f.items[in.Item["pk"].S] = in.Item
		if f.lose > 0 {
			f.lose--
			hangUp(w)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	default:
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
	}
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// newStore returns a store on the fake table, through the SDK's DynamoDB client with its standard
// retries (three tries for throttling, server and connection errors), without the waits.
func newStore(t *testing.T, table *fakeTable) *Store {
	server := httptest.NewServer(table)
	t.Cleanup(server.Close)
	return &Store{Table: "state", Pipeline: pipelineName, DB: dynamodb.New(dynamodb.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(server.URL), HTTPClient: server.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		}),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})}
}

func raw(t *testing.T, e Event) []byte {
	m := template(t, map[string]string{
		pipelineExecution: "pipeline-started.json", stageExecution: "stage-ended.json", actionExecution: "source-succeeded.json",
	}[e.DetailType])
	m["id"], m["time"] = e.ID, e.Time.Format(time.RFC3339)
	d := m["detail"].(map[string]any)
	d["execution-id"], d["state"] = e.Detail.ExecutionID, e.Detail.State
	if e.Detail.Stage != "" {
		d["stage"] = e.Detail.Stage
	}
	if e.DetailType == actionExecution {
		d["execution-result"].(map[string]any)["external-execution-id"] = e.Detail.Result.ExternalID
	}
	if e.DetailType == pipelineExecution && e.Detail.State != started {
		delete(d, "execution-trigger")
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

// TestHandler: the function keeps the state in the table between invocations, writes each sample
// as an embedded-metric-format line once the state is saved, and retries a conflicting write.
func TestHandler(t *testing.T) {
	table := &fakeTable{items: map[string]map[string]attribute{}}
	st := newStore(t, table)
	var out bytes.Buffer
	ctx := context.Background()
	events := success(t)
	table.conflicts = 2
	for _, e := range events {
		require.NoError(t, handle(ctx, st, deploy, "CdkPipeline/Delivery", &out, raw(t, e)))
	}
	item := table.items[pipelineName]
	assert.Equal(t, "4", item["version"].N, "one write per event that changed the state")
	assert.NotEmpty(t, item["state"].B)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var emf map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &emf))
	assert.Equal(t, map[string]any{
		"Timestamp": float64(at(t, "10:12:00").UnixMilli()),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": "CdkPipeline/Delivery", "Dimensions": []any{[]any{"Pipeline", "Stage"}},
			"Metrics": []any{map[string]any{"Name": "LeadTime", "Unit": "Seconds"}},
		}},
	}, emf["_aws"])
	assert.Equal(t, pipelineName, emf["Pipeline"])
	assert.Equal(t, "Deploy", emf["Stage"])
	assert.Equal(t, 720.0, emf["LeadTime"])
	assert.Equal(t, "c1", emf["Commit"])
	assert.Equal(t, "e1", emf["Execution"])

	// A duplicate delivery reads the state and writes nothing.
	out.Reset()
	calls := len(table.calls)
	require.NoError(t, handle(ctx, st, deploy, "CdkPipeline/Delivery", &out, raw(t, events[2])))
	assert.Empty(t, out.String())
	assert.Equal(t, []string{"DynamoDB_20120810.GetItem"}, table.calls[calls:])

	// The state survives the table: a new invocation continues from it.
	s, version, err := st.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, version)
	assert.Contains(t, s.Executions, "e1")
	assert.Equal(t, "c1", s.Executions["e1"].Commit)
}

// TestHandlerErrors: an unreadable event and a table that keeps changing fail the invocation, so
// Lambda retries it and then keeps it in the dead-letter queue.
func TestHandlerErrors(t *testing.T) {
	table := &fakeTable{items: map[string]map[string]attribute{}, conflicts: 100}
	st := newStore(t, table)
	ctx := context.Background()
	assert.ErrorContains(t, handle(ctx, st, deploy, "ns", io.Discard, []byte("not json")), "reading the event")
	assert.ErrorContains(t, handle(ctx, st, deploy, "ns", io.Discard, raw(t, start(t, "e1", "10:00:00"))), "the state kept changing under 10 attempts")
	st.Table = "other"
	assert.ErrorContains(t, handle(ctx, st, deploy, "ns", io.Discard, raw(t, start(t, "e1", "10:00:00"))), "ValidationException")
}

// invocation is the context of a Lambda invocation with the request id id.
func invocation(id string) context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: id})
}

// failingWriter fails every write, as a function that stops between its save and its samples.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// TestLostAnswers: a conditional write that succeeded but whose answer was lost still counts its
// event, once. The SDK tries the write again and finds the condition failed; or all its tries
// lose their answers and Lambda tries the invocation again, with the same request id; or the
// function stops after its save. Deliveries of the same events by other requests (EventBridge's
// duplicates) write nothing.
func TestLostAnswers(t *testing.T) {
	events := failureThenRestore(t)
	var want bytes.Buffer
	reference := newStore(t, &fakeTable{items: map[string]map[string]attribute{}})
	for i, e := range events {
		require.NoError(t, handle(invocation(fmt.Sprint("r", i)), reference, deploy, "ns", &want, raw(t, e)))
	}
	require.Len(t, strings.Split(strings.TrimSpace(want.String()), "\n"), 8)

	t.Run("the SDK's retry finds its own write", func(t *testing.T) {
		table := &fakeTable{items: map[string]map[string]attribute{}}
		st := newStore(t, table)
		var out bytes.Buffer
		for i, e := range events {
			table.lose = 1
			require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, deploy, "ns", &out, raw(t, e)))
			assert.Zero(t, table.lose, "the write was applied and its answer lost")
		}
		assert.Equal(t, want.String(), out.String())
		assert.Equal(t, fmt.Sprint(len(events)), table.items[pipelineName]["version"].N, "one write per event")

		out.Reset()
		for i, e := range events {
			require.NoError(t, handle(invocation(fmt.Sprint("duplicate", i)), st, deploy, "ns", &out, raw(t, e)))
		}
		assert.Empty(t, out.String(), "another request's delivery of a saved event counts nothing")
	})

	t.Run("Lambda's retry finds the write of the try that failed", func(t *testing.T) {
		table := &fakeTable{items: map[string]map[string]attribute{}}
		st := newStore(t, table)
		var out bytes.Buffer
		for i, e := range events {
			table.lose = 3 // the SDK's three tries: the write, then two failed conditions
			written := out.Len()
			assert.Error(t, handle(invocation(fmt.Sprint("r", i)), st, deploy, "ns", &out, raw(t, e)))
			assert.Equal(t, written, out.Len(), "the try that failed wrote nothing")
			table.lose = 0
			require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, deploy, "ns", &out, raw(t, e)))
		}
		assert.Equal(t, want.String(), out.String())
	})

	t.Run("Lambda's retry after the function stopped between its save and its samples", func(t *testing.T) {
		table := &fakeTable{items: map[string]map[string]attribute{}}
		st := newStore(t, table)
		var out bytes.Buffer
		for i, e := range events {
			if err := handle(invocation(fmt.Sprint("r", i)), st, deploy, "ns", failingWriter{}, raw(t, e)); err != nil {
				require.ErrorIs(t, err, io.ErrClosedPipe)
				require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, deploy, "ns", &out, raw(t, e)))
			}
		}
		assert.Equal(t, want.String(), out.String())
	})
}

// TestUnsentKept: a record keeps an event's samples for the request that saved them, for as long as
// Lambda may try that request again, and only inside Lambda, where a request has an id.
func TestUnsentKept(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	sample := []Sample{{Metric: Deployments, Stage: "Deploy", Value: 1, Unit: "Count", Time: now}}
	var r Record
	r.keep("e1", "r1", sample, now)
	r.keep("e2", "", sample, now)
	r.keep("e3", "r3", nil, now)
	require.Len(t, r.Unsent, 1)
	assert.Equal(t, sample, r.unsent("e1", "r1").Samples)
	assert.Nil(t, r.unsent("e1", "r2"), "another request's")
	assert.Nil(t, r.unsent("e1", ""))
	r.keep("e4", "r4", sample, now.Add(unsentKept-time.Second))
	assert.NotNil(t, r.unsent("e1", "r1"))
	r.keep("e5", "r5", sample, now.Add(unsentKept))
	assert.Nil(t, r.unsent("e1", "r1"), "past every retry")
	assert.Len(t, r.Unsent, 2)
}
