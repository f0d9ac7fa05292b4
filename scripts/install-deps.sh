#!/usr/bin/env bash
# Installs the Debian packages sts needs to build and run (and, with --test, to run its tests; with
# --bench, to run the benchmark, scripts/bench.sh).
# Idempotent and non-interactive: packages already present are not touched, and apt is only
# asked when something is missing.
set -euo pipefail

build_packages=(
    pkg-config
    libunbound-dev   # DNS: sts-dns (libunbound: asynchronous, validates DNSSEC)
    libidn2-dev      # IDN domain names to A-labels
    libcurl4-openssl-dev  # HTTPS: sts-fetch
    libssl-dev       # OpenSSL, libcurl's TLS: sts-fetch's certificate name check
    libyaml-dev      # the daemon's config file
    libsqlite3-dev   # the embedded cache
    libhiredis-dev   # the redis cache
    libpq-dev        # the PostgreSQL cache
    ca-certificates
)
test_packages=(
    python3 python3-pytest
    iproute2 nsd unbound ldnsutils dnsutils
    nginx-light openssl curl socat
    postfix          # the real socketmap client: postmap -q KEY socketmap:...
    systemd          # systemd-socket-activate and systemd-analyze: socket activation, unit checks
    redis-server postgresql  # the redis and PostgreSQL cache backends, run by the tests themselves
    nftables         # nft: the fault tests refuse DNS and HTTPS inside the world
)
bench_packages=(
    gcc libc6-dev    # the benchmark's C load client and floor servers
    libssl-dev       # the cold floor's bare OpenSSL client
    python3-venv     # the old daemon's virtualenv
)

wanted=("${build_packages[@]}")
case "${1:-}" in
    --test) wanted+=("${test_packages[@]}") ;;
    --bench) wanted+=("${test_packages[@]}" "${bench_packages[@]}") ;;
    "") ;;
    *) echo "install-deps: unknown option $1 (--test or --bench)" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then exit 0; fi

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Servers we install for the test world must not start on the host by themselves.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
trap '[[ $created_policy == 1 ]] && rm -f "$policy"' EXIT
# Postfix asks how to configure itself; the tests only use its postmap client.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
