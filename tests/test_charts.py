"""The charts of the campaign and account pages: bins chosen from the span
(days for weeks, weeks for a year or two, months beyond), every bar and
heatmap cell linked to exactly the tweets it counts (shared tweets
included), axes with a labelled scale, and escaped SVG."""
import datetime

import pytest
import pytest_asyncio

from datasette_tei import time_bins
from datasette_tei.build import load
from datasette_tei.serve import pages
from figures_db import assert_every_figure_opens_its_rows, datasette, rows_behind, tweets, write
from helpers import query

START = datetime.datetime(2020, 10, 1, 3, 0)


def _spread(rows, days, start=START):
    """Times over `days` days, and the accounts created within three weeks."""
    step = days * 24 * 60 / len(rows)
    created = {}
    for i, row in enumerate(rows):
        row["tweet_time"] = (start + datetime.timedelta(minutes=int(i * step) + 37 * i)).strftime(
            "%Y-%m-%d %H:%M")
        created.setdefault(row["userid"], f"2020-09-{1 + len(created) * 2:02d}")
        row["account_creation_date"] = created[row["userid"]]
    return rows


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """burst: 80 tweets over six weeks (one without a time); season: 70 over ten months, and
    six of burst's, which burst's archive loaded first."""
    folder = tmp_path_factory.mktemp("charts")
    burst = _spread(tweets(80, 11, 7 * 10**17), 42)
    burst[40]["tweet_time"] = ""  # on no time chart, and not a reason to chart by month
    season = _spread(tweets(70, 12, 8 * 10**17), 300, datetime.datetime(2020, 3, 2, 12, 0))
    season += burst[:6]
    db = str(folder / "tei.db")
    report = load.build(db, [write(folder / "b", "burst_102020", burst),
                             write(folder / "s", "season_112020", season)])
    assert report.ok, report.errors
    return db


@pytest_asyncio.fixture
async def ds(db):
    ds = datasette(db)
    await ds.invoke_startup()
    return ds


@pytest.mark.asyncio
@pytest.mark.parametrize("campaign,tweet_bin,account_bin", [
    ("burst_102020", "day", "day"), ("season_112020", "week", "day")])
async def test_bins_follow_the_span_and_every_bar_opens_its_rows(ds, db, campaign, tweet_bin, account_bin):
    data = (await ds.client.get(pages.campaign_path(ds, campaign, ".json"))).json()
    assert data["tweet_bins"][0] == tweet_bin and data["account_bins"][0] == account_bin
    bins = data["tweet_bins"][1]
    dated = data["tweets"] - query(db, "SELECT count(*) FROM campaign_tweets WHERE in_campaign = ? "
                                       "AND ifnull(tweet_time, '') = ''", (campaign,))[0][0]
    assert dated == data["tweets"] - (campaign == "burst_102020")
    assert sum(b["tweets"] for b in bins) == dated
    if tweet_bin == "week":
        assert all(datetime.date.fromisoformat(b["start"]).weekday() == 0 for b in bins)
    page = (await ds.client.get(pages.campaign_path(ds, campaign))).text
    assert f"Tweets per {tweet_bin}" in page
    figures = await assert_every_figure_opens_its_rows(ds, page, at_least=40)
    urls = [url for url, _ in figures]
    # Every bar with tweets, every hour and every heatmap cell is among them.
    assert sum("tweet_time__gte=" in u for u in urls) >= sum(1 for b in bins if b["tweets"])
    hours = [(u, n) for u, n in figures if "campaign_tweet_hours" in u and "weekday=" not in u]
    cells = [(u, n) for u, n in figures if "campaign_tweet_hours" in u and "weekday=" in u]
    assert len(hours) == sum(1 for h in data["hours"] if h["tweets"])
    assert len(cells) == sum(1 for c in data["weekday_hours"] if c["tweets"])
    assert sum(n for _, n in hours) == sum(n for _, n in cells) == dated
    if campaign == "season_112020":
        # The shared tweets are behind the bars that count them.
        assert data["shared_tweets"] == 6
        opened = {r["tweetid"] for u, _ in cells for r in await rows_behind(ds, u)}
        shared = {r[0] for r in query(db, "SELECT tweetid FROM shared_tweets WHERE campaign = ?",
                                      (campaign,))}
        assert shared <= opened


