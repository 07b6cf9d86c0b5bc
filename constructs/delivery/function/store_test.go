package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	miniserver "github.com/truora/minidyn/server"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora/doratest"
)

// attribute is a DynamoDB attribute value in the JSON protocol.
type attribute struct {
	S string `json:"S,omitempty"`
	N string `json:"N,omitempty"`
	B []byte `json:"B,omitempty"`
}

// fakeTable is DynamoDB as the store uses it: GetItem and PutItem of one item per key, in the JSON
// protocol, signed for DynamoDB in eu-west-1. minidyn's DynamoDB emulation (package
// github.com/truora/minidyn/server) keeps the items and evaluates each write's ConditionExpression
// as DynamoDB does: a write whose condition fails is refused with ConditionalCheckFailedException,
// an expression value the expression does not use with ValidationException, an unknown table with
// ResourceNotFoundException.
//
// The fake is stricter than DynamoDB in one way: it refuses a PutItem without a
// ConditionExpression, because every write of the store must be conditional (Store.Save), and a
// test against a table that takes any write cannot see a lost update.
//
// conflicts makes that many PutItems find another invocation's write first: before the store's
// write arrives, another writer saves the item a version later (or creates it), as a concurrent
// invocation would, so that only the store's condition keeps it from overwriting that write. lose
// drops the answer of that many PutItems, whatever they did, as a network that fails after the
// request arrived: the client sees the connection close.
type fakeTable struct {
	mu        sync.Mutex
	db        *miniserver.Server
	conflicts int
	lose      int
	calls     []string
	// others counts the other writer's writes.
	others int
}

// newFakeTable returns an empty table "state" keyed by the string pk, as the construct makes it.
func newFakeTable(t *testing.T) *fakeTable {
	f := &fakeTable{db: miniserver.NewServer()}
	code, body := f.direct("CreateTable", map[string]any{
		"TableName": "state", "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}},
		"KeySchema":            []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}},
	})
	require.Equal(t, http.StatusOK, code, string(body))
	return f
}

// direct calls the emulation itself, as the test and the other writer do: no signature, no faults.
func (f *fakeTable) direct(operation string, input any) (int, []byte) {
	body, err := json.Marshal(input)
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Amz-Target", "DynamoDB_20120810."+operation)
	r.Header.Set("Content-Type", "application/x-amz-json-1.0")
	w := httptest.NewRecorder()
	f.db.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

// item returns the stored item of the pipeline pk, or nil.
func (f *fakeTable) item(pk string) map[string]attribute {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.get(pk)
}

func (f *fakeTable) get(pk string) map[string]attribute {
	code, body := f.direct("GetItem", map[string]any{"TableName": "state", "ConsistentRead": true, "Key": map[string]attribute{"pk": {S: pk}}})
	var out struct{ Item map[string]attribute }
	if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
		panic(fmt.Sprintf("fakeTable: reading %s: %d %s", pk, code, body))
	}
	return out.Item
}

// otherWriter saves the item of pk a version later, keeping its state, or creates it with a new
// state, as another invocation that applied an event of its own would; its write is conditional,
// like the store's.
func (f *fakeTable) otherWriter(pk string) {
	in := map[string]any{"TableName": "state"}
	if current := f.get(pk); current != nil {
		version, err := strconv.Atoi(current["version"].N)
		if err != nil {
			panic(err)
		}
		current["version"] = attribute{N: strconv.Itoa(version + 1)}
		in["Item"], in["ConditionExpression"] = current, "version = :v"
		in["ExpressionAttributeValues"] = map[string]attribute{":v": {N: strconv.Itoa(version)}}
	} else {
		var state bytes.Buffer
		zw := gzip.NewWriter(&state)
		if err := json.NewEncoder(zw).Encode(Record{State: dora.State{Schema: dora.SchemaVersion}}); err != nil || zw.Close() != nil {
			panic("fakeTable: encoding a state")
		}
		in["Item"] = map[string]attribute{"pk": {S: pk}, "version": {N: "1"}, "state": {B: state.Bytes()}}
		in["ConditionExpression"] = "attribute_not_exists(pk)"
	}
	if code, body := f.direct("PutItem", in); code != http.StatusOK {
		panic(fmt.Sprintf("fakeTable: the other writer: %d %s", code, body))
	}
	f.others++
}

