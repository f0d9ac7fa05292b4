#!/usr/bin/env bash
# Brings up the test world: a network namespace (default name sts-world) in which real DNS and HTTPS
# servers answer for the fixture domains under test. (listed in Tests/World/README.md):
#
#   127.0.0.1:53              unbound: recursive, validating (trust anchor for test.: $STS_WORLD_DIR/test.key)
#   127.0.0.2:53              nsd: authoritative for test., bogus.test. and mutable.test. (test. and bogus.test.
#                             DNSSEC-signed with keys made now); SERVFAIL for servfail.test.
#   127.0.0.3:53              a DNS black hole: takes UDP questions and TCP connections, never answers
#   127.0.0.10:443, [::1]:443 nginx: the policy hosts mta-sts.<fixture>.test (SNI), test CA made now
#   127.0.0.11:8080           the backend of mta-sts.slow.test (answers after 30 s)
#   127.0.0.4                 nothing listens (connection refused); the policy host of every <x>.flood.test
#
# Programs run with `ip netns exec sts-world COMMAND` use the world's resolver (/etc/netns/sts-world/
# resolv.conf) and trust its test CA (/etc/netns/sts-world/ssl: the system's /etc/ssl plus the test CA).
#
# Run as root. Idempotent: a world left by an earlier run is torn down first (scripts/world/down.sh).
# Installs the Debian packages it needs when they are missing, without letting their services start on
# the machine. State (keys, certificates, signed zones, pid files, logs) goes to $STS_WORLD_DIR (default
# /tmp/sts-world), never into the repository. $STS_WORLD_NETNS names the namespace (default sts-world;
# the tests assume the default).
#
# Optional, for scripts/bench.sh (the default world is unchanged without it):
#   STS_WORLD_BENCH_DOMAINS=N  adds the unsigned zone bench.test. with N domains d1.bench.test ...
#                              dN.bench.test, each with its _mta-sts TXT record, its policy host
#                              mta-sts.dK.bench.test (A 127.0.0.10) and a certificate of its own from the
#                              test CA ($STS_WORLD_DIR/bench/certs/, loaded by nginx at start); plus
#                              STS_WORLD_BENCH_SLOW (default 200) domains slow1.bench.test ... whose policy
#                              host answers after 20 s (a backend on 127.0.0.11:8081), and the name space
#                              many.bench.test., where unbound answers every <x>.many.bench.test with a
#                              TXT record and the A record 127.0.0.10 (certificates for such names can be
#                              added to bench/certs/ later: nginx reads them at each handshake; they all
#                              use the key bench/key.pem).
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
fixtures=$repo/Tests/World
dir=${STS_WORLD_DIR:-/tmp/sts-world}
ns=${STS_WORLD_NETNS:-sts-world}
started=$(date +%s%N)
bench=${STS_WORLD_BENCH_DOMAINS:-0}
bench_slow=${STS_WORLD_BENCH_SLOW:-200}
[[ $bench =~ ^[0-9]+$ && $bench_slow =~ ^[0-9]+$ ]] || { echo "world: STS_WORLD_BENCH_DOMAINS and STS_WORLD_BENCH_SLOW must be numbers" >&2; exit 1; }

say() { echo "world: $*"; }
exec 3>&2  # the terminal's stderr, for failures reported while a step's output goes to a log
# fail SERVER MESSAGE: says what failed, shows the end of that server's log (every log when SERVER is
# empty), and stops.
fail() {
    local server=$1 log
    shift
    echo "world: FAILED: $*" >&3
    for log in "$dir"/logs/${server:-*}*.log; do
        [[ -s $log ]] || continue
        echo "---- last lines of $log" >&3
        tail -n 25 "$log" >&3
    done
    exit 1
}
trap 'fail "" "command failed (scripts/world/up.sh line $LINENO): $BASH_COMMAND"' ERR

