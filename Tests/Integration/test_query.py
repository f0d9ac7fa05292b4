"""sts-query end to end over the DNS and HTTPS test worlds: verdicts, Postfix answers, exit codes."""

import json
import os
import select
import signal
import subprocess
import time

import pytest

from stages import BIN, NETNS, binary, run_stage, start_stage

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


def test_a_line_too_long_for_a_name_gets_a_verdict_too():
    long = "x" * 5000 + ".test"
    run = run_stage("sts-query", "--json", "--ordered", input=f"good.test\n{long}\ncname.test\n")
    assert len(run.records) == 3, run.stderr
    assert [run.records[0]["domain"], run.records[2]["domain"]] == ["good.test", "cname.test"]
    assert run.records[1]["domain"] == "x" * 200, "reported by the start of the line"
    assert run.records[1]["verdict"]["outcome"] == "error"
    assert run.returncode == 3


@pytest.mark.parametrize("args", [("-v", "loud", "good.test"), ("--bogus-opt", "good.test"), ("--timeout", "0", "good.test"),
                                  ("a.test", "id1", "extra")])
def test_usage_errors_exit_2(args):
    # sts-query(1) and mta-sts-query (argparse): 2, not ArgumentParser's 64.
    run = run_stage("sts-query", *args)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("Error: ") and "Usage: sts-query" in run.stderr
    assert run.stdout == ""


def test_help_exits_0():
    run = run_stage("sts-query", "--help")
    assert run.returncode == 0 and "USAGE: sts-query" in run.stdout


MANY = "".join(f"d{i}.nxdomain.test\n" for i in range(12000))


@pytest.mark.parametrize("stage,args", [("sts-dns", ("--resolver", "notanip")), ("sts-fetch", ("--ca-file", "/nonexistent")),
                                        ("sts-dns", ("--trust-anchor", "/nonexistent"))])
@pytest.mark.parametrize("many", [False, True], ids=["one", "12000"])
def test_a_stage_that_cannot_start_exits_2_with_its_message(stage, args, many):
    # 0 would tell `sts-query example.com && echo protected` that all is well; with a long input the
    # first stage's death used to end sts-query at once, silently, with 0.
    run = run_stage("sts-query", *args, *([] if many else ["good.test"]), input=MANY if many else "", timeout=60)
    assert run.returncode == 2, run.stdout[:500] + run.stderr
    assert run.stderr.startswith(f"{stage}: "), run.stderr
    assert run.stdout == ""


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        pids = [int(p) for p in f.read().split()]
    return {open(f"/proc/{p}/comm").read().strip(): p for p in pids}


def test_a_stage_that_dies_mid_run_exits_3_and_names_it():
    proc = start_stage("sts-query", "--json")
    try:
        proc.stdin.write("slow.test\n")
        proc.stdin.flush()
        time.sleep(1.5)  # in sts-fetch: its policy host answers after 30 s
        os.kill(children(proc.pid)["sts-fetch"], signal.SIGKILL)
        # Standard input stays open (a terminal): the dead stage alone must end the run.
        assert proc.wait(timeout=10) == 3
        assert "sts-fetch stopped with status 137" in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


def test_results_come_out_when_ready_even_into_a_pipe():
    proc = start_stage("sts-query", "--json")
    try:
        proc.stdin.write("good.test\n")
        proc.stdin.flush()
        # Standard input is still open, so sts-query is still running: the line must not wait for its end.
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "the result was held back"
        assert json.loads(proc.stdout.readline())["verdict"]["outcome"] == "policy"
        assert proc.poll() is None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_output_that_cannot_be_written_is_a_failure():
    with open("/dev/full", "w") as full:
        proc = subprocess.run(["ip", "netns", "exec", NETNS, binary("sts-query"), "good.test"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    assert "sts-query: cannot write the output: No space left on device" in proc.stderr


def test_a_reader_that_goes_away_stops_it_soon_with_its_stages(tmp_path):
    domains = tmp_path / "domains.txt"
    domains.write_text("good.test\n" * 20000)
    start = time.monotonic()
    # capture_output: the shell's stderr stays open until the stages too are gone.
    proc = subprocess.run(["ip", "netns", "exec", NETNS, "bash", "-c",
                           f"{binary('sts-query')} --json < {domains} | head -1; echo ${{PIPESTATUS[0]}} >&2"],
                          capture_output=True, text=True, timeout=120, env=dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}"))
    elapsed = time.monotonic() - start
    assert json.loads(proc.stdout)["domain"] == "good.test"
    assert proc.stderr.strip() == "3", "not 0: not every domain was checked"
    assert elapsed < 10, f"took {elapsed:.1f} s"
