"""Per-campaign figures precomputed at build time, so that pages never
aggregate millions of rows per request.

`refresh(conn, campaign)` recomputes one campaign inside the caller's
transaction, from these passes over the campaign's rows:

1. the (campaign, tweet_time) index only: tweets per hour bucket, from which
   days, months, hours of the day and weekdays are derived;
2. the rows: tweets grouped by account, language, client and retweeted
   account, from which the tables of languages, clients, most active and
   most retweeted accounts are derived, and the campaign's tweeting
   accounts (for campaigns.tweeting_accounts and finish's users rows),
   then facet_counts.count_rows' keys of the tweets page's default facets;
3. the rows with hashtags, then with URLs, unnested with json_each.

Passes 2 and 3 read only the committed rows and write only temporary
tables (a Computation), so a build runs them on two other connections, in
threads (SQLite works outside Python's lock, and the two take about as
long), and starts them early: the first campaign's while it creates the
indexes (which leave most of the second core idle), each next one's while
it writes the previous one's summaries. What they counted is then copied
into the build's connection, which writes the summaries from it.

Small temporary tables hold the intermediate groups; every summary is a
narrow table keyed by campaign.

A campaign's rows are its own tweets plus the tweets another campaign's
archive loaded first (shared_tweets), so that the figures add up to
campaigns.tweets.
"""
import threading
import urllib.parse

from . import facet_counts
from .schema import set_meta

# How many of the most retweeted accounts to keep per campaign; every other
# kind keeps all its values (languages, clients and accounts are few, and
# the hashtag and domain lists back the canned queries).
RETWEETED_KEEP = 500

# Bumped when what the summaries (or the campaigns figures and account
# summaries computed with them) mean changes: a build then recomputes every
# campaign's, so that running it again updates a database an earlier
# version built. 2: shared tweets in tweeting_accounts and the active
# period; account_summaries. 3: campaign_days, from which the pages draw
# days or weeks for short spans (accounts created: campaign_creation_days).
VERSION = "3"
META_KEY = "summaries_version"

WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")

SUMMARY_TABLES = {
    "campaign_months": """CREATE TABLE IF NOT EXISTS [campaign_months] (
  [campaign] TEXT NOT NULL,
  [month] TEXT NOT NULL,
  [tweets] INTEGER NOT NULL,
  PRIMARY KEY ([campaign], [month])
) WITHOUT ROWID""",
    # weekday as SQLite's strftime('%w'): 0 is Sunday. Times are UTC.
    "campaign_hours": """CREATE TABLE IF NOT EXISTS [campaign_hours] (
  [campaign] TEXT NOT NULL,
  [weekday] INTEGER NOT NULL,
  [hour] INTEGER NOT NULL,
  [tweets] INTEGER NOT NULL,
  PRIMARY KEY ([campaign], [weekday], [hour])
) WITHOUT ROWID""",
    # Tweets per UTC day ('YYYY-MM-DD'): a campaign active for weeks is
    # charted by day, one active for a year or two by week (summed here).
    "campaign_days": """CREATE TABLE IF NOT EXISTS [campaign_days] (
  [campaign] TEXT NOT NULL,
  [day] TEXT NOT NULL,
  [tweets] INTEGER NOT NULL,
  PRIMARY KEY ([campaign], [day])
) WITHOUT ROWID""",
    "campaign_account_months": """CREATE TABLE IF NOT EXISTS [campaign_account_months] (
  [campaign] TEXT NOT NULL,
  [month] TEXT NOT NULL,
  [accounts] INTEGER NOT NULL,
  PRIMARY KEY ([campaign], [month])
) WITHOUT ROWID""",
    # kind: language, client, hashtag, domain, account (most active),
    # retweeted (most retweeted). rank 1 is the largest; label is a screen
    # name for accounts; internal = 1 when a retweeted account is one of the
    # campaign's own (self-amplification).
    "campaign_top": """CREATE TABLE IF NOT EXISTS [campaign_top] (
  [campaign] TEXT NOT NULL,
  [kind] TEXT NOT NULL,
  [rank] INTEGER NOT NULL,
  [value] TEXT,
  [label] TEXT,
  [tweets] INTEGER NOT NULL,
  [accounts] INTEGER,
  [internal] INTEGER,
  PRIMARY KEY ([campaign], [kind], [rank])
) WITHOUT ROWID""",
    # Every URL a campaign tweeted, from which shared_values is computed.
    "campaign_urls": """CREATE TABLE IF NOT EXISTS [campaign_urls] (
  [url] TEXT NOT NULL,
  [campaign] TEXT NOT NULL,
  [domain] TEXT,
  [tweets] INTEGER NOT NULL,
  PRIMARY KEY ([url], [campaign])
) WITHOUT ROWID""",
    # Domains and URLs that more than one campaign tweeted, kept up to date
    # for the values a refresh touches: shared_urls_across_campaigns reads
    # it instead of grouping every campaign's URLs per request.
    "shared_values": """CREATE TABLE IF NOT EXISTS [shared_values] (
  [kind] TEXT NOT NULL,
  [value] TEXT NOT NULL,
  [campaigns] INTEGER NOT NULL,
  [tweets] INTEGER NOT NULL,
  [campaign_names] TEXT,
  PRIMARY KEY ([kind], [value])
) WITHOUT ROWID""",
}

