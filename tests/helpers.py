"""Small helpers several test modules share (imported as `helpers`)."""
import signal
import sqlite3

from click.testing import CliRunner

from datasette_tei.cli import cli


def query(db_path, sql, params=()):
    """All rows of one query, on a connection of its own."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def run_build(db_path, *args):
    """`datasette-tei build DB --silent ARGS...` in-process, for its result."""
    return CliRunner().invoke(cli, ["build", db_path, "--silent", *map(str, args)], catch_exceptions=False)


def default_sigint():
    """preexec_fn for a child process that a test interrupts with Ctrl-C.

    A shell that runs the tests in the background leaves SIGINT ignored, and
    a child inherits that: Python then never raises KeyboardInterrupt. The
    child gets SIGINT's default back, as a process started from a terminal has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
