// Package dora computes DORA's five software delivery metrics of a pipeline, per deploy stage
// (environment), from its events: the delivery function applies each event as EventBridge delivers
// it and writes the samples to CloudWatch; cmd/dora-replay applies a recorded history and prints
// the totals. Both call State.Apply, so they give the same numbers. docs/metrics.md sets the
// definitions beside dora.dev's, Four Keys' and Apache DevLake's.
//
// What is measured, per deploy stage:
//
//   - Deployments: 1 when the stage's deploy action succeeds (a rollback's too), at that time.
//     DeploymentDays: 1 for each UTC day with a deployment, dated at the day's start.
//   - FailedAttempts: 1 when the deploy action fails, at that time. No deployment: it counts in the
//     deploy success rate, not the change failure rate.
//   - FailedDeployments: 1 when a deployment fails afterwards, dated at the deployment: its stage
//     fails after the deploy action succeeded (the bake's alarm), a rollback of the stage starts
//     while it is the last deploy there, or one of the stage's alarms goes into ALARM while no
//     deploy runs there and it is the last deployment. Found more than Attribution after the
//     deployment, it is not counted.
//   - ReworkDeployments: 1 for a deployment that is a rollback, or made while a failure is open.
//   - LeadTime: per commit a release's deployment brings to the stage (its head commit and the
//     parents back to the commits already there), seconds from the commit's committer date to the
//     deploy action's success: the bake is not included. PipelineLeadTime: per deployment of a
//     release, seconds from its execution's start to the same success.
//   - FailedDeploymentRecoveryTime: per failure, seconds from the failed deployment to the restore,
//     dated at the restore: the next successful deployment there, or, for an alarm's incident,
//     the return of the stage's alarms to OK.
//
// Order: EventBridge delivers at least once and in no guaranteed order. Duplicates are dropped by
// event id. A fact that arrives before what it depends on waits in the state: rework and pipeline
// lead time for the execution's STARTED event (which says whether it is a rollback), a
// deployment's lead time for its commit and for the deployments before it, a rollback's
// attribution for the rollback's own deploy. Events a minute or more apart are assumed to arrive
// in order; the replay command sorts its input by time.
package dora
