"""A raw socketmap client for what postmap cannot do: thousands of connections, idle and half-sent
requests, malformed and oversized netstrings, bytes that are not UTF-8.

It runs inside the world's namespace (the daemon listens there), so the tests call it as a program:
`ip netns exec NETNS python3 rawclient.py SCENARIO JSON-ARGS`; it prints one JSON object.
`run(scenario, **args)` does that from a test and returns the object.
"""
import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


def read_netstrings(data: bytes):
    """The complete netstrings at the start of `data` (payloads), and the rest."""
    payloads = []
    while True:
        colon = data.find(b":")
        if colon <= 0 or not data[:colon].isdigit():
            return payloads, data
        length = int(data[:colon])
        end = colon + 1 + length
        if len(data) < end + 1:
            return payloads, data
        if data[end:end + 1] != b",":
            raise ValueError(f"not a netstring: {data[:80]!r}")
        payloads.append(data[colon + 1:end])
        data = data[end + 1:]


def connect(port, host="127.0.0.1", timeout=10.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def receive_until_closed(s, limit=1 << 20):
    """Everything the server sends until it closes; (bytes, closed) with closed False on timeout."""
    data = b""
    try:
        while len(data) < limit:
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except (socket.timeout, TimeoutError):
        return data, False
    except ConnectionResetError:
        return data, True
    return data, False


def exchange(port, payload_hex, timeout=10.0, expect_replies=None):
    """Sends the bytes; reads replies until `expect_replies` netstrings arrived, or the server closes,
    or `timeout`. Returns the replies, whether the server closed, and the time taken."""
    start = time.monotonic()
    s = connect(port, timeout=timeout)
    s.sendall(bytes.fromhex(payload_hex))
    data, closed = b"", False
    try:
        while True:
            replies, _ = read_netstrings(data)
            if expect_replies is not None and len(replies) >= expect_replies:
                break
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
    except (socket.timeout, TimeoutError):
        pass
    except ConnectionResetError:
        closed = True
    s.close()
    replies, rest = read_netstrings(data)
    return {"replies": [r.decode("utf-8", "backslashreplace") for r in replies], "reply_bytes": [len(r) for r in replies],
            "rest": rest.hex(), "closed": closed, "seconds": time.monotonic() - start}


def many(port, count, key, zone="postfix", timeout=60.0):
    """Opens `count` connections, and only when all are open sends one request on each; counts the
    replies by kind, and the connections closed without a reply."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sockets, connect_errors = [], 0
    for _ in range(count):
        try:
            sockets.append(connect(port, timeout=timeout))
        except OSError:
            connect_errors += 1
    request = netstring(f"{zone} {key}".encode())
    selector = selectors.DefaultSelector()
    buffers = {}
    for s in sockets:
        try:
            s.sendall(request)
        except OSError:
            continue
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
        buffers[s] = b""
    kinds, closed_without_reply = {}, 0
    deadline = time.monotonic() + timeout
    while buffers and time.monotonic() < deadline:
        for event, _ in selector.select(timeout=1):
            s = event.fileobj
            try:
                chunk = s.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed_without_reply += 1
            else:
                buffers[s] += chunk
                replies, _ = read_netstrings(buffers[s])
                if not replies:
                    continue
                reply = replies[0].decode()
                kinds[reply] = kinds.get(reply, 0) + 1
            selector.unregister(s)
            del buffers[s]
    unanswered = len(buffers)
    for s in sockets:
        s.close()
    return {"opened": len(sockets), "connect_errors": connect_errors, "replies": kinds,
            "closed_without_reply": closed_without_reply, "unanswered": unanswered}


def idle(port, key, zone="postfix", timeout=30.0):
    """Three clients at once: one that says nothing, one that sends half a request and stops, and one
    that keeps asking once a second. Reports when the first two were closed and what the third got."""
    start = time.monotonic()
    silent = connect(port, timeout=timeout)
    half = connect(port, timeout=timeout)
    half.sendall(netstring(f"{zone} {key}".encode())[:7])
    busy = connect(port, timeout=timeout)
    for s in (silent, half):
        s.setblocking(False)
    closed_at = {}
    busy_replies = []
    while time.monotonic() - start < timeout and len(closed_at) < 2:
        for name, s in (("silent", silent), ("half", half)):
            if name in closed_at:
                continue
            try:
                if s.recv(4096) == b"":
                    closed_at[name] = time.monotonic() - start
            except BlockingIOError:
                pass
            except ConnectionResetError:
                closed_at[name] = time.monotonic() - start
        busy.sendall(netstring(f"{zone} {key}".encode()))
        data = b""
        while not read_netstrings(data)[0]:
            chunk = busy.recv(65536)
            if not chunk:
                break
            data += chunk
        busy_replies += [r.decode() for r in read_netstrings(data)[0]]
        time.sleep(0.5)
    return {"closed_at": closed_at, "busy_replies": busy_replies}


def flood(port, request_hex, count, timeout=60.0):
    """Sends `request` `count` times without reading, then reads what comes until the server closes;
    reports whether it closed and how many replies arrived."""
    # A small receive buffer, so that the kernel cannot take the unread replies off the server's hands.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    data = bytes.fromhex(request_hex) * count
    sent = 0
    try:
        s.sendall(data)
        sent = len(data)
    except OSError:
        pass  # the server closed while we were still sending: that is the point
    time.sleep(1)
    received, closed = receive_until_closed(s, limit=1 << 30)
    s.close()
    replies, _ = read_netstrings(received)
    return {"sent_bytes": sent, "replies": len(replies), "closed": closed}


SCENARIOS = {"exchange": exchange, "many": many, "idle": idle, "flood": flood}


def run(scenario, timeout=180, **args):
    """Runs a scenario inside the world's namespace and returns its JSON result."""
    from stages import NETNS
    proc = subprocess.run(["ip", "netns", "exec", NETNS, sys.executable, os.path.join(HERE, "rawclient.py"), scenario, json.dumps(args)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"rawclient {scenario} failed: {proc.stderr}"
    return json.loads(proc.stdout)


if __name__ == "__main__":
    print(json.dumps(SCENARIOS[sys.argv[1]](**json.loads(sys.argv[2]))))
