"""Hostile source trees: what cannot be read is named, skipped, and costs
nothing else.

A symlink loop, a dangling symlink, an unreadable file or folder, a FIFO or a
device among the sources: each is one `Error:` line, the rest loads, the
exit status is 1 and the build finishes (build_state = complete), never a
traceback and never a hang. A file named on the command line that is not an
archive, or a zip holding no CSV, is reported; files that are not archives
inside a source folder are skipped quietly.

The builds run as a real `datasette-tei build` in a child process with a
timeout, so that a FIFO opened for reading fails the test instead of hanging
it. Permission tests need a user the file modes apply to: as root (whom they
do not bind) the build runs in a child that drops to `nobody`.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

import pytest

from datasette_tei.build.synthetic import generate_tweets, tweets_csv_text, write_zip
from helpers import query

BUILD = os.path.join(os.path.dirname(sys.executable), "datasette-tei")


def good_zip(folder, campaign="good_082020", n=20):
    rows = list(generate_tweets(n, "2020", n_users=3, seed=1))
    path = os.path.join(folder, f"{campaign}_tweets_csv_hashed.zip")
    write_zip(path, {f"{campaign}.csv": tweets_csv_text(rows, "2020")})
    return path


def build(db_path, *sources):
    """(exit status, output) of `datasette-tei build` in a child process."""
    result = subprocess.run([BUILD, "build", str(db_path), "--silent", *map(str, sources)],
                            capture_output=True, text=True, timeout=30)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stderr


def build_as(user, db_path, *sources):
    """(exit status, output) of the build run in a forked child as `user`.

    Forked, not executed: the interpreter lives under /root, which `nobody`
    cannot enter, but a child that drops its privileges after the fork keeps
    the modules already loaded."""
    from click.testing import CliRunner

    from datasette_tei.cli import cli

    # What the build imports lazily (codecs, modules), imported here first
    # by a build of a good archive as the current user.
    warm = tempfile.mkdtemp()
    try:
        assert CliRunner().invoke(cli, ["build", os.path.join(warm, "tei.db"), "--silent",
                                        good_zip(warm)]).exit_code == 0
    finally:
        shutil.rmtree(warm)

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            result = CliRunner().invoke(cli, ["build", str(db_path), "--silent", *map(str, sources)])
            crash = "" if isinstance(result.exception, (SystemExit, type(None))) else repr(result.exception)
            os.write(write_end, json.dumps([result.exit_code, result.output, crash]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    status, output, crash = json.loads(data)
    assert not crash, crash
    return status, output


def error_lines(output):
    return [line for line in output.splitlines() if line.startswith("Error: ")]


def assert_good_loaded(db_path, campaign="good_082020", n=20):
    assert query(db_path, "select count(*) from tweets where campaign = ?", (campaign,)) == [(n,)]
    assert query(db_path, "select value from tei_meta where key = 'build_state'") == [("complete",)]


def test_symlinks_fifos_and_devices_in_a_source_folder(tmp_path):
    src = tmp_path / "src"
    (src / "2020_08" / "sub").mkdir(parents=True)
    good_zip(str(src / "2020_08"))
    os.symlink("loop.zip", src / "loop.zip")  # a link to itself
    os.symlink("..", src / "2020_08" / "sub" / "back")  # a folder loop
    os.symlink("nowhere_tweets_csv_hashed.csv", src / "gone.csv")
    os.mkfifo(src / "pipe_tweets_csv_hashed.csv")
    os.symlink(os.devnull, src / "null.csv")
    os.symlink("/dev/zero", src / "zero.csv.gz")
    # Not archives: skipped quietly, whatever they are.
    (src / "2020_08" / "Twitter_Elections_Integrity_Datasets_hashed_README.txt").write_text("about")
    (src / "SHA256SUMS").write_text("0" * 64 + "  good.zip\n")
    os.mkfifo(src / "a_fifo_that_is_not_an_archive")
    db_path = tmp_path / "tei.db"
    status, output = build(db_path, src)
    assert status == 1, output
    assert sorted(error_lines(output)) == sorted([
        f"Error: {src}/2020_08/sub/back: symlink loop (it leads back to a folder above it): skipped",
        f"Error: {src}/gone.csv: dangling symlink (to nowhere_tweets_csv_hashed.csv, which does not exist): skipped",
        f"Error: {src}/loop.zip: symlink loop: skipped",
        f"Error: {src}/null.csv: a character device, not a regular file: skipped",
        f"Error: {src}/pipe_tweets_csv_hashed.csv: a FIFO, not a regular file: skipped",
        f"Error: {src}/zero.csv.gz: a character device, not a regular file: skipped",
    ])
    assert_good_loaded(db_path)
    assert query(db_path, "select count(*) from imports") == [(1,)]


def test_hostile_files_named_on_the_command_line(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    good = good_zip(str(folder))
    os.mkfifo(folder / "fifo.csv")
    os.symlink("missing.zip", folder / "dangling.zip")
    notes = folder / "notes.txt"
    notes.write_text("userid,user_screen_name,account_creation_date\n1,a,2020-01-01\n")
    db_path = tmp_path / "tei.db"
    status, output = build(db_path, good, folder / "fifo.csv", folder / "dangling.zip", notes, "/dev/null")
    assert status == 1, output
    assert error_lines(output) == [
        f"Error: {folder}/fifo.csv: a FIFO, not a regular file: skipped",
        f"Error: {folder}/dangling.zip: dangling symlink (to missing.zip, which does not exist)",
        f"Error: {notes}: not a .zip, .csv or .csv.gz file: skipped",
        "Error: /dev/null: a character device, not a regular file: skipped",
    ]
    assert_good_loaded(db_path)
    # notes.txt holds a users header: it would have loaded as a CSV.
    assert query(db_path, "select count(*) from users where userid = '1'") == [(0,)]


def test_zip_holding_no_csv_is_reported(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    good_zip(str(src))
    nested = src / "nested_082020_tweets_csv_hashed.zip"
    write_zip(str(nested), {"README.txt": "read me", "parts/part1.zip": "PK", "__MACOSX/._x.csv": "junk"})
    db_path = tmp_path / "tei.db"
    status, output = build(db_path, src)
    assert status == 1, output
    message = f"{nested}: holds no .csv or .csv.gz file (only README.txt, parts/part1.zip, __MACOSX/._x.csv)"
    assert error_lines(output) == [f"Error: {message}"]
    assert query(db_path, "select status, error from imports where path = ?", (str(nested),)) == \
        [("failed", message)]
    assert_good_loaded(db_path)


def test_only_unreadable_sources_build_nothing(tmp_path):
    os.mkfifo(tmp_path / "fifo.csv")
    db_path = tmp_path / "tei.db"
    status, output = build(db_path, tmp_path / "fifo.csv", tmp_path / "missing.zip")
    assert status == 1
    assert error_lines(output) == [
        f"Error: {tmp_path}/fifo.csv: a FIFO, not a regular file: skipped",
        f"Error: {tmp_path}/missing.zip: no such file or directory",
    ]
    assert not db_path.exists()


@pytest.fixture
def shared_tmp():
    """A folder any user can enter: pytest's own are root's alone."""
    path = tempfile.mkdtemp(prefix="tei-sources-")
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path)


def test_unreadable_file_and_folder(shared_tmp):
    """File modes do not bind root, so as root the build runs as `nobody`:
    the same code path (open and scandir failing with EACCES) either way."""
    user = None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("running as root and there is no `nobody` user to drop to")
    src = os.path.join(shared_tmp, "src")
    os.makedirs(os.path.join(src, "locked"))
    good_zip(src)
    good_zip(os.path.join(src, "locked"), campaign="hidden_082020")
    secret = good_zip(src, campaign="secret_082020")
    for path in (src, shared_tmp):
        os.chmod(path, 0o777)
    os.chmod(secret, 0)
    os.chmod(os.path.join(src, "locked"), 0)
    db_path = os.path.join(shared_tmp, "tei.db")
    status, output = build_as(user, db_path, src) if user else build(db_path, src)
    assert status == 1, output
    assert error_lines(output) == [
        f"Error: {src}/locked: permission denied: folder skipped",
        f"Error: {secret}: permission denied: skipped",
    ]
    assert_good_loaded(db_path)
    assert query(db_path, "select name from campaigns") == [("good_082020",)]
    os.chmod(os.path.join(src, "locked"), 0o755)
