"""The default facets of `tweets`, counted at build time and served from the counts.

Datasette computes each facet of a table page by grouping every row the page
selects: over millions of tweets, each default facet runs into Datasette's
facet time limit. The default facets (metadata.yml) are the columns
campaign, tweet_language, tweet_client_name and is_retweet, the array facet
on hashtags and the date facet on tweet_time; the pages that show them most
are the whole table and the table filtered to one campaign. So the build
counts, per campaign, what those facets would count, and this module's
facet classes answer from the counts when the page shows every tweet or the
tweets of one campaign (`?campaign=X`, which Datasette turns into
`tweets.campaign = X`: a tweet that another campaign's archive also holds
counts under its first campaign, as the filter selects it). Any other page
(another filter, a search, a page past the first of a sorted view) is
computed live, by Datasette's own code, unless it has more rows than a facet
can group within facet_time_limit_ms (LIVE_FACET_ROWS_PER_MS; Datasette's
count of the view tells, or a search's matches in the full-text index): the
facet is then reported as timed out without being run.

Counts (table tei_facet_counts): one row per facet, campaign and value;
campaign is NULL on the rows that sum every campaign, so that the whole
table's facets are an index read too. Values keep the type they have in
tweets (the value column has no type), so that they sort as Datasette's
`ORDER BY count DESC, value` sorts them.

`refresh(conn, campaign)` recounts one campaign, inside the caller's
transaction, in two passes: the campaign's rows (language, client,
is_retweet and hashtags, grouped into a small temporary table) and the
(campaign, tweet_time) index only (tweets per minute, then per date).

The counts are used only while they match the database: the build marks a
campaign as changed (tei_dirty) in the transaction that loads its rows, and
every campaign's count of tweets must equal the campaigns table's figure.
"""
import copy
import functools
import re

from .serve import served
from .schema import set_meta

TABLE = "tei_facet_counts"
# Bumped when what the counts mean changes: older counts are then not used.
VERSION = "1"
META_KEY = "facet_counts_version"

# (Datasette facet type, column): the default facets of tweets.
COLUMNS = ("campaign", "tweet_language", "tweet_client_name", "is_retweet")
FACETS = tuple(("column", c) for c in COLUMNS) + (("array", "hashtags"), ("date", "tweet_time"))

SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS [{TABLE}] (
  [type] TEXT NOT NULL,
  [facet] TEXT NOT NULL,
  [campaign] TEXT,
  [value],
  [count] INTEGER NOT NULL
)""",
    # Serving: the top values of one facet of one campaign (or of all).
    f"CREATE INDEX IF NOT EXISTS [idx_{TABLE}_top] ON [{TABLE}] "
    "([type], [facet], [campaign], [count] DESC, [value])",
    # Keeping the sums up to date: every campaign's count of one value.
    f"CREATE INDEX IF NOT EXISTS [idx_{TABLE}_value] ON [{TABLE}] ([type], [facet], [value])",
)

# What count_rows leaves for store: one row per distinct language, client,
# is_retweet and list of hashtags of the campaign's own tweets, with their
# number (columns without a type: the values keep the type they have in
# tweets, also when copied from another connection).
ROWS_TABLE = "_tei_fc_rows"
ROWS_COLUMNS = "(language, client, retweet, hashtags, n)"
_TEMP = ("_tei_fc_ids", "_tei_fc_keys", "_tei_fc_groups", "_tei_fc_times",
         "_tei_fc_new", "_tei_fc_touched")


def ensure(conn):
    for sql in SCHEMA:
        conn.execute(sql)


def _has_index(conn, name):
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
    ).fetchone() is not None


def refresh(conn, campaign, ids=None):
    """Recount one campaign's default facets (inside the caller's transaction).

    `ids`, a table of the campaign's tweet ids (summaries.refresh has one),
    lets the rows be read in rowid order, as the summaries read them."""
    count_rows(conn, campaign, ids)
    store(conn, campaign)


def count_rows(conn, campaign, ids=None):
    """Pass 1 (the rows) into temp.ROWS_TABLE. Reads only tweets and writes
    only temporary tables, so that another connection can run it beside
    the build's (summaries.Computation)."""
    p = {"campaign": campaign}
    for table in _TEMP + (ROWS_TABLE,):
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")

    if not ids:
        # The campaign's ids in rowid order, so that its rows are read in
        # the table's order rather than the campaign index's (by time).
        conn.execute(
            """CREATE TEMP TABLE _tei_fc_ids AS
            SELECT tweetid FROM tweets WHERE campaign = :campaign ORDER BY +tweetid""",
            p,
        )
        ids = "temp._tei_fc_ids"
    # Pass 1, the rows: one key per row for its language, client, is_retweet
    # and list of hashtags, json_array() keeping NULL, '' and 1 apart from
    # 'null', '""' and '1'. +t.campaign: the rows are found by rowid, not
    # through the campaign index (which would scan the campaign's entries
    # for each id). The keys are then counted by an upsert into a small
    # keyed table: a GROUP BY would sort every row first, which is slower.
    conn.execute(
        f"""CREATE TEMP TABLE _tei_fc_keys AS
        SELECT json_array(t.tweet_language, t.tweet_client_name, t.is_retweet,
                          CASE WHEN t.hashtags <> '[]' THEN t.hashtags END) AS k
        FROM {ids} i CROSS JOIN tweets t ON t.tweetid BETWEEN i.tweetid AND i.tweetid
        WHERE +t.campaign = :campaign""",
        p,
    )
    conn.execute("CREATE TEMP TABLE _tei_fc_groups (k TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
    conn.execute(
        """INSERT INTO temp._tei_fc_groups (k, n) SELECT k, 1 FROM temp._tei_fc_keys WHERE true
        ON CONFLICT (k) DO UPDATE SET n = n + 1"""
    )
    conn.execute("DROP TABLE temp._tei_fc_keys")
    conn.execute(f"CREATE TEMP TABLE [{ROWS_TABLE}] {ROWS_COLUMNS}")
    conn.execute(
        f"""INSERT INTO temp.[{ROWS_TABLE}] (language, client, retweet, hashtags, n)
        SELECT json_extract(k, '$[0]'), json_extract(k, '$[1]'), json_extract(k, '$[2]'),
               json_extract(k, '$[3]'), n
        FROM temp._tei_fc_groups"""
    )
    for table in _TEMP:
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")


def store(conn, campaign):
    """Pass 2 (the (campaign, tweet_time) index), then the campaign's counts
    and the sums over every campaign, from temp.ROWS_TABLE that count_rows
    made (or that was copied from the connection that ran it)."""
    ensure(conn)
    p = {"campaign": campaign}
    for table in _TEMP:
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")
    # Pass 2, the (campaign, tweet_time) index only: tweets per distinct
    # time, in index order (no sort), then per date(): date() is called once
    # per distinct time, and is what Datasette's date facet groups by.
    indexed = (" INDEXED BY idx_tweets_campaign_tweet_time"
               if _has_index(conn, "idx_tweets_campaign_tweet_time") else "")
    conn.execute(
        f"""CREATE TEMP TABLE _tei_fc_times AS
        SELECT tweet_time, count(*) AS n FROM tweets{indexed}
        WHERE campaign = :campaign AND tweet_time IS NOT NULL GROUP BY tweet_time""",
        p,
    )

    # The campaign's new counts, as Datasette's facets count them.
    conn.execute("CREATE TEMP TABLE _tei_fc_new (type TEXT, facet TEXT, value, count INTEGER)")
    for facet, column in (("tweet_language", "language"), ("tweet_client_name", "client"),
                          ("is_retweet", "retweet")):
        conn.execute(
            f"""INSERT INTO temp._tei_fc_new (type, facet, value, count)
            SELECT 'column', '{facet}', {column}, sum(n) FROM temp._tei_fc_rows
            WHERE {column} IS NOT NULL GROUP BY {column}"""
        )
    conn.execute(
        """INSERT INTO temp._tei_fc_new (type, facet, value, count)
        SELECT 'column', 'campaign', :campaign, sum(n) FROM temp._tei_fc_rows HAVING sum(n) > 0""",
        p,
    )
    # A tweet counts once for each distinct value in its list (Datasette's
    # array facet counts rows, not occurrences). Lists that are not valid
    # JSON, which the build never writes, are left out.
    conn.execute(
        """INSERT INTO temp._tei_fc_new (type, facet, value, count)
        SELECT 'array', 'hashtags', value, sum(n) FROM (
            SELECT DISTINCT lists.hashtags, lists.n, j.value AS value
            FROM (SELECT hashtags, sum(n) AS n FROM temp._tei_fc_rows
                  WHERE hashtags IS NOT NULL AND json_valid(hashtags) GROUP BY hashtags) lists,
                 json_each(lists.hashtags) j
        ) GROUP BY value"""
    )
    conn.execute(
        """INSERT INTO temp._tei_fc_new (type, facet, value, count)
        SELECT 'date', 'tweet_time', day, sum(n) FROM (
            SELECT date(tweet_time) AS day, n FROM temp._tei_fc_times
        ) WHERE day IS NOT NULL GROUP BY day"""
    )

    # The values whose sums change: the campaign's old ones and new ones.
    conn.execute(
        f"""CREATE TEMP TABLE _tei_fc_touched AS
        SELECT DISTINCT type, facet, value FROM (
            SELECT type, facet, value FROM [{TABLE}] WHERE campaign = :campaign
            UNION ALL SELECT type, facet, value FROM temp._tei_fc_new
        )""",
        p,
    )
    conn.execute(f"DELETE FROM [{TABLE}] WHERE campaign = :campaign", p)
    conn.execute(
        f"""INSERT INTO [{TABLE}] (type, facet, campaign, value, count)
        SELECT type, facet, :campaign, value, count FROM temp._tei_fc_new""",
        p,
    )
    conn.execute(
        f"""DELETE FROM [{TABLE}] WHERE rowid IN (
            SELECT c.rowid FROM temp._tei_fc_touched t JOIN [{TABLE}] c
            ON c.type = t.type AND c.facet = t.facet AND c.value IS t.value
            WHERE c.campaign IS NULL)"""
    )
    conn.execute(
        f"""INSERT INTO [{TABLE}] (type, facet, campaign, value, count)
        SELECT t.type, t.facet, NULL, t.value, sum(c.count)
        FROM temp._tei_fc_touched t JOIN [{TABLE}] c
          ON c.type = t.type AND c.facet = t.facet AND c.value IS t.value
        WHERE c.campaign IS NOT NULL
        GROUP BY t.type, t.facet, t.value"""
    )
    set_meta(conn, **{META_KEY: VERSION})
    for table in _TEMP + (ROWS_TABLE,):
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")


# --- Serving ------------------------------------------------------------------

def current(conn):
    """True when the counts exist and match every campaign's tweets."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {TABLE, "tei_meta", "campaigns", "tweets"} <= tables:
        return False
    version = conn.execute("SELECT value FROM tei_meta WHERE key = ?", (META_KEY,)).fetchone()
    if not version or version[0] != VERSION:
        return False
    if "tei_dirty" in tables and conn.execute("SELECT 1 FROM tei_dirty LIMIT 1").fetchone():
        return False  # rows loaded, not yet counted: a build is under way
    # A campaign's own tweets (tweets.campaign) are its loaded tweets minus
    # those another campaign's archive loaded first.
    mismatched = conn.execute(
        f"""SELECT 1 FROM campaigns c
        WHERE coalesce((SELECT f.count FROM [{TABLE}] f
                        WHERE f.type = 'column' AND f.facet = 'campaign'
                          AND f.campaign = c.name AND f.value = c.name), 0)
              <> c.tweets - c.shared_tweets
        LIMIT 1"""
    ).fetchone()
    if mismatched:
        return False
    # And the sums over every campaign: the counts of the whole table.
    counted = conn.execute(
        f"""SELECT coalesce(sum(count), 0) FROM [{TABLE}]
        WHERE type = 'column' AND facet = 'campaign' AND campaign IS NULL"""
    ).fetchone()[0]
    return counted == conn.execute(
        "SELECT coalesce(sum(tweets - shared_tweets), 0) FROM campaigns").fetchone()[0]


TOP_SQL = f"""SELECT value, count FROM [{TABLE}]
WHERE type = :type AND facet = :facet AND campaign IS :campaign
ORDER BY count DESC, value LIMIT :limit"""

# The SQL Datasette's table view gives the facets for the whole table and
# for one campaign (`?campaign=X` or `?campaign__exact=X`): a plain column list.
_VIEW = re.compile(
    r'\s*select\s+[\w\s,]+?\s+from\s+(?:tweets|\[tweets\]|"tweets")\s*'
    r'(?P<where>where\s+"campaign"\s*=\s*:p0\s*)?',
    re.IGNORECASE,
)

# Datasette's clause for ?_search= (filters.py): the view's rows are among
# the index's matches, which the index alone counts in a few ms.
_SEARCH_CLAUSE = re.compile(
    r"in \(select rowid from (?P<fts>\[[^\]]+\]|\w+) where (?P=fts) match "
    r"(?P<match>escape_fts\(:search\)|:search)\)")

# Above this many rows a view of a TEI database gets no suggested facets.
SUGGEST_MAX_ROWS = 100_000
# Rows a live facet groups per ms of facet_time_limit_ms: a view of more
# rows than the two multiplied would only time out, so its live facets are
# not run. Measured at about 600 per ms (one facet over the 364,000 rows of a
# search of 5M tweets: 0.6 s). Raising facet_time_limit_ms raises the bound:
# larger views then get live facets.
LIVE_FACET_ROWS_PER_MS = 500
# database name -> (Datasette instance, current?): kept for an immutable
# database; a mutable one (perhaps being built) is checked on every request.
_CURRENT = {}


async def _counts_current(ds, database):
    db = ds.databases.get(database)
    if db is None:
        return False
    known = _CURRENT.get(database)
    if known and known[0] is ds and not db.is_mutable:
        return known[1]
    try:
        result = bool(await db.execute_fn(current))
    except Exception:
        result = False
    _CURRENT[database] = (ds, result)
    return result


def view_campaign(sql, params):
    """For the SQL and parameters of a table view of tweets: (True, None) for
    every tweet, (True, X) for the tweets of campaign X, (False, None) otherwise."""
    match = _VIEW.fullmatch(sql or "")
    if not match:
        return False, None
    if match.group("where"):
        if isinstance(params, dict) and set(params) == {"p0"} and isinstance(params["p0"], str):
            return True, params["p0"]
        return False, None
    return (not params), None


class _Answer:
    """Datasette, except that its one execute() call in a facet's
    facet_results() reads the precomputed counts instead of the rows."""

    def __init__(self, ds, params):
        self._ds = ds
        self._params = params

    def __getattr__(self, name):
        return getattr(self._ds, name)

    async def execute(self, database, sql, params=None, **kwargs):
        return await self._ds.execute(database, TOP_SQL, self._params, **kwargs)


class _Given(_Answer):
    """Datasette, except that the facet's one execute() call gets the rows
    the view's single pass counted (live_facets.py)."""

    async def execute(self, database, sql, params=None, **kwargs):
        return self._params


class _Precomputed:
    """Mixin for Datasette's facet classes: the default facets of tweets from
    the counts, when the view is every tweet or one campaign's; everything
    else, and every other table, by Datasette's own code."""

    async def _scope(self):
        if self.table != "tweets":
            return False, None
        ok, campaign = view_campaign(self.sql, self.params)
        if not ok or not await _counts_current(self.ds, self.database):
            return False, None
        return True, campaign

    async def suggest(self):
        # Datasette suggests facets by grouping the page's rows by every
        # column, three facet types over, each query stopped at
        # facet_suggest_time_limit_ms: over a million tweets that is about a
        # hundred queries that all time out, some 5 s of CPU per table page
        # for no suggestion. In a TEI database, tweets gets none (its facets
        # are in metadata, and counting a search's matches to decide would
        # cost as much as a facet), nor does any view of more rows than
        # SUGGEST_MAX_ROWS; smaller ones, such as the users table, keep them.
        if await served.is_tei(self.ds, self.database) and (
                self.table == "tweets" or not await self._few_rows()):
            return []
        return await super().suggest()

    async def _few_rows(self, most=None, time_limit="facet_suggest_time_limit_ms"):
        most = SUGGEST_MAX_ROWS if most is None else most
        sql = f"SELECT count(*) FROM (SELECT 1 FROM ({self.sql}) LIMIT {most + 1})"
        try:
            rows = await self.ds.execute(
                self.database, sql, self.params,
                custom_time_limit=self.ds.setting(time_limit),
            )
        except Exception:  # interrupted (too many rows to count quickly) or not countable
            return False
        return rows.first()[0] <= most

    async def _too_many_rows(self):
        """True when, in a TEI database, the view has more rows than a live
        facet can group within facet_time_limit_ms. self.row_count is
        Datasette's count of the view (None when it skipped the count or
        the count timed out: then only a search is checked)."""
        limit = self.ds.setting("facet_time_limit_ms") * LIVE_FACET_ROWS_PER_MS
        if self.row_count is None:
            # No count (?_nocount=1, or it timed out): a search's matches
            # still tell, from the index alone.
            return (await served.is_tei(self.ds, self.database)
                    and await self._cached(lambda: self._search_too_large(limit)))
        if self.row_count > limit:
            return await served.is_tei(self.ds, self.database)
        # Datasette 1.0 counts at most count_limit + 1 rows: "more than
        # count_limit". Count on to the bound, once per page (three facet
        # types ask), and within the facet time limit: a view that cannot
        # be counted that far in time cannot be grouped in time either.
        capped = getattr(self.ds.databases.get(self.database), "count_limit", None)
        if capped is None or self.row_count != capped + 1 or limit <= capped:
            return False
        if not await served.is_tei(self.ds, self.database):
            return False
        return await self._cached(lambda: self._too_many_counted(limit))

    async def _too_many_counted(self, limit):
        return (await self._search_too_large(limit)
                or not await self._few_rows(limit, "facet_time_limit_ms"))

    async def _cached(self, decide):
        """decide(), once per page: the three facet types ask the same."""
        view = (self.sql, repr(self.params))
        known = getattr(self.request, "_tei_too_many", None)
        if known is None or known[0] != view:
            known = (view, await decide())
            if self.request is not None:
                self.request._tei_too_many = known
        return known[1]

    async def _search_too_large(self, limit):
        """A search whose matches, counted in the full-text index, exceed the
        bound: each facet would read every match's row (counting the view's
        rows instead costs as much as the bound allows)."""
        clause = _SEARCH_CLAUSE.search(self.sql)
        if not clause or not isinstance(self.params, dict) or "search" not in self.params:
            return False
        fts = clause.group("fts")
        sql = (f"SELECT count(*) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH "
               f"{clause.group('match')} LIMIT {limit + 1})")
        try:
            rows = await self.ds.execute(self.database, sql, {"search": self.params["search"]},
                                         custom_time_limit=self.ds.setting("facet_time_limit_ms"))
        except Exception:  # interrupted: more matches than can be counted in time
            return True
        return rows.first()[0] > limit

    async def facet_results(self):
        configs = self.get_configs()
        if not configs:
            return [], []
        counted = self._precomputed_columns()
        precomputed, campaign = False, None
        if any(self._column(config) in counted for config in configs):
            precomputed, campaign = await self._scope()
        # A live facet of too many rows is reported as timed out, under the
        # name Datasette's own time-out gives it, without being run. (Asked
        # only where a facet would run live: the question may cost a count.)
        if not precomputed:
            if await self._too_many_rows():
                return [], [self._column(config) for config in configs]
            passed = await self._one_pass()
            if passed is None or not passed.ran and not passed.timed_out:
                return await super().facet_results()
            if passed.timed_out:
                return [], [self._column(config) for config in configs]
            results, timed_out = [], []
            for config in configs:
                one = copy.copy(self)
                one.get_configs = lambda config=config: [config]
                one.ds = _Given(self.ds, passed.results(self.type, self._column(config)))
                facet_results, facets_timed_out = await super(_Precomputed, one).facet_results()
                results.extend(facet_results)
                timed_out.extend(facets_timed_out)
            return results, timed_out
        too_many = (any(self._column(config) not in counted for config in configs)
                    and await self._too_many_rows())
        results, timed_out = [], []
        limit = self.get_facet_size() + 1
        for config in configs:  # one at a time, in order, each by Datasette's code
            one = copy.copy(self)
            one.get_configs = lambda config=config: [config]
            column = self._column(config)
            if column in counted:
                one.ds = _Answer(self.ds, {"type": self.type, "facet": column,
                                           "campaign": campaign, "limit": limit})
            elif too_many:  # a facet the URL added, not counted: live
                timed_out.append(column)
                continue
            facet_results, facets_timed_out = await super(_Precomputed, one).facet_results()
            results.extend(facet_results)
            timed_out.extend(facets_timed_out)
        return results, timed_out

    async def _one_pass(self):
        """The page's live facets of a view of tweets, from one read of its
        rows (live_facets.py), or None where Datasette's own run: another
        table, or a page of one facet (nothing to share)."""
        from .serve import live_facets  # serving only: it imports Datasette

        if self.table != "tweets" or not await served.is_tei(self.ds, self.database):
            return None
        config = self.table_config if hasattr(self, "table_config") else self.metadata
        facets = live_facets.page_facets(self.request, config)
        if len(facets) < 2 or not any(type == self.type for type, _ in facets):
            return None
        limit = self.get_facet_size() + 1
        time_limit = self.ds.setting("facet_time_limit_ms") * len(facets)
        return await live_facets.shared_pass(
            self.request, (self.sql, repr(self.params)),
            lambda: live_facets.run_pass(self.ds, self.database, self.sql, self.params, facets, limit,
                                         time_limit))

    @staticmethod
    def _column(source_and_config):
        config = source_and_config["config"]
        return config.get("column") or config.get("simple")

    def _precomputed_columns(self):
        return {column for type, column in FACETS if type == self.type}


@functools.lru_cache(maxsize=None)
def _replacements():
    """Datasette's column, array and date facet classes, each mapped to its
    subclass with the mixin above. Made on first use, not at import: the
    build imports this module to count, and must not import Datasette to do it."""
    from datasette.facets import ArrayFacet, ColumnFacet, DateFacet

    return {base: type(f"Tei{base.__name__}", (_Precomputed, base), {"__module__": __name__})
            for base in (ColumnFacet, ArrayFacet, DateFacet)}


def replace_facet_classes(registered):
    """The facet classes of every plugin (a list per plugin), with
    Datasette's own three replaced by their subclasses (_replacements)."""
    replacements = _replacements()
    return [[replacements.get(klass, klass) for klass in classes or []] for classes in registered]
