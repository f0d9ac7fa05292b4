#!/usr/bin/env python3
"""Policy hosts the world's nginx cannot be: certificates that are self-signed, not yet valid or sent
with an untrusted root; bodies of exactly the limit, one byte over it with a stalled body, chunked and
close-delimited bodies over it; invalid UTF-8; odd statuses; broken TLS. Reached through a CONNECT
proxy of ours, which is also how the tests check that sts-fetch honours https_proxy.

Run inside the world (`ip netns exec sts-world python3 fetch_helper.py DIR`). Writes its CA to
DIR/ca.crt, logs each CONNECT target to DIR/connects.log and each request's headers to
DIR/requests.log, prints one JSON line {"proxy": URL, "ca": FILE} when ready and serves until its
standard input closes. A host `mta-sts.<route>.fetch.test` goes to the route of that name; any other
host to its real address (the world's nginx); `mta-sts.denied.fetch.test` gets a 403 from the proxy.
"""
import datetime
import json
import socket
import ssl
import sys
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

POLICY = b"version: STSv1\nmode: enforce\nmx: mail.fetch.test\nmax_age: 86400\n"
LIMIT = 65536
OVER = 70000
STALL = 60

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)
day = datetime.timedelta(days=1)
log_lock = threading.Lock()


def log(name, line):
    with log_lock, open(out / name, "a") as f:
        f.write(line + "\n")


def certificate(subject, issuer_name, public_key, signer, ca, names=(), not_before=None, not_after=None):
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - day)
        .not_valid_after(not_after or now + 30 * day)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def pem(*certs):
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def write_pair(name, chain, private_key):
    (out / f"{name}.crt").write_bytes(pem(*chain))
    (out / f"{name}.key").write_bytes(private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption()))
    return name


def host(route):
    return f"mta-sts.{route}.fetch.test"


def make_certs(routes):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("fetch helper CA", "fetch helper CA", ca_key.public_key(), ca_key, True, not_after=now + 3650 * day)
    (out / "ca.crt").write_bytes(pem(ca_cert))
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    # One certificate from our CA for every route that is meant to pass the certificate checks.
    write_pair("valid", [certificate(host("valid"), "fetch helper CA", leaf_key.public_key(), ca_key, False,
                                     names=[host(r) for r in routes])], leaf_key)
    write_pair("self-signed", [certificate(host("self-signed"), host("self-signed"), leaf_key.public_key(), leaf_key, False,
                                           names=[host("self-signed")])], leaf_key)
    write_pair("not-yet-valid", [certificate(host("not-yet-valid"), "fetch helper CA", leaf_key.public_key(), ca_key, False,
                                             names=[host("not-yet-valid")], not_before=now + 30 * day, not_after=now + 60 * day)], leaf_key)
    # A leaf sent together with the root it chains to, a root nobody trusts.
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = certificate("stranger root", "stranger root", stranger_key.public_key(), stranger_key, True, not_after=now + 3650 * day)
    write_pair("stranger-chain", [certificate(host("stranger-chain"), "stranger root", leaf_key.public_key(), stranger_key, False,
                                              names=[host("stranger-chain")]), stranger], leaf_key)


def response(status, headers, body=b""):
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + body


def text(body, content_type="text/plain"):
    headers = [("Content-Length", str(len(body))), ("Connection", "close")]
    if content_type:
        headers.insert(0, ("Content-Type", content_type))
    return response("200 OK", headers, body)


def exact_limit_body():
    filler = b"x-filler: " + b"a" * 100 + b"\n"
    body = POLICY
    while len(body) + len(filler) <= LIMIT:
        body += filler
    return body + b"#" * (LIMIT - len(body))


def serve_policy(conn):
    conn.sendall(text(POLICY))


def serve_exact_limit(conn):
    conn.sendall(text(exact_limit_body()))


def serve_over_by_one(conn):
    # Declares one byte too many, then sends nothing: only an early refusal is quick.
    conn.sendall(response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(LIMIT + 1))]))
    time.sleep(STALL)


