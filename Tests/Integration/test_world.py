"""The test world itself (scripts/world/up.sh, Tests/World/README.md): every catalogue row checked with dig
and curl run inside the namespace, so that a failing sts test points at sts and not at its fixtures."""
import os
import re
import subprocess
import time
from datetime import datetime, timezone

import pytest

from conftest import NETNS, REPO, WORLD_DIR, in_world

pytestmark = pytest.mark.usefixtures("world")

POLICIES = os.path.join(REPO, "Tests", "World", "policies")
GOOD_POLICY = open(os.path.join(POLICIES, "good.txt"), "rb").read()
# Programs in the world must trust the test CA without being told: curl runs with a clean environment
# (no CURL_CA_BUNDLE, SSL_CERT_FILE, ...), so only its default trust store counts.
CLEAN_ENV = ("env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")


# --- DNS -------------------------------------------------------------------------------------------

class Answer:
    def __init__(self, proc, elapsed):
        self.returncode = proc.returncode
        self.text = proc.stdout
        self.elapsed = elapsed
        status = re.search(r"status: (\w+)", proc.stdout)
        self.status = status.group(1) if status else None  # None: no answer at all (dig timed out)
        flags = re.search(r";; flags: ([^;]*);", proc.stdout)
        self.flags = set(flags.group(1).split()) if flags else set()
        self.records = []  # (owner, ttl, type, rdata) of the answer section
        for line in proc.stdout.splitlines():
            if line and not line.startswith(";"):
                owner, ttl, _cls, rtype, rdata = line.split(None, 4)
                self.records.append((owner, int(ttl), rtype, rdata))

    def rdata(self, rtype):
        return [r[3] for r in self.records if r[2] == rtype]

    def txt(self):
        """Each TXT record as its list of character strings (bytes)."""
        return sorted(txt_strings(r) for r in self.rdata("TXT"))


def dig(name, rtype="TXT", server="127.0.0.1", *options, timeout=3):
    start = time.monotonic()
    proc = in_world("dig", f"+time={timeout}", "+tries=1", "+noall", "+comments", "+answer", "+nocookie",
                    f"@{server}", *options, name, rtype, timeout=timeout + 10)
    return Answer(proc, time.monotonic() - start)


def txt_strings(rdata):
    """dig's presentation of TXT rdata ("a" "b\\"c" "\\195\\169") -> [b"a", b'b"c', b"\\xc3\\xa9"]."""
    strings = []
    for quoted in re.findall(r'"((?:[^"\\]|\\.)*)"', rdata):
        out = bytearray()
        i = 0
        while i < len(quoted):
            c = quoted[i]
            if c == "\\" and quoted[i + 1:i + 4].isdigit() and len(quoted[i + 1:i + 4]) == 3:
                out.append(int(quoted[i + 1:i + 4]))
                i += 4
            elif c == "\\":
                out += quoted[i + 1].encode()
                i += 2
            else:
                out += c.encode()
                i += 1
        strings.append(bytes(out))
    return strings


STS_RECORD = re.compile(
    rb"v=STSv1"
    rb"(?:[ \t]*;[ \t]*(?:id=(?P<id>[A-Za-z0-9]{1,32})|[A-Za-z0-9][A-Za-z0-9_.-]{0,31}=[\x21-\x3a\x3c\x3e-\x7e]+))*"
    rb"(?:[ \t]*;[ \t]*)?")


def discover(records):
    """RFC 8461 §3.1 on TXT records given as lists of strings: ("found", id) or ("none", why)."""
    joined = [b"".join(strings) for strings in records]
    sts = [r for r in joined if r.startswith(b"v=STSv1;")]
    if not sts:
        return ("none", "no-sts-record")
    if len(sts) > 1:
        return ("none", "multiple-records")
    record = sts[0]
    match = STS_RECORD.fullmatch(record)
    ids = re.findall(rb"(?:^|;)[ \t]*id=", record)
    if not match or len(ids) != 1 or not match.group("id"):
        return ("none", "invalid-record")
    return ("found", match.group("id").decode())


