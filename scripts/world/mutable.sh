#!/usr/bin/env bash
# Changes what mutable.test publishes, for tests of policy changes:
#   mutable.sh --id ID|--no-txt  [--policy TEXT|--no-policy]  [--no-reload]
# --id sets the _mta-sts TXT id (--no-txt removes the record); --policy sets the body served at
# https://mta-sts.mutable.test/.well-known/mta-sts.txt (--no-policy makes it answer 404).
# Records have a TTL of 1 s, so resolvers see a change within 2 s (caches count whole seconds).
set -euo pipefail
dir=${STS_WORLD_DIR:-/tmp/sts-world}
txt=""
reload=1
while (($#)); do
    case $1 in
        --id) txt="\"v=STSv1; id=$2;\""; shift 2 ;;
        --no-txt) txt=""; shift ;;
        --policy) printf '%s\n' "$2" > "$dir/www/mutable.txt.new" && mv "$dir/www/mutable.txt.new" "$dir/www/mutable.txt"; shift 2 ;;
        --no-policy) rm -f "$dir/www/mutable.txt"; shift ;;
        --no-reload) reload=0; shift ;;
        *) echo "mutable.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
serial=$(date +%s%N | cut -c1-10)
{
    echo "\$ORIGIN mutable.test."
    echo "\$TTL 1"
    echo "@ SOA ns.mutable.test. hostmaster.test. $serial 3600 600 86400 1"
    echo "@ NS ns.mutable.test."
    echo "ns A 127.0.0.2"
    echo "mta-sts A 127.0.0.10"
    [[ -n $txt ]] && echo "_mta-sts TXT $txt"
} > "$dir/dns/mutable.zone.new"
mv "$dir/dns/mutable.zone.new" "$dir/dns/mutable.zone"
if ((reload)); then
    kill -HUP "$(cat "$dir/nsd.pid")"
    # Wait until nsd serves the new serial.
    for _ in $(seq 1 50); do
        ip netns exec "${STS_WORLD_NETNS:-sts-world}" dig +short +norec @127.0.0.2 SOA mutable.test | grep -q " $serial " && exit 0
        sleep 0.1
    done
    echo "mutable.sh: nsd did not load serial $serial" >&2
    exit 1
fi
