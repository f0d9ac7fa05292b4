"""Running the stage executables from the integration tests."""
import json
import os
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("STS_BIN") or os.path.join(REPO, ".build", "debug")
WORLD_DIR = os.environ.get("STS_WORLD_DIR", "/tmp/sts-world")
NETNS = os.environ.get("STS_WORLD_NETNS", "sts-world")


def binary(name):
    if name == "bash":
        return "/bin/bash"
    path = os.path.join(BIN, name)
    assert os.access(path, os.X_OK), f"{path} is not built (swift build, or set STS_BIN)"
    return path


class StageRun:
    def __init__(self, proc, elapsed):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        self.lines = [line for line in proc.stdout.split("\n") if line]

    @property
    def records(self):
        return [json.loads(line) for line in self.lines]

    def by_domain(self):
        return {r.get("domain"): r for r in self.records}


def run_stage(name, *args, input="", timeout=60, netns=NETNS):
    """Runs a stage (inside the test world's network namespace) over `input` and parses its output."""
    argv = [binary(name), *args]
    if netns:
        argv = ["ip", "netns", "exec", netns, "env", f"PATH={BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", *argv]
    if isinstance(input, (list, tuple)):
        input = "".join((json.dumps(r) if isinstance(r, dict) else r) + "\n" for r in input)
    start = time.monotonic()
    proc = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    return StageRun(proc, time.monotonic() - start)


def start_stage(name, *args, netns=NETNS):
    """Starts a stage with pipes, for tests that read results as they come."""
    argv = [binary(name), *args]
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def thread_names(pid, prefix):
    """The names of a process's threads that start with `prefix`, sorted (Linux keeps 15 bytes of each)."""
    names = [open(f"/proc/{pid}/task/{tid}/comm").read().strip() for tid in os.listdir(f"/proc/{pid}/task")]
    return sorted(n for n in names if n.startswith(prefix))