def serve_chunked_stall(conn):
    # Over the limit in chunks, then nothing more: only cutting at the limit is quick.
    conn.sendall(response("200 OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")]))
    sent = 0
    while sent < OVER:
        chunk = b"y" * 4096
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sent += len(chunk)
    time.sleep(STALL)


def serve_close_delimited(conn):
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + POLICY + b"z" * OVER)


def serve_not_utf8(conn):
    conn.sendall(text(POLICY + b"x-note: caf\xe9\n"))


def serve_no_type(conn):
    conn.sendall(text(POLICY, content_type=None))


def serve_found(conn):
    conn.sendall(response("302 Found", [("Location", f"https://{host('valid')}/.well-known/mta-sts.txt"), ("Content-Length", "0")]))


def serve_not_modified(conn):
    conn.sendall(response("304 Not Modified", [("Connection", "close")]))


def serve_empty(conn):
    pass


ROUTES = {
    "valid": ("valid", serve_policy),
    "self-signed": ("self-signed", serve_policy),
    "not-yet-valid": ("not-yet-valid", serve_policy),
    "stranger-chain": ("stranger-chain", serve_policy),
    "exact-limit": ("valid", serve_exact_limit),
    "over-by-one": ("valid", serve_over_by_one),
    "chunked-stall": ("valid", serve_chunked_stall),
    "close-delimited": ("valid", serve_close_delimited),
    "not-utf8": ("valid", serve_not_utf8),
    "no-type": ("valid", serve_no_type),
    "found": ("valid", serve_found),
    "not-modified": ("valid", serve_not_modified),
    "empty": ("valid", serve_empty),
    "tls11": ("valid", serve_policy),
    "plain": (None, None),
    "stall-handshake": (None, None),
}


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def tls_listener(route, cert, handler):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(out / f"{cert}.crt", out / f"{cert}.key")
    if route == "tls11":
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_1
    sock = socket.create_server(("127.0.0.1", 0))

    def handle(raw):
        try:
            with context.wrap_socket(raw, server_side=True) as conn:
                head = read_head(conn)
                lines = head.split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                log("requests.log", json.dumps({"route": route, "request": lines[0], "headers": headers}))
                handler(conn)
        except (OSError, ssl.SSLError):
            pass

    def accept():
        while True:
            raw, _ = sock.accept()
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return sock.getsockname()[1]


def plain_listener():
    # Speaks plain HTTP where TLS is expected.
    sock = socket.create_server(("127.0.0.1", 0))

    def accept():
        while True:
            raw, _ = sock.accept()
            try:
                raw.recv(4096)
                raw.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            raw.close()

    threading.Thread(target=accept, daemon=True).start()
    return sock.getsockname()[1]


def stalled_listener():
    # The kernel completes TCP handshakes into the backlog; nobody ever accepts, so TLS never starts.
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    stalled_listener.keep = sock
    return sock.getsockname()[1]


def pipe(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def proxy(ports):
    sock = socket.create_server(("127.0.0.1", 0))

    def handle(client):
        try:
            head = read_head(client)
            method, target, _ = head.split("\r\n")[0].split(" ", 2)
            log("connects.log", target)
            name, _, port = target.rpartition(":")
            if method != "CONNECT" or name == host("denied"):
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                client.close()
                return
            route = name[len("mta-sts."):-len(".fetch.test")] if name.startswith("mta-sts.") and name.endswith(".fetch.test") else None
            address = ("127.0.0.1", ports[route]) if route in ports else (name, int(port))
            upstream = socket.create_connection(address, timeout=10)
            upstream.settimeout(None)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
            pipe(client, upstream)
        except (OSError, ValueError):
            try:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            client.close()

    def accept():
        while True:
            client, _ = sock.accept()
            threading.Thread(target=handle, args=(client,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return sock.getsockname()[1]


def main():
    make_certs(ROUTES)
    ports = {}
    for route, (cert, handler) in ROUTES.items():
        if route == "plain":
            ports[route] = plain_listener()
        elif route == "stall-handshake":
            ports[route] = stalled_listener()
        else:
            ports[route] = tls_listener(route, cert, handler)
    proxy_port = proxy(ports)
    print(json.dumps({"proxy": f"http://127.0.0.1:{proxy_port}", "ca": str(out / "ca.crt")}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