[[ $(id -u) -eq 0 ]] || { echo "world: run as root (it creates a network namespace and binds ports 53 and 443 in it)" >&2; exit 1; }
case $dir in
    "" | / | /tmp | /tmp/ | "$repo" | "$repo"/*) echo "world: refusing STS_WORLD_DIR=$dir" >&2; exit 1 ;;
esac
if [[ -d $dir && ! -e $dir/.sts-world && ! -e $dir/dns/nsd.conf && -n $(ls -A "$dir") ]]; then
    echo "world: $dir exists and is not a test world's state directory; set STS_WORLD_DIR elsewhere" >&2
    exit 1
fi

# --- packages ------------------------------------------------------------------------------------
# Debian package -> what the world uses from it.
packages=(
    iproute2         # ip netns, ss
    nsd              # the authoritative server
    unbound          # the validating resolver
    ldnsutils        # ldns-keygen, ldns-signzone
    dnsutils         # dig
    nginx-light      # the HTTPS server
    openssl          # the test CAs and certificates
    curl             # readiness checks
    socat            # the black hole and the slow backend
    ca-certificates  # the system bundle the world's trust store starts from
)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    # The packages' own services must not start on the machine: policy-rc.d answers "not allowed" to
    # every start request made while installing.
    policy=/usr/sbin/policy-rc.d
    own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# written by sts scripts/world/up.sh while it installs packages\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        own_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt_log=$(mktemp)
    # Waits for another apt or dpkg run to finish instead of failing on its lock; tries twice (a concurrent
    # run's cache cleaning can take a downloaded package away).
    apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
    install() { "${apt[@]}" install -y --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}"; }
    if ! { "${apt[@]}" update && { install || install; }; } > "$apt_log" 2>&1; then
        ((own_policy)) && rm -f "$policy"
        tail -n 30 "$apt_log" >&2
        rm -f "$apt_log"
        echo "world: FAILED: apt-get could not install ${missing[*]}" >&2
        exit 1
    fi
    rm -f "$apt_log"
    ((own_policy)) && rm -f "$policy"
    # Whatever a pre-existing policy-rc.d allowed: the services of the packages installed now are stopped
    # and disabled on the machine (the world runs its own instances in the namespace).
    services=()
    for package in "${missing[@]}"; do
        case $package in
            nsd) services+=(nsd) ;;
            unbound) services+=(unbound unbound-resolvconf) ;;
            nginx-light) services+=(nginx) ;;
        esac
    done
    for service in "${services[@]}"; do
        if [[ -d /run/systemd/system ]]; then
            systemctl disable --now "$service" >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/$service ]]; then
            /etc/init.d/"$service" stop >/dev/null 2>&1 || true
            update-rc.d "$service" disable >/dev/null 2>&1 || true
        fi
    done
fi

# --- a clean slate -------------------------------------------------------------------------------
STS_WORLD_DIR=$dir STS_WORLD_NETNS=$ns "$repo/scripts/world/down.sh" >/dev/null 2>&1 || true
rm -rf "$dir"
mkdir -p "$dir"/{dns,certs,www,logs,nginx}
touch "$dir/.sts-world"
in_ns() { ip netns exec "$ns" "$@"; }
# detach COMMAND...: execs COMMAND with every file descriptor above 2 closed, so that the servers do not
# keep this script's pipes open (a caller reading up.sh's output through a pipe would never see its end).
detach() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        ((fd > 2)) && eval "exec $fd>&-"
    done
    exec "$@"
}
# daemon NAME COMMAND...: runs a server that daemonizes itself (and writes its own pid file) inside the
# namespace; its output goes to $dir/logs/NAME.log.
daemon() {
    local name=$1
    shift
    (detach ip netns exec "$ns" "$@") < /dev/null >> "$dir/logs/$name.log" 2>&1 || fail "$name" "$name did not start"
}
# start NAME COMMAND...: runs a server that stays in the foreground, detached, inside the namespace;
# its pid goes to $dir/NAME.pid and its output to $dir/logs/NAME.log.
start() {
    local name=$1
    shift
    (detach setsid ip netns exec "$ns" "$@") < /dev/null >> "$dir/logs/$name.log" 2>&1 &
    echo $! > "$dir/$name.pid"
}

# --- the namespace -------------------------------------------------------------------------------
ip netns add "$ns"
in_ns ip link set lo up
# 127.0.0.0/8 is local on lo; the addresses the world uses are added too, so that `ip addr` shows them.
for address in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.10 127.0.0.11; do
    in_ns ip addr add "$address/8" dev lo
done
mkdir -p "/etc/netns/$ns"
echo "nameserver 127.0.0.1" > "/etc/netns/$ns/resolv.conf"

# --- the HTTPS fixtures table --------------------------------------------------------------------
names=() hosts=()
declare -A address cert response argument file
while read -r name addr crt resp arg1 arg2; do
    [[ -z $name || $name == \#* ]] && continue
    names+=("$name")
    hosts+=("mta-sts.$name.test")
    address[$name]=$addr cert[$name]=$crt response[$name]=$resp argument[$name]=${arg1:-} file[$name]=${arg2:-}
done < "$fixtures/https.fixtures"

# --- DNS -----------------------------------------------------------------------------------------
cp "$fixtures/test.zone" "$fixtures/bogus.zone" "$dir/dns/"
{
    echo
    echo "; the policy hosts of Tests/World/https.fixtures"
    for name in "${names[@]}"; do
        case ${address[$name]} in
            -) continue ;;
            *:*) echo "mta-sts.$name AAAA ${address[$name]}" ;;
            *) echo "mta-sts.$name A ${address[$name]}" ;;
        esac
        grep -q "^_mta-sts\.$name[[:space:]]" "$fixtures/test.zone" ||
            echo "_mta-sts.$name TXT \"v=STSv1; id=${name//[^a-zA-Z0-9]/}1;\""
    done
} >> "$dir/dns/test.zone"
# The benchmark's zone (STS_WORLD_BENCH_DOMAINS): unsigned, delegated from test., long TTLs.
bench_policy="version: STSv1
mode: enforce
mx: mail.bench.test
mx: *.mx.bench.test
max_age: 86400"
if ((bench)); then
    printf '\n; bench.test: the benchmark domains (an unsigned child zone)\nbench NS ns.bench.test.\nns.bench A 127.0.0.2\n' >> "$dir/dns/test.zone"
    {
        echo "\$ORIGIN bench.test."
        echo "\$TTL 86400"
        echo "@ SOA ns.bench.test. hostmaster.test. 1 3600 600 86400 3600"
        echo "@ NS ns.bench.test."
        echo "ns A 127.0.0.2"
        for ((i = 1; i <= bench; i++)); do
            echo "_mta-sts.d$i TXT \"v=STSv1; id=bench$i;\""
            echo "mta-sts.d$i A 127.0.0.10"
        done
        for ((i = 1; i <= bench_slow; i++)); do
            echo "_mta-sts.slow$i TXT \"v=STSv1; id=slow$i;\""
            echo "mta-sts.slow$i A 127.0.0.10"
        done
    } > "$dir/dns/bench.zone"
fi
# mutable.test starts as a copy of good.test (its own zone, which the tests rewrite).
STS_WORLD_DIR=$dir "$repo/scripts/world/mutable.sh" --id first1 --policy "$(cat "$fixtures/policies/good.txt")" --no-reload
# Keys made now: test. (its key is the trust anchor), bogus.test., and a stranger key whose DS test.
# publishes for bogus.test. (so bogus.test. validates as bogus). Signed with NSEC3 (no iterations).
sign_zones() {
    local test_key bogus_key stranger_key inception expiration
    test_key=$(ldns-keygen -a ECDSAP256SHA256 -k test.)
    bogus_key=$(ldns-keygen -a ECDSAP256SHA256 -k bogus.test.)
    stranger_key=$(ldns-keygen -a ECDSAP256SHA256 -k bogus.test.)
    { echo; echo "; DS of bogus.test.: for a key bogus.test. does not use"; cat "$stranger_key.ds"; } >> test.zone
    inception=$(date -u -d '1 hour ago' +%Y%m%d%H%M%S)
    expiration=$(date -u -d '30 days' +%Y%m%d%H%M%S)
    ldns-signzone -n -t 0 -i "$inception" -e "$expiration" -f test.zone.signed test.zone "$test_key"
    ldns-signzone -n -t 0 -i "$inception" -e "$expiration" -f bogus.zone.signed bogus.zone "$bogus_key"
    # The trust anchor for test. (its key-signing key), as a DNSKEY and as a DS record.
    cp "$test_key.key" "$dir/test.key"
    cp "$test_key.ds" "$dir/test.ds"
}
cd "$dir/dns"
sign_zones > "$dir/logs/dnssec.log" 2>&1
cd "$repo"

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
    verbosity: 1
    # No response rate limiting: it guards a public server against reflection, and here it made the
    # world drop the resolver's answers (all NODATA of a zone share one bucket of 200/s), so lookups
    # waited for retransmits and measured the world instead of the program under test.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
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
# A zone nsd is configured for but has no data for: it answers SERVFAIL (the lame delegation servfail.test).
zone:
    name: "servfail.test."
    zonefile: "servfail.zone.missing"
CONF
if ((bench)); then
    printf 'zone:\n    name: "bench.test."\n    zonefile: "bench.zone"\n' >> "$dir/dns/nsd.conf"
fi

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
    verbosity: 1
    log-servfail: yes
    val-log-level: 2
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    access-control: ::1 allow
    # The world's servers are on loopback addresses.
    do-not-query-localhost: no
    # unbound refuses test. (a reserved name) unless told otherwise.
    local-zone: "test." nodefault
    module-config: "validator iterator"
    trust-anchor-file: "$dir/test.key"
    # Fail fast on broken delegations and follow the mutable fixture's changes (TTL 1 s).
    infra-host-ttl: 5
    cache-max-negative-ttl: 1
    serve-expired: no
    # flood.test.: every <x>.flood.test has an MTA-STS TXT record and its policy host the address where
    # nothing listens, for floods of lookups whose policy hosts do not answer (the fault tests drop the
    # SYNs to it): _mta-sts.<x>.flood.test gets the TXT record, mta-sts.<x>.flood.test the A record.
    local-zone: "flood.test." redirect
    local-data: 'flood.test. 3600 IN TXT "v=STSv1; id=flood1;"'
    local-data: "flood.test. 3600 IN A 127.0.0.4"
stub-zone:
    name: "test."
    stub-addr: 127.0.0.2
remote-control:
    control-enable: no
CONF
if ((bench)); then
    cat >> "$dir/dns/unbound.conf" <<CONF
server:
    # Every name under many.bench.test. gets the apex's records: _mta-sts.<x>.many.bench.test the TXT,
    # mta-sts.<x>.many.bench.test the A record.
    local-zone: "many.bench.test." redirect
    local-data: 'many.bench.test. 86400 IN TXT "v=STSv1; id=many1;"'
    local-data: "many.bench.test. 86400 IN A 127.0.0.10"
    msg-cache-size: 64m
    rrset-cache-size: 128m
CONF
fi

unbound-checkconf "$dir/dns/unbound.conf" > "$dir/logs/unbound.log" 2>&1 || fail unbound "unbound.conf is not valid"
nsd-checkconf "$dir/dns/nsd.conf" > "$dir/logs/nsd.log" 2>&1 || fail nsd "nsd.conf is not valid"
daemon nsd nsd -c "$dir/dns/nsd.conf"
daemon unbound unbound -c "$dir/dns/unbound.conf"
# The black hole: questions over UDP are read and dropped; TCP connections are accepted, read and never
# answered.
start blackhole-udp socat -u UDP4-RECV:53,bind=127.0.0.3,reuseaddr OPEN:/dev/null
start blackhole-tcp socat -u TCP4-LISTEN:53,bind=127.0.0.3,reuseaddr,fork OPEN:/dev/null

# --- certificates and the namespace's trust store -----------------------------------------------
"$fixtures/certs.sh" "$dir" "${hosts[@]}" > "$dir/logs/certs.log" 2>&1 || fail certs "making the certificates failed"
# Where earlier versions of the world had the CA certificates.
ln -s ../ca/ca.crt "$dir/certs/ca.crt"
ln -s ../ca/untrusted-ca.crt "$dir/certs/untrusted-ca.crt"
# ip netns exec bind-mounts /etc/netns/NAME/ssl over /etc/ssl: a copy of the system's /etc/ssl (so that
# nothing else there goes missing) with the test CA added to the bundle and to the hashed directory.
rm -rf "/etc/netns/$ns/ssl"
cp -a /etc/ssl "/etc/netns/$ns/ssl"
trust=/etc/netns/$ns/ssl/certs
cp "$dir/ca/ca.crt" "$trust/sts-world-test-ca.pem"
ln -sf sts-world-test-ca.pem "$trust/$(openssl x509 -in "$dir/ca/ca.crt" -noout -hash).0"
cat "$dir/ca/ca.crt" >> "$trust/ca-certificates.crt"
# The benchmark's certificates: one key, one certificate per policy host (openssl, two at a time).
if ((bench)); then
    mkdir -p "$dir/bench/certs"
    bench_certs() {
        local i
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/bench/key.pem"
        openssl req -new -key "$dir/bench/key.pem" -subj /CN=bench.test -out "$dir/bench/req.csr"
        for ((i = 1; i <= bench; i++)); do echo "mta-sts.d$i.bench.test"; done
        for ((i = 1; i <= bench_slow; i++)); do echo "mta-sts.slow$i.bench.test"; done
    }
    # shellcheck disable=SC2016
    bench_certs 2> "$dir/logs/bench-certs.log" | xargs -P 2 -n 50 sh -c '
        for host; do
            printf "subjectAltName=DNS:%s\nbasicConstraints=critical,CA:false\nextendedKeyUsage=serverAuth\n" "$host" > "$0/bench/$host.ext"
            openssl x509 -req -in "$0/bench/req.csr" -CA "$0/ca/ca.crt" -CAkey "$0/ca/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
                -days 365 -extfile "$0/bench/$host.ext" -out "$0/bench/certs/$host.crt" 2>> "$0/logs/bench-certs.log" || exit 255
            rm -f "$0/bench/$host.ext"
        done' "$dir" || fail bench-certs "making the benchmark certificates failed"
    # nginx's workers (not root) read the key and the certificates at each handshake.
    chmod 644 "$dir/bench/key.pem"
fi

# --- HTTPS ---------------------------------------------------------------------------------------
cp "$fixtures"/policies/*.txt "$dir/www/"
# big.txt: the good policy padded with an unknown key to 70 KiB.
good_size=$(stat -c %s "$fixtures/policies/good.txt")
{ cat "$fixtures/policies/good.txt"; printf 'x: '; head -c $((70 * 1024 - good_size - 4)) /dev/zero | tr '\0' a; echo; } > "$dir/www/big.txt"
servers() {
    local name location
    for name in "${names[@]}"; do
        case ${response[$name]} in
            file) location="alias $dir/www/${argument[$name]};" ;;
            typed) location="default_type \"${argument[$name]}\"; alias $dir/www/${file[$name]};" ;;
            # sub_filter rewrites the body as it streams, so nginx drops Content-Length and sends it chunked.
            chunked) location="alias $dir/www/${argument[$name]}; sub_filter_types text/plain; sub_filter 'version' 'version'; sub_filter_once off;" ;;
            redirect) location="return 301 ${argument[$name]};" ;;
            status) location="return ${argument[$name]};" ;;
            slow) location="proxy_pass http://slow_backend; proxy_read_timeout 120s;" ;;
            *) fail "" "Tests/World/https.fixtures: unknown response ${response[$name]} for $name" ;;
        esac
        cat <<SERVER
    server {
        listen 127.0.0.10:443 ssl;
        listen [::1]:443 ssl;
        server_name mta-sts.$name.test;
        ssl_certificate $dir/certs/${cert[$name]}.crt;
        ssl_certificate_key $dir/certs/${cert[$name]}.key;
        location = /.well-known/mta-sts.txt { $location }
    }
SERVER
    done
}
servers > "$dir/nginx-servers.conf"
if ((bench)); then
    printf '%s\n' "$bench_policy" > "$dir/www/bench.txt"
    # The cold scenario's policy hosts, d1..d$bench, each in a block of its own that names its
    # certificate: nginx loads these once, at start. A certificate named through a variable (the blocks
    # below) is read and parsed at every handshake, which cost nginx more CPU per lookup than the
    # daemons being measured spent.
    for ((i = 1; i <= bench; i++)); do
        printf '    server { listen 127.0.0.10:443 ssl; server_name mta-sts.d%d.bench.test; access_log off;
             ssl_certificate %s/bench/certs/mta-sts.d%d.bench.test.crt; ssl_certificate_key %s/bench/key.pem;
             location = /.well-known/mta-sts.txt { alias %s/www/bench.txt; } }\n' "$i" "$dir" "$i" "$dir" "$dir"
    done >> "$dir/nginx-servers.conf"
    cat >> "$dir/nginx-servers.conf" <<SERVER
    # The other benchmark policy hosts (the memory scenario's, made while it runs): the certificate is
    # the one named after the SNI name.
    server {
        listen 127.0.0.10:443 ssl;
        server_name ~^mta-sts\.(d[0-9]+\.|[^.]+\.many\.)bench\.test\$;
        ssl_certificate $dir/bench/certs/\$ssl_server_name.crt;
        ssl_certificate_key $dir/bench/key.pem;
        access_log off;
        location = /.well-known/mta-sts.txt { alias $dir/www/bench.txt; }
    }
    server {
        listen 127.0.0.10:443 ssl;
        server_name ~^mta-sts\.slow[0-9]+\.bench\.test\$;
        ssl_certificate $dir/bench/certs/\$ssl_server_name.crt;
        ssl_certificate_key $dir/bench/key.pem;
        location = /.well-known/mta-sts.txt { proxy_pass http://127.0.0.11:8081; proxy_read_timeout 120s; }
    }
SERVER
fi
sed -e "s|@STATE@|$dir|g" -e "/^@SERVERS@$/{r $dir/nginx-servers.conf
d}" "$fixtures/nginx.conf.in" > "$dir/nginx.conf"
rm "$dir/nginx-servers.conf"
# The slow backend: every connection gets its answer after 30 s.
start slow-backend socat TCP4-LISTEN:8080,bind=127.0.0.11,reuseaddr,fork \
    SYSTEM:'sleep 30; printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nversion: STSv1\nmode: enforce\nmx: mail.slow.test\nmax_age: 86400\n"'
if ((bench)); then
    # (socat takes quotes and backslashes in an address as its own: the response comes from a file.)
    { printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n'; cat "$dir/www/bench.txt"; } > "$dir/bench/slow-response"
    start bench-slow-backend socat TCP4-LISTEN:8081,bind=127.0.0.11,reuseaddr,fork,backlog=1024 \
        SYSTEM:"sleep 20; cat $dir/bench/slow-response"
fi
in_ns nginx -t -q -c "$dir/nginx.conf" -e "$dir/logs/nginx.log" >> "$dir/logs/nginx.log" 2>&1 || fail nginx "nginx.conf is not valid"
daemon nginx nginx -c "$dir/nginx.conf" -e "$dir/logs/nginx.log"

# --- wait until every server answers -------------------------------------------------------------
# until SERVER WHAT COMMAND...: retries COMMAND for up to 10 s.
until_ok() {
    local server=$1 what=$2 i
    shift 2
    for ((i = 0; i < 100; i++)); do
        "$@" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "$server" "$what"
}
answers() { # SERVER-ADDRESS DIG-ARGS... -- PATTERN: dig's answer (header included) matches PATTERN
    local server=$1 pattern=${*: -1}
    in_ns dig +time=1 +tries=1 "@$server" "${@:2:$#-2}" | grep -Eq -- "$pattern"
}
listening() { in_ns ss -Hln "$@" | grep -q .; }
until_ok nsd "nsd does not answer for test. on 127.0.0.2" answers 127.0.0.2 +norec SOA test. 'flags:[^;]* aa'
until_ok nsd "nsd does not serve mutable.test." answers 127.0.0.2 +norec SOA mutable.test. 'flags:[^;]* aa'
until_ok unbound "unbound does not answer _mta-sts.good.test on 127.0.0.1" answers 127.0.0.1 TXT _mta-sts.good.test 'id=20240101000000'
answers 127.0.0.1 +dnssec TXT _mta-sts.good.test 'flags:[^;]* ad' || fail unbound "unbound does not validate good.test (no AD flag)"
until_ok blackhole "the black hole does not listen on 127.0.0.3:53 (UDP)" listening -u src 127.0.0.3:53
until_ok blackhole "the black hole does not listen on 127.0.0.3:53 (TCP)" listening -t src 127.0.0.3:53
until_ok slow-backend "the slow backend does not listen on 127.0.0.11:8080" listening -t src 127.0.0.11:8080
until_ok nginx "nginx does not serve https://mta-sts.good.test/" \
    in_ns curl -sSf --max-time 2 -o /dev/null https://mta-sts.good.test/.well-known/mta-sts.txt
until_ok nginx "nginx does not serve https://mta-sts.ipv6.test/ on [::1]:443" \
    in_ns curl -sSf --max-time 2 -o /dev/null https://mta-sts.ipv6.test/.well-known/mta-sts.txt
if ((bench)); then
    until_ok nginx "nginx does not serve https://mta-sts.d1.bench.test/" \
        in_ns curl -sSf --max-time 2 -o /dev/null https://mta-sts.d1.bench.test/.well-known/mta-sts.txt
    answers 127.0.0.1 TXT _mta-sts.x1.many.bench.test 'id=many1' || fail unbound "unbound does not answer for many.bench.test"
    say "benchmark zone bench.test.: $bench domains d1..d$bench, $bench_slow slow domains, many.bench.test. (redirect)"
fi

elapsed=$((($(date +%s%N) - started) / 1000000))
cat <<SUMMARY
world: up in $((elapsed / 1000)).$(printf %03d $((elapsed % 1000))) s: network namespace $ns, state in $dir
  127.0.0.1:53              unbound (recursive, validating; trust anchor $dir/test.key)
  127.0.0.2:53              nsd (test., bogus.test., mutable.test.; signed test. and bogus.test.)
  127.0.0.3:53              black hole (UDP and TCP, never answers)
  127.0.0.10:443 [::1]:443  nginx: ${#names[@]} policy hosts (test CA $dir/ca/ca.crt)
  127.0.0.4                 nothing listens
  run a command inside:     ip netns exec $ns COMMAND      (stop: scripts/world/down.sh)
SUMMARY
