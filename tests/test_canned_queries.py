"""The canned queries answer: an empty campaign means all campaigns (from the
precomputed all-campaign rankings, or added up on a database built before
them), a canned query's page is titled by its title, and the search results
carry the full tweet text beside the snippet in HTML, JSON and CSV.
Through Datasette itself, on 0.65 and 1.0, with no metadata (the plugin
supplies what is needed)."""
import csv
import io
import shutil
import sqlite3
import urllib.parse
from collections import Counter, defaultdict

import pytest
from datasette.app import Datasette
from markupsafe import escape

from datasette_tei.build import all_campaigns
from datasette_tei.serve import queries
from test_summaries import expected

RANKINGS = (
    ("top_hashtags", "hashtag", "hashtag", "tweets", "accounts"),
    ("top_domains", "domain", "domain", "tweets", "accounts"),
    ("most_retweeted_accounts", "retweeted", "retweet_userid", "retweets", "retweeted_by_accounts"),
)


def campaign_names(path):
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM campaigns ORDER BY name")]
    finally:
        conn.close()


def added_up(path):
    """Each ranking of all campaigns: the campaigns' figures, computed from
    their rows in Python, added up."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    sums = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    hours = Counter()
    for name in campaign_names(path):
        figures = expected(conn, name)
        for _, kind, *_ in RANKINGS:
            for value, (tweets, accounts) in figures[kind].items():
                total = sums[kind][value]
                total[0] += tweets
                total[1] += accounts
                total[2] += 1
        hours.update(figures["hours"])
    conn.close()
    return sums, hours


async def started(path):
    ds = Datasette([str(path)])
    await ds.invoke_startup()
    return ds


async def rows_of(ds, database, query, **params):
    params["_shape"] = "array"
    response = await ds.client.get(f"/{database}/{query}.json?" + urllib.parse.urlencode(params))
    assert response.status_code == 200, response.text[:500]
    return response.json()


@pytest.fixture
def demo_copy(demo_db, tmp_path):
    path = tmp_path / "demo.db"
    shutil.copy(demo_db, path)
    return path


@pytest.mark.asyncio
@pytest.mark.parametrize("precomputed", [True, False])
async def test_an_empty_campaign_means_all_campaigns(demo_copy, precomputed):
    conn = sqlite3.connect(demo_copy)
    # The build ranks all campaigns together.
    assert conn.execute(f"SELECT count(*) FROM {all_campaigns.TABLE}").fetchone()[0] > 0
    assert conn.execute(f"SELECT count(*) FROM {all_campaigns.CREATION_TABLE}").fetchone()[0] > 0
    conn.close()
    if not precomputed:  # a database built before campaign_top_all
        conn = sqlite3.connect(demo_copy)
        conn.execute(f"DROP TABLE {all_campaigns.TABLE}")
        conn.commit()
        conn.close()
    sums, hours = added_up(demo_copy)
    assert len(campaign_names(demo_copy)) > 1 and sums["hashtag"] and sums["retweeted"]
    ds = await started(demo_copy)
    for query, kind, column, tweets, accounts in RANKINGS:
        rows = await rows_of(ds, "demo", query, campaign="")
        assert {r[column]: [r[tweets], r[accounts], r["campaigns"]] for r in rows} == {
            value: total for value, total in sums[kind].items()}, query
        assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
        assert [r[tweets] for r in rows] == sorted((r[tweets] for r in rows), reverse=True)
        # One campaign's ranking is still that campaign's alone.
        one = campaign_names(demo_copy)[0]
        rows = await rows_of(ds, "demo", query, campaign=one)
        assert {r["campaigns"] for r in rows} == {1}
        assert sum(r[tweets] for r in rows) < sum(total[0] for total in sums[kind].values())

    rows = await rows_of(ds, "demo", "activity_by_hour", campaign="")
    days = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    for r in rows:
        for weekday, day in enumerate(days):
            assert r[day] == hours.get((weekday, r["hour"]), 0)
    assert sum(r["total"] for r in rows) == sum(hours.values()) > 0


@pytest.mark.asyncio
@pytest.mark.parametrize("precomputed", [True, False])
async def test_account_creation_bursts_of_one_and_of_all_campaigns(demo_copy, precomputed):
    conn = sqlite3.connect(demo_copy)
    first, second = campaign_names(demo_copy)[:2]
    # Two accounts of each of two campaigns registered on one day, and one of
    # them listed by both campaigns: it counts once among all campaigns.
    conn.execute("UPDATE users SET account_creation_date = '2001-02-03' WHERE rowid IN "
                 "(SELECT rowid FROM users WHERE campaign = ? ORDER BY userid LIMIT 2)", (first,))
    conn.execute("UPDATE users SET account_creation_date = '2001-02-03' WHERE rowid IN "
                 "(SELECT rowid FROM users WHERE campaign = ? ORDER BY userid LIMIT 2)", (second,))
    shared = conn.execute("SELECT * FROM users WHERE campaign = ? ORDER BY userid LIMIT 1",
                          (first,)).fetchone()
    columns = [d[0] for d in conn.execute("SELECT * FROM users LIMIT 0").description]
    row = dict(zip(columns, shared), campaign=campaign_names(demo_copy)[2])
    conn.execute(f"INSERT INTO users ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                 list(row.values()))
    if precomputed:  # as the build does
        with conn:
            all_campaigns.refresh_creation_days(conn)
    else:  # a database built before campaign_creation_days
        conn.execute(f"DROP TABLE {all_campaigns.CREATION_TABLE}")
    conn.commit()
    every = {}
    for userid, day in conn.execute("SELECT userid, account_creation_date FROM users"):
        if day:
            every[userid] = min(day, every.get(userid, day))
    total = len(every)
    conn.close()
    ds = await started(demo_copy)
    rows = await rows_of(ds, "demo", "account_creation_bursts", campaign=first)
    assert rows[0]["day"] == "2001-02-03" and rows[0]["accounts"] == 2
    rows = await rows_of(ds, "demo", "account_creation_bursts", campaign="")
    days = Counter(every.values())
    assert {r["day"]: r["accounts"] for r in rows} == {d: n for d, n in days.items() if n > 1}
    assert rows[0]["day"] == "2001-02-03" and rows[0]["accounts"] == 4
    assert rows[0]["percent_of_accounts"] == round(100 * 4 / total, 1)


@pytest.mark.asyncio
async def test_a_canned_query_page_is_titled_by_its_title(demo_db):
    ds = await started(demo_db)
    for query in queries.QUERIES:
        page = (await ds.client.get(f"/demo/{query.name}")).text
        title = page.split("<title>", 1)[1].split("</title>", 1)[0]
        assert str(escape(query.title)) in title, query.name
        assert "SELECT" not in title.upper(), query.name
    # Any other query page keeps Datasette's own title.
    page = (await ds.client.get("/demo?sql=select+42+as+answer", follow_redirects=True)).text
    assert "select 42" in page.split("</title>", 1)[0]


@pytest.mark.asyncio
async def test_search_results_carry_the_full_text(demo_db):
    ds = await started(demo_db)
    conn = sqlite3.connect(demo_db)
    texts = dict(conn.execute("SELECT tweetid_str, tweet_text FROM tweets"))
    conn.close()
    rows = await rows_of(ds, "demo", "search", q="news")
    assert rows and all(r["tweet_text"] == texts[r["tweetid"]] for r in rows)
    assert all("⟦" in r["snippet"] for r in rows)
    response = await ds.client.get("/demo/search.csv?" + urllib.parse.urlencode({"q": "news"}))
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["tweet_text"] for r in table] == [r["tweet_text"] for r in rows]
    page = (await ds.client.get("/demo/search?" + urllib.parse.urlencode({"q": "news"}))).text
    assert 'class="col-tweet_text' in page
    for r in rows[:5]:
        assert str(escape(r["tweet_text"])).replace("\n", "") in page.replace("\n", "") or \
            str(escape(r["tweet_text"])).split("\n")[0] in page
