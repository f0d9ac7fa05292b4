"""sts-socketmapd answering real Postfix (postmap -q) over the DNS and HTTPS test worlds."""
import os
import signal
import threading
import time

import pytest

from daemon import Daemon

CONFIG = """
host: 127.0.0.1
port: {port}
cache_grace: {grace}
cache:
  type: sqlite
  options:
    filename: {workdir}/cache.db
default_zone:
  timeout: 8
zones:
  nosni:
    require_sni: false
  strict:
    strict_testing: true
  fast:
    timeout: 0.5
  report:
    tlsrpt: true
"""

GOOD = "secure match=mail.good.test:.mx.good.test servername=hostname"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("daemon"))
    d = Daemon(CONFIG.format(port=18461, grace=60, workdir=workdir), 18461, workdir).start()
    yield d
    d.stop()


@pytest.mark.parametrize("key", ["good.test", "GOOD.TEST", "good.test.", "[good.test]", "[good.test]:587", "good.test:587",
                                 "[good.test]:submission", "good.test:smtp"])
def test_key_forms_of_a_domain_with_a_policy(daemon, key):
    assert daemon.postmap(key) == (0, GOOD)


@pytest.mark.parametrize("key", [".good.test", "[127.0.0.1]", "127.0.0.1", "[ipv6:::1]", "nxdomain.test", "only-other.test",
                                 "two-records.test", "testing.test", "none.test", "invalid-policy.test", "notfound.test",
                                 "expired.test", "wrong-name.test", "cn-only.test", "untrusted.test", "redirect.test", "html.test",
                                 "oversize.test", "oversize-chunked.test", "refused.test", "servfail.test"])
def test_no_policy_answers(daemon, key):
    status, answer = daemon.postmap(key)
    assert (status, answer) == (1, ""), f"{key}: {answer}\n{daemon.log()[-2000:]}"


@pytest.mark.parametrize("domain", ["cname.test", "cname-chain.test", "crlf.test", "charset.test", "wildcard-cert.test", "small-chunked.test", "ipv6.test"])
def test_valid_policies_through_every_path(daemon, domain):
    status, answer = daemon.postmap(domain)
    assert status == 0, daemon.log()[-2000:]
    assert answer.startswith("secure match=") and answer.endswith(" servername=hostname")


def test_idn_key(daemon):
    assert daemon.postmap("bücher.test") == (0, GOOD)


def test_zone_without_sni(daemon):
    assert daemon.postmap("good.test", zone="nosni") == (0, "secure match=mail.good.test:.mx.good.test")


def test_strict_testing_zone_enforces_testing_policies(daemon):
    assert daemon.postmap("testing.test", zone="strict") == (0, "secure match=mail.testing.test servername=hostname")
    assert daemon.postmap("testing.test") == (1, "")


def test_unknown_zone_uses_default_zone(daemon):
    assert daemon.postmap("good.test", zone="whatever") == (0, GOOD)


def test_zones_take_the_built_in_defaults_not_the_default_zones_as_the_old_daemon(tmp_path):
    # default_zone enforces testing policies and drops servername; a zone that says neither gets the
    # built-in defaults (testing not enforced, servername added), a map name without a zone default_zone.
    config = f"""
host: 127.0.0.1
port: 18466
cache:
  type: internal
default_zone:
  strict_testing: true
  require_sni: false
  timeout: 8
zones:
  lax:
    timeout: 8
"""
    d = Daemon(config, 18466, str(tmp_path), args=["-v", "crit"]).start()
    try:
        assert d.postmap("testing.test", zone="lax") == (1, "")
        assert d.postmap("good.test", zone="lax") == (0, GOOD)
        assert d.postmap("testing.test", zone="other") == (0, "secure match=mail.testing.test")
        assert d.postmap("good.test") == (0, "secure match=mail.good.test:.mx.good.test")
    finally:
        d.stop()


def test_tlsrpt_zone(daemon):
    status, answer = daemon.postmap("good.test", zone="report")
    assert status == 0
    assert answer.startswith(GOOD + " policy_type=sts policy_domain=good.test mx_host_pattern=mail.good.test mx_host_pattern=*.mx.good.test")
    assert "{ policy_string = mode: enforce }" in answer


def test_time_budget_answers_in_time_and_fills_the_cache(daemon):
    started = time.monotonic()
    assert daemon.postmap("blackhole.test", zone="fast") == (1, "")
    assert time.monotonic() - started < 5


