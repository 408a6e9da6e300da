"""Small helpers several test modules share (imported as `helpers`)."""
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
