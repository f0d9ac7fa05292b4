#!/usr/bin/env bash
# Installs what sts needs, builds it (release), and runs the daemon in the foreground.
#
# Without a config file (-c FILE, or /etc/mta-sts-daemon.yml) the daemon runs on its embedded
# default: listening on 127.0.0.1:8461, sqlite cache in ./var/sts-cache.db. Arguments are passed on
# to sts-socketmapd, e.g. scripts/run.sh -c /etc/mta-sts-daemon.yml -v debug
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The Swift runtime linked statically: each process of the pipeline (the daemon and its three stages)
# maps only the runtime code it uses instead of all of the shared runtime, 2.2 to 2.8 MiB less RSS per
# process (measured idle), and the commands need no toolchain libraries. The cost: the four processes no
# longer share the runtime's pages, so together they hold more memory (50 MiB idle; 35 MiB dynamic).
release=(-c release --static-swift-stdlib)
swift build "${release[@]}" >&2
bin=$(swift build "${release[@]}" --show-bin-path)
exec "$bin/sts-socketmapd" "$@"
