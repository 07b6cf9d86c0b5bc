package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fakes' own tests: each behaviour the dry run relies on, against the service's documentation.

// fakeRepository is a cloud with one repository, seeded from a folder of two files.
func fakeRepository(t *testing.T) *cloud {
	t.Helper()
	c := newCloud(t, "")
	seed := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(seed, "scripts"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(seed, "README.md"), []byte("# demo\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(seed, "scripts", "start.sh"), []byte("#!/bin/sh\n"), 0o755))
	dir := filepath.Join(t.TempDir(), "demo.git")
	require.NoError(t, seedRepository(dir, seed, "main"))
	c.repos["demo"] = &repo{name: "demo", id: "0000", dir: dir}
	return c
}

// TestFakeCodeCommit: the fake answers as the CodeCommit API reference says, errors included.
func TestFakeCodeCommit(t *testing.T) {
	c := fakeRepository(t)
	aws := func(args ...string) result {
		return c.handle(command{"aws", append(args, "--output", "json"), t.TempDir()})
	}
	var b branch
	r := aws("codecommit", "get-branch", "--repository-name", "demo", "--branch-name", "main")
	require.Zero(t, r.Code, r.Stderr)
	require.NoError(t, decode(r.Stdout, &b))
	seed := b.Branch.CommitID
	require.Len(t, seed, 40)

	// Get a file: base64 content, modes dropped to 0644 as CloudFormation's first commit does.
	r = aws("codecommit", "get-file", "--repository-name", "demo", "--commit-specifier", seed, "--file-path", "/scripts/start.sh")
	require.Zero(t, r.Code, r.Stderr)
	assert.JSONEq(t, `{"commitId":"`+seed+`","blobId":"`+mustJSON(t, r.Stdout, "blobId")+`","filePath":"scripts/start.sh","fileMode":"NORMAL","fileSize":10,"fileContent":"IyEvYmluL3NoCg=="}`, r.Stdout)

	errorCode := func(r result) string {
		t.Helper()
		require.Equal(t, 254, r.Code, r.Stderr)
		code, _, _ := strings.Cut(strings.TrimPrefix(r.Stderr, "\nAn error occurred ("), ")")
		return code
	}
	recordedError := loadRecorded(t, "answers")["aws codecommit get-file"]
	for _, e := range recordedError {
		if e.Stderr != "" {
			r := aws("codecommit", "get-file", "--repository-name", "demo", "--file-path", "no/such/file")
			assert.Equal(t, e.Stderr, r.Stderr)
			assert.Equal(t, e.Code, r.Code)
		}
	}
	assert.Equal(t, "FileDoesNotExistException", errorCode(aws("codecommit", "get-file", "--repository-name", "demo", "--commit-specifier", seed, "--file-path", "scripts")))
	assert.Equal(t, "CommitDoesNotExistException", errorCode(aws("codecommit", "get-file", "--repository-name", "demo", "--commit-specifier", strings.Repeat("0", 40), "--file-path", "README.md")))
	assert.Equal(t, "RepositoryDoesNotExistException", errorCode(aws("codecommit", "get-branch", "--repository-name", "nope", "--branch-name", "main")))
	assert.Equal(t, "BranchDoesNotExistException", errorCode(aws("codecommit", "get-branch", "--repository-name", "demo", "--branch-name", "dev")))

	content := filepath.Join(t.TempDir(), "content")
	require.NoError(t, os.WriteFile(content, []byte("# changed\n"), 0o644))
	put := func(parent string, extra ...string) result {
		args := []string{"codecommit", "put-file", "--repository-name", "demo", "--branch-name", "main", "--file-path", "README.md",
			"--file-content", "fileb://" + content, "--name", "e2e"}
		if parent != "" {
			args = append(args, "--parent-commit-id", parent)
		}
		return aws(append(args, extra...)...)
	}
	assert.Equal(t, "ParentCommitIdRequiredException", errorCode(put("")))
	assert.Equal(t, "InvalidParentCommitIdException", errorCode(put("main")))
	assert.Equal(t, "ParentCommitDoesNotExistException", errorCode(put(strings.Repeat("a", 40))))
	r = put(seed)
	require.Zero(t, r.Code, r.Stderr)
	next := mustJSON(t, r.Stdout, "commitId")
	assert.NotEqual(t, seed, next)
	assert.Equal(t, "ParentCommitIdOutdatedException", errorCode(put(seed)), "the parent must be the branch's tip")
	assert.Equal(t, "SameFileContentException", errorCode(put(next)))
	r = aws("codecommit", "get-file", "--repository-name", "demo", "--commit-specifier", seed, "--file-path", "README.md")
	assert.Equal(t, "IyBkZW1vCg==", mustJSON(t, r.Stdout, "fileContent"), "the old commit keeps the old content")
	r = aws("codecommit", "get-file", "--repository-name", "demo", "--commit-specifier", "main", "--file-path", "README.md")
	assert.Equal(t, "IyBjaGFuZ2VkCg==", mustJSON(t, r.Stdout, "fileContent"))

	// The CLI v2 reads a blob given as text as base64.
	r = c.handle(command{"aws", []string{"codecommit", "put-file", "--repository-name", "demo", "--branch-name", "main", "--file-path", "x",
		"--file-content", "not base64!", "--parent-commit-id", next}, ""})
	assert.Equal(t, 252, r.Code, r.Stderr)
	// So is a file:// file's text: only fileb:// passes a file's bytes.
	r = aws("codecommit", "put-file", "--repository-name", "demo", "--branch-name", "main", "--file-path", "README.md",
		"--file-content", "file://"+content, "--parent-commit-id", next)
	assert.NotZero(t, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "Invalid base64")
	// Usage errors: 252, before any request.
	r = aws("codecommit", "get-file", "--repository-name", "demo", "--path", "README.md")
	assert.Equal(t, 252, r.Code)
	assert.Contains(t, r.Stderr, "Unknown options: --path")
	// Without --output json, no JSON.
	r = c.handle(command{"aws", []string{"codecommit", "get-branch", "--repository-name", "demo", "--branch-name", "main"}, ""})
	assert.Error(t, json.Unmarshal([]byte(r.Stdout), new(branch)), r.Stdout)
}

func mustJSON(t *testing.T, out, field string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m), out)
	s, _ := m[field].(string)
	return s
}

