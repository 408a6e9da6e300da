"""Small helpers several test modules share (imported as `helpers`)."""
import importlib.util
import pathlib
import signal
import socket
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


def free_port():
    """A loopback port nothing listens on, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_benchmark():
    """benchmarks/load.py as a module: its Server runs a real `datasette serve`."""
    path = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "load.py"
    spec = importlib.util.spec_from_file_location("tei_load_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
