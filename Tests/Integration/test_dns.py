"""sts-dns against the real DNS world (unbound resolving, nsd serving signed zones): RFC 8461 §3.1."""
import json
import os
import select
import threading
import time

import pytest

from stages import WORLD_DIR, run_stage, start_stage

FOUND = {
    "good.test": "20240101000000",
    "multi-string.test": "multi1",
    "split-version.test": "split1",
    "other-txt.test": "other1",
    "ext.test": "ext1",
    "no-trailing.test": "notrail1",
    "xn--bcher-kva.test": "idn1",
}

NONE = {
    "nxdomain.test": "nxdomain",
    "nodata.test": "nodata",
    "only-other.test": "no-sts-record",
    "lower-version.test": "no-sts-record",
    "space-version.test": "no-sts-record",
    "two-records.test": "multiple-records",
    "id-33.test": "invalid-record",
    "id-chars.test": "invalid-record",
    "no-id.test": "invalid-record",
    "empty-id.test": "invalid-record",
    "non-ascii.test": "invalid-record",
}


@pytest.fixture(scope="module")
def catalogue():
    domains = list(FOUND) + list(NONE) + ["id-32.test", "cname.test", "cname-chain.test"]
    run = run_stage("sts-dns", "--ordered", input="\n".join(domains) + "\n")
    assert run.returncode == 0, run.stderr
    assert [r["domain"] for r in run.records] == domains
    return run.by_domain()


@pytest.mark.parametrize("domain", sorted(FOUND))
def test_found(catalogue, domain):
    txt = catalogue[domain]["txt"]
    assert txt["status"] == "found", txt
    assert txt["id"] == FOUND[domain]
    assert txt["record"].startswith("v=STSv1;")
    assert isinstance(txt["ttl"], int) and txt["ttl"] > 0
    assert txt["name"] == f"_mta-sts.{domain}"


def test_strings_of_one_record_are_joined_without_spaces(catalogue):
    assert catalogue["multi-string.test"]["txt"]["record"] == "v=STSv1; id=multi1;"
    assert catalogue["split-version.test"]["txt"]["record"] == "v=STSv1; id=split1;"


def test_id_of_32_characters_is_accepted_and_33_is_not(catalogue):
    txt = catalogue["id-32.test"]["txt"]
    assert txt["status"] == "found"
    assert len(txt["id"]) == 32
    assert catalogue["id-33.test"]["txt"]["reason"] == "invalid-record"


def test_extension_fields_are_allowed_and_reported(catalogue):
    txt = catalogue["ext.test"]["txt"]
    assert txt["extensions"] == {"foo": "bar", "x-y.z_w": "1"}


def test_other_txt_records_are_discarded(catalogue):
    txt = catalogue["other-txt.test"]["txt"]
    assert txt["status"] == "found"
    assert sorted(txt["records"]) == ["v=STSv1; id=other1;", "v=spf1 -all"]


@pytest.mark.parametrize("domain", sorted(NONE))
def test_no_policy(catalogue, domain):
    txt = catalogue[domain]["txt"]
    assert txt["status"] == "none", txt
    assert txt["reason"] == NONE[domain]
    assert txt["message"]


def test_cnames_are_followed(catalogue):
    for domain in ("cname.test", "cname-chain.test"):
        txt = catalogue[domain]["txt"]
        assert txt["status"] == "found", txt
        assert txt["id"] == "20240101000000"
        assert txt["cname"] == "_mta-sts.good.test"


def test_servfail_is_an_error_with_its_kind():
    run = run_stage("sts-dns", "--timeout", "8", input="servfail.test\n")
    txt = run.records[0]["txt"]
    assert txt["status"] == "error"
    assert txt["error"]["kind"] == "dns-servfail"


def test_a_silent_server_gives_dns_timeout_within_the_timeout():
    run = run_stage("sts-dns", "--resolver", "127.0.0.3", "--timeout", "1", input="good.test\n")
    assert run.records[0]["txt"]["error"]["kind"] == "dns-timeout"
    assert run.elapsed < 5