# The DNS catalogue (Tests/World/README.md): TXT records at _mta-sts.<domain> as published (each a list of
# strings) and the RFC 8461 outcome.
TXT_CATALOGUE = {
    "good.test": ([[b"v=STSv1; id=20240101000000;"]], ("found", "20240101000000")),
    "multi-string.test": ([[b"v=STSv1; ", b"id=multi1;"]], ("found", "multi1")),
    "split-version.test": ([[b"v=STS", b"v1; id=split1;"]], ("found", "split1")),
    "other-txt.test": ([[b"v=STSv1; id=other1;"], [b"v=spf1 -all"]], ("found", "other1")),
    "only-other.test": ([[b"v=spf1 -all"]], ("none", "no-sts-record")),
    "two-records.test": ([[b"v=STSv1; id=a1;"], [b"v=STSv1; id=b2;"]], ("none", "multiple-records")),
    "id-32.test": ([[b"v=STSv1; id=abcdefghijklmnopqrstuvwxyz012345;"]], ("found", "abcdefghijklmnopqrstuvwxyz012345")),
    "id-33.test": ([[b"v=STSv1; id=abcdefghijklmnopqrstuvwxyz0123456;"]], ("none", "invalid-record")),
    "id-chars.test": ([[b"v=STSv1; id=abc-123;"]], ("none", "invalid-record")),
    "no-id.test": ([[b"v=STSv1;"]], ("none", "invalid-record")),
    "empty-id.test": ([[b"v=STSv1; id=;"]], ("none", "invalid-record")),
    "ext.test": ([[b"v=STSv1; id=ext1; foo=bar; x-y.z_w=1"]], ("found", "ext1")),
    "no-trailing.test": ([[b"v=STSv1; id=notrail1"]], ("found", "notrail1")),
    "lower-version.test": ([[b"v=stsv1; id=low1;"]], ("none", "no-sts-record")),
    "space-version.test": ([[b"v=STSv1 ; id=sp1;"]], ("none", "no-sts-record")),
    "non-ascii.test": ([["v=STSv1; id=abc; ext=é".encode()]], ("none", "invalid-record")),
    "xn--bcher-kva.test": ([[b"v=STSv1; id=idn1;"]], ("found", "idn1")),
}

# The HTTPS catalogue (Tests/World/https.fixtures): what GET https://mta-sts.<domain>/.well-known/mta-sts.txt
# gives. body: a file of Tests/World/policies or None; framing: "length" (Content-Length) or "chunked".
OK = dict(exit=0, status=200, type="text/plain", body="good.txt", framing="length")
HTTPS_CATALOGUE = {
    "good.test": OK,
    "cname.test": OK,
    "cname-chain.test": OK,
    "xn--bcher-kva.test": OK,
    "testing.test": dict(OK, body="testing.txt"),
    "none.test": dict(OK, body="none.txt"),
    "invalid-policy.test": dict(OK, body="invalid-policy.txt"),
    "crlf.test": dict(OK, body="crlf.txt"),
    "charset.test": dict(OK, type="text/plain;charset=utf-8"),
    "html.test": dict(OK, type="text/html"),
    "wildcard-cert.test": OK,
    "small-chunked.test": dict(OK, framing="chunked"),
    "ipv6.test": OK,
    "oversize.test": dict(OK, body="big", framing="length"),
    "oversize-chunked.test": dict(OK, body="big", framing="chunked"),
    "redirect.test": dict(exit=0, status=301, location="https://mta-sts.good.test/.well-known/mta-sts.txt"),
    "notfound.test": dict(exit=0, status=404),
    "wrong-name.test": dict(exit=60, error="no alternative certificate subject name matches"),
    # Its certificate names the host only as the subject's CN; curl 7.88 falls back to the CN and takes it,
    # RFC 8461 §3.3 (RFC 6125 DNS-IDs) does not: sts-fetch refuses it (test_fetch).
    "cn-only.test": OK,
    "expired.test": dict(exit=60, error="certificate has expired"),
    "untrusted.test": dict(exit=60, error="unable to get local issuer certificate"),
    "refused.test": dict(exit=7, error="Couldn't connect to server"),
}
# Every HTTPS fixture publishes TXT "v=STSv1; id=<name>1;" unless the DNS catalogue has it.
HTTPS_DOMAINS = sorted(set(HTTPS_CATALOGUE) | {"slow.test"})


