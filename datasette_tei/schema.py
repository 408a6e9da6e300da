"""The database's shape, as data, and the one idempotent step that ensures it.

Everything here can run on every build: it creates what is missing and
leaves what exists. Secondary indexes are separate (ensure_indexes) because
a first bulk load is much faster without them.
"""
import contextlib
import datetime

from . import search
from .build.parse import TWEET_COLUMNS, USER_COLUMNS

SCHEMA_VERSION = 1

_INTEGER = {
    "tweetid", "follower_count", "following_count", "in_reply_to_tweetid",
    "quoted_tweet_tweetid", "is_retweet", "retweet_tweetid", "quote_count",
    "reply_count", "like_count", "retweet_count", "is_hashed", "import_id",
}
_REAL = {"latitude", "longitude"}

# Tweet id columns that JavaScript clients need as text: ids are beyond 2**53
# and JSON numbers lose their last digits there. Virtual, so they cost no space.
ID_TEXT_COLUMNS = ("tweetid", "in_reply_to_tweetid", "quoted_tweet_tweetid", "retweet_tweetid")

# Table column order: what a person reading a row wants first.
TWEETS_ORDER = (
    "tweetid", "campaign", "tweet_time", "userid", "user_screen_name", "tweet_language",
    "tweet_text", "tweet_client_name", "is_retweet", "retweet_userid", "retweet_tweetid",
    "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid", "hashtags",
    "urls", "user_mentions", "quote_count", "reply_count", "like_count", "retweet_count",
    "latitude", "longitude", "geo", "poll_choices", "user_display_name",
    "user_reported_location", "user_profile_description", "user_profile_url",
    "follower_count", "following_count", "account_creation_date", "account_language",
    "extra", "import_id",
)
USERS_ORDER = ("campaign",) + USER_COLUMNS + ("is_hashed", "from_users_file", "extra", "import_id")

assert set(TWEETS_ORDER) == set(TWEET_COLUMNS) | {"campaign", "geo", "extra", "import_id"}


def _type(column):
    if column in _INTEGER or column == "from_users_file":
        return "INTEGER"
    if column in _REAL:
        return "REAL"
    return "TEXT"


def _columns_sql(order, primary=None):
    lines = []
    for column in order:
        line = f"[{column}] {_type(column)}"
        if column == primary:
            line += " PRIMARY KEY"
        if column == "campaign":
            line += " NOT NULL"
        if column == "from_users_file":
            line += " NOT NULL DEFAULT 1"
        lines.append(line)
    return lines


_TWEETS_SQL = "CREATE TABLE IF NOT EXISTS [tweets] (\n  " + ",\n  ".join(
    _columns_sql(TWEETS_ORDER, primary="tweetid")
    + [
        f"[{column}_str] TEXT GENERATED ALWAYS AS (CAST([{column}] AS TEXT)) VIRTUAL"
        for column in ID_TEXT_COLUMNS
    ]
) + "\n)"

_USERS_SQL = "CREATE TABLE IF NOT EXISTS [users] (\n  " + ",\n  ".join(
    _columns_sql(USERS_ORDER) + ["PRIMARY KEY ([campaign], [userid])"]
) + "\n)"

