//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var deleteRetained = flag.Bool("delete-retained", false, "also delete what the stack retains when it is destroyed")

const stack = "CicdPipeline"

// TestDeployedPipeline is the whole story on a real account; see the package documentation.
func TestDeployedPipeline(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	suffix := time.Now().UTC().Format("0102-150405")
	account := awsJSON[struct{ Account string }](t, "sts", "get-caller-identity").Account

	// The SQS subscriber: the queue policy lets SNS of this account deliver.
	queueName := "cdk-pipeline-e2e-" + suffix
	queueURL := awsJSON[struct{ QueueUrl string }](t, "sqs", "create-queue", "--queue-name", queueName).QueueUrl
	t.Cleanup(func() { run(t, "", "aws", "sqs", "delete-queue", "--queue-url", queueURL) })
	queueARN := awsJSON[struct{ Attributes map[string]string }](t, "sqs", "get-queue-attributes", "--queue-url", queueURL,
		"--attribute-names", "QueueArn").Attributes["QueueArn"]
	policy, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage", "Resource": queueARN,
		"Condition": map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": account}},
	}}})
	attributes, _ := json.Marshal(map[string]string{"Policy": string(policy)})
	run(t, "", "aws", "sqs", "set-queue-attributes", "--queue-url", queueURL, "--attributes", string(attributes))

	repository := "e2e-" + suffix
	outputs := filepath.Join(t.TempDir(), "outputs.json")
	notifications := fmt.Sprintf(`[{"protocol":"sqs","endpoint":%q}]`, queueARN)
	t.Cleanup(func() { destroy(t, root, repository) })
	run(t, root, "npx", "cdk", "deploy", stack, "--require-approval", "never", "--outputs-file", outputs,
		"-c", "terminationProtection=false", "-c", "approval=false", "-c", "repositoryName="+repository, "-c", "notifications="+notifications)

	var out map[string]map[string]string
	b, err := os.ReadFile(outputs)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &out))
	appURL := out[stack]["AppUrl"]
	require.NotEmpty(t, appURL)
	pipeline := physicalID(t, "AWS::CodePipeline::Pipeline")

	// 1. The first release, which starts when the pipeline is created, serves the seed.
	seed := tip(t, repository)
	require.Equal(t, "Succeeded", waitFor(t, pipeline, seed, 45*time.Minute), "the first execution")
	require.Equal(t, seed, waitServed(t, appURL, seed, 10*time.Minute))

	// 2. A pushed change reaches the instances.
	change := putFile(t, repository, "main", seed, "E2E.md", "Pushed by the end-to-end test.\n", "e2e: a change")
	require.Equal(t, "Succeeded", waitFor(t, pipeline, change, 45*time.Minute), "the change's execution")
	require.Equal(t, change, waitServed(t, appURL, change, 10*time.Minute))

	// 3. A release that cannot start fails ValidateService, CodeDeploy rolls it back, and the
	// previous release still serves.
	unit := getFile(t, repository, change, "sample-app/scripts/sample-app.service")
	broken, err := BreakUnit(unit)
	require.NoError(t, err)
	bad := putFile(t, repository, "main", change, "sample-app/scripts/sample-app.service", broken, "e2e: a release that never starts")
	require.Equal(t, "Failed", waitFor(t, pipeline, bad, 45*time.Minute), "the broken release's execution")
	group := physicalID(t, "AWS::CodeDeploy::DeploymentGroup")
	application := physicalID(t, "AWS::CodeDeploy::Application")
	deployments := awsJSON[struct{ Deployments []string }](t, "deploy", "list-deployments", "--application-name", application,
		"--deployment-group-name", group, "--include-only-statuses", "Succeeded").Deployments
	rolledBack := false
	for _, id := range deployments {
		d := awsJSON[struct {
			DeploymentInfo struct {
				Creator      string `json:"creator"`
				RollbackInfo struct {
					RollbackTriggeringDeploymentID string `json:"rollbackTriggeringDeploymentId"`
				} `json:"rollbackInfo"`
			} `json:"deploymentInfo"`
		}](t, "deploy", "get-deployment", "--deployment-id", id)
		if d.DeploymentInfo.Creator == "codeDeployRollback" {
			rolledBack = true
		}
	}
	require.True(t, rolledBack, "a rollback deployment succeeded")
	// The failed Deploy stage rolls back too (stageRollback): a ROLLBACK execution deploys the
	// change's artifacts again.
	good := Succeeded(executions(t, pipeline), change)
	require.NotEmpty(t, good)
	require.Equal(t, "Succeeded", waitRollback(t, pipeline, good, 30*time.Minute), "the stage's rollback execution")
	require.Equal(t, change, waitServed(t, appURL, change, 5*time.Minute), "the previous release serves")

	// 4. The subscriber got the pipeline and the deployment events.
	kinds, err := EventKinds(receiveAll(t, queueURL))
	require.NoError(t, err)
	for _, want := range []string{
		"CodePipeline Pipeline Execution State Change SUCCEEDED", "CodePipeline Pipeline Execution State Change FAILED",
		"CodeDeploy Deployment State-change Notification SUCCESS", "CodeDeploy Deployment State-change Notification FAILURE",
	} {
		require.Contains(t, kinds, want)
	}
}