func (f *fakeTable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	target := r.Header.Get("X-Amz-Target")
	f.calls = append(f.calls, target)
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var in struct {
		ConsistentRead      bool
		Item                map[string]attribute
		ConditionExpression string
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=a/") || !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/dynamodb/aws4_request") {
		http.Error(w, `{"__type":"com.amazon.coral.service#MissingAuthenticationTokenException","message":"not signed for DynamoDB in eu-west-1"}`, http.StatusBadRequest)
		return
	}
	if err := json.Unmarshal(body, &in); err != nil || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" {
		http.Error(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"bad request"}`, http.StatusBadRequest)
		return
	}
	switch target {
	case "DynamoDB_20120810.GetItem":
		if !in.ConsistentRead {
			http.Error(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"the store reads its state consistently"}`, http.StatusBadRequest)
			return
		}
	case "DynamoDB_20120810.PutItem":
		if in.ConditionExpression == "" {
			http.Error(w, `{"__type":"com.amazon.coral.validate#ValidationException","message":"every write of the state is conditional: this PutItem has no ConditionExpression"}`, http.StatusBadRequest)
			return
		}
		if f.conflicts > 0 {
			f.conflicts--
			f.otherWriter(in.Item["pk"].S)
		}
		if f.lose > 0 {
			f.lose--
			f.db.ServeHTTP(httptest.NewRecorder(), r)
			hangUp(w)
			return
		}
	default:
		http.Error(w, `{"__type":"com.amazon.coral.service#UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	f.db.ServeHTTP(w, r)
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
	return &Store{Table: "state", Pipeline: doratest.PipelineName, DB: dynamodb.New(dynamodb.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(server.URL), HTTPClient: server.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		}),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})}
}

// scenario returns a recorded history by name, and how the function measures it: its stages and
// alarms, the repository on a fake CodeCommit that holds its commits.
func scenario(t *testing.T, name string) (doratest.Scenario, Metrics, *fakeCodeCommit) {
	t.Helper()
	for _, sc := range doratest.Scenarios(t) {
		if sc.Name == name {
			cc := &fakeCodeCommit{commits: sc.Commits}
			return sc, Metrics{Config: sc.Config, Commits: newRepository(t, cc), Namespace: "CdkPipeline/Delivery"}, cc
		}
	}
	t.Fatalf("no scenario %q", name)
	return doratest.Scenario{}, Metrics{}, nil
}

// emfSamples reads the embedded-metric-format lines back into samples, as CloudWatch would.
func emfSamples(t *testing.T, out string) []dora.Sample {
	t.Helper()
	var samples []dora.Sample
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var emf struct {
			AWS struct {
				Timestamp         int64
				CloudWatchMetrics []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}
			} `json:"_aws"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &emf))
		var fields map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &fields))
		require.Len(t, emf.AWS.CloudWatchMetrics, 1, line)
		directive := emf.AWS.CloudWatchMetrics[0]
		require.Equal(t, [][]string{{"Pipeline", "Stage"}}, directive.Dimensions)
		require.Len(t, directive.Metrics, 1)
		name := directive.Metrics[0].Name
		value, ok := fields[name].(float64)
		require.True(t, ok, "the line holds the value of %s: %s", name, line)
		samples = append(samples, dora.Sample{Metric: name, Stage: fields["Stage"].(string), Value: value, Unit: directive.Metrics[0].Unit,
			Time: time.UnixMilli(emf.AWS.Timestamp).UTC(), Execution: fields["Execution"].(string), Commit: fields["Commit"].(string)})
	}
	return samples
}

