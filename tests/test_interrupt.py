"""Interrupted builds: a real `datasette-tei build` process killed (SIGKILL),
interrupted (SIGINT, as Ctrl-C sends it) or out of disk space at known
phases, and readers during a build.

The build stops itself at a named phase when DATASETTE_TEI_STOP_AT is set
(see checkpoints.checkpoint), so each test kills it exactly there, without timing.
After each interruption: every archive is either fully present or absent and
`imports` says which, the build is not marked complete, and running the same
command again gives exactly the database of an uninterrupted build.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.parse

import pytest

from datasette_tei.build.synthetic import generate_tweets, make_users, tweets_csv_text, users_csv_text, write_zip
from helpers import default_sigint, load_benchmark, query

bench = load_benchmark()

BUILD = os.path.join(os.path.dirname(sys.executable), "datasette-tei")
# Columns that differ between two builds of the same sources by construction.
VOLATILE = {"id", "import_id", "started", "finished", "updated", "created", "seconds"}
# A safety net, not a timing: on a machine shared with other builds, an
# fsync can wait a long time behind their writes.
TIMEOUT = 300


def tweets(n, seed, first_id, layout="2020"):
    return list(generate_tweets(n, layout, n_users=9, seed=seed, first_id=first_id))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Four archives, loaded in this order. The parser sends rows in batches
    of 1,000 (stream.BATCH), so the `rows` checkpoints fall: 1-4 in alpha's
    tweets (two members), 5 in alpha's users, 6-8 in beta, 9-10 in gamma."""
    root = tmp_path_factory.mktemp("interrupt-sources")
    alpha = str(root / "alpha_082020_tweets_csv_hashed.zip")
    write_zip(alpha, {
        "alpha_082020_tweets_csv_hashed_1.csv": tweets_csv_text(tweets(1500, 1, 10**17), "2020"),
        "alpha_082020_tweets_csv_hashed_2.csv": tweets_csv_text(tweets(1500, 2, 2 * 10**17), "2020"),
    })
    alpha_users = str(root / "alpha_082020_users_csv_hashed.csv")
    with open(alpha_users, "w", encoding="utf-8", newline="") as handle:
        handle.write(users_csv_text(make_users(9, "2020", seed=1), "2020"))
    # beta: 2,500 tweets, 300 of them also in alpha, two malformed rows.
    rows = tweets(300, 1, 10**17) + tweets(2200, 3, 3 * 10**17, "2019")
    for row in rows[:300]:
        row["poll_choices"] = ""
    text = tweets_csv_text(rows, "2019").splitlines(keepends=True)
    text[400] = "1,2,3\n"
    text[1700] = text[1700].replace(",True,", ",maybe,").replace(",False,", ",maybe,")
    beta = str(root / "beta_092020_tweets_csv_hashed.zip")
    write_zip(beta, {"beta.csv": "".join(text)})
    gamma = str(root / "gamma_202012_tweets_csv_hashed.csv")
    with open(gamma, "w", encoding="utf-8", newline="") as handle:
        handle.write(tweets_csv_text(tweets(1200, 4, 4 * 10**17, "2018"), "2018"))
    return [alpha, alpha_users, beta, gamma]


def build(db, sources, stop_at=None, **kwargs):
    env = dict(os.environ)
    env.pop("DATASETTE_TEI_STOP_AT", None)
    if stop_at:
        env["DATASETTE_TEI_STOP_AT"] = stop_at
    setup = kwargs.pop("preexec_fn", None)

    def preexec():
        default_sigint()
        if setup:
            setup()

    return subprocess.Popen([BUILD, "build", db, "--silent", *sources], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=preexec,
                            **kwargs)