// TestFakeSQS: the fake queue answers as SQS and the CLI do: nothing printed for an empty receive,
// SNS delivers only what the queue policy allows, limits checked.
func TestFakeSQS(t *testing.T) {
	c := newCloud(t, "")
	aws := func(args ...string) result { return c.handle(command{"aws", append(args, "--output", "json"), ""}) }
	url := mustJSON(t, aws("sqs", "create-queue", "--queue-name", "q").Stdout, "QueueUrl")
	assert.Equal(t, "https://sqs.us-east-1.amazonaws.com/123456789012/q", url)
	r := aws("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10")
	require.Zero(t, r.Code, r.Stderr)
	for _, e := range loadRecorded(t, "answers")["aws sqs receive-message"] {
		if e.Stdout != nil {
			assert.Equal(t, *e.Stdout, r.Stdout, "an empty receive prints nothing")
		}
	}
	assert.Equal(t, 254, aws("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "11").Code)
	assert.Equal(t, 254, aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "21").Code)

	q := c.queues[url]
	topic := "arn:aws:sns:us-east-1:123456789012:events"
	policy := func(service, account string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + service + `"},"Action":"sqs:SendMessage",` +
			`"Resource":"arn:aws:sqs:us-east-1:123456789012:q","Condition":{"StringEquals":{"aws:SourceAccount":"` + account + `"}}}]}`
	}
	assert.False(t, c.allowsSNS(q, topic), "no policy")
	q.policy = policy("sns.amazonaws.com", "123456789012")
	assert.True(t, c.allowsSNS(q, topic))
	q.policy = policy("sns.amazonaws.com", "210987654321")
	assert.False(t, c.allowsSNS(q, topic), "another account's topics")
	q.policy = policy("events.amazonaws.com", "123456789012")
	assert.False(t, c.allowsSNS(q, topic), "another service")
}

// TestFakeCDK: the fake CDK CLI refuses what the CDK CLI would refuse without a terminal, and its
// destroy deletes what CloudFormation deletes.
func TestFakeCDK(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	c := newCloud(t, root)
	npx := func(args ...string) result { return c.handle(command{"npx", args, root}) }
	assert.Contains(t, npx("cdk", "deploy", stack, "-c", "approval").Stderr, "must be in format key=value")
	assert.Contains(t, npx("cdk", "deploy", stack, "--hotswap").Stderr, "not emulated")
	assert.Contains(t, npx("cdk", "deploy", "Other").Stderr, "No stack found matching 'Other'")
	assert.Contains(t, c.handle(command{"npx", []string{"cdk", "destroy", stack, "--force"}, t.TempDir()}).Stderr, "--app is required")

	assert.Zero(t, npx("cdk", "destroy", stack, "--force").Code, "no stack to destroy is no error")
	resources := map[string]map[string]any{
		"Kept":    {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "RetainExceptOnCreate"},
		"Deleted": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete"},
		"Bucket":  {"Type": "AWS::S3::Bucket"},
	}
	deploy := func(protected bool) {
		c.stack = &deployed{app: &synthesis{resources: resources, terminationProtection: protected}, status: "CREATE_COMPLETE",
			physical: map[string]string{"Kept": "kept", "Deleted": "deleted", "Bucket": "bucket"}}
		c.logGroups["kept"], c.logGroups["deleted"] = true, true
		c.buckets["bucket"] = &bucket{}
	}
	deploy(true)
	r := npx("cdk", "destroy", stack)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "--force", "without a terminal nobody answers the question")
	r = npx("cdk", "destroy", stack, "--force")
	assert.Contains(t, r.Stderr, "TerminationProtection is enabled")
	deploy(false)
	c.buckets["bucket"].versions = []objectVersion{{Key: "k", VersionId: "1"}}
	r = npx("cdk", "destroy", stack, "--force")
	assert.Contains(t, r.Stderr, "The bucket you tried to delete is not empty")
	c.buckets["bucket"].versions = nil
	r = npx("cdk", "destroy", stack, "--force")
	require.Zero(t, r.Code, r.Stderr)
	assert.Nil(t, c.stack)
	assert.Equal(t, map[string]bool{"kept": true}, c.logGroups, "what the stack retains stays")
	assert.Empty(t, c.buckets)
}