// TestScenarios: every recorded history, event by event through the handler (the AWS SDK's clients
// against a fake DynamoDB and a fake CodeCommit), gives the totals its definitions give; the
// metrics CloudWatch would extract from the log lines are the samples of package dora.
func TestScenarios(t *testing.T) {
	for _, sc := range doratest.Scenarios(t) {
		t.Run(sc.Name, func(t *testing.T) {
			_, m, _ := scenario(t, sc.Name)
			st := newStore(t, newFakeTable(t))
			var out bytes.Buffer
			for i, raw := range sc.Raw {
				require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, m, &out, raw))
			}
			samples := emfSamples(t, out.String())
			assert.Equal(t, doratest.Lines(doratest.Apply(t, sc, sc.Events)), doratest.Lines(samples))
			got := dora.Summarize(sc.Config.Stages, samples)
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

// TestHandler: the function keeps the state in the table between invocations, writes each sample
// as an embedded-metric-format line once the state is saved, and retries a conflicting write.
func TestHandler(t *testing.T) {
	sc, m, cc := scenario(t, "success")
	table := newFakeTable(t)
	st := newStore(t, table)
	var out bytes.Buffer
	ctx := context.Background()
	table.conflicts = 2
	for _, raw := range sc.Raw {
		require.NoError(t, handle(ctx, st, m, &out, raw))
	}
	item := table.item(doratest.PipelineName)
	assert.Equal(t, 2, table.others, "another invocation wrote first, twice")
	assert.Equal(t, "7", item["version"].N, "the other writer's two writes, and one write per event used: start, source, stage start, deploy, stage end (not the pipeline's end)")
	assert.Equal(t, []string{"c1"}, cc.asked, "the head commit, once")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, "deployment, deployment day, pipeline lead time, lead time")
	var emf map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[3]), &emf))
	assert.Equal(t, map[string]any{
		"Timestamp": float64(doratest.At(t, "10:12:00").UnixMilli()),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": "CdkPipeline/Delivery", "Dimensions": []any{[]any{"Pipeline", "Stage"}},
			"Metrics": []any{map[string]any{"Name": "LeadTime", "Unit": "Seconds"}},
		}},
	}, emf["_aws"])
	assert.Equal(t, doratest.PipelineName, emf["Pipeline"])
	assert.Equal(t, "Deploy", emf["Stage"])
	assert.Equal(t, 1920.0, emf["LeadTime"])
	assert.Equal(t, "c1", emf["Commit"])
	assert.Equal(t, "e1", emf["Execution"])

	// A duplicate delivery reads the state and writes nothing.
	out.Reset()
	calls := len(table.calls)
	require.NoError(t, handle(ctx, st, m, &out, sc.Raw[3]))
	assert.Empty(t, out.String())
	assert.Equal(t, []string{"DynamoDB_20120810.GetItem"}, table.calls[calls:])

	// The state survives the table: a new invocation continues from it.
	s, version, err := st.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, 7, version)
	assert.Contains(t, s.Executions, "e1")
	assert.Equal(t, "c1", s.Executions["e1"].Commit)
}

// TestStateOfAnotherSchema: a state written by an earlier definition starts anew, at its version,
// so that the next write still checks it.
func TestStateOfAnotherSchema(t *testing.T) {
	sc, m, _ := scenario(t, "success")
	table := newFakeTable(t)
	st := newStore(t, table)
	ctx := context.Background()
	old := Record{}
	old.Seen = []string{"an-old-event"}
	require.NoError(t, st.Save(ctx, old, 0), "a state of schema 0")
	r, version, err := st.Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, version)
	assert.Empty(t, r.Seen)
	require.NoError(t, handle(ctx, st, m, io.Discard, sc.Raw[0]))
	assert.Equal(t, "2", table.item(doratest.PipelineName)["version"].N)
}

