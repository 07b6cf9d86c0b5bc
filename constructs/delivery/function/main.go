// Command function computes the four DORA measures of a pipeline from its CodePipeline events,
// for package delivery: deployment frequency, lead time for changes, change failure rate and
// time to restore, per deploy stage (one per environment). EventBridge invokes it with each
// pipeline execution event, each deploy stage's SUCCEEDED or FAILED event, and each source
// action's SUCCEEDED event, which names the commit. It keeps what it needs in one DynamoDB item
// and writes each data point as an embedded-metric-format line, which CloudWatch turns into a
// metric.
//
// What is measured:
//
//   - Deployments: 1 when a deploy stage of a release (not of a rollback) ends, succeeded or failed,
//     at that time. A retried stage is another deployment.
//   - FailedDeployments: 1 when such a deploy fails, at that time; or, for a deploy that
//     succeeded, when a rollback of that stage starts (a bake's alarm, or an operator): the release
//     at the stage when the rollback started failed.
//   - LeadTime: seconds from the start of the first execution that carried a commit to the end of
//     the first successful deploy, in that stage, of an execution that contains it: its own, or,
//     when its execution ended without one (superseded, failed, stopped), a later one's. Commits
//     pushed together count as one change: CodePipeline runs the newest.
//   - TimeToRestore: seconds from the first failure after a successful deploy in a stage to the
//     next successful deploy there, of a rollback or of a release.
//
// Order: EventBridge delivers at least once and in no guaranteed order. Duplicates are dropped by
// event id. A fact that arrives before what it depends on waits in the state: an execution's
// stage results until its STARTED event (which says whether it is a rollback), a change until its
// execution ends or deploys and every execution that carries its commit is known, a rollback's
// attribution until the rollback itself ends. Events
// minutes apart (one deploy and the next in a stage, a failure and its restore) are assumed to
// arrive in order.
//
// Exactly once: the samples of an event are written by the invocation that saved the state they
// came from, after the save, and also when that invocation never heard that its save succeeded
// (see Unsent in store.go).
//
// It needs PIPELINE, STAGES (comma-separated), TABLE and NAMESPACE. It runs on provided.al2023
// with aws-lambda-go, and calls DynamoDB with the AWS SDK for Go v2.
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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func main() {
	h, err := setup(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(h)
}

// setup is the function's start-up, once per execution environment: its settings, the
// configuration of its region and role, the DynamoDB client, and the handler of each event.
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
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	st := &Store{DB: dynamodb.NewFromConfig(cfg), Table: table, Pipeline: pipeline}
	deploys := strings.Split(stages, ",")
	return func(ctx context.Context, event json.RawMessage) error {
		return handle(ctx, st, deploys, namespace, os.Stdout, event)
	}, nil
}
