#!/usr/bin/env bash
# Installs the CodeDeploy agent at the first boot of a fleet instance (Amazon Linux 2023). It
# retries what a network or package-mirror hiccup makes fail once, and exits 0 only when the agent
# runs: the user data's exit trap sends that status to CloudFormation (cfn-signal), so the Auto
# Scaling group is created only when every instance can take a deployment, and the pipeline, whose
# first execution starts when it is created, only after that.
# The fleet's user data defines region, url_suffix, stack and resource (the group's logical id)
# before this script. Its output is in /var/log/cloud-init-output.log.
set -uo pipefail

# retry ATTEMPTS COMMAND...: runs COMMAND until it succeeds, waiting 5, 10, 15, ... s between tries.
retry() {
  local attempts=$1 n=1
  shift
  until "$@"; do
    if [ "$n" -ge "$attempts" ]; then
      echo "agent install: '$*' failed $n times" >&2
      return 1
    fi
    sleep $((n * 5))
    n=$((n + 1))
  done
}

# fail: ends the user data with status 1, which the exit trap signals with cfn-signal. AL2023's
# AMI does not ship cfn-signal (aws-cfn-bootstrap, which dnf installs below): when it is missing,
# the trap cannot signal, and CloudFormation would wait for the group's 15-minute timeout. Then
# the AWS CLI, which the AMI ships, signals FAILURE at once with the instance role, under the id
# cfn-signal would use (the instance id).
fail() {
  if [ ! -x /opt/aws/bin/cfn-signal ]; then
    if ! command -v aws >/dev/null; then
      echo "agent install: cannot signal FAILURE: neither /opt/aws/bin/cfn-signal nor the AWS CLI is installed; CloudFormation waits for the group's timeout" >&2
      exit 1
    fi
    local token id
    token=$(curl --fail --silent --max-time 5 --request PUT --header "X-aws-ec2-metadata-token-ttl-seconds: 300" \
      http://169.254.169.254/latest/api/token) &&
      id=$(curl --fail --silent --max-time 5 --header "X-aws-ec2-metadata-token: $token" \
        http://169.254.169.254/latest/meta-data/instance-id) || id=$(hostname)
    echo "agent install: /opt/aws/bin/cfn-signal is missing (aws-cfn-bootstrap did not install); signalling FAILURE through the AWS CLI as $id" >&2
    retry 3 aws cloudformation signal-resource --region "${region:?}" --stack-name "${stack:?}" \
      --logical-resource-id "${resource:?}" --unique-id "$id" --status FAILURE ||
      echo "agent install: the AWS CLI could not signal FAILURE; CloudFormation waits for the group's timeout" >&2
  fi
  exit 1
}

retry 10 dnf install -y ruby aws-cfn-bootstrap || fail
installer=$(mktemp)
retry 10 curl --fail --silent --show-error --location --output "$installer" \
  "https://aws-codedeploy-${region:?}.s3.${region}.${url_suffix:?}/latest/install" || fail
chmod +x "$installer"
retry 3 "$installer" auto || fail
rm -f "$installer"
retry 12 systemctl is-active --quiet codedeploy-agent || fail
echo "agent install: the CodeDeploy agent is running"
