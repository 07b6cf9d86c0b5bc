#!/usr/bin/env bash
# Fail the deployment, so CodeDeploy rolls back, unless the new release reports healthy in time.
# The budget stays inside the hook's 120 s timeout (appspec.yml), so that the diagnostics are
# printed before the agent kills the script: 90 s of polling (each try at most 4 s: a 2 s request,
# a 2 s pause), then at most 10 s for each diagnostic, 114 s in the worst case. The rehearsal
# shortens the budget and the pause with the two variables.
set -euo pipefail
url="http://127.0.0.1:${PORT:-8080}/health"
budget=${VALIDATE_BUDGET_SECONDS:-90}
pause=${VALIDATE_PAUSE_SECONDS:-2}
deadline=$((SECONDS + budget))
attempt=0
last="no answer yet"
while [ "$SECONDS" -lt "$deadline" ]; do
  attempt=$((attempt + 1))
  if body=$(curl --silent --show-error --fail --max-time 2 "$url" 2>&1); then
    echo "healthy after ${attempt} attempt(s): ${body}"
    exit 0
  fi
  last=$body
  sleep "$pause"
done
echo "sample-app did not become healthy at ${url} within ${budget} s (${attempt} attempts): ${last}" >&2
timeout 10 systemctl status sample-app.service --no-pager >&2 || true
timeout 10 journalctl -u sample-app.service -n 50 --no-pager >&2 || true
exit 1