# What the campaign pages read.
PAGE_TABLES = ("campaign_months", "campaign_hours", "campaign_account_months", "campaign_top")
# Also read by the pages, which chart months without them (a database an
# earlier version built), so not reported missing.
DAY_TABLES = ("campaign_days",)

SUMMARY_INDEXES = (
    "CREATE INDEX IF NOT EXISTS [idx_shared_values_campaigns] ON [shared_values] "
    "([campaigns] DESC, [tweets] DESC)",
    "CREATE INDEX IF NOT EXISTS [idx_campaign_urls_campaign] ON [campaign_urls] ([campaign])",
    "CREATE INDEX IF NOT EXISTS [idx_campaign_top_kind_value] ON [campaign_top] ([kind], [value])",
)


def domain(url):
    """The host of a URL, lower case, without `www.`, port or credentials."""
    if not url:
        return None
    text = url.strip()
    if "://" not in text:
        text = "http://" + text  # `example.com/path` as some files hold it
    try:
        host = urllib.parse.urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def mark_outdated(conn):
    """Mark every campaign for a new summary when the database's summaries
    are of another version (inside the caller's transaction: tei_dirty keeps
    the mark if the build is interrupted before it is done)."""
    row = conn.execute("SELECT value FROM tei_meta WHERE key = ?", (META_KEY,)).fetchone()
    if row and row[0] == VERSION:
        return
    conn.execute("INSERT OR IGNORE INTO tei_dirty (campaign) SELECT name FROM campaigns")
    set_meta(conn, **{META_KEY: VERSION})


def ensure(conn):
    """Create the summary tables and their indexes if missing.
    (A campaign's shared tweets are found by schema.INDEXES' shared_tweets
    (campaign) index, which the build creates with the other indexes.)"""
    for sql in SUMMARY_TABLES.values():
        conn.execute(sql)
    for sql in SUMMARY_INDEXES:
        conn.execute(sql)


def _rows(columns):
    """The campaign's tweets: its own and those it shares with a campaign
    loaded earlier. `columns` are expressions over the alias t.

    The rows are read through _tei_ids, the campaign's tweet ids in rowid
    order: reading them in the order of the campaign index instead (by time)
    would jump around the table at random, which on a database larger than
    memory is a disk seek per tweet. CROSS JOIN keeps SQLite from choosing
    another order, and a one-value BETWEEN (still a rowid seek) keeps it from
    building a Bloom filter on tweets first, which reads every tweet."""
    return (f"SELECT {columns} FROM temp._tei_ids i CROSS JOIN tweets t "
            "ON t.tweetid BETWEEN i.tweetid AND i.tweetid")


