"""sts-fetch against the real HTTPS world (nginx, test CA): RFC 8461 §3.3, every case over real TLS."""
import json
import time

import pytest

from stages import run_stage, start_stage

GOOD_BODY = "version: STSv1\nmode: enforce\nmx: mail.good.test\nmx: *.mx.good.test\nmax_age: 86400\n"


def found(domain, **extra):
    return {"domain": domain, "txt": {"status": "found", "id": "x1"}, **extra}


@pytest.fixture(scope="module")
def fetched():
    domains = ["good.test", "wildcard-cert.test", "crlf.test", "charset.test", "small-chunked.test", "ipv6.test", "xn--bcher-kva.test",
               "wrong-name.test", "expired.test", "untrusted.test", "redirect.test", "notfound.test", "html.test", "oversize.test",
               "oversize-chunked.test", "refused.test", "nothere.test"]
    run = run_stage("sts-fetch", "--ordered", input=[found(d) for d in domains])
    assert run.returncode == 0, run.stderr
    return {r["domain"]: r["fetch"] for r in run.records}


@pytest.mark.parametrize("domain", ["good.test", "wildcard-cert.test", "small-chunked.test", "ipv6.test", "xn--bcher-kva.test"])
def test_valid_policy_hosts(fetched, domain):
    fetch = fetched[domain]
    assert fetch["status"] == "ok", fetch
    assert fetch["http_status"] == 200
    assert fetch["body"] == GOOD_BODY
    assert fetch["bytes"] == len(GOOD_BODY)
    assert fetch["url"] == f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    assert fetch["timings_ms"]["total"] > 0


def test_ipv6_host_is_reached_over_ipv6(fetched):
    assert fetched["ipv6.test"]["ip"] == "::1"


def test_crlf_body_is_passed_as_is(fetched):
    assert fetched["crlf.test"]["body"] == GOOD_BODY.replace("mail.good.test\nmx: *.mx.good.test", "mail.crlf.test").replace("\n", "\r\n")


def test_content_type_parameters_are_allowed(fetched):
    assert fetched["charset.test"]["status"] == "ok"
    assert fetched["charset.test"]["content_type"] == "text/plain;charset=utf-8"


@pytest.mark.parametrize("domain,reason", [("wrong-name.test", "name-mismatch"), ("expired.test", "expired"), ("untrusted.test", "untrusted")])
def test_certificate_problems_are_webpki_errors(fetched, domain, reason):
    fetch = fetched[domain]
    assert fetch["status"] == "error"
    assert fetch["error"]["kind"] == "sts-webpki-invalid"
    assert fetch["error"]["reason"] == reason
    assert "body" not in fetch


@pytest.mark.parametrize("domain,reason,status", [
    ("redirect.test", "redirect", 301), ("notfound.test", "http-status", 404), ("html.test", "content-type", 200),
    ("oversize.test", "too-large", None), ("oversize-chunked.test", "too-large", None), ("refused.test", "connect", None),
    ("nothere.test", "dns", None)])
def test_fetch_errors(fetched, domain, reason, status):
    fetch = fetched[domain]
    assert fetch["status"] == "error", fetch
    assert fetch["error"]["kind"] == "sts-policy-fetch-error"
    assert fetch["error"]["reason"] == reason, fetch
    assert fetch["error"]["message"]
    if status:
        assert fetch["http_status"] == status
    assert "body" not in fetch


def test_redirect_is_not_followed_and_names_the_target(fetched):
    assert "https://mta-sts.good.test/.well-known/mta-sts.txt" in fetched["redirect.test"]["error"]["message"]


def test_a_slow_host_times_out_and_does_not_hold_back_the_others():
    proc = start_stage("sts-fetch", "--timeout", "3")
    started = time.monotonic()
    proc.stdin.write(json.dumps(found("slow.test")) + "\n" + json.dumps(found("good.test")) + "\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    first_at = time.monotonic() - started
    proc.stdin.close()
    second = json.loads(proc.stdout.readline())
    assert proc.wait(timeout=10) == 0
    assert first["domain"] == "good.test" and first["fetch"]["status"] == "ok"
    assert first_at < 2.5
    assert second["domain"] == "slow.test"
    assert second["fetch"]["error"]["reason"] == "timeout"
    assert time.monotonic() - started < 6


def test_records_without_a_found_policy_pass_through_untouched():
    lines = ['{"domain":"good.test","txt":{"status":"none","reason":"nxdomain"}}', '{"domain":"good.test"}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"fetch":{"status":"ok","body":"kept"}}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"cache":{"policy_id":"x1","fresh":true}}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"cache":{"backoff_id":"x1"}}']
    run = run_stage("sts-fetch", "--ordered", input="\n".join(lines) + "\n")
    assert run.lines == lines


def test_a_stale_or_other_cached_id_is_fetched():
    records = [found("good.test", cache={"policy_id": "x1", "fresh": False}), found("good.test", cache={"policy_id": "old", "fresh": True})]
    run = run_stage("sts-fetch", "--ordered", input=records)
    assert [r["fetch"]["status"] for r in run.records] == ["ok", "ok"]


def test_unknown_keys_and_id_pass_through():
    run = run_stage("sts-fetch", input=[found("good.test", id={"n": 1}, note="keep")])
    record = run.records[0]
    assert record["id"] == {"n": 1} and record["note"] == "keep" and record["fetch"]["status"] == "ok"


def test_own_ca_file_replaces_the_system_store():
    # With only the untrusted CA, the good host's certificate (from the test CA) is refused.
    from stages import WORLD_DIR
    run = run_stage("sts-fetch", "--ordered", "--ca-file", f"{WORLD_DIR}/certs/untrusted-ca.crt", input=[found("good.test"), found("untrusted.test")])
    assert run.records[0]["fetch"]["error"]["reason"] == "untrusted"
    assert run.records[1]["fetch"]["status"] == "ok"


def test_whole_pipeline_from_a_shell():
    run = run_stage("bash", "-c", "printf 'good.test\\nnxdomain.test\\nexpired.test\\n' | sts-dns --ordered | sts-fetch --ordered | sts-parse --ordered")
    assert run.returncode == 0, run.stderr
    good, nx, expired = run.records
    assert good["policy"]["mode"] == "enforce" and good["policy"]["mx"] == ["mail.good.test", "*.mx.good.test"]
    assert nx["txt"]["reason"] == "nxdomain" and "fetch" not in nx and "policy" not in nx
    assert expired["fetch"]["error"]["kind"] == "sts-webpki-invalid" and "policy" not in expired
