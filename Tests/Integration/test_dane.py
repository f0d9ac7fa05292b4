"""DANE precedence (RFC 8461 §2): where the MX hosts publish DNSSEC-validated TLSA records, Postfix is
told `dane-only` or `dane`, never `secure`; an undeterminable DANE status is TEMP; only a proven absence
lets MTA-STS apply. Also what sts-dns --dane reports for the world's DANE fixtures."""
import json

import pytest

from conftest import in_world
from daemon import Daemon
from rawclient import netstring, run
from stages import WORLD_DIR, run_stage

PORT = 18510
STS_GOOD = "secure match=mail.good.test:.mx.good.test servername=hostname"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, world):
    config = f"""
host: 127.0.0.1
port: {PORT}
dnssec_trust_anchor: {WORLD_DIR}/test.key
metrics:
  listen: 127.0.0.1:19510
cache:
  type: internal
default_zone:
  timeout: 8
zones:
  nodane:
    dane: false
"""
    d = Daemon(config, PORT, str(tmp_path_factory.mktemp("dane"))).start()
    yield d
    d.stop()


def reply(domain, zone="postfix"):
    result = run("exchange", port=PORT, payload_hex=netstring(f"{zone} {domain}".encode()).hex(), expect_replies=1, timeout=30)
    assert len(result["replies"]) == 1, result
    return result["replies"][0]


@pytest.mark.parametrize("domain, expected", [
    ("dane.test", "OK dane-only"),                  # TLSA on every MX host, and an MTA-STS policy
    ("dane-nomx.test", "OK dane-only"),             # no MX: the domain is its own host, with TLSA
    ("dane-partial.test", "OK dane"),               # TLSA on one of two hosts
    ("dane-pkix.test", f"OK {STS_GOOD}"),           # only a PKIX-EE TLSA record: unusable, MTA-STS applies
    ("dane-insecure-host.test", f"OK {STS_GOOD}"),  # the host's zone is unsigned: MTA-STS applies
    ("good.test", f"OK {STS_GOOD}"),                # signed proof of no TLSA: MTA-STS applies
    ("dane-null-mx.test", "NOTFOUND "),             # accepts no mail; no MTA-STS either
])
def test_dane_takes_precedence_over_mta_sts(daemon, domain, expected):
    assert reply(domain) == expected
    assert reply(domain) == expected, "the same answer from the cache"


@pytest.mark.parametrize("domain", ["dane-bogus-host.test", "bogus.test", "servfail.test"])
def test_an_undeterminable_dane_status_defers(daemon, domain):
    assert reply(domain).startswith("TEMP DANE status unknown")


def test_postfix_gets_dane_only(daemon):
    assert daemon.postmap("dane.test") == (0, "dane-only")
    assert daemon.postmap("dane-partial.test") == (0, "dane")


def test_a_zone_without_dane_gives_the_mta_sts_answer(daemon):
    assert reply("dane.test", zone="nodane") == f"OK {STS_GOOD}"
    assert reply("bogus.test", zone="nodane") == "NOTFOUND "


def test_the_decision_log_says_why(daemon):
    reply("dane.test")
    assert "every MX host has usable TLSA records" in daemon.log()


def test_dane_outcomes_are_counted(daemon):
    reply("dane-partial.test")
    reply("dane-bogus-host.test")
    metrics = in_world("curl", "-sf", "http://127.0.0.1:19510/metrics", capture_output=True, text=True, timeout=30).stdout
    assert 'sts_dane_lookups_total{outcome="dane"}' in metrics
    assert 'sts_dane_lookups_total{outcome="dns-bogus"}' in metrics


def test_without_a_trust_anchor_mta_sts_answers_stand(tmp_path, world):
    d = Daemon(f"host: 127.0.0.1\nport: {PORT + 1}\ncache:\n  type: internal\n", PORT + 1, str(tmp_path)).start()
    try:
        assert d.postmap("dane.test") == (0, STS_GOOD)
        assert "DANE precedence off" in d.log()
    finally:
        d.stop()


def test_an_unreadable_trust_anchor_stops_the_daemon_with_a_message(tmp_path, world):
    d = Daemon(f"host: 127.0.0.1\nport: {PORT + 2}\ndnssec_trust_anchor: {tmp_path}/missing.key\n", PORT + 2, str(tmp_path))
    with pytest.raises(AssertionError, match="dnssec_trust_anchor: cannot read"):
        d.start()


def dns(*domains):
    run_ = run_stage("sts-dns", "--ordered", "--dane", "--trust-anchor", f"{WORLD_DIR}/test.key", input=list(domains))
    return [json.loads(line)["dane"] for line in run_.stdout.splitlines()]


def test_sts_dns_reports_dane(world):
    dane, partial, pkix, null_mx, bogus_host, mutable = dns("dane.test", "dane-partial.test", "dane-pkix.test", "dane-null-mx.test",
                                                            "dane-bogus-host.test", "mutable.test")
    assert dane["status"] == "usable" and dane["all_hosts"] is True
    assert dane["hosts"][0]["host"] == "mx.dane.test" and dane["hosts"][0]["records"][0].startswith("3 1 1 ")
    assert partial["status"] == "usable" and partial["all_hosts"] is False
    assert [h["tlsa"] for h in partial["hosts"]] == ["usable", "none"]
    assert pkix["status"] == "none" and pkix["reason"] == "no-tlsa" and pkix["hosts"][0]["tlsa"] == "unusable"
    assert null_mx["status"] == "none" and null_mx["reason"] == "null-mx"
    assert bogus_host["status"] == "error" and bogus_host["error"]["kind"] == "dns-bogus"
    assert mutable["status"] == "none" and mutable["reason"] == "insecure-mx"


def test_sts_dns_without_a_trust_anchor_proves_nothing(world):
    out = run_stage("sts-dns", "--dane", input=["dane.test"])
    dane = json.loads(out.stdout)["dane"]
    assert dane["status"] == "none" and dane["reason"] == "no-validation"


def test_sts_query_gives_the_daemons_dane_answer(world):
    out = run_stage("sts-query", "--trust-anchor", f"{WORLD_DIR}/test.key", "dane.test")
    assert out.returncode == 0, out.stderr
    assert "DANE:    usable TLSA records: mx.dane.test TLSA usable [3 1 1 " in out.stdout
    assert "Postfix: OK dane-only" in out.stdout
    bogus = run_stage("sts-query", "--trust-anchor", f"{WORLD_DIR}/test.key", "dane-bogus-host.test")
    assert bogus.returncode != 0 and "Postfix: TEMP DANE status unknown" in bogus.stdout
    plain = run_stage("sts-query", "dane.test")
    assert "DANE:" not in plain.stdout and f"Postfix: OK {STS_GOOD}" in plain.stdout