// TestHandlerErrors: an unreadable event, a table that keeps changing, a table that refuses and a
// repository that fails fail the invocation, so Lambda retries it and then keeps it in the
// dead-letter queue.
func TestHandlerErrors(t *testing.T) {
	sc, m, cc := scenario(t, "success")
	table := newFakeTable(t)
	table.conflicts = 100
	st := newStore(t, table)
	ctx := context.Background()
	assert.ErrorContains(t, handle(ctx, st, m, io.Discard, []byte("not json")), "reading the event")
	assert.ErrorContains(t, handle(ctx, st, m, io.Discard, sc.Raw[0]), "the state kept changing under 10 attempts")
	st.Table = "other"
	assert.ErrorContains(t, handle(ctx, st, m, io.Discard, sc.Raw[0]), "ResourceNotFoundException")

	st.Table, table.conflicts, cc.fail = "state", 0, true
	var err error
	for _, raw := range sc.Raw {
		if err = handle(ctx, st, m, io.Discard, raw); err != nil {
			break
		}
	}
	assert.ErrorContains(t, err, "reading commit c1 of sample-app")
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
	sc, m, _ := scenario(t, "release rolled back by hand hours later, then fixed forward")
	var want bytes.Buffer
	reference := newStore(t, newFakeTable(t))
	for i, raw := range sc.Raw {
		require.NoError(t, handle(invocation(fmt.Sprint("r", i)), reference, m, &want, raw))
	}
	require.Greater(t, len(strings.Split(strings.TrimSpace(want.String()), "\n")), 10)

	t.Run("the SDK's retry finds its own write", func(t *testing.T) {
		table := newFakeTable(t)
		st := newStore(t, table)
		var out bytes.Buffer
		writes := 0
		for i, raw := range sc.Raw {
			before := table.item(doratest.PipelineName)["version"].N
			table.lose = 1
			require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, m, &out, raw))
			if table.item(doratest.PipelineName)["version"].N != before {
				writes++
				assert.Zero(t, table.lose, "the write was applied and its answer lost")
			}
		}
		assert.Equal(t, want.String(), out.String())
		assert.Equal(t, fmt.Sprint(writes), table.item(doratest.PipelineName)["version"].N, "one write per event used")

		out.Reset()
		for i, raw := range sc.Raw {
			require.NoError(t, handle(invocation(fmt.Sprint("duplicate", i)), st, m, &out, raw))
		}
		assert.Empty(t, out.String(), "another request's delivery of a saved event counts nothing")
	})

	t.Run("Lambda's retry finds the write of the try that failed", func(t *testing.T) {
		table := newFakeTable(t)
		st := newStore(t, table)
		var out bytes.Buffer
		for i, raw := range sc.Raw {
			before := table.item(doratest.PipelineName)["version"].N
			table.lose = 3 // the SDK's three tries: the write, then two failed conditions
			written := out.Len()
			err := handle(invocation(fmt.Sprint("r", i)), st, m, &out, raw)
			table.lose = 0
			if table.item(doratest.PipelineName)["version"].N == before {
				continue // an event the computation does not use: nothing written, nothing lost
			}
			assert.Error(t, err)
			assert.Equal(t, written, out.Len(), "the try that failed wrote nothing")
			require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, m, &out, raw))
		}
		assert.Equal(t, want.String(), out.String())
	})

	t.Run("Lambda's retry after the function stopped between its save and its samples", func(t *testing.T) {
		table := newFakeTable(t)
		st := newStore(t, table)
		var out bytes.Buffer
		for i, raw := range sc.Raw {
			if err := handle(invocation(fmt.Sprint("r", i)), st, m, failingWriter{}, raw); err != nil {
				require.ErrorIs(t, err, io.ErrClosedPipe)
				require.NoError(t, handle(invocation(fmt.Sprint("r", i)), st, m, &out, raw))
			}
		}
		assert.Equal(t, want.String(), out.String())
	})
}

// TestUnsentKept: a record keeps an event's samples for the request that saved them, for as long as
// Lambda may try that request again, and only inside Lambda, where a request has an id.
func TestUnsentKept(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	sample := []dora.Sample{{Metric: dora.Deployments, Stage: "Deploy", Value: 1, Unit: "Count", Time: now}}
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

// TestFakeTableIsStrict: the fake refuses a write without a condition, and judges a condition as
// DynamoDB does, through the SDK's own client.
func TestFakeTableIsStrict(t *testing.T) {
	table := newFakeTable(t)
	db := newStore(t, table).DB
	ctx := context.Background()
	put := func(version string, condition string, values map[string]types.AttributeValue) error {
		in := &dynamodb.PutItemInput{TableName: aws.String("state"), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "p"}, "version": &types.AttributeValueMemberN{Value: version},
		}, ExpressionAttributeValues: values}
		if condition != "" {
			in.ConditionExpression = aws.String(condition)
		}
		_, err := db.PutItem(ctx, in)
		return err
	}
	v := func(n string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: n}}
	}
	assert.ErrorContains(t, put("1", "", nil), "no ConditionExpression")
	require.NoError(t, put("1", "attribute_not_exists(pk)", nil))
	_, conflict := errors.AsType[*types.ConditionalCheckFailedException](put("1", "attribute_not_exists(pk)", nil))
	assert.True(t, conflict, "the item exists")
	_, conflict = errors.AsType[*types.ConditionalCheckFailedException](put("3", "version = :v", v("2")))
	assert.True(t, conflict, "version 1 is not 2")
	require.NoError(t, put("2", "version = :v", v("1")))
	assert.ErrorContains(t, put("3", "version = :v", map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: "2"}, ":w": &types.AttributeValueMemberN{Value: "2"}}),
		"ValidationException", "an unused expression value")
	assert.Equal(t, "2", table.item("p")["version"].N)
}
