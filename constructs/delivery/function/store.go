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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxExecutions bounds the state beside Retention, so that the item stays far below DynamoDB's
// 400 KB for any pipeline: a thousand executions are a few tens of kilobytes compressed.
const maxExecutions = 1000

// errConflict: another invocation wrote the state since it was read.
var errConflict = errors.New("the state changed since it was read")

// DynamoDB is the part of the DynamoDB API that the store calls.
type DynamoDB interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Store keeps a pipeline's State in one DynamoDB item, compressed, with a version: a write succeeds
// only if the item is still the version that was read, so concurrent invocations never lose each
// other's events.
type Store struct {
	DB       DynamoDB
	Table    string
	Pipeline string
}

// Load reads the state and its version; a pipeline without an item has version 0.
func (st *Store) Load(ctx context.Context) (State, int, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.Table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: st.Pipeline}},
	})
	if err != nil || out.Item == nil {
		return State{}, 0, err
	}
	n, _ := out.Item["version"].(*types.AttributeValueMemberN)
	b, _ := out.Item["state"].(*types.AttributeValueMemberB)
	if n == nil || b == nil {
		return State{}, 0, errors.New("the state's item has no version or no state")
	}
	version, err := strconv.Atoi(n.Value)
	if err != nil {
		return State{}, 0, fmt.Errorf("the state's version %q: %w", n.Value, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b.Value))
	if err != nil {
		return State{}, 0, fmt.Errorf("reading the state: %w", err)
	}
	var s State
	if err := json.NewDecoder(zr).Decode(&s); err != nil {
		return State{}, 0, fmt.Errorf("reading the state: %w", err)
	}
	return s, version, nil
}

// Save writes s as the version after version, or returns errConflict.
func (st *Store) Save(ctx context.Context, s State, version int) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(s); err != nil {
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

// handle applies one event to the stored state and writes its samples as metrics to out. A
// conflicting write is read and applied again; the samples are written only once the state that
// produced them is saved, so a retried invocation never counts twice.
func handle(ctx context.Context, st *Store, stages []string, namespace string, out io.Writer, raw []byte) error {
	var e Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("reading the event: %w", err)
	}
	for attempt := 0; attempt < 10; attempt++ {
		s, version, err := st.Load(ctx)
		if err != nil {
			return err
		}
		samples, changed := s.Apply(e, st.Pipeline, stages)
		if !changed {
			return nil
		}
		s.trim(maxExecutions)
		switch err := st.Save(ctx, s, version); {
		case errors.Is(err, errConflict):
			continue
		case err != nil:
			return err
		}
		return writeSamples(out, namespace, st.Pipeline, samples)
	}
	return fmt.Errorf("event %s: the state kept changing under 10 attempts", e.ID)
}

func writeSamples(out io.Writer, namespace, pipeline string, samples []Sample) error {
	for _, sample := range samples {
		if err := writeEMF(out, namespace, pipeline, sample); err != nil {
			return err
		}
	}
	return nil
}

// writeEMF writes a sample in CloudWatch's embedded metric format: Lambda sends the line to the
// function's log group, and CloudWatch turns it into a data point of the metric, dated when the
// measured thing happened, with the dimensions Pipeline and Stage. Execution and Commit stay in
// the log line, to look up what a point is made of.
func writeEMF(w io.Writer, namespace, pipeline string, s Sample) error {
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