// TestFakeSNS: a topic delivers to the stack's SQS subscriptions what their queue policy allows,
// raw or in the SNS envelope as the subscription says.
func TestFakeSNS(t *testing.T) {
	c := newCloud(t, "")
	topic := "arn:aws:sns:us-east-1:123456789012:events"
	subscription := map[string]any{"TopicArn": topic, "Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:123456789012:q", "RawMessageDelivery": true}
	c.stack = &deployed{app: &synthesis{resources: map[string]map[string]any{
		"Subscriber": {"Type": "AWS::SNS::Subscription", "Properties": subscription}}}, physical: map[string]string{}}
	q := &queue{name: "q", url: "https://sqs.us-east-1.amazonaws.com/123456789012/q"}
	c.queues[q.url] = q
	event := `{"detail-type":"x","detail":{"state":"SUCCEEDED"}}`
	c.publish(topic, event)
	assert.Empty(t, q.messages, "no queue policy, no delivery")
	q.policy = `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",` +
		`"Resource":"arn:aws:sqs:us-east-1:123456789012:q","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}]}`
	c.publish(topic+"-other", event)
	assert.Empty(t, q.messages, "a topic the queue is not subscribed to")
	q.policy = `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage",` +
		`"Resource":"arn:aws:sqs:us-east-1:123456789012:q","Condition":{"ArnEquals":{"aws:SourceArn":"` + topic + `"}}}]}`
	c.publish(topic, event)
	require.Len(t, q.messages, 1)
	assert.Equal(t, event, q.messages[0].body, "raw message delivery")
	subscription["RawMessageDelivery"] = "false"
	c.publish(topic, event)
	require.Len(t, q.messages, 2)
	envelope := shapeOf(t, []byte(q.messages[1].body))
	assert.Empty(t, missing(envelope, shapeOf(t, loadRecorded(t, "events")["sns-notification"][0].Event)))
	assert.Equal(t, event, mustJSON(t, q.messages[1].body, "Message"))
}

// TestFakeStageRollback: a failed deploy stage rolls back only when its OnFailure says so, to the
// last execution that succeeded.
func TestFakeStageRollback(t *testing.T) {
	for _, rollback := range []bool{true, false} {
		c := newCloud(t, "")
		c.stack = &deployed{app: &synthesis{resources: map[string]map[string]any{}}}
		good := &execution{id: "good", status: "Succeeded", commit: "c1", typ: "STANDARD", step: 3}
		bad := &execution{id: "bad", status: "InProgress", commit: "c2", typ: "STANDARD", step: 3}
		c.pipe = &pipeline{stageRollback: rollback, executions: []*execution{good, bad}}
		c.finish(bad, "Failed")
		if !rollback {
			assert.Len(t, c.pipe.executions, 2, "no rollback execution")
			continue
		}
		require.Len(t, c.pipe.executions, 3)
		r := c.pipe.executions[2]
		assert.Equal(t, []string{"ROLLBACK", "good", "c1", "InProgress"}, []string{r.typ, r.target, r.commit, r.status})
	}
}

