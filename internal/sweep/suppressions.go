package sweep

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Suppressions audits the cdk-nag suppressions of every stack of the app (docs/testing.md): a
// suppression must be the narrowest there is and say why it holds. It returns one line per
// problem:
//   - a stack-level suppression, which exempts every resource of the stack, present and future;
//   - an AwsSolutions-IAM4 or -IAM5 suppression without appliesTo, which exempts every managed
//     policy or wildcard of the resource instead of the ones its reason speaks of;
//   - a reason of fewer than MinReasonWords words, or a placeholder (TODO, reviewed, ok, ...);
//   - a reason that does not name what the rule is about: an AwsSolutions SQS rule's a queue, an S3
//     rule's a bucket, an ELB rule's a load balancer, and so on (subjects);
//   - an IAM4 or IAM5 reason that does not name what an appliesTo entry covers: the managed
//     policy by its name; an action by its name or its service's resources; a resource by its
//     service's resources; "Resource::*" by why no narrower resource exists (see reasonNames).
func Suppressions(app *App) []string {
	var out []string
	for _, s := range app.Stacks {
		out = append(out, StackSuppressions(s)...)
	}
	return out
}

// MinReasonWords is the fewest words a suppression's reason has.
const MinReasonWords = 8

// StackSuppressions is Suppressions for one stack.
func StackSuppressions(s *Stack) []string {
	var out []string
	problem := func(where, format string, args ...any) {
		out = append(out, s.Name+"/"+where+": "+fmt.Sprintf(format, args...))
	}
	if rules := nagRules(s.Template["Metadata"]); len(rules) > 0 {
		for _, r := range rules {
			problem("(stack)", "a stack-level suppression of %s exempts every resource of the stack; suppress on the resource, with appliesTo", r.id)
		}
	}
	for _, r := range s.Resources("") {
		for _, rule := range nagRules(r.Body["Metadata"]) {
			where := r.ID
			if p := pathOf(r); p != "" {
				where = p
			}
			iam := rule.id == "AwsSolutions-IAM4" || rule.id == "AwsSolutions-IAM5"
			if iam && len(rule.appliesTo) == 0 {
				problem(where, "%s is suppressed without appliesTo, for every finding of the resource; name the policies, actions or resources", rule.id)
			}
			if words := len(strings.Fields(rule.reason)); words < MinReasonWords || placeholder.MatchString(rule.reason) {
				problem(where, "%s's reason %q does not say why the finding does not apply here", rule.id, rule.reason)
				continue
			}
			if ws := subjectWords(rule.id); len(ws) > 0 && !containsAny(rule.reason, ws) {
				problem(where, "%s's reason does not name what the rule is about (%s): %q", rule.id, strings.Join(ws, ", "), rule.reason)
			}
			if !iam {
				continue
			}
			for _, entry := range rule.appliesTo {
				if !reasonNames(rule.reason, entry) {
					problem(where, "%s's reason does not say what %s covers: %q", rule.id, entry, rule.reason)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// placeholder matches reasons that say nothing about the finding.
var placeholder = regexp.MustCompile(`(?i)\b(TODO|FIXME|TBD|XXX)\b|^\s*(ok|fine|reviewed|acceptable|accepted|needed|required|not applicable|n/a|false positive|by design|intended|suppressed)\W*$`)

// words are, per AWS service, the words by which a reason says which of its resources a
// wildcard covers.
var words = map[string][]string{
	"s3": {"bucket", "object", "S3"}, "kms": {"key", "KMS"}, "logs": {"log"}, "codebuild": {"report", "build", "project", "check"},
	"codecommit": {"repositor", "CodeCommit", "approval rule", "pull request"}, "codepipeline": {"pipeline", "stage"},
	"codedeploy": {"deployment", "CodeDeploy"}, "ec2": {"instance", "launch", "EC2"}, "cloudwatch": {"alarm"},
	"sns": {"topic"}, "sqs": {"queue"}, "dynamodb": {"table"}, "events": {"rule", "event"},
}

// unnamed are the ways a reason says why a wildcard resource ("Resource::*") is all there is.
var unnamed = regexp.MustCompile(`(?i)no ARN|no resource-level|every resource|any key|no names|only "\*"|any resource`)

// subjects are, per family of AwsSolutions rules (the letters of the rule id), the words of which a
// reason names one: the kind of resource the rule is about. IAM rules name theirs per appliesTo
// entry (reasonNames).
var subjects = map[string][]string{
	"SQS": {"queue"}, "S": {"bucket"}, "ELB": {"load balancer"}, "EC": {"security group", "instance", "load balancer", "port", "internet"},
	"AS": {"scaling", "instance"}, "SNS": {"topic"}, "KMS": {"key"}, "L": {"function", "runtime", "Lambda"},
	"CB": {"build", "project", "image"}, "VPC": {"VPC", "flow log", "subnet"}, "DDB": {"table"}, "CW": {"log", "alarm"},
}

var awsSolutionsRule = regexp.MustCompile(`^AwsSolutions-([A-Z]+)[0-9]+$`)

// subjectWords are the words of which the reason of a suppression of rule names one, or none.
func subjectWords(rule string) []string {
	m := awsSolutionsRule.FindStringSubmatch(rule)
	if m == nil {
		return nil
	}
	return subjects[m[1]]
}

func containsAny(text string, ws []string) bool {
	return slices.ContainsFunc(ws, func(w string) bool { return strings.Contains(strings.ToLower(text), strings.ToLower(w)) })
}

// reasonNames reports whether reason says what the appliesTo entry covers.
func reasonNames(reason, entry string) bool {
	has := func(ws ...string) bool { return containsAny(reason, ws) }
	text := strings.NewReplacer(`\/`, "/", `\.`, ".", `\*`, "*").Replace(strings.TrimSuffix(strings.TrimPrefix(entry, "/^"), "$/g"))
	switch {
	case strings.HasPrefix(text, "Policy::"):
		name := text[strings.LastIndex(text, "/")+1:]
		return has(name)
	case strings.HasPrefix(text, "Action::"):
		action := strings.TrimPrefix(text, "Action::")
		service, op, _ := strings.Cut(action, ":")
		return has(action, strings.TrimSuffix(op, "*")) || has(words[service]...)
	case text == "Resource::*":
		return unnamed.MatchString(reason)
	case strings.HasPrefix(text, "Resource::"):
		for service, ws := range words {
			if strings.Contains(text, ":"+service+":") {
				return has(ws...)
			}
		}
		// A resource named by a token (<Bucket.Arn>/*): some resource words, whichever service.
		return has("object", "bucket", "log", "key", "report", "stage", "stream")
	}
	return false
}

type nagRule struct {
	id, reason string
	appliesTo  []string
}

// nagRules reads cdk-nag's suppressions from a Metadata block: {"cdk_nag": {"rules_to_suppress":
// [{"id", "reason", "applies_to": [string or {"regex": string}]}]}}.
func nagRules(metadata any) []nagRule {
	m, _ := metadata.(map[string]any)
	nag, _ := m["cdk_nag"].(map[string]any)
	var out []nagRule
	for _, x := range list(nag["rules_to_suppress"]) {
		r, _ := x.(map[string]any)
		rule := nagRule{}
		rule.id, _ = r["id"].(string)
		rule.reason, _ = r["reason"].(string)
		for _, a := range list(r["applies_to"]) {
			switch a := a.(type) {
			case string:
				rule.appliesTo = append(rule.appliesTo, a)
			case map[string]any:
				if re, ok := a["regex"].(string); ok {
					rule.appliesTo = append(rule.appliesTo, re)
				}
			}
		}
		out = append(out, rule)
	}
	return out
}

// pathOf is a resource's construct path below its stack, or "".
func pathOf(r Resource) string {
	m, _ := r.Body["Metadata"].(map[string]any)
	p, _ := m["aws:cdk:path"].(string)
	_, below, _ := strings.Cut(p, "/")
	return strings.TrimSuffix(below, "/Resource")
}