def _collect_ids(conn, p):
    conn.execute("DROP TABLE IF EXISTS temp._tei_ids")
    conn.execute("CREATE TEMP TABLE _tei_ids (tweetid INTEGER PRIMARY KEY)")
    conn.execute(
        """INSERT OR IGNORE INTO temp._tei_ids (tweetid)
        SELECT tweetid FROM (
            SELECT tweetid FROM tweets WHERE campaign = :campaign
            UNION ALL SELECT tweetid FROM shared_tweets WHERE campaign = :campaign
        ) ORDER BY +tweetid  -- sorted first (by a sorter, not a table scan): appended""",
        p,
    )


def refresh(conn, campaign, add_users=None, reader=None, computed=None):
    """Recompute one campaign's summaries (inside the caller's transaction).

    `add_users(conn, campaign, tweeting)`, when given, is called once the
    campaign's rows are counted and before anything reads users: tweeting
    names a table of the distinct userids of the campaign's own tweets.
    `computed`, a Computation of the campaign that the caller started
    earlier (finish starts one while it creates the indexes), holds what is
    counted from the rows; without one it is counted now, on two
    connections that `reader` opens (see Computation), or on this one.
    Returns how many accounts tweeted the campaign's tweets, shared ones
    included (the campaigns.tweeting_accounts figure)."""
    ensure(conn)
    p = {"campaign": campaign}
    started_here = computed is None
    if started_here:
        computed = Computation(campaign, reader)
    try:
        tweeting = computed.take(conn)
    finally:
        if started_here:
            computed.close()
    _remember_shared(conn, p)
    for table in PAGE_TABLES + DAY_TABLES:
        conn.execute(f"DELETE FROM [{table}] WHERE campaign = :campaign", p)
    _time_summaries(conn, p)
    if add_users:
        add_users(conn, campaign, "temp._tei_tweeting")
    _account_months(conn, p)
    _group_summaries(conn, p)
    facet_counts.store(conn, campaign)
    _store_list_figures(conn, p)
    _update_shared(conn, p)
    for table in ("_tei_ids", "_tei_hours", "_tei_touched") + tuple(_ROW_TABLES) + tuple(_LIST_TABLES):
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")
    return tweeting


class Computation:
    """What is counted from one campaign's rows, in temporary tables: the
    passes over the rows, most of a summary's time. They read only what the
    load committed and write only temporary tables, so that other
    connections can count them while the build's own connection writes
    (the indexes, the previous campaign's summaries).

    With `reader` (what opens a connection to the same database, made with
    check_same_thread=False, in the thread that reads it) the count starts
    at once, in two threads on two such connections: the rows' groups on
    one, the hashtags and URLs on the other (SQLite works outside Python's
    lock, and the halves take about as long); take() waits for both and
    copies what they counted into the build's connection. Without, take()
    counts on the build's connection."""

    def __init__(self, campaign, reader=None):
        self.campaign = campaign
        self._p = {"campaign": campaign}
        self._halves = []
        self._tweeting = None  # once taken
        if reader:
            self._halves = [
                (_Beside(reader, self._row_half), _ROW_TABLES),
                (_Beside(reader, self._list_half), _LIST_TABLES),
            ]

    def _row_half(self, conn):
        _collect_ids(conn, self._p)
        _groups(conn, self._p)
        facet_counts.count_rows(conn, self.campaign, ids="temp._tei_ids")

    def _list_half(self, conn):
        _collect_ids(conn, self._p)  # its own: temporary tables are per connection
        _list_figures(conn, self._p)

    def take(self, conn):
        """What was counted, into `conn`'s temporary tables (once: a second
        call finds them there); returns the campaign's number of tweeting
        accounts."""
        if self._tweeting is not None:
            return self._tweeting
        if self._halves:
            for half, tables in self._halves:
                _copy_tables(half.result(), conn, tables)
        else:
            self._row_half(conn)
            _list_figures(conn, self._p)
        self._tweeting = conn.execute("SELECT n FROM temp._tei_accounts").fetchone()[0]
        return self._tweeting

    def close(self):
        """Stop the count if it still runs (the caller failed, was
        interrupted, or never took it), and close its connections."""
        for half, _ in self._halves:  # both told first: neither begins
            half.stop()
        for half, _ in self._halves:
            half.close()
        self._halves = []


