"""sts-parse as a user runs it: the stage over records, and --file on a local policy."""
import json

import pytest

from stages import run_stage

GOOD = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n"


def test_stage_adds_the_validated_policy():
    record = {"id": 1, "domain": "example.com", "fetch": {"status": "ok", "body": GOOD}}
    run = run_stage("sts-parse", input=[record], netns=None)
    policy = run.records[0]["policy"]
    assert policy == {
        "status": "valid",
        "version": "STSv1",
        "mode": "enforce",
        "max_age": 604800,
        "mx": ["mail.example.com", "*.example.net"],
        "lines": ["version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net", "max_age: 604800"],
    }
    assert run.records[0]["id"] == 1


def test_stage_reports_the_failed_rule():
    body = GOOD.replace("604800", "31557601")
    run = run_stage("sts-parse", input=[{"domain": "example.com", "fetch": {"body": body}}], netns=None)
    policy = run.records[0]["policy"]
    assert policy["status"] == "error"
    assert policy["error"]["kind"] == "sts-policy-invalid"
    assert "max_age" in policy["error"]["message"]


def test_records_without_a_body_pass_through_untouched():
    lines = ['{"domain":"a.example","txt":{"status":"none","reason":"nxdomain"}}', '{"domain":"b.example","fetch":{"status":"error"}}']
    run = run_stage("sts-parse", "--ordered", input="\n".join(lines) + "\n", netns=None)
    assert run.lines == lines


@pytest.mark.parametrize("body,ok", [(GOOD, True), (GOOD.replace("\n", "\r\n"), True), ("version: STSv1\nmode: none\nmax_age: 86400\n", True), (GOOD.replace("enforce", "Enforce"), False), ("", False)])
def test_file_mode_exit_status(tmp_path, body, ok):
    path = tmp_path / "mta-sts.txt"
    path.write_bytes(body.encode())
    run = run_stage("sts-parse", "--file", str(path), netns=None)
    assert run.returncode == (0 if ok else 1), run.stderr
    out = json.loads(run.stdout)
    assert out["file"] == str(path)
    assert out["policy"]["status"] == ("valid" if ok else "error")
    if not ok:
        assert run.stderr.startswith("sts-parse: ")


def test_file_mode_rejects_more_than_64_kib(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes((GOOD + "x" * 70000 + "\n").encode())
    run = run_stage("sts-parse", "--file", str(path), netns=None)
    assert run.returncode == 1


def test_file_mode_missing_file_is_a_usage_error(tmp_path):
    run = run_stage("sts-parse", "--file", str(tmp_path / "absent.txt"), netns=None)
    assert run.returncode == 2
    assert "cannot open" in run.stderr
