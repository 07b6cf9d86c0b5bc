package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/require"
)

// The flow of the end-to-end test. TestDeployedPipeline runs it on AWS (build tag e2e); the dry run
// runs the same code against fake aws and npx commands first on PATH (dryrun_test.go).

// T is what the flow needs of a test: a *testing.T, or the dry run's recorder, which lets a failure
// happen without failing the test that injected it.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	FailNow()
	Cleanup(func())
	TempDir() string
	Deadline() (time.Time, bool)
}

const stack = "CicdPipeline"

// Config is what differs between a real run and a dry run.
type Config struct {
	// Root is the app's root, where npx cdk runs.
	Root string
	// Suffix names the queue and the repository.
	Suffix string
	// Layout places this checkout's files in the repository.
	Layout Layout
	// SelfUpdate deploys the pipeline that deploys itself (-c selfUpdate=true), whose repository
	// holds this app with the sample app in sample-app/ (Layout{SeedDir: "."}).
	SelfUpdate bool
	// DeleteRetained also deletes what the stack retains when it is destroyed.
	DeleteRetained bool
	// Poll is the pause between two looks at the pipeline's executions.
	Poll time.Duration
	// HealthPause is the pause between two rounds of /health requests, HealthTimeout the limit of
	// one request.
	HealthPause, HealthTimeout time.Duration
	// ReceiveWait is the long poll of one SQS receive, in seconds (SQS takes 0 to 20).
	ReceiveWait int
	// Limits are how long each wait may take.
	Limits Limits
	// CleanupReserve is the time kept, before go test's -timeout, for destroying the stack: a wait
	// that would run into it gives up early, because a test that times out runs no cleanup.
	CleanupReserve time.Duration
}

// Limits bound the waits of the flow.
type Limits struct {
	// Release is the limit for an execution to finish (once per release, three releases).
	Release time.Duration
	// Served is the limit for every instance to serve a release (twice), RolledBackServed for the
	// previous release to serve again after the rollback.
	Served, RolledBackServed time.Duration
	// Rollback is the limit for the Deploy stage's rollback execution.
	Rollback time.Duration
}

// Longest is the most the flow waits in all.
func (l Limits) Longest() time.Duration {
	return 3*l.Release + 2*l.Served + l.RolledBackServed + l.Rollback
}

// RealConfig is the configuration of a run on AWS.
func RealConfig(root string, deleteRetained bool) Config {
	return Config{
		Root: root, Suffix: time.Now().UTC().Format("0102-150405"), Layout: Seeded, DeleteRetained: deleteRetained,
		Poll: 30 * time.Second, HealthPause: 15 * time.Second, HealthTimeout: 10 * time.Second, ReceiveWait: 10,
		Limits:         Limits{Release: 45 * time.Minute, Served: 10 * time.Minute, RolledBackServed: 5 * time.Minute, Rollback: 30 * time.Minute},
		CleanupReserve: 30 * time.Minute,
	}
}

// WithSelfUpdate is c for the pipeline that deploys itself.
func (c Config) WithSelfUpdate() Config {
	c.SelfUpdate, c.Layout = true, Layout{SeedDir: "."}
	return c
}

// plan is what the run deploys.
func (c Config) plan() Plan {
	if c.SelfUpdate {
		return SelfUpdating
	}
	return Default
}

// deployArgs are the arguments of the deploy: the test's settings on top of cdk.json's.
func deployArgs(c Config, repository, queueARN, outputs string) []string {
	notifications := fmt.Sprintf(`[{"protocol":"sqs","endpoint":%q}]`, queueARN)
	args := []string{"cdk", "deploy", stack, "--require-approval", "never", "--outputs-file", outputs,
		"-c", "terminationProtection=false", "-c", "approval=false", "-c", "repositoryName=" + repository, "-c", "notifications=" + notifications}
	if c.SelfUpdate {
		args = append(args, "-c", "selfUpdate=true")
	}
	return args
}

