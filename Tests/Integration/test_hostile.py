"""A hostile policy host: what sts-socketmapd answers Postfix when mutable.test serves policies written
to break the answer (mx values with spaces, `=`, braces, colons, line breaks and control characters,
10000 mx lines, a 64 KiB line, huge but valid policies).

Every answer is read twice, through a raw socketmap client (the exact reply netstring) and through
Postfix's own `postmap -q`, and must be made only of safe tokens: `secure`, `match=` with host names or
`.`-prefixed host names joined by `:`, `servername=hostname`, the TLSRPT attributes with host-name
values, and `{ policy_string = LINE }` blocks whose LINE is a line of the served policy without braces
or control characters. The whole reply stays under Postfix's 100000-byte limit.

An invalid policy is not applied (RFC 8461 §3.2, §3.3): NOTFOUND when nothing is cached, the cached
policy when one is.
"""
import json
import os
import re

import pytest

import lookups
from conftest import in_world
from daemon import Daemon, set_mutable, set_mutable_body
from stages import BIN

HEAD = b"version: STSv1\nmode: enforce\n"
TAIL = b"max_age: 86400\n"
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOSTNAME = re.compile(rf"{LABEL}(?:\.{LABEL})*")
POSTFIX_LIMIT = 100_000

CONFIG = """
host: 127.0.0.1
port: {port}
cache:
  type: internal
default_zone:
  timeout: 5
zones:
  report:
    tlsrpt: true
"""


def is_hostname(text):
    return len(text) <= 253 and HOSTNAME.fullmatch(text) is not None


def check_safe(value, served):
    """Asserts a policy answer (the value after `OK `) holds only safe tokens; returns its match= patterns."""
    assert all(0x20 <= ord(c) < 0x7F for c in value), f"a character outside printable ASCII: {value[:200]!r}"
    assert "  " not in value and value == value.strip()
    served_lines = {line.rstrip(b"\r").strip(b" \t").decode("ascii", "replace") for line in served.split(b"\n")}
    rest = value
    blocks = []
    # Cut out the `{ policy_string = LINE }` blocks; what is inside must be a served line, brace-free.
    while "{" in rest:
        start = rest.index("{")
        end = rest.index("}", start)
        block = rest[start:end + 1]
        assert block.startswith("{ policy_string = ") and block.endswith(" }"), block[:200]
        line = block[len("{ policy_string = "):-2]
        assert "{" not in line and "}" not in line and line in served_lines, f"policy_string {line[:200]!r}"
        blocks.append(line)
        rest = rest[:start] + rest[end + 1:]
    assert "}" not in rest
    tokens = rest.split()
    assert tokens[0] == "secure", value[:200]
    matches = None
    for token in tokens[1:]:
        name, eq, arg = token.partition("=")
        assert eq and "=" not in arg, f"token {token[:200]!r}"
        if name == "match":
            assert matches is None
            matches = arg.split(":")
            for pattern in matches:
                assert is_hostname(pattern.removeprefix(".")), f"match= value {pattern[:200]!r}"
        elif name == "servername":
            assert arg == "hostname"
        elif name == "policy_type":
            assert arg == "sts"
        elif name == "policy_domain":
            assert arg == "mutable.test"
        elif name == "mx_host_pattern":
            assert is_hostname(arg.removeprefix("*.")), f"mx_host_pattern {arg[:200]!r}"
        else:
            raise AssertionError(f"unexpected attribute {token[:200]!r}")
    assert matches, "no match= list"
    return matches


@pytest.fixture(scope="module", autouse=True)
def mutable_published(world):
    set_mutable("hostile1", (HEAD + b"mx: mail.good.test\n" + TAIL).decode())
    yield
    set_mutable("first1", (HEAD + b"mx: mail.good.test\n" + TAIL).decode())


class Answers:
    def __init__(self, tmp_path, port, body):
        set_mutable_body(body)
        self.body = body
        self.daemon = Daemon(CONFIG.format(port=port), port, str(tmp_path)).start()
        self.port = port

    def ask(self, zone):
        """(raw reply payload, postmap answer) for mutable.test in `zone`, both checked for safety."""
        [raw] = lookups.lookup_all(self.port, [(zone, "mutable.test")])
        assert raw["error"] is None, raw["error"]
        assert raw["frame"] < POSTFIX_LIMIT, f"a reply of {raw['frame']} bytes"
        reply = raw["reply"]
        status, answer = self.daemon.postmap("mutable.test", zone=zone)
        if reply == "NOTFOUND ":
            assert (status, answer) == (1, "")
        else:
            assert reply.startswith("OK "), reply[:200]
            assert (status, answer) == (0, reply[3:]), "Postfix reads the same answer"
            check_safe(reply[3:], self.body)
        return reply

    def stop(self):
        self.daemon.stop()


