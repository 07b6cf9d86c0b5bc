package names

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"

	"github.com/pipekit/cdk-pipeline/internal/hint"
	"github.com/pipekit/cdk-pipeline/notify"
)

// ARN is an Amazon Resource Name split into its parts.
type ARN struct {
	// Partition is aws, aws-cn, aws-us-gov, ...
	Partition string
	// Service is the service prefix, such as sqs or lambda.
	Service string
	// Region is the resource's region.
	Region string
	// Account is the owning account's twelve-digit id.
	Account string
	// Resource is everything after the account.
	Resource string
}

var arnRE = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):([a-z0-9-]+):([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):(.+)$`)

// ParseARN splits s into its parts, or returns nil when s is not an ARN of a known partition
// with a region and an account.
func ParseARN(s string) *ARN {
	m := arnRE.FindStringSubmatch(s)
	if m == nil {
		return nil
	}
	return &ARN{Partition: m[1], Service: m[2], Region: m[3], Account: m[4], Resource: m[5]}
}

// arnEndpoints are the protocols whose endpoints are ARNs: the service and resource they must name.
var arnEndpoints = map[notify.Protocol]struct {
	service string
	re      *regexp.Regexp
	example string
}{
	notify.SQS:         {"sqs", regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(\.fifo)?$`), "arn:aws:sqs:us-east-1:123456789012:my-queue"},
	notify.Lambda:      {"lambda", regexp.MustCompile(`^function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$`), "arn:aws:lambda:us-east-1:123456789012:function:my-function"},
	notify.Firehose:    {"firehose", regexp.MustCompile(`^deliverystream/[A-Za-z0-9._-]{1,64}$`), "arn:aws:firehose:us-east-1:123456789012:deliverystream/my-stream"},
	notify.Application: {"sns", regexp.MustCompile(`^endpoint/[A-Z_]+/[A-Za-z0-9._-]{1,256}/[A-Za-z0-9-]{1,64}$`), "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/my-app/1a2b3c4d-..."},
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Endpoint checks endpoint as a subscriber of protocol p: the address in the protocol's own form.
// For the protocols whose endpoints are ARNs it returns the parsed ARN.
func Endpoint(p notify.Protocol, endpoint string) (*ARN, error) {
	bad := func(want string) error {
		return fmt.Errorf("endpoint %s is not %s for protocol %s", hint.Show(endpoint), want, p)
	}
	switch p {
	case notify.Email, notify.EmailJSON:
		if err := EmailAddress(endpoint); err != nil {
			return nil, bad("an email address")
		}
	case notify.HTTP, notify.HTTPS:
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != string(p) || u.Host == "" || hasControl(endpoint) || strings.ContainsAny(endpoint, " \t") {
			return nil, bad("a URL starting with " + string(p) + "://")
		}
		if u.User != nil {
			// The template would carry the password in plaintext, readable by anyone who can
			// read the stack.
			return nil, fmt.Errorf("endpoint must not contain credentials (user:password@); authenticate the webhook by the SNS signature instead")
		}
	case notify.SMS:
		if !e164RE.MatchString(endpoint) {
			return nil, bad("a phone number in E.164 form such as +14155550100")
		}
	case notify.SQS, notify.Lambda, notify.Firehose, notify.Application:
		want := arnEndpoints[p]
		arn := ParseARN(endpoint)
		if arn == nil || arn.Service != want.service || !want.re.MatchString(arn.Resource) {
			return nil, bad("an ARN like " + want.example)
		}
		return arn, nil
	default:
		return nil, fmt.Errorf("protocol %s is not supported; use %s", hint.Show(string(p)), hint.Joined(notify.Protocols))
	}
	return nil, nil
}

// SamePlace checks a subscriber against the stack's account and region, each empty when unknown
// (an environment-agnostic stack), which checks nothing. A stack can give SNS the right to invoke
// only its own account's functions; SNS puts records only into a Firehose stream of the topic's own
// account; and SNS delivers across regions only to SQS queues and Lambda functions
// (https://docs.aws.amazon.com/sns/latest/dg/sns-cross-region-delivery.html), so a Firehose stream
// or a mobile platform endpoint must be in the topic's region. It returns the first problem.
func SamePlace(p notify.Protocol, endpoint, account, region string) error {
	arn := ParseARN(endpoint)
	if arn == nil {
		return nil
	}
	if account != "" && arn.Account != account {
		switch p {
		case notify.Lambda:
			return fmt.Errorf("function %s is in account %s, not the stack's account %s: the stack cannot give SNS the right to invoke it; subscribe an SQS queue of that account instead, or deploy the stack environment-agnostic and let the function's owner add the permission (docs/notifications.md)", hint.Show(endpoint), arn.Account, account)
		case notify.Firehose:
			return fmt.Errorf("delivery stream %s is in account %s, not the stack's account %s: SNS delivers only to a Firehose stream of the topic's own account", hint.Show(endpoint), arn.Account, account)
		}
	}
	if region != "" && arn.Region != region && (p == notify.Firehose || p == notify.Application) {
		return fmt.Errorf("%s %s is in region %s, not the stack's region %s: SNS delivers to another region only for sqs and lambda subscribers", p, hint.Show(endpoint), arn.Region, region)
	}
	return nil
}

// EmailAddress accepts a bare address with a dotted domain, as SNS and approvers need it: no
// display name.
func EmailAddress(s string) error {
	a, err := mail.ParseAddress(s)
	_, domain, _ := strings.Cut(s, "@")
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(domain, ".") ||
		strings.HasSuffix(domain, ".") || hasControl(s) {
		return fmt.Errorf("%s is not an email address", hint.Show(s))
	}
	return nil
}
