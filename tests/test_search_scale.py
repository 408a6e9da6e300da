"""The search's bounds, on more matches than it ranks: which tweets it ranks
(the newest matches, by tweet id, that pass the filters), how many it reads
at most, and that a filter pages through the matches of other campaigns.
Checked against an oracle in Python, on a small database made here with the
tables the search reads."""
import sqlite3

import pytest

from datasette_tei import search as search_mod
from datasette_tei.serve import queries
from test_search import oracle as search_oracle

N = queries.SCAN_LIMIT + 2000  # more matches than the search may read


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("scale") / "search.db")
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE tweets (tweetid INTEGER PRIMARY KEY, campaign TEXT, tweet_time TEXT,
          userid TEXT, user_screen_name TEXT, tweet_language TEXT, tweet_text TEXT,
          tweetid_str TEXT GENERATED ALWAYS AS (CAST(tweetid AS TEXT)) VIRTUAL);
        CREATE TABLE shared_tweets (tweetid INTEGER, campaign TEXT, PRIMARY KEY (tweetid, campaign))
          WITHOUT ROWID;
        {search_mod.CREATE};
    """)
    rows = []
    for i in range(N):
        # Every tweet says election, some twice; one in 50 is from the
        # small campaign; the oldest 100 are the only ones in "old"; every
        # third has 香港, in Chinese.
        campaign = "old" if i < 100 else ("small" if i % 50 == 0 else "big")
        text = "election " * (1 + i % 3) + f"w{i % 7} " * (i % 5)
        language = "en"
        if i % 3 == 0:
            text += " 中国香港新闻"
            language = "zh"
        rows.append((10**17 + i, campaign, "2020-01-01 00:00", "u", "u", language, text))
    conn.executemany("INSERT INTO tweets (tweetid, campaign, tweet_time, userid, user_screen_name,"
                     " tweet_language, tweet_text) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    search_mod.register_functions(conn)
    conn.execute("INSERT INTO tweets_fts (rowid, tweet_text) "
                 "SELECT tweetid, coalesce(tei_index_text(tweet_text), tweet_text) FROM tweets")
    # A tweet of "big" that "shared" also holds.
    conn.execute("INSERT INTO shared_tweets VALUES (?, 'shared')", (10**17 + N - 2,))
    conn.commit()
    return conn


def search(conn, q, campaign="", language="", sql=queries._SEARCH_SQL):
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row  # by position or by name
    return cursor.execute(sql, {"q": q, "campaign": campaign, "language": language}).fetchall()


def oracle(conn, q, keep):
    """The newest SCAN_LIMIT tweets with every word, the first FOUND_LIMIT of
    them that `keep` accepts, the best 200 by score (then newest)."""
    candidates = [
        row for row in conn.execute(
            "SELECT tweetid, campaign, tweet_language, tweet_text FROM tweets ORDER BY tweetid DESC")
        if search_oracle(row[3], q)
    ][:queries.SCAN_LIMIT]
    kept = [row for row in candidates if keep(*row[:3])][:queries.FOUND_LIMIT]
    best = sorted(kept, key=lambda row: (search_mod.rank(row[3], q), -row[0]))[:200]
    return [(str(row[0]), round(search_mod.rank(row[3], q), 3)) for row in best]



def result(rows):
    return [(r["tweetid"], r["score"]) for r in rows]


@pytest.mark.parametrize("q", ["election", "香港", "election 香港", "election w3", "中国香港"])
def test_ranks_the_newest_matches(conn, q):
    rows = search(conn, q)
    assert len(rows) == 200
    assert result(rows) == oracle(conn, q, lambda *row: True)
    if q == "election":  # every tweet matches: only the newest FOUND_LIMIT are ranked
        assert min(int(r[0]) for r in rows) > 10**17 + N - 1 - queries.FOUND_LIMIT
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores)


def test_a_campaign_filter_pages_through_other_campaigns(conn):
    """The newest FOUND_LIMIT matches are nearly all of "big": the search
    reads further, up to SCAN_LIMIT matches, for the small campaign's."""
    rows = search(conn, "election", campaign="small")
    assert rows and all(r[1] == "small" for r in rows)
    assert result(rows) == oracle(conn, "election", lambda t, campaign, l: campaign == "small")
    shared = search(conn, "election", campaign="shared")
    assert [r[0] for r in shared] == [str(10**17 + N - 2)]


def test_the_scan_is_bounded(conn):
    """Matches older than the newest SCAN_LIMIT are not read: the campaign
    whose tweets are all older finds nothing, though its tweets match."""
    assert conn.execute("SELECT count(*) FROM tweets WHERE campaign = 'old'").fetchone()[0] == 100
    assert search(conn, "election", campaign="old") == []
    # 香港 has fewer matches than SCAN_LIMIT: all are read, old ones too.
    old = search(conn, "香港", campaign="old")
    assert {int(r[0]) for r in old} == {10**17 + i for i in range(100) if i % 3 == 0}


def test_language_filter(conn):
    rows = search(conn, "election", language="ZH")
    assert result(rows) == oracle(conn, "election", lambda t, c, language: language == "zh")


def test_rank_prefers_more_occurrences_in_shorter_tweets():
    rank = search_mod.rank
    assert rank("election", "election") < rank("election and much more text here", "election")
    assert rank("election election", "election") < rank("election", "election")
    assert rank("nothing", "election") == 0
    assert rank("reelection elections", "election") == 0  # words, as the index finds them
    assert rank("Election", "ELECTION") == rank("election", "election")
