"""sts-fetch against the real HTTPS world (nginx, test CA) and, for what nginx cannot do, the policy
hosts and CONNECT proxy of fetch_helper.py: RFC 8461 §3.3, every case over real TLS."""
import json
import os
import re
import subprocess
import time

import pytest

from stages import NETNS, WORLD_DIR, binary, run_stage, start_stage, thread_names

HERE = os.path.dirname(os.path.abspath(__file__))
GOOD_BODY = "version: STSv1\nmode: enforce\nmx: mail.good.test\nmx: *.mx.good.test\nmax_age: 86400\n"
HELPER_BODY = "version: STSv1\nmode: enforce\nmx: mail.fetch.test\nmax_age: 86400\n"


def found(domain, **extra):
    return {"domain": domain, "txt": {"status": "found", "id": "x1"}, **extra}


def fetch_in_shell(environment, *args, input=()):
    """sts-fetch with extra environment variables (a proxy), inside the world."""
    command = " ".join([*environment, "sts-fetch", *args])
    run = run_stage("bash", "-c", command, input=list(input))
    assert run.returncode == 0, run.stderr
    return run


# --- the world's policy hosts --------------------------------------------------------------------

@pytest.fixture(scope="module")
def fetched():
    domains = ["good.test", "wildcard-cert.test", "crlf.test", "charset.test", "small-chunked.test", "ipv6.test", "xn--bcher-kva.test",
               "wrong-name.test", "cn-only.test", "expired.test", "untrusted.test", "redirect.test", "notfound.test", "html.test",
               "oversize.test", "oversize-chunked.test", "refused.test", "nothere.test"]
    run = run_stage("sts-fetch", "--ordered", input=[found(d) for d in domains])
    assert run.returncode == 0, run.stderr
    assert [r["domain"] for r in run.records] == domains
    return {r["domain"]: r["fetch"] for r in run.records}


@pytest.mark.parametrize("domain", ["good.test", "wildcard-cert.test", "small-chunked.test", "ipv6.test", "xn--bcher-kva.test"])
def test_valid_policy_hosts(fetched, domain):
    fetch = fetched[domain]
    assert fetch["status"] == "ok", fetch
    assert fetch["http_status"] == 200
    assert fetch["content_type"] == "text/plain"
    assert fetch["body"] == GOOD_BODY
    assert fetch["bytes"] == len(GOOD_BODY)
    assert fetch["url"] == f"https://mta-sts.{domain}/.well-known/mta-sts.txt"
    assert set(fetch["timings_ms"]) == {"dns", "connect", "tls", "total"}
    assert 0 < fetch["timings_ms"]["tls"] <= fetch["timings_ms"]["total"]
    assert "error" not in fetch


def test_the_address_connected_to(fetched):
    assert fetched["good.test"]["ip"] == "127.0.0.10"
    assert fetched["ipv6.test"]["ip"] == "::1"


def test_crlf_body_is_passed_as_is(fetched):
    assert fetched["crlf.test"]["status"] == "ok"
    assert fetched["crlf.test"]["body"] == "version: STSv1\r\nmode: enforce\r\nmx: mail.crlf.test\r\nmax_age: 86400\r\n"


def test_content_type_parameters_are_allowed(fetched):
    assert fetched["charset.test"]["status"] == "ok"
    assert fetched["charset.test"]["content_type"] == "text/plain;charset=utf-8"
    assert fetched["charset.test"]["body"] == GOOD_BODY


@pytest.mark.parametrize("domain,reason,detail", [
    # OpenSSL's own host check (DNS-IDs only) refuses the name during the handshake, before libcurl's.
    ("wrong-name.test", "name-mismatch", "SSL certificate problem: hostname mismatch"),
    # mta-sts.cn-only.test only as the subject's CN, no subjectAltName: RFC 8461 §3.3 (RFC 6125 DNS-ID).
    ("cn-only.test", "name-mismatch", "SSL certificate problem: hostname mismatch"),
    ("expired.test", "expired", "certificate has expired"),
    ("untrusted.test", "untrusted", "unable to get local issuer certificate")])
