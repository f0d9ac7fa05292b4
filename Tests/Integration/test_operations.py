"""Running sts-socketmapd for real: reload, systemd notification, privilege drop, shared ports, unix sockets."""
import os
import signal
import socket
import subprocess
import time

from daemon import POSTFIX_CONFIG, Daemon
from stages import NETNS, thread_names

BASE = """
host: 127.0.0.1
port: {port}
cache:
  type: internal
default_zone:
  timeout: 8
"""

GOOD = "secure match=mail.good.test:.mx.good.test servername=hostname"


def test_sighup_reloads_zones_names_start_only_changes_and_keeps_the_old_config_when_the_new_one_is_invalid(tmp_path):
    d = Daemon(BASE.format(port=18480), 18480, str(tmp_path)).start()
    try:
        assert d.postmap("testing.test", zone="z") == (1, "")
        with open(d.config_path, "a") as f:
            f.write("cache_grace: 5\nzones:\n  z:\n    strict_testing: true\n")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert d.postmap("testing.test", zone="z") == (0, "secure match=mail.testing.test servername=hostname")
        # The zone applies at once; cache_grace is set up at start, and the reload says so by name.
        assert "changed settings that take effect at the next restart keys=cache_grace" in d.log()
        assert "configuration reloaded" in d.log()
        with open(d.config_path, "w") as f:
            f.write(BASE.format(port=18480) + "zones:\n  z:\n    timeout: soon\n")
        d.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert "new configuration refused" in d.log() and "zones.z.timeout" in d.log()
        assert d.postmap("testing.test", zone="z") == (0, "secure match=mail.testing.test servername=hostname")
    finally:
        d.stop()


def test_sd_notify_ready_and_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(10)
    d = Daemon(BASE.format(port=18481), 18481, str(tmp_path), env={"NOTIFY_SOCKET": path}).start()
    try:
        ready = listener.recv(4096).decode()
        assert "READY=1" in ready and f"MAINPID={d.proc.pid}" in ready
    finally:
        d.stop()
    assert "STOPPING=1" in listener.recv(4096).decode()


def test_privileges_are_dropped_after_binding(tmp_path):
    os.chmod(tmp_path, 0o777)
    d = Daemon(BASE.format(port=18482), 18482, str(tmp_path), args=["-u", "nobody"]).start()
    try:
        status = open(f"/proc/{d.proc.pid}/status").read()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        gid_line = next(line for line in status.splitlines() if line.startswith("Gid:"))
        groups_line = next(line for line in status.splitlines() if line.startswith("Groups:"))
        nobody = int(subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout)
        nogroup = int(subprocess.run(["id", "-g", "nobody"], capture_output=True, text=True).stdout)
        assert uid_line.split()[1:] == [str(nobody)] * 4
        assert gid_line.split()[1:] == [str(nogroup)] * 4
        assert groups_line.split()[1:] in ([], [str(nogroup)])
        assert d.postmap("good.test") == (0, GOOD)
    finally:
        d.stop()


