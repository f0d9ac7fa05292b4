"""Running sts-socketmapd inside the test world and asking it with Postfix's own client."""
import os
import subprocess
import tempfile
import time

from stages import NETNS, binary

POSTFIX_CONFIG = tempfile.mkdtemp(prefix="sts-postfix-")
open(os.path.join(POSTFIX_CONFIG, "main.cf"), "w").close()


class Daemon:
    """sts-socketmapd in the world's namespace with a config written from `config` (YAML text)."""

    def __init__(self, config, port, workdir, args=(), env=None, prefix=(), log_to_pipe=False):
        """`prefix`: a command the daemon is started through inside the namespace (e.g. setpriv).
        `log_to_pipe`: its stderr is a pipe (`proc.stderr`) that nobody reads unless the test does."""
        self.log_to_pipe = log_to_pipe
        self.args = list(args)
        self.prefix = list(prefix)
        self.env = env
        self.port = port
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "sts.yml")
        with open(self.config_path, "w") as f:
            f.write(config)
        self.log_path = os.path.join(workdir, "daemon.log")
        self.proc = None

    def start(self):
        log = open(self.log_path, "a")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", NETNS, *self.prefix, binary("sts-socketmapd"), "-c", self.config_path, "-v", "debug", *self.args],
            stdout=log, stderr=subprocess.PIPE if self.log_to_pipe else log, cwd=self.workdir, env=env)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"sts-socketmapd exited: {self.log()}")
            if subprocess.run(["ip", "netns", "exec", NETNS, "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{self.port}"],
                              capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise AssertionError(f"sts-socketmapd did not listen: {self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        time.sleep(0.15)  # the daemon writes its info lines in batches, at most 100 ms apart
        with open(self.log_path) as f:
            return f.read()

    def postmap(self, key, zone="postfix", timeout=60):
        """`postmap -q KEY socketmap:inet:127.0.0.1:PORT:ZONE`: (exit status, answer)."""
        proc = subprocess.run(
            ["ip", "netns", "exec", NETNS, "postmap", "-c", POSTFIX_CONFIG, "-q", key,
             f"socketmap:inet:127.0.0.1:{self.port}:{zone}"],
            capture_output=True, text=True, timeout=timeout)
        if proc.stderr:
            print(f"postmap {key}: {proc.stderr.strip()}")
        return proc.returncode, proc.stdout.strip()

    def stage_pids(self):
        """The stage processes the daemon started (children of the daemon)."""
        out = subprocess.run(["pgrep", "-P", str(self.daemon_pid())], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def live_stages(self):
        """{stage name: pid} of the daemon's running (not zombie) stage processes."""
        stages = {}
        for pid in self.stage_pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    name = os.path.basename(f.read().split(b"\0")[0].decode())
            except OSError:
                continue
            if name and state != "Z":
                stages[name] = pid
        return stages

    def daemon_pid(self):
        # ip netns exec execs the daemon, so the Popen pid is the daemon's.
        return self.proc.pid


def set_mutable(txt_id=None, policy=None):
    """What mutable.test publishes: its TXT id (None: no record) and its policy (None: 404)."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = [os.path.join(repo, "scripts", "world", "mutable.sh")]
    args += ["--id", txt_id] if txt_id else ["--no-txt"]
    args += ["--policy", policy] if policy else ["--no-policy"]
    subprocess.run(args, check=True, capture_output=True)
    time.sleep(2.2)  # the TTL is 1 s, and caches count in whole seconds: a record may live for 2 s


def set_mutable_body(body):
    """Serves `body` (bytes, as is: no newline added, any byte allowed) as mutable.test's policy, at once.

    Only the policy host changes (nginx reads the file for each request); the TXT id does not, so a
    daemon that has already fetched this id will not see the new body (use a new daemon, or set_mutable)."""
    world_dir = os.environ.get("STS_WORLD_DIR", "/tmp/sts-world")
    path = os.path.join(world_dir, "www", "mutable.txt")
    with open(path + ".new", "wb") as f:
        f.write(body)
    os.chmod(path + ".new", 0o644)
    os.replace(path + ".new", path)
