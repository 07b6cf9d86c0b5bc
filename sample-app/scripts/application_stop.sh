#!/usr/bin/env bash
# Stop the running release, if any, so its files can be replaced.
set -euo pipefail
if systemctl list-unit-files sample-app.service >/dev/null 2>&1; then
  systemctl stop sample-app.service || true
fi