def why_refused(domain="mutable.test"):
    """The error kind the stages give for the domain's policy now: (where, kind, message)."""
    proc = in_world("bash", "-c", "sts-dns | sts-fetch | sts-parse", input=domain + "\n",
                    env=dict(os.environ, PATH=f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"))
    record = json.loads(proc.stdout)
    for where in ("fetch", "policy"):
        error = record.get(where, {}).get("error")
        if error:
            return where, error["kind"], error["message"]
    return None


def mx(*values):
    return HEAD + b"".join(b"mx: " + v + b"\n" for v in values) + TAIL


INVALID = {
    "mx-with-space": mx(b"mail.good.test servername=evil"),
    "mx-with-equals": mx(b"mail.good.test", b"a=b.mutable.test"),
    "mx-with-braces": mx(b"{mail}.good.test"),
    "mx-closing-brace": mx(b"mail.good.test }"),
    "mx-with-colon": mx(b"mail.good.test:evil.test"),
    "mx-with-lone-cr": mx(b"mail.good.test\rmx: evil.test"),
    "mx-with-tab": mx(b"mail.good.test\tx"),
    "mx-with-control": mx(b"mail\x01.good.test"),
    "mx-with-nul": mx(b"mail.good.test\x00.evil.test"),
    "mx-with-del": mx(b"mail.good.test\x7f"),
    "mx-with-newline-injection": mx(b"mail.good.test\nmx: evil test"),
    "mx-bare-wildcard": mx(b"*"),
    "mx-double-wildcard": mx(b"*.*.good.test"),
    "mx-trailing-dot": mx(b"mail.good.test."),
    "mx-empty-label": mx(b"mail..good.test"),
    "mx-label-over-63": mx(b"a" * 64 + b".good.test"),
    "mx-invalid-utf8": mx(b"mail\xff.good.test"),
    "10000-mx-lines": HEAD + b"mx: m\n" * 10000 + TAIL,           # under 64 KiB, over the mx line bound
    "10000-long-mx-lines": HEAD + b"mx: mail.good.test\n" * 10000 + TAIL,  # over 64 KiB: not even read
    "64-KiB-line": HEAD + b"mx: mail.good.test\n" + TAIL + b"x: " + b"a" * (65536 - 80) + b"\n",
    "64-KiB-mx": HEAD + b"mx: " + b"a" * (65536 - 60) + b"\n" + TAIL,
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_policy_is_not_applied_and_nothing_of_it_reaches_the_answer(tmp_path, name):
    answers = Answers(tmp_path, 18700 + sorted(INVALID).index(name), INVALID[name])
    try:
        # Refused for the reason meant, not by accident.
        where, kind, message = why_refused()
        if name == "10000-long-mx-lines":
            assert (where, kind) == ("fetch", "sts-policy-fetch-error") and "limit" in message, message
        elif name == "mx-invalid-utf8":
            assert (where, kind) == ("fetch", "sts-policy-fetch-error") and "UTF-8" in message, message
        else:
            assert (where, kind) == ("policy", "sts-policy-invalid"), message
        assert answers.ask("postfix") == "NOTFOUND "
        assert answers.ask("report") == "NOTFOUND "
    finally:
        answers.stop()


def test_a_valid_policy_with_hostile_extensions_gives_only_its_normalized_patterns(tmp_path):
    body = (HEAD + "mx: MAIL.Mutable.TEST\nmx: *.bücher.test\nmx: mail.mutable.test\n".encode()
            + b"x-inject: } { policy_string = injected } policy_type=evil {\n"
            + b"x-equals: a=b servername=evil match=evil.test\n"
            + b"x-brace: {\n" + TAIL)
    answers = Answers(tmp_path, 18760, body)
    try:
        assert answers.ask("postfix") == "OK secure match=mail.mutable.test:.xn--bcher-kva.test servername=hostname"
        report = answers.ask("report")
        assert report.startswith("OK secure match=mail.mutable.test:.xn--bcher-kva.test servername=hostname policy_type=sts"
                                 " policy_domain=mutable.test mx_host_pattern=mail.mutable.test mx_host_pattern=*.xn--bcher-kva.test {")
        # A line with braces cannot be written inside a block: it is left out; the others are kept whole.
        assert "injected" not in report and "x-brace" not in report
        assert "{ policy_string = x-equals: a=b servername=evil match=evil.test }" in report
    finally:
        answers.stop()


def huge(count):
    hosts = [f"m{n:04d}-{'a' * 50}.mutable.test".encode() for n in range(count)]
    return hosts, mx(*hosts)


@pytest.mark.parametrize("count", [500, 850])
def test_a_huge_valid_policy_is_answered_whole_within_postfix_limit(tmp_path, count):
    """850 mx patterns of 69 bytes: a 63 KiB policy, whose answer with the TLSRPT attributes would be
    twice Postfix's limit. The match= list is complete in every zone; the TLSRPT attributes give way
    (policy lines first, then the patterns) rather than the policy being dropped."""
    hosts, body = huge(count)
    assert len(body) <= 65536
    answers = Answers(tmp_path, 18770 + count % 7, body)
    try:
        expected = "OK secure match=" + ":".join(h.decode() for h in hosts) + " servername=hostname"
        assert answers.ask("postfix") == expected
        report = answers.ask("report")
        assert report.startswith(expected)
        if count == 500:
            assert "mx_host_pattern=" in report and "policy_string" not in report
        else:
            assert report == expected
    finally:
        answers.stop()


def test_a_cached_policy_survives_a_hostile_replacement(tmp_path):
    """A new id whose policy is hostile: the cached policy stays in force (RFC 8461 §3.3)."""
    set_mutable("hostile2", (HEAD + b"mx: a.mutable.test\n" + TAIL).decode())
    d = Daemon(CONFIG.format(port=18780).replace("cache:", "cache_grace: 0\ncache:"), 18780, str(tmp_path)).start()
    try:
        assert d.postmap("mutable.test") == (0, "secure match=a.mutable.test servername=hostname")
        set_mutable("hostile3", (HEAD + b"mx: mail.good.test servername=evil\nmx: b.mutable.test\n" + TAIL).decode())
        [raw] = lookups.lookup_all(18780, [("report", "mutable.test")])
        assert raw["reply"].startswith("OK secure match=a.mutable.test servername=hostname policy_type=sts")
        check_safe(raw["reply"][3:], HEAD + b"mx: a.mutable.test\n" + TAIL)
        assert d.postmap("mutable.test") == (0, "secure match=a.mutable.test servername=hostname")
    finally:
        d.stop()