def test_a_killed_stage_does_not_break_lookups(daemon):
    assert daemon.postmap("good.test") == (0, GOOD)
    for pid in daemon.stage_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # the daemon already stopped it, having seen the first one die
    time.sleep(0.3)
    status, answer = daemon.postmap("cname.test")
    assert status in (0, 1)
    if status == 0:
        assert answer == GOOD
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and daemon.postmap("ext.test")[0] not in (0, 1):
        time.sleep(0.2)
    assert daemon.postmap("good.test") == (0, GOOD)


def test_cache_survives_a_restart(tmp_path):
    workdir = str(tmp_path)
    d = Daemon(CONFIG.format(port=18462, grace=3600, workdir=workdir), 18462, workdir).start()
    try:
        assert d.postmap("good.test") == (0, GOOD)
    finally:
        d.stop()
    # Within cache_grace the sqlite copy is served from memory after the restart, without any lookup.
    d2 = Daemon(CONFIG.format(port=18462, grace=3600, workdir=workdir), 18462, workdir).start()
    try:
        assert d2.postmap("good.test") == (0, GOOD)
        assert "from=cache" in d2.log()
    finally:
        d2.stop()


def test_sigterm_drains_and_exits(tmp_path):
    workdir = str(tmp_path)
    d = Daemon(CONFIG.format(port=18463, grace=60, workdir=workdir), 18463, workdir).start()
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0
    assert "stopped" in d.log()


def test_the_stages_are_reaped_before_the_daemon_exits(tmp_path):
    # A stage the daemon leaves behind is left to init, and the first process of a container may never
    # reap it: the daemon itself waits for its stages (killing those that do not finish) before it exits.
    workdir = str(tmp_path)
    d = Daemon(CONFIG.format(port=18467, grace=60, workdir=workdir), 18467, workdir).start()
    assert d.postmap("good.test") == (0, GOOD)
    # slow.test's policy host answers after 30 s: sts-fetch still holds it at the stop.
    threading.Thread(target=d.postmap, args=("slow.test",), daemon=True).start()
    time.sleep(1)
    stages = d.stage_pids()
    assert len(stages) == 3, stages
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0
    left = [pid for pid in stages if os.path.exists(f"/proc/{pid}")]
    assert left == [], f"stages not reaped: {left}"


def policy(mode, *mx):
    return "\n".join(["version: STSv1", f"mode: {mode}", *[f"mx: {m}" for m in mx], "max_age: 600"])


def test_policy_changes_are_followed(tmp_path):
    from daemon import set_mutable
    set_mutable("v1", policy("enforce", "a.mutable.test"))
    workdir = str(tmp_path)
    d = Daemon(CONFIG.format(port=18464, grace=1, workdir=workdir), 18464, workdir).start()
    try:
        assert d.postmap("mutable.test") == (0, "secure match=a.mutable.test servername=hostname")

        # A new id is fetched.
        set_mutable("v2", policy("enforce", "b.mutable.test", "*.mutable.test"))
        assert d.postmap("mutable.test") == (0, "secure match=b.mutable.test:.mutable.test servername=hostname")

        # A new id whose policy cannot be fetched: the cached policy is still served (never TEMP).
        set_mutable("v3", None)
        assert d.postmap("mutable.test") == (0, "secure match=b.mutable.test:.mutable.test servername=hostname")

        # The TXT record disappears: the cached policy is not evicted.
        set_mutable(None, policy("enforce", "c.mutable.test"))
        assert d.postmap("mutable.test") == (0, "secure match=b.mutable.test:.mutable.test servername=hostname")

        # A fetched mode none replaces the cached policy at once.
        set_mutable("v4", policy("none"))
        assert d.postmap("mutable.test") == (1, "")
    finally:
        d.stop()
        set_mutable("first1", policy("enforce", "mail.good.test"))


def test_proactive_refresh_fetches_cached_policies_before_they_expire(tmp_path):
    from daemon import set_mutable
    set_mutable("p1", policy("enforce", "a.mutable.test"))
    workdir = str(tmp_path)
    config = CONFIG.format(port=18465, grace=3600, workdir=workdir) + "proactive_policy_fetching:\n  enabled: true\n  interval: 2\n  grace_ratio: 1000\n"
    d = Daemon(config, 18465, workdir).start()
    try:
        assert d.postmap("mutable.test") == (0, "secure match=a.mutable.test servername=hostname")
        # The domain edits its policy without a new id; within cache_grace lookups come from the cache,
        # so only the background refresh can bring the edit in.
        set_mutable("p1", policy("enforce", "b.mutable.test"))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and d.postmap("mutable.test")[1] != "secure match=b.mutable.test servername=hostname":
            time.sleep(0.5)
        assert d.postmap("mutable.test") == (0, "secure match=b.mutable.test servername=hostname")
        assert "proactive refresh" in d.log()
    finally:
        d.stop()
        set_mutable("first1", policy("enforce", "mail.good.test"))
