#!/usr/bin/env bash
# The benchmark: sts-socketmapd against the Python postfix-mta-sts-resolver 1.5.1 (mta-sts-daemon, with
# uvloop) and against a floor server, side by side in one run, in the test world.
#
#   sudo scripts/bench.sh [options]
#
# What it does:
#   1. installs the Debian packages it needs (scripts/install-deps.sh --bench), builds sts (swift build
#      -c release --static-swift-stdlib, as scripts/run.sh does) and the three C programs of scripts/bench/:
#      smload, the load client (C persistent connections, one request in flight on each, like Postfix);
#      smfloor, the floor (a minimal epoll server that answers every request with a fixed reply: the
#      fastest any daemon could answer on this machine); and smcoldfloor, the cold scenario's floor (per
#      request the TXT and A queries and one HTTPS GET with a bare OpenSSL client sharing one SSL_CTX, then
#      a fixed reply: the fastest any daemon could answer a domain it has not seen);
#   2. makes a virtualenv (.venv-bench/) with postfix-mta-sts-resolver==1.5.1, uvloop, aiosqlite,
#      matplotlib and cryptography from PyPI;
#   3. brings up the test world (scripts/world/up.sh) in its own network namespace (default sts-bench, state
#      in /tmp/sts-bench-world) with the benchmark zone bench.test.: 2000 domains, each with its TXT
#      record, policy host and certificate, 200 slow policy hosts (answer after 20 s), and many.bench.test.;
#   4. runs scripts/bench/driver.py: the three servers run side by side in the namespace, with the same
#      config for both daemons, and are measured in turns (floor, sts, old, floor, sts, old, ...):
#        hot     100 cached domains, C=50 and C=1, --rounds rounds of --duration seconds each
#        hol     hot at C=50 while 200 lookups (zone "slow", timeout 30 s) wait on policy hosts that
#                answer after 20 s; each daemon is restarted first, so the slow domains are not cached
#        cold    2000 distinct domains, each needing DNS + HTTPS, C=50, each domain asked once; every
#                daemon is restarted (empty cache) before each run; one untimed pass first warms the
#                world's resolver so every timed run meets the same DNS
#        memory  RSS of sts-socketmapd and all its stage processes, idle and after --memory-policies
#                domains of many.bench.test were looked up (DNS + HTTPS, each with a certificate of its own)
#                and then looked up again from the cache
#   5. writes results/bench-<UTC time>/results.md (the table, with every target and whether it was met),
#      results.json (every run), latency.png (latency distributions) and work/ (configs, logs, latencies),
#      prints the table, and takes the world down (unless --keep-world).
#
# Options:
#   --duration S          seconds per hot run (default 10)
#   --rounds N            hot rounds (default 3)
#   --cold-rounds N       cold rounds (default 3)
#   --hol-rounds N        head-of-line rounds (default 1)
#   --scenarios LIST      any of hot,hol,cold,memory (default all)
#   --memory-policies N   cached policies for the memory scenario (default 100000)
#   --memory-servers LIST whose memory to fill: sts and/or old (default sts; old takes long)
#   --memory-fill-time S  stop the memory scenario's lookups after S seconds (default 900); the figure per
#                         policy is then for the policies cached by then (the table says how many)
#   --stage-max-idle S    sts's stage_max_idle in the benchmark (default 10; the daemon's default is 100):
#                         idle memory is measured once the stages have exited after it
#   --cache TYPE          internal (default) or sqlite, for both daemons
#   --sts-args "ARGS"     extra arguments for sts-socketmapd (e.g. "-v warning")
#   --old-args "ARGS"     extra arguments for mta-sts-daemon
#   --keep-world          leave the world up afterwards (and reuse one that is up: no up.sh)
#   --no-build            use the existing release build
#   --results DIR         results folder (default results/)
#
# Environment: STS_WORLD_NETNS (default sts-bench) and STS_WORLD_DIR (default /tmp/sts-bench-world) name
# the benchmark's world, so it never collides with the test suite's (sts-world).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export STS_WORLD_NETNS=${STS_WORLD_NETNS:-sts-bench}
export STS_WORLD_DIR=${STS_WORLD_DIR:-/tmp/sts-bench-world}
command="scripts/bench.sh${*:+ $*}"
keep_world=0 build=1 results=$repo/results
driver_args=()
while (($#)); do
    case $1 in
        --duration | --rounds | --cold-rounds | --hol-rounds | --scenarios | --memory-policies | --memory-servers | \
            --memory-fill-time | --stage-max-idle | \
            --cache | --sts-args | --old-args)
            (($# >= 2)) || { echo "bench: $1 needs a value" >&2; exit 2; }
            driver_args+=("$1=$2"); shift 2 ;;
        --keep-world) keep_world=1; shift ;;
        --no-build) build=0; shift ;;
        --results) (($# >= 2)) || { echo "bench: --results needs a value" >&2; exit 2; }; results=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ $(id -u) -eq 0 ]] || { echo "bench: run as root (it runs the test world)" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# --- packages: the build's, the test world's, a C compiler and python3-venv ---------------------
scripts/install-deps.sh --bench </dev/null

# --- builds --------------------------------------------------------------------------------------
# The release scripts/run.sh and scripts/install.sh build (the Swift runtime linked statically, see
# scripts/run.sh), so that what is measured is what is deployed.
release=(-c release --static-swift-stdlib)
if ((build)); then
    say "building sts (swift build ${release[*]})"
    swift build "${release[@]}" 2>&1 | tail -n 3 >&2
fi
sts_bin=$(swift build "${release[@]}" --show-bin-path)
[[ -x $sts_bin/sts-socketmapd ]] || { echo "bench: no $sts_bin/sts-socketmapd (build first)" >&2; exit 1; }
mkdir -p scripts/bench/bin
for tool in smload smfloor; do
    cc -O2 -Wall -o "scripts/bench/bin/$tool" "scripts/bench/$tool.c"
done
cc -O2 -Wall -pthread -o scripts/bench/bin/smcoldfloor scripts/bench/smcoldfloor.c -lssl -lcrypto -lresolv

# --- the old daemon's virtualenv -----------------------------------------------------------------
venv=$repo/.venv-bench
if ! "$venv/bin/python" -c 'import postfix_mta_sts_resolver, uvloop, aiosqlite, matplotlib, cryptography' 2>/dev/null; then
    say "making $venv (postfix-mta-sts-resolver 1.5.1, uvloop, matplotlib, cryptography)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'postfix-mta-sts-resolver==1.5.1' uvloop aiosqlite \
        matplotlib cryptography
fi
old_version=$("$venv/bin/pip" show postfix-mta-sts-resolver 2>/dev/null | sed -n 's/^Version: //p')
[[ $old_version == 1.5.1 ]] || { echo "bench: $venv has postfix-mta-sts-resolver $old_version, not 1.5.1" >&2; exit 1; }

# --- the world -----------------------------------------------------------------------------------
world_up() { ip netns list 2>/dev/null | grep -qE "^$STS_WORLD_NETNS( |$)" && [[ -d $STS_WORLD_DIR/bench/certs ]]; }
if ((keep_world)) && world_up; then
    say "reusing the world in $STS_WORLD_NETNS"
else
    say "bringing up the world ($STS_WORLD_NETNS, $STS_WORLD_DIR) with the benchmark zone"
    STS_WORLD_BENCH_DOMAINS=${STS_WORLD_BENCH_DOMAINS:-2000} STS_WORLD_BENCH_SLOW=${STS_WORLD_BENCH_SLOW:-200} \
        scripts/world/up.sh >&2
fi
if ((!keep_world)); then
    trap 'scripts/world/down.sh >&2 || true' EXIT
fi

mkdir -p "$results"
"$venv/bin/python" scripts/bench/driver.py --netns "$STS_WORLD_NETNS" --world-dir "$STS_WORLD_DIR" \
    --sts-bin "$sts_bin" --venv "$venv" --results "$results" --command "$command" "${driver_args[@]}"
