"""Datasette's table view of `tweets` with `?_search=`, and its count of one
campaign's tweets, read from the full-text index and the build's figures.

For `?_search=X`, Datasette's table view (0.65 and 1.0 alike) runs

    select COLUMNS from tweets where rowid in (select rowid from tweets_fts
        where tweets_fts match escape_fts(:search)) order by tweetid limit 101

and counts the view (0.65: every match; 1.0: up to 10,001) as
`select count(*) from tweets where rowid in (...)`. SQLite evaluates
`rowid in (subquery)` by first copying every match into a temporary b-tree
and then looking each one up in tweets, so the page and its count both cost
a step per match: for a word in a quarter of a million tweets, hundreds of
milliseconds, growing with the database. 0.65 also counts a campaign's rows
(`?campaign=X`) one by one: its 5 million index entries for a 5M-tweet
campaign.

Datasette offers no hook over that SQL: filters_from_request adds clauses
and removes none, and neither line lets a plugin set the count of a table
view. So, for a TEI database, the plugin wraps the execute() of Datasette's
Database object (install(), from prepare_connection) and replaces these
statements, recognised whole, by ones with the same answer:

- the page: the same subquery, ordered by rowid and limited to the page (with
  `_next`'s bound moved inside), so that FTS5 reads its matches in rowid
  order and stops at the page; the outer query is Datasette's own;
- the count of a search: the matches counted in the index alone (0.65:
  all of them; 1.0: up to its limit, as Datasette's count stops);
- the count of one campaign's tweets (`?campaign=X`; 0.65 counts them all,
  1.0 up to its limit): the build's count (facet_counts).

Any other statement, and these whenever the database's figures do not match
its rows (current()), run as Datasette wrote them. Datasette has checked
permissions before it runs a statement, and the replacement runs through the
same execute(), under the same time limit.

The answers are the same only if every entry of the index is a row of
tweets and the other way round: the build writes both in one transaction,
and current() checks that the index holds as many rows as tweets does and
that the build's counts match every campaign (facet_counts.current)."""
import re
import threading

from .. import facet_counts
from ..search import TABLE as FTS

# Datasette's search clause (datasette/filters.py): ?_search= matches the
# index's table name, ?_search_tweet_text= its column; escaped (our
# escape_fts) or raw (?_searchmode=raw).
_MATCH = (rf"(?P<inner>select rowid from {FTS} where (?:{FTS}|tweet_text) match "
          r"(?:escape_fts\(:search(?:_0)?\)|:search(?:_0)?))")
_SEARCH = rf"rowid in \({_MATCH}\)"
# Columns as Datasette lists them (?_col=, ?_nocol=): names, no expression.
_COLUMNS = r"(?P<columns>[\w\[\]\", ]+?)"

# The page, in the table's order (or reversed): `order by tweetid`, and
# `_next` as `((tweetid > :pN))`.
_PAGE = re.compile(
    rf"select {_COLUMNS} from tweets where {_SEARCH}"
    r"(?: and \(\(tweetid > (?P<after>:p\d+)\)\))? "
    r"order by tweetid(?P<desc> desc)? limit (?P<limit>\d+)", re.IGNORECASE)
# 0.65's count, and 1.0's bounded count.
_COUNT = re.compile(rf"select count\(\*\) from tweets where {_SEARCH}", re.IGNORECASE)
_COUNT_UP_TO = re.compile(
    rf"select count\(\*\) from \(select \* from tweets where {_SEARCH} limit (?P<limit>\d+)\)",
    re.IGNORECASE)
_CAMPAIGN_COUNT = re.compile(r'select count\(\*\) from tweets where "campaign" = :p0', re.IGNORECASE)
_CAMPAIGN_COUNT_UP_TO = re.compile(
    r'select count\(\*\) from \(select \* from tweets where "campaign" = :p0 limit (?P<limit>\d+)\)',
    re.IGNORECASE)

_WHOLE = re.compile(r"-?[0-9]{1,19}")


def _whole(value):
    """A 64-bit integer written plainly (tweet ids have 19 digits)."""
    return (isinstance(value, (str, int)) and _WHOLE.fullmatch(str(value)) is not None
            and -2**63 <= int(value) < 2**63)


# The count of `?campaign=X` as the build counted it: 0 for no such campaign.
CAMPAIGN_COUNT_SQL = f"""select coalesce((select count from [{facet_counts.TABLE}]
where type = 'column' and facet = 'campaign' and campaign = :p0 and value = :p0), 0)"""


def _squeeze(sql):
    return " ".join(sql.split())


