#!/usr/bin/env bash
# Make the new binary runnable and let systemd read the (possibly changed) unit.
set -euo pipefail
chown root:root /opt/sample-app/bin/sample-app
chmod 0755 /opt/sample-app/bin/sample-app
chmod 0644 /etc/systemd/system/sample-app.service
systemctl daemon-reload