def test_a_slow_domain_does_not_hold_back_the_others():
    proc = start_stage("sts-dns", "--timeout", "3")
    start = time.monotonic()
    proc.stdin.write("blackhole.test\ngood.test\n")
    proc.stdin.flush()
    arrived = {}
    for _ in range(2):
        record = json.loads(proc.stdout.readline())
        arrived[record["domain"]] = (record, time.monotonic() - start)
    proc.stdin.close()
    proc.wait(timeout=10)
    good, good_at = arrived["good.test"]
    assert good["txt"]["status"] == "found" and good_at < 2, (good, good_at)
    slow, slow_at = arrived["blackhole.test"]
    # Unbound times the black hole out, or, once it has marked the server unresponsive (earlier tests
    # asked it too), answers SERVFAIL at once; either way good.test did not wait for it.
    assert slow["txt"]["error"]["kind"] in ("dns-timeout", "dns-servfail")
    if slow["txt"]["error"]["kind"] == "dns-timeout":
        assert slow_at > good_at


def test_questions_asked_one_at_a_time_are_each_answered_at_once():
    # Each question must wake the resolver's loop: one left in its queue would wait for the next.
    proc = start_stage("sts-dns", "--timeout", "5")
    try:
        for i in range(150):
            started = time.monotonic()
            proc.stdin.write(f"one{i}.flood.test\n")
            proc.stdin.flush()
            assert select.select([proc.stdout], [], [], 3)[0], f"question {i} got no answer within 3 s"
            record = json.loads(proc.stdout.readline())
            assert record["domain"] == f"one{i}.flood.test" and record["txt"]["status"] == "found", record
            assert time.monotonic() - started < 2, (i, record)
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


def test_each_question_times_out_at_its_own_deadline_while_others_keep_coming():
    # A silent resolver, questions arriving over 2 s: every one is answered dns-timeout a timeout after
    # it was asked, not when an earlier or later one expires.
    proc = start_stage("sts-dns", "--resolver", "127.0.0.3", "--timeout", "1", "--concurrency", "1000")
    sent = {}
    arrived = {}

    def feed():
        start = time.monotonic()
        for i in range(300):
            name = f"late{i}.flood.test"
            sent[name] = time.monotonic()
            proc.stdin.write(name + "\n")
            proc.stdin.flush()
            pause = start + (i + 1) / 150 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        proc.stdin.close()

    feeder = threading.Thread(target=feed)
    feeder.start()
    # Questions that never expire would keep the stage (and this test) waiting for ever.
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        for line in proc.stdout:
            record = json.loads(line)
            arrived[record["domain"]] = (record, time.monotonic())
        feeder.join()
        assert proc.wait(timeout=10) == 0
    finally:
        watchdog.cancel()
        proc.kill()
    assert len(arrived) == 300
    for name, (record, at) in arrived.items():
        assert record["txt"]["error"]["kind"] == "dns-timeout", record
        assert 0.9 < at - sent[name] < 1.8, (name, at - sent[name])


def test_hundreds_of_lookups_in_flight():
    domains = [("good.test", "other-txt.test", "nxdomain.test", "two-records.test")[i % 4] for i in range(400)]
    records = [{"domain": d, "id": i} for i, d in enumerate(domains)]
    run = run_stage("sts-dns", "--concurrency", "400", input=records, timeout=60)
    assert run.returncode == 0
    assert sorted(r["id"] for r in run.records) == list(range(400))
    expected = {"good.test": "found", "other-txt.test": "found", "nxdomain.test": "none", "two-records.test": "none"}
    for r in run.records:
        assert r["txt"]["status"] == expected[r["domain"]], r


def test_names_are_normalised_before_lookup():
    run = run_stage("sts-dns", "--ordered", input="GOOD.TEST.\nbücher.test\nGood.Test\n")
    assert [r["txt"]["status"] for r in run.records] == ["found", "found", "found"]
    assert run.records[1]["txt"]["id"] == "idn1"
    assert run.records[0]["domain"] == "GOOD.TEST.", "the caller's key is passed through untouched"


@pytest.mark.parametrize("bad", ["192.0.2.1", "[192.0.2.1]", "-bad.test", "a..test", "x" * 64 + ".test", "with space.test"])
def test_invalid_domains_are_error_records(bad):
    run = run_stage("sts-dns", input=[{"domain": bad, "id": "k"}])
    record = run.records[0]
    assert record["error"]["kind"] == "invalid-domain", record
    assert record["id"] == "k"
    assert "txt" not in record


