package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsautoscaling"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pipekit/cdk-pipeline/constructs/deploy"
	"github.com/pipekit/cdk-pipeline/internal/cdktest"
	"github.com/pipekit/cdk-pipeline/internal/tier"
)

// regional is a fleet in a stack with a known region (as cdk deploy gives it), synthesized once.
var regional struct {
	s     *cdktest.Synthesized
	group string // the Auto Scaling group's logical id
}

func regionalFleet(t *testing.T) (*cdktest.Synthesized, string) {
	t.Helper()
	if regional.s == nil {
		stack := awscdk.NewStack(cdktest.NewApp(), jsii.String("Regional"), &awscdk.StackProps{
			Env: &awscdk.Environment{Account: jsii.String(cdktest.Account), Region: jsii.String("eu-west-1")},
		})
		awscdk.Aspects_Of(stack).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
		fleet := deploy.NewFleet(stack, jsii.String("Fleet"), nil)
		regional.group = *stack.GetLogicalId(fleet.AutoScalingGroup.Node().DefaultChild().(awsautoscaling.CfnAutoScalingGroup))
		regional.s = cdktest.Synth(t, stack)
	}
	return regional.s, regional.group
}

// userData is the fleet's user data as an instance receives it: the template's Fn::Join with the
// pseudo parameters CloudFormation fills in.
func userData(t *testing.T, s *cdktest.Synthesized) string {
	t.Helper()
	lt := s.Props("AWS::EC2::LaunchTemplate")["LaunchTemplateData"].(map[string]any)
	join := lt["UserData"].(map[string]any)["Fn::Base64"].(map[string]any)["Fn::Join"].([]any)
	pseudo := map[string]string{"AWS::Region": "eu-west-1", "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "Regional"}
	var b strings.Builder
	for _, part := range join[1].([]any) {
		switch p := part.(type) {
		case string:
			b.WriteString(p)
		case map[string]any:
			v, ok := pseudo[fmt.Sprint(p["Ref"])]
			require.True(t, ok, "the user data refers to %v", p)
			b.WriteString(v)
		}
	}
	return b.String()
}

// boot runs the fleet's user data as cloud-init runs it at first boot, with the stand-ins of
// testdata/boot for what reaches the network or the system (and /opt/aws/bin, where the AMI
// would have cfn-signal, mapped into a temporary folder). env sets how often each stand-in
// fails. It returns the exit status, the calls made in order, and the instance log.
func boot(t *testing.T, script string, env map[string]string, cfnSignal, awsCLI bool) (int, []string, string) {
	t.Helper()
	dir := t.TempDir()
	standin, err := filepath.Abs("testdata/boot/standin")
	require.NoError(t, err)
	bin, opt, state := filepath.Join(dir, "bin"), filepath.Join(dir, "opt"), filepath.Join(dir, "state")
	for _, d := range []string{bin, filepath.Join(opt, "aws", "bin"), state} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	names := []string{"dnf", "curl", "install", "systemctl", "sleep", "hostname"}
	if awsCLI {
		names = append(names, "aws")
	}
	for _, name := range names {
		require.NoError(t, os.Symlink(standin, filepath.Join(bin, name)))
	}
	if cfnSignal {
		require.NoError(t, os.Symlink(standin, filepath.Join(opt, "aws", "bin", "cfn-signal")))
	}
	// The few real tools the user data and the stand-ins use; nothing else of this machine (no
	// aws it may have).
	for _, tool := range []string{"bash", "mktemp", "chmod", "rm", "cat", "mkdir", "touch", "ln", "tr", "basename", "dirname", "printenv"} {
		path, err := exec.LookPath(tool)
		require.NoError(t, err)
		require.NoError(t, os.Symlink(path, filepath.Join(bin, tool)))
	}
	file := filepath.Join(dir, "user-data")
	require.NoError(t, os.WriteFile(file, []byte(strings.ReplaceAll(script, "/opt/aws/bin/", opt+"/aws/bin/")), 0o755))
	bash, err := exec.LookPath("bash")
	require.NoError(t, err)
	cmd := exec.Command(bash, file)
	calls := filepath.Join(dir, "calls")
	cmd.Env = []string{"PATH=" + bin, "CALLS=" + calls, "STATE=" + state, "OPT=" + opt, "TMPDIR=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	status := 0
	if exit, ok := err.(*exec.ExitError); ok {
		status = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	b, _ := os.ReadFile(calls)
	return status, strings.Split(strings.TrimSpace(string(b)), "\n"), string(out)
}

// count returns how many calls start with prefix.
func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// pauses are the retry's sleeps, in order.
func pauses(calls []string) string {
	var p []string
	for _, c := range calls {
		if s, ok := strings.CutPrefix(c, "sleep "); ok {
			p = append(p, s)
		}
	}
	return strings.Join(p, " ")
}

// TestAgentInstallAtBoot runs the fleet's user data, as synthesized, through every outcome: the
// retries of each step, the signal CloudFormation receives and the exit status.
func TestAgentInstallAtBoot(t *testing.T) {
	tier.Deep(t)
	s, group := regionalFleet(t)
	script := userData(t, s)
	signal := func(code int) string {
		return fmt.Sprintf("cfn-signal --stack Regional --resource %s --region eu-west-1 -e %d", group, code)
	}
	cliFailure := "aws cloudformation signal-resource --region eu-west-1 --stack-name Regional --logical-resource-id " + group +
		" --unique-id i-0123456789abcdef0 --status FAILURE"

	t.Run("first try", func(t *testing.T) {
		status, calls, log := boot(t, script, nil, false, true)
		assert.Equal(t, 0, status, log)
		assert.Equal(t, []string{"dnf install -y ruby aws-cfn-bootstrap"}, calls[:1])
		assert.Equal(t, 1, count(calls, "curl --fail --silent --show-error --location --output "))
		assert.Contains(t, calls, "install auto")
		assert.Equal(t, 1, count(calls, "systemctl is-active --quiet codedeploy-agent"))
		assert.Empty(t, pauses(calls))
		assert.Equal(t, signal(0), calls[len(calls)-1], "the exit trap signals success last")
		assert.Contains(t, log, "agent install: the CodeDeploy agent is running")
	})
	t.Run("every step retried", func(t *testing.T) {
		status, calls, log := boot(t, script, map[string]string{"DNF_FAILS": "2", "CURL_FAILS": "1", "INSTALL_FAILS": "2", "SYSTEMCTL_FAILS": "3"}, false, true)
		assert.Equal(t, 0, status, log)
		assert.Equal(t, 3, count(calls, "dnf install"))
		assert.Equal(t, 2, count(calls, "curl --fail --silent --show-error"))
		assert.Equal(t, 3, count(calls, "install auto"))
		assert.Equal(t, 4, count(calls, "systemctl is-active"))
		assert.Equal(t, "5 10 5 5 10 5 10 15", pauses(calls), "5, 10, 15 s between the tries of each step")
		assert.Equal(t, signal(0), calls[len(calls)-1])
		assert.Zero(t, count(calls, "aws "))
	})
	t.Run("dnf fails every try without cfn-signal on the AMI", func(t *testing.T) {
		status, calls, log := boot(t, script, map[string]string{"DNF_FAILS": "always"}, false, true)
		assert.Equal(t, 1, status)
		assert.Equal(t, 10, count(calls, "dnf install"))
		assert.Equal(t, "5 10 15 20 25 30 35 40 45", pauses(calls))
		assert.Zero(t, count(calls, "curl --fail --silent --show-error"), "nothing after the failed step")
		assert.Equal(t, []string{cliFailure}, filter(calls, "aws "), "FAILURE is signalled at once, through the AWS CLI")
		assert.Zero(t, count(calls, "cfn-signal"))
		assert.Contains(t, log, "agent install: 'dnf install -y ruby aws-cfn-bootstrap' failed 10 times")
		assert.Contains(t, log, "/opt/aws/bin/cfn-signal is missing (aws-cfn-bootstrap did not install); signalling FAILURE through the AWS CLI as i-0123456789abcdef0")
	})
	t.Run("without IMDS the host name identifies the instance", func(t *testing.T) {
		_, calls, _ := boot(t, script, map[string]string{"DNF_FAILS": "always", "IMDS": "down"}, false, true)
		assert.Equal(t, []string{strings.Replace(cliFailure, "i-0123456789abcdef0", "ip-10-0-0-1.ec2.internal", 1)}, filter(calls, "aws "))
	})
	t.Run("the AWS CLI is throttled", func(t *testing.T) {
		status, calls, log := boot(t, script, map[string]string{"DNF_FAILS": "always", "AWS_FAILS": "1"}, false, true)
		assert.Equal(t, 1, status)
		assert.Equal(t, 2, count(calls, "aws cloudformation signal-resource"), "the signal is retried")
		assert.NotContains(t, log, "could not signal")
	})
	t.Run("the AWS CLI cannot signal", func(t *testing.T) {
		status, calls, log := boot(t, script, map[string]string{"DNF_FAILS": "always", "AWS_FAILS": "always"}, false, true)
		assert.Equal(t, 1, status)
		assert.Equal(t, 3, count(calls, "aws cloudformation signal-resource"))
		assert.Contains(t, log, "agent install: the AWS CLI could not signal FAILURE; CloudFormation waits for the group's timeout")
	})
	t.Run("neither cfn-signal nor the AWS CLI", func(t *testing.T) {
		status, calls, log := boot(t, script, map[string]string{"DNF_FAILS": "always"}, false, false)
		assert.Equal(t, 1, status)
		assert.Zero(t, count(calls, "cfn-signal")+count(calls, "aws "))
		assert.Contains(t, log, "agent install: cannot signal FAILURE: neither ")
		assert.Contains(t, log, "/opt/aws/bin/cfn-signal nor the AWS CLI is installed; CloudFormation waits for the group's timeout")
	})
	t.Run("dnf fails every try with cfn-signal on the AMI", func(t *testing.T) {
		status, calls, _ := boot(t, script, map[string]string{"DNF_FAILS": "always"}, true, true)
		assert.Equal(t, 1, status)
		assert.Equal(t, signal(1), calls[len(calls)-1], "the exit trap signals the failure")
		assert.Zero(t, count(calls, "aws "))
	})
	for name, c := range map[string]struct {
		env   map[string]string
		calls string
		tries int
		log   string
	}{
		"the installer never downloads": {map[string]string{"CURL_FAILS": "always"}, "curl --fail --silent --show-error", 10, "failed 10 times"},
		"the installer always fails":    {map[string]string{"INSTALL_FAILS": "always"}, "install auto", 3, " auto' failed 3 times"},
		"the agent never runs":          {map[string]string{"SYSTEMCTL_FAILS": "always"}, "systemctl is-active --quiet codedeploy-agent", 12, "'systemctl is-active --quiet codedeploy-agent' failed 12 times"},
	} {
		t.Run(name, func(t *testing.T) {
			status, calls, log := boot(t, script, c.env, false, true)
			assert.Equal(t, 1, status)
			assert.Equal(t, c.tries, count(calls, c.calls))
			assert.Equal(t, signal(1), calls[len(calls)-1], "dnf installed cfn-signal, and the exit trap signals the failure")
			assert.Zero(t, count(calls, "aws "))
			assert.Contains(t, log, c.log)
		})
	}
}

func filter(calls []string, prefix string) []string {
	var out []string
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			out = append(out, c)
		}
	}
	return out
}