@pytest.mark.parametrize("domain", sorted(TXT_CATALOGUE))
def test_txt_records_and_their_outcome(domain):
    published, outcome = TXT_CATALOGUE[domain]
    answer = dig(f"_mta-sts.{domain}")
    assert answer.status == "NOERROR", answer.text
    assert "ad" in answer.flags, f"not validated: {answer.text}"
    assert answer.txt() == sorted(published)
    assert discover(answer.txt()) == outcome


def test_strings_join_without_spaces():
    assert b"".join(dig("_mta-sts.multi-string.test").txt()[0]) == b"v=STSv1; id=multi1;"
    assert b"".join(dig("_mta-sts.split-version.test").txt()[0]) == b"v=STSv1; id=split1;"


def test_non_ascii_record_has_raw_utf8_bytes():
    (strings,) = dig("_mta-sts.non-ascii.test").txt()
    assert strings[0].endswith(b"ext=\xc3\xa9")


@pytest.mark.parametrize("domain,hops", [("cname.test", ["_mta-sts.good.test."]),
                                         ("cname-chain.test", ["_mta-sts.cname.test.", "_mta-sts.good.test."])])
def test_cnames_lead_to_good_test(domain, hops):
    answer = dig(f"_mta-sts.{domain}")
    assert answer.status == "NOERROR" and "ad" in answer.flags, answer.text
    assert answer.rdata("CNAME") == hops
    assert answer.txt() == [[b"v=STSv1; id=20240101000000;"]]
    assert discover(answer.txt()) == ("found", "20240101000000")


def test_good_test_has_mx_and_mail_host():
    assert dig("good.test", "MX").rdata("MX") == ["10 mail.good.test."]
    assert dig("mail.good.test", "A").rdata("A") == ["127.0.0.20"]


def test_nxdomain_test_has_no_sts_name_but_an_mx():
    answer = dig("_mta-sts.nxdomain.test")
    assert answer.status == "NXDOMAIN" and "ad" in answer.flags, answer.text
    assert dig("nxdomain.test", "MX").rdata("MX") == ["10 mail.good.test."]


def test_nodata_test_has_only_an_a_record():
    answer = dig("_mta-sts.nodata.test")
    assert answer.status == "NOERROR" and answer.records == [] and "ad" in answer.flags, answer.text
    assert dig("_mta-sts.nodata.test", "A").rdata("A") == ["127.0.0.99"]


def test_servfail_test_fails_fast():
    answer = dig("_mta-sts.servfail.test")
    assert answer.status == "SERVFAIL", answer.text
    assert answer.elapsed < 2
    # The delegation is lame: the server it points at fails the zone.
    assert dig("_mta-sts.servfail.test", "TXT", "127.0.0.2", "+norec").status == "SERVFAIL"


