#!/usr/bin/env bash
# Brings up the test world in the network namespace sts-world (as root, idempotent):
#   127.0.0.1:53   unbound, recursive and validating, for the zone test. (trust anchor: $STS_WORLD_DIR/test.key)
#   127.0.0.2:53   nsd, authoritative for test. and bogus.test., DNSSEC-signed
#   127.0.0.3:53   a DNS server that never answers (blackhole.test is delegated to it)
#   127.0.0.10:443 and [::1]:443  nginx serving the policy hosts mta-sts.<fixture>.test
#   127.0.0.4      nothing listens (connection refused)
# Programs run with `ip netns exec sts-world ...` use the world's resolver and trust its test CA.
# The fixtures are listed in Tests/World/README.md. State goes to $STS_WORLD_DIR (default /tmp/sts-world).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
world=$repo/Tests/World
dir=${STS_WORLD_DIR:-/tmp/sts-world}
ns=sts-world

[[ $(id -u) -eq 0 ]] || { echo "world: must run as root (network namespaces)" >&2; exit 1; }
scripts/install-deps.sh --test
python3 -c 'import cryptography' 2>/dev/null || python3 -m pip install -q cryptography

scripts/world/down.sh >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$dir"/{dns,certs,www,logs}
in_ns() { ip netns exec "$ns" "$@"; }

# --- network namespace -------------------------------------------------------------------------
ip netns add "$ns"
in_ns ip link set lo up
for address in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.10 127.0.0.11; do in_ns ip addr add "$address/8" dev lo 2>/dev/null || true; done
mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"

# --- HTTPS fixtures: name, what the policy host does ----------------------------------------------
# kinds: policy FILE | cert NAME FILE | redirect | status CODE | type TYPE FILE | chunked FILE | slow | big
https_fixtures=(
    "good policy good.txt"
    "cname policy good.txt"
    "cname-chain policy good.txt"
    "xn--bcher-kva policy good.txt"
    "testing policy testing.txt"
    "none policy none.txt"
    "invalid-policy policy invalid-policy.txt"
    "crlf policy crlf.txt"
    "charset type text/plain;charset=utf-8 good.txt"
    "html type text/html good.txt"
    "wildcard-cert cert wildcard good.txt"
    "wrong-name cert wrong-name good.txt"
    "expired cert expired good.txt"
    "untrusted cert untrusted good.txt"
    "redirect redirect"
    "notfound status 404"
    "oversize big"
    "oversize-chunked bigchunked"
    "small-chunked chunked good.txt"
    "slow slow"
    "refused refused"
    "ipv6 ipv6 good.txt"
    "mutable policy mutable.txt"
)

# --- DNS -----------------------------------------------------------------------------------------
cp "$world/test.zone" "$dir/dns/test.zone"
for fixture in "${https_fixtures[@]}"; do
    read -r name kind _ <<< "$fixture"
    host="mta-sts.$name"
    case $name in mutable) continue ;; esac
    case $kind in
        refused) echo "$host A 127.0.0.4" ;;
        ipv6) echo "$host AAAA ::1" ;;
        *) echo "$host A 127.0.0.10" ;;
    esac >> "$dir/dns/test.zone"
    case $name in good|cname|cname-chain|xn--bcher-kva|mutable) ;; *) echo "_mta-sts.$name TXT \"v=STSv1; id=${name//[^a-z0-9]/}1;\"" >> "$dir/dns/test.zone" ;; esac
done
cp "$world/bogus.zone" "$dir/dns/bogus.zone"
# mutable.test: an unsigned child zone the tests rewrite (scripts/world/mutable.sh) to change a policy.
cat >> "$dir/dns/test.zone" <<ZONE
mutable NS ns.mutable.test.
ns.mutable A 127.0.0.2
ZONE
STS_WORLD_DIR=$dir scripts/world/mutable.sh --id first1 --policy "$(cat "$world/policies/good.txt")" --no-reload
(
    cd "$dir/dns"
    test_key=$(ldns-keygen -a ECDSAP256SHA256 -k test.)
    bogus_key=$(ldns-keygen -a ECDSAP256SHA256 -k bogus.test.)
    stranger_key=$(ldns-keygen -a ECDSAP256SHA256 -k bogus.test.)
    # The parent vouches for a key bogus.test never uses: validation of bogus.test fails.
    cat "$stranger_key.ds" >> test.zone
    ldns-signzone -n -f test.zone.signed test.zone "$test_key" >/dev/null
    ldns-signzone -n -f bogus.zone.signed bogus.zone "$bogus_key" >/dev/null
    cp "$test_key.key" "$dir/test.key"
)
cat > "$dir/dns/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.2
    port: 53
    username: ""
    zonesdir: "$dir/dns"
    database: ""
    zonelistfile: "$dir/dns/zone.list"
    xfrdfile: "$dir/dns/xfrd.state"
    xfrdir: "$dir/dns"
    pidfile: "$dir/nsd.pid"
    logfile: "$dir/logs/nsd.log"
    server-count: 1
    hide-version: yes
remote-control:
    control-enable: no
zone:
    name: "test."
    zonefile: "test.zone.signed"
zone:
    name: "bogus.test."
    zonefile: "bogus.zone.signed"
zone:
    name: "mutable.test."
    zonefile: "mutable.zone"
# A zone nsd is configured for but cannot load: it answers SERVFAIL for it (a broken delegation).
zone:
    name: "servfail.test."
    zonefile: "servfail.zone.missing"
