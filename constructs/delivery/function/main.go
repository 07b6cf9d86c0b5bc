// Command function computes DORA's five delivery metrics of a pipeline, for package delivery, per
// deploy stage (one per environment), with package dora: EventBridge invokes it with each pipeline
// execution's STARTED event, each deploy stage's start and end, each source action's success (which
// names the commit), each deploy action's success or failure, and each change of state of the
// environments' alarms. It reads commits with codecommit:GetCommit, keeps what it needs in one
// DynamoDB item, and writes each data point as an embedded-metric-format line, which CloudWatch
// turns into a metric. cmd/dora-replay computes the same from a recorded history.
//
// Exactly once: the samples of an event are written by the invocation that saved the state they
// came from, after the save, and also when that invocation never heard that its save succeeded
// (see Unsent in store.go).
//
// It needs PIPELINE, STAGES (comma-separated), TABLE and NAMESPACE; ALARMS (a JSON object of
// stage to alarm names) and REPOSITORY (the CodeCommit repository's name) are optional. It runs on
// provided.al2023 with aws-lambda-go, and calls DynamoDB and CodeCommit with the AWS SDK for Go v2.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/codecommit"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pipekit/cdk-pipeline/constructs/delivery/dora"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(h)
}

// setup is the function's start-up, once per execution environment: its settings, the
// configuration of its region and role, the clients, and the handler of each event.
func setup(ctx context.Context) (func(context.Context, json.RawMessage) error, error) {
	var missing []string
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	pipeline, stages, table, namespace := env("PIPELINE"), env("STAGES"), env("TABLE"), env("NAMESPACE")
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s not set", strings.Join(missing, ", "))
	}
	m := Metrics{Config: dora.Config{Pipeline: pipeline, Stages: strings.Split(stages, ",")}, Namespace: namespace, Commits: noRepository{}}
	if alarms := os.Getenv("ALARMS"); alarms != "" {
		if err := json.Unmarshal([]byte(alarms), &m.Config.Alarms); err != nil {
			return nil, fmt.Errorf("ALARMS is not a JSON object of stage to alarm names: %w", err)
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if repo := os.Getenv("REPOSITORY"); repo != "" {
		m.Commits = &Repository{API: codecommit.NewFromConfig(cfg), Name: repo}
	}
	st := &Store{DB: dynamodb.NewFromConfig(cfg), Table: table, Pipeline: pipeline}
	return func(ctx context.Context, event json.RawMessage) error {
		return handle(ctx, st, m, os.Stdout, event)
	}, nil
}