def test_bogus_test_fails_validation_but_has_data():
    answer = dig("_mta-sts.bogus.test")
    assert answer.status == "SERVFAIL", answer.text
    unchecked = dig("_mta-sts.bogus.test", "TXT", "127.0.0.1", "+cd")
    assert unchecked.status == "NOERROR"
    assert unchecked.txt() == [[b"v=STSv1; id=bogus1;"]]
    # The DS that test. publishes is not for the key bogus.test. signs with.
    ds_tags = {int(r.split()[0]) for r in dig("bogus.test", "DS", "127.0.0.2", "+norec").rdata("DS")}
    key_tags = set(map(int, re.findall(r"key id = (\d+)", in_world(
        "dig", "+multiline", "+norec", "@127.0.0.2", "bogus.test", "DNSKEY").stdout)))
    assert ds_tags and key_tags and not ds_tags & key_tags


def test_blackhole_never_answers():
    udp = dig("good.test", "TXT", "127.0.0.3", timeout=1)
    assert udp.status is None and udp.returncode == 9 and udp.elapsed >= 1, udp.text
    tcp = dig("good.test", "TXT", "127.0.0.3", "+tcp", timeout=1)
    assert tcp.status is None and tcp.returncode == 9, tcp.text
    # ...though it does accept TCP connections.
    assert in_world("bash", "-c", "exec 3<>/dev/tcp/127.0.0.3/53").returncode == 0


def test_blackhole_test_gets_no_answer_through_the_resolver():
    answer = dig("_mta-sts.blackhole.test", timeout=2)
    assert answer.status in (None, "SERVFAIL"), answer.text
    referral = dig("blackhole.test", "NS", "127.0.0.2", "+norec", "+authority")
    assert referral.rdata("NS") == ["ns.blackhole.test."]


def test_test_zone_is_signed_and_the_trust_anchor_matches(world):
    soa = dig("test.", "SOA", "127.0.0.2", "+norec")
    assert "aa" in soa.flags, soa.text
    assert dig("test.", "NSEC3PARAM", "127.0.0.2", "+norec").rdata("NSEC3PARAM")
    keys = dig("test.", "DNSKEY", "127.0.0.1", "+dnssec")
    assert "ad" in keys.flags, keys.text
    anchor = open(world.trust_anchor).read().split(";")[0].split()  # test. IN DNSKEY 257 3 13 <key> ;comment
    assert anchor[0] == "test." and anchor[2:4] == ["DNSKEY", "257"]
    assert "".join(anchor[3:]) in ["".join(k.split()) for k in keys.rdata("DNSKEY")]
    ds = open(world.trust_anchor_ds).read().split()  # test. IN DS <tag> 13 2 <digest>
    assert ds[0] == "test." and ds[2] == "DS"
    assert ds[3] in re.findall(r"key id = (\d+)", in_world("dig", "+multiline", "@127.0.0.1", "test.", "DNSKEY").stdout)


def test_mutable_test_is_its_own_zone_with_a_short_ttl():
    soa = dig("mutable.test", "SOA", "127.0.0.2", "+norec")
    assert "aa" in soa.flags and soa.records[0][1] == 1, soa.text
    assert dig("mta-sts.mutable.test", "A").rdata("A") == ["127.0.0.10"]


@pytest.mark.parametrize("domain", HTTPS_DOMAINS)
def test_https_fixtures_have_txt_and_policy_host(domain):
    name = domain[:-len(".test")]
    if domain in TXT_CATALOGUE:
        expected = TXT_CATALOGUE[domain][1]
    elif domain in ("cname.test", "cname-chain.test"):
        expected = ("found", "20240101000000")
    else:
        expected = ("found", re.sub(r"[^A-Za-z0-9]", "", name) + "1")
    assert discover(dig(f"_mta-sts.{domain}").txt()) == expected
    host = f"mta-sts.{domain}"
    if domain == "ipv6.test":
        assert dig(host, "AAAA").rdata("AAAA") == ["::1"]
        assert dig(host, "A").rdata("A") == []
    elif domain == "refused.test":
        assert dig(host, "A").rdata("A") == ["127.0.0.4"]
    else:
        assert dig(host, "A").rdata("A") == ["127.0.0.10"]


