"""sts-socketmapd over the shared stores of the old daemon's config: redis, redis sentinel and
PostgreSQL, real servers each. A policy learnt by one daemon is served by the next from the store."""
import json
import os
import signal
import time

import pytest

import lookups

from cacheservers import SENTINEL_MASTER, SENTINEL_PORT
from daemon import Daemon

GOOD = "secure match=mail.good.test:.mx.good.test servername=hostname"


def config(port, cache):
    return f"host: 127.0.0.1\nport: {port}\ndefault_zone:\n  timeout: 8\ncache:\n{cache}"


def served_from_store(cfg, port, tmp_path):
    """A first daemon learns good.test; a second one, with an empty memory, answers it from the store."""
    (tmp_path / "first").mkdir()
    first = Daemon(cfg, port, str(tmp_path / "first")).start()
    try:
        assert first.postmap("good.test") == (0, GOOD)
    finally:
        first.stop()
    (tmp_path / "second").mkdir()
    second = Daemon(cfg, port, str(tmp_path / "second")).start()
    try:
        assert second.postmap("good.test") == (0, GOOD)
        decisions = [line for line in second.log().splitlines() if "decision" in line and "good.test" in line]
        assert decisions and "from=cache" in decisions[0], second.log()
    finally:
        second.stop()


def test_redis(tmp_path, redis_server):
    redis_server.cli("FLUSHALL")
    served_from_store(config(18520, f"  type: redis\n  options:\n    url: \"{redis_server.url}?db=2\"\n    max_connections: 25\n"), 18520, tmp_path)
    stored = json.loads(redis_server.cli("-n", "2", "GET", "sts:entry:good.test"))
    assert stored["policy_id"] == "20240101000000" and stored["policy"]["mode"] == "enforce"


def test_redis_sentinel(tmp_path, redis_server):
    redis_server.cli("FLUSHALL")
    cache = (f"  type: redis_sentinel\n  options:\n    sentinel_master_name: {SENTINEL_MASTER}\n"
             f"    sentinels:\n      - [127.0.0.1, {SENTINEL_PORT}]\n    socket_timeout: 3\n")
    served_from_store(config(18521, cache), 18521, tmp_path)
    assert json.loads(redis_server.cli("GET", "sts:entry:good.test"))["domain"] == "good.test"


def test_postgres(tmp_path, postgres_server):
    postgres_server.psql("DROP TABLE IF EXISTS sts_policy")
    served_from_store(config(18522, f"  type: postgres\n  options:\n    dsn: \"{postgres_server.dsn}\"\n"), 18522, tmp_path)
    row = postgres_server.psql("SELECT entry FROM sts_policy WHERE domain = 'good.test'")
    assert json.loads(row)["policy_id"] == "20240101000000"


def test_a_store_that_hangs_costs_a_lookup_no_more_than_the_zone_timeout(tmp_path, redis_server):
    """The policy is in redis only (a restarted daemon), and redis stops answering (stopped, so its
    socket still takes connections and commands; our socket_timeout is 10 s): the lookup is answered
    within the zone timeout, TEMP (the stored policy is unknown, and NOTFOUND could downgrade it), and
    once redis answers again the policy is served."""
    redis_server.cli("FLUSHALL")
    cfg = (f"host: 127.0.0.1\nport: 18525\ndefault_zone:\n  timeout: 1.5\ncache:\n  type: redis\n  options:\n"
           f"    url: \"{redis_server.url}?db=3&socket_timeout=10\"\n")
    (tmp_path / "first").mkdir()
    first = Daemon(cfg, 18525, str(tmp_path / "first")).start()
    try:
        assert first.postmap("good.test") == (0, GOOD)
    finally:
        first.stop()
    (tmp_path / "second").mkdir()
    second = Daemon(cfg, 18525, str(tmp_path / "second")).start()
    with open(os.path.join(redis_server.dir, "redis.pid")) as f:
        redis_pid = int(f.read().split()[0])
    try:
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            results = lookups.lookup_all(18525, [("postfix", "good.test")])
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        assert results[0]["error"] is None, results
        assert results[0]["seconds"] < 1.5 + 2.0, results
        assert results[0]["reply"] == "TEMP sts: the cache did not answer within the zone timeout", results
        deadline = time.monotonic() + 20
        while second.postmap("good.test") != (0, GOOD):
            assert time.monotonic() < deadline, second.log()[-3000:]
            time.sleep(0.5)
    finally:
        second.stop()


@pytest.mark.parametrize("cache", [
    "  type: redis\n  options:\n    url: unix:///nonexistent/redis.sock\n",
    "  type: postgres\n  options:\n    dsn: \"host=/nonexistent user=sts\"\n",
    "  type: redis_sentinel\n  options:\n    sentinel_master_name: nobody\n    sentinels:\n      - [127.0.0.1, 1]\n",
])
def test_an_unreachable_store_does_not_stop_mail(tmp_path, cache, world):
    d = Daemon(config(18523, cache), 18523, str(tmp_path)).start()
    try:
        assert d.postmap("good.test") == (0, GOOD)
        assert "cache write failed" in d.log() or "cache read failed" in d.log()
    finally:
        d.stop()


def test_a_store_config_without_its_key_is_refused(tmp_path, world):
    d = Daemon(config(18524, "  type: redis\n  options:\n    max_connections: 5\n"), 18524, str(tmp_path))
    with pytest.raises(AssertionError, match="cache.options.url: is required for the redis cache"):
        d.start()