TABLES = {
    "tei_meta": """CREATE TABLE IF NOT EXISTS [tei_meta] (
  [key] TEXT PRIMARY KEY,
  [value] TEXT
)""",
    "campaigns": """CREATE TABLE IF NOT EXISTS [campaigns] (
  [name] TEXT PRIMARY KEY,
  [release] TEXT,
  [release_date] TEXT,
  [country] TEXT,
  [description] TEXT,
  [synthetic] INTEGER NOT NULL DEFAULT 0,
  [announced_accounts] INTEGER,
  [announced_tweets] INTEGER,
  [tweets] INTEGER NOT NULL DEFAULT 0,
  [accounts] INTEGER NOT NULL DEFAULT 0,
  [tweeting_accounts] INTEGER NOT NULL DEFAULT 0,
  [hashed_accounts] INTEGER NOT NULL DEFAULT 0,
  [shared_tweets] INTEGER NOT NULL DEFAULT 0,
  [rejected_rows] INTEGER NOT NULL DEFAULT 0,
  [first_tweet] TEXT,
  [last_tweet] TEXT,
  [updated] TEXT
)""",
    "tweets": _TWEETS_SQL,
    "users": _USERS_SQL,
    # A tweet's first campaign is tweets.campaign; a tweet that another
    # campaign's archive also holds gets a row here, so no membership is lost.
    "shared_tweets": """CREATE TABLE IF NOT EXISTS [shared_tweets] (
  [tweetid] INTEGER NOT NULL,
  [campaign] TEXT NOT NULL,
  [import_id] INTEGER,
  PRIMARY KEY ([tweetid], [campaign])
) WITHOUT ROWID""",
    "imports": """CREATE TABLE IF NOT EXISTS [imports] (
  [id] INTEGER PRIMARY KEY,
  [path] TEXT NOT NULL,
  [member] TEXT,
  [campaign] TEXT,
  [kind] TEXT,
  [size] INTEGER,
  [mtime_ns] INTEGER,
  [checksum] TEXT,
  [status] TEXT NOT NULL,
  [error] TEXT,
  [rows_read] INTEGER NOT NULL DEFAULT 0,
  [rows_loaded] INTEGER NOT NULL DEFAULT 0,
  [rows_rejected] INTEGER NOT NULL DEFAULT 0,
  [duplicates] INTEGER NOT NULL DEFAULT 0,
  [started] TEXT,
  [finished] TEXT
)""",
    "rejects": """CREATE TABLE IF NOT EXISTS [rejects] (
  [id] INTEGER PRIMARY KEY,
  [import_id] INTEGER REFERENCES [imports]([id]),
  [path] TEXT NOT NULL,
  [member] TEXT,
  [line] INTEGER,
  [reason] TEXT NOT NULL,
  [raw] TEXT
)""",
    # Campaigns whose rows changed since their figures were last computed.
    # Written in the same transaction as the rows, so a killed build still
    # knows what to recompute when it is run again.
    "tei_dirty": """CREATE TABLE IF NOT EXISTS [tei_dirty] (
  [campaign] TEXT PRIMARY KEY
)""",
    # Coordination networks (coordination.py, groups.py; docs/coordination.md).
    # One row per parameter set; `data_version` is what the run was computed
    # from (the loaded imports of its scope), so a build knows which runs an
    # added archive made stale.
    "coordination_runs": """CREATE TABLE IF NOT EXISTS [coordination_runs] (
  [id] INTEGER PRIMARY KEY,
  [kind] TEXT NOT NULL,
  [window_minutes] INTEGER NOT NULL,
  [min_weight] INTEGER NOT NULL,
  [scope] TEXT NOT NULL,
  [is_default] INTEGER NOT NULL DEFAULT 0,
  [parameters] TEXT NOT NULL,
  [created] TEXT NOT NULL,
  [edge_count] INTEGER NOT NULL DEFAULT 0,
  [account_count] INTEGER NOT NULL DEFAULT 0,
  [group_count] INTEGER NOT NULL DEFAULT 0,
  [evidence_count] INTEGER NOT NULL DEFAULT 0,
  [seconds] REAL,
  [data_version] TEXT,
  UNIQUE ([kind], [window_minutes], [min_weight], [scope])
)""",
    # One row per directed edge A->B of weight >= the run's min_weight.
    "coordination_edges": """CREATE TABLE IF NOT EXISTS [coordination_edges] (
  [run_id] INTEGER NOT NULL,
  [kind] TEXT NOT NULL,
  [userid_a] TEXT NOT NULL,
  [userid_b] TEXT NOT NULL,
  [campaign_a] TEXT NOT NULL,
  [campaign_b] TEXT NOT NULL,
  [weight] INTEGER NOT NULL,
  [weight_reverse] INTEGER NOT NULL,
  [symmetry] REAL NOT NULL,
  [first_time] TEXT,
  [last_time] TEXT,
  PRIMARY KEY ([run_id], [userid_a], [userid_b])
)""",
    # Exactly `weight` rows per edge: each tweet of A counted in the weight,
    # with B's nearest matching tweet.
    "coordination_evidence": """CREATE TABLE IF NOT EXISTS [coordination_evidence] (
  [run_id] INTEGER NOT NULL,
  [userid_a] TEXT NOT NULL,
  [userid_b] TEXT NOT NULL,
  [tweetid_a] INTEGER NOT NULL,
  [tweetid_b] INTEGER NOT NULL,
  [object] TEXT NOT NULL,
  [minutes_apart] INTEGER NOT NULL,
  PRIMARY KEY ([run_id], [userid_a], [userid_b], [tweetid_a])
) WITHOUT ROWID""",
    "coordination_groups": """CREATE TABLE IF NOT EXISTS [coordination_groups] (
  [run_id] INTEGER NOT NULL,
  [userid] TEXT NOT NULL,
  [group_id] INTEGER NOT NULL,
  [campaign] TEXT,
  PRIMARY KEY ([run_id], [userid])
)""",
    "coordination_group_summaries": """CREATE TABLE IF NOT EXISTS [coordination_group_summaries] (
  [run_id] INTEGER NOT NULL,
  [group_id] INTEGER NOT NULL,
  [size] INTEGER NOT NULL,
  [campaigns] TEXT NOT NULL,
  [first_created] TEXT,
  [last_created] TEXT,
  [top_hashtags] TEXT NOT NULL,
  [top_domains] TEXT NOT NULL,
  [tweets] INTEGER NOT NULL,
  [coordinated_tweets] INTEGER NOT NULL,
  [coordinated_share] REAL NOT NULL,
  [edges] INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY ([run_id], [group_id])
)""",
    # The objects the networks of each kind match on (coordination.py), one
    # row per tweet and object, in the order the networks' self-join reads
    # them: made once per change of the data instead of once per network.
    # Hidden (tei_), like the other tables only the build reads.
    "tei_coordination_objects": """CREATE TABLE IF NOT EXISTS [tei_coordination_objects] (
  [kind] TEXT NOT NULL,
  [object] NOT NULL,
  [minute] INTEGER NOT NULL,
  [userid] TEXT NOT NULL,
  [tweetid] INTEGER NOT NULL,
  PRIMARY KEY ([kind], [object], [minute], [userid], [tweetid])
) WITHOUT ROWID""",
}

