#!/usr/bin/env bash
# Installs what sts needs, builds it (release), and runs the daemon in the foreground.
#
# Without a config file (-c FILE, or /etc/mta-sts-daemon.yml) the daemon runs on its embedded
# default: listening on 127.0.0.1:8461, sqlite cache in ./var/sts-cache.db. Arguments are passed on
# to sts-socketmapd, e.g. scripts/run.sh -c /etc/mta-sts-daemon.yml -v debug
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
swift build -c release >&2
bin=$(swift build -c release --show-bin-path)
exec "$bin/sts-socketmapd" "$@"
