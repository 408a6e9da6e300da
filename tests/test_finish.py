"""The figures finish derives from the tweets: the users rows of accounts
seen only in tweets and campaigns.tweeting_accounts, computed from the
summary pass, checked against an oracle and against the direct queries.

An account's users row takes the profile of its first tweet (tweet_time,
then tweetid), whichever indexes exist: the former GROUP BY took whichever
row came first in the index the planner chose."""
import random
import sqlite3

import pytest

from datasette_tei import summaries
from datasette_tei.build import finish
from datasette_tei.schema import ensure_indexes, ensure_schema

PROFILE = [c.strip() for c in finish._PROFILE.split(",")]


def make_db(path, analyse=False):
    conn = sqlite3.connect(path, isolation_level=None)
    ensure_schema(conn)
    rng = random.Random(6)
    rows = []
    for n in range(1, 400):
        campaign = "a" if n % 3 else "b"
        userid = rng.choice(["u1", "u2", "u3", "42", "x" * 64, None])
        # Coarse times: ties, broken by tweetid; some missing.
        time = rng.choice([None, "2019-01-01 10:00", "2019-01-01 10:00", "2018-12-31 23:59",
                           "2019-02-03 04:05", ""])
        rows.append((rng.randrange(1, 10**18), campaign, time, userid,
                     rng.choice([userid, "name%d" % n]), "bio %d" % n, rng.randrange(1000)))
    conn.executemany(
        "INSERT OR IGNORE INTO tweets (tweetid, campaign, tweet_time, userid, user_screen_name, "
        "user_profile_description, follower_count, hashtags, urls) VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '[]')",
        rows,
    )
    # b also holds some of a's tweets; a users file row for one account of a.
    conn.execute("INSERT INTO shared_tweets (tweetid, campaign) "
                 "SELECT tweetid, 'b' FROM tweets WHERE campaign = 'a' LIMIT 20")
    conn.execute("INSERT INTO users (campaign, userid, user_screen_name) VALUES ('a', 'u2', 'from file')")
    ensure_indexes(conn)
    if analyse:
        conn.execute("ANALYZE")
    return conn


def oracle(conn, campaign):
    first = {}
    for row in conn.execute(
        f"SELECT userid, tweet_time, tweetid, {finish._PROFILE} FROM tweets "
        "WHERE campaign = ? AND userid IS NOT NULL", (campaign,)
    ):
        key = (row[1] is not None, row[1] or "", row[2])
        if row[0] not in first or key < first[row[0]][0]:
            first[row[0]] = (key, row[3:])
    return first


def users(conn):
    return conn.execute(
        f"SELECT rowid, campaign, userid, {finish._PROFILE}, is_hashed, from_users_file "
        "FROM users ORDER BY rowid").fetchall()


@pytest.mark.parametrize("analyse", [False, True])
def test_users_from_tweets_take_the_first_tweets_profile(tmp_path, analyse):
    conn = make_db(str(tmp_path / "t.db"), analyse)
    results = {}
    for way in ("direct", "summary pass"):
        conn.execute("BEGIN")
        tweeting = {}
        for campaign in ("a", "b"):
            if way == "direct":
                finish.add_users_seen_only_in_tweets(conn, campaign)
                finish.update_campaign(conn, campaign)
                summaries.refresh(conn, campaign)
            else:
                n = summaries.refresh(conn, campaign, add_users=finish.add_users_seen_only_in_tweets)
                finish.update_campaign(conn, campaign, tweeting=n)
            tweeting[campaign] = conn.execute(
                "SELECT tweeting_accounts FROM campaigns WHERE name = ?", (campaign,)).fetchone()[0]
        results[way] = (users(conn), tweeting)
        if way == "summary pass":
            for campaign in ("a", "b"):
                want = oracle(conn, campaign)
                got = {r[0]: tuple(r[1:]) for r in conn.execute(
                    f"SELECT userid, {finish._PROFILE} FROM users "
                    "WHERE campaign = ? AND NOT from_users_file", (campaign,))}
                assert got == {u: p for u, (_, p) in want.items() if (campaign, u) != ("a", "u2")}
                assert tweeting[campaign] == len(want)
        conn.execute("ROLLBACK")
    assert results["direct"] == results["summary pass"]