# Every tweet of every campaign whose archive holds it: a tweet is a row of
# tweets under its first campaign (tweets.campaign) and, for each later
# archive that also holds it, a row of shared_tweets. The campaign pages link
# their figures here (`?in_campaign=X&...`), so that each opens exactly the
# tweets it counts; SQLite pushes the filters into both halves, where the
# campaign and shared_tweets indexes answer them.
VIEWS = {
    "campaign_tweets": """CREATE VIEW IF NOT EXISTS [campaign_tweets] AS
SELECT t.campaign AS in_campaign, t.* FROM tweets t
UNION ALL
SELECT s.campaign AS in_campaign, t.* FROM shared_tweets s JOIN tweets t ON t.tweetid = s.tweetid""",
    # The same rows with the weekday (0 is Sunday) and hour of their UTC
    # time, by the expressions summaries.py counts campaign_hours with: the
    # hour chart's bars and the heatmap's cells link here
    # (`?in_campaign=X&weekday=1&hour=14`). CAST gives the columns integer
    # affinity, so that the filter's text '14' compares equal to 14.
    "campaign_tweet_hours": """CREATE VIEW IF NOT EXISTS [campaign_tweet_hours] AS
SELECT CAST(strftime('%w', substr(tweet_time, 1, 10)) AS INTEGER) AS weekday,
       CAST(substr(tweet_time, 12, 2) AS INTEGER) AS hour, *
FROM campaign_tweets""",
}
# What the network pages read: a campaign's strongest edges, an account's
# incoming edges, a group's members. Created with the tables (they are
# filled after the load, by the build or `datasette-tei coordinate`).
COORDINATION_INDEXES = (
    ("coordination_edges", ("run_id", "campaign_a", "weight")),
    ("coordination_edges", ("run_id", "campaign_b", "weight")),
    ("coordination_edges", ("run_id", "userid_b")),
    ("coordination_groups", ("run_id", "group_id")),
    ("coordination_groups", ("run_id", "campaign", "group_id")),  # a campaign's groups
)

