"""Which of the databases Datasette serves hold the TEI schema, and their
tables.

The plugin's pages, canned queries, metadata and facet shortcuts apply to
those only. A yes is kept; a no is checked again after a while, because a
database being built gets its tables later.

is_tei() asks through Datasette's own connection; tables_if_tei() answers
synchronously (Datasette 0.65 calls get_metadata synchronously), from what
is known or from a read-only connection of its own."""
import pathlib
import sqlite3
import time

from ..schema import is_tei_database

_RECHECK_SECONDS = 10
_known = {}  # database name -> (Datasette instance, table names or None, recheck after)


def _table_names(conn):
    """The table names if the database has the TEI schema, else None."""
    if not is_tei_database(conn):
        return None
    return [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def _cached(datasette, database):
    known = _known.get(database)
    if known and known[0] is datasette and (known[1] is not None or time.monotonic() < known[2]):
        return True, known[1]
    return False, None


def _remember(datasette, database, tables):
    _known[database] = (datasette, tables, time.monotonic() + _RECHECK_SECONDS)
    return tables


async def tables_of(datasette, database):
    """The database's table names if it is a TEI database, else None."""
    hit, tables = _cached(datasette, database)
    if hit:
        return tables
    db = datasette.databases.get(database)
    tables = None
    if db is not None and database != "_internal":
        try:
            tables = await db.execute_fn(_table_names)
        except Exception:
            tables = None
    return _remember(datasette, database, tables)


async def is_tei(datasette, database):
    return await tables_of(datasette, database) is not None


def tables_if_tei(datasette, database):
    """tables_of(), synchronously."""
    hit, tables = _cached(datasette, database)
    if hit:
        return tables
    db = datasette.databases.get(database)
    tables = None
    if db is not None and database != "_internal" and not db.is_memory:
        try:
            mode = "mode=ro" if db.is_mutable else "immutable=1"
            uri = pathlib.Path(db.path).resolve().as_uri()
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True)
            try:
                tables = _table_names(conn)
            finally:
                conn.close()
        except sqlite3.Error:
            tables = None
    return _remember(datasette, database, tables)


def forget(database):
    _known.pop(database, None)


async def any_tei(datasette):
    """Whether any served database holds the TEI schema, whoever asks."""
    for name in list(datasette.databases):
        if await is_tei(datasette, name):
            return True
    return False
