"""Which of the databases Datasette serves hold the TEI schema.

The plugin's pages, canned queries and facet shortcuts apply to those only.
A yes is kept; a no is checked again after a while, because a database
being built gets its tables later."""
import time

from .schema import is_tei_database

_RECHECK_SECONDS = 10
_known = {}  # database name -> (Datasette instance, is TEI?, recheck after)


async def is_tei(datasette, database):
    known = _known.get(database)
    if known and known[0] is datasette and (known[1] or time.monotonic() < known[2]):
        return known[1]
    db = datasette.databases.get(database)
    result = False
    if db is not None:
        try:
            result = bool(await db.execute_fn(is_tei_database))
        except Exception:
            result = False
    _known[database] = (datasette, result, time.monotonic() + _RECHECK_SECONDS)
    return result


def forget(database):
    _known.pop(database, None)
