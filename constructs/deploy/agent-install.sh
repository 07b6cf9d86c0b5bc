#!/usr/bin/env bash
# Installs the CodeDeploy agent at the first boot of a fleet instance (Amazon Linux 2023). It
# retries what a network or package-mirror hiccup makes fail once, and exits 0 only when the agent
# runs: the user data's exit trap sends that status to CloudFormation (cfn-signal), so the Auto
# Scaling group is created only when every instance can take a deployment, and the pipeline, whose
# first execution starts when it is created, only after that.
# The fleet's user data defines region and url_suffix before this script.
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

retry 10 dnf install -y ruby aws-cfn-bootstrap || exit 1
installer=$(mktemp)
retry 10 curl --fail --silent --show-error --location --output "$installer" \
  "https://aws-codedeploy-${region:?}.s3.${region}.${url_suffix:?}/latest/install" || exit 1
chmod +x "$installer"
retry 3 "$installer" auto || exit 1
rm -f "$installer"
retry 12 systemctl is-active --quiet codedeploy-agent || exit 1
echo "agent install: the CodeDeploy agent is running"
