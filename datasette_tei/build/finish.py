"""After the bulk load: indexes, campaign figures, summaries, coordination
networks, a clean file.

Each step is idempotent and commits on its own, and the build is only
marked complete at the very end: a build killed here is finished by running
it again, and until then `tei_meta.build_state` says `building`.
"""
import sqlite3

from .. import accounts, summaries
from . import all_campaigns, catalogue, coordination
from .checkpoints import checkpoint
from ..schema import INDEXES, ensure_indexes, index_name, now, set_meta

# Column list shared by the users table and the profile columns of tweets.
_PROFILE = (
    "user_display_name, user_screen_name, user_reported_location, "
    "user_profile_description, user_profile_url, follower_count, following_count, "
    "account_creation_date, account_language"
)


# After the load, the sorts that create indexes and the counts of the
# summaries run at once, on both cores: the build's connection sorts while
# two reader connections, in threads, count the campaigns' rows. Each gets a
# share of the load's page cache (in KiB), by which SQLite sizes a sort's
# memory, so that together they take what one took: the build's peak stays
# under 170 MB, at 1M tweets as at 5M.
_HALF_CACHE = -16384
_READER_CACHE = -8192

# The indexes that find a campaign's rows (its own tweets and the ones it
# shares), created and committed first: the summaries' counts read the
# campaigns' rows through them while the other indexes are made.
_CAMPAIGN_INDEXES = tuple(
    (table, columns) for table, columns in INDEXES if columns == ("campaign",))


def finish(conn, progress):
    dirty = [row[0] for row in conn.execute("SELECT campaign FROM tei_dirty ORDER BY campaign")]
    reader = _reader(conn)
    progress.message("Creating indexes")
    conn.execute(f"PRAGMA cache_size = {_HALF_CACHE}")
    conn.execute("BEGIN")
    for table, columns in _CAMPAIGN_INDEXES:
        conn.execute(f"CREATE INDEX IF NOT EXISTS [{index_name(table, columns)}] ON [{table}] "
                     f"({', '.join(f'[{column}]' for column in columns)})")
    conn.execute("COMMIT")
    # The first campaign's rows are counted while the other indexes are
    # made (the indexes' sorts leave most of the second core idle), each
    # next campaign's while the previous one's summaries are written.
    computing = summaries.Computation(dirty[0], reader) if dirty and reader else None
    try:
        # Alone, the indexes' sorts take a helper thread beside SQLite's own
        # (15 instead of 17 s at 1M tweets); beside the counts, which keep
        # the second core busy, it saves nothing and costs memory (168
        # instead of 156 MB at 1M tweets).
        conn.execute(f"PRAGMA threads = {0 if computing else 1}")
        conn.execute("BEGIN")
        ensure_indexes(conn)
        checkpoint("indexes")
        conn.execute("COMMIT")
        conn.execute("PRAGMA threads = 0")
        for i, campaign in enumerate(dirty):
            progress.message(f"Summarising {campaign}")
            conn.execute("BEGIN")
            computed = computing or summaries.Computation(campaign)
            computed.take(conn)  # waits for the count, and keeps it
            computed.close()
            computing = None
            if reader and i + 1 < len(dirty):
                computing = summaries.Computation(dirty[i + 1], reader)
            # The rows' counts give the summaries, the accounts to add to
            # users (before the summaries read users) and the count of
            # tweeting accounts.
            tweeting = summaries.refresh(
                conn, campaign, add_users=add_users_seen_only_in_tweets, computed=computed)
            update_campaign(conn, campaign, tweeting=tweeting)
            # The figures of its accounts with too many tweets to count per
            # request, in the same transaction: never older than the campaign's.
            accounts.refresh(conn, campaign)
            checkpoint("summary")
            conn.execute("DELETE FROM tei_dirty WHERE campaign = ?", (campaign,))
            conn.execute("COMMIT")
    finally:
        if computing:
            computing.close()
    # The coordination networks: the default runs, and every run whose
    # campaigns changed, recomputed whole, each in its own transaction.
    coordination.tune(conn)
    coordination.refresh(conn, progress)
    conn.execute("PRAGMA threads = 0")
    conn.execute("BEGIN")
    # Every build, not only when a campaign changed: a build killed after
    # the campaigns' summaries finishes here when run again.
    progress.message("Ranking all campaigns together")
    all_campaigns.refresh(conn)
    all_campaigns.refresh_creation_days(conn)
    # Statistics for the query planner. Not sampled (analysis_limit): a
    # sample of a campaign index sees one campaign and makes the planner
    # think `campaign = ?` picks a few rows, when it picks millions.
    progress.message("Analysing")
    conn.execute("ANALYZE")
    set_meta(conn, build_state="complete", build_finished=now())
    conn.execute("COMMIT")
    # One self-contained file: WAL is for readers during the build; a
    # published copy (read-only, immutable) must not need a -wal beside it.
    # A reader that has the file open (a `datasette serve` during the build)
    # keeps it in WAL mode: the build is complete all the same, so say so
    # rather than wait for the reader or fail.
    conn.execute("PRAGMA busy_timeout = 2000")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
    except sqlite3.OperationalError:
        progress.message(
            "Another process has the database open, so it stays in WAL mode (a -wal file "
            "beside it); run the same command again once it is closed to make it one file."
        )


