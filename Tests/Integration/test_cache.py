"""sts-cache as a user runs it: the real binary over a sqlite file, a real redis server and a real
PostgreSQL database (the same tests for each store), one process per step."""
import os
import subprocess
import time

import pytest

from stages import binary, run_stage

BODY = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 86400\n"
ENFORCE = {
    "status": "valid",
    "version": "STSv1",
    "mode": "enforce",
    "max_age": 86400,
    "mx": ["mail.example.com", "*.example.net"],
    "lines": BODY.strip().split("\n"),
}
ANSWER = "secure match=mail.example.com:.example.net servername=hostname"


def found(policy_id):
    return {"status": "found", "id": policy_id, "record": f"v=STSv1; id={policy_id};", "ttl": 300}


class Store:
    """A shared store: the sts-cache options that reach it."""

    def __init__(self, *args):
        self.args = list(args)

    def __str__(self):
        return " ".join(self.args)


def store_args(db):
    return db.args if isinstance(db, Store) else ["--sqlite", str(db)]


def cache(db, *args, input="", extra=()):
    return run_stage("sts-cache", *extra, *store_args(db), *args, input=input, netns=None)


def entry(domain, policy_id="a1", policy=ENFORCE, expires_at=None, now=None):
    now = now or int(time.time())
    return {
        "domain": domain,
        "policy_id": policy_id,
        "policy": policy,
        "fetched_at": now,
        "confirmed_at": now,
        "expires_at": expires_at if expires_at is not None else now + 86400,
    }


def put(db, *entries):
    run = cache(db, "ops", input=[{"op": "put", "entry": e} for e in entries])
    assert run.returncode == 0, run.stderr
    assert [r["cache"]["status"] for r in run.records] == ["stored"] * len(entries), run.stdout


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def db(request, tmp_path):
    """Each test runs over a sqlite file, redis and PostgreSQL, each empty at the start."""
    if request.param == "sqlite":
        return tmp_path / "cache.db"
    if request.param == "redis":
        store = Store("--redis", request.getfixturevalue("redis_server").url)
    else:
        store = Store("--postgres", request.getfixturevalue("postgres_server").dsn)
    purged = cache(store, "purge", "--all")
    assert purged.returncode == 0, purged.stderr
    return store


def test_store_then_lookup_in_separate_runs(db):
    records = [
        {"id": 1, "domain": "example.com", "txt": found("a1"), "fetch": {"status": "ok", "body": BODY}, "policy": ENFORCE},
        {"id": 2, "domain": "none.example", "txt": {"status": "none", "reason": "nxdomain", "ttl": 300}},
        {"id": 3, "domain": "err.example", "txt": {"status": "error", "error": {"kind": "dns-servfail", "message": "SERVFAIL"}}},
    ]
    before = int(time.time())
    stored = cache(db, "store", "--ordered", input=records)
    assert stored.returncode == 0, stored.stderr
    out = stored.records
    assert [r["id"] for r in out] == [1, 2, 3]
    assert out[0]["cache"]["status"] == "stored"
    assert out[0]["cache"]["entry"]["policy"] == ENFORCE
    assert out[0]["cache"]["entry"]["policy_id"] == "a1"
    assert out[0]["cache"]["entry"]["expires_at"] - out[0]["cache"]["entry"]["fetched_at"] == 86400
    assert out[0]["cache"]["entry"]["fetched_at"] >= before
    assert out[1]["cache"]["status"] == "stored"
    assert out[1]["cache"]["entry"]["policy"] is None
    assert out[2]["cache"] == {"status": "unchanged"}
    for original, result in zip(records, out):
        assert {k: v for k, v in result.items() if k != "cache"} == original

    looked = cache(db, "lookup", "--ordered", input=[
        {"domain": "example.com", "txt": found("a1")},
        {"domain": "EXAMPLE.COM.", "txt": found("b2")},
        {"domain": "none.example"},
        "err.example",
    ])
    assert looked.returncode == 0, looked.stderr
    same, changed, negative, missing = looked.records
    assert same["cache"]["status"] == "hit"
    assert same["cache"]["fresh"] is True
    assert same["cache"]["policy_id"] == "a1"
    assert same["cache"]["entry"]["policy"] == ENFORCE
    assert changed["cache"]["fresh"] is False
    assert changed["domain"] == "EXAMPLE.COM."
    assert negative["cache"]["negative"] is True
    assert negative["cache"]["fresh"] is True
    assert "policy_id" not in negative["cache"]
    assert missing == {"domain": "err.example", "cache": {"status": "miss"}}


