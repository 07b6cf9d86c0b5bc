// Package names checks the names, addresses and ARNs that the settings contract and the construct
// packages take: CodeCommit repositories and branches, IAM users, Elastic Beanstalk applications
// and environments, EC2 tags, account ids, regions, email addresses and SNS subscriber endpoints.
// Each check returns nil or one error that shows the value and says what is wrong, without naming
// a setting or a prop (package hint says why). It is pure Go and never starts jsii.
package names

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/pipekit/cdk-pipeline/internal/hint"
)

var (
	repositoryNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	iamUserRE        = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)
	beanstalkAppRE   = regexp.MustCompile(`^[^/]{1,100}$`)
	beanstalkEnvRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$`)
)

// RepositoryName checks a CodeCommit repository name.
func RepositoryName(s string) error {
	if !repositoryNameRE.MatchString(s) || strings.HasSuffix(s, ".git") || s == "." || s == ".." {
		return fmt.Errorf("%s is not a CodeCommit repository name: use 1-100 letters, digits, '.', '_' or '-', not ending in .git", hint.Show(s))
	}
	return nil
}

// Branch checks a branch name by git check-ref-format's rules.
func Branch(b string) error {
	problem := ""
	switch {
	case b == "":
		problem = "it is empty"
	case strings.HasPrefix(b, "refs/"):
		problem = `give the branch name alone, such as "main", not a ref`
	case len(b) > 255:
		problem = "it is longer than 255 characters"
	case hasControl(b) || strings.ContainsAny(b, " ~^:?*[\\"):
		problem = `it has a space, a control character or one of ~ ^ : ? * [ \`
	case strings.Contains(b, "..") || strings.Contains(b, "@{") || strings.Contains(b, "//"):
		problem = `it has "..", "@{" or "//"`
	case b == "@" || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") ||
		strings.HasPrefix(b, "-") || strings.HasSuffix(b, ".lock"):
		problem = `it starts with "/" or "-", ends with "/", "." or ".lock", or is "@"`
	default:
		for _, part := range strings.Split(b, "/") {
			if strings.HasPrefix(part, ".") {
				problem = `a component starts with "."`
			}
		}
	}
	if problem != "" {
		return fmt.Errorf("%s is not a valid git branch name: %s", hint.Show(b), problem)
	}
	return nil
}

// IAMUserName checks the name of an IAM user.
func IAMUserName(s string) error {
	if !iamUserRE.MatchString(s) {
		return fmt.Errorf("%s is not an IAM user name: use 1-64 letters, digits or +=,.@_-", hint.Show(s))
	}
	return nil
}

// BeanstalkApplication checks an Elastic Beanstalk application name.
func BeanstalkApplication(s string) error {
	if !beanstalkAppRE.MatchString(s) || hasControl(s) {
		return fmt.Errorf("%s is not an Elastic Beanstalk application name: use 1-100 characters without '/'", hint.Show(s))
	}
	return nil
}

// BeanstalkEnvironment checks an Elastic Beanstalk environment name.
func BeanstalkEnvironment(s string) error {
	if !beanstalkEnvRE.MatchString(s) {
		return fmt.Errorf("%s is not an Elastic Beanstalk environment name: use 4-40 letters, digits or '-', not starting or ending with '-'", hint.Show(s))
	}
	return nil
}

// Tag checks an EC2 tag that selects instances.
func Tag(key, value string) error {
	if key == "" || len(key) > 128 || len(value) > 256 || hasControl(key+value) || strings.HasPrefix(strings.ToLower(key), "aws:") {
		return fmt.Errorf("%s is not a valid EC2 tag: the key is 1-128 characters, the value up to 256, no control characters, and keys may not start with aws:", hint.Show(key+"="+value))
	}
	return nil
}

// Account checks a twelve-digit AWS account id.
func Account(id string) error {
	if len(id) != 12 || strings.Trim(id, "0123456789") != "" {
		return fmt.Errorf("%s is not an AWS account id: use its twelve digits", hint.Show(id))
	}
	return nil
}

var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)

// Region checks the form of an AWS region name, such as eu-west-1.
func Region(name string) error {
	if !regionRE.MatchString(name) {
		return fmt.Errorf("%s is not an AWS region name such as eu-west-1", hint.Show(name))
	}
	return nil
}

// hasControl reports whether s has a control character.
func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