def wait_until_stopped(process):
    """Until the build stops itself at its checkpoint (polled: waitpid has no timeout)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        pid, status = os.waitpid(process.pid, os.WUNTRACED | os.WNOHANG)
        if pid:
            assert os.WIFSTOPPED(status), f"the build ended before its checkpoint (status {status})"
            return
        time.sleep(0.01)
    process.kill()
    pytest.fail("the build never reached its checkpoint")


def finished(process):
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, err


def ctrl_c(process):
    """Ctrl-C to a build stopped at its checkpoint: exit 130 and one line."""
    wait_until_stopped(process)
    os.killpg(process.pid, signal.SIGINT)  # the whole process group, as a terminal does
    os.killpg(process.pid, signal.SIGCONT)
    status, err = finished(process)
    assert status == 130
    assert err.strip().splitlines() == [
        "Interrupted: archives already committed are kept, the one in progress was rolled back. "
        "Run the same command again to finish."]


def run(db, sources, **kwargs):
    return finished(build(db, sources, **kwargs))


def snapshot(db):
    """Everything a build writes, minus ids and timestamps; checks the
    integrity of the file and of its full-text index on the way."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # The index's own structure (rank 0): its text is not tweet_text
        # where search.index_text cuts unspaced scripts into pairs.
        conn.execute("INSERT INTO tweets_fts (tweets_fts, rank) VALUES ('integrity-check', 0)")
        docs = conn.execute("SELECT count(*) FROM tweets_fts_docsize").fetchone()[0]
        assert docs == conn.execute("SELECT count(*) FROM tweets").fetchone()[0]
        state = {}
        tables = [name for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
                  if not sql.startswith("CREATE VIRTUAL")
                  and not name.endswith(("_data", "_idx", "_config")) and name != "sqlite_stat1"]
        for table in tables:
            cursor = conn.execute(f"SELECT * FROM [{table}]")
            keep = [i for i, d in enumerate(cursor.description) if d[0] not in VOLATILE]
            rows = [tuple(row[i] for i in keep) for row in cursor]
            if table == "tei_meta":
                rows = [row for row in rows if row[0] not in ("build_started", "build_finished")]
            state[table] = sorted(rows, key=repr) if isinstance(rows, list) else rows
        state["search"] = conn.execute(
            "SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH 'election OR \" 香港 \"' ORDER BY rowid").fetchall()
        state["indexes"] = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%' ORDER BY name").fetchall()
        return state
    finally:
        conn.close()


@pytest.fixture(scope="module")
def clean(sources, tmp_path_factory):
    """The database of an uninterrupted build of the same sources."""
    db = str(tmp_path_factory.mktemp("clean") / "clean.db")
    status, err = run(db, sources)
    assert status == 0, err
    state = snapshot(db)
    assert len(state["tweets"]) == 3000 + 2200 - 2 + 1200 and len(state["shared_tweets"]) == 300
    assert len(state["rejects"]) == 2
    imports = {}
    for path, member, rows_loaded, rows_rejected in query(
            db, "SELECT path, member, rows_loaded, rows_rejected FROM imports WHERE status = 'done'"):
        imports.setdefault(path, set()).add((member, rows_loaded, rows_rejected))
    return state, imports


def assert_each_archive_whole_or_absent(db, sources, clean_imports, expected_present):
    """`imports` lists exactly the archives that are present, each with all
    its members and all their rows; nothing else is in the database."""
    assert query(db, "SELECT value FROM tei_meta WHERE key = 'build_state'") == [("building",)]
    assert query(db, "SELECT count(*) FROM imports WHERE status != 'done'") == [(0,)]
    present = {}
    for path, member, rows_loaded, rows_rejected in query(
            db, "SELECT path, member, rows_loaded, rows_rejected FROM imports"):
        present.setdefault(path, set()).add((member, rows_loaded, rows_rejected))
    assert set(present) == {sources[i] for i in expected_present}
    for path, members in present.items():
        assert members == clean_imports[path]
    # Every row belongs to a present import, and every present import has all its rows.
    for import_id, kind, rows_loaded, rows_rejected in query(
            db, "SELECT id, kind, rows_loaded, rows_rejected FROM imports"):
        table = "tweets" if kind == "tweets" else "users"
        found = query(db, f"SELECT count(*) FROM {table} WHERE import_id = ?", (import_id,))[0][0]
        if kind == "tweets":
            found += query(db, "SELECT count(*) FROM shared_tweets WHERE import_id = ?", (import_id,))[0][0]
        assert found == rows_loaded
        assert query(db, "SELECT count(*) FROM rejects WHERE import_id = ?", (import_id,)) == [(rows_rejected,)]
    for table in ("tweets", "users", "shared_tweets", "rejects"):
        assert query(db, f"SELECT count(*) FROM {table} WHERE import_id IS NOT NULL "
                         "AND import_id NOT IN (SELECT id FROM imports)") == [(0,)]
    assert query(db, "SELECT count(*) FROM tweets_fts_docsize") == query(db, "SELECT count(*) FROM tweets")
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# (checkpoint, archives fully present when the build is stopped there)
PHASES = [
    ("rows:3", []),            # alpha's second member: its first member, loaded, goes too
    ("rows:7", [0, 1]),        # inside beta, after alpha's tweets and users committed
    ("indexes", [0, 1, 2, 3]),  # every archive loaded, indexes not yet committed
    ("summary:2", [0, 1, 2, 3]),  # one campaign summarised, the second not yet committed
    ("coordination:2", [0, 1, 2, 3]),  # one network computed, the second not yet committed
]