// deployedPipeline is the whole story; see the package documentation.
func deployedPipeline(t T, c Config) {
	t.Logf("%s", c.plan().Describe(stack, c.Limits.Longest()))
	if d, ok := t.Deadline(); ok && time.Until(d) < c.plan().Expected()+c.CleanupReserve {
		t.Logf("go test's -timeout ends in %s, less than the expected duration and the time kept for the cleanup: a long wait gives up early",
			time.Until(d).Round(time.Minute))
	}
	account := awsJSON[callerIdentity](t, "sts", "get-caller-identity").Account

	// The SQS subscriber: the queue policy lets SNS of this account deliver.
	queueName := "cdk-pipeline-e2e-" + c.Suffix
	queueURL := awsJSON[createdQueue](t, "sqs", "create-queue", "--queue-name", queueName).QueueUrl
	t.Cleanup(func() { run(t, "", "aws", "sqs", "delete-queue", "--queue-url", queueURL) })
	queueARN := awsJSON[queueAttributes](t, "sqs", "get-queue-attributes", "--queue-url", queueURL,
		"--attribute-names", "QueueArn").Attributes["QueueArn"]
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": queueARN,
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
	}}})
	attributes, _ := json.Marshal(map[string]string{"Policy": string(policy)})
	run(t, "", "aws", "sqs", "set-queue-attributes", "--queue-url", queueURL, "--attributes", string(attributes))

	repository := "e2e-" + c.Suffix
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	// Registered before the deploy: a deploy that fails halfway leaves a stack to delete.
	t.Cleanup(func() { destroy(t, c, repository) })
	run(t, c.Root, "npx", deployArgs(c, repository, queueARN, outputs)...)

	var out map[string]map[string]string
	b, err := os.ReadFile(outputs)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out))
	appURL := out[stack]["AppUrl"]
	require.NotEmpty(t, appURL, "the stack's AppUrl output")
	pipeline := physicalID(t, "AWS::CodePipeline::Pipeline")

	// 1. The first release, which starts when the pipeline is created, serves the seed.
	seed := tip(t, repository)
	require.Equal(t, "Succeeded", waitFor(t, c, pipeline, seed, c.Limits.Release), "the first execution")
	require.Equal(t, seed, waitServed(t, c, appURL, seed, c.Limits.Served))

	// 2. A pushed change reaches the instances.
	changePath, err := c.Layout.Path(ChangeFile)
	require.NoError(t, err)
	change := putFile(t, repository, "main", seed, changePath, "Pushed by the end-to-end test.\n", "e2e: a change")
	require.Equal(t, "Succeeded", waitFor(t, c, pipeline, change, c.Limits.Release), "the change's execution")
	require.Equal(t, change, waitServed(t, c, appURL, change, c.Limits.Served))

	// 3. A release that cannot start fails ValidateService, CodeDeploy rolls it back, and the
	// previous release still serves.
	unitPath, err := c.Layout.Path(UnitFile)
	require.NoError(t, err)
	unit := getFile(t, repository, change, unitPath)
	broken, err := BreakUnit(unit)
	require.NoError(t, err)
	bad := putFile(t, repository, "main", change, unitPath, broken, "e2e: a release that never starts")
	require.Equal(t, "Failed", waitFor(t, c, pipeline, bad, c.Limits.Release), "the broken release's execution")
	group := physicalID(t, "AWS::CodeDeploy::DeploymentGroup")
	application := physicalID(t, "AWS::CodeDeploy::Application")
	deployments := awsJSON[deploymentList](t, "deploy", "list-deployments", "--application-name", application,
		"--deployment-group-name", group, "--include-only-statuses", "Succeeded").Deployments
	require.NotEmpty(t, deployments, "succeeded deployments")
	// BatchGetDeployments takes at most 25 ids; the newest come first.
	infos := awsJSON[deploymentInfos](t, append([]string{"deploy", "batch-get-deployments", "--deployment-ids"},
		deployments[:min(len(deployments), 25)]...)...).DeploymentsInfo
	require.True(t, slices.ContainsFunc(infos, func(d deploymentInfo) bool { return d.Creator == "codeDeployRollback" }),
		"a rollback deployment succeeded")
	// The failed Deploy stage rolls back too (stageRollback): a ROLLBACK execution deploys the
	// change's artifacts again.
	good := Succeeded(executions(t, pipeline), change)
	require.NotEmpty(t, good)
	require.Equal(t, "Succeeded", waitRollback(t, c, pipeline, good, c.Limits.Rollback), "the stage's rollback execution")
	require.Equal(t, change, waitServed(t, c, appURL, change, c.Limits.RolledBackServed), "the previous release serves")

	// 4. The subscriber got the pipeline and the deployment events.
	kinds, err := EventKinds(receiveAll(t, c, queueURL))
	require.NoError(t, err)
	for _, want := range []string{
		"CodePipeline Pipeline Execution State Change SUCCEEDED", "CodePipeline Pipeline Execution State Change FAILED",
		"CodeDeploy Deployment State-change Notification SUCCESS", "CodeDeploy Deployment State-change Notification FAILURE",
	} {
		require.Contains(t, kinds, want)
	}
}