def test_parsed_pipeline_records_are_stored_and_a_failed_fetch_backs_off(db):
    record = {"domain": "example.com", "txt": found("a1"), "fetch": {"status": "ok", "body": BODY}}
    parsed = run_stage("sts-parse", input=[record], netns=None)
    stored = cache(db, "store", input=parsed.stdout)
    assert stored.records[0]["cache"]["entry"]["policy"] == ENFORCE

    failed = {"domain": "example.com", "txt": found("b2"), "fetch": {"status": "error", "error": {"kind": "sts-policy-fetch-error", "message": "HTTP 404"}}}
    stored = cache(db, "store", input=[failed])
    kept = stored.records[0]["cache"]["entry"]
    assert kept["policy_id"] == "a1" and kept["policy"] == ENFORCE
    assert kept["failed_id"] == "b2"

    looked = cache(db, "lookup", input=[{"domain": "example.com", "txt": found("b2")}])
    assert looked.records[0]["cache"]["backoff_id"] == "b2"
    assert looked.records[0]["cache"]["fresh"] is False


def test_audit_pipeline_skips_the_fetch_of_a_current_policy(db):
    """lookup | sts-fetch | sts-parse | store over real processes: the cached id is fresh, so nothing is
    fetched (no network is needed) and store confirms the cached policy."""
    first = {"domain": "example.com", "txt": found("a1"), "fetch": {"status": "ok", "body": BODY}}
    cache(db, "store", input=run_stage("sts-parse", input=[first], netns=None).stdout)
    store = " ".join(f"'{arg}'" for arg in store_args(db))
    pipeline = " | ".join([
        f"{binary('sts-cache')} {store} lookup",
        binary("sts-fetch"),
        binary("sts-parse"),
        f"{binary('sts-cache')} {store} store",
    ])
    run = run_stage("bash", "-o", "pipefail", "-c", pipeline, input=[{"id": 9, "domain": "example.com", "txt": found("a1")}], netns=None)
    assert run.returncode == 0, run.stderr
    (record,) = run.records
    assert "fetch" not in record and "policy" not in record
    assert record["id"] == 9
    assert record["cache"]["status"] in ("stored", "unchanged")
    assert cache(db, "dump").records[0]["policy"] == ENFORCE


def test_dump_writes_every_entry_in_domain_order(db):
    now = int(time.time())
    put(db, entry("b.example", now=now), entry("a.example", policy_id=None, policy=None, now=now), entry("c.example", now=now))
    run = cache(db, "dump")
    assert run.returncode == 0, run.stderr
    assert [r["domain"] for r in run.records] == ["a.example", "b.example", "c.example"]
    assert run.records[1] == entry("b.example", now=now)
    assert run.records[0]["policy"] is None


def test_export_is_a_postfix_table(db):
    now = int(time.time())
    testing = dict(ENFORCE, mode="testing")
    none = {"status": "valid", "version": "STSv1", "mode": "none", "max_age": 86400, "mx": [], "lines": []}
    put(
        db,
        entry("example.com", now=now),
        entry("testing.example", policy=testing, now=now),
        entry("none.example", policy=none, now=now),
        entry("negative.example", policy_id=None, policy=None, now=now),
        entry("expired.example", expires_at=now - 10, now=now - 100),
    )
    run = cache(db, "export")
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"example.com\t{ANSWER}\n"
    run = cache(db, "export", "--no-sni", "--strict-testing", "--include-expired")
    assert run.lines == [
        "example.com\tsecure match=mail.example.com:.example.net",
        "expired.example\tsecure match=mail.example.com:.example.net",
        "testing.example\tsecure match=mail.example.com:.example.net",
    ]
    run = cache(db, "export", "--tlsrpt")
    assert run.lines[0].startswith(f"example.com\t{ANSWER} policy_type=sts policy_domain=example.com mx_host_pattern=mail.example.com")