def test_two_instances_share_a_port_for_seamless_restarts(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = Daemon(BASE.format(port=18483), 18483, str(tmp_path / "a")).start()
    second = Daemon(BASE.format(port=18483), 18483, str(tmp_path / "b")).start()
    try:
        time.sleep(0.5)
        assert second.proc.poll() is None, second.log()
        assert "listening" in second.log()
        first.stop()
        for _ in range(5):
            assert second.postmap("good.test") == (0, GOOD)
    finally:
        first.stop()
        second.stop()


def test_reuse_port_false_refuses_a_second_instance(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config = BASE.format(port=18484) + "reuse_port: false\n"
    first = Daemon(config, 18484, str(tmp_path / "a")).start()
    try:
        second = Daemon(config, 18484, str(tmp_path / "b"))
        log = open(second.log_path, "a")
        second.proc = subprocess.Popen(["ip", "netns", "exec", NETNS, __import__("stages").binary("sts-socketmapd"), "-c", second.config_path],
                                       stdout=log, stderr=log, cwd=second.workdir)
        assert second.proc.wait(timeout=10) == 2
        assert "cannot listen on 127.0.0.1:18484" in second.log()
    finally:
        first.stop()


def test_unix_socket_with_mode(tmp_path):
    path = str(tmp_path / "sts.sock")
    d = Daemon(f"path: {path}\nmode: 0660\ncache:\n  type: internal\n", 0, str(tmp_path))
    log = open(d.log_path, "a")
    d.proc = subprocess.Popen(["ip", "netns", "exec", NETNS, *(__import__("stages").binary("sts-socketmapd"),), "-c", d.config_path],
                              stdout=log, stderr=log, cwd=str(tmp_path))
    try:
        for _ in range(50):
            if os.path.exists(path):
                break
            time.sleep(0.1)
        assert os.stat(path).st_mode & 0o777 == 0o660
        proc = subprocess.run(["ip", "netns", "exec", NETNS, "postmap", "-c", POSTFIX_CONFIG, "-q", "good.test", f"socketmap:unix:{path}:postfix"],
                              capture_output=True, text=True, timeout=30)
        assert (proc.returncode, proc.stdout.strip()) == (0, GOOD), proc.stderr
    finally:
        d.stop()


def test_ipv6_listener(tmp_path):
    d = Daemon("host: '::1'\nport: 18485\ncache:\n  type: internal\n", 18485, str(tmp_path))
    log = open(d.log_path, "a")
    d.proc = subprocess.Popen(["ip", "netns", "exec", NETNS, __import__("stages").binary("sts-socketmapd"), "-c", d.config_path],
                              stdout=log, stderr=log, cwd=str(tmp_path))
    try:
        time.sleep(1)
        proc = subprocess.run(["ip", "netns", "exec", NETNS, "postmap", "-c", POSTFIX_CONFIG, "-q", "good.test", "socketmap:inet:[::1]:18485:postfix"],
                              capture_output=True, text=True, timeout=30)
        assert (proc.returncode, proc.stdout.strip()) == (0, GOOD), proc.stderr + d.log()
    finally:
        d.stop()


def test_json_log_lines_one_per_decision(tmp_path):
    import json as jsonlib
    d = Daemon(BASE.format(port=18486), 18486, str(tmp_path), args=["--log-format", "json", "-v", "info"]).start()
    try:
        assert d.postmap("good.test") == (0, GOOD)
    finally:
        d.stop()
    lines = [jsonlib.loads(line) for line in d.log().splitlines() if line.startswith("{")]
    decisions = [line for line in lines if line["message"] == "decision"]
    assert len(decisions) == 1
    decision = decisions[0]
    assert decision["domain"] == "good.test" and decision["answer"] == "OK " + GOOD and decision["level"] == "info"
    assert decision["from"] == "refreshed" and int(decision["ms"]) >= 0 and decision["zone"] == "postfix"


def netstring(text):
    data = text.encode()
    return str(len(data)).encode() + b":" + data + b","


def test_drain_answers_in_flight_requests_and_closes_idle_connections(tmp_path):
    d = Daemon(BASE.format(port=18487) + "zones:\n  slowzone:\n    timeout: 3\n", 18487, str(tmp_path)).start()
    script = (
        "import socket,sys,time\n"
        "idle=socket.create_connection(('127.0.0.1',18487))\n"
        "busy=socket.create_connection(('127.0.0.1',18487))\n"
        "busy.sendall(sys.argv[1].encode())\n"
        "print('sent',flush=True)\n"
        "idle.settimeout(10); busy.settimeout(20)\n"
        "print('idle', repr(idle.recv(100)), flush=True)\n"
        "print('busy', repr(busy.recv(100)), flush=True)\n"
    )
    client = subprocess.Popen(["ip", "netns", "exec", NETNS, "python3", "-c", script, netstring("slowzone blackhole.test").decode()],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdout.readline().strip() == "sent"
        time.sleep(0.5)
        started = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        idle = client.stdout.readline().strip()
        busy = client.stdout.readline().strip()
        assert idle == "idle b''", "the idle connection is closed at once"
        assert busy == "busy b'9:NOTFOUND ,'", "the request in flight is still answered"
        assert d.proc.wait(timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        client.kill()
        d.stop()


def test_prometheus_metrics_are_scraped_over_http(tmp_path):
    config = BASE.format(port=18488) + "metrics:\n  listen: 127.0.0.1:19488\n"
    d = Daemon(config, 18488, str(tmp_path)).start()
    try:
        assert d.postmap("good.test") == (0, GOOD)
        assert d.postmap("good.test") == (0, GOOD)
        assert d.postmap("expired.test") == (1, "")
        scrape = subprocess.run(["ip", "netns", "exec", NETNS, "curl", "-sf", "http://127.0.0.1:19488/metrics"],
                                capture_output=True, text=True, timeout=10)
        assert scrape.returncode == 0
        samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in scrape.stdout.splitlines() if line and not line.startswith("#")}
        assert samples['sts_lookups_total{answer="ok",from="refreshed"}'] == 1
        assert samples['sts_lookups_total{answer="ok",from="cache"}'] == 1
        assert samples['sts_lookups_total{answer="notfound",from="refreshed"}'] == 1
        assert samples['sts_cache_lookups_total{result="hit"}'] == 1
        assert samples['sts_fetches_total{kind="ok"}'] == 1
        assert samples['sts_fetches_total{kind="sts-webpki-invalid"}'] == 1
        assert samples['sts_dns_lookups_total{outcome="found"}'] == 2
        assert samples["sts_fetch_duration_seconds_count"] >= 1
        assert any(key.startswith("sts_lookup_duration_seconds_bucket") for key in samples)
        missing = subprocess.run(["ip", "netns", "exec", NETNS, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:19488/"],
                                 capture_output=True, text=True, timeout=10)
        assert missing.stdout == "404"
    finally:
        d.stop()


IDLE_METRICS_CLIENTS = """
import select, socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
gone = set()
def count_closed():
    readable, _, _ = select.select([s for s in held if s not in gone], [], [], 0)
    for s in readable:
        try:
            if s.recv(1) == b"":
                gone.add(s)
        except ConnectionResetError:
            gone.add(s)
    return len(gone)
time.sleep(0.5)
at_once = count_closed()
time.sleep(2.5)
print(at_once, count_closed())
"""


def test_the_metrics_listener_bounds_its_connections_and_closes_idle_ones(tmp_path):
    # idle_timeout applies to every connection the daemon accepts, the metrics ones too.
    config = BASE.format(port=18489) + "idle_timeout: 1\nmetrics:\n  listen: 127.0.0.1:19489\n"
    d = Daemon(config, 18489, str(tmp_path)).start()
    try:
        out = subprocess.run(["ip", "netns", "exec", NETNS, "python3", "-c", IDLE_METRICS_CLIENTS, "19489"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        at_once, later = map(int, out.stdout.split())
        assert at_once == 40 - 16, "past 16 connections, each is closed on accept"
        assert later == 40, "the 16 admitted ones are closed once idle"
        # Scrapes and lookups go on.
        assert d.postmap("good.test") == (0, GOOD)
        scrape = subprocess.run(["ip", "netns", "exec", NETNS, "curl", "-sf", "http://127.0.0.1:19489/metrics"],
                                capture_output=True, text=True, timeout=10)
        assert scrape.returncode == 0 and "sts_lookups_total" in scrape.stdout, scrape
    finally:
        d.stop()


def test_idle_stages_exit_and_the_next_lookup_starts_them_again(tmp_path):
    config = BASE.format(port=18492) + "stage_max_idle: 1\nmetrics:\n  listen: 127.0.0.1:19492\n"
    d = Daemon(config, 18492, str(tmp_path)).start()
    try:
        assert d.live_stages() == {}, "no stage before the first lookup that needs one"
        assert d.postmap("good.test") == (0, GOOD)
        first = d.live_stages()
        assert set(first) == {"sts-dns", "sts-fetch", "sts-parse"}
        deadline = time.monotonic() + 10
        while d.stage_pids():   # gone, and reaped: no zombie left either
            assert time.monotonic() < deadline, f"idle stages still there: {d.live_stages()}"
            time.sleep(0.1)
        # A cached answer needs no stage; a new domain starts them again.
        assert d.postmap("good.test") == (0, GOOD)
        assert d.stage_pids() == []
        assert d.postmap("crlf.test") == (0, "secure match=mail.crlf.test servername=hostname")
        again = d.live_stages()
        assert set(again) == {"sts-dns", "sts-fetch", "sts-parse"}
        assert not set(again.values()) & set(first.values())
        scrape = subprocess.run(["ip", "netns", "exec", NETNS, "curl", "-sf", "http://127.0.0.1:19492/metrics"],
                                capture_output=True, text=True, timeout=10).stdout
        assert "sts_stage_idle_exits_total 1" in scrape
        assert "sts_stage_restarts_total" not in scrape, "an idle exit is not a restart"
        assert "stages idle for stage_max_idle" in d.log()
    finally:
        d.stop()


def event_loop_threads(pid):
    return thread_names(pid, "NIO-ELT-")


def test_event_loops_sets_the_listener_threads(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = Daemon(BASE.format(port=18493), 18493, str(tmp_path / "a")).start()
    three = Daemon(BASE.format(port=18494) + "event_loops: 3\n", 18494, str(tmp_path / "b")).start()
    try:
        assert len(event_loop_threads(one.proc.pid)) == 1, "one event loop by default"
        assert len(event_loop_threads(three.proc.pid)) == 3
        # Connections are spread over the three loops; each is answered.
        for _ in range(6):
            assert three.postmap("good.test") == (0, GOOD)
    finally:
        one.stop()
        three.stop()


def test_a_trust_anchor_libunbound_cannot_load_stops_the_daemon_at_start(tmp_path):
    # Readable but not DS or DNSKEY records: sts-dns refuses it only as it starts, so the daemon must try
    # it at start rather than restart its stages for ever and answer every lookup TEMP.
    anchor = tmp_path / "garbage.key"
    anchor.write_text("this is not a trust anchor\n")
    d = Daemon(BASE.format(port=18490) + f"dnssec_trust_anchor: {anchor}\n", 18490, str(tmp_path))
    log = open(d.log_path, "a")
    d.proc = subprocess.Popen(["ip", "netns", "exec", NETNS, __import__("stages").binary("sts-socketmapd"), "-c", d.config_path],
                              stdout=log, stderr=log, cwd=d.workdir)
    try:
        assert d.proc.wait(timeout=10) == 2
    finally:
        d.stop()
    assert f"sts-socketmapd: dnssec_trust_anchor: {anchor} is not usable" in d.log()
    assert f"sts-dns: cannot use trust anchor {anchor}" in d.log()


def test_check_config_tries_the_trust_anchor_as_a_start_would(tmp_path):
    from stages import binary
    anchor = tmp_path / "garbage.key"
    anchor.write_text("this is not a trust anchor\n")
    config = tmp_path / "sts.yml"
    config.write_text(BASE.format(port=18491) + f"dnssec_trust_anchor: {anchor}\n")
    check = subprocess.run([binary("sts-socketmapd"), "--check-config", "-c", str(config)], capture_output=True, text=True)
    assert check.returncode == 1, check
    assert f"dnssec_trust_anchor: {anchor} is not usable" in check.stderr
    assert "config OK" not in check.stdout
    world_anchor = os.path.join(os.environ.get("STS_WORLD_DIR", "/tmp/sts-world"), "test.key")
    config.write_text(BASE.format(port=18491) + f"dnssec_trust_anchor: {world_anchor}\n")
    check = subprocess.run([binary("sts-socketmapd"), "--check-config", "-c", str(config)], capture_output=True, text=True)
    assert (check.returncode, check.stdout.strip()) == (0, "config OK"), check


def test_the_trust_anchor_is_tried_as_the_user_the_daemon_runs_as(tmp_path):
    # Readable by root only: after -u nobody the stages could not read it, so the start must fail.
    import shutil
    from stages import binary
    anchor = tmp_path / "root-only.key"
    shutil.copy(os.path.join(os.environ.get("STS_WORLD_DIR", "/tmp/sts-world"), "test.key"), anchor)
    os.chmod(anchor, 0o600)
    d = Daemon(BASE.format(port=18495) + f"dnssec_trust_anchor: {anchor}\n", 18495, str(tmp_path))
    log = open(d.log_path, "a")
    d.proc = subprocess.Popen(["ip", "netns", "exec", NETNS, binary("sts-socketmapd"), "-c", d.config_path, "-u", "nobody"],
                              stdout=log, stderr=log, cwd=d.workdir)
    try:
        assert d.proc.wait(timeout=10) == 2
    finally:
        d.stop()
    assert f"dnssec_trust_anchor: cannot read {anchor}" in d.log(), d.log()


def test_a_log_file_takes_the_log_and_the_stages_messages_and_is_reopened_on_sighup(tmp_path):
    logfile = tmp_path / "sts.log"
    d = Daemon(BASE.format(port=18496), 18496, str(tmp_path), args=["-l", str(logfile)]).start()
    try:
        assert d.postmap("good.test") == (0, GOOD)
        time.sleep(0.3)
        assert "decision" in logfile.read_text() and "domain=good.test" in logfile.read_text()
        # The stages' standard error is the log file too: what they say reaches the same place.
        stages = d.live_stages()
        assert set(stages) == {"sts-dns", "sts-fetch", "sts-parse"}, stages
        for name, pid in stages.items():
            assert os.readlink(f"/proc/{pid}/fd/2") == str(logfile), name
        # logrotate: the file is moved away, SIGHUP opens a new one where the next lines go.
        logfile.rename(tmp_path / "sts.log.1")
        d.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while not logfile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert d.postmap("good.test") == (0, GOOD)
        time.sleep(0.3)
        assert "domain=good.test" in logfile.read_text()
    finally:
        d.stop()
