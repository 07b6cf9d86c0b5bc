#!/usr/bin/env bash
# Fail the deployment, so CodeDeploy rolls back, unless the new release reports healthy in time.
set -euo pipefail
url="http://127.0.0.1:${PORT:-8080}/health"
for attempt in $(seq 1 30); do
  if body=$(curl --silent --show-error --fail --max-time 2 "$url"); then
    echo "healthy after ${attempt} attempt(s): ${body}"
    exit 0
  fi
  sleep 2
done
echo "sample-app did not become healthy at ${url}" >&2
systemctl status sample-app.service --no-pager >&2 || true
journalctl -u sample-app.service -n 50 --no-pager >&2 || true
exit 1
