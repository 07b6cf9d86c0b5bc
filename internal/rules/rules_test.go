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

func TestDeployWindow(t *testing.T) {
	for in, want := range map[string]string{
		"* * 9-16 ? * MON-FRI":          "* * 9-16 ? * MON-FRI",
		"* * 9-16 ? * MON-FRI *":        "* * 9-16 ? * MON-FRI *",
		"cron(* 9-16 ? * MON-FRI *)":    "* * 9-16 ? * MON-FRI *",
		"  * 0/15 22-23 ? * 2,4,6 2027": "* 0/15 22-23 ? * 2,4,6 2027",
		"* * 8-18 1-15 JAN-MAR ?":       "* * 8-18 1-15 JAN-MAR ?",
		"* * * L * ?":                   "* * * L * ?",
		"* * * ? * 6L":                  "* * * ? * 6L",
	} {
		got, err := DeployWindow(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for in, want := range map[string]string{
		"cron(0 9-16 ? * MON-FRI)":   "cron(...) takes 6 fields",
		"9-16 MON-FRI":               "use 6 or 7 fields",
		"0 * 9-16 ? * MON-FRI":       "the seconds field must be *",
		"* * 9-25 ? * MON-FRI":       "hours field \"9-25\": 25 is out of range 0-23",
		"* * 9-16 * * MON-FRI":       "exactly one of day-of-month and day-of-week must be ?",
		"* * 9-16 ? * MON-FRX":       `day-of-week field "MON-FRX": "FRX" is not a number or SUN-SAT`,
		"* ? 9-16 ? * MON":           "? is allowed in the day fields only",
		"* * 9-16 ? * MON; rm -rf /": "use 6 or 7 fields",
	} {
		_, err := DeployWindow(in)
		assert.ErrorContains(t, err, want, in)
	}
}

func TestTimeZoneAccountRegion(t *testing.T) {
	assert.NoError(t, TimeZone("UTC"))
	assert.NoError(t, TimeZone("Europe/Paris"))
	assert.EqualError(t, TimeZone("Mars/Olympus"), `"Mars/Olympus" is not an IANA time zone name such as UTC or Europe/Paris`)
	assert.Error(t, TimeZone("Local"))
	assert.NoError(t, Account("123456789012"))
	assert.EqualError(t, Account("12345"), `"12345" is not an AWS account id: use its twelve digits`)
	assert.NoError(t, Region("us-gov-west-1"))
	assert.EqualError(t, Region("eu-west"), `"eu-west" is not an AWS region name such as eu-west-1`)
}
