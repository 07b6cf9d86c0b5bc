package settings

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

var (
	repositoryNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	instanceTypeRE   = regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9-]+$`)
	// Graviton families carry a "g" right after the generation digit (t4g, m7gd, c6gn, x2gd) or are a1.
	armInstanceTypeRE = regexp.MustCompile(`^([a-z]+[0-9]+g[a-z]*|a1)\.`)
	e164RE            = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	iamUserRE         = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
	beanstalkAppRE    = regexp.MustCompile(`^[^/]{1,100}$`)
	beanstalkEnvRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$`)
	// arnRE splits an ARN into partition, service, region, account and resource.
	arnRE     = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):([a-z0-9-]+):([a-z]{2}(?:-[a-z]+)+-[0-9]):([0-9]{12}):(.+)$`)
	resources = map[string]struct {
		service string
		re      *regexp.Regexp
		example string
	}{
		"sqs":         {"sqs", regexp.MustCompile(`^[A-Za-z0-9_-]{1,75}(\.fifo)?$`), "arn:aws:sqs:us-east-1:123456789012:my-queue"},
		"lambda":      {"lambda", regexp.MustCompile(`^function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$`), "arn:aws:lambda:us-east-1:123456789012:function:my-function"},
		"firehose":    {"firehose", regexp.MustCompile(`^deliverystream/[A-Za-z0-9._-]{1,64}$`), "arn:aws:firehose:us-east-1:123456789012:deliverystream/my-stream"},
		"application": {"sns", regexp.MustCompile(`^endpoint/[A-Z_]+/[A-Za-z0-9._-]{1,256}/[A-Za-z0-9-]{1,64}$`), "arn:aws:sns:us-east-1:123456789012:endpoint/GCM/my-app/1a2b3c4d-..."},
	}
)

// Validate reports every problem with s at once, one error per problem, each naming its key.
func (s Settings) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !repositoryNameRE.MatchString(s.RepositoryName) || strings.HasSuffix(s.RepositoryName, ".git") ||
		s.RepositoryName == "." || s.RepositoryName == ".." {
		add("repositoryName: %s is not a CodeCommit repository name: use 1-100 letters, digits, '.', '_' or '-', not ending in .git", show(s.RepositoryName))
	}
	if problem := branchProblem(s.Branch); problem != "" {
		add("branch: %s is not a valid git branch name: %s", show(s.Branch), problem)
	}
	for i, e := range s.ApproverEmails {
		if !isEmail(e) {
			add("approverEmails[%d]: %s is not an email address", i, show(e))
		}
	}
	partitions := map[string]bool{}
	for i, sub := range s.Notifications {
		errs = append(errs, validateSubscriber(fmt.Sprintf("notifications[%d]", i), sub, partitions)...)
	}
	if len(partitions) > 1 {
		add("notifications: the ARNs name %d partitions (%s); they must all be the stack's partition", len(partitions), strings.Join(sortedKeys(partitions), ", "))
	}
	if len(s.NotifyOn) == 0 {
		add("notifyOn: the list is empty; name at least one of %s", strings.Join(PipelineStates, ", "))
	}
	for i, state := range s.NotifyOn {
		if !slices.Contains(PipelineStates, state) {
			add("notifyOn[%d]: %s is not a pipeline state; use %s", i, show(state), strings.Join(PipelineStates, ", "))
		}
	}
	if !slices.Contains(Targets, string(s.DeployTarget)) {
		add("deployTarget: %s is not a target; use %s", show(string(s.DeployTarget)), strings.Join(Targets, ", "))
	}
	if s.FleetSize < 1 || s.FleetSize > 10 {
		add("fleetSize: %d is out of range; use 1 to 10", s.FleetSize)
	}
	switch {
	case !instanceTypeRE.MatchString(s.InstanceType):
		add("instanceType: %s is not an EC2 instance type such as t3.micro", show(s.InstanceType))
	case armInstanceTypeRE.MatchString(s.InstanceType):
		add("instanceType: %s is an Arm (Graviton) type; the fleet runs x86_64 Amazon Linux 2023 and an amd64 build, so use an x86_64 type such as t3.micro", show(s.InstanceType))
	}
	switch s.DeployTarget {
	case Instances:
		if s.InstanceTag.Key == "" {
			add(`instanceTag: required when deployTarget is "instances"; give Key=Value, for example -c instanceTag=Environment=prod`)
		}
	case Beanstalk:
		if s.BeanstalkApplication == "" {
			add(`beanstalkApplication: required when deployTarget is "beanstalk"`)
		}
		if s.BeanstalkEnvironment == "" {
			add(`beanstalkEnvironment: required when deployTarget is "beanstalk"`)
		}
	}
	if len(s.InstanceTag.Key) > 128 || len(s.InstanceTag.Value) > 256 || hasControl(s.InstanceTag.Key+s.InstanceTag.Value) ||
		strings.HasPrefix(strings.ToLower(s.InstanceTag.Key), "aws:") {
		add("instanceTag: %s is not a valid EC2 tag: the key is 1-128 characters, the value up to 256, no control characters, and keys may not start with aws:", show(s.InstanceTag.Key+"="+s.InstanceTag.Value))
	}
	if s.BeanstalkApplication != "" && (!beanstalkAppRE.MatchString(s.BeanstalkApplication) || hasControl(s.BeanstalkApplication)) {
		add("beanstalkApplication: %s is not an Elastic Beanstalk application name: use 1-100 characters without '/'", show(s.BeanstalkApplication))
	}
	if s.BeanstalkEnvironment != "" && !beanstalkEnvRE.MatchString(s.BeanstalkEnvironment) {
		add("beanstalkEnvironment: %s is not an Elastic Beanstalk environment name: use 4-40 letters, digits or '-', not starting or ending with '-'", show(s.BeanstalkEnvironment))
	}
	if !slices.Contains(DeploymentConfigs, s.DeploymentConfig) {
		add("deploymentConfig: %s is not a deployment configuration; use %s", show(s.DeploymentConfig), strings.Join(DeploymentConfigs, ", "))
	}
	for i, u := range s.OperatorUsers {
		if !iamUserRE.MatchString(u) {
			add("operatorUsers[%d]: %s is not an IAM user name: use 1-64 letters, digits or +=,.@_-", i, show(u))
		}
	}
	if !slices.Contains(ExecutionModes, s.ExecutionMode) {
		add("executionMode: %s is not an execution mode; use %s", show(s.ExecutionMode), strings.Join(ExecutionModes, ", "))
	}
	for i, pack := range s.CompliancePacks {
		if !slices.Contains(Packs, pack) {
			add("compliancePacks[%d]: %s is not a rule pack; use %s", i, show(pack), strings.Join(Packs, ", "))
		}
	}
	errs = append(errs, repeats("approverEmails", s.ApproverEmails)...)
	errs = append(errs, repeats("notifications", s.Notifications)...)
	errs = append(errs, repeats("notifyOn", s.NotifyOn)...)
	errs = append(errs, repeats("operatorUsers", s.OperatorUsers)...)
	errs = append(errs, repeats("compliancePacks", s.CompliancePacks)...)
	return errors.Join(errs...)
}

// repeats reports every entry of a list setting that repeats an earlier one. A repeat would
// subscribe, add or check the same thing twice, which the stack cannot express.
func repeats[T comparable](key string, items []T) []error {
	var errs []error
	first := map[T]int{}
	for i, item := range items {
		if j, seen := first[item]; seen {
			errs = append(errs, fmt.Errorf("%s[%d]: repeats %s[%d]; list each entry once", key, i, key, j))
			continue
		}
		first[item] = i
	}
	return errs
}

func validateSubscriber(name string, sub Subscriber, partitions map[string]bool) []error {
	bad := func(want string) []error {
		return []error{fmt.Errorf("%s: endpoint %s is not %s for protocol %s", name, show(sub.Endpoint), want, sub.Protocol)}
	}
	switch sub.Protocol {
	case "email", "email-json":
		if !isEmail(sub.Endpoint) {
			return bad("an email address")
		}
	case "http", "https":
		u, err := url.Parse(sub.Endpoint)
		if err != nil || u.Scheme != sub.Protocol || u.Host == "" || hasControl(sub.Endpoint) || strings.ContainsAny(sub.Endpoint, " \t") {
			return bad("a URL starting with " + sub.Protocol + "://")
		}
		if u.User != nil {
			// The template would carry the password in plaintext, readable by anyone who can
			// read the stack.
			return []error{fmt.Errorf("%s: endpoint must not contain credentials (user:password@); authenticate the webhook by the SNS signature instead", name)}
		}
	case "sms":
		if !e164RE.MatchString(sub.Endpoint) {
			return bad("a phone number in E.164 form such as +14155550100")
		}
	case "sqs", "lambda", "firehose", "application":
		want := resources[sub.Protocol]
		m := arnRE.FindStringSubmatch(sub.Endpoint)
		if m == nil || m[2] != want.service || !want.re.MatchString(m[5]) {
			return bad("an ARN like " + want.example)
		}
		partitions[m[1]] = true
	default:
		return []error{fmt.Errorf("%s: protocol %s is not supported; use %s", name, show(sub.Protocol), strings.Join(Protocols, ", "))}
	}
	return nil
}

// isEmail accepts a bare address with a dotted domain, as SNS and approvers need it: no display name.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".") && !hasControl(s)
}

// branchProblem applies git check-ref-format's rules for a branch name and says what is wrong.
func branchProblem(b string) string {
	switch {
	case b == "":
		return "it is empty"
	case strings.HasPrefix(b, "refs/"):
		return `give the branch name alone, such as "main", not a ref`
	case len(b) > 255:
		return "it is longer than 255 characters"
	case hasControl(b) || strings.ContainsAny(b, " ~^:?*[\\"):
		return `it has a space, a control character or one of ~ ^ : ? * [ \`
	case strings.Contains(b, "..") || strings.Contains(b, "@{") || strings.Contains(b, "//"):
		return `it has "..", "@{" or "//"`
	case b == "@" || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") ||
		strings.HasPrefix(b, "-") || strings.HasSuffix(b, ".lock"):
		return `it starts with "/" or "-", ends with "/", "." or ".lock", or is "@"`
	}
	for _, part := range strings.Split(b, "/") {
		if strings.HasPrefix(part, ".") {
			return `a component starts with "."`
		}
	}
	return ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortErrors(errs []error) {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
}
