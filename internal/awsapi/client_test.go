package awsapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fake answers like an AWS endpoint: each request gets the next answer; it records the requests.
type fake struct {
	answers  []answer
	requests []*http.Request
	bodies   []string
}

type answer struct {
	status int
	body   string
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.requests, f.bodies = append(f.requests, r), append(f.bodies, string(b))
	a := f.answers[0]
	if len(f.answers) > 1 {
		f.answers = f.answers[1:]
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

func testClient(t *testing.T, f *fake) (*Client, *[]time.Duration) {
	server := httptest.NewServer(f)
	t.Cleanup(server.Close)
	var slept []time.Duration
	return &Client{
		Region: "eu-west-1", URLSuffix: "amazonaws.com",
		Credentials: func() (Credentials, error) { return Credentials{"AKID", "secret", "token"}, nil },
		HTTP:        server.Client(), Endpoint: func(string) string { return server.URL + "/" }, Attempts: 3,
		Now: func() time.Time { return suiteTime }, Sleep: func(d time.Duration) { slept = append(slept, d) },
	}, &slept
}

func TestQuery(t *testing.T) {
	f := &fake{answers: []answer{{200, "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>"}}}
	c, _ := testClient(t, f)
	b, err := c.Query(context.Background(), "sns", "2010-03-31", "Publish", url.Values{"TopicArn": {"arn:aws:sns:eu-west-1:123456789012:t"}, "Message": {"a & b = c"}})
	require.NoError(t, err)
	assert.Contains(t, string(b), "m-1")
	require.Len(t, f.requests, 1)
	r := f.requests[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "application/x-www-form-urlencoded; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Equal(t, "token", r.Header.Get("X-Amz-Security-Token"))
	assert.Contains(t, r.Header.Get("Authorization"), "Credential=AKID/20150830/eu-west-1/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=")
	form, err := url.ParseQuery(f.bodies[0])
	require.NoError(t, err)
	assert.Equal(t, url.Values{"Action": {"Publish"}, "Version": {"2010-03-31"}, "TopicArn": {"arn:aws:sns:eu-west-1:123456789012:t"}, "Message": {"a & b = c"}}, form)
}

// TestRetries: throttling and server errors are tried again, with a growing pause; a client error
// is not, and its code and message come back.
func TestRetries(t *testing.T) {
	f := &fake{answers: []answer{
		{500, "<ErrorResponse><Error><Code>InternalError</Code></Error></ErrorResponse>"},
		{400, "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"},
		{200, "ok"},
	}}
	c, slept := testClient(t, f)
	b, err := c.Query(context.Background(), "sns", "2010-03-31", "Publish", nil)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(b))
	assert.Equal(t, []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}, *slept)

	f = &fake{answers: []answer{{403, "<ErrorResponse><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>not allowed</Message></Error></ErrorResponse>"}}}
	c, slept = testClient(t, f)
	_, err = c.Query(context.Background(), "sns", "2010-03-31", "Publish", nil)
	assert.EqualError(t, err, "sns Publish: 403 AuthorizationError: not allowed")
	assert.Len(t, f.requests, 1)
	assert.Empty(t, *slept)

	f = &fake{answers: []answer{{503, ""}}}
	c, _ = testClient(t, f)
	_, err = c.Query(context.Background(), "sns", "2010-03-31", "Publish", nil)
	assert.EqualError(t, err, "sns Publish: 503 : ")
	assert.Len(t, f.requests, 3, "three attempts in all")
}

func TestJSON(t *testing.T) {
	f := &fake{answers: []answer{{200, `{"Item":{"id":{"S":"x"}}}`}}}
	c, _ := testClient(t, f)
	var out struct{ Item map[string]map[string]string }
	require.NoError(t, c.JSON(context.Background(), "dynamodb", "DynamoDB_20120810", "1.0", "GetItem", map[string]any{"TableName": "t"}, &out))
	assert.Equal(t, "x", out.Item["id"]["S"])
	r := f.requests[0]
	assert.Equal(t, "DynamoDB_20120810.GetItem", r.Header.Get("X-Amz-Target"))
	assert.Equal(t, "application/x-amz-json-1.0", r.Header.Get("Content-Type"))
	var in map[string]any
	require.NoError(t, json.Unmarshal([]byte(f.bodies[0]), &in))
	assert.Equal(t, "t", in["TableName"])

	f = &fake{answers: []answer{{400, `{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}`}}}
	c, _ = testClient(t, f)
	err := c.JSON(context.Background(), "dynamodb", "DynamoDB_20120810", "1.0", "PutItem", map[string]any{}, nil)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ConditionalCheckFailedException", apiErr.Code)
	assert.True(t, strings.HasSuffix(err.Error(), "The conditional request failed"))
}

func TestNewClientFromEnv(t *testing.T) {
	t.Setenv("AWS_REGION", "cn-north-1")
	t.Setenv("AWS_URL_SUFFIX", "amazonaws.com.cn")
	c := NewClientFromEnv()
	assert.Equal(t, "cn-north-1", c.Region)
	assert.Equal(t, "amazonaws.com.cn", c.URLSuffix)
}