def test_lists_that_are_not_json_are_skipped(tmp_path):
    conn = make_db(str(tmp_path / "t.db"))
    conn.execute("UPDATE tweets SET hashtags = '[\"ok\", \"ok\"]', urls = '[\"http://a.example/x\"]' "
                 "WHERE tweetid IN (SELECT tweetid FROM tweets WHERE campaign = 'a' LIMIT 5)")
    conn.execute("UPDATE tweets SET hashtags = '[\"bad\"', urls = 'not json' "
                 "WHERE tweetid IN (SELECT tweetid FROM tweets WHERE campaign = 'a' "
                 "AND hashtags = '[]' LIMIT 5)")
    conn.execute("BEGIN")
    summaries.refresh(conn, "a")
    top = conn.execute("SELECT kind, value, tweets FROM campaign_top "
                       "WHERE campaign = 'a' AND kind IN ('hashtag', 'domain') ORDER BY kind").fetchall()
    assert top == [("domain", "a.example", 5), ("hashtag", "ok", 5)]
    conn.execute("ROLLBACK")


def test_no_statement_searches_the_campaign_index_once_per_id(tmp_path):
    """Rows read through _tei_ids are found by rowid: searching the campaign
    index for each id reads all the campaign's rows per tweet. Checked
    without statistics, as in a first build's summary step."""
    conn = make_db(str(tmp_path / "t.db"))
    statements = []
    conn.set_trace_callback(statements.append)
    conn.execute("BEGIN")
    summaries.refresh(conn, "a", add_users=finish.add_users_seen_only_in_tweets)
    conn.set_trace_callback(None)
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _tei_ids (tweetid INTEGER PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS _tei_tweeting (userid TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.create_function("tei_domain", 1, summaries.domain)
    for sql in statements:
        if "_tei_ids i" not in sql or sql.startswith("CREATE TEMP TABLE _tei_ids"):
            continue
        plan = "\n".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "campaign=?" not in plan, (sql, plan)
    conn.execute("ROLLBACK")


def test_a_second_connection_only_for_a_file_in_wal_mode(tmp_path):
    """The summaries read beside the build only where a reader cannot stop
    the writer: a database file in WAL mode."""
    path = str(tmp_path / "tei.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE t (x)")
    assert finish._reader(conn) is None  # rollback journal
    conn.execute("PRAGMA journal_mode = WAL")
    reader = finish._reader(conn)()
    try:
        assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    finally:
        reader.close()
    assert finish._reader(sqlite3.connect(":memory:")) is None


# The tables the steps after the load write, and their columns that hold a
# time of computation.
WRITTEN = {
    "campaigns": ("updated",), "users": (), "campaign_months": (), "campaign_hours": (),
    "campaign_days": (), "campaign_account_months": (), "campaign_top": (), "campaign_urls": (),
    "shared_values": (), "tei_facet_counts": (), "account_summaries": ("computed",),
    "campaign_top_all": (), "campaign_creation_days": (),
}


def written(path):
    conn = sqlite3.connect(path)
    out = {}
    for table, skip in WRITTEN.items():
        columns = ", ".join(f"[{r[1]}]" for r in conn.execute(f"PRAGMA table_info([{table}])")
                            if r[1] not in skip)
        out[table] = conn.execute(f"SELECT {columns} FROM [{table}] ORDER BY {columns}").fetchall()
    conn.close()
    return out


def test_counts_beside_the_indexes_give_the_figures_counted_in_line(tmp_path, monkeypatch):
    """A build counts the campaigns' rows on other connections, the first
    campaign's while it creates the indexes: every figure is the one a
    build that counts in line, after the indexes, gives."""
    from datasette_tei.build import load
    from datasette_tei.cli import DEMO_DIR

    events = []
    computation, create = summaries.Computation, finish.ensure_indexes

    def started(campaign, reader=None):
        events.append(("count", campaign, reader is not None))
        return computation(campaign, reader)

    def indexes(conn):
        events.append(("indexes",))
        return create(conn)

    monkeypatch.setattr(summaries, "Computation", started)
    monkeypatch.setattr(finish, "ensure_indexes", indexes)
    assert load.build(str(tmp_path / "beside.db"), [DEMO_DIR]).ok
    campaigns = [r[0] for r in sqlite3.connect(str(tmp_path / "beside.db")).execute(
        "SELECT name FROM campaigns ORDER BY name")]
    assert len(campaigns) >= 2
    # Each campaign counted once, beside; the first before the indexes.
    assert events == [("count", campaigns[0], True), ("indexes",)] + [
        ("count", name, True) for name in campaigns[1:]]

    events.clear()
    monkeypatch.setattr(finish, "_reader", lambda conn: None)
    assert load.build(str(tmp_path / "in_line.db"), [DEMO_DIR]).ok
    assert events == [("indexes",)] + [("count", name, False) for name in campaigns]
    beside, in_line = written(str(tmp_path / "beside.db")), written(str(tmp_path / "in_line.db"))
    assert all(beside[table] for table in ("campaign_top", "tei_facet_counts", "campaign_urls"))
    assert beside == in_line
