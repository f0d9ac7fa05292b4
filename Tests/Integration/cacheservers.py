"""Real redis and PostgreSQL servers for the cache backends, started by the tests themselves.

Both listen on unix sockets, which processes in the world's namespace and on the host reach alike;
redis (and a redis sentinel watching it) also listen on TCP inside the world's namespace, since a
sentinel names its master by address. Everything lives in a temporary folder removed at the end.
"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

from stages import NETNS

REDIS_PORT = 16379
SENTINEL_PORT = 26379
SENTINEL_MASTER = "stsmaster"


def _wait(check, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not come up")


def _unix_answers(path):
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
        return True
    except OSError:
        return False


class Redis:
    """redis-server in the world's namespace: unix socket `socket`, TCP 127.0.0.1:REDIS_PORT there,
    and a sentinel on SENTINEL_PORT watching it as SENTINEL_MASTER."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sts-redis-")
        os.chmod(self.dir, 0o755)
        self.socket = os.path.join(self.dir, "redis.sock")
        self.url = f"unix://{self.socket}"
        netns = ["ip", "netns", "exec", NETNS]
        subprocess.run([*netns, "redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--unixsocket", self.socket,
                        "--unixsocketperm", "777", "--dir", self.dir, "--save", "", "--appendonly", "no", "--daemonize", "yes",
                        "--pidfile", os.path.join(self.dir, "redis.pid"), "--logfile", os.path.join(self.dir, "redis.log")], check=True)
        _wait(lambda: _unix_answers(self.socket), "redis-server")
        sentinel_conf = os.path.join(self.dir, "sentinel.conf")
        with open(sentinel_conf, "w") as f:
            f.write(f"port {SENTINEL_PORT}\nbind 127.0.0.1\ndir {self.dir}\ndaemonize yes\n"
                    f"pidfile {self.dir}/sentinel.pid\nlogfile {self.dir}/sentinel.log\n"
                    f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {REDIS_PORT} 1\n")
        subprocess.run([*netns, "redis-server", sentinel_conf, "--sentinel"], check=True)
        _wait(lambda: subprocess.run([*netns, "redis-cli", "-p", str(SENTINEL_PORT), "SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER],
                                     capture_output=True, text=True).stdout.strip().endswith(str(REDIS_PORT)), "redis sentinel")

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-s", self.socket, *args], capture_output=True, text=True, check=True).stdout

    def stop(self):
        for name in ("sentinel.pid", "redis.pid"):
            try:
                os.kill(int(open(os.path.join(self.dir, name)).read()), 15)
            except (OSError, ValueError):
                pass
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    """A PostgreSQL cluster of our own (initdb as the postgres user, trust authentication), on a unix
    socket only; `dsn` reaches its database `sts` as user `sts`."""

    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        assert bins, "PostgreSQL is not installed (scripts/install-deps.sh --test)"
        self.bin = bins[-1]
        self.dir = tempfile.mkdtemp(prefix="sts-postgres-")
        os.chmod(self.dir, 0o755)
        shutil.chown(self.dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_postgres, f"{self.bin}/initdb", "-D", self.data, "-A", "trust", "-U", "sts"], check=True, capture_output=True)
        subprocess.run([*as_postgres, f"{self.bin}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "postgres.log"), "-w",
                        "-o", f"-k {self.dir} -c listen_addresses=''", "start"], check=True, capture_output=True)
        subprocess.run([*as_postgres, f"{self.bin}/createdb", "-h", self.dir, "-U", "sts", "sts"], check=True, capture_output=True)
        self.dsn = f"host={self.dir} user=sts dbname=sts"

    def psql(self, sql):
        return subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/psql", "-h", self.dir, "-U", "sts", "-d", "sts", "-Atc", sql],
                              capture_output=True, text=True, check=True).stdout

    def stop(self):
        subprocess.run(["runuser", "-u", "postgres", "--", f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
