"""The benchmark's driver (run by scripts/bench.sh, as root, with the benchmark's virtualenv).

Inside the test world's network namespace it starts three socketmap servers side by side:

  floor  scripts/bench/bin/smfloor, a fixed reply, nothing else (the fastest any daemon can be here);
         in the cold scenario scripts/bench/bin/smcoldfloor instead: the TXT and A queries and one bare
         OpenSSL HTTPS GET per lookup, then a fixed reply (the fastest any daemon can answer cold here)
  sts    sts-socketmapd
  old    mta-sts-daemon of postfix-mta-sts-resolver 1.5.1 (uvloop), from the virtualenv

and measures each with the same client (scripts/bench/bin/smload), taking turns (floor, sts, old, floor,
...), then writes results.json, results.md and latency.png to the results folder and prints the table.
"""
import argparse
import datetime
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "bin")
PORTS = {"floor": 18460, "sts": 18461, "old": 18462}
SERVERS = ("floor", "sts", "old")
BENCH_ANSWER = "OK secure match=mail.bench.test:.mx.bench.test servername=hostname"


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def in_ns(args, ns):
    return ["ip", "netns", "exec", ns, *args]


# ---------------------------------------------------------------------------------------------------
# processes and memory


def descendants(pid):
    """pid and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_kib(pid):
    """RSS of pid and all its descendants, KiB, and the per-process figures (RSS, and from smaps_rollup
    PSS, shared libraries divided among the processes that map them, and private memory)."""
    total, parts = 0, []
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                rollup = f.read()
            with open(f"/proc/{p}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        fields = {}
        for line in rollup.splitlines():
            bits = line.split()
            if len(bits) >= 2 and bits[0].endswith(":") and bits[1].isdigit():
                fields[bits[0][:-1]] = int(bits[1])
        part = {"pid": p, "name": name, "rss_kib": fields.get("Rss", 0), "pss_kib": fields.get("Pss", 0),
                "private_kib": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}
        total += part["rss_kib"]
        parts.append(part)
    return total, parts


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of pid and its descendants (all threads), seconds."""
    return sum(cpu_by_process(pid).values())


def cpu_by_process(pid):
    """User + system CPU seconds of pid and its descendants, by program name (sts-dns, sts-fetch, ...)."""
    out = {}
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def pss_kib(parts):
    return sum(p["pss_kib"] for p in parts)