CONF
cat > "$dir/dns/unbound.conf" <<CONF
server:
    interface: 127.0.0.1
    port: 53
    username: ""
    chroot: ""
    directory: "$dir/dns"
    pidfile: "$dir/unbound.pid"
    logfile: "$dir/logs/unbound.log"
    use-syslog: no
    num-threads: 1
    so-reuseport: no
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    access-control: ::1 allow
    local-zone: "test." nodefault
    trust-anchor-file: "$dir/test.key"
    val-log-level: 2
    module-config: "validator iterator"
    # Fail fast on the lame delegation; the tests want SERVFAIL, not a long wait.
    infra-host-ttl: 5
    serve-expired: no
    cache-max-negative-ttl: 1
stub-zone:
    name: "test."
    stub-addr: 127.0.0.2
remote-control:
    control-enable: no
CONF
in_ns nsd -c "$dir/dns/nsd.conf"
in_ns unbound -c "$dir/dns/unbound.conf"
# A server that takes questions and never answers.
in_ns socat -u UDP4-RECV:53,bind=127.0.0.3,reuseaddr OPEN:/dev/null > /dev/null 2>&1 &
echo $! > "$dir/blackhole.pid"

# --- certificates and the trust store inside the namespace ---------------------------------------
for fixture in "${https_fixtures[@]}"; do read -r name _ <<< "$fixture"; echo "mta-sts.$name.test"; done \
    | python3 "$world/make_certs.py" "$dir/certs"
rm -rf "/etc/netns/$ns/ssl"
cp -a /etc/ssl "/etc/netns/$ns/ssl"
cat "$dir/certs/ca.crt" >> "/etc/netns/$ns/ssl/certs/ca-certificates.crt"

# --- HTTPS ---------------------------------------------------------------------------------------
cp "$world"/policies/*.txt "$dir/www/"
# (mutable.txt was written by mutable.sh above)
python3 - "$dir/www" <<'PY'
import sys, pathlib
www = pathlib.Path(sys.argv[1])
good = (www / "good.txt").read_text()
(www / "big.txt").write_text(good + "x: " + "a" * 70000 + "\n")
PY
{
    cat <<CONF
daemon on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/logs/nginx-access.log;
    types { }
    default_type text/plain;
    client_body_temp_path $dir/www; proxy_temp_path $dir/www; fastcgi_temp_path $dir/www; uwsgi_temp_path $dir/www; scgi_temp_path $dir/www;
    ssl_protocols TLSv1.2 TLSv1.3;
    server {
        listen 127.0.0.10:443 ssl default_server;
        listen [::1]:443 ssl default_server;
        server_name _;
        ssl_certificate $dir/certs/valid.crt;
        ssl_certificate_key $dir/certs/valid.key;
        return 421;
    }
    # The slow host: the backend answers after 30 s.
    upstream slow_backend { server 127.0.0.11:8080; }
CONF
    for fixture in "${https_fixtures[@]}"; do
        read -r name kind arg file <<< "$fixture"
        cert=valid
        [[ $kind == cert ]] && cert=$arg
        echo "    server {"
        echo "        listen 127.0.0.10:443 ssl;"
        echo "        listen [::1]:443 ssl;"
        echo "        server_name mta-sts.$name.test;"
        echo "        ssl_certificate $dir/certs/$cert.crt;"
        echo "        ssl_certificate_key $dir/certs/$cert.key;"
        echo "        location = /.well-known/mta-sts.txt {"
        case $kind in
            policy|cert|ipv6) echo "            alias $dir/www/${file:-$arg};" ;;
            type) echo "            default_type \"$arg\"; alias $dir/www/$file;" ;;
            redirect) echo "            return 301 https://mta-sts.good.test/.well-known/mta-sts.txt;" ;;
            status) echo "            return $arg;" ;;
            big) echo "            alias $dir/www/big.txt;" ;;
            bigchunked) echo "            alias $dir/www/big.txt; sub_filter_types text/plain; sub_filter 'version' 'version'; sub_filter_once off;" ;;
            chunked) echo "            alias $dir/www/$arg; sub_filter_types text/plain; sub_filter 'version' 'version'; sub_filter_once off;" ;;
            slow) echo "            proxy_pass http://slow_backend; proxy_read_timeout 120s;" ;;
            refused) echo "            return 500;" ;;
        esac
        echo "        }"
        echo "    }"
    done
    echo "}"
} > "$dir/nginx.conf"
in_ns socat TCP4-LISTEN:8080,bind=127.0.0.11,reuseaddr,fork \
    SYSTEM:'sleep 30; printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\nmode: enforce\nmx: mail.slow.test\nmax_age: 86400\n"' > /dev/null 2>&1 &
echo $! > "$dir/slow.pid"
in_ns nginx -c "$dir/nginx.conf" -e "$dir/logs/nginx-error.log"

# --- wait until everything answers ---------------------------------------------------------------
fail() { echo "world: $1" >&2; tail -n 20 "$dir"/logs/* >&2 2>/dev/null || true; exit 1; }
for _ in $(seq 1 50); do
    if in_ns dig +short +time=1 +tries=1 @127.0.0.1 TXT _mta-sts.good.test 2>/dev/null | grep -q STSv1; then ready=1; break; fi
    sleep 0.2
done
[[ ${ready:-0} == 1 ]] || fail "DNS does not answer for _mta-sts.good.test"
in_ns dig +dnssec +time=2 @127.0.0.1 TXT _mta-sts.good.test | grep -q ' ad;\| ad ' || in_ns dig +time=2 @127.0.0.1 TXT _mta-sts.good.test | grep -q "flags:.* ad" || fail "DNSSEC does not validate good.test"
in_ns curl -sf https://mta-sts.good.test/.well-known/mta-sts.txt | grep -q "mode: enforce" || fail "HTTPS does not serve mta-sts.good.test"
echo "world: up (netns $ns; resolver 127.0.0.1; policy hosts on 127.0.0.10:443 and [::1]:443; state in $dir)"
