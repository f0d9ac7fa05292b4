"""Shared by the integration tests: running commands inside the test world (scripts/world/up.sh).

    from conftest import in_world          # or use the `world` fixture's .run

    def test_something(world):             # fails with a clear message when the world is not up
        proc = in_world("dig", "+short", "TXT", "_mta-sts.good.test")
        assert proc.stdout.strip() == '"v=STSv1; id=20240101000000;"'

The world is a network namespace (STS_WORLD_NETNS, default sts-world) whose state (keys, CA, logs) is in
STS_WORLD_DIR (default /tmp/sts-world); Tests/World/README.md lists its addresses and fixtures.
"""
import os
import subprocess
from dataclasses import dataclass

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETNS = os.environ.get("STS_WORLD_NETNS", "sts-world")
WORLD_DIR = os.environ.get("STS_WORLD_DIR", "/tmp/sts-world")


def in_world(*argv, **kw):
    """subprocess.run(["ip", "netns", "exec", NETNS, *argv], **kw).

    Unless told otherwise: output captured as text (when neither stdout nor stderr is given), a 60 s
    timeout, and no exception for a non-zero exit status (check=False)."""
    if not any(k in kw for k in ("stdout", "stderr", "capture_output")):
        kw["capture_output"] = True
    if "text" not in kw and "encoding" not in kw and "errors" not in kw and "universal_newlines" not in kw:
        kw["text"] = True
    kw.setdefault("timeout", 60)
    return subprocess.run(["ip", "netns", "exec", NETNS, *map(str, argv)], **kw)


@dataclass(frozen=True)
class World:
    """Where things are in the test world."""
    netns: str = NETNS
    dir: str = WORLD_DIR
    resolver: str = "127.0.0.1"        # unbound, validating
    authoritative: str = "127.0.0.2"   # nsd
    blackhole: str = "127.0.0.3"       # never answers
    refused: str = "127.0.0.4"         # nothing listens
    https: str = "127.0.0.10"          # nginx (also [::1])

    @property
    def ca(self):
        """The test CA, trusted by default inside the world."""
        return os.path.join(self.dir, "ca", "ca.crt")

    @property
    def untrusted_ca(self):
        """The CA of mta-sts.untrusted.test, trusted nowhere."""
        return os.path.join(self.dir, "ca", "untrusted-ca.crt")

    @property
    def trust_anchor(self):
        """The DNSKEY of test. (for ub_ctx_add_ta_file or unbound's trust-anchor-file)."""
        return os.path.join(self.dir, "test.key")

    @property
    def trust_anchor_ds(self):
        return os.path.join(self.dir, "test.ds")

    def run(self, *argv, **kw):
        return in_world(*argv, **kw)


def world_problem():
    """Why the world is not usable, or None."""
    if os.geteuid() != 0:
        return "the integration tests must run as root (ip netns exec)"
    try:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot list network namespaces: {e}"
    if not any(line.split(" ")[0] == NETNS for line in names):
        return f"there is no network namespace {NETNS}"
    for path in (World().trust_anchor, World().ca):
        if not os.path.exists(path):
            return f"{path} is missing (STS_WORLD_DIR={WORLD_DIR})"
    try:
        dns = in_world("dig", "+time=2", "+tries=2", "+short", "@127.0.0.1", "TXT", "_mta-sts.good.test", timeout=15)
        if "v=STSv1" not in dns.stdout:
            return f"the world's resolver does not answer _mta-sts.good.test: {dns.stdout.strip() or dns.stderr.strip()}"
        https = in_world("curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}",
                         "https://mta-sts.good.test/.well-known/mta-sts.txt", timeout=15)
        if https.stdout != "200":
            return f"https://mta-sts.good.test/ does not answer 200: {https.stdout} {https.stderr.strip()}"
    except subprocess.TimeoutExpired as e:
        return f"{' '.join(e.cmd)} did not finish"
    return None


@pytest.fixture(scope="session")
def world():
    """The test world, checked once per session; the test fails (never skips) when it is not up."""
    problem = world_problem()
    if problem:
        pytest.fail(f"the test world is not up: {problem}. Bring it up with scripts/world/up.sh (as root); "
                    f"its servers' logs are in {WORLD_DIR}/logs.", pytrace=False)
    return World()


@pytest.fixture(scope="session")
def redis_server(world):
    """A real redis-server (and sentinel) for the redis cache backends; see cacheservers.py."""
    from cacheservers import Redis
    server = Redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the postgres cache backend; see cacheservers.py."""
    from cacheservers import Postgres
    server = Postgres()
    yield server
    server.stop()