def _reader(conn):
    """What opens another connection to the database, for the summaries'
    counts beside this one (it reads what the load committed); None for a
    database in memory, or one not in WAL mode (a file system without
    shared memory): there, a reader would stop this connection writing."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    if not path or conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return None

    def open_reader():
        # Made in the summaries' thread, read and closed in this one.
        reader = sqlite3.connect(path, isolation_level=None, timeout=60, check_same_thread=False)
        reader.execute(f"PRAGMA cache_size = {_READER_CACHE}")
        reader.execute("PRAGMA temp_store = FILE")
        return reader

    return open_reader


def add_users_seen_only_in_tweets(conn, campaign, tweeting=None):
    """Accounts with tweets but no users-file row (no users file, or a
    partial one) still get a users row, from the profile their tweets carry:
    that of their first tweet (by tweet_time, then tweetid).

    `tweeting`, a table of the distinct userids of the campaign's tweets
    (summaries.refresh makes one), spares reading every row again: each
    account's first tweet is then one lookup in the (userid, tweet_time)
    index. +f.campaign keeps it there rather than in a campaign index."""
    made = None
    if not tweeting:
        made = tweeting = "temp._tei_users_seen"
        conn.execute(f"DROP TABLE IF EXISTS {made}")
        conn.execute(f"CREATE TABLE {made} (userid TEXT PRIMARY KEY) WITHOUT ROWID")
        conn.execute(
            f"INSERT OR IGNORE INTO {made} (userid) "
            "SELECT userid FROM tweets WHERE campaign = ? AND userid IS NOT NULL",
            (campaign,),
        )
    conn.execute(
        f"""
        INSERT INTO users (campaign, userid, {_PROFILE}, is_hashed, from_users_file)
        SELECT t.campaign, t.userid, {_prefixed("t")},
               t.userid = t.user_screen_name AND t.userid GLOB '*[^0-9]*', 0
        FROM {tweeting} u CROSS JOIN tweets t ON t.tweetid = (
            SELECT f.tweetid FROM tweets f WHERE f.userid = u.userid AND +f.campaign = :campaign
            ORDER BY f.tweet_time, f.tweetid LIMIT 1)
        ORDER BY u.userid
        ON CONFLICT (campaign, userid) DO NOTHING
        """,
        {"campaign": campaign},
    )
    if made:
        conn.execute(f"DROP TABLE {made}")


def _prefixed(alias):
    return ", ".join(f"{alias}.{column.strip()}" for column in _PROFILE.split(","))


def update_campaign(conn, campaign, tweeting=None):
    """The campaign's catalogue entry and its loaded figures. `tweeting`,
    the number of accounts of its tweets, when the caller has counted them."""
    release = conn.execute(
        "SELECT release FROM campaigns WHERE name = ?", (campaign,)
    ).fetchone()
    known = catalogue.lookup(campaign, release[0] if release else None)
    release = known.release or _release_of_imports(conn, campaign)
    # count, min and max read the (campaign, tweet_time) index only; the
    # distinct accounts need the rows, unless the caller counted them.
    tweets, first, last = conn.execute(
        "SELECT count(*), min(tweet_time), max(tweet_time) FROM tweets WHERE campaign = ?",
        (campaign,),
    ).fetchone()
    if tweeting is None:
        tweeting = conn.execute(
            "SELECT count(DISTINCT userid) FROM (SELECT userid FROM tweets WHERE campaign = :c "
            "UNION ALL SELECT t.userid FROM shared_tweets s JOIN tweets t ON t.tweetid = s.tweetid "
            "WHERE s.campaign = :c)", {"c": campaign},
        ).fetchone()[0]
    # The tweets that an earlier campaign's archive loaded first are this
    # campaign's too: its active period includes them.
    shared, shared_first, shared_last = conn.execute(
        "SELECT count(*), min(t.tweet_time), max(t.tweet_time) FROM shared_tweets s "
        "JOIN tweets t ON t.tweetid = s.tweetid WHERE s.campaign = ?", (campaign,)
    ).fetchone()
    first = min((v for v in (first, shared_first) if v is not None), default=None)
    last = max((v for v in (last, shared_last) if v is not None), default=None)
    accounts, hashed = conn.execute(
        "SELECT count(*), coalesce(sum(is_hashed), 0) FROM users WHERE campaign = ?", (campaign,)
    ).fetchone()
    rejected = conn.execute(
        "SELECT coalesce(sum(rows_rejected), 0) FROM imports WHERE campaign = ? AND status = 'done'",
        (campaign,),
    ).fetchone()[0]
    conn.execute(
        """
        INSERT INTO campaigns (name, release, release_date, country, description, synthetic,
            announced_accounts, announced_tweets, tweets, accounts, tweeting_accounts,
            hashed_accounts, shared_tweets, rejected_rows, first_tweet, last_tweet, updated)
        VALUES (:name, :release, :release_date, :country, :description, :synthetic,
            :announced_accounts, :announced_tweets, :tweets, :accounts, :tweeting,
            :hashed, :shared, :rejected, :first, :last, :updated)
        ON CONFLICT (name) DO UPDATE SET
            release = coalesce(excluded.release, release),
            release_date = coalesce(excluded.release_date, release_date),
            country = excluded.country, description = excluded.description,
            synthetic = excluded.synthetic,
            announced_accounts = excluded.announced_accounts,
            announced_tweets = excluded.announced_tweets,
            tweets = excluded.tweets, accounts = excluded.accounts,
            tweeting_accounts = excluded.tweeting_accounts,
            hashed_accounts = excluded.hashed_accounts, shared_tweets = excluded.shared_tweets,
            rejected_rows = excluded.rejected_rows, first_tweet = excluded.first_tweet,
            last_tweet = excluded.last_tweet, updated = excluded.updated
        """,
        {
            "name": campaign,
            "release": release,
            "release_date": release.replace("_", "-") if release else None,
            "country": known.country,
            "description": known.description,
            "synthetic": int(known.synthetic),
            "announced_accounts": known.announced_accounts,
            "announced_tweets": known.announced_tweets,
            "tweets": tweets + shared,
            "accounts": accounts,
            "tweeting": tweeting,
            "hashed": hashed,
            "shared": shared,
            "rejected": rejected,
            "first": first,
            "last": last,
            "updated": now(),
        },
    )


def _release_of_imports(conn, campaign):
    from .archives import release_from_path

    for (path,) in conn.execute(
        "SELECT DISTINCT path FROM imports WHERE campaign = ? AND status = 'done'", (campaign,)
    ):
        release = release_from_path(path)
        if release:
            return release
    return None
