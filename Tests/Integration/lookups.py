#!/usr/bin/env python3
"""Many socketmap lookups at once over raw sockets, for the fault and hostile-input tests.

As a script (run inside the world): `lookups.py PORT` reads a JSON list of [zone, key] pairs on its
standard input, opens one connection per pair, sends every request, prints the line `sent` once all
are written, then waits for the replies and prints one JSON line: a list, in request order, of
{"zone", "key", "reply" (the netstring payload as text, or null), "frame" (the whole reply's length in
bytes), "error" (why there is no reply, or null), "seconds" (from the send to the reply)}.

From a test: `start(port, pairs)` runs it in the world's namespace and returns a Batch (`.wait_sent()`,
`.results()`); `lookup_all(port, pairs)` does both.
"""
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time

import rawclient

NETNS = os.environ.get("STS_WORLD_NETNS", "sts-world")
READ_LIMIT = 200_000  # beyond Postfix's 100000-byte reply limit, to see a reply that breaks it


def netstring(text):
    return rawclient.netstring(text.encode())


def read_netstring(sock):
    """(payload bytes, frame length) of one netstring reply; raises on a malformed or overlong one."""
    buffer = b""
    while b":" not in buffer:
        chunk = sock.recv(64)
        if not chunk:
            raise EOFError(f"connection closed after {buffer!r}")
        buffer += chunk
        if b":" not in buffer and len(buffer) > 12:
            raise ValueError(f"no netstring length: {buffer[:20]!r}")
    head, rest = buffer.split(b":", 1)
    if not head.isdigit():
        raise ValueError(f"netstring length {head!r}")
    length = int(head)
    if length > READ_LIMIT:
        raise ValueError(f"netstring of {length} bytes")
    while len(rest) < length + 1:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed inside a {length}-byte netstring")
        rest += chunk
    if rest[length:length + 1] != b",":
        raise ValueError("netstring without its comma")
    return rest[:length], len(head) + 1 + length + 1


def main():
    port = int(sys.argv[1])
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30
    pairs = json.load(sys.stdin)
    # One connection per lookup: a flood of a thousand or more needs more than the default 1024 descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = [None] * len(pairs)
    sockets = []
    for zone, key in pairs:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sockets.append(sock)
    started = [0.0] * len(pairs)
    for i, (zone, key) in enumerate(pairs):
        started[i] = time.monotonic()
        sockets[i].sendall(netstring(f"{zone} {key}"))
    print("sent", flush=True)

    def receive(i):
        zone, key = pairs[i]
        result = {"zone": zone, "key": key, "reply": None, "frame": 0, "error": None, "seconds": None}
        try:
            payload, frame = read_netstring(sockets[i])
            result["reply"] = payload.decode("utf-8", "backslashreplace")
            result["frame"] = frame
        except Exception as e:  # noqa: BLE001 - every failure is a result here
            result["error"] = f"{type(e).__name__}: {e}"
        result["seconds"] = time.monotonic() - started[i]
        sockets[i].close()
        results[i] = result

    threads = [threading.Thread(target=receive, args=(i,)) for i in range(len(pairs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(results), flush=True)


class Batch:
    def __init__(self, proc):
        self.proc = proc

    def wait_sent(self):
        line = self.proc.stdout.readline().strip()
        assert line == "sent", f"the lookup client did not send: {line!r} {self.proc.stderr.read()}"

    def results(self, timeout=60):
        # Read through the same buffered stream as wait_sent: it may already hold the results line
        # (communicate() would read the pipe underneath and miss it). The client's own socket timeouts
        # bound the wait.
        out = self.proc.stdout.read()
        err = self.proc.stderr.read()
        self.proc.wait(timeout=timeout)
        assert self.proc.returncode == 0, f"the lookup client failed: {err}"
        lines = out.strip().splitlines()
        assert lines, f"the lookup client printed no results: {err}"
        return json.loads(lines[-1])


def start(port, pairs, timeout=30):
    proc = subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, os.path.abspath(__file__), str(port), str(timeout)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(json.dumps([list(p) for p in pairs]))
    proc.stdin.close()
    return Batch(proc)


def lookup_all(port, pairs, timeout=30):
    batch = start(port, pairs, timeout)
    batch.wait_sent()
    return batch.results(timeout=timeout + 30)


if __name__ == "__main__":
    main()