// TestFakeTrigger: a push starts an execution only through a rule of the stack that matches its
// event and targets the pipeline.
func TestFakeTrigger(t *testing.T) {
	c := newCloud(t, "")
	pipelineARN := "arn:aws:codepipeline:us-east-1:123456789012:p"
	rule := map[string]any{"State": "ENABLED", "Targets": []any{map[string]any{"Arn": pipelineARN, "Id": "Target0"}},
		"EventPattern": map[string]any{"source": []any{"aws.codecommit"}, "detail-type": []any{"CodeCommit Repository State Change"},
			"resources": []any{"arn:aws:codecommit:us-east-1:123456789012:r"},
			"detail":    map[string]any{"event": []any{"referenceCreated", "referenceUpdated"}, "referenceName": []any{"main"}}}}
	// A rule for another target: the pull request checks' project, say.
	other := map[string]any{"State": "ENABLED", "Targets": []any{map[string]any{"Arn": "arn:aws:codebuild:us-east-1:123456789012:project/x", "Id": "Target0"}},
		"EventPattern": map[string]any{"source": []any{"aws.codecommit"}, "detail": map[string]any{"referenceName": []any{"dev"}}}}
	c.stack = &deployed{app: &synthesis{resources: map[string]map[string]any{"Rule": {"Type": "AWS::Events::Rule", "Properties": rule},
		"Other": {"Type": "AWS::Events::Rule", "Properties": other}}}}
	c.pipe = &pipeline{arn: pipelineARN}
	push := func(repository, branch string) {
		c.emit("aws.codecommit", "CodeCommit Repository State Change", []string{"arn:aws:codecommit:us-east-1:123456789012:" + repository},
			map[string]any{"event": "referenceUpdated", "referenceName": branch, "commitId": "c" + branch})
	}
	push("r", "dev")
	push("other", "main")
	assert.Empty(t, c.pipe.executions)
	push("r", "main")
	require.Len(t, c.pipe.executions, 1)
	assert.Equal(t, "cmain", c.pipe.executions[0].commit)
	rule["State"] = "DISABLED"
	push("r", "main")
	assert.Len(t, c.pipe.executions, 1, "a disabled rule")
	_, err := matches(map[string]any{"source": []any{map[string]any{"prefix": "aws."}}}, map[string]any{"source": "aws.codecommit"})
	assert.ErrorContains(t, err, "not emulated")
}

// TestFakeCodeDeploy: a release whose unit cannot start fails; CodeDeploy rolls it back only when
// the deployment group says so; what is not in the build's artifact is not installed.
func TestFakeCodeDeploy(t *testing.T) {
	seed := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(seed, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(seed, name), []byte(content), 0o644))
	}
	write("buildspec.yml", "version: 0.2\nartifacts:\n  files:\n    - appspec.yml\n    - scripts/**/*\n")
	write("appspec.yml", "version: 0.0\nos: linux\nfiles:\n  - source: scripts/app.service\n    destination: /etc/systemd/system\n")
	write("scripts/app.service", "[Service]\nExecStart=/opt/app\n")
	for _, autoRollback := range []bool{true, false} {
		c := newCloud(t, "")
		dir := filepath.Join(t.TempDir(), "demo.git")
		require.NoError(t, seedRepository(dir, seed, "main"))
		r := &repo{name: "demo", dir: dir}
		c.repos["demo"] = r
		c.stack = &deployed{app: &synthesis{resources: map[string]map[string]any{}}}
		good := r.tip("main")
		c.pipe = &pipeline{repository: "demo", autoRollback: autoRollback, served: "previous"}
		assert.True(t, c.builds(good))
		assert.Empty(t, c.releaseFails(good))

		unit, _ := os.ReadFile(filepath.Join(seed, "scripts/app.service"))
		broken, err := BreakUnit(string(unit))
		require.NoError(t, err)
		content := filepath.Join(t.TempDir(), "unit")
		require.NoError(t, os.WriteFile(content, []byte(broken), 0o644))
		res := c.handle(command{"aws", []string{"codecommit", "put-file", "--repository-name", "demo", "--branch-name", "main",
			"--file-path", "scripts/app.service", "--file-content", "fileb://" + content, "--parent-commit-id", good}, ""})
		require.Zero(t, res.Code, res.Stderr)
		bad := r.tip("main")
		assert.Equal(t, "scripts/app.service never starts", c.releaseFails(bad))

		e := &execution{id: "e", status: "InProgress", commit: bad, typ: "STANDARD", step: 1}
		c.pipe.executions = []*execution{e}
		c.tick() // the deployment starts
		c.tick() // and fails
		assert.Equal(t, "Failed", e.status)
		var creators []string
		for _, d := range c.pipe.deployments {
			creators = append(creators, d.creator+" "+d.status)
		}
		want := []string{"user Failed"}
		if autoRollback {
			want = append(want, "codeDeployRollback Succeeded")
		}
		assert.Equal(t, want, creators)
		assert.Equal(t, "previous", c.pipe.served, "the previous release still serves")
	}
	// Outside the artifact: not installed, so the deployment fails.
	write("buildspec.yml", "version: 0.2\nartifacts:\n  files:\n    - appspec.yml\n")
	c := newCloud(t, "")
	dir := filepath.Join(t.TempDir(), "demo2.git")
	require.NoError(t, seedRepository(dir, seed, "main"))
	c.repos["demo"] = &repo{name: "demo", dir: dir}
	c.pipe = &pipeline{repository: "demo"}
	assert.Equal(t, "the bundle has no scripts/app.service", c.releaseFails(c.repos["demo"].tip("main")))
}
