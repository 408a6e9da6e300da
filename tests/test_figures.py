"""Every figure on the campaign and account pages equals the number of rows
its link opens, on a database whose campaigns share tweets (one holds only
tweets an earlier archive loaded first). Through Datasette itself, on both
lines: each link is opened as JSON, page after page, and its rows counted."""
import sqlite3
import urllib.parse

import pytest
import pytest_asyncio

from datasette_tei.serve import pages
from figures_db import (assert_every_figure_opens_its_rows, build, datasette, linked_figures,
                        rows_behind)
from helpers import query


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build(tmp_path_factory.mktemp("figures"))


@pytest_asyncio.fixture
async def ds(db):
    ds = datasette(db)
    await ds.invoke_startup()
    return ds


def campaign_names(db):
    return [r[0] for r in query(db, "SELECT name FROM campaigns ORDER BY name")]


def test_the_database_has_what_the_figures_must_survive(db):
    shared = dict(query(db, "SELECT campaign, count(*) FROM shared_tweets GROUP BY 1"))
    assert shared == {"beta_022020": 5, "delta_032020": 20}
    # delta's every tweet is a row of tweets under alpha.
    assert query(db, "SELECT count(*) FROM tweets WHERE campaign = 'delta_032020'")[0][0] == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("campaign", ["alpha_012020", "beta_022020", "delta_032020", "prolific_042020"])
async def test_every_campaign_page_figure_opens_its_rows(ds, db, campaign):
    page = (await ds.client.get(pages.campaign_path(ds, campaign))).text
    figures = await assert_every_figure_opens_its_rows(ds, page, at_least=10)
    tweets = query(db, "SELECT tweets FROM campaigns WHERE name = ?", (campaign,))[0][0]
    # The headline, and the sum of the monthly bars, are the campaign's tweets.
    assert tweets in [n for _, n in figures]
    data = (await ds.client.get(pages.campaign_path(ds, campaign, ".json"))).json()
    assert len(await rows_behind(ds, data["links"]["tweets"])) == data["tweets"] == tweets
    undated = query(db, "SELECT count(*) FROM campaign_tweets WHERE in_campaign = ? "
                        "AND (tweet_time IS NULL OR tweet_time NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]*')",
                    (campaign,))[0][0]
    assert sum(m["tweets"] for m in data["months"]) == tweets - undated


@pytest.mark.asyncio
async def test_a_campaign_of_shared_tweets_only(ds, db):
    """delta's 20 tweets are all rows of tweets under alpha: its page counts
    them, its active period is theirs, and its links open them."""
    data = (await ds.client.get(pages.campaign_path(ds, "delta_032020", ".json"))).json()
    assert data["tweets"] == 20
    assert data["first_tweet"] and data["last_tweet"]
    assert "campaign_tweets" in data["links"]["tweets"]
    assert len(await rows_behind(ds, data["links"]["tweets"])) == 20
    accounts = len(await rows_behind(ds, data["links"]["tweeting_accounts"]))
    assert accounts == data["tweeting_accounts"] == len(
        {r["userid"] for r in await rows_behind(ds, data["links"]["tweets"])})
    for row in data["active_accounts"]:
        assert len(await rows_behind(ds, row["url"])) == row["tweets"]


@pytest.mark.asyncio
async def test_accounts_that_tweeted_equal_the_accounts_listed(ds, db):
    for campaign in campaign_names(db):
        data = (await ds.client.get(pages.campaign_path(ds, campaign, ".json"))).json()
        listed = await rows_behind(ds, data["links"]["tweeting_accounts"])
        tweeted = {r["userid"] for r in await rows_behind(ds, data["links"]["tweets"]) if r["userid"]}
        assert {r["value"] for r in listed} == tweeted
        assert data["tweeting_accounts"] == len(tweeted)


@pytest.mark.asyncio
async def test_campaigns_without_shared_tweets_link_the_tweets_table(ds):
    """Where membership is tweets.campaign, the links stay on tweets, whose
    facets the build counted."""
    data = (await ds.client.get(pages.campaign_path(ds, "alpha_012020", ".json"))).json()
    assert urllib.parse.urlsplit(data["links"]["tweets"]).path.endswith("/tweets")