KILLS = [(signal.SIGKILL, stop_at, present) for stop_at, present in PHASES] + [
    (signal.SIGTERM, "rows:7", [0, 1]),  # a plain `kill`: no handler, the same abrupt end
]


@pytest.mark.parametrize("signum, stop_at, present", KILLS,
                         ids=[f"{signal.Signals(k[0]).name}-{k[1]}" for k in KILLS])
def test_sigkill_then_rerun_gives_the_uninterrupted_database(tmp_path, sources, clean, signum, stop_at, present):
    db = str(tmp_path / "tei.db")
    process = build(db, sources, stop_at=stop_at)
    wait_until_stopped(process)
    os.kill(process.pid, signum)
    if signum != signal.SIGKILL:
        os.kill(process.pid, signal.SIGCONT)  # a stopped process gets it when it resumes
    assert finished(process)[0] == -signum
    assert_each_archive_whole_or_absent(db, sources, clean[1], present)
    if stop_at.startswith("summary"):
        assert query(db, "SELECT count(*) FROM campaigns") == [(1,)]
        assert query(db, "SELECT count(*) FROM tei_dirty") == [(2,)]
    status, err = run(db, sources)
    assert status == 0, err
    assert query(db, "SELECT value FROM tei_meta WHERE key = 'build_state'") == [("complete",)]
    assert snapshot(db) == clean[0]


@pytest.mark.parametrize("stop_at, present", [PHASES[1], PHASES[3]], ids=["rows", "summary"])
def test_ctrl_c_gives_one_line_and_the_same_guarantee(tmp_path, sources, clean, stop_at, present):
    db = str(tmp_path / "tei.db")
    process = build(db, sources, stop_at=stop_at)
    ctrl_c(process)
    assert_each_archive_whole_or_absent(db, sources, clean[1], present)
    status, err = run(db, sources)
    assert status == 0, err
    assert snapshot(db) == clean[0]


def test_ctrl_c_while_a_child_process_parses(tmp_path):
    """A large member is parsed in a child process, which a terminal's Ctrl-C
    reaches too: still one line, nothing half-loaded, no process left."""
    from datasette_tei.build import stream
    from datasette_tei.build.synthetic import write_big_csv

    big = str(tmp_path / "big_082020_tweets_csv_hashed.csv")
    write_big_csv(big, 22_000, n_users=50)
    assert os.path.getsize(big) >= stream.PARALLEL_MIN_BYTES
    db = str(tmp_path / "tei.db")
    process = build(db, [big], stop_at="rows:3")
    ctrl_c(process)
    deadline = time.monotonic() + TIMEOUT
    while True:  # the parsing process went with the build
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a process of the build outlived it"
        time.sleep(0.01)
    assert query(db, "SELECT count(*) FROM tweets") == [(0,)]
    assert query(db, "SELECT count(*) FROM imports") == [(0,)]
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    # (The rerun is tested above; a 22,000-tweet one would only slow this down.)