// destroy deletes the stack and, with DeleteRetained, what it retains (deleters). Each deletion
// that fails is reported and the others still run.
func destroy(t T, c Config, repository string) {
	retained := map[string][]string{}
	var list stackResources
	out, err := try("", "aws", "cloudformation", "list-stack-resources", "--stack-name", stack, "--output", "json")
	switch {
	case err == nil:
		err = decode(out, &list)
	case strings.Contains(err.Error(), "does not exist"):
		err = nil // no stack: the deploy failed before CloudFormation made one
	}
	if err != nil {
		t.Errorf("listing the stack's resources failed, so what it retained is not deleted: %v", err)
	}
	for _, r := range list.StackResourceSummaries {
		retained[r.ResourceType] = append(retained[r.ResourceType], r.PhysicalResourceId)
	}
	if _, err := try(c.Root, "npx", "cdk", "destroy", stack, "--force", "-c", "terminationProtection=false"); err != nil {
		t.Errorf("THE STACK %s MAY STILL EXIST AND COST MONEY: run `npx cdk destroy %s` in %s, then delete what it kept: %v",
			stack, stack, c.Root, err)
		return
	}
	if !c.DeleteRetained {
		t.Logf("kept the retained resources: %v", retained)
		return
	}
	var errs []error
	for _, d := range deleters {
		for _, id := range retained[d.resourceType] {
			errs = append(errs, d.delete(repository, id))
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Errorf("deleting what the stack retained: %v", err)
	}
}

// deleters delete what the stack retains when it is destroyed, by resource type, in order. The
// repository is named: its physical id is its repository id.
var deleters = []deleter{
	{"AWS::CodeCommit::Repository", func(repository, _ string) error {
		_, err := try("", "aws", "codecommit", "delete-repository", "--repository-name", repository)
		return err
	}},
	{"AWS::S3::Bucket", func(_, bucket string) error { return deleteBucket(bucket) }},
	{"AWS::Logs::LogGroup", func(_, group string) error {
		_, err := try("", "aws", "logs", "delete-log-group", "--log-group-name", group)
		return err
	}},
	{"AWS::KMS::Key", func(_, key string) error {
		_, err := try("", "aws", "kms", "schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "7")
		return err
	}},
}

// deleter deletes the retained resources of one type.
type deleter struct {
	resourceType string
	delete       func(repository, id string) error
}

// deleteBucket deletes every version and delete marker of a bucket, a thousand at a time, then the
// bucket.
func deleteBucket(bucket string) error {
	for {
		out, err := try("", "aws", "s3api", "list-object-versions", "--bucket", bucket, "--max-items", "1000", "--output", "json")
		if err != nil {
			return err
		}
		var page objectVersions
		if err := decode(out, &page); err != nil {
			return err
		}
		objects := append(page.Versions, page.DeleteMarkers...)
		if len(objects) == 0 {
			break
		}
		del, _ := json.Marshal(map[string]any{"Objects": objects, "Quiet": true})
		if _, err := try("", "aws", "s3api", "delete-objects", "--bucket", bucket, "--delete", string(del)); err != nil {
			return err
		}
	}
	_, err := try("", "aws", "s3api", "delete-bucket", "--bucket", bucket)
	return err
}

// The parts of the CLI's answers that the flow reads, named as the CLI prints them (JSON output).
type (
	callerIdentity  struct{ Account string }
	createdQueue    struct{ QueueUrl string }
	queueAttributes struct{ Attributes map[string]string }
	stackResources  struct {
		StackResourceSummaries []struct{ ResourceType, PhysicalResourceId string }
	}
	branch struct {
		Branch struct {
			CommitID string `json:"commitId"`
		} `json:"branch"`
	}
	file struct {
		FileContent string `json:"fileContent"`
	}
	commit struct {
		CommitID string `json:"commitId"`
	}
	executionList struct {
		PipelineExecutionSummaries []Execution `json:"pipelineExecutionSummaries"`
	}
	deploymentList struct {
		Deployments []string `json:"deployments"`
	}
	deploymentInfo struct {
		Creator string `json:"creator"`
	}
	deploymentInfos struct {
		DeploymentsInfo []deploymentInfo `json:"deploymentsInfo"`
	}
	messages struct {
		Messages []struct{ Body string }
	}
	objectVersions struct {
		Versions, DeleteMarkers []struct{ Key, VersionId string }
	}
)

// physicalID is the physical id of the stack's only resource of a type.
func physicalID(t T, resourceType string) string {
	t.Helper()
	list := awsJSON[stackResources](t, "cloudformation", "list-stack-resources", "--stack-name", stack)
	var ids []string
	for _, r := range list.StackResourceSummaries {
		if r.ResourceType == resourceType {
			ids = append(ids, r.PhysicalResourceId)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("the stack has %d resources of type %s, want 1: %v", len(ids), resourceType, ids)
	}
	return ids[0]
}

func tip(t T, repository string) string {
	t.Helper()
	return awsJSON[branch](t, "codecommit", "get-branch", "--repository-name", repository, "--branch-name", "main").Branch.CommitID
}

func getFile(t T, repository, commit, path string) string {
	t.Helper()
	f := awsJSON[file](t, "codecommit", "get-file", "--repository-name", repository,
		"--commit-specifier", commit, "--file-path", path)
	b, err := base64.StdEncoding.DecodeString(f.FileContent)
	require.NoError(t, err)
	return string(b)
}

func putFile(t T, repository, branch, parent, path, content, message string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "content")
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
	return awsJSON[commit](t, "codecommit", "put-file", "--repository-name", repository,
		"--branch-name", branch, "--parent-commit-id", parent, "--file-path", path, "--file-content", "fileb://"+file,
		"--commit-message", message, "--name", "e2e").CommitID
}

// executions lists the pipeline's latest executions, newest first.
func executions(t T, pipeline string) []Execution {
	t.Helper()
	return awsJSON[executionList](t, "codepipeline", "list-pipeline-executions", "--pipeline-name", pipeline, "--max-items", "20").PipelineExecutionSummaries
}

// waitFor waits until the execution that built commit has finished, and returns its status.
func waitFor(t T, c Config, pipeline, commit string, limit time.Duration) string {
	t.Helper()
	return poll(t, c, limit, "no finished execution of "+commit, func() string { return Finished(executions(t, pipeline), commit) })
}

// waitRollback waits until the rollback execution to target has finished, and returns its status.
func waitRollback(t T, c Config, pipeline, target string, limit time.Duration) string {
	t.Helper()
	return poll(t, c, limit, "no finished rollback to "+target, func() string { return RolledBack(executions(t, pipeline), target) })
}

// poll calls status every c.Poll until it answers, and fails the test with what after limit.
func poll(t T, c Config, limit time.Duration, what string, status func() string) string {
	t.Helper()
	limit = bounded(t, c, limit)
	deadline := time.Now().Add(limit)
	for {
		if s := status(); s != "" {
			return s
		}
		if !time.Now().Add(c.Poll).Before(deadline) {
			break
		}
		time.Sleep(c.Poll)
	}
	t.Fatalf("%s after %s", what, limit)
	return ""
}

// bounded shortens limit so that the wait ends c.CleanupReserve before go test's -timeout: a test
// that times out panics without running its cleanup, and would leave the stack behind.
func bounded(t T, c Config, limit time.Duration) time.Duration {
	t.Helper()
	d, ok := t.Deadline()
	if !ok {
		return limit
	}
	left := time.Until(d) - c.CleanupReserve
	if left <= 0 {
		t.Fatalf("go test's -timeout is too close to keep %s for destroying the stack: giving up now", c.CleanupReserve)
	}
	return min(limit, left)
}

// waitServed asks /health ten times a round until every answer names the same commit, which it
// returns once that is want, or when the time is up.
func waitServed(t T, c Config, appURL, want string, limit time.Duration) string {
	t.Helper()
	client := &http.Client{Timeout: c.HealthTimeout}
	deadline, last := time.Now().Add(bounded(t, c, limit)), ""
	for time.Now().Before(deadline) {
		var answers [][]byte
		for range 10 {
			resp, err := client.Get(strings.TrimSuffix(appURL, "/") + "/health")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers = append(answers, b)
		}
		if commit, err := ServedCommit(answers); err == nil {
			last = commit
			if commit == want {
				return commit
			}
		}
		time.Sleep(c.HealthPause)
	}
	return last
}

// receiveAll drains the queue: the raw EventBridge events SNS delivered. A received message stays
// hidden for ten minutes, longer than the drain, so it is read once without being deleted; the
// queue goes with the test.
func receiveAll(t T, c Config, queueURL string) []string {
	t.Helper()
	var bodies []string
	for empty := 0; empty < 3; {
		page := awsJSON[messages](t, "sqs", "receive-message", "--queue-url", queueURL, "--max-number-of-messages", "10",
			"--wait-time-seconds", fmt.Sprint(c.ReceiveWait), "--visibility-timeout", "600")
		if len(page.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range page.Messages {
			bodies = append(bodies, m.Body)
		}
	}
	return slices.Clip(bodies)
}

// awsJSON runs an AWS CLI command with JSON output and decodes it into T.
func awsJSON[V any](t T, args ...string) V {
	t.Helper()
	var v V
	out := run(t, "", "aws", append(args, "--output", "json")...)
	require.NoError(t, decode(out, &v), "aws %s", strings.Join(args, " "))
	return v
}

// decode reads the CLI's JSON output into v. The CLI prints nothing at all for an empty answer
// (awscli/formatter.py skips an empty dictionary), as receive-message does for an empty queue.
func decode(out string, v any) error {
	if strings.TrimSpace(out) == "" {
		out = "{}"
	}
	return json.Unmarshal([]byte(out), v)
}

// run runs a command and returns its output, or fails the test with its error output.
func run(t T, dir, name string, args ...string) string {
	t.Helper()
	out, err := try(dir, name, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// try runs a command and returns its output, or an error that names it and holds its error output.
func try(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}