# (table, columns): built after the bulk load, used by the common filters.
INDEXES = (
    ("tweets", ("campaign", "tweet_time")),
    # Entries of one campaign in tweetid order: the tweets table filtered to a
    # campaign, in its default order, reads this instead of scanning the
    # primary key past every other campaign's tweets.
    ("tweets", ("campaign",)),
    ("tweets", ("tweet_time",)),
    # The tweet ids alone, beside the table keyed by them: Datasette counts
    # a `?_search=` view (0.65: every match) as `count(*) ... WHERE rowid IN
    # (matches)`, and SQLite checks each match in this narrow index (3% of
    # the table's size) instead of in the table's own pages. For a word in
    # 364,000 of 5.1M tweets that count fell from 0.75 to 0.3 s.
    ("tweets", ("tweetid",)),
    ("tweets", ("userid", "tweet_time")),
    ("tweets", ("tweet_language",)),
    ("tweets", ("tweet_client_name",)),
    ("tweets", ("retweet_userid",)),
    ("users", ("userid",)),
    ("shared_tweets", ("campaign",)),  # a campaign's shared tweets, for its summaries
    ("users", ("account_creation_date",)),
    ("imports", ("checksum",)),
    ("imports", ("path",)),
    ("rejects", ("import_id",)),
)

FTS_TABLE = search.TABLE
# Tables of the full-text indexes of earlier versions (a trigram index and a
# second one of CJK pairs): a build replaces them with search.TABLE.
_OLD_SEARCH_TABLES = ("tweets_cjk", "tweets_cjk_imports")


def ensure_schema(conn):
    """Create every table, and the full-text index, that is missing."""
    for sql in TABLES.values():
        conn.execute(sql)
    for sql in VIEWS.values():
        conn.execute(sql)
    ensure_coordination_schema(conn)
    _ensure_search_index(conn)
    conn.execute(
        "INSERT OR IGNORE INTO tei_meta (key, value) VALUES ('schema_version', ?)",
        (str(SCHEMA_VERSION),),
    )


def ensure_coordination_schema(conn):
    """The coordination tables and their indexes, alone: what
    `datasette-tei coordinate` adds to a database an earlier version built."""
    for name in TABLES:
        if name.startswith(("coordination_", "tei_coordination_")):
            conn.execute(TABLES[name])
    for table, columns in COORDINATION_INDEXES:
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS [{index_name(table, columns)}] ON [{table}] "
            f"({', '.join(f'[{column}]' for column in columns)})"
        )


def _ensure_search_index(conn):
    """The word index (search.py), filled as tweets load. A database that an
    earlier version built with other indexes gets it from its tweets, in the
    build's first transaction: the index is never half made."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (FTS_TABLE,)).fetchone()
    if row and search.TOKENIZE in row[0]:
        return
    for table in ((FTS_TABLE,) if row else ()) + _OLD_SEARCH_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS [{table}]")
    conn.execute(search.CREATE)
    if row:
        search.register_functions(conn)
        conn.execute(
            f"INSERT INTO [{FTS_TABLE}] (rowid, tweet_text) "
            "SELECT tweetid, coalesce(tei_index_text(tweet_text), tweet_text) FROM tweets"
        )


def index_name(table, columns):
    return f"idx_{table}_{'_'.join(columns)}"


def ensure_indexes(conn):
    # Imported here: `datasette-tei coordinate` and the serving side do
    # not use it, and it is most of the command line's start-up.
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    for table, columns in INDEXES:
        db[table].create_index(columns, index_name=index_name(table, columns), if_not_exists=True)


def tables_and_views(conn):
    """The names of the database's tables and views."""
    return {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def dict_rows(cursor):
    """Every row of a cursor, as a dict by column name."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def is_tei_database(conn):
    tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    return {"tweets", "users", "campaigns", "tei_meta"} <= tables


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_meta(conn, **values):
    conn.executemany(
        "INSERT INTO tei_meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(key, str(value)) for key, value in values.items()],
    )


@contextlib.contextmanager
def transaction(conn):
    """BEGIN ... COMMIT, or ROLLBACK on any exception (KeyboardInterrupt
    included): what runs inside is in the database whole or not at all."""
    conn.execute("BEGIN")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def record_failure(conn, path, campaign, error, member=None, kind=None):
    """An archive or member that could not be read, in its own transaction;
    it replaces the failure an earlier build recorded for it."""
    with transaction(conn):
        conn.execute(
            "DELETE FROM imports WHERE path = ? AND member IS ? AND status = 'failed'", (path, member)
        )
        conn.execute(
            "INSERT INTO imports (path, member, campaign, kind, status, error, started, finished) "
            "VALUES (?, ?, ?, ?, 'failed', ?, ?, ?)",
            (path, member, campaign, kind, error, now(), now()),
        )