def test_certificate_problems_are_webpki_errors(fetched, domain, reason, detail):
    fetch = fetched[domain]
    assert fetch["status"] == "error"
    assert fetch["error"]["kind"] == "sts-webpki-invalid"
    assert fetch["error"]["reason"] == reason
    assert f"mta-sts.{domain}" in fetch["error"]["message"] and detail in fetch["error"]["message"]
    assert "body" not in fetch and "http_status" not in fetch


@pytest.mark.parametrize("domain,reason,status,message", [
    ("redirect.test", "redirect", 301, "HTTP 301 redirect to https://mta-sts.good.test/.well-known/mta-sts.txt; redirects are not followed"),
    ("notfound.test", "http-status", 404, "HTTP status 404; only 200 is accepted"),
    ("html.test", "content-type", 200, 'media type "text/html"; the policy must be text/plain'),
    ("oversize.test", "too-large", 200, "the policy's Content-Length is "),
    ("oversize-chunked.test", "too-large", 200, "the policy is over the 65536-byte limit: stopped after"),
    ("refused.test", "connect", None, "cannot connect to mta-sts.refused.test"),
    ("nothere.test", "dns", None, "the policy host mta-sts.nothere.test does not resolve")])
def test_fetch_errors(fetched, domain, reason, status, message):
    fetch = fetched[domain]
    assert fetch["status"] == "error", fetch
    assert fetch["error"]["kind"] == "sts-policy-fetch-error"
    assert fetch["error"]["reason"] == reason, fetch
    assert fetch["error"]["message"].startswith(message), fetch["error"]["message"]
    assert fetch.get("http_status") == status
    assert "body" not in fetch and "bytes" not in fetch


def test_a_declared_oversize_body_is_refused_unread(fetched):
    assert re.fullmatch(r"the policy's Content-Length is (\d+) bytes, over the 65536-byte limit; not read", fetched["oversize.test"]["error"]["message"])
    assert int(re.search(r"\d+", fetched["oversize.test"]["error"]["message"]).group()) > 65536


def test_a_slow_host_times_out_and_does_not_hold_back_the_others():
    proc = start_stage("sts-fetch", "--timeout", "3")
    started = time.monotonic()
    proc.stdin.write(json.dumps(found("slow.test")) + "\n" + json.dumps(found("good.test")) + "\n")
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    first_at = time.monotonic() - started
    # End of input with a fetch in flight: it is finished, written, and the stage exits 0.
    proc.stdin.close()
    second = json.loads(proc.stdout.readline())
    assert proc.wait(timeout=10) == 0
    assert first["domain"] == "good.test" and first["fetch"]["status"] == "ok"
    assert first_at < 1.5
    assert second["domain"] == "slow.test"
    assert second["fetch"]["error"]["reason"] == "timeout"
    assert second["fetch"]["error"]["message"].startswith("mta-sts.slow.test sent no answer within 3 s (Operation timed out after")
    assert 2.9 < time.monotonic() - started < 6


def test_hundreds_of_fetches_in_flight_and_slow_ones_hold_back_none():
    records = [found("slow.test" if i % 6 == 5 else "good.test", id=i) for i in range(300)]
    proc = start_stage("sts-fetch", "--concurrency", "300", "--timeout", "4")
    started = time.monotonic()
    proc.stdin.write("".join(json.dumps(r) + "\n" for r in records))
    proc.stdin.close()
    arrivals = []
    for line in proc.stdout:
        arrivals.append((time.monotonic() - started, json.loads(line)))
    assert proc.wait(timeout=10) == 0
    assert len(arrivals) == 300
    good = [(t, r) for t, r in arrivals if r["domain"] == "good.test"]
    slow = [(t, r) for t, r in arrivals if r["domain"] == "slow.test"]
    assert len(good) == 250 and len(slow) == 50
    assert all(r["fetch"]["status"] == "ok" for _, r in good)
    assert all(r["fetch"]["error"]["reason"] == "timeout" for _, r in slow)
    # Every good answer is out before the slow ones time out, and all slow ones time out together.
    assert max(t for t, _ in good) < 3.5
    assert arrivals[:250] == good
    assert 3.9 < min(t for t, _ in slow) and max(t for t, _ in slow) < 6.5
    assert sorted(r["id"] for _, r in arrivals) == list(range(300))