def test_programs_in_the_world_use_its_resolver():
    assert in_world("cat", "/etc/resolv.conf").stdout.split() == ["nameserver", "127.0.0.1"]
    assert in_world("getent", "hosts", "mta-sts.good.test").stdout.split()[0] == "127.0.0.10"


# --- HTTPS -----------------------------------------------------------------------------------------

def curl(url, tmp_path, *options, max_time=5):
    """GET url with curl inside the world (clean environment): (info dict of -w %{json}, headers, body)."""
    import json
    headers, body = tmp_path / "headers", tmp_path / "body"
    for f in (headers, body):
        f.unlink(missing_ok=True)
    proc = in_world(*CLEAN_ENV, "curl", "-sS", "--max-time", str(max_time), "-D", headers, "-o", body,
                    "-w", "%{json}", *options, url, timeout=max_time + 10)
    info = json.loads(proc.stdout)
    info["stderr"] = proc.stderr
    head = {}
    if headers.exists():
        for line in headers.read_bytes().decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                head[key.strip().lower()] = value.strip()
    return info, head, body.read_bytes() if body.exists() else b""


def policy_url(domain):
    return f"https://mta-sts.{domain}/.well-known/mta-sts.txt"


@pytest.mark.parametrize("domain", sorted(HTTPS_CATALOGUE))
def test_policy_hosts(domain, tmp_path):
    expected = HTTPS_CATALOGUE[domain]
    info, head, body = curl(policy_url(domain), tmp_path)
    assert info["exitcode"] == expected["exit"], info
    if expected["exit"]:
        assert expected["error"] in info["errormsg"], info
        return
    assert info["http_code"] == expected["status"], info
    assert info["num_redirects"] == 0
    if "location" in expected:
        assert head["location"] == expected["location"]
    if expected.get("body") is None:
        return
    assert head["content-type"] == expected["type"]
    if expected["body"] == "big":
        assert len(body) == 70 * 1024 and body.startswith(GOOD_POLICY)
    else:
        assert body == open(os.path.join(POLICIES, expected["body"]), "rb").read()
    if expected["framing"] == "length":
        assert head["content-length"] == str(len(body)) and "transfer-encoding" not in head, head
    else:
        assert head["transfer-encoding"] == "chunked" and "content-length" not in head, head


def test_crlf_policy_has_crlf_line_ends(tmp_path):
    body = curl(policy_url("crlf.test"), tmp_path)[2]
    assert body.count(b"\r\n") == 4 and body.count(b"\n") == 4


def test_invalid_policy_max_age_is_too_large(tmp_path):
    assert b"max_age: 31557601\n" in curl(policy_url("invalid-policy.test"), tmp_path)[2]


def test_the_policy_hosts_are_also_on_ipv6(tmp_path):
    info = curl(policy_url("ipv6.test"), tmp_path)[0]
    assert info["remote_ip"] == "::1" and info["http_code"] == 200
    info = curl(policy_url("good.test"), tmp_path, "--resolve", "mta-sts.good.test:443:[::1]")[0]
    assert info["remote_ip"] == "::1" and info["http_code"] == 200


def test_an_unknown_name_is_misdirected(tmp_path):
    info = curl("https://127.0.0.10/.well-known/mta-sts.txt", tmp_path, "-k")[0]
    assert info["http_code"] == 421


def test_redirect_is_only_followed_when_asked(tmp_path):
    info, _, body = curl(policy_url("redirect.test"), tmp_path, "-L")
    assert info["num_redirects"] == 1 and body == GOOD_POLICY


def test_refused_fails_at_once(tmp_path):
    start = time.monotonic()
    assert curl(policy_url("refused.test"), tmp_path)[0]["exitcode"] == 7
    assert time.monotonic() - start < 2