class Server:
    def __init__(self, name, args, ns, workdir, port, env=None):
        self.name, self.args, self.ns, self.workdir, self.port = name, args, ns, workdir, port
        self.env = env
        self.proc = None
        self.log_path = os.path.join(workdir, f"{name}.log")

    def start(self):
        log_file = open(self.log_path, "a")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(in_ns(self.args, self.ns), stdout=log_file, stderr=log_file,
                                     cwd=self.workdir, env=env, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"bench: {self.name} exited at start; see {self.log_path}")
            probe = subprocess.run(in_ns(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{self.port}"], self.ns),
                                   capture_output=True)
            if probe.returncode == 0:
                time.sleep(0.5)  # let it settle (the stages of sts start at once, the old daemon imports)
                return self
            time.sleep(0.1)
        raise SystemExit(f"bench: {self.name} does not listen on {self.port}; see {self.log_path}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for p in descendants(self.proc.pid):
                    try:
                        os.kill(p, 9)
                    except OSError:
                        pass
                self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def rss(self):
        return rss_kib(self.proc.pid)


def config_yaml(port, cache, workdir, name, cache_size, extra="", grace=60):
    options = f"    cache_size: {cache_size}\n"
    if cache == "sqlite":
        # mta-sts-daemon 1.5.1 refuses cache_size for sqlite: both daemons get their defaults
        options = ""
        path = os.path.join(workdir, f"{name}-cache.db")
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
        options += f"    filename: {path}\n"
    return f"""# written by scripts/bench/driver.py: the same for sts-socketmapd and mta-sts-daemon
host: 127.0.0.1
port: {port}
reuse_port: true
cache_grace: {grace}
cache:
  type: {cache}
  options:
{options}default_zone:
  strict_testing: false
  timeout: 4
zones:
  # the head-of-line scenario's slow lookups (their policy host answers after 20 s)
  slow:
    timeout: 30
{extra}"""


# ---------------------------------------------------------------------------------------------------
# the load client


def smload(ns, port, keys, conns, *, duration=None, once=False, count=None, zone="postfix", expect="OK",
           timeout=120, latencies=None, background=False):
    args = [os.path.join(BIN, "smload"), "-p", str(port), "-c", str(conns), "-k", keys, "-z", zone,
            "-e", expect, "-t", str(timeout)]
    if duration:
        args += ["-d", str(duration)]
    if count:
        args += ["-n", str(count)]
    elif once:
        args += ["-1"]
    if latencies:
        args += ["-L", latencies]
    proc = subprocess.Popen(in_ns(args, ns), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if background:
        return proc
    return finish(proc)


def finish(proc):
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"bench: smload failed: {err.strip()}")
    return json.loads(out.strip().splitlines()[-1])


def write_keys(path, names):
    with open(path, "w") as f:
        f.write("".join(n + "\n" for n in names))
    return path


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(runs, field):
    return median([r[field] for r in runs])


# ---------------------------------------------------------------------------------------------------
# certificates for many.bench.test (the memory scenario)


def many_certs(world, names):
    """A certificate from the world's test CA for each mta-sts.<name>, with the world's benchmark key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

    certs = os.path.join(world, "bench", "certs")
    with open(os.path.join(world, "ca", "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(world, "ca", "ca.crt"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(world, "bench", "key.pem"), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    public = key.public_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    made = 0
    for name in names:
        host = f"mta-sts.{name}"
        path = os.path.join(certs, host + ".crt")
        if os.path.exists(path):
            continue
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
                .issuer_name(ca.subject)
                .public_key(public)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        with open(path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        made += 1
    return made


# ---------------------------------------------------------------------------------------------------
# the scenarios


class Bench:
    def __init__(self, opts):
        self.o = opts
        self.ns = opts.netns
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.out = os.path.join(opts.results, f"bench-{stamp}")
        self.work = os.path.join(self.out, "work")
        os.makedirs(self.work, exist_ok=True)
        self.results = {"started": stamp, "command": opts.command, "options": vars(opts).copy(),
                        "machine": machine(), "scenarios": {}}
        self.servers = {}
        self.keys = {}

    def make_servers(self):
        o = self.o
        for name in ("sts", "old"):
            with open(os.path.join(self.work, f"{name}.yml"), "w") as f:
                f.write(config_yaml(PORTS[name], o.cache, self.work, name, o.cache_size, self.extra(name)))
        self.servers["floor"] = self.floor("smfloor")
        self.servers["sts"] = Server("sts", [os.path.join(o.sts_bin, "sts-socketmapd"), "-c",
                                             os.path.join(self.work, "sts.yml")] + o.sts_args,
                                     self.ns, self.work, PORTS["sts"])
        # The venv's Python may not know the system's CA bundle (a pyenv build): point it there; inside the
        # namespace /etc/ssl is the world's copy, which trusts the test CA.
        self.servers["old"] = Server("old", [os.path.join(o.venv, "bin", "mta-sts-daemon"), "-c",
                                             os.path.join(self.work, "old.yml")] + o.old_args,
                                     self.ns, self.work, PORTS["old"],
                                     env={"SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"})

    def floor(self, program):
        """The floor server: smfloor (hot) or smcoldfloor (cold), both answering the bench policy's answer."""
        return Server("floor", [os.path.join(BIN, program), "-p", str(PORTS["floor"]), "-r", BENCH_ANSWER],
                      self.ns, self.work, PORTS["floor"])

    def extra(self, name):
        """Config keys for one daemon only: sts's own stage_max_idle (the old daemon has no such key)."""
        return f"# sts only\nstage_max_idle: {self.o.stage_max_idle:g}\n" if name == "sts" else ""

    def fresh(self, name, grace=60):
        """Restarts a daemon with an empty cache (sqlite: a new file)."""
        if name != "floor":
            with open(os.path.join(self.work, f"{name}.yml"), "w") as f:
                f.write(config_yaml(PORTS[name], self.o.cache, self.work, name, self.o.cache_size, self.extra(name), grace))
        self.servers[name].restart()

    def rss_without_idle_stages(self, name):
        """RSS once sts's stages have exited after stage_max_idle (the old daemon has nothing to wait for)."""
        if name == "sts":
            deadline = time.monotonic() + self.o.stage_max_idle + 30
            while len(descendants(self.servers[name].proc.pid)) > 1 and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)
        return self.servers[name].rss()

    def world_pids(self):
        pids = {}
        for server in ("nginx", "unbound", "nsd"):
            try:
                with open(os.path.join(self.o.world_dir, f"{server}.pid")) as f:
                    pids[server] = int(f.read().split()[0])
            except (OSError, ValueError):
                pass
        return pids

    def measured(self, name, *args, **kw):
        """smload against server NAME, with the CPU time the server (all its processes and threads) and the
        world's servers spent meanwhile, in µs per lookup: a figure that other load on the machine does
        not change much."""
        world = self.world_pids()
        before = cpu_seconds(self.servers[name].proc.pid)
        parts_before = cpu_by_process(self.servers[name].proc.pid)
        world_before = {k: cpu_seconds(v) for k, v in world.items()}
        r = smload(self.ns, PORTS[name], *args, **kw)
        cpu = cpu_seconds(self.servers[name].proc.pid) - before
        r["server_cpu_s"] = cpu
        r["server_cpu_us_per_lookup"] = cpu / r["replies"] * 1e6 if r["replies"] else None
        # Which of the server's processes spent it (sts: the daemon and each stage; a stage that started
        # during the run counts from zero).
        parts = cpu_by_process(self.servers[name].proc.pid)
        r["server_cpu_us_by_process"] = {k: (v - parts_before.get(k, 0)) / r["replies"] * 1e6
                                         for k, v in parts.items()} if r["replies"] else None
        r["world_cpu_us_per_lookup"] = {k: (cpu_seconds(v) - world_before[k]) / r["replies"] * 1e6
                                        for k, v in world.items()} if r["replies"] else None
        return r

    def warm(self, name, keys):
        r = smload(self.ns, PORTS[name], keys, min(50, self.o.hot_keys), once=True, expect="OK")
        if r["errors"]:
            raise SystemExit(f"bench: warming {name} failed: {r['error_samples']}")

    def run(self):
        o = self.o
        self.make_servers()
        hot = write_keys(os.path.join(self.work, "hot.keys"), [f"d{i}.bench.test" for i in range(1, o.hot_keys + 1)])
        try:
            mem = {}
            first = write_keys(os.path.join(self.work, "first.keys"), ["d1.bench.test"])
            for name in SERVERS:
                self.servers[name].start()
                if name != "floor":
                    time.sleep(2)
                    bare = self.servers[name].rss()
                    # sts starts its stages with the first lookup: idle is measured after one lookup, with
                    # every stage process up (and one policy cached), for both daemons.
                    smload(self.ns, PORTS[name], first, 1, once=True, expect="OK")
                    time.sleep(2)
                    mem[name] = self.servers[name].rss() + bare + self.rss_without_idle_stages(name)
            self.results["idle_rss"] = {k: {"rss_kib": v[0], "processes": v[1], "at_start_rss_kib": v[2],
                                            "at_start_processes": v[3], "idle_rss_kib": v[4], "idle_processes": v[5]}
                                        for k, v in mem.items()}
            log("RSS after start and one lookup: " + ", ".join(f"{k} {v[0] / 1024:.1f} MiB" for k, v in mem.items())
                + "; right after start: " + ", ".join(f"{k} {v[2] / 1024:.1f} MiB" for k, v in mem.items())
                + f"; idle (sts's stages gone after stage_max_idle {self.o.stage_max_idle:g} s): "
                + ", ".join(f"{k} {v[4] / 1024:.1f} MiB" for k, v in mem.items()))
            for name in SERVERS:
                self.warm(name, hot)
            for scenario, run in (("hot", self.hot), ("hol", self.hol), ("cold", self.cold), ("memory", self.memory)):
                if scenario in o.scenarios:
                    run(hot) if scenario in ("hot", "hol") else run()
                    self.save()  # what is done so far survives an interrupted run
        finally:
            for s in self.servers.values():
                s.stop()
        self.results["finished"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        table = report(self.results)
        self.save()
        with open(os.path.join(self.out, "results.md"), "w") as f:
            f.write(table)
        plot(self.results, self.out)
        print(table)
        log(f"results in {self.out}")

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)

    def hot(self, keys):
        o = self.o
        runs = {c: {s: [] for s in SERVERS} for c in o.conns}
        for rnd in range(o.rounds):
            for c in o.conns:
                for name in SERVERS:
                    lat = os.path.join(self.work, f"hot-c{c}-{name}-r{rnd}.lat")
                    r = self.measured(name, keys, c, duration=o.duration, latencies=lat)
                    r["round"], r["latencies"] = rnd, lat
                    runs[c][name].append(r)
                    log(f"hot C={c} round {rnd + 1}/{o.rounds} {name}: {r['rps']:.0f}/s p50 {r['p50_us']} us "
                        f"p99 {r['p99_us']} us errors {r['errors']}, server CPU {r['server_cpu_us_per_lookup'] or 0:.0f} us/lookup")
        self.results["scenarios"]["hot"] = {str(c): runs[c] for c in o.conns}

    def hol(self, hot_keys):
        """Hot lookups at C=50 while 200 lookups wait on policy hosts that answer after 20 s."""
        o = self.o
        slow = write_keys(os.path.join(self.work, "slow.keys"), [f"slow{i}.bench.test" for i in range(1, o.slow + 1)])
        runs = {s: [] for s in SERVERS}
        duration = min(o.duration, 15)
        for rnd in range(o.hol_rounds):
            for name in SERVERS:
                if name != "floor":
                    self.fresh(name)  # the slow domains must not be cached yet
                    self.warm(name, hot_keys)
                waiting = smload(self.ns, PORTS[name], slow, o.slow, once=True, zone="slow", expect="OK",
                                 timeout=60, background=True)
                time.sleep(1.5)
                lat = os.path.join(self.work, f"hol-{name}-r{rnd}.lat")
                r = smload(self.ns, PORTS[name], hot_keys, 50, duration=duration, latencies=lat)
                w = finish(waiting)
                r["round"], r["latencies"], r["slow"] = rnd, lat, w
                runs[name].append(r)
                log(f"head-of-line round {rnd + 1}/{o.hol_rounds} {name}: hot {r['rps']:.0f}/s p99 {r['p99_us']} us "
                    f"errors {r['errors']}; slow lookups: {w['replies']} replies in {w['elapsed_s']:.1f} s, "
                    f"p50 {w['p50_us'] / 1e6:.1f} s, kinds {w['kinds']}")
        self.results["scenarios"]["hol"] = runs

    def cold(self):
        o = self.o
        names = [f"d{i}.bench.test" for i in range(1, o.cold_domains + 1)]
        keys = write_keys(os.path.join(self.work, "cold.keys"), names)
        # One untimed pass fills the world's resolver cache, so every timed run meets the same resolver.
        self.fresh("sts")
        r = smload(self.ns, PORTS["sts"], keys, 50, once=True, expect="ANY", timeout=120)
        log(f"cold warm-up pass (sts, untimed): {r['rps']:.0f}/s kinds {r['kinds']}")
        runs = {s: [] for s in SERVERS}
        # The cold floor takes the floor's place (and port) for this scenario.
        self.servers["floor"].stop()
        self.servers["floor"] = self.floor("smcoldfloor").start()
        try:
            for rnd in range(o.cold_rounds):
                for name in SERVERS:
                    self.fresh(name)
                    lat = os.path.join(self.work, f"cold-{name}-r{rnd}.lat")
                    r = self.measured(name, keys, 50, once=True, expect="OK", timeout=120, latencies=lat)
                    r["round"], r["latencies"] = rnd, lat
                    runs[name].append(r)
                    log(f"cold round {rnd + 1}/{o.cold_rounds} {name}: {r['rps']:.0f}/s p50 {r['p50_us']} us "
                        f"p99 {r['p99_us']} us kinds {r['kinds']} errors {r['errors']}, CPU µs/lookup: server "
                        f"{r['server_cpu_us_per_lookup'] or 0:.0f} {fmt_parts(r['server_cpu_us_by_process'])}, "
                        f"world {fmt_parts(r['world_cpu_us_per_lookup'])}")
        finally:
            self.servers["floor"].stop()
            self.servers["floor"] = self.floor("smfloor").start()
        self.results["scenarios"]["cold"] = runs

    def memory(self):
        """RSS of sts-socketmapd and its stages, idle and after N policies were fetched and cached."""
        o = self.o
        n = o.memory_policies
        names = [f"x{i}.many.bench.test" for i in range(1, n + 1)]
        t = time.monotonic()
        made = many_certs(o.world_dir, names)
        log(f"memory: {made} certificates made in {time.monotonic() - t:.0f} s")
        keys = write_keys(os.path.join(self.work, "many.keys"), names)
        out = {"policies": n}
        for name in o.memory_servers:
            # A cache_grace longer than the fill, so that the second pass is answered from the cache rather
            # than re-checking every TXT id (the fill of 100,000 domains takes minutes).
            self.fresh(name, grace=3600)
            time.sleep(2)
            bare, bare_parts = self.servers[name].rss()
            # sts starts its stages with the first lookup: idle is measured after one, with every stage up,
            # and again once they have gone after stage_max_idle.
            first = write_keys(os.path.join(self.work, "first.keys"), ["d1.bench.test"])
            smload(self.ns, PORTS[name], first, 1, once=True, expect="OK")
            time.sleep(2)
            idle, parts = self.servers[name].rss()
            quiet, quiet_parts = self.rss_without_idle_stages(name)
            fill = self.measured(name, keys, 50, once=True, expect="OK", timeout=120, duration=o.memory_fill_time)
            if fill["replies"] < n:
                log(f"memory {name}: the fill stopped after {o.memory_fill_time:.0f} s (--memory-fill-time) with "
                    f"{fill['replies']} of {n} domains looked up")
                keys = write_keys(os.path.join(self.work, "many-done.keys"), names[:fill["replies"]])
            log(f"memory {name}: {fill['replies']} lookups through the real path: {fill['rps']:.0f}/s kinds {fill['kinds']} "
                f"errors {fill['errors']}")
            check = smload(self.ns, PORTS[name], keys, 50, once=True, expect="OK", timeout=120)
            log(f"memory {name}: second pass (from the cache): {check['rps']:.0f}/s kinds {check['kinds']} "
                f"errors {check['errors']}")
            time.sleep(2)
            full, full_parts = self.servers[name].rss()
            full_quiet, full_quiet_parts = self.rss_without_idle_stages(name)
            cached = check["kinds"]["OK"]
            out[name] = {"bare_rss_kib": bare, "bare_processes": bare_parts, "idle_rss_kib": idle, "idle_processes": parts, "full_rss_kib": full,
                         "full_processes": full_parts, "idle_pss_kib": pss_kib(parts),
                         "full_pss_kib": pss_kib(full_parts), "fill": fill, "check": check, "cached": cached,
                         "per_policy_bytes_with_stages": (full - idle) * 1024 / cached if cached else None,
                         "quiet_rss_kib": quiet, "quiet_processes": quiet_parts,
                         "full_quiet_rss_kib": full_quiet, "full_quiet_processes": full_quiet_parts,
                         "per_policy_bytes": (full_quiet - quiet) * 1024 / cached if cached else None}
            log("memory {}: by process after: {}".format(name, ", ".join(
                f"{p['name']} RSS {p['rss_kib'] / 1024:.1f} PSS {p['pss_kib'] / 1024:.1f} MiB" for p in full_parts)))
            log(f"memory {name}: with the stages up: idle {idle / 1024:.1f} MiB, after {cached} cached policies "
                f"{full / 1024:.1f} MiB, {out[name]['per_policy_bytes_with_stages'] or 0:.0f} bytes per policy; "
                f"after stage_max_idle: {quiet / 1024:.1f} → {full_quiet / 1024:.1f} MiB, "
                f"{out[name]['per_policy_bytes'] or 0:.0f} bytes per policy")
        self.results["scenarios"]["memory"] = out


def machine():
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/loadavg") as f:
            info["loadavg_at_start"] = f.read().split()[:3]
    except OSError:
        pass
    info["kernel"] = os.uname().release
    return info


# ---------------------------------------------------------------------------------------------------
# the report


def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, float) and v < 100:
        return f"{v:.2f}{unit}"
    return f"{v:,.0f}{unit}"