@pytest.mark.asyncio
async def test_an_account_of_a_short_campaign_is_charted_by_day(ds, db):
    userid = query(db, "SELECT userid FROM tweets WHERE campaign = 'burst_102020' "
                       "GROUP BY userid ORDER BY count(*) DESC LIMIT 1")[0][0]
    data = (await ds.client.get(pages.account_path(ds, userid, ".json"))).json()
    kind, bins = data["databases"][0]["figures"]["tweet_bins"]
    assert kind == "day"
    page = (await ds.client.get(pages.account_path(ds, userid))).text
    assert "Tweets per day" in page
    figures = await assert_every_figure_opens_its_rows(ds, page, at_least=10)
    dated = query(db, "SELECT count(*) FROM tweets WHERE userid = ? AND ifnull(tweet_time, '') <> ''",
                  (userid,))[0][0]
    assert sum(n for u, n in figures if "tweet_time__gte=" in u) == dated


def test_choose_days_weeks_or_months():
    def days(first, n, every=1):
        start = datetime.date.fromisoformat(first)
        return [{"day": (start + datetime.timedelta(days=i * every)).isoformat(), "n": 1}
                for i in range(n)]

    months = [{"month": "2016-01", "n": 5}, {"month": "2016-03", "n": 2}]
    # (Tweets without a time, day '', are on no time chart.)
    kind, bins = time_bins.choose(days("2020-10-01", 40) + [{"day": "", "n": 3}], months, "n")
    assert kind == "day" and len(bins) == 40 and bins[0] == {
        "start": "2020-10-01", "end": "2020-10-02", "label": "2020-10-01", "n": 1}
    kind, bins = time_bins.choose(days("2020-10-01", 30, every=10), months, "n")  # 291 days
    assert kind == "week" and bins[0]["start"] == "2020-09-28" and bins[0]["end"] == "2020-10-05"
    assert sum(b["n"] for b in bins) == 30 and len(bins) == 42
    # Beyond two years, or without days (an older database), months, gaps filled.
    for given in (days("2016-01-01", 9, every=100), None, [{"day": "not a day", "n": 1}]):
        kind, bins = time_bins.choose(given, months, "n")
        assert kind == "month" and [b["n"] for b in bins] == [5, 0, 2]
        assert bins[1] == {"start": "2016-02", "end": "2016-03", "label": "2016-02", "n": 0}


def test_ticks_name_the_years_and_months():
    def bins(months):
        return [{"start": m} for m in months]

    years = time_bins.ticks(bins([f"{y}-{m:02d}" for y in range(2014, 2020) for m in range(1, 13)]))
    assert [text for _, text in years] == ["2014", "2015", "2016", "2017", "2018", "2019"]
    assert [i for i, _ in years] == [0, 12, 24, 36, 48, 60]
    # Within two years: months, the year at the first and where it changes.
    weeks = time_bins.ticks(bins(["2020-11-02", "2020-11-30", "2020-12-07", "2021-01-04"]))
    assert weeks == [(0, "Nov 2020"), (2, "Dec"), (3, "Jan 2021")]
    # Days of one month: a label a week.
    one = time_bins.ticks(bins([f"2020-10-{d:02d}" for d in range(1, 20)]))
    assert one == [(0, "1 Oct 2020"), (7, "8 Oct"), (14, "15 Oct")]
    assert len(time_bins.ticks(bins([f"2020-{m:02d}-01" for m in range(1, 13)] * 2))) <= 8


def test_bar_chart_axis_is_scaled_and_escaped():
    assert pages._scale(17) == (20, [5, 10, 15, 20])
    assert pages._scale(1) == (1, [1])
    assert pages._scale(1234) == (1500, [500, 1000, 1500])
    svg = str(pages.bar_chart([("<b>", 17, 'x" onload="alert(1)'), ("b", 3, None)],
                              ticks=[(0, "<i>2020</i>")]))
    # Gridlines labelled 0, 5, 10, 15, 20; the tallest bar reaches 17/20 of the axis.
    assert svg.count('class="tei-grid"') == 5 and ">20</text>" in svg and ">15</text>" in svg
    assert 'height="110.5"' in svg
    assert "<b>" not in svg and "<i>" not in svg and 'x" onload' not in svg
    assert "&lt;i&gt;2020&lt;/i&gt;" in svg
    assert pages._short(1500) == "1.5k" and pages._short(2_000_000) == "2M"