class _Beside:
    """`work(connection)` in a thread, on a connection `open_connection()`
    makes there; result() waits for it and returns the connection, whose
    temporary tables hold what it made."""

    def __init__(self, open_connection, work):
        self._conn = None
        self._error = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, args=(open_connection, work), daemon=True)
        self._thread.start()

    def _run(self, open_connection, work):
        try:
            self._conn = open_connection()
            if not self._stopping:
                work(self._conn)
        except BaseException as error:  # raised again in the caller's thread
            self._error = error

    def result(self):
        self._thread.join()
        if self._error:
            raise self._error
        return self._conn

    def stop(self):
        """Work not begun is not begun; work under way is interrupted."""
        self._stopping = True
        if self._conn is not None:
            self._conn.interrupt()

    def close(self):
        """Stop the work if it still runs (the caller failed or was
        interrupted), then close the connection."""
        self._stopping = True
        while self._thread.is_alive():
            if self._conn is not None:
                self._conn.interrupt()
            self._thread.join(0.1)
        if self._conn is not None:
            self._conn.close()


def _time_summaries(conn, p):
    # Pass 1: hour buckets 'YYYY-MM-DD HH' (at most ~9,000 a year), on the
    # build's connection once the (campaign, tweet_time) index is made: the
    # index alone, cheaper than the rows the counts beside it read.
    conn.execute("DROP TABLE IF EXISTS temp._tei_hours")
    conn.execute(
        """CREATE TEMP TABLE _tei_hours AS
        SELECT bucket, count(*) AS tweets FROM (
            SELECT substr(t.tweet_time, 1, 13) AS bucket FROM tweets t
            WHERE t.campaign = :campaign
            UNION ALL
            SELECT substr(t.tweet_time, 1, 13) FROM shared_tweets s
            JOIN tweets t ON t.tweetid BETWEEN s.tweetid AND s.tweetid WHERE s.campaign = :campaign
        ) WHERE bucket IS NOT NULL GROUP BY bucket""",
        p,
    )
    conn.execute(
        """INSERT INTO campaign_months (campaign, month, tweets)
        SELECT :campaign, substr(bucket, 1, 7), sum(tweets) FROM _tei_hours
        GROUP BY 2""",
        p,
    )
    conn.execute(
        """INSERT INTO campaign_days (campaign, day, tweets)
        SELECT :campaign, substr(bucket, 1, 10), sum(tweets) FROM _tei_hours
        GROUP BY 2""",
        p,
    )
    conn.execute(
        """INSERT INTO campaign_hours (campaign, weekday, hour, tweets)
        SELECT :campaign, weekday, hour, sum(tweets) FROM (
            SELECT CAST(strftime('%w', substr(bucket, 1, 10)) AS INTEGER) AS weekday,
                   CAST(substr(bucket, 12, 2) AS INTEGER) AS hour, tweets
            FROM _tei_hours
        ) WHERE weekday IS NOT NULL AND hour IS NOT NULL GROUP BY weekday, hour""",
        p,
    )


def _account_months(conn, p):
    conn.execute(
        """INSERT INTO campaign_account_months (campaign, month, accounts)
        SELECT campaign, substr(account_creation_date, 1, 7), count(*) FROM users
        WHERE campaign = :campaign AND account_creation_date IS NOT NULL
          AND account_creation_date <> ''
        GROUP BY 2""",
        p,
    )


def _insert_top(conn, p, kind, select, keep=None):
    """Rank the rows of `select` (value, label, tweets, accounts, internal)."""
    limit = f"WHERE rank <= {int(keep)}" if keep else ""
    conn.execute(
        f"""INSERT INTO campaign_top (campaign, kind, rank, value, label, tweets, accounts, internal)
        SELECT :campaign, :kind, rank, value, label, tweets, accounts, internal FROM (
            SELECT value, label, tweets, accounts, internal,
                   row_number() OVER (ORDER BY tweets DESC, accounts DESC, value) AS rank
            FROM ({select})
        ) {limit}""",
        dict(p, kind=kind),
    )