// destroy deletes the stack and, with -delete-retained, what it retains. The repository is named
// here: its physical id is its repository id.
func destroy(t *testing.T, root, repository string) {
	retained := map[string][]string{}
	var list stackResources
	if b, err := exec.Command("aws", "cloudformation", "list-stack-resources", "--stack-name", stack, "--output", "json").Output(); err == nil {
		_ = json.Unmarshal(b, &list)
	}
	for _, r := range list.StackResourceSummaries {
		retained[r.ResourceType] = append(retained[r.ResourceType], r.PhysicalResourceId)
	}
	run(t, root, "npx", "cdk", "destroy", stack, "--force", "-c", "terminationProtection=false")
	if !*deleteRetained {
		t.Logf("kept the retained resources: %v", retained)
		return
	}
	if len(retained["AWS::CodeCommit::Repository"]) > 0 {
		run(t, "", "aws", "codecommit", "delete-repository", "--repository-name", repository)
	}
	for _, bucket := range retained["AWS::S3::Bucket"] {
		emptyVersioned(t, bucket)
		run(t, "", "aws", "s3api", "delete-bucket", "--bucket", bucket)
	}
	for _, group := range retained["AWS::Logs::LogGroup"] {
		run(t, "", "aws", "logs", "delete-log-group", "--log-group-name", group)
	}
	for _, key := range retained["AWS::KMS::Key"] {
		run(t, "", "aws", "kms", "schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "7")
	}
}

// emptyVersioned deletes every version and delete marker of a bucket, a thousand at a time.
func emptyVersioned(t *testing.T, bucket string) {
	for {
		page := awsJSON[struct {
			Versions, DeleteMarkers []struct{ Key, VersionId string }
		}](t, "s3api", "list-object-versions", "--bucket", bucket, "--max-items", "1000")
		objects := append(page.Versions, page.DeleteMarkers...)
		if len(objects) == 0 {
			return
		}
		del, _ := json.Marshal(map[string]any{"Objects": objects, "Quiet": true})
		run(t, "", "aws", "s3api", "delete-objects", "--bucket", bucket, "--delete", string(del))
	}
}

// stackResources lists the stack's resources with their physical ids.
type stackResources struct {
	StackResourceSummaries []struct{ ResourceType, PhysicalResourceId string }
}

func physicalID(t *testing.T, resourceType string) string {
	list := awsJSON[stackResources](t, "cloudformation", "list-stack-resources", "--stack-name", stack)
	for _, r := range list.StackResourceSummaries {
		if r.ResourceType == resourceType {
			return r.PhysicalResourceId
		}
	}
	t.Fatalf("the stack has no %s", resourceType)
	return ""
}

func tip(t *testing.T, repository string) string {
	return awsJSON[struct {
		Branch struct {
			CommitID string `json:"commitId"`
		} `json:"branch"`
	}](t,
		"codecommit", "get-branch", "--repository-name", repository, "--branch-name", "main").Branch.CommitID
}

func getFile(t *testing.T, repository, commit, path string) string {
	f := awsJSON[struct {
		FileContent string `json:"fileContent"`
	}](t, "codecommit", "get-file", "--repository-name", repository,
		"--commit-specifier", commit, "--file-path", path)
	b, err := base64.StdEncoding.DecodeString(f.FileContent)
	require.NoError(t, err)
	return string(b)
}

func putFile(t *testing.T, repository, branch, parent, path, content, message string) string {
	file := filepath.Join(t.TempDir(), "content")
	require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
	return awsJSON[struct {
		CommitID string `json:"commitId"`
	}](t, "codecommit", "put-file", "--repository-name", repository,
		"--branch-name", branch, "--parent-commit-id", parent, "--file-path", path, "--file-content", "fileb://"+file,
		"--commit-message", message, "--name", "e2e").CommitID
}

// executions lists the pipeline's latest executions, newest first.
func executions(t *testing.T, pipeline string) []Execution {
	return awsJSON[struct {
		PipelineExecutionSummaries []Execution `json:"pipelineExecutionSummaries"`
	}](t, "codepipeline", "list-pipeline-executions", "--pipeline-name", pipeline, "--max-items", "20").PipelineExecutionSummaries
}

// waitFor waits until the execution that built commit has finished, and returns its status.
func waitFor(t *testing.T, pipeline, commit string, limit time.Duration) string {
	return poll(t, limit, "no finished execution of "+commit, func() string { return Finished(executions(t, pipeline), commit) })
}

// waitRollback waits until the rollback execution to target has finished, and returns its status.
func waitRollback(t *testing.T, pipeline, target string, limit time.Duration) string {
	return poll(t, limit, "no finished rollback to "+target, func() string { return RolledBack(executions(t, pipeline), target) })
}

// poll calls status every 30 s until it answers, and fails the test with what after limit.
func poll(t *testing.T, limit time.Duration, what string, status func() string) string {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if s := status(); s != "" {
			return s
		}
		time.Sleep(30 * time.Second)
	}
	t.Fatalf("%s after %s", what, limit)
	return ""
}

