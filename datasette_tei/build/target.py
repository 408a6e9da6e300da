"""The database a build writes into: checked before it is touched, and held
by one build at a time.

A build may only write into a file that is ours: a missing file (its folder
must exist), an empty file, an SQLite database holding nothing at all, or a
database an earlier build made (it has `tei_meta`). Anything else (someone's
own database, a zip given where the database goes, a folder, a read-only
file) is refused before any byte of it, or of its folder, changes: the
check reads the file through SQLite's `immutable` mode, which takes no lock
and creates no -wal, -shm or journal file.

Two builds into one database would interleave their transactions and each
finish the other's campaigns half-way; SQLite's own locks only make the
second one fail later with "database is locked". So a build holds an
advisory lock on a file beside the database (`<database>.build-lock`, with
the holder's process id inside) for its whole run, and a second build is
refused at once, naming the first. The lock file is removed when the build
ends; the kernel releases the lock itself if the build is killed, and a
lock file left behind by a killed build is simply taken over.
"""
import os
import sqlite3
import urllib.parse

from ..schema import is_tei_database

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one build at a time, please
    fcntl = None

SQLITE_HEADER = b"SQLite format 3\x00"
LOCK_SUFFIX = ".build-lock"


class TargetError(Exception):
    """The database cannot be built into; the message is one line."""


def check(path):
    """Raise TargetError unless a build may write into `path`; touches nothing."""
    if os.path.isdir(path):
        raise TargetError(f"{path}: is a folder; the first argument is the database file to write "
                          "(datasette-tei build DATABASE SOURCES...)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise TargetError(f"{path}: folder {folder} does not exist; create it first")
    if not os.path.exists(path):
        _check_folder_writable(path, folder)
        return
    if not os.access(path, os.R_OK):
        raise TargetError(f"{path}: cannot read the file (permission denied)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as error:
        raise TargetError(f"{path}: cannot read the file ({error.strerror or error})") from None
    if head and head != SQLITE_HEADER:
        raise TargetError(
            f"{path}: not an SQLite database, refusing to overwrite it (the first argument is the "
            "database to write: datasette-tei build DATABASE SOURCES...)")
    if head:
        # With a write-ahead log beside it (a build running, or one killed),
        # the latest tables may be only in the log, and the file itself
        # half-way through a checkpoint: read it as SQLite does, through the
        # log (which, like its -shm, is there already). Otherwise read the
        # file alone, creating nothing.
        kind = _contents(path, immutable=not _size(path + "-wal"))
        if kind == "foreign":
            raise TargetError(
                f"{path}: an SQLite database that datasette-tei did not make, left unchanged; "
                "build into a new file")
    if not os.access(path, os.W_OK):
        raise TargetError(f"{path}: the file is read-only; build into a file you can write")
    _check_folder_writable(path, folder)


def _check_folder_writable(path, folder):
    # SQLite writes its journal (-wal, -shm) beside the database.
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TargetError(f"{path}: cannot create files in {folder} (read-only); "
                          "build into a folder you can write")


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _contents(path, immutable):
    """'empty', 'tei' or 'foreign', read without writing (and, immutable,
    without a lock or any file beside it)."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    if immutable:
        uri += "&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise TargetError(f"{path}: cannot open the database ({error})") from None
    try:
        names = {row[0]: row[1] for row in conn.execute("SELECT name, type FROM sqlite_master")}
        if not names:
            return "empty"
        if names.get("tei_meta") == "table" and conn.execute(
                "SELECT 1 FROM tei_meta WHERE key = 'schema_version'").fetchone():
            return "tei"
        if is_tei_database(conn):  # made before tei_meta held a schema_version
            return "tei"
        return "foreign"
    except sqlite3.Error as error:
        raise TargetError(f"{path}: not a usable SQLite database ({error}); left unchanged") from None
    finally:
        conn.close()


class BuildLock:
    """The advisory lock one build holds on a database for its whole run."""

    def __init__(self, path):
        self.path = path
        # Beside the file itself: a build through a symbolic link to it, or
        # by another relative path, takes the same lock.
        self.lock_path = os.path.realpath(path) + LOCK_SUFFIX
        self.handle = None

    def acquire(self):
        if fcntl is None:
            return self
        while True:
            try:
                handle = open(self.lock_path, "a+")
            except OSError as error:
                raise TargetError(f"{self.path}: cannot create {self.lock_path} "
                                  f"({error.strerror or error})") from None
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip()
                handle.close()
                who = f" (process {holder})" if holder.isdigit() else ""
                raise TargetError(
                    f"{self.path}: another build is writing this database{who}; "
                    "wait for it to finish, then run this one again") from None
            # The holder before us may have removed the file between our open
            # and our lock: then ours is a lock on a file nobody else sees.
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle
        return self

    def release(self):
        if self.handle is None:
            return
        # Removed while still held, so that no other build can lock it in between.
        try:
            os.remove(self.lock_path)
        except OSError:
            pass
        self.handle.close()
        self.handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
