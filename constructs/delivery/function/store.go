package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
)

// maxExecutions bounds the state beside Retention, so that the item stays far below DynamoDB's
// 400 KB for any pipeline: a thousand executions are a few tens of kilobytes compressed.
const maxExecutions = 1000

// unsentKept is how long a record keeps the samples of a saved event for the invocation that saved
// it: Lambda tries a failed invocation again, with the same request id, until the event is as old
// as the function's maximum event age (at most 6 hours), and no try outlives Lambda's longest
// timeout (15 minutes).
const unsentKept = 6*time.Hour + 15*time.Minute

// errConflict: another invocation wrote the state since it was read.
var errConflict = errors.New("the state changed since it was read")

// DynamoDB is the part of the DynamoDB API that the store calls.
type DynamoDB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Store keeps a pipeline's Record in one DynamoDB item, compressed, with a version: a write succeeds
// only if the item is still the version that was read, so concurrent invocations never lose each
// other's events.
type Store struct {
	DB       DynamoDB
	Table    string
	Pipeline string
	// Now dates the unsent samples; nil means time.Now.
	Now func() time.Time
}

// Record is what the item holds: the computation's State, and the samples of recently saved
// events, kept for the invocations that saved them.
type Record struct {
	dora.State
	Unsent []Unsent `json:"unsent,omitempty"`
}

// Unsent are the samples of one saved event. A conditional write can succeed while its answer is
// lost: the SDK then tries it again and finds the condition failed, and the record it reloads has
// the event in Seen already, so Apply has nothing more to say. An invocation can also fail between
// its write and its samples, and Lambda tries it again. Either way the invocation that saved the
// event (the same Lambda request id) finds its samples here, and writes them.
type Unsent struct {
	Event   string        `json:"event"`
	Request string        `json:"request"`
	Saved   time.Time     `json:"saved"`
	Samples []dora.Sample `json:"samples"`
}

// unsent returns the samples that request saved for event, or nil.
func (r *Record) unsent(event, request string) *Unsent {
	for i, u := range r.Unsent {
		if request != "" && u.Request == request && u.Event == event {
			return &r.Unsent[i]
		}
	}
	return nil
}

// keep adds the samples that request saves for event, and forgets those older than unsentKept.
// Outside Lambda (no request id) nothing can claim them, so nothing is kept.
func (r *Record) keep(event, request string, samples []dora.Sample, now time.Time) {
	var kept []Unsent
	for _, u := range r.Unsent {
		if now.Sub(u.Saved) < unsentKept {
			kept = append(kept, u)
		}
	}
	if request != "" && len(samples) > 0 {
		kept = append(kept, Unsent{Event: event, Request: request, Saved: now, Samples: samples})
	}
	r.Unsent = kept
}

// Load reads the record and its version; a pipeline without an item has version 0. A state of
// another schema (written by an earlier definition of the metrics) starts anew, at its version: the
// executions in flight then are measured in part, and a replay of the archive (docs/metrics.md)
// measures the past again.
func (st *Store) Load(ctx context.Context) (Record, int, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: st.Pipeline}},
	})
	if err != nil || out.Item == nil {
		return Record{}, 0, err
	}
	n, _ := out.Item["version"].(*types.AttributeValueMemberN)
	b, _ := out.Item["state"].(*types.AttributeValueMemberB)
	if n == nil || b == nil {
		return Record{}, 0, errors.New("the state's item has no version or no state")
	}
	version, err := strconv.Atoi(n.Value)
	if err != nil {
		return Record{}, 0, fmt.Errorf("the state's version %q: %w", n.Value, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Value))
	if err != nil {
		return Record{}, 0, fmt.Errorf("reading the state: %w", err)
	}
	var r Record
	if err := json.NewDecoder(zr).Decode(&r); err != nil {
		return Record{}, 0, fmt.Errorf("reading the state: %w", err)
	}
	if r.Schema != dora.SchemaVersion {
		return Record{}, version, nil
	}
	return r, version, nil
}

// Save writes r as the version after version, or returns errConflict.
func (st *Store) Save(ctx context.Context, r Record, version int) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	in := &dynamodb.PutItemInput{
		TableName: aws.String(st.Table),
		Item: map[string]types.AttributeValue{
			"pk":      &types.AttributeValueMemberS{Value: st.Pipeline},
			"version": &types.AttributeValueMemberN{Value: strconv.Itoa(version + 1)},
			"state":   &types.AttributeValueMemberB{Value: buf.Bytes()},
		},
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	}
	if version > 0 {
		in.ConditionExpression = aws.String("version = :v")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.Itoa(version)}}
	}
	_, err := st.DB.PutItem(ctx, in)
	if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); ok {
		return errConflict
	}
	return err
}

func (st *Store) now() time.Time {
	if st.Now == nil {
		return time.Now()
	}
	return st.Now()
}

// Metrics is how the function measures: the pipeline, stages and alarms, the repository that
// answers for commits, and the namespace of the metrics.
type Metrics struct {
	Config    dora.Config
	Commits   dora.Commits
	Namespace string
}

// handle applies one event to the stored state and writes its samples as metrics to out. A
// conflicting write is read and applied again; the samples are written only once the state that
// produced them is saved, so a retried invocation never counts twice, and the invocation that
// saved them writes them even if it never heard that its write succeeded (see Unsent).
func handle(ctx context.Context, st *Store, m Metrics, out io.Writer, raw []byte) error {
	e, err := dora.ParseEvent(raw)
	if err != nil {
		return err
	}
	var request string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		request = lc.AwsRequestID
	}
	for attempt := 0; attempt < 10; attempt++ {
		r, version, err := st.Load(ctx)
		if err != nil {
			return err
		}
		if u := r.unsent(e.ID, request); u != nil {
			return writeSamples(out, m.Namespace, st.Pipeline, u.Samples)
		}
		samples, changed, err := r.Apply(ctx, e, m.Config, m.Commits)
		if err != nil || !changed {
			return err
		}
		r.Trim(maxExecutions)
		r.keep(e.ID, request, samples, st.now())
		switch err := st.Save(ctx, r, version); {
		case errors.Is(err, errConflict):
			continue
		case err != nil:
			return err
		}
		return writeSamples(out, m.Namespace, st.Pipeline, samples)
	}
	return fmt.Errorf("event %s: the state kept changing under 10 attempts", e.ID)
}

func writeSamples(out io.Writer, namespace, pipeline string, samples []dora.Sample) error {
	for _, sample := range samples {
		if err := writeEMF(out, namespace, pipeline, sample); err != nil {
			return err
		}
	}
	return nil
}

// writeEMF writes a sample in CloudWatch's embedded metric format: Lambda sends the line to the
// function's log group, and CloudWatch turns it into a data point of the metric, dated when the
// measured thing happened (CloudWatch takes points up to two weeks old: dora.Attribution keeps a
// failed deployment's date within that), with the dimensions Pipeline and Stage. Execution and
// Commit stay in the log line, to look up what a point is made of.
func writeEMF(w io.Writer, namespace, pipeline string, s dora.Sample) error {
	line, err := json.Marshal(map[string]any{
		"_aws": map[string]any{
			"Timestamp": s.Time.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  namespace,
				"Dimensions": [][]string{{"Pipeline", "Stage"}},
				"Metrics":    []any{map[string]string{"Name": s.Metric, "Unit": s.Unit}},
			}},
		},
		"Pipeline": pipeline, "Stage": s.Stage, s.Metric: s.Value, "Execution": s.Execution, "Commit": s.Commit,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}
