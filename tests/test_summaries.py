"""The per-campaign summaries, checked against
figures computed here independently, in Python, from the raw rows."""
import datetime
import json
import re
import shutil
import sqlite3
import threading
from collections import Counter, defaultdict

import pytest

from datasette_tei import summaries
from datasette_tei.build import finish


def connect(path):
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


@pytest.fixture
def demo_copy(demo_db, tmp_path):
    path = str(tmp_path / "demo.db")
    shutil.copy(demo_db, path)
    return path


# --- An independent oracle --------------------------------------------------

_HOST = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/?#@]*@)?([^/?#:]+)")


def oracle_domain(url):
    match = _HOST.match(url if "://" in url else "http://" + url)
    if not match:
        return None
    host = match.group(1).lower()
    return host[4:] if host.startswith("www.") else host


def campaign_rows(conn, campaign):
    """The campaign's tweets, its shared ones included (as campaigns.tweets counts)."""
    return conn.execute(
        "SELECT t.* FROM tweets t WHERE t.campaign = :c UNION ALL "
        "SELECT t.* FROM shared_tweets s JOIN tweets t ON t.tweetid = s.tweetid "
        "WHERE s.campaign = :c",
        {"c": campaign},
    ).fetchall()


def _ranked(counter, accounts=None):
    return {
        value: (tweets, len(accounts[value]) if accounts is not None else None)
        for value, tweets in counter.items()
    }


def expected(conn, campaign):
    """Every figure of a campaign, computed from its rows in Python."""
    rows = campaign_rows(conn, campaign)
    out = {}
    out["months"] = Counter(r["tweet_time"][:7] for r in rows if r["tweet_time"])
    cells = Counter()
    for r in rows:
        if r["tweet_time"]:
            when = datetime.datetime.strptime(r["tweet_time"][:16], "%Y-%m-%d %H:%M")
            cells[(when.isoweekday() % 7, when.hour)] += 1
    out["hours"] = cells
    out["account_months"] = Counter(
        r["account_creation_date"][:7]
        for r in conn.execute("SELECT * FROM users WHERE campaign = ?", (campaign,))
        if r["account_creation_date"]
    )
    for kind, column in (("language", "tweet_language"), ("client", "tweet_client_name")):
        counter, accounts = Counter(), defaultdict(set)
        for r in rows:
            value = r[column] or None
            counter[value] += 1
            accounts[value].add(r["userid"])
        out[kind] = _ranked(counter, accounts)
    for kind, column, normalise in (
        ("hashtag", "hashtags", lambda v: v),
        ("domain", "urls", oracle_domain),
    ):
        counter, accounts = Counter(), defaultdict(set)
        for r in rows:
            values = {normalise(v) for v in json.loads(r[column] or "[]") if v}
            for value in values - {None}:
                counter[value] += 1
                accounts[value].add(r["userid"])
        out[kind] = _ranked(counter, accounts)
    out["account"] = _ranked(Counter(r["userid"] for r in rows if r["userid"]))
    counter, accounts = Counter(), defaultdict(set)
    for r in rows:
        if r["is_retweet"] and r["retweet_userid"]:
            counter[r["retweet_userid"]] += 1
            accounts[r["retweet_userid"]].add(r["userid"])
    out["retweeted"] = _ranked(counter, accounts)
    return out


