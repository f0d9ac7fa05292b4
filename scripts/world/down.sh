#!/usr/bin/env bash
# Tears the test world down: stops what up.sh started and removes the network namespace.
set -uo pipefail
dir=${STS_WORLD_DIR:-/tmp/sts-world}
ns=sts-world
for pidfile in "$dir"/nginx.pid "$dir"/unbound.pid "$dir"/nsd.pid "$dir"/blackhole.pid "$dir"/slow.pid; do
    [[ -f $pidfile ]] && kill "$(cat "$pidfile")" 2>/dev/null
done
if ip netns list 2>/dev/null | grep -qw "$ns"; then
    # Anything still running inside the namespace goes with it.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns"
fi
rm -rf "/etc/netns/$ns"
exit 0