def curl_loop_threads(pid):
    return thread_names(pid, "sts-curl-")


def test_threads_run_that_many_libcurl_loops_and_every_loop_fetches():
    proc = start_stage("sts-fetch", "--threads", "3", "--concurrency", "200")
    try:
        # The loops start with the stage, before any input.
        deadline = time.monotonic() + 5
        while curl_loop_threads(proc.pid) != ["sts-curl-1", "sts-curl-2", "sts-curl-3"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert curl_loop_threads(proc.pid) == ["sts-curl-1", "sts-curl-2", "sts-curl-3"]
        # Transfers are handed to the loops in turn: a loop that did not fetch would keep a third of them.
        domains = ["good.test", "wildcard-cert.test", "crlf.test", "charset.test", "expired.test", "redirect.test"]
        records = [found(domains[i % len(domains)], id=i) for i in range(120)]
        proc.stdin.write("".join(json.dumps(r) + "\n" for r in records))
        proc.stdin.close()
        results = [json.loads(line) for line in proc.stdout]
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    assert sorted(r["id"] for r in results) == list(range(120))
    for r in results:
        if r["domain"] in ("expired.test", "redirect.test"):
            assert r["fetch"]["status"] == "error", r
        else:
            assert r["fetch"]["status"] == "ok", r


@pytest.mark.parametrize("cpus", [None, "0"])
def test_the_default_is_one_thread_per_core_the_stage_may_run_on_at_most_four(cpus):
    # Under taskset the stage may use one core only, whatever the machine has: one loop.
    argv = ["ip", "netns", "exec", NETNS, *(["taskset", "-c", cpus] if cpus else []), binary("sts-fetch")]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    expected = 1 if cpus else min(len(os.sched_getaffinity(0)), 4)
    try:
        deadline = time.monotonic() + 5
        while len(curl_loop_threads(proc.pid)) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # none more comes
        assert curl_loop_threads(proc.pid) == [f"sts-curl-{i}" for i in range(1, expected + 1)]
    finally:
        proc.kill()
        proc.wait()


def test_the_verdicts_do_not_depend_on_the_number_of_threads(fetched):
    def verdicts(threads):
        run = run_stage("sts-fetch", "--ordered", "--threads", threads, input=[found(d) for d in fetched])
        assert run.returncode == 0, run.stderr
        # Timings differ from run to run (also in libcurl's "after N ms"); everything else is the verdict.
        return {r["domain"]: re.sub(r"\d+ ms", "N ms", json.dumps({k: v for k, v in r["fetch"].items() if k != "timings_ms"}, sort_keys=True))
                for r in run.records}
    one = verdicts("1")
    assert one == verdicts("4")
    assert json.loads(one["good.test"])["status"] == "ok" and json.loads(one["expired.test"])["error"]["reason"] == "expired"


@pytest.mark.parametrize("threads", ["0", "65", "-1"])
def test_a_thread_count_out_of_range_is_refused(threads):
    run = run_stage("sts-fetch", f"--threads={threads}", input=[found("good.test")])
    assert run.returncode == 64  # bad command-line options, as sts-fetch(1) says
    assert "--threads must be between 1 and 64" in run.stderr and run.stdout == ""


# --- skip rules and the record contract ----------------------------------------------------------

def test_records_without_a_policy_to_fetch_pass_through_untouched():
    lines = ['{"domain":"good.test","txt":{"status":"none","reason":"nxdomain"}}',
             '{"domain":"good.test"}',
             '{"domain":"good.test","txt":{"status":"error","error":{"kind":"dns-servfail","message":"x"}}}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"fetch":{"status":"ok","body":"kept"}}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"cache":{"policy_id":"x1","fresh":true}}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"cache":{"backoff_id":"x1"}}',
             '{"domain":"good.test","txt":{"status":"found","id":"x1"},"error":{"kind":"invalid-input","message":"upstream"}}']
    run = run_stage("sts-fetch", "--ordered", input="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    assert run.lines == lines


def test_a_stale_or_other_cached_id_is_fetched():
    records = [found("good.test", cache={"policy_id": "x1", "fresh": False}), found("good.test", cache={"policy_id": "old", "fresh": True}),
               found("good.test", cache={"backoff_id": "old"})]
    run = run_stage("sts-fetch", "--ordered", input=records)
    assert [r["fetch"]["status"] for r in run.records] == ["ok", "ok", "ok"]
    assert [r["cache"] for r in run.records] == [r["cache"] for r in records]


def test_unknown_keys_and_id_pass_through_in_order():
    line = '{"id":{"n":1.50},"note":"keep","domain":"GOOD.test.","txt":{"status":"found","id":"x1","ttl":300},"z":[1,null]}'
    run = run_stage("sts-fetch", input=line + "\n")
    assert run.returncode == 0, run.stderr
    # Every key as it came, in its place, numbers as written; `fetch` added at the end.
    assert run.lines[0].startswith(line[:-1] + ',"fetch":{"status":"ok","url":"https://mta-sts.good.test/.well-known/mta-sts.txt"')


def test_bad_records_get_an_error_and_the_stage_goes_on():
    run = run_stage("sts-fetch", "--ordered", input='{"domain":"bad domain","txt":{"status":"found","id":"x1"}}\n{oops\n'
                    + json.dumps(found("good.test")) + "\n")
    assert run.returncode == 0, run.stderr
    bad_domain, bad_line, good = run.records
    assert bad_domain["error"]["kind"] == "invalid-domain" and "fetch" not in bad_domain
    assert bad_line["error"]["kind"] == "invalid-input"
    assert good["fetch"]["status"] == "ok"


# --- trust store options -------------------------------------------------------------------------

def test_own_ca_file_replaces_the_system_store():
    # With only the untrusted CA, the good host's certificate (from the test CA) is refused.
    run = run_stage("sts-fetch", "--ordered", "--ca-file", f"{WORLD_DIR}/certs/untrusted-ca.crt", input=[found("good.test"), found("untrusted.test")])
    assert run.records[0]["fetch"]["error"]["reason"] == "untrusted"
    assert run.records[1]["fetch"]["status"] == "ok"


@pytest.mark.parametrize("ca,good,untrusted", [("ca.crt", "ok", "error"), ("untrusted-ca.crt", "error", "ok")])
def test_own_ca_directory_replaces_the_system_store(tmp_path, ca, good, untrusted):
    directory = tmp_path / "cas"
    directory.mkdir()
    (directory / "only.pem").write_bytes(open(f"{WORLD_DIR}/certs/{ca}", "rb").read())
    subprocess.run(["openssl", "rehash", str(directory)], check=True, capture_output=True)
    run = run_stage("sts-fetch", "--ordered", "--ca-path", str(directory), input=[found("good.test"), found("untrusted.test")])
    assert [r["fetch"]["status"] for r in run.records] == [good, untrusted]


def test_an_unreadable_ca_file_stops_the_command_at_once():
    run = run_stage("sts-fetch", "--ca-file", "/nonexistent/ca.pem", input=[found("good.test")])
    assert run.returncode == 2
    assert run.stderr == "sts-fetch: cannot read the CA file /nonexistent/ca.pem\n"
    assert run.stdout == ""


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--connect-timeout", "-1"], ["--timeout", "601"]])
def test_bad_timeouts_are_refused(args):
    run = run_stage("sts-fetch", *args, input=[found("good.test")])
    assert run.returncode != 0 and "timeout" in run.stderr and run.stdout == ""


# --- fetch_helper.py: the policy hosts nginx cannot be, behind a CONNECT proxy ---------------------

@pytest.fixture(scope="module")
def helper(tmp_path_factory):
    directory = tmp_path_factory.mktemp("fetch-helper")
    proc = subprocess.Popen(["ip", "netns", "exec", NETNS, "python3", os.path.join(HERE, "fetch_helper.py"), str(directory)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    info["dir"] = directory
    yield info
    proc.stdin.close()
    proc.wait(timeout=10)


def connects(helper):
    path = helper["dir"] / "connects.log"
    return path.read_text().splitlines() if path.exists() else []


HELPER_CASES = {
    # route: (status, reason, kind, http_status, message start)
    "valid": ("ok", None, None, 200, None),
    "exact-limit": ("ok", None, None, 200, None),
    "self-signed": ("error", "self-signed", "sts-webpki-invalid", None,
                    "the certificate of mta-sts.self-signed.fetch.test is self-signed (SSL certificate problem: self-signed certificate)"),
    "not-yet-valid": ("error", "not-yet-valid", "sts-webpki-invalid", None,
                      "the certificate of mta-sts.not-yet-valid.fetch.test is not valid yet (SSL certificate problem: certificate is not yet valid)"),
    "stranger-chain": ("error", "untrusted", "sts-webpki-invalid", None,
                       "the certificate of mta-sts.stranger-chain.fetch.test does not chain to a trusted root (SSL certificate problem: self-signed certificate in certificate chain)"),
    "over-by-one": ("error", "too-large", "sts-policy-fetch-error", 200,
                    "the policy's Content-Length is 65537 bytes, over the 65536-byte limit; not read"),
    "chunked-stall": ("error", "too-large", "sts-policy-fetch-error", 200, "the policy is over the 65536-byte limit: stopped after"),
    "close-delimited": ("error", "too-large", "sts-policy-fetch-error", 200, "the policy is over the 65536-byte limit: stopped after"),
    "not-utf8": ("error", "encoding", "sts-policy-fetch-error", 200, "the policy (77 bytes) is not UTF-8: invalid byte 0xE9 at offset 75"),
    "no-type": ("error", "content-type", "sts-policy-fetch-error", 200, "no Content-Type; the policy must be text/plain"),
    "found": ("error", "redirect", "sts-policy-fetch-error", 302,
              "HTTP 302 redirect to https://mta-sts.valid.fetch.test/.well-known/mta-sts.txt; redirects are not followed"),
    "not-modified": ("error", "http-status", "sts-policy-fetch-error", 304, "HTTP status 304; only 200 is accepted"),
    "empty": ("error", "protocol", "sts-policy-fetch-error", None, "the transfer from mta-sts.empty.fetch.test failed (Empty reply from server)"),
    "tls11": ("error", "tls", "sts-policy-fetch-error", None, "the TLS handshake with mta-sts.tls11.fetch.test failed"),
    "plain": ("error", "tls", "sts-policy-fetch-error", None, "the TLS handshake with mta-sts.plain.fetch.test failed"),
    "stall-handshake": ("error", "timeout", "sts-policy-fetch-error", None,
                        "no TLS connection to mta-sts.stall-handshake.fetch.test within 2 s"),
}


@pytest.fixture(scope="module")
def helped(helper):
    # A total timeout far above the connect timeout: the stalled bodies end quickly only if the
    # limit is enforced while they arrive, the stalled handshake only by the connect timeout.
    run = fetch_in_shell([f"https_proxy={helper['proxy']}"], "--ordered", "--ca-file", helper["ca"], "--connect-timeout", "2", "--timeout", "20",
                         input=[found(f"{route}.fetch.test") for route in HELPER_CASES])
    return run


@pytest.mark.parametrize("route", list(HELPER_CASES))
def test_helper_policy_hosts(helped, route):
    status, reason, kind, http_status, message = HELPER_CASES[route]
    fetch = {r["domain"]: r["fetch"] for r in helped.records}[f"{route}.fetch.test"]
    assert fetch["status"] == status, fetch
    assert fetch.get("http_status") == http_status
    if status == "ok":
        assert "error" not in fetch
        return
    assert fetch["error"]["reason"] == reason and fetch["error"]["kind"] == kind
    assert fetch["error"]["message"].startswith(message), fetch["error"]["message"]
    assert "body" not in fetch


def test_stalled_transfers_end_at_the_limit_and_the_connect_timeout(helped):
    # Two bodies stall for a minute and a handshake never ends: the connect timeout (2 s) bounds it all.
    assert helped.elapsed < 6


def test_a_body_of_exactly_the_limit_is_accepted(helped):
    fetch = {r["domain"]: r["fetch"] for r in helped.records}["exact-limit.fetch.test"]
    assert fetch["bytes"] == 65536 == len(fetch["body"].encode())
    assert fetch["body"].startswith(HELPER_BODY)


def test_the_request_is_a_plain_get_with_our_user_agent_and_no_cache(helped, helper):
    requests = [json.loads(line) for line in (helper["dir"] / "requests.log").read_text().splitlines()]
    valid = next(r for r in requests if r["route"] == "valid")
    assert valid["request"] == "GET /.well-known/mta-sts.txt HTTP/1.1"
    assert valid["headers"]["host"] == "mta-sts.valid.fetch.test"
    assert valid["headers"]["user-agent"].startswith("sts-fetch/") and "MTA-STS" in valid["headers"]["user-agent"]
    assert valid["headers"]["cache-control"] == "no-cache"
    assert not {"if-modified-since", "if-none-match", "cookie", "authorization"} & set(valid["headers"])


def test_user_agent_option(helper):
    run = fetch_in_shell([f"https_proxy={helper['proxy']}"], "--ca-file", helper["ca"], "--user-agent", "'audit/2 (ops@example.net)'",
                         input=[found("valid.fetch.test", marker="ua")])
    assert run.records[0]["fetch"]["status"] == "ok"
    requests = [json.loads(line) for line in (helper["dir"] / "requests.log").read_text().splitlines()]
    assert requests[-1]["headers"]["user-agent"] == "audit/2 (ops@example.net)"


# --- proxies from the environment ----------------------------------------------------------------

@pytest.mark.parametrize("variable", ["https_proxy", "HTTPS_PROXY"])
def test_https_proxy_from_the_environment_is_used(helper, variable):
    before = len(connects(helper))
    run = fetch_in_shell([f"{variable}={helper['proxy']}"], "--ordered", input=[found("good.test"), found("expired.test")])
    good, expired = run.records
    assert good["fetch"]["status"] == "ok" and good["fetch"]["body"] == GOOD_BODY
    assert good["fetch"]["ip"] == "127.0.0.1"  # the proxy's address
    # The certificate is still checked end to end through the tunnel.
    assert expired["fetch"]["error"]["reason"] == "expired"
    assert sorted(connects(helper)[before:]) == ["mta-sts.expired.test:443", "mta-sts.good.test:443"]


def test_no_proxy_bypasses_the_proxy(helper):
    before = len(connects(helper))
    run = fetch_in_shell([f"https_proxy={helper['proxy']}", "no_proxy=mta-sts.good.test"], "--ordered",
                         input=[found("good.test"), found("charset.test")])
    assert [r["fetch"]["status"] for r in run.records] == ["ok", "ok"]
    assert run.records[0]["fetch"]["ip"] == "127.0.0.10"
    assert connects(helper)[before:] == ["mta-sts.charset.test:443"]


def test_proxy_failures_are_connect_errors(helper):
    refused = fetch_in_shell([f"https_proxy={helper['proxy']}"], input=[found("denied.fetch.test")]).records[0]["fetch"]
    assert refused["error"]["reason"] == "connect"
    assert refused["error"]["message"] == "the proxy refused the tunnel to mta-sts.denied.fetch.test: HTTP 403"
    unreachable = fetch_in_shell(["https_proxy=http://127.0.0.4:3128"], input=[found("good.test")]).records[0]["fetch"]
    assert unreachable["error"]["kind"] == "sts-policy-fetch-error" and unreachable["error"]["reason"] == "connect"
    unresolvable = fetch_in_shell(["https_proxy=http://proxy.nothere.test:3128"], input=[found("good.test")]).records[0]["fetch"]
    assert unresolvable["error"]["reason"] == "dns" and "proxy" in unresolvable["error"]["message"]


# --- with the other stages -----------------------------------------------------------------------

def test_whole_pipeline_from_a_shell():
    run = run_stage("bash", "-c", "printf 'good.test\\nnxdomain.test\\nexpired.test\\n' | sts-dns --ordered | sts-fetch --ordered | sts-parse --ordered")
    assert run.returncode == 0, run.stderr
    good, nx, expired = run.records
    assert good["txt"]["id"] == "20240101000000" and good["fetch"]["status"] == "ok"
    assert good["policy"]["mode"] == "enforce" and good["policy"]["mx"] == ["mail.good.test", "*.mx.good.test"]
    assert nx["txt"]["reason"] == "nxdomain" and "fetch" not in nx and "policy" not in nx
    assert expired["fetch"]["error"]["kind"] == "sts-webpki-invalid" and "policy" not in expired


# --- addresses from sts-dns ----------------------------------------------------------------------

def test_the_addresses_sts_dns_found_are_where_sts_fetch_connects():
    records = [
        # Where nothing listens: the fetch fails, so these addresses, not DNS's, were used.
        found("good.test", policy_host={"name": "mta-sts.good.test", "addresses": ["127.0.0.4"]}),
        # nginx over IPv6 for a name whose DNS has only an IPv4 address; the certificate still matches.
        found("wildcard-cert.test", policy_host={"name": "mta-sts.wildcard-cert.test", "addresses": ["::1"]}),
        # Not address literals, or for another name: ignored, libcurl looks the host up itself.
        found("crlf.test", policy_host={"name": "mta-sts.crlf.test", "addresses": ["mta-sts.evil.test", "127.0.0.10:80", "[::1]"]}),
        found("charset.test", policy_host={"name": "mta-sts.other.test", "addresses": ["127.0.0.4"]}),
    ]
    run = run_stage("sts-fetch", "--ordered", input=records)
    assert run.returncode == 0, run.stderr
    fetched = {r["domain"]: r["fetch"] for r in run.records}
    assert fetched["good.test"]["status"] == "error"
    assert fetched["good.test"]["error"]["kind"] == "sts-policy-fetch-error", fetched["good.test"]
    assert fetched["wildcard-cert.test"]["status"] == "ok", fetched["wildcard-cert.test"]
    assert fetched["wildcard-cert.test"]["ip"] == "::1"
    assert fetched["crlf.test"]["status"] == "ok", fetched["crlf.test"]
    assert fetched["charset.test"]["status"] == "ok", fetched["charset.test"]


def test_addresses_given_for_one_record_do_not_stay_for_the_next_of_the_same_host():
    # libcurl keeps the first record's addresses in its DNS cache for a while; the second record has
    # none, so the host is looked up (and found on nginx) rather than sent where the first one went.
    records = [
        found("good.test", n=1, policy_host={"name": "mta-sts.good.test", "addresses": ["127.0.0.4"]}),
        found("good.test", n=2),
        found("good.test", n=3, policy_host={"name": "mta-sts.good.test", "addresses": []}),
    ]
    run = run_stage("sts-fetch", "--ordered", "--concurrency", "1", input=records)
    assert run.returncode == 0, run.stderr
    assert [r["fetch"]["status"] for r in run.records] == ["error", "ok", "ok"], run.records
    assert run.records[1]["fetch"]["ip"] == "127.0.0.10"
