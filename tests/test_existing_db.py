"""What `build` does with the file it is told to write: a database that is
not ours, a zip given in its place, a folder, a path in a missing or
read-only folder, a read-only file, and a second build into a database
another build is writing.

For every refusal: exit status 1, one line naming the file, and the file
and its folder exactly as they were (bytes, modification time, listing:
no -wal, -shm, journal or lock file left behind).
"""
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from datasette_tei.build.synthetic import generate_tweets, tweets_csv_text, write_zip
from datasette_tei.build.target import LOCK_SUFFIX
from helpers import default_sigint, query
from helpers import run_build as _run_build

BUILD = os.path.join(os.path.dirname(sys.executable), "datasette-tei")


@pytest.fixture
def archive(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    path = folder / "alpha_082020_tweets_csv_hashed.zip"
    rows = generate_tweets(30, "2020", n_users=5, seed=3, first_id=10**17)
    write_zip(str(path), {"alpha_082020_tweets_csv_hashed.csv": tweets_csv_text(rows, "2020")})
    return path


def run_build(db, *args):
    return _run_build(str(db), *args)


def state(folder):
    """Every file of the folder with its bytes' hash and modification time."""
    found = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            found[name] = (digest, os.stat(path).st_mtime_ns)
        else:
            found[name] = "folder"
    return found


def refused(result):
    """The one line a refusal prints (exit 1, no traceback)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def foreign_database(path, journal_mode):
    """Someone's own database with a `tweets` table, a full-text index and a
    trigger: what a build used to rewrite."""
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.executescript("""
        CREATE TABLE tweets (id INTEGER PRIMARY KEY, tweet_text TEXT);
        CREATE VIRTUAL TABLE tweets_fts USING fts5(tweet_text, content=tweets, content_rowid=id);
        CREATE TRIGGER tweets_ai AFTER INSERT ON tweets BEGIN
          INSERT INTO tweets_fts (rowid, tweet_text) VALUES (new.id, new.tweet_text);
        END;
        INSERT INTO tweets (tweet_text) VALUES ('my own research notes');
    """)
    conn.close()  # the last connection: a WAL file is checkpointed and removed


@pytest.mark.parametrize("journal_mode", ["delete", "wal"])
def test_foreign_database_is_refused_and_left_byte_for_byte(tmp_path, archive, journal_mode):
    folder = tmp_path / "mine"
    folder.mkdir()
    db = folder / "research.db"
    foreign_database(db, journal_mode)
    before = state(folder)
    assert list(before) == ["research.db"]
    line = refused(run_build(db, archive))
    assert line == (f"Error: {db}: an SQLite database that datasette-tei did not make, "
                    "left unchanged; build into a new file")
    assert state(folder) == before  # no -wal, -shm, journal or lock file; same bytes and mtime
    # Still the owner's database, working: its trigger fills its own index.
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO tweets (tweet_text) VALUES ('another note')")
    assert conn.execute("SELECT count(*) FROM tweets_fts WHERE tweets_fts MATCH 'note*'").fetchone() == (2,)
    conn.close()


def test_foreign_database_open_in_its_own_program_is_refused(tmp_path, archive):
    """Its program has it open in WAL mode, with rows only in the -wal: the
    check reads through the log, and neither the file nor the log changes."""
    db = tmp_path / "research.db"
    foreign_database(db, "wal")
    owner = sqlite3.connect(db)
    owner.execute("PRAGMA wal_autocheckpoint = 0")
    owner.execute("CREATE TABLE notes (body TEXT)")
    owner.execute("INSERT INTO notes VALUES ('in the log only')")
    owner.commit()
    try:
        before = {name: digest for name, digest in state(tmp_path).items() if not name.endswith("-shm")}
        assert "research.db-wal" in before
        assert "did not make" in refused(run_build(db, archive))
        after = {name: digest for name, digest in state(tmp_path).items() if not name.endswith("-shm")}
        assert after == before
    finally:
        owner.close()


def test_a_view_or_index_alone_makes_a_database_foreign(tmp_path, archive):
    db = tmp_path / "views.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE VIEW answer AS SELECT 42")
    conn.close()
    before = state(tmp_path)
    assert "did not make" in refused(run_build(db, archive))
    assert state(tmp_path) == before


@pytest.mark.parametrize("content", ["zero bytes", "no tables"])
def test_empty_file_or_empty_database_is_built_into(tmp_path, archive, content):
    db = tmp_path / "tei.db"
    if content == "zero bytes":
        db.write_bytes(b"")
    else:
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA user_version = 7")  # writes the header: a database with nothing in it
        conn.close()
        assert db.stat().st_size > 0
    result = run_build(db, archive)
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT count(*) FROM tweets") == [(30,)]
    assert not os.path.exists(str(db) + LOCK_SUFFIX)


def test_our_own_database_is_built_into_again(tmp_path, archive):
    db = tmp_path / "tei.db"
    assert run_build(db, archive).exit_code == 0
    result = run_build(db, archive)
    assert result.exit_code == 0, result.output
    assert "1 unchanged" in result.output
    assert sorted(os.listdir(tmp_path)) == ["src", "tei.db"]


def test_database_of_an_earlier_version_without_schema_version_is_ours(tmp_path, archive):
    db = tmp_path / "tei.db"
    assert run_build(db, archive).exit_code == 0
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM tei_meta WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    result = run_build(db, archive)
    assert result.exit_code == 0, result.output


def test_arguments_swapped_zip_where_the_database_goes(tmp_path, archive):
    before = state(archive.parent)
    line = refused(run_build(archive, archive.parent))
    assert line.startswith(f"Error: {archive}: not an SQLite database, refusing to overwrite it")
    assert "datasette-tei build DATABASE SOURCES" in line
    assert state(archive.parent) == before


def test_text_file_where_the_database_goes(tmp_path, archive):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n")
    before = state(tmp_path)
    assert "not an SQLite database" in refused(run_build(notes, archive))
    assert state(tmp_path) == before


def test_damaged_database_is_refused_unchanged(tmp_path, archive):
    db = tmp_path / "damaged.db"
    foreign_database(db, "delete")
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, past the file header
    db.write_bytes(bytes(data))
    before = state(tmp_path)
    line = refused(run_build(db, archive))
    assert line.startswith(f"Error: {db}: not a usable SQLite database (")
    assert state(tmp_path) == before


def test_folder_where_the_database_goes(tmp_path, archive):
    before = state(tmp_path)
    line = refused(run_build(archive.parent, archive))
    assert line == (f"Error: {archive.parent}: is a folder; the first argument is the database file "
                    "to write (datasette-tei build DATABASE SOURCES...)")
    assert state(tmp_path) == before


def test_database_in_a_missing_folder(tmp_path, archive):
    db = tmp_path / "nowhere" / "tei.db"
    line = refused(run_build(db, archive))
    assert line == f"Error: {db}: folder {db.parent} does not exist; create it first"
    assert not db.parent.exists()


def test_database_in_a_missing_folder_is_refused_before_any_download(tmp_path):
    # gs:// sources are downloaded first: a database that cannot be written
    # is refused before, not after, the download. No server is needed to
    # show it: the refusal comes before any connection.
    db = tmp_path / "nowhere" / "tei.db"
    cache = tmp_path / "cache"
    line = refused(run_build(db, "gs://no-such-bucket/hashed/", "--cache-dir", cache))
    assert "does not exist" in line and not cache.exists()


def run_unprivileged(*args):
    command = [BUILD, "build", *map(str, args), "--silent"]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: read-only files are writable")
        command = [setpriv, "--bounding-set=-dac_override", "--inh-caps=-dac_override", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def one_line(completed):
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_read_only_database_is_refused_unchanged(tmp_path, archive):
    db = tmp_path / "tei.db"
    assert run_build(db, archive).exit_code == 0
    newer = archive.parent / "beta_092020_tweets_csv_hashed.zip"
    write_zip(str(newer), {"beta.csv": tweets_csv_text(generate_tweets(5, "2020", seed=4, first_id=5 * 10**17),
                                                       "2020")})
    db.chmod(0o444)
    before = state(tmp_path)
    line = one_line(run_unprivileged(db, archive.parent))
    assert line == f"Error: {db}: the file is read-only; build into a file you can write"
    assert state(tmp_path) == before


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_database_in_a_read_only_folder_is_refused(tmp_path, archive):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = one_line(run_unprivileged(folder / "tei.db", archive))
        assert line == f"Error: {folder / 'tei.db'}: cannot create files in {folder} (read-only); " \
                       "build into a folder you can write"
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


# --- Two builds at once ------------------------------------------------------------


def _start_stopped_build(db, sources):
    """A real build process, stopped by itself with its first batch of rows
    written (checkpoints.checkpoint): it holds the database for as long as the test wants."""
    env = dict(os.environ, DATASETTE_TEI_STOP_AT="rows")
    process = subprocess.Popen([BUILD, "build", str(db), "--silent", *map(str, sources)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pid, status = os.waitpid(process.pid, os.WUNTRACED | os.WNOHANG)
        if pid:
            assert os.WIFSTOPPED(status), f"the build ended before its checkpoint (status {status})"
            return process
        time.sleep(0.01)
    process.kill()
    pytest.fail("the first build never reached its checkpoint")


@pytest.mark.skipif(os.name == "nt", reason="advisory locks are POSIX")
def test_second_build_into_the_same_database_is_refused_at_once(tmp_path, archive):
    db = tmp_path / "tei.db"
    first = _start_stopped_build(db, [archive])
    try:
        started = time.monotonic()
        line = refused(run_build(db, archive))
        assert time.monotonic() - started < 10  # at once, not after SQLite's 60 s busy timeout
        assert line == (f"Error: {db}: another build is writing this database (process {first.pid}); "
                        "wait for it to finish, then run this one again")
        os.kill(first.pid, signal.SIGCONT)
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    # The first build is complete, untouched by the second; its lock is gone.
    assert query(db, "SELECT count(*) FROM tweets") == [(30,)]
    assert query(db, "SELECT value FROM tei_meta WHERE key = 'build_state'") == [("complete",)]
    assert sorted(os.listdir(tmp_path)) == ["src", "tei.db"]


@pytest.mark.skipif(os.name == "nt", reason="advisory locks are POSIX")
def test_second_build_from_the_bucket_is_refused_before_downloading(tmp_path, archive):
    db = tmp_path / "tei.db"
    cache = tmp_path / "cache"
    first = _start_stopped_build(db, [archive])
    try:
        line = refused(run_build(db, "gs://no-such-bucket/hashed/", "--cache-dir", cache))
        assert f"another build is writing this database (process {first.pid})" in line
        assert not cache.exists()
    finally:
        first.kill()
        first.communicate()


@pytest.mark.skipif(os.name == "nt", reason="advisory locks are POSIX")
def test_second_build_through_a_symbolic_link_is_refused_too(tmp_path, archive):
    db = tmp_path / "tei.db"
    link = tmp_path / "elsewhere"
    link.mkdir()
    (link / "alias.db").symlink_to(db)
    first = _start_stopped_build(db, [archive])
    try:
        line = refused(run_build(link / "alias.db", archive))
        assert f"another build is writing this database (process {first.pid})" in line
    finally:
        first.kill()
        first.communicate()


@pytest.mark.skipif(os.name == "nt", reason="advisory locks are POSIX")
def test_lock_of_a_killed_build_is_taken_over(tmp_path, archive):
    db = tmp_path / "tei.db"
    first = _start_stopped_build(db, [archive])
    first.kill()  # SIGKILL: the lock file stays, the kernel drops the lock
    first.communicate()
    assert os.path.exists(str(db) + LOCK_SUFFIX)
    result = run_build(db, archive)
    assert result.exit_code == 0, result.output
    assert query(db, "SELECT count(*) FROM tweets") == [(30,)]
    assert not os.path.exists(str(db) + LOCK_SUFFIX)
