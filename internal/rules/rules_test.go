package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNearest(t *testing.T) {
	keys := []string{"approval", "approverEmails", "fleetSize", "notifications", "instanceType"}
	for word, want := range map[string]string{
		"aproval": "approval", "fleetsize": "fleetSize", "fleet_size": "fleetSize", "notification": "notifications",
		"aprovers": "approverEmails", "intsanceType": "instanceType", "colour": "", "x": "",
	} {
		assert.Equal(t, want, Nearest(word, keys), word)
	}
}

func TestInstanceType(t *testing.T) {
	for _, ok := range []string{"t3.micro", "t3a.large", "m7i.xlarge", "c5.24xlarge", "m5.metal"} {
		assert.NoError(t, InstanceType(ok), ok)
	}
	for typ, want := range map[string]string{
		"big":          `"big" is not an EC2 instance type such as t3.micro`,
		"t3.mirco":     `no instance size "mirco"; did you mean t3.micro?`,
		"t3.hugeous":   `no instance size "hugeous"`,
		"t4g.micro":    "is an Arm (Graviton) type",
		"a1.large":     "is an Arm (Graviton) type",
		"c7gn.large":   "is an Arm (Graviton) type",
		"u-6tb1.metal": "runs only on dedicated hosts",
		"mac1.metal":   "runs only on dedicated hosts",
	} {
		err := InstanceType(typ)
		if assert.Error(t, err, typ) {
			assert.Contains(t, err.Error(), want, typ)
		}
	}
}

func TestEndpoint(t *testing.T) {
	arn, err := Endpoint(Lambda, "arn:aws:lambda:eu-west-1:210987654321:function:notify:live")
	assert.NoError(t, err)
	assert.Equal(t, &ARN{Partition: "aws", Service: "lambda", Region: "eu-west-1", Account: "210987654321", Resource: "function:notify:live"}, arn)
	_, err = Endpoint(HTTPS, "http://hooks.example.com")
	assert.EqualError(t, err, `endpoint "http://hooks.example.com" is not a URL starting with https:// for protocol https`)
	_, err = Endpoint(Email, "not-an-email")
	assert.EqualError(t, err, `endpoint "not-an-email" is not an email address for protocol email`)
	_, err = Endpoint("pager", "x")
	assert.ErrorContains(t, err, `protocol "pager" is not supported`)
	assert.True(t, SMS.Readable())
	assert.False(t, EmailJSON.Readable())
}

func TestSameAccount(t *testing.T) {
	const fn, stream = "arn:aws:lambda:eu-west-1:210987654321:function:notify", "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s"
	assert.NoError(t, SameAccount(Lambda, fn, ""), "an environment-agnostic stack cannot tell")
	assert.NoError(t, SameAccount(Lambda, fn, "210987654321"))
	assert.NoError(t, SameAccount(SQS, "arn:aws:sqs:eu-west-1:210987654321:q", "123456789012"), "a queue's owner grants SNS in its queue policy")
	assert.ErrorContains(t, SameAccount(Lambda, fn, "123456789012"), `function "arn:aws:lambda:eu-west-1:210987654321:function:notify" is in account 210987654321, not the stack's account 123456789012`)
	assert.EqualError(t, SameAccount(Firehose, stream, "123456789012"), `delivery stream "arn:aws:firehose:eu-west-1:210987654321:deliverystream/s" is in account 210987654321, not the stack's account 123456789012: SNS delivers only to a Firehose stream of the topic's own account`)
}