// waitServed asks /health ten times a round until every answer names the same commit, which it
// returns once that is want, or when the time is up.
func waitServed(t *testing.T, appURL, want string, limit time.Duration) string {
	client := &http.Client{Timeout: 10 * time.Second}
	deadline, last := time.Now().Add(limit), ""
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
		time.Sleep(15 * time.Second)
	}
	return last
}

// receiveAll drains the queue: the raw EventBridge events SNS delivered.
func receiveAll(t *testing.T, queueURL string) []string {
	var bodies []string
	for empty := 0; empty < 3; {
		page := awsJSON[struct {
			Messages []struct{ Body, ReceiptHandle string }
		}](t, "sqs", "receive-message", "--queue-url", queueURL, "--max-number-of-messages", "10", "--wait-time-seconds", "10")
		if len(page.Messages) == 0 {
			empty++
			continue
		}
		for _, m := range page.Messages {
			bodies = append(bodies, m.Body)
			run(t, "", "aws", "sqs", "delete-message", "--queue-url", queueURL, "--receipt-handle", m.ReceiptHandle)
		}
	}
	return slices.Clip(bodies)
}

// awsJSON runs an AWS CLI command with JSON output and decodes it into T.
func awsJSON[T any](t *testing.T, args ...string) T {
	t.Helper()
	var v T
	out := run(t, "", "aws", append(args, "--output", "json")...)
	require.NoError(t, json.Unmarshal([]byte(out), &v), "aws %s", strings.Join(args, " "))
	return v
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
