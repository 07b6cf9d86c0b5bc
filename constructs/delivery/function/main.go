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
// It needs PIPELINE, STAGES (comma-separated), TABLE and NAMESPACE, and AWS_URL_SUFFIX for
// partitions other than aws. It runs on provided.al2023 with the standard library only.
package main

import (
	"context"
	"os"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/awsapi"
	"github.com/pipekit/cdk-pipeline/internal/lambdart"
)

func main() {
	st := &Store{Client: awsapi.NewClientFromEnv(), Table: os.Getenv("TABLE"), Pipeline: os.Getenv("PIPELINE")}
	stages := strings.Split(os.Getenv("STAGES"), ",")
	namespace := os.Getenv("NAMESPACE")
	lambdart.Start(func(ctx context.Context, event []byte) error {
		return handle(ctx, st, stages, namespace, os.Stdout, event)
	})
}