def stored(conn, campaign):
    p = (campaign,)
    out = {
        "months": Counter(dict(conn.execute(
            "SELECT month, tweets FROM campaign_months WHERE campaign = ?", p).fetchall())),
        "hours": Counter({(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT weekday, hour, tweets FROM campaign_hours WHERE campaign = ?", p)}),
        "account_months": Counter(dict(conn.execute(
            "SELECT month, accounts FROM campaign_account_months WHERE campaign = ?", p
        ).fetchall())),
    }
    for kind in ("language", "client", "hashtag", "domain", "account", "retweeted"):
        rows = conn.execute(
            "SELECT value, tweets, accounts, rank FROM campaign_top WHERE campaign = ? AND kind = ? "
            "ORDER BY rank", (campaign, kind)).fetchall()
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        counts = [r["tweets"] for r in rows]
        assert counts == sorted(counts, reverse=True), kind
        out[kind] = {r["value"]: (r["tweets"], r["accounts"]) for r in rows}
    return out


def campaigns_of(conn):
    return [r[0] for r in conn.execute("SELECT name FROM campaigns ORDER BY name")]


# --- Tests -------------------------------------------------------------------

def test_summaries_match_the_rows(demo_db):
    conn = connect(demo_db)
    names = campaigns_of(conn)
    assert len(names) >= 2
    for campaign in names:
        want, got = expected(conn, campaign), stored(conn, campaign)
        for key in want:
            assert got[key] == want[key], (campaign, key)
        total = conn.execute("SELECT tweets FROM campaigns WHERE name = ?", (campaign,)).fetchone()[0]
        assert sum(got["months"].values()) == total
        assert sum(got["hours"].values()) == total


def test_summaries_count_shared_tweets(demo_db):
    conn = connect(demo_db)
    shared = conn.execute("SELECT campaign, count(*) FROM shared_tweets GROUP BY 1").fetchall()
    if not shared:
        pytest.skip("the demo holds no shared tweet")
    for campaign, n in shared:
        own = conn.execute("SELECT count(*) FROM tweets WHERE campaign = ?", (campaign,)).fetchone()[0]
        months = conn.execute(
            "SELECT sum(tweets) FROM campaign_months WHERE campaign = ?", (campaign,)).fetchone()[0]
        assert months == own + n


def test_retweeted_accounts_labels_and_internal_flag(demo_db):
    conn = connect(demo_db)
    for r in conn.execute("SELECT * FROM campaign_top WHERE kind = 'retweeted'"):
        own = conn.execute(
            "SELECT user_screen_name FROM users WHERE campaign = ? AND userid = ?",
            (r["campaign"], r["value"]),
        ).fetchone()
        assert r["internal"] == (1 if own else 0)
        if own:
            assert r["label"] == own[0]


def test_refresh_is_repeatable_and_touches_one_campaign(demo_copy):
    conn = connect(demo_copy)
    names = campaigns_of(conn)
    before = {name: stored(conn, name) for name in names}
    # Damage another campaign's summary: refreshing the first must leave it.
    conn.execute("UPDATE campaign_months SET tweets = -1 WHERE campaign = ?", (names[1],))
    for _ in range(2):
        conn.execute("BEGIN")
        summaries.refresh(conn, names[0])
        conn.execute("COMMIT")
    assert stored(conn, names[0]) == before[names[0]]
    assert set(r[0] for r in conn.execute(
        "SELECT tweets FROM campaign_months WHERE campaign = ?", (names[1],))) == {-1}
    assert not conn.execute("SELECT name FROM sqlite_temp_master WHERE name LIKE '_tei%'").fetchall()


def _everything(conn, campaign):
    return (stored(conn, campaign),
            sorted(map(tuple, conn.execute("SELECT * FROM campaign_urls WHERE campaign = ?", (campaign,)))),
            sorted(map(tuple, conn.execute("SELECT * FROM shared_values"))))


def test_hashtags_and_urls_beside_give_the_same_figures(demo_copy):
    """The build computes the hashtag and URL figures in a thread, on a
    second connection: they are the ones computed in line."""
    conn = connect(demo_copy)
    conn.execute("PRAGMA journal_mode = WAL")  # as during a build
    opened, open_reader = [], finish._reader(conn)

    def reader():
        opened.append(threading.get_ident())
        return open_reader()

    for campaign in campaigns_of(conn):
        conn.execute("UPDATE campaign_urls SET tweets = -1 WHERE campaign = ?", (campaign,))
        conn.execute("BEGIN")
        summaries.refresh(conn, campaign)
        conn.execute("COMMIT")
        in_line = _everything(conn, campaign)
        conn.execute("UPDATE campaign_urls SET tweets = -1 WHERE campaign = ?", (campaign,))
        conn.execute("BEGIN")
        summaries.refresh(conn, campaign, reader=reader)
        conn.execute("COMMIT")
        assert _everything(conn, campaign) == in_line
        assert in_line[1] and all(row[3] > 0 for row in in_line[1])  # (url, campaign, domain, tweets)
    assert opened and threading.get_ident() not in opened
    assert not conn.execute("SELECT name FROM sqlite_temp_master WHERE name LIKE '_tei%'").fetchall()


def test_an_error_beside_fails_the_refresh_and_stops_the_thread(demo_copy, tmp_path):
    conn = connect(demo_copy)
    campaign = campaigns_of(conn)[0]
    before = _everything(conn, campaign)
    threads = threading.active_count()
    empty = str(tmp_path / "empty.db")
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match="no such table: (shared_)?tweets"):
        summaries.refresh(conn, campaign, reader=lambda: sqlite3.connect(empty, check_same_thread=False))
    conn.execute("ROLLBACK")
    assert threading.active_count() == threads
    assert _everything(conn, campaign) == before


def test_a_failure_in_line_stops_the_work_beside(demo_copy):
    """Ctrl-C while the build's connection works (it makes the indexes while
    a campaign's rows are counted beside): the threads end with it, and
    work they had not begun is not begun."""
    conn = connect(demo_copy)
    conn.execute("PRAGMA journal_mode = WAL")  # as during a build
    campaign = campaigns_of(conn)[0]
    threads = threading.active_count()
    started, ran, open_reader = threading.Event(), [], finish._reader(conn)

    def reader():
        started.wait(10)
        other = open_reader()
        other.set_trace_callback(ran.append)
        return other

    computing = summaries.Computation(campaign, reader)
    assert threading.active_count() == threads + 2
    # The threads go on once the failure is being handled.
    timer = threading.Timer(0.3, started.set)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        try:
            raise KeyboardInterrupt
        finally:
            computing.close()
    timer.join()
    assert threading.active_count() == threads
    assert ran == []


def shared_oracle(conn):
    """{(kind, value): number of campaigns} for values more than one campaign tweeted."""
    urls, domains = {}, {}
    for (name,) in conn.execute("SELECT name FROM campaigns").fetchall():
        for r in campaign_rows(conn, name):
            for url in json.loads(r["urls"] or "[]"):
                urls.setdefault(url, set()).add(name)
                domains.setdefault(oracle_domain(url), set()).add(name)
    want = {("url", u): len(c) for u, c in urls.items() if len(c) > 1}
    want.update({("domain", d): len(c) for d, c in domains.items() if len(c) > 1 and d})
    return want


def stored_shared(conn):
    return {(r[0], r[1]): r[2] for r in conn.execute("SELECT kind, value, campaigns FROM shared_values")}


def test_shared_values_follow_each_refresh(demo_copy):
    conn = connect(demo_copy)
    before = shared_oracle(conn)
    assert before and stored_shared(conn) == before
    # A campaign's links disappear: what it shared is shared no more.
    name = conn.execute(
        "SELECT campaign_names FROM shared_values ORDER BY campaigns DESC, kind DESC LIMIT 1"
    ).fetchone()[0].split()[0]
    conn.execute("UPDATE tweets SET urls = '[]' WHERE campaign = ?", (name,))
    conn.execute("BEGIN")
    summaries.refresh(conn, name)
    conn.execute("COMMIT")
    after = shared_oracle(conn)
    assert after != before
    assert stored_shared(conn) == after


def test_ensure_is_idempotent_and_creates_every_table(db_path):
    conn = connect(db_path)
    summaries.ensure(conn)
    summaries.ensure(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert set(summaries.SUMMARY_TABLES) <= tables


def test_refresh_never_scans_every_tweet(demo_copy):
    """Each statement of a refresh that reads tweets finds the campaign's rows
    by index or by rowid (never a scan of every tweet), and there are few."""
    conn = connect(demo_copy)
    conn.execute("ANALYZE")  # full statistics: what makes SQLite consider Bloom filters
    campaign = campaigns_of(conn)[0]
    statements = []
    conn.set_trace_callback(statements.append)
    conn.execute("BEGIN")
    summaries.refresh(conn, campaign)
    conn.execute("ROLLBACK")
    conn.set_trace_callback(None)
    conn.create_function("tei_domain", 1, summaries.domain)
    reading = [s for s in statements if re.search(r"\b(FROM|JOIN) tweets\b", s)]
    assert 3 <= len(reading) <= 7
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE _tei_ids (tweetid INTEGER PRIMARY KEY)")
    for sql in reading:
        if sql.startswith("CREATE TEMP TABLE _tei_ids"):
            continue
        plan = "\n".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert not re.search(r"\bSCAN t(weets)?\b(?! VIRTUAL)", plan), (sql, plan)
        # A Bloom filter on tweets is built by reading every tweet.
        assert not re.search(r"BLOOM FILTER ON t(weets)?\b", plan), (sql, plan)
        assert "campaign=?" in plan or "INTEGER PRIMARY KEY (rowid" in plan, plan
    conn.execute("ROLLBACK")


def test_domains():
    for url, host in [
        ("https://www.Example.com/a?b", "example.com"),
        ("http://user:pw@news.example.org:8080/x", "news.example.org"),
        ("example.com/path", "example.com"),
        ("https://t.co/abc", "t.co"),
    ]:
        assert summaries.domain(url) == host == oracle_domain(url)
    assert summaries.domain("") is None
    assert summaries.domain("http://[bad") is None


def test_a_build_counts_the_lists_beside(tmp_path, monkeypatch):
    """A build takes the two-connection path for every campaign."""
    from datasette_tei.build import load
    from datasette_tei.cli import DEMO_DIR

    made = []
    beside = summaries._Beside

    def recorded(*args):
        made.append(beside(*args))
        return made[-1]

    monkeypatch.setattr(summaries, "_Beside", recorded)
    report = load.build(str(tmp_path / "tei.db"), [DEMO_DIR])
    assert report.ok
    conn = connect(str(tmp_path / "tei.db"))
    # Two connections counting each campaign's rows.
    assert len(made) == 2 * len(campaigns_of(conn)) >= 4
