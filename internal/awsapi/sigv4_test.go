package awsapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The credentials, time, region and service of AWS's Signature Version 4 test suite.
var (
	suiteCredentials = Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	suiteTime        = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
)

// TestSignatureSuite signs requests of AWS's published test suite and compares the Authorization
// header with the suite's, byte for byte.
func TestSignatureSuite(t *testing.T) {
	const prefix = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	for _, c := range []struct {
		name, method, url, body string
		header                  map[string]string
		want                    string
	}{
		{"get-vanilla", "GET", "https://example.amazonaws.com/", "", nil,
			"SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{"post-vanilla", "POST", "https://example.amazonaws.com/", "", nil,
			"SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
		{"get-vanilla-query-order-key-case", "GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", "", nil,
			"SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
		{"get-vanilla-query-unreserved", "GET", "https://example.amazonaws.com/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", nil,
			"SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
		{"get-unreserved", "GET", "https://example.amazonaws.com/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "", nil,
			"SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
		{"get-header-value-trim", "GET", "https://example.amazonaws.com/", "", map[string]string{"My-Header1": " value1", "My-Header2": `"a   b   c"`},
			"SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
		{"post-header-key-sort", "POST", "https://example.amazonaws.com/", "", map[string]string{"My-Header1": "value1"},
			"SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
		{"post-x-www-form-urlencoded", "POST", "https://example.amazonaws.com/", "Param1=value1", map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			"SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
			require.NoError(t, err)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			Sign(req, []byte(c.body), suiteCredentials, "us-east-1", "service", suiteTime)
			assert.Equal(t, prefix+c.want, req.Header.Get("Authorization"))
			assert.Equal(t, "20150830T123600Z", req.Header.Get("X-Amz-Date"))
		})
	}
}

// TestSessionTokenIsSigned: temporary credentials send their token, and sign it.
func TestSessionTokenIsSigned(t *testing.T) {
	req, err := http.NewRequest("POST", "https://sns.eu-west-1.amazonaws.com/", nil)
	require.NoError(t, err)
	c := suiteCredentials
	c.SessionToken = "token/with+chars="
	Sign(req, nil, c, "eu-west-1", "sns", suiteTime)
	assert.Equal(t, "token/with+chars=", req.Header.Get("X-Amz-Security-Token"))
	assert.Contains(t, req.Header.Get("Authorization"), "SignedHeaders=host;x-amz-date;x-amz-security-token, ")
	assert.Contains(t, req.Header.Get("Authorization"), "/20150830/eu-west-1/sns/aws4_request")
}

func TestCredentialsFromEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err := CredentialsFromEnv()
	assert.EqualError(t, err, "awsapi: no credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	c, err := CredentialsFromEnv()
	require.NoError(t, err)
	assert.Equal(t, Credentials{"AKID", "secret", "token"}, c)
}
