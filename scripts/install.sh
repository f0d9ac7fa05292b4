#!/usr/bin/env bash
# Installs sts system-wide (as root): the commands, the compatibility names of postfix-mta-sts-resolver
# (mta-sts-daemon, mta-sts-query), the man pages, the systemd unit, a system user, and a default
# /etc/mta-sts-daemon.yml if there is none. Run again to upgrade. scripts/install.sh --uninstall removes
# everything but the config and the cache.
#   PREFIX (default /usr/local), DESTDIR (staging root for packaging), STS_BIN (install the commands
#   already built in this folder instead of building a release; nothing is installed from apt then)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}
root=${DESTDIR:-}
bin="$root$prefix/bin"
man="$root$prefix/share/man"
units="$root/etc/systemd/system"
commands=(sts-dns sts-fetch sts-parse sts-cache sts-query sts-socketmapd)

if [[ ${1:-} == --uninstall ]]; then
    command -v systemctl >/dev/null && [[ -z $root ]] && systemctl disable --now sts-socketmapd.service 2>/dev/null || true
    for command in "${commands[@]}" mta-sts-daemon mta-sts-query; do rm -f "$bin/$command"; done
    command -v systemctl >/dev/null && [[ -z $root ]] && systemctl disable --now sts-socketmapd.socket 2>/dev/null || true
    rm -f "$man"/man1/sts-*.1 "$man"/man5/sts-socketmapd.yml.5 "$man"/man8/sts-socketmapd.8 "$units"/sts-socketmapd.service "$units"/sts-socketmapd.socket
    echo "sts removed (kept: /etc/mta-sts-daemon.yml and /var/lib/sts)"
    exit 0
fi

if [[ -n ${STS_BIN:-} ]]; then
    built=$STS_BIN
else
    scripts/install-deps.sh
    # Built as scripts/run.sh builds it (the Swift runtime linked statically, see there): the installed
    # commands do not depend on the toolchain's libraries in /opt/swift.
    release=(-c release --static-swift-stdlib)
    swift build "${release[@]}"
    built=$(swift build "${release[@]}" --show-bin-path)
fi
install -d "$bin" "$man/man1" "$man/man5" "$man/man8"
for command in "${commands[@]}"; do install -m 0755 "$built/$command" "$bin/$command"; done
# The old daemon's names, so existing unit files, scripts and habits keep working.
ln -sf sts-socketmapd "$bin/mta-sts-daemon"
ln -sf sts-query "$bin/mta-sts-query"
install -m 0644 man/*.1 "$man/man1/"
install -m 0644 man/*.5 "$man/man5/"
install -m 0644 man/*.8 "$man/man8/"
# Two ways to run it: enable sts-socketmapd.service (the daemon binds itself), or
# sts-socketmapd.socket (systemd binds and hands the socket over; restarts lose no connection).
install -D -m 0644 scripts/systemd/sts-socketmapd.service "$units/sts-socketmapd.service"
install -D -m 0644 scripts/systemd/sts-socketmapd.socket "$units/sts-socketmapd.socket"
sed -i "s|/usr/local/bin/|$prefix/bin/|" "$units/sts-socketmapd.service"

config="$root/etc/mta-sts-daemon.yml"
if [[ ! -e $config ]]; then
    install -D -m 0644 /dev/stdin "$config" <<'YAML'
host: 127.0.0.1
port: 8461
reuse_port: true
shutdown_timeout: 20
cache_grace: 60
cache:
  type: sqlite
  options:
    filename: /var/lib/sts/cache.db
default_zone:
  strict_testing: false
  timeout: 4
# DANE precedence (RFC 8461 §2): with a DNSSEC trust anchor, domains whose MX hosts publish TLSA
# records get dane-only/dane instead of secure. Needs a resolver that passes DNSSEC records and, in
# Postfix, smtp_dns_support_level = dnssec. See sts-socketmapd.yml(5).
#dnssec_trust_anchor: /usr/share/dns/root.key
YAML
fi
if [[ -z $root ]]; then
    id -u _sts >/dev/null 2>&1 || useradd --system --home-dir /var/lib/sts --no-create-home --shell /usr/sbin/nologin _sts
    install -d -o _sts -g _sts -m 0750 /var/lib/sts
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
        systemctl daemon-reload
        echo "installed; start with: systemctl enable --now sts-socketmapd (or sts-socketmapd.socket for socket activation)"
    else
        echo "installed; no systemd here: run $prefix/bin/sts-socketmapd -c /etc/mta-sts-daemon.yml -u _sts -g _sts"
    fi
fi
