#!/usr/bin/env bash
# Let systemd read the (possibly changed) unit. appspec.yml's permissions have set the binary's and
# the unit's owner and mode.
set -euo pipefail
systemctl daemon-reload
