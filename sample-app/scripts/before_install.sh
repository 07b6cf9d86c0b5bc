#!/usr/bin/env bash
# Prepare a service account and the install folder. Safe to run on every deployment.
set -euo pipefail
if ! id -u sample-app >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /sbin/nologin sample-app
fi
install -d -m 0755 /opt/sample-app/bin