def test_full_disk_gives_a_clear_error_and_an_intact_database(tmp_path, sources, clean):
    import resource

    db = str(tmp_path / "tei.db")
    status, err = run(db, sources[:2])  # alpha: a consistent, complete state
    assert status == 0, err
    before = snapshot(db)
    # No file may grow past 512 KiB: the write-ahead log fills up when beta
    # (over 1 MiB of pages) commits, as on a full disk.
    limit = 512 * 1024

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    status, err = run(db, sources, preexec_fn=small_disk)
    assert status == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"Error: {db}: cannot write the database (")
    assert "run the same command again" in line
    # A consistent state: alpha whole, beta and gamma absent, all intact.
    assert_each_archive_whole_or_absent(db, sources, clean[1], [0, 1])
    after = snapshot(db)
    for table in ("tweets", "users", "imports", "rejects", "shared_tweets", "campaigns", "tweets_fts_docsize"):
        assert after[table] == before[table], table
    status, err = run(db, sources)  # space freed: the rerun finishes the job
    assert status == 0, err
    assert snapshot(db) == clean[0]


# --- Readers during a build ---------------------------------------------------


class Server(bench.Server):
    """The load benchmark's real `datasette serve`, over the database being
    built, asked for SQL through its JSON API."""

    def __init__(self, db):
        super().__init__(db)
        self.name = os.path.splitext(os.path.basename(db))[0]
        self.wait_ready()

    def get(self, path):
        return bench.get_json(self.base + path)

    def sql(self, sql):
        return self.get(f"/{self.name}.json?" + urllib.parse.urlencode({"sql": sql, "_shape": "array"}))


# One statement is one snapshot: the tweets and the imports that claim them.
CONSISTENT = """SELECT
  (SELECT count(*) FROM tweets) + (SELECT count(*) FROM shared_tweets) AS rows_present,
  (SELECT coalesce(sum(rows_loaded), 0) FROM imports WHERE status = 'done' AND kind = 'tweets') AS rows_claimed,
  (SELECT count(*) FROM users WHERE from_users_file) AS users_present,
  (SELECT coalesce(sum(rows_loaded), 0) FROM imports WHERE status = 'done' AND kind = 'users') AS users_claimed,
  (SELECT count(*) FROM rejects) AS rejects_present,
  (SELECT coalesce(sum(rows_rejected), 0) FROM imports WHERE status = 'done') AS rejects_claimed"""


def assert_consistent(row):
    values = list(row.values()) if isinstance(row, dict) else list(row)
    assert values[0] == values[1] and values[2] == values[3] and values[4] == values[5], values


def test_readers_see_the_old_or_the_new_state_never_half(tmp_path, sources, clean):
    db = str(tmp_path / "tei.db")
    status, err = run(db, sources[:1])  # an old state: alpha's tweets
    assert status == 0, err
    old = query(db, CONSISTENT)[0]
    server = Server(db)
    try:
        # alpha's tweets are skipped as already loaded; stopped inside beta's
        # transaction (its second batch; alpha's users were the first):
        # readers see alpha's users but none of beta's 2,000 written rows.
        process = build(db, sources, stop_at="rows:3")
        wait_until_stopped(process)
        reader = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            committed = reader.execute(CONSISTENT).fetchone()
            assert committed[0] == old[0] == 3000
            assert committed[2] == 9, committed
            assert_consistent(committed)
            assert tuple(server.sql(CONSISTENT)[0].values()) == committed
            assert server.sql("SELECT count(*) AS n FROM tweets WHERE campaign = 'beta_092020'") == [{"n": 0}]
            os.kill(process.pid, signal.SIGCONT)
            # Then every snapshot taken while the build goes on is whole.
            seen = set()
            while process.poll() is None:
                row = reader.execute(CONSISTENT).fetchone()
                assert_consistent(row)
                served = server.sql(CONSISTENT)[0]
                assert_consistent(served)
                seen.add(row[0])
            status, err = finished(process)
            # Readers kept the file open: the build completes all the same.
            assert status == 0, err
            final = reader.execute(CONSISTENT).fetchone()
            assert_consistent(final)
            assert final[0] == len(clean[0]["tweets"]) + len(clean[0]["shared_tweets"])
            assert seen <= {3000, 3000 + 2498, final[0]}
        finally:
            reader.close()
        assert server.sql("SELECT value FROM tei_meta WHERE key = 'build_state'") == [{"value": "complete"}]
        assert {c["name"] for c in server.get("/-/tei.json")["campaigns"]} == {
            "alpha_082020", "beta_092020", "gamma_202012"}
    finally:
        server.stop()
    assert snapshot(db) == clean[0]
