#!/usr/bin/env bash
# Start the new release and keep it started across reboots.
set -euo pipefail
systemctl enable sample-app.service
systemctl restart sample-app.service