def test_ops_over_the_file(db):
    good = entry("example.com")
    run = cache(db, "ops", "--ordered", input=[
        {"id": "p", "op": "put", "entry": good},
        {"id": "bad", "op": "put", "entry": dict(good, domain="Example.COM")},
        {"id": "g", "op": "get", "domain": "example.com"},
        {"id": "l", "op": "list", "limit": 1},
        {"id": "d", "op": "delete", "domain": "example.com"},
        {"id": "g2", "op": "get", "domain": "example.com"},
    ])
    assert run.returncode == 0, run.stderr
    by_id = {r["id"]: r["cache"] for r in run.records}
    assert by_id["p"] == {"status": "stored", "entry": good}
    assert by_id["bad"]["status"] == "error" and by_id["bad"]["error"]["kind"] == "invalid-input"
    assert by_id["g"]["entry"] == good
    assert by_id["l"] == {"status": "ok", "entries": [good], "next": None}
    assert by_id["d"] == {"status": "deleted"}
    assert by_id["g2"] == {"status": "miss"}


def test_memory_backend_lasts_one_run():
    good = entry("example.com")
    run = run_stage("sts-cache", "--memory", "ops", input=[{"op": "put", "entry": good}, {"op": "get", "domain": "example.com"}], netns=None)
    assert [r["cache"]["status"] for r in run.records] == ["stored", "hit"]
    run = run_stage("sts-cache", "--memory", "ops", input=[{"op": "get", "domain": "example.com"}], netns=None)
    assert run.records[0]["cache"] == {"status": "miss"}


def test_purge(db):
    put(db, entry("a.example"), entry("b.example"), entry("c.example"))
    run = cache(db, "purge", "A.example.", "x.example")
    assert (run.returncode, run.stdout) == (0, "1\n"), run.stderr
    run = cache(db, "purge", "b.example", "not a domain")
    assert run.returncode == 2
    assert run.stderr.startswith('sts-cache: cannot purge "not a domain"') and run.stderr.count("\n") == 1
    assert [r["domain"] for r in cache(db, "dump").records] == ["b.example", "c.example"], "nothing deleted after a bad name"
    run = cache(db, "purge")
    assert run.returncode != 0 and "--all" in run.stderr
    run = cache(db, "purge", "--all")
    assert (run.returncode, run.stdout) == (0, "2\n")
    assert cache(db, "dump").stdout == ""


def test_a_backend_is_required():
    run = run_stage("sts-cache", "dump", netns=None)
    assert run.returncode != 0
    assert "--sqlite" in run.stderr and "--memory" in run.stderr and "--redis" in run.stderr and "--postgres" in run.stderr


@pytest.mark.parametrize("args, message", [
    (["--redis", "redis://127.0.0.1:1/0"], "redis redis://127.0.0.1:1/0: Connection refused"),
    (["--postgres", "host=/nonexistent user=sts"], "postgres host=/nonexistent user=sts: connection to server"),
    (["--postgres", "postgresql://sts:secret@/sts?host=/nonexistent"], "postgresql://sts:***@/sts"),
])
def test_an_unreachable_server_is_a_one_line_error(args, message):
    run = run_stage("sts-cache", *args, "dump", netns=None)
    assert run.returncode == 2
    assert message in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert "secret" not in run.stderr


def test_an_unusable_redis_url_is_a_usage_error():
    run = run_stage("sts-cache", "--redis", "rediss://example.com", "dump", netns=None)
    assert run.returncode == 64 and "TLS (rediss://) is not supported" in run.stderr