def _groups(conn, p):
    # Pass 2: one group per account, language, client and retweeted account;
    # own: whether the group has any of the campaign's own tweets (not only
    # tweets it shares with a campaign loaded earlier).
    conn.execute("DROP TABLE IF EXISTS temp._tei_groups")
    conn.execute(
        f"""CREATE TEMP TABLE _tei_groups AS
        SELECT userid, language, client, retweeted, count(*) AS tweets, max(own) AS own FROM (
            {_rows('''t.userid AS userid, nullif(t.tweet_language, '') AS language,
                   nullif(t.tweet_client_name, '') AS client,
                   CASE WHEN t.is_retweet THEN nullif(t.retweet_userid, '') END AS retweeted,
                   t.campaign = :campaign AS own''')}
        ) GROUP BY 1, 2, 3, 4""",
        p,
    )
    # The accounts of the campaign's own tweets: count(DISTINCT userid) of
    # its rows, without reading them again.
    conn.execute("DROP TABLE IF EXISTS temp._tei_tweeting")
    conn.execute("CREATE TEMP TABLE _tei_tweeting (userid TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute(
        """INSERT INTO temp._tei_tweeting (userid)
        SELECT userid FROM temp._tei_groups WHERE userid IS NOT NULL GROUP BY userid HAVING max(own)"""
    )
    # The campaigns.tweeting_accounts figure counts every account of the
    # campaign's rows, shared ones included: the accounts its page lists.
    conn.execute("DROP TABLE IF EXISTS temp._tei_accounts")
    conn.execute(
        """CREATE TEMP TABLE _tei_accounts AS
        SELECT count(DISTINCT userid) AS n FROM temp._tei_groups WHERE userid IS NOT NULL""")
    # The groups summed per value of each ranked kind, for _group_summaries:
    # a few small tables rather than the groups themselves, which are as
    # many as the campaign's tweets at worst, to copy between connections.
    # Of the most retweeted accounts, only those that rank (in the order
    # _insert_top ranks them).
    conn.execute("DROP TABLE IF EXISTS temp._tei_ranked")
    conn.execute(
        """CREATE TEMP TABLE _tei_ranked AS
        SELECT 'language' AS kind, language AS value, sum(tweets) AS tweets,
               count(DISTINCT userid) AS accounts
        FROM temp._tei_groups GROUP BY language
        UNION ALL
        SELECT 'client', client, sum(tweets), count(DISTINCT userid)
        FROM temp._tei_groups GROUP BY client
        UNION ALL
        SELECT 'account', userid, sum(tweets), NULL
        FROM temp._tei_groups WHERE userid IS NOT NULL GROUP BY userid"""
    )
    conn.execute(
        f"""INSERT INTO temp._tei_ranked (kind, value, tweets, accounts)
        SELECT 'retweeted', value, tweets, accounts FROM (
            SELECT retweeted AS value, sum(tweets) AS tweets, count(DISTINCT userid) AS accounts,
                   row_number() OVER (ORDER BY sum(tweets) DESC, count(DISTINCT userid) DESC,
                                      retweeted) AS rank
            FROM temp._tei_groups WHERE retweeted IS NOT NULL GROUP BY retweeted
        ) WHERE rank <= {int(RETWEETED_KEEP)}"""
    )
    conn.execute("DROP TABLE temp._tei_groups")