def fmt_parts(parts):
    """{name: µs} as `name 123, other 45` (the log's CPU breakdown)."""
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted((parts or {}).items())) or "–"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "–" if ok is None else ("met" if ok else "**missed**")


def report(res):
    sc = res["scenarios"]
    lines = [f"# sts benchmark {res['started']}", "",
             f"Command: `{res['command']}`  ", f"Machine: {res['machine'].get('nproc')} CPUs "
             f"({res['machine'].get('cpu', '?')}), kernel {res['machine'].get('kernel')}, load average at start "
             f"{' '.join(res['machine'].get('loadavg_at_start', []))}  ",
             f"Cache type: {res['options']['cache']}; medians of alternating runs (floor, sts, old, ...).  ",
             "The floor is smfloor (a fixed reply) except in the cold rows, where it is smcoldfloor (the TXT and A "
             "queries and one bare OpenSSL HTTPS GET per lookup, then a fixed reply).", ""]
    lines += ["| scenario | figure | floor | sts | old | sts/floor | old/floor | sts/old |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    targets = []
    med = {}
    if "hot" in sc:
        for c, runs in sc["hot"].items():
            rounds = len(runs["sts"])
            for field, label in (("rps", "lookups/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs"), ("p999_us", "p99.9 µs")):
                m = {s: summary(runs[s], field) for s in SERVERS}
                med[("hot", c, field)] = m
                lines.append(f"| hot C={c} ({rounds} rounds) | {label} | {fmt(m['floor'])} | {fmt(m['sts'])} | "
                             f"{fmt(m['old'])} | {fmt(ratio(m['sts'], m['floor']))} | {fmt(ratio(m['old'], m['floor']))} | "
                             f"{fmt(ratio(m['sts'], m['old']))} |")
            m = {s: summary(runs[s], "server_cpu_us_per_lookup") for s in SERVERS}
            lines.append(f"| hot C={c} | server CPU µs per lookup | {fmt(m['floor'])} | {fmt(m['sts'])} | "
                         f"{fmt(m['old'])} | {fmt(ratio(m['sts'], m['floor']))} | {fmt(ratio(m['old'], m['floor']))} | "
                         f"{fmt(ratio(m['sts'], m['old']))} |")
            errs = {s: sum(r["errors"] for r in runs[s]) for s in SERVERS}
            lines.append(f"| hot C={c} | errors | {errs['floor']} | {errs['sts']} | {errs['old']} | | | |")
    if "hol" in sc:
        runs = sc["hol"]
        for field, label in (("rps", "lookups/s"), ("p99_us", "p99 µs")):
            m = {s: summary(runs[s], field) for s in SERVERS}
            med[("hol", field)] = m
            lines.append(f"| head-of-line, hot C=50 while {res['options']['slow']} lookups wait 20 s | {label} | "
                         f"{fmt(m['floor'])} | {fmt(m['sts'])} | {fmt(m['old'])} | {fmt(ratio(m['sts'], m['floor']))} | "
                         f"{fmt(ratio(m['old'], m['floor']))} | {fmt(ratio(m['sts'], m['old']))} |")
        slow_ok = {s: sum(r["slow"]["kinds"]["OK"] for r in runs[s]) for s in ("sts", "old")}
        slow_n = {s: sum(r["slow"]["replies"] for r in runs[s]) for s in ("sts", "old")}
        lines.append(f"| head-of-line | slow lookups answered OK | | {slow_ok['sts']}/{slow_n['sts']} | "
                     f"{slow_ok['old']}/{slow_n['old']} | | | |")
    if "cold" in sc:
        runs = sc["cold"]
        rounds = len(runs["sts"])
        for field, label in (("rps", "lookups/s"), ("p50_us", "p50 µs"), ("p99_us", "p99 µs")):
            m = {s: summary(runs[s], field) for s in SERVERS}
            med[("cold", field)] = m
            lines.append(f"| cold, {res['options']['cold_domains']} domains, C=50 ({rounds} rounds) | {label} | "
                         f"{fmt(m['floor'])} | {fmt(m['sts'])} | {fmt(m['old'])} | {fmt(ratio(m['sts'], m['floor']))} | "
                         f"{fmt(ratio(m['old'], m['floor']))} | {fmt(ratio(m['sts'], m['old']))} |")
        m = {s: summary(runs[s], "server_cpu_us_per_lookup") for s in SERVERS}
        lines.append(f"| cold | server CPU µs per lookup | {fmt(m['floor'])} | {fmt(m['sts'])} | {fmt(m['old'])} | "
                     f"{fmt(ratio(m['sts'], m['floor']))} | {fmt(ratio(m['old'], m['floor']))} | {fmt(ratio(m['sts'], m['old']))} |")
        for part in sorted({k for r in runs["sts"] for k in (r.get("server_cpu_us_by_process") or {})}):
            m = median([(r.get("server_cpu_us_by_process") or {}).get(part) for r in runs["sts"]])
            lines.append(f"| cold | sts: {part} CPU µs per lookup | | {fmt(m)} | | | | |")
        for w in ("nginx", "unbound"):
            m = {s: median([(r.get("world_cpu_us_per_lookup") or {}).get(w) for r in runs[s]]) for s in SERVERS}
            lines.append(f"| cold | {w} CPU µs per lookup | {fmt(m['floor'])} | {fmt(m['sts'])} | {fmt(m['old'])} | | | |")
        errs = {s: sum(r["errors"] for r in runs[s]) for s in SERVERS}
        lines.append(f"| cold | not OK (errors) | {errs['floor']} | {errs['sts']} | {errs['old']} | | | |")
    idle = res.get("idle_rss", {})
    if idle:
        lines.append(f"| idle (sts: stages gone after stage_max_idle {res['options']['stage_max_idle']:g} s) | RSS MiB (daemon + stages) | | "
                     f"{fmt(idle.get('sts', {}).get('idle_rss_kib', 0) / 1024)} | "
                     f"{fmt(idle.get('old', {}).get('idle_rss_kib', 0) / 1024)} | | | |")
        lines.append(f"| idle, after one lookup | RSS MiB (daemon + stages) | | {fmt(idle.get('sts', {}).get('rss_kib', 0) / 1024)} | "
                     f"{fmt(idle.get('old', {}).get('rss_kib', 0) / 1024)} | | | |")
        lines.append(f"| idle, after one lookup | PSS MiB (shared pages divided) | | "
                     f"{fmt(pss_kib(idle.get('sts', {}).get('processes', [])) / 1024)} | "
                     f"{fmt(pss_kib(idle.get('old', {}).get('processes', [])) / 1024)} | | | |")
        lines.append(f"| idle, right after start | RSS MiB (daemon + stages) | | "
                     f"{fmt(idle.get('sts', {}).get('at_start_rss_kib', 0) / 1024)} | "
                     f"{fmt(idle.get('old', {}).get('at_start_rss_kib', 0) / 1024)} | | | |")
    mem = sc.get("memory")
    if mem:
        for s in ("sts", "old"):
            if s in mem:
                m = mem[s]
                if m.get("full_quiet_rss_kib") is not None:
                    lines.append(f"| memory, {m['cached']} cached policies ({s}), after stage_max_idle | RSS MiB idle → full; bytes/policy | | "
                                 f"{fmt(m['quiet_rss_kib'] / 1024)} → {fmt(m['full_quiet_rss_kib'] / 1024)}; {fmt(m['per_policy_bytes'])} B |||||")
                    m = dict(m, per_policy_bytes=m["per_policy_bytes_with_stages"])
                lines.append(f"| memory, {m['cached']} cached policies ({s}), stages up | RSS MiB idle → full; bytes/policy | | "
                             + (f"{fmt(m['idle_rss_kib'] / 1024)} → {fmt(m['full_rss_kib'] / 1024)}; "
                                f"{fmt(m['per_policy_bytes'])} B" if s == "sts" else "") + " | "
                             + (f"{fmt(m['idle_rss_kib'] / 1024)} → {fmt(m['full_rss_kib'] / 1024)}; "
                                f"{fmt(m['per_policy_bytes'])} B" if s == "old" else "") + " | | | |")

    if mem:
        for s in ("sts", "old"):
            if s in mem:
                m = mem[s]
                by = ", ".join(f"{p['name']} {p['rss_kib'] / 1024:.1f}/{p['pss_kib'] / 1024:.1f}"
                               for p in m["full_processes"])
                lines.append(f"| memory, {m['cached']} cached policies ({s}) | by process, RSS/PSS MiB | {by} |||||| ")
                lines.append(f"| memory, {m['cached']} cached policies ({s}) | PSS MiB idle → full | | "
                             f"{fmt(m['idle_pss_kib'] / 1024)} → {fmt(m['full_pss_kib'] / 1024)} |||||")
    res["machine"]["loadavg_at_end"] = open("/proc/loadavg").read().split()[:3]
    lines.insert(4, f"Load average at the end: {' '.join(res['machine']['loadavg_at_end'])}  ")

    # targets
    def get(key, server):
        return med.get(key, {}).get(server)
    if ("hot", "50", "rps") in med:
        r = ratio(get(("hot", "50", "rps"), "sts"), get(("hot", "50", "rps"), "floor"))
        targets.append(("hot C=50: lookups/s ≥ 60% of the floor's", fmt(r), r is not None and r >= 0.6))
        r = ratio(get(("hot", "50", "rps"), "sts"), get(("hot", "50", "rps"), "old"))
        targets.append(("hot C=50: lookups/s ≥ 2.5× the old daemon's", fmt(r) + "×", r is not None and r >= 2.5))
        p = get(("hot", "50", "p99_us"), "sts")
        targets.append(("hot C=50: p99 < 1 ms", fmt(p, " µs"), p is not None and p < 1000))
    if ("hot", "1", "rps") in med:
        r = ratio(get(("hot", "1", "rps"), "sts"), get(("hot", "1", "rps"), "floor"))
        targets.append(("hot C=1: lookups/s ≥ 85% of the floor's", fmt(r), r is not None and r >= 0.85))
    if ("cold", "rps") in med:
        r = ratio(get(("cold", "rps"), "sts"), get(("cold", "rps"), "old"))
        targets.append(("cold C=50: lookups/s ≥ 3× the old daemon's", fmt(r) + "×", r is not None and r >= 3))
        f = ratio(get(("cold", "rps"), "floor"), get(("cold", "rps"), "old"))
        targets.append(("cold C=50, for scale (no target): the cold floor's lookups/s over the old daemon's", fmt(f) + "×", None))
    if ("hol", "p99_us") in med and ("hot", "50", "p99_us") in med:
        r = ratio(get(("hol", "p99_us"), "sts"), get(("hot", "50", "p99_us"), "sts"))
        targets.append(("head-of-line: hot p99 at C=50 within 2× of hot p99 without slow lookups", fmt(r) + "×",
                        r is not None and r <= 2))
    if idle.get("sts"):
        v = idle["sts"]["idle_rss_kib"] / 1024
        targets.append(("memory: idle RSS (daemon + stages; the stages exit after stage_max_idle) ≤ 40 MiB", fmt(v, " MiB"), v <= 40))
    if mem and "sts" in mem and mem["sts"]["per_policy_bytes"] is not None:
        v = mem["sts"]["per_policy_bytes"]
        targets.append((f"memory: ≤ 1 KiB per cached policy ({mem['sts']['cached']} policies)", fmt(v, " B"), v <= 1024))
    lines += ["", "| target | measured | |", "|---|---:|---|"]
    lines += [f"| {t} | {v} | {verdict(ok)} |" for t, v, ok in targets]
    res["targets"] = [{"target": t, "measured": v, "met": ok} for t, v, ok in targets]
    return "\n".join(lines) + "\n"


def plot(res, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError:
        log("matplotlib is missing: no plot")
        return
    sc = res["scenarios"]
    panels = []
    if "hot" in sc and "50" in sc["hot"]:
        panels.append(("hot, C=50", {s: sc["hot"]["50"][s] for s in SERVERS}))
    if "hot" in sc and "1" in sc["hot"]:
        panels.append(("hot, C=1", {s: sc["hot"]["1"][s] for s in SERVERS}))
    if "hol" in sc:
        panels.append(("hot C=50 during 200 slow lookups", sc["hol"]))
    if "cold" in sc:
        panels.append(("cold, C=50", sc["cold"]))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (title, runs) in zip(axes[0], panels):
        for s in SERVERS:
            if not runs.get(s):
                continue
            # the run with the median lookups/s
            ordered = sorted(runs[s], key=lambda r: r["rps"])
            run = ordered[len(ordered) // 2]
            path = run.get("latencies")
            if not path or not os.path.exists(path):
                continue
            lat = np.sort(np.loadtxt(path, dtype=np.float64, ndmin=1))
            if not len(lat):
                continue
            y = 1 - np.arange(len(lat)) / len(lat)
            ax.plot(lat / 1000, y, label=f"{s} ({run['rps']:.0f}/s)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("latency, ms")
        ax.set_ylabel("fraction of lookups slower")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency.png"), dpi=110)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--netns", default="sts-bench")
    p.add_argument("--world-dir", default="/tmp/sts-bench-world")
    p.add_argument("--sts-bin", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("--results", required=True)
    p.add_argument("--command", default="scripts/bench.sh")
    p.add_argument("--scenarios", default="hot,hol,cold,memory")
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--conns", default="50,1")
    p.add_argument("--hot-keys", type=int, default=100)
    p.add_argument("--cold-domains", type=int, default=2000)
    p.add_argument("--cold-rounds", type=int, default=3)
    p.add_argument("--slow", type=int, default=200)
    p.add_argument("--hol-rounds", type=int, default=1)
    p.add_argument("--memory-policies", type=int, default=100000)
    p.add_argument("--memory-servers", default="sts")
    p.add_argument("--memory-fill-time", type=float, default=900)
    p.add_argument("--stage-max-idle", type=float, default=10)
    p.add_argument("--cache", default="internal", choices=["internal", "sqlite"])
    p.add_argument("--cache-size", type=int, default=200000)
    p.add_argument("--sts-args", default="")
    p.add_argument("--old-args", default="")
    o = p.parse_args()
    o.scenarios = [s for s in o.scenarios.split(",") if s]
    o.conns = [c for c in o.conns.split(",") if c]
    o.memory_servers = [s for s in o.memory_servers.split(",") if s]
    o.sts_args = o.sts_args.split()
    o.old_args = o.old_args.split()
    Bench(o).run()


if __name__ == "__main__":
    main()