@pytest.mark.asyncio
async def test_index_card_figures_open_their_rows(ds):
    page = (await ds.client.get("/-/tei")).text
    await assert_every_figure_opens_its_rows(ds, page, at_least=8)


@pytest.mark.asyncio
async def test_every_account_page_figure_opens_its_rows(ds, db):
    # Every account of the database, the prolific ones included.
    userids = [r[0] for r in query(db, "SELECT DISTINCT userid FROM tweets ORDER BY userid")]
    assert len(userids) > 10
    for userid in userids:
        page = (await ds.client.get(pages.account_path(ds, userid))).text
        await assert_every_figure_opens_its_rows(ds, page, at_least=5)


@pytest.mark.asyncio
async def test_account_figures_match_the_rows(ds, db):
    conn = sqlite3.connect(db)
    for (userid,) in conn.execute("SELECT DISTINCT userid FROM tweets"):
        data = (await ds.client.get(pages.account_path(ds, userid, ".json"))).json()
        figures = data["databases"][0]["figures"]
        rows = conn.execute("SELECT tweet_time, is_retweet FROM tweets WHERE userid = ?",
                            (userid,)).fetchall()
        assert figures["tweets"] == len(rows)
        assert figures["retweets"] == sum(1 for _, r in rows if r == 1)
        times = sorted(t for t, _ in rows if t)
        assert (figures["first_tweet"], figures["last_tweet"]) == (times[0], times[-1])
        days = {}
        for t in times:
            days[t[:10]] = days.get(t[:10], 0) + 1
        assert figures["peak_day_tweets"] == max(days.values())
        assert sum(h["tweets"] for h in figures["hours"]) == sum(
            1 for t in times if len(t) >= 13 and t[11:13].isdigit())
        in_campaigns = {c["campaign"]: c["tweets"] for c in data["databases"][0]["campaigns"]}
        want = dict(conn.execute(
            "SELECT in_campaign, count(*) FROM campaign_tweets WHERE userid = ? GROUP BY 1", (userid,)))
        assert {k: v for k, v in in_campaigns.items() if v} == want
    conn.close()


def test_linked_figures_reads_numbers_and_bars():
    page = ('<a href="/a?x=1">1,234</a> <a href="/b">2020-01</a>'
            '<a href="/c"><rect x="0"><title>2020-01: 7</title></rect></a>'
            '<a href="/d"><rect x="1"><title>Mon 01:00 UTC: 3 tweets</title></rect></a>')
    assert linked_figures(page) == [("/a?x=1", 1234), ("/c", 7), ("/d", 3)]


def test_a_build_of_an_older_version_is_summarised_again(db, tmp_path):
    """Running the build again on a database whose summaries an earlier
    version made recomputes every campaign's figures, with nothing new to load."""
    from datasette_tei import summaries
    from datasette_tei.build import load

    path = str(tmp_path / "old.db")
    conn = sqlite3.connect(db)
    conn.execute(f"VACUUM INTO '{path}'")
    conn.close()
    want = query(path, "SELECT name, tweets, tweeting_accounts, first_tweet FROM campaigns ORDER BY name")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE campaigns SET tweeting_accounts = 0, first_tweet = NULL")
    conn.execute("DELETE FROM tei_meta WHERE key = ?", (summaries.META_KEY,))
    conn.commit()
    conn.close()
    report = load.build(path, [])
    assert report.ok
    assert query(path, "SELECT name, tweets, tweeting_accounts, first_tweet FROM campaigns ORDER BY name") == want
    assert query(path, "SELECT value FROM tei_meta WHERE key = ?", (summaries.META_KEY,)) == [
        (summaries.VERSION,)]
    # And once current, a build with nothing new leaves the figures alone.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE campaigns SET tweeting_accounts = 0")
    conn.commit()
    conn.close()
    load.build(path, [])
    assert {r[0] for r in query(path, "SELECT tweeting_accounts FROM campaigns")} == {0}