def test_entries_in_redis_expire_a_day_after_the_policy(redis_server):
    store = Store("--redis", redis_server.url)
    cache(store, "purge", "--all")
    now = int(time.time())
    put(store, entry("ttl.example", expires_at=now + 3600, now=now))
    ttl = int(redis_server.cli("TTL", "sts:entry:ttl.example"))
    assert 3600 + 86400 - 10 <= ttl <= 3600 + 86400
    # A value that is not a checked entry (written by something else) is treated as absent.
    redis_server.cli("SET", "sts:entry:bad.example", '{"domain":"other.example"}')
    redis_server.cli("ZADD", "sts:domains", "0", "bad.example")
    assert [r["domain"] for r in cache(store, "dump").records] == ["ttl.example"]


def test_postgres_evicts_the_least_recently_used_beyond_cache_size(postgres_server):
    store = Store("--postgres", postgres_server.dsn)
    cache(store, "purge", "--all")
    put(store, *[entry(f"e{n:02}.example") for n in range(40)])
    run = cache(store, "ops", input=[{"op": "put", "entry": entry(f"f{n:02}.example")} for n in range(20)], extra=["--cache-size", "30"])
    assert run.returncode == 0, run.stderr
    count = int(postgres_server.psql("SELECT count(*) FROM sts_policy"))
    assert count <= 30 + 2, count
    assert "f19.example" in postgres_server.psql("SELECT domain FROM sts_policy")


@pytest.mark.parametrize("args", [("dump",), ("lookup",), ("export",)])
def test_a_damaged_file_is_a_one_line_error(tmp_path, args):
    db = tmp_path / "damaged.db"
    db.write_bytes(os.urandom(8192))
    run = cache(db, *args, input="example.com\n")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("sts-cache: ") and run.stderr.count("\n") == 1
    assert str(db) in run.stderr and "not a database" in run.stderr


def test_a_damaged_page_is_found_at_start(tmp_path):
    db = tmp_path / "cache.db"
    put(db, *[entry(f"d{n}.example") for n in range(300)])
    data = bytearray(db.read_bytes())
    assert len(data) > 5 * 4096
    data[2 * 4096:5 * 4096] = os.urandom(3 * 4096)
    db.write_bytes(bytes(data))
    run = cache(db, "dump")
    assert run.returncode == 2
    assert run.stderr.startswith("sts-cache: ") and run.stderr.count("\n") == 1
    assert "malformed" in run.stderr or "damaged" in run.stderr