def test_slow_host_accepts_tls_but_does_not_answer_and_does_not_block_others(tmp_path):
    slow = subprocess.Popen(["ip", "netns", "exec", NETNS, *CLEAN_ENV, "curl", "-sS", "--max-time", "4", "-o", "/dev/null",
                             "-w", "%{exitcode} %{time_appconnect}", policy_url("slow.test")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        start = time.monotonic()
        info = curl(policy_url("good.test"), tmp_path)[0]
        assert info["http_code"] == 200 and time.monotonic() - start < 1.5
        out, err = slow.communicate(timeout=15)
    finally:
        slow.kill()
    exitcode, appconnect = out.split()
    assert exitcode == "28", err  # timed out...
    assert float(appconnect) > 0  # ...after the TLS handshake


def server_certificate(domain):
    """The certificate nginx presents for mta-sts.<domain> (subject, issuer, SAN, notAfter)."""
    proc = in_world("bash", "-c", f"openssl s_client -connect 127.0.0.10:443 -servername mta-sts.{domain} </dev/null 2>/dev/null"
                                  " | openssl x509 -noout -subject -issuer -enddate -ext subjectAltName")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    not_after = re.search(r"notAfter=(.*)", text).group(1)
    return dict(issuer=re.search(r"issuer=(.*)", text).group(1).strip(),
                san=re.findall(r"DNS:([^,\s]+)", text),
                not_after=datetime.strptime(not_after.strip(), "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc))


def test_certificates():
    now = datetime.now(timezone.utc)
    good = server_certificate("good.test")
    assert good["issuer"] == "CN = sts test world CA" and good["not_after"] > now
    assert {f"mta-sts.{d}" for d in HTTPS_DOMAINS} - {"mta-sts.wildcard-cert.test", "mta-sts.wrong-name.test", "mta-sts.cn-only.test",
                                                      "mta-sts.expired.test", "mta-sts.untrusted.test"} <= set(good["san"])
    assert server_certificate("cn-only.test")["san"] == []
    assert server_certificate("wildcard-cert.test")["san"] == ["*.wildcard-cert.test"]
    assert server_certificate("wrong-name.test")["san"] == ["other-name.test"]
    expired = server_certificate("expired.test")
    assert expired["issuer"] == "CN = sts test world CA" and expired["not_after"] < now
    assert expired["san"] == ["mta-sts.expired.test"]
    untrusted = server_certificate("untrusted.test")
    assert untrusted["issuer"] == "CN = sts untrusted CA" and untrusted["san"] == ["mta-sts.untrusted.test"]


def test_untrusted_ca_file_makes_the_untrusted_host_work(world, tmp_path):
    info = curl(policy_url("untrusted.test"), tmp_path, "--cacert", world.untrusted_ca)[0]
    assert info["exitcode"] == 0 and info["http_code"] == 200


def test_the_test_ca_is_trusted_in_the_world_only(world):
    python = "import urllib.request; print(urllib.request.urlopen('https://mta-sts.good.test/.well-known/mta-sts.txt').status)"
    assert in_world(*CLEAN_ENV, "python3", "-c", python).stdout.strip() == "200"
    ca = open(world.ca).read()
    assert ca in open(f"/etc/netns/{NETNS}/ssl/certs/ca-certificates.crt").read()
    assert ca not in open("/etc/ssl/certs/ca-certificates.crt").read()


def test_servers_run_inside_the_namespace_only():
    world_ns = in_world("readlink", "/proc/self/ns/net").stdout.strip()
    host_ns = os.readlink("/proc/self/ns/net")
    assert world_ns != host_ns
    pidfiles = [f for f in os.listdir(WORLD_DIR) if f.endswith(".pid")]
    assert {"nsd.pid", "unbound.pid", "nginx.pid", "blackhole-udp.pid", "blackhole-tcp.pid", "slow-backend.pid"} <= set(pidfiles)
    for pidfile in pidfiles:
        pid = open(os.path.join(WORLD_DIR, pidfile)).read().strip()
        assert os.readlink(f"/proc/{pid}/ns/net") == world_ns, pidfile
