package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func event(t *testing.T, name string) Event {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	var e Event
	require.NoError(t, json.Unmarshal(b, &e))
	return e
}

func TestPipelineExecution(t *testing.T) {
	m := Format(event(t, "pipeline-execution-failed.json"))
	assert.Equal(t, "pipeline CicdPipeline-Pipeline FAILED", m.Subject)
	assert.Equal(t, `Pipeline CicdPipeline-Pipeline: execution FAILED

Execution: 12345678-1234-5678-abcd-12345678abcd
Started by: CloudWatchEvent arn:aws:events:eu-west-1:123456789012:rule/CicdPipeline-SourceRepositoryCicdPipeline-1A2B3C
Time: 2026-11-25 22:03:07 UTC
Account 123456789012, region eu-west-1

https://eu-west-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/CicdPipeline-Pipeline/executions/12345678-1234-5678-abcd-12345678abcd/timeline?region=eu-west-1
`, m.Body)
	assert.Equal(t, "FAILED: pipeline CicdPipeline-Pipeline execution 12345678", m.SMS)
}

func TestDeployment(t *testing.T) {
	m := Format(event(t, "deployment-failure.json"))
	assert.Equal(t, "deployment d-ABCDEF123 FAILURE: CicdPipeline-Application/CicdPipeline-Fleet", m.Subject)
	assert.Contains(t, m.Body, "CodeDeploy deployment d-ABCDEF123 of CicdPipeline-Application/CicdPipeline-Fleet: FAILURE\n")
	assert.Contains(t, m.Body, "https://eu-west-1.console.aws.amazon.com/codesuite/codedeploy/deployments/d-ABCDEF123?region=eu-west-1\n")
	assert.Equal(t, "FAILURE: deployment d-ABCDEF123 of CicdPipeline-Application/CicdPipeline-Fleet", m.SMS)
}

func TestStageExecution(t *testing.T) {
	e := event(t, "pipeline-execution-failed.json")
	e.DetailType = stageExecution
	e.Detail = json.RawMessage(`{"pipeline":"P","execution-id":"abc","stage":"Deploy","state":"FAILED"}`)
	m := Format(e)
	assert.Equal(t, "pipeline P stage Deploy FAILED", m.Subject)
	assert.True(t, strings.HasPrefix(m.Body, "Pipeline P: stage Deploy FAILED\n"))
}

// TestOtherEvents: an event of a type the formatter does not know still says what it is.
func TestOtherEvents(t *testing.T) {
	m := Format(Event{DetailType: "CodePipeline Action Execution State Change", Source: "aws.codepipeline", Region: "eu-west-1",
		Time: time.Date(2026, 11, 25, 1, 2, 3, 0, time.UTC), Detail: json.RawMessage(`{"action":"Approve"}`)})
	assert.Equal(t, "CodePipeline Action Execution State Change", m.Subject)
	assert.Contains(t, m.Body, "\"action\": \"Approve\"")
}

func TestConsoleInEveryPartition(t *testing.T) {
	assert.Equal(t, "https://us-east-1.console.aws.amazon.com", console("us-east-1"))
	assert.Equal(t, "https://console.amazonaws.cn", console("cn-north-1"))
	assert.Equal(t, "https://console.amazonaws-us-gov.com", console("us-gov-west-1"))
}

// TestSubjectLine: SNS refuses a subject with line breaks, non-ASCII text or 100 characters.
func TestSubjectLine(t *testing.T) {
	assert.Equal(t, "pipeline ? FAILED", subjectLine("  pipeline é FAILED\n"))
	long := subjectLine(strings.Repeat("x", 150))
	assert.Len(t, long, 99)
	assert.True(t, strings.HasSuffix(long, "..."))
	assert.Equal(t, "Pipeline notification", subjectLine(""))
}

// TestPublish: the function publishes plain text, one message per protocol, to its topic, signed
// for SNS in the function's region; an SNS error fails the invocation so that Lambda retries it.
// The SDK's own SNS client talks to a fake that answers as SNS's query API does.
func TestPublish(t *testing.T) {
	var forms []url.Values
	var auth []string
	status := http.StatusOK
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		forms = append(forms, form)
		auth = append(auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		if status != http.StatusOK {
			_, _ = w.Write([]byte("<ErrorResponse><Error><Type>Sender</Type><Code>KMSAccessDenied</Code><Message>no key</Message></Error><RequestId>r-2</RequestId></ErrorResponse>"))
			return
		}
		_, _ = w.Write([]byte(`<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>`))
	}))
	defer server.Close()
	client := sns.New(sns.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(server.URL), HTTPClient: server.Client(), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "a", SecretAccessKey: "s"}, nil
		}),
	})
	raw, err := os.ReadFile("testdata/pipeline-execution-failed.json")
	require.NoError(t, err)
	const topic = "arn:aws:sns:eu-west-1:123456789012:Messages"
	require.NoError(t, handle(context.Background(), client, topic, raw))
	require.Len(t, forms, 1)
	f := forms[0]
	assert.Equal(t, "Publish", f.Get("Action"))
	assert.Regexp(t, `^AWS4-HMAC-SHA256 Credential=a/\d{8}/eu-west-1/sns/aws4_request, SignedHeaders=`, auth[0])
	assert.Equal(t, topic, f.Get("TopicArn"))
	assert.Equal(t, "json", f.Get("MessageStructure"))
	assert.Equal(t, "pipeline CicdPipeline-Pipeline FAILED", f.Get("Subject"))
	var perProtocol map[string]string
	require.NoError(t, json.Unmarshal([]byte(f.Get("Message")), &perProtocol))
	assert.Equal(t, []string{"default", "email", "sms"}, keys(perProtocol))
	assert.True(t, strings.HasPrefix(perProtocol["email"], "Pipeline CicdPipeline-Pipeline: execution FAILED\n"), "plain text, no quotes")
	assert.Equal(t, perProtocol["email"], perProtocol["default"])
	assert.Equal(t, "FAILED: pipeline CicdPipeline-Pipeline execution 12345678", perProtocol["sms"])

	status = http.StatusForbidden
	err = handle(context.Background(), client, topic, raw)
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "KMSAccessDenied", apiErr.ErrorCode())
	assert.Equal(t, "no key", apiErr.ErrorMessage())
	assert.ErrorContains(t, err, "SNS: Publish, https response error StatusCode: 403")
	assert.ErrorContains(t, handle(context.Background(), client, topic, []byte("not json")), "reading the event")
}

func keys(m map[string]string) []string {
	var out []string
	for _, k := range []string{"default", "email", "sms"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	if len(out) != len(m) {
		return nil
	}
	return out
}

// lambdaEnvironment sets what Lambda gives the function, and none of the machine's AWS settings
// (a CA bundle, profiles, shared config files).
func lambdaEnvironment(t testing.TB) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
		}
	}
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:Messages",
	} {
		t.Setenv(k, v)
	}
}

// TestSetup: the start-up needs the topic.
func TestSetup(t *testing.T) {
	lambdaEnvironment(t)
	h, err := setup(context.Background())
	require.NoError(t, err)
	assert.NotNil(t, h)
	t.Setenv("TOPIC_ARN", "")
	_, err = setup(context.Background())
	assert.EqualError(t, err, "TOPIC_ARN is not set")
}

// BenchmarkSetup is the function's start-up in an execution environment, after the process
// started: the AWS configuration from Lambda's environment, the SNS client, the handler.
// docs/performance.md keeps its result.
func BenchmarkSetup(b *testing.B) {
	lambdaEnvironment(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := setup(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