def unprivileged(argv):
    """As root, permission bits do not stop writes; without the override capability they do."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *argv]


def test_a_read_only_directory_is_a_one_line_error(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        proc = subprocess.run(unprivileged([binary("sts-cache"), "--sqlite", str(directory / "c.db"), "dump"]), capture_output=True, text=True, timeout=30)
    finally:
        directory.chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr.startswith("sts-cache: ") and proc.stderr.count("\n") == 1
    assert str(directory / "c.db") in proc.stderr
    assert not (directory / "c.db").exists()


def test_an_existing_file_in_a_read_only_directory_is_a_one_line_error(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    put(directory / "c.db", entry("example.com"))
    directory.chmod(0o555)
    try:
        proc = subprocess.run(unprivileged([binary("sts-cache"), "--sqlite", str(directory / "c.db"), "dump"]), capture_output=True, text=True, timeout=30)
    finally:
        directory.chmod(0o755)
    assert proc.returncode == 2
    assert proc.stderr.startswith("sts-cache: ") and proc.stderr.count("\n") == 1


def test_help_names_every_subcommand():
    run = run_stage("sts-cache", "--help", netns=None)
    assert run.returncode == 0
    for name in ("lookup", "store", "ops", "dump", "export", "purge", "--sqlite", "--memory", "--cache-size", "--grace"):
        assert name in run.stdout


def test_writing_to_a_shared_file_evicts_only_when_asked(tmp_path):
    db = tmp_path / "shared.db"
    now = int(time.time())
    puts = [{"op": "put", "entry": entry(f"s{n:05}.example", policy_id=None, policy=None, now=now)} for n in range(10050)]
    assert cache(db, "ops", "--concurrency", "64", input=puts).returncode == 0
    assert len(cache(db, "dump").records) == 10050, "no eviction without --cache-size"
    run = cache(db, "ops", input=[{"op": "put", "entry": entry("t.example")}] * 70, extra=["--cache-size", "10000"])
    assert run.returncode == 0, run.stderr
    assert len(cache(db, "dump").records) <= 10000 + 1


def test_redis_evicts_the_entries_closest_to_expiry_beyond_cache_size(redis_server):
    store = Store("--redis", redis_server.url)
    cache(store, "purge", "--all")
    now = int(time.time())
    puts = [{"op": "put", "entry": entry(f"r{n:02}.example", expires_at=now + 1000 + n, now=now)} for n in range(60)]
    run = cache(store, "ops", input=puts, extra=["--cache-size", "30"])
    assert run.returncode == 0, run.stderr
    domains = [r["domain"] for r in cache(store, "dump").records]
    assert len(domains) <= 30 + 2, len(domains)
    assert "r59.example" in domains and "r00.example" not in domains


ABSTRACTS = {
    "lookup": "Stage: add each record's cached entry",
    "store": "Stage: store what each record learnt",
    "ops": "Stage: get, put, delete and list entries",
    "dump": "Write every entry as one JSON line",
    "export": "Write the cached policies as a Postfix TLS policy table",
    "purge": "Delete the entries of the given domains",
}


@pytest.mark.parametrize("name", sorted(ABSTRACTS))
@pytest.mark.parametrize("form", ["help {}", "{} --help", "{} -h"])
def test_each_subcommands_help_needs_no_backend(name, form):
    run = run_stage("sts-cache", *form.format(name).split(), netns=None)
    assert run.returncode == 0, run.stderr
    assert ABSTRACTS[name] in " ".join(run.stdout.split()), run.stdout
    assert "SUBCOMMANDS:" not in run.stdout, "the subcommand's help, not the root's"
    usage = " ".join(run.stdout.split())
    assert "--sqlite" in usage and "--memory" in usage and f"] {name}" in usage, "the usage says a backend comes first"


def test_a_subcommand_without_a_backend_is_a_usage_error():
    for args in (["lookup"], ["purge", "--all"], ["--memory", "--sqlite", "x.db", "dump"]):
        run = run_stage("sts-cache", *args, netns=None)
        assert run.returncode == 64, (args, run.stderr)
        assert "give exactly one of --sqlite FILE" in run.stderr, run.stderr


def test_ops_put_refuses_a_negative_entry_with_an_id_naming_the_field(db):
    now = int(time.time())
    run = cache(db, "ops", "--ordered", input=[
        {"id": "bad", "op": "put", "entry": entry("bad2.test", policy_id="a-b; x=y", policy=None, now=now)},
        {"id": "id", "op": "put", "entry": entry("bad3.test", policy_id="abc", policy=None, now=now)},
        {"id": "failed", "op": "put", "entry": dict(entry("ok.test", policy_id=None, policy=None, now=now), failed_at=now, failed_id="b2")},
        {"id": "get", "op": "get", "domain": "bad3.test"},
    ])
    assert run.returncode == 0, run.stderr
    by_id = {r["id"]: r["cache"] for r in run.records}
    for refused in ("bad", "id"):
        assert by_id[refused]["status"] == "error" and by_id[refused]["error"]["kind"] == "invalid-input", by_id[refused]
        assert '"policy_id"' in by_id[refused]["error"]["message"], by_id[refused]
    assert by_id["failed"]["status"] == "stored", "a negative entry with a failure is what the daemon writes"
    assert by_id["get"] == {"status": "miss"}
    assert [r["domain"] for r in cache(db, "dump").records] == ["ok.test"]


def test_store_refuses_a_txt_id_that_could_not_be_read_back(db):
    record = {"domain": "x2.test", "txt": {"status": "found", "id": "a-b"}, "fetch": {"status": "ok", "body": BODY}, "policy": ENFORCE}
    run = cache(db, "store", input=[record])
    assert run.returncode == 0, run.stderr
    result = run.records[0]["cache"]
    assert result["status"] == "error" and result["error"]["kind"] == "invalid-input", result
    assert "txt.id" in result["error"]["message"]
    assert cache(db, "lookup", input=["x2.test"]).records[0]["cache"] == {"status": "miss"}
    assert cache(db, "dump").stdout == ""
