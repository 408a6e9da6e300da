"""The default facets of `tweets`, counted at build time and served from the counts.

Datasette computes each facet of a table page by grouping every row the page
selects: over millions of tweets, each default facet runs into Datasette's
facet time limit. The default facets (metadata.yml) are the columns
campaign, tweet_language, tweet_client_name and is_retweet, the array facet
on hashtags and the date facet on tweet_time; the pages that show them most
are the whole table and the table filtered to one campaign. So the build
counts, per campaign, what those facets would count, and the facet classes
of serve/precomputed_facets.py answer from the counts when the page shows
every tweet or the tweets of one campaign (`?campaign=X`, which Datasette
turns into `tweets.campaign = X`: a tweet that another campaign's archive
also holds counts under its first campaign, as the filter selects it). Any
other page (another filter, a search, a page past the first of a sorted
view) is computed live, by Datasette's own code, unless it has more rows
than a facet can group within facet_time_limit_ms
(precomputed_facets.LIVE_FACET_ROWS_PER_MS; Datasette's count of the view
tells, or a search's matches in the full-text index): the
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


# --- Reading ------------------------------------------------------------------

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
