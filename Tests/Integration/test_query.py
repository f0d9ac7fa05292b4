"""sts-query end to end over the DNS and HTTPS test worlds: verdicts, Postfix answers, exit codes."""

import pytest

from stages import run_stage

GOOD = "OK secure match=mail.good.test:.mx.good.test servername=hostname"


def test_report_for_a_domain_with_a_policy():
    run = run_stage("sts-query", "good.test")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "Domain:  good.test"
    assert lines[1].startswith('TXT:     _mta-sts.good.test "v=STSv1; id=20240101000000;" (id 20240101000000')
    assert lines[2].startswith("Fetch:   https://mta-sts.good.test/.well-known/mta-sts.txt 200 text/plain, 82 bytes")
    assert lines[3] == "Policy:  mode enforce, max_age 86400s, mx mail.good.test, *.mx.good.test"
    assert lines[4] == "Postfix: " + GOOD
    assert lines[5] == "Verdict: MTA-STS policy in enforce mode"


@pytest.mark.parametrize("domain,status,outcome,kind,postfix", [
    ("good.test", 0, "policy", None, GOOD),
    ("testing.test", 0, "policy", None, "NOTFOUND"),
    ("none.test", 0, "policy", None, "NOTFOUND"),
    ("nxdomain.test", 1, "no-policy", None, "NOTFOUND"),
    ("two-records.test", 1, "no-policy", None, "NOTFOUND"),
    ("expired.test", 3, "error", "sts-webpki-invalid", "NOTFOUND"),
    ("notfound.test", 3, "error", "sts-policy-fetch-error", "NOTFOUND"),
    ("invalid-policy.test", 3, "error", "sts-policy-invalid", "NOTFOUND"),
    ("servfail.test", 3, "error", "dns-servfail", "NOTFOUND"),
])
def test_json_verdicts_and_exit_status(domain, status, outcome, kind, postfix):
    run = run_stage("sts-query", "--json", domain)
    assert run.returncode == status, run.stdout + run.stderr
    verdict = run.records[0]["verdict"]
    assert verdict["outcome"] == outcome
    assert verdict.get("kind") == kind
    assert verdict["postfix"] == postfix


def test_zone_flags_change_the_answer():
    assert run_stage("sts-query", "--json", "--no-sni", "good.test").records[0]["verdict"]["postfix"] == "OK secure match=mail.good.test:.mx.good.test"
    strict = run_stage("sts-query", "--json", "--strict-testing", "testing.test").records[0]["verdict"]["postfix"]
    assert strict == "OK secure match=mail.testing.test servername=hostname"
    tlsrpt = run_stage("sts-query", "--json", "--tlsrpt", "good.test").records[0]["verdict"]["postfix"]
    assert tlsrpt.startswith(GOOD + " policy_type=sts policy_domain=good.test")


def test_known_id_skips_the_fetch():
    run = run_stage("sts-query", "--json", "good.test", "20240101000000")
    assert run.returncode == 0
    record = run.records[0]
    assert record["verdict"]["outcome"] == "unchanged"
    assert "fetch" not in record
    changed = run_stage("sts-query", "--json", "good.test", "older1").records[0]
    assert changed["verdict"]["outcome"] == "policy" and changed["fetch"]["status"] == "ok"


def test_a_list_from_standard_input():
    domains = ["good.test", "nxdomain.test", "# a comment", "", "expired.test", "cname.test"]
    run = run_stage("sts-query", "--json", "--ordered", input="\n".join(domains) + "\n")
    assert [r["domain"] for r in run.records] == ["good.test", "nxdomain.test", "expired.test", "cname.test"]
    assert [r["verdict"]["outcome"] for r in run.records] == ["policy", "no-policy", "error", "policy"]
    assert run.returncode == 3, "the worst outcome decides the exit status"


def test_usage_errors():
    run = run_stage("sts-query", "-v", "loud", "good.test")
    assert run.returncode != 0 and "Error" in run.stderr