def replacement(sql, params):
    """The statement that answers `sql` from the index or the build's
    figures, or None for any statement this does not know."""
    if not isinstance(sql, str) or not sql.lstrip()[:6].lower() == "select":
        return None
    if FTS not in sql and '"campaign"' not in sql:
        return None  # most statements: no further look
    text = _squeeze(sql)
    page = _PAGE.fullmatch(text)
    if page:
        inner, outer, after = page.group("inner"), "", page.group("after")
        if after:
            # _next's bound on the key, inside too, so that FTS5 starts its
            # read there; for a whole number only (SQLite compares any other
            # text with a number in its own way), and kept outside as well.
            value = params.get(after[1:]) if isinstance(params, dict) else None
            if not _whole(value):
                return None
            inner += f" and rowid > cast({after} as integer)"
            outer = f" and ((tweetid > {after}))"
        order = " desc" if page.group("desc") else ""
        return (f"select {page.group('columns')} from tweets where rowid in "
                f"({inner} order by rowid{order} limit {page.group('limit')}){outer} "
                f"order by tweetid{order} limit {page.group('limit')}")
    count = _COUNT.fullmatch(text)
    if count:
        return f"select count(*) from ({count.group('inner')})"
    count = _COUNT_UP_TO.fullmatch(text)
    if count:
        return f"select count(*) from ({count.group('inner')} limit {count.group('limit')})"
    if not (isinstance(params, dict) and set(params) == {"p0"} and isinstance(params["p0"], str)):
        return None
    if _CAMPAIGN_COUNT.fullmatch(text):
        return CAMPAIGN_COUNT_SQL
    count = _CAMPAIGN_COUNT_UP_TO.fullmatch(text)
    if count:
        return f"select min(({CAMPAIGN_COUNT_SQL}), {count.group('limit')})"
    return None


def _varint(data, i=0):
    """SQLite's variable-length integer at data[i] (FTS5 writes its row
    count so): big-endian groups of 7 bits, the high bit meaning more."""
    value = 0
    for n in range(9):
        byte = data[i + n]
        if n == 8:
            return (value << 8) | byte
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value
    return value


def index_rows(conn):
    """How many rows the full-text index holds: the first number of its
    averages record (id 1 of its data table), which FTS5 keeps as it
    inserts and deletes. None when there is no such record."""
    try:
        row = conn.execute(f"SELECT block FROM [{FTS}_data] WHERE id = 1").fetchone()
    except Exception:
        return None
    if not row or not row[0]:
        return None
    return _varint(bytes(row[0]))


def current(conn, tweets=None):
    """True when the index and the build's counts match the rows of tweets:
    then the replacements give Datasette's own answers. `tweets`, the
    number of rows of tweets, when known; else the campaigns' figures,
    which the build keeps (as the facet counts trust them)."""
    if not facet_counts.current(conn):
        return False
    columns = conn.execute("PRAGMA table_info(tweets)").fetchall()
    # tweetid is the rowid, so that `order by tweetid` is the index's order.
    if [c[1] for c in columns if c[5]] != ["tweetid"] or not any(
            c[1] == "tweetid" and c[2].upper() == "INTEGER" for c in columns):
        return False
    if tweets is None:
        tweets = conn.execute("SELECT coalesce(sum(tweets - shared_tweets), 0) FROM campaigns").fetchone()[0]
    return index_rows(conn) == tweets


# id(Database) -> (Database, current?) for an immutable database, whose
# answer cannot change; a mutable one (perhaps being built) is asked each time.
_CURRENT = {}
_INSTALLING = threading.Lock()


def _counted(conn):
    return current(conn, conn.execute("SELECT count(*) FROM tweets").fetchone()[0])


async def _is_current(db):
    """current(), for an immutable database with its rows counted (once:
    from Datasette's inspect file, or counted), so that a row changed
    outside the build is noticed; a mutable one, asked on every statement,
    is checked against the campaigns' figures."""
    known = _CURRENT.get(id(db))
    if known is not None and known[0] is db:
        return known[1]
    try:
        if db.is_mutable:
            return bool(await db.execute_fn(current))
        inspected = ((getattr(db.ds, "inspect_data", None) or {}).get(db.name, {})
                     .get("tables", {}).get("tweets", {}).get("count"))
        if isinstance(inspected, int):
            result = bool(await db.execute_fn(lambda conn: current(conn, inspected)))
        else:
            result = bool(await db.execute_fn(_counted))
    except Exception:
        result = False
    if not db.is_mutable:
        _CURRENT[id(db)] = (db, result)
    return result


def install(db):
    """Wrap this Database's execute() (once): the statements replacement()
    knows run as replaced, on a TEI database whose figures are current.
    (Called from prepare_connection, in each of Datasette's threads.)"""
    with _INSTALLING:
        if "execute" not in vars(db):
            db.execute = _wrapped(db)


def _wrapped(db):
    original = db.execute

    async def execute(sql, params=None, *args, **kwargs):
        swapped = replacement(sql, params)
        if swapped is not None and await _is_current(db):
            sql = swapped
        return await original(sql, params, *args, **kwargs)

    return execute


def uninstall(db):
    """Datasette's own execute() again (for comparisons)."""
    if "execute" in vars(db):
        del db.execute