def test_bad_lines_do_not_stop_the_stage():
    run = run_stage("sts-dns", "--ordered", input='{"domain": \n{"nodomain": 1}\ngood.test\n')
    assert run.returncode == 0
    assert run.records[0]["error"]["kind"] == "invalid-input"
    assert run.records[1]["error"]["kind"] == "invalid-input"
    assert run.records[2]["txt"]["status"] == "found"


def test_unknown_keys_and_id_pass_through():
    line = '{"id":{"job":7},"domain":"good.test","note":[1,2.50,null]}'
    run = run_stage("sts-dns", input=line + "\n")
    out = run.records[0]
    assert out["id"] == {"job": 7} and out["note"] == [1, 2.5, None]
    assert '"note":[1,2.50,null]' in run.lines[0]
    assert list(out)[:3] == ["id", "domain", "note"]


def test_dnssec_validation_with_a_trust_anchor():
    anchor = os.path.join(WORLD_DIR, "test.key")
    run = run_stage("sts-dns", "--ordered", "--trust-anchor", anchor, "--timeout", "8", input="good.test\nbogus.test\nnxdomain.test\n")
    good, bogus, nx = run.records
    assert good["txt"]["status"] == "found" and good["txt"]["dnssec"] == "secure"
    assert bogus["txt"]["status"] == "error"
    assert bogus["txt"]["error"]["kind"] in ("dns-bogus", "dns-servfail")
    assert nx["txt"]["reason"] == "nxdomain" and nx["txt"]["dnssec"] == "secure"


def test_unusable_resolver_is_a_clear_startup_error():
    run = run_stage("sts-dns", "--resolver", "not-an-address", input="good.test\n")
    assert run.returncode == 2
    assert run.stderr.startswith("sts-dns: ")
    assert "Traceback" not in run.stderr and "Fatal error" not in run.stderr


@pytest.mark.parametrize("anchor", ["missing.key", "garbage.key", "directory", "empty.key", "comments.key"])
def test_an_unusable_trust_anchor_is_refused_at_start(tmp_path, anchor):
    (tmp_path / "garbage.key").write_text("this is not a trust anchor\n")
    (tmp_path / "directory").mkdir()  # libunbound would spin on it for ever
    (tmp_path / "empty.key").write_text("")  # libunbound would validate nothing, silently
    (tmp_path / "comments.key").write_text("; test. DNSKEY ...\n$TTL 300\n\n")
    path = tmp_path / anchor
    run = run_stage("sts-dns", "--trust-anchor", str(path), input="good.test\n", timeout=20)
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout == "", "no record answered with an error: the stage does not start"
    assert "sts-dns: cannot use trust anchor" in run.stderr and str(path) in run.stderr, run.stderr


def test_loading_the_trust_anchor_at_start_asks_no_server():
    # The start-up question is answered by libunbound's own localhost. zone: a silent resolver does
    # not hold it up, and nothing is read means nothing is asked.
    run = run_stage("sts-dns", "--resolver", "127.0.0.3", "--trust-anchor", os.path.join(WORLD_DIR, "test.key"), input="")
    assert run.returncode == 0, run.stderr
    assert run.elapsed < 2
    assert run.stdout == ""


def test_a_bad_option_exits_64():
    run = run_stage("sts-dns", "--bogus-opt", input="")
    assert run.returncode == 64, "sts-dns(1): as sts-fetch and sts-cache"
    assert "Unknown option" in run.stderr


def test_a_found_policy_comes_with_its_policy_hosts_addresses():
    run = run_stage("sts-dns", "--ordered", input="good.test\nipv6.test\nnxdomain.test\nno-host.test\n")
    assert run.returncode == 0, run.stderr
    records = run.by_domain()
    assert records["good.test"]["policy_host"] == {"name": "mta-sts.good.test", "addresses": ["127.0.0.10"]}
    assert records["ipv6.test"]["policy_host"] == {"name": "mta-sts.ipv6.test", "addresses": ["::1"]}, "AAAA too"
    assert "policy_host" not in records["nxdomain.test"], "no policy, no lookup"
    # A TXT record but no address for the policy host: empty, and sts-fetch reports the failed lookup.
    assert records["no-host.test"]["txt"]["status"] == "found"
    assert records["no-host.test"]["policy_host"] == {"name": "mta-sts.no-host.test", "addresses": []}
    fetched = run_stage("sts-fetch", input=[records["no-host.test"]]).records[0]["fetch"]
    assert fetched["status"] == "error" and fetched["error"]["kind"] == "sts-policy-fetch-error", fetched