def _group_summaries(conn, p):
    for kind in ("language", "client"):
        _insert_top(
            conn, p, kind,
            f"""SELECT value, NULL AS label, tweets, accounts, NULL AS internal
            FROM temp._tei_ranked WHERE kind = '{kind}'""",
        )
    _insert_top(
        conn, p, "account",
        """SELECT r.value AS value,
            (SELECT u.user_screen_name FROM users u
             WHERE u.campaign = :campaign AND u.userid = r.value) AS label,
            r.tweets AS tweets, NULL AS accounts, 1 AS internal
        FROM temp._tei_ranked r WHERE r.kind = 'account'""",
    )
    _insert_top(
        conn, p, "retweeted",
        """SELECT value, NULL AS label, tweets, accounts, NULL AS internal
        FROM temp._tei_ranked WHERE kind = 'retweeted'""",
        keep=RETWEETED_KEEP,
    )
    # Labels for the kept ones only: a screen name where any campaign's users
    # file knows the account (the users(userid) index makes this a lookup),
    # and whether it is one of this campaign's own.
    conn.execute(
        """UPDATE campaign_top SET
            label = (SELECT u.user_screen_name FROM users u WHERE u.userid = campaign_top.value
                     ORDER BY u.campaign = :campaign DESC LIMIT 1),
            internal = EXISTS (SELECT 1 FROM users u WHERE u.campaign = :campaign
                               AND u.userid = campaign_top.value)
        WHERE campaign = :campaign AND kind = 'retweeted'""",
        p,
    )


# What pass 2 leaves for the summaries (with facet_counts.count_rows'
# _tei_fc_rows), on whichever connection counts them. Columns without a
# type keep their values' types when they are copied.
_ROW_TABLES = {
    "_tei_tweeting": "(userid TEXT PRIMARY KEY) WITHOUT ROWID",
    "_tei_accounts": "(n)",
    "_tei_ranked": "(kind, value, tweets, accounts)",
    facet_counts.ROWS_TABLE: facet_counts.ROWS_COLUMNS,
}

# What pass 3 makes, on whichever connection runs it.
_LIST_TABLES = {
    "_tei_hashtags": "(value TEXT PRIMARY KEY, tweets INTEGER, accounts INTEGER) WITHOUT ROWID",
    "_tei_urls": "(url TEXT PRIMARY KEY, domain TEXT, tweets INTEGER) WITHOUT ROWID",
    "_tei_domains": "(value TEXT PRIMARY KEY, tweets INTEGER, accounts INTEGER) WITHOUT ROWID",
}


def _list_figures(conn, p):
    """Pass 3: every hashtag, URL and domain of the campaign's rows, with
    its tweets and accounts, into _LIST_TABLES. Reads temp._tei_ids; writes
    nothing but temporary tables, so that another connection can run it."""
    # Only rows whose lists are not empty reach json_each (and only valid
    # JSON: json_each(NULL) is empty). The rows are read once per list:
    # cheaper than materialising the listed rows.
    conn.execute("DROP TABLE IF EXISTS temp._tei_items")
    conn.execute(
        f"""CREATE TEMP TABLE _tei_items AS
        SELECT 'hashtag' AS kind, j.value AS value, l.userid AS userid, l.tweetid AS tweetid
        FROM ({_rows("t.tweetid AS tweetid, t.userid AS userid, t.hashtags AS list")}) l,
             json_each(CASE WHEN json_valid(l.list) THEN l.list END) j
        WHERE l.list <> '[]' AND j.type = 'text' AND j.value <> ''
        UNION ALL
        SELECT 'url', j.value, l.userid, l.tweetid
        FROM ({_rows("t.tweetid AS tweetid, t.userid AS userid, t.urls AS list")}) l,
             json_each(CASE WHEN json_valid(l.list) THEN l.list END) j
        WHERE l.list <> '[]' AND j.type = 'text' AND j.value <> ''""",
        p,
    )
    for table, columns in _LIST_TABLES.items():
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")
        conn.execute(f"CREATE TEMP TABLE [{table}] {columns}")
    conn.execute(
        """INSERT INTO temp._tei_hashtags (value, tweets, accounts)
        SELECT value, count(DISTINCT tweetid), count(DISTINCT userid)
        FROM temp._tei_items WHERE kind = 'hashtag' GROUP BY value"""
    )
    # Domains per distinct URL: Python parses each URL once, not per tweet.
    conn.create_function("tei_domain", 1, domain, deterministic=True)
    conn.execute(
        """INSERT INTO temp._tei_urls (url, domain, tweets)
        SELECT value, tei_domain(value), count(DISTINCT tweetid)
        FROM temp._tei_items WHERE kind = 'url' GROUP BY value"""
    )
    conn.execute(
        """INSERT INTO temp._tei_domains (value, tweets, accounts)
        SELECT u.domain, count(DISTINCT i.tweetid), count(DISTINCT i.userid)
        FROM temp._tei_items i JOIN temp._tei_urls u ON u.url = i.value
        WHERE i.kind = 'url' AND u.domain IS NOT NULL GROUP BY u.domain"""
    )
    conn.execute("DROP TABLE temp._tei_items")


