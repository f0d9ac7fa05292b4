#!/usr/bin/env bash
# The test world's certificates, made with openssl (3.0 or later):
#
#   certs.sh STATE_DIR HOST...
#
#   STATE_DIR/ca/ca.crt, ca.key                     the test CA (up.sh makes programs in the world trust it)
#   STATE_DIR/ca/untrusted-ca.crt, untrusted-ca.key a second CA that nobody trusts
#   STATE_DIR/certs/valid.crt, .key                 from the test CA, for every HOST given
#   STATE_DIR/certs/wildcard.crt, .key              from the test CA, for *.wildcard-cert.test only
#   STATE_DIR/certs/wrong-name.crt, .key            from the test CA, for other-name.test only
#   STATE_DIR/certs/cn-only.crt, .key               from the test CA, subject CN=mta-sts.cn-only.test and no
#                                                   subjectAltName (RFC 6125: a CN is no DNS-ID)
#   STATE_DIR/certs/expired.crt, .key               from the test CA, for mta-sts.expired.test, valid from
#                                                   60 days ago to 30 days ago
#   STATE_DIR/certs/untrusted.crt, .key             from the untrusted CA, for mta-sts.untrusted.test
#
# Keys are ECDSA P-256. Leaf certificates are issued with `openssl ca`, which can date a certificate in the
# past (-startdate/-enddate); that is how the expired one is made.
set -euo pipefail
(($# >= 2)) || { echo "usage: certs.sh STATE_DIR HOST..." >&2; exit 2; }
state=$1
shift
ca=$state/ca
certs=$state/certs
mkdir -p "$ca" "$certs"

stamp() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
# Runs openssl quietly, showing its output only when it fails.
quiet() { local out; out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }; }
# The configuration reads the subjectAltName from $SAN; it must be set whenever openssl reads it.
export SAN=DNS:unused.test

# What every leaf certificate has; the subjectAltName is added per section below.
leaf_extensions="basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid"

# One configuration for both CAs: `openssl ca -name test|untrusted` picks the CA, SAN comes from the
# environment.
cat > "$ca/openssl.cnf" <<CONF
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_extensions ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ test ]
database = $ca/test.index
serial = $ca/test.serial
new_certs_dir = $ca/issued
certificate = $ca/ca.crt
private_key = $ca/ca.key
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no
[ untrusted ]
database = $ca/untrusted.index
serial = $ca/untrusted.serial
new_certs_dir = $ca/issued
certificate = $ca/untrusted-ca.crt
private_key = $ca/untrusted-ca.key
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none
email_in_dn = no
[ any_name ]
commonName = supplied
[ server ]
$leaf_extensions
subjectAltName = \$ENV::SAN
[ server_without_san ]
$leaf_extensions
CONF
mkdir -p "$ca/issued"

# The CAs are self-signed through `openssl ca -selfsign`, which (unlike `openssl req -x509`) can backdate
# them; they start 90 days back so that they cover the expired leaf's validity.
make_ca() { # FILE-STEM COMMON-NAME SECTION
    local stem=$1 name=$2 section=$3
    : > "$ca/$section.index"
    openssl rand -hex 8 > "$ca/$section.serial"
    quiet openssl req -config "$ca/openssl.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
        -keyout "$ca/$stem.key" -out "$ca/$stem.csr" -subj "/CN=$name"
    quiet openssl ca -config "$ca/openssl.cnf" -name "$section" -batch -notext -selfsign -keyfile "$ca/$stem.key" \
        -in "$ca/$stem.csr" -out "$ca/$stem.crt" -extensions ca_extensions \
        -startdate "$(stamp '90 days ago')" -enddate "$(stamp '10 years')"
    rm -f "$ca/$stem.csr"
}

issue() { # CA-SECTION NAME START END DNS-NAME... (no DNS-NAME: the first is the CN and no subjectAltName)
    local section=$1 name=$2 start=$3 end=$4
    shift 4
    local san="" host extensions=server
    for host in "$@"; do san+="${san:+,}DNS:$host"; done
    quiet openssl req -config "$ca/openssl.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
        -keyout "$certs/$name.key" -out "$certs/$name.csr" -subj "/CN=$1"
    if [[ $name == cn-only ]]; then extensions=server_without_san; fi
    SAN=${san:-DNS:unused.test} quiet openssl ca -config "$ca/openssl.cnf" -name "$section" -batch -notext -extensions "$extensions" \
        -in "$certs/$name.csr" -out "$certs/$name.crt" -startdate "$start" -enddate "$end"
    rm -f "$certs/$name.csr"
}

make_ca ca "sts test world CA" test
make_ca untrusted-ca "sts untrusted CA" untrusted

from=$(stamp '1 day ago')
until=$(stamp '1 year')
issue test valid "$from" "$until" "$@"
issue test wildcard "$from" "$until" '*.wildcard-cert.test'
issue test wrong-name "$from" "$until" other-name.test
issue test cn-only "$from" "$until" mta-sts.cn-only.test
issue test expired "$(stamp '60 days ago')" "$(stamp '30 days ago')" mta-sts.expired.test
issue untrusted untrusted "$from" "$until" mta-sts.untrusted.test
