#!/usr/bin/env bash
# Tears the test world down (as root; idempotent): stops every server scripts/world/up.sh started (their
# pid files in $STS_WORLD_DIR, default /tmp/sts-world), then anything else still running inside the
# network namespace, deletes the namespace ($STS_WORLD_NETNS, default sts-world) and /etc/netns/<name>.
# The state directory is kept for its logs; up.sh replaces it.
set -uo pipefail
dir=${STS_WORLD_DIR:-/tmp/sts-world}
ns=${STS_WORLD_NETNS:-sts-world}
[[ $(id -u) -eq 0 ]] || { echo "world: run as root" >&2; exit 1; }

netns_id() { readlink "/proc/$1/ns/net" 2>/dev/null; }
world_ns=""
if ip netns list 2>/dev/null | grep -qE "^$ns( |$)"; then
    world_ns=$(ip netns exec "$ns" readlink /proc/self/ns/net)
fi

# The servers, by pid file: each is stopped only if it is still a process inside the world's namespace
# (a stale pid file must not kill an unrelated process that got the same pid).
pids=()
for pidfile in "$dir"/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(< "$pidfile")
    if [[ $pid =~ ^[0-9]+$ && -n $world_ns && $(netns_id "$pid") == "$world_ns" ]]; then
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
    rm -f "$pidfile"
done
# Give them a moment to exit cleanly.
for _ in $(seq 1 30); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
done

if [[ -n $world_ns ]]; then
    # Whatever is left inside the namespace (children of the servers, programs the tests started) goes too.
    for _ in 1 2 3; do
        left=$(ip netns pids "$ns" 2>/dev/null)
        [[ -z $left ]] && break
        kill -KILL $left 2>/dev/null
        sleep 0.1
    done
    ip netns del "$ns" || { echo "world: could not delete the network namespace $ns" >&2; exit 1; }
fi
rm -rf "/etc/netns/$ns"
echo "world: down ($ns)"