def _copy_tables(source, conn, tables):
    """Temporary `tables` ({name: columns}) from the connection that made
    them into this one's, a batch at a time (a large campaign has millions
    of URLs)."""
    for table, columns in tables.items():
        conn.execute(f"DROP TABLE IF EXISTS temp.[{table}]")
        conn.execute(f"CREATE TEMP TABLE [{table}] {columns}")
        cursor = source.execute(f"SELECT * FROM temp.[{table}]")
        insert = f"INSERT INTO temp.[{table}] VALUES ({', '.join('?' * len(cursor.description))})"
        while batch := cursor.fetchmany(10000):
            conn.executemany(insert, batch)


def _store_list_figures(conn, p):
    _insert_top(
        conn, p, "hashtag",
        """SELECT value, NULL AS label, tweets, accounts, NULL AS internal FROM temp._tei_hashtags""",
    )
    conn.execute("DELETE FROM campaign_urls WHERE campaign = :campaign", p)
    conn.execute(
        """INSERT INTO campaign_urls (url, campaign, domain, tweets)
        SELECT url, :campaign, domain, tweets FROM temp._tei_urls""",
        p,
    )
    _insert_top(
        conn, p, "domain",
        """SELECT value, NULL AS label, tweets, accounts, NULL AS internal FROM temp._tei_domains""",
    )


def _campaign_values_sql():
    return """SELECT 'url', url FROM campaign_urls WHERE campaign = :campaign
        UNION ALL
        SELECT 'domain', value FROM campaign_top
        WHERE campaign = :campaign AND kind = 'domain' AND value IS NOT NULL"""


def _remember_shared(conn, p):
    """The campaign's URLs and domains before the refresh: their sharing may end."""
    conn.execute("DROP TABLE IF EXISTS temp._tei_touched")
    conn.execute(
        "CREATE TEMP TABLE _tei_touched (kind TEXT, value TEXT, PRIMARY KEY (kind, value)) WITHOUT ROWID"
    )
    conn.execute(f"INSERT OR IGNORE INTO temp._tei_touched {_campaign_values_sql()}", p)


def _update_shared(conn, p):
    """Recompute shared_values for the URLs and domains the campaign had or has."""
    conn.execute(f"INSERT OR IGNORE INTO temp._tei_touched {_campaign_values_sql()}", p)
    conn.execute(
        """DELETE FROM shared_values WHERE (kind, value) IN (SELECT kind, value FROM temp._tei_touched)"""
    )
    conn.execute(
        """INSERT INTO shared_values (kind, value, campaigns, tweets, campaign_names)
        SELECT 'url', c.url, count(*), sum(c.tweets), group_concat(c.campaign, ' ')
        FROM temp._tei_touched t JOIN campaign_urls c ON c.url = t.value
        WHERE t.kind = 'url' GROUP BY c.url HAVING count(*) > 1"""
    )
    conn.execute(
        """INSERT INTO shared_values (kind, value, campaigns, tweets, campaign_names)
        SELECT 'domain', c.value, count(*), sum(c.tweets), group_concat(c.campaign, ' ')
        FROM temp._tei_touched t JOIN campaign_top c ON c.kind = 'domain' AND c.value = t.value
        WHERE t.kind = 'domain' GROUP BY c.value HAVING count(*) > 1"""
    )


def tables_present(conn):
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {name for name in SUMMARY_TABLES if name in names}
