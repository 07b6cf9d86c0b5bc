// Package e2e is the end-to-end test for a scratch AWS account: it deploys the default stack
// (continuous deployment, an SQS subscriber), waits for the first release, pushes a change and
// checks that the application serves it, pushes a release that cannot start and checks that
// CodeDeploy rolled it back, the Deploy stage rolled back to the last good execution, and the
// previous release still serves, checks that the queue received the pipeline and deployment
// events, and destroys the stack, whatever step failed. The real run is behind the build tag e2e:
//
//	go test -tags e2e -timeout 3h -v ./e2e -args -delete-retained
//
// It needs Node.js (npx cdk), Go, git, the AWS CLI v2 and credentials for an account and region
// that cdk bootstrap has prepared. It prints its plan (Plan: expected duration, costed resources)
// before it creates anything. -delete-retained also deletes what the stack keeps when it is
// destroyed (repository, buckets, log groups; keys are scheduled for deletion). It has not been
// run on AWS yet: see docs/runtime.md.
//
// The same flow runs in go test ./... as a dry run, against fake aws and npx commands first on
// PATH that play the synthesized stack (dryrun_test.go), and the real run runs it first. The
// checks that read what AWS answers are plain functions (checks.go); Layout maps this checkout's
// files to their paths in the repository the stack seeds.
package e2e
