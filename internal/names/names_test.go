package names

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pipekit/cdk-pipeline/notify"
)

func TestEndpoint(t *testing.T) {
	arn, err := Endpoint(notify.Lambda, "arn:aws:lambda:eu-west-1:210987654321:function:notify:live")
	assert.NoError(t, err)
	assert.Equal(t, &ARN{Partition: "aws", Service: "lambda", Region: "eu-west-1", Account: "210987654321", Resource: "function:notify:live"}, arn)
	_, err = Endpoint(notify.HTTPS, "http://hooks.example.com")
	assert.EqualError(t, err, `endpoint "http://hooks.example.com" is not a URL starting with https:// for protocol https`)
	_, err = Endpoint(notify.Email, "not-an-email")
	assert.EqualError(t, err, `endpoint "not-an-email" is not an email address for protocol email`)
	_, err = Endpoint("pager", "x")
	assert.ErrorContains(t, err, `protocol "pager" is not supported`)
}

func TestSameAccount(t *testing.T) {
	const fn, stream = "arn:aws:lambda:eu-west-1:210987654321:function:notify", "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s"
	assert.NoError(t, SameAccount(notify.Lambda, fn, ""), "an environment-agnostic stack cannot tell")
	assert.NoError(t, SameAccount(notify.Lambda, fn, "210987654321"))
	assert.NoError(t, SameAccount(notify.SQS, "arn:aws:sqs:eu-west-1:210987654321:q", "123456789012"), "a queue's owner grants SNS in its queue policy")
	assert.ErrorContains(t, SameAccount(notify.Lambda, fn, "123456789012"), `function "arn:aws:lambda:eu-west-1:210987654321:function:notify" is in account 210987654321, not the stack's account 123456789012`)
	assert.EqualError(t, SameAccount(notify.Firehose, stream, "123456789012"), `delivery stream "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s" is in account 210987654321, not the stack's account 123456789012: SNS delivers only to a Firehose stream of the topic's own account`)
}

func TestAccountRegion(t *testing.T) {
	assert.NoError(t, Account("123456789012"))
	assert.EqualError(t, Account("12345"), `"12345" is not an AWS account id: use its twelve digits`)
	assert.NoError(t, Region("us-gov-west-1"))
	assert.EqualError(t, Region("eu-west"), `"eu-west" is not an AWS region name such as eu-west-1`)
}

// TestEmailAddress: a bare address with a dotted domain, as SNS and approvers need it; each refusal
// is one SNS or a mail server would make at deploy or delivery time.
func TestEmailAddress(t *testing.T) {
	for _, ok := range []string{"ops@example.com", "first.last+ci@mail.example.co.uk"} {
		assert.NoError(t, EmailAddress(ok), ok)
	}
	for _, bad := range []string{
		"ops@localhost",                          // no dotted domain
		"ops@example.",                           // a trailing dot
		"Ops <ops@example.com>",                  // a display name
		"ops",                                    // no domain
		"ops@exa\x01mple.com",                    // a control character
		"o@" + strings.Repeat("x", 250) + ".com", // longer than 254
	} {
		assert.ErrorContains(t, EmailAddress(bad), " is not an email address", bad)
	}
}
