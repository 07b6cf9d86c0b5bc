package rules

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
)

// Protocol is an SNS subscription protocol.
type Protocol string

// The SNS protocols a subscriber may use.
const (
	Email       Protocol = "email"
	EmailJSON   Protocol = "email-json"
	HTTP        Protocol = "http"
	HTTPS       Protocol = "https"
	SQS         Protocol = "sqs"
	Lambda      Protocol = "lambda"
	Firehose    Protocol = "firehose"
	Application Protocol = "application"
	SMS         Protocol = "sms"
)

// Protocols lists every protocol, in the order docs/notifications.md documents them.
var Protocols = []Protocol{Email, EmailJSON, HTTP, HTTPS, SQS, Lambda, Firehose, Application, SMS}

// Readable reports whether p's subscribers are people, who get readable text, rather than
// machines, who get the event JSON.
func (p Protocol) Readable() bool {
	return p == Email || p == SMS
}

// PipelineState is a state of a CodePipeline "Pipeline Execution State Change" event.
type PipelineState string

// The pipeline execution states.
const (
	PipelineCanceled   PipelineState = "CANCELED"
	PipelineFailed     PipelineState = "FAILED"
	PipelineResumed    PipelineState = "RESUMED"
	PipelineStarted    PipelineState = "STARTED"
	PipelineStopped    PipelineState = "STOPPED"
	PipelineStopping   PipelineState = "STOPPING"
	PipelineSucceeded  PipelineState = "SUCCEEDED"
	PipelineSuperseded PipelineState = "SUPERSEDED"
)

// PipelineStates lists every pipeline execution state.
var PipelineStates = []PipelineState{PipelineCanceled, PipelineFailed, PipelineResumed, PipelineStarted,
	PipelineStopped, PipelineStopping, PipelineSucceeded, PipelineSuperseded}

// DeploymentState is a state of a CodeDeploy "Deployment State-change Notification" event.
type DeploymentState string

// The CodeDeploy deployment states that matter to people. A rollback shows as the failed or
// stopped deployment's FAILURE or STOP, then as the rollback deployment's own START and SUCCESS.
const (
	DeploymentStart   DeploymentState = "START"
	DeploymentSuccess DeploymentState = "SUCCESS"
	DeploymentFailure DeploymentState = "FAILURE"
	DeploymentStop    DeploymentState = "STOP"
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
var arnEndpoints = map[Protocol]struct {
	service string
	re      *regexp.Regexp
	example string
}{
	SQS:         {"sqs", regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(\.fifo)?$`), "arn:aws:sqs:us-east-1:123456789012:my-queue"},
	Lambda:      {"lambda", regexp.MustCompile(`^function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$`), "arn:aws:lambda:us-east-1:123456789012:function:my-function"},
	Firehose:    {"firehose", regexp.MustCompile(`^deliverystream/[A-Za-z0-9._-]{1,64}$`), "arn:aws:firehose:us-east-1:123456789012:deliverystream/my-stream"},
	Application: {"sns", regexp.MustCompile(`^endpoint/[A-Z_]+/[A-Za-z0-9._-]{1,256}/[A-Za-z0-9-]{1,64}$`), "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/my-app/1a2b3c4d-..."},
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Endpoint checks endpoint as a subscriber of protocol p: the address in the protocol's own form.
// For the protocols whose endpoints are ARNs it returns the parsed ARN.
func Endpoint(p Protocol, endpoint string) (*ARN, error) {
	bad := func(want string) error {
		return fmt.Errorf("endpoint %s is not %s for protocol %s", Show(endpoint), want, p)
	}
	switch p {
	case Email, EmailJSON:
		if err := EmailAddress(endpoint); err != nil {
			return nil, bad("an email address")
		}
	case HTTP, HTTPS:
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != string(p) || u.Host == "" || HasControl(endpoint) || strings.ContainsAny(endpoint, " \t") {
			return nil, bad("a URL starting with " + string(p) + "://")
		}
		if u.User != nil {
			// The template would carry the password in plaintext, readable by anyone who can
			// read the stack.
			return nil, fmt.Errorf("endpoint must not contain credentials (user:password@); authenticate the webhook by the SNS signature instead")
		}
	case SMS:
		if !e164RE.MatchString(endpoint) {
			return nil, bad("a phone number in E.164 form such as +14155550100")
		}
	case SQS, Lambda, Firehose, Application:
		want := arnEndpoints[p]
		arn := ParseARN(endpoint)
		if arn == nil || arn.Service != want.service || !want.re.MatchString(arn.Resource) {
			return nil, bad("an ARN like " + want.example)
		}
		return arn, nil
	default:
		return nil, fmt.Errorf("protocol %s is not supported; use %s", Show(string(p)), joined(Protocols))
	}
	return nil, nil
}

// SameAccount checks that a lambda or firehose subscriber is in account, the stack's account
// (empty when the stack is environment-agnostic, which checks nothing). SNS puts records only into
// a Firehose stream of the topic's account, and a stack can give SNS the right to invoke only its
// own account's functions.
func SameAccount(p Protocol, endpoint, account string) error {
	arn := ParseARN(endpoint)
	if account == "" || arn == nil || arn.Account == account {
		return nil
	}
	switch p {
	case Lambda:
		return fmt.Errorf("function %s is in account %s, not the stack's account %s: the stack cannot give SNS the right to invoke it; subscribe an SQS queue of that account instead, or deploy the stack environment-agnostic and let the function's owner add the permission (docs/notifications.md)", Show(endpoint), arn.Account, account)
	case Firehose:
		return fmt.Errorf("delivery stream %s is in account %s, not the stack's account %s: SNS delivers only to a Firehose stream of the topic's own account", Show(endpoint), arn.Account, account)
	}
	return nil
}

// EmailAddress accepts a bare address with a dotted domain, as SNS and approvers need it: no
// display name.
func EmailAddress(s string) error {
	a, err := mail.ParseAddress(s)
	_, domain, _ := strings.Cut(s, "@")
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(domain, ".") ||
		strings.HasSuffix(domain, ".") || HasControl(s) {
		return fmt.Errorf("%s is not an email address", Show(s))
	}
	return nil
}

func joined[T ~string](items []T) string {
	names := make([]string, len(items))
	for i, item := range items {
		names[i] = string(item)
	}
	return strings.Join(names, ", ")
}
