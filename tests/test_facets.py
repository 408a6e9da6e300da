"""The default facets of tweets answered from the counts the build made
(facet_counts.py, serve/precomputed_facets.py): the same results, links and
time-outs as Datasette's own facets, on Datasette 0.65 and on the 1.0 alphas.

The reference is the same database without the counts, where the facets
are Datasette's own computation over the rows."""
import json
import os
import pathlib
import re
import shutil
import sqlite3
import urllib.parse
from collections import Counter

import pytest
import yaml
from datasette.app import Datasette

from datasette_tei import facet_counts
from datasette_tei.build import load
from datasette_tei.build.synthetic import generate_tweets, tweets_csv_text
from datasette_tei.serve import live_facets, precomputed_facets
from helpers import query

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATASETTE_1 = hasattr(Datasette, "add_query")
DEFAULT = {"campaign", "tweet_language", "tweet_client_name", "is_retweet", "hashtags", "tweet_time"}


def make_datasette(path, immutable=False, settings=None):
    kwargs = {"metadata": yaml.safe_load((ROOT / "metadata.yml").read_text()),
              "settings": settings}
    if DATASETTE_1:
        kwargs["config"] = yaml.safe_load((ROOT / "datasette.yaml").read_text())
    if immutable:
        return Datasette([], immutables=[path], **kwargs)
    return Datasette([path], **kwargs)


def execute(path, *statements):
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def copy(path, folder, *statements):
    """A copy with the same file name (so the same database name and URLs)."""
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, os.path.basename(path))
    shutil.copy(path, target)
    execute(target, *statements)
    return target


def without_counts(path, folder):
    return copy(path, folder, f"DROP TABLE {facet_counts.TABLE}")


async def facets(ds, path, query=""):
    """(facet results by name, the names that timed out) of a tweets page."""
    database = pathlib.Path(path).stem
    response = await ds.client.get(
        f"/{database}/tweets.json?_size=0&_extra=facet_results&_extra=facets_timed_out&{query}")
    assert response.status_code == 200, (query, response.text[:500])
    data = response.json()
    results = data["facet_results"]
    if "results" in results and isinstance(results.get("results"), dict):  # 1.0
        return results["results"], data.get("facets_timed_out", results.get("timed_out"))
    # 0.65 has no time-outs in its JSON: a facet that timed out is missing.
    return results, data.get("facets_timed_out")


def campaign_names(path):
    return [r[0] for r in query(path, "SELECT name FROM campaigns ORDER BY name")]


# The views the counts answer: every tweet, one campaign's; with facets
# added from the URL, counted and not.
def counted_views(path):
    views = ["", "_facet_size=max", "_facet=userid&_facet_array=urls",
             "_facet=tweet_language&_facet_date=tweet_time", "campaign=no_such_campaign",
             "_sort=tweet_time", "campaign=%27%3B%20DROP%20TABLE%20tweets%3B--"]
    for name in campaign_names(path):
        views += [f"campaign={name}", f"campaign__exact={name}&_facet=userid",
                  f"campaign={name}&_facet_size=3"]
    return views


# Views Datasette computes over the rows.
def live_views(path):
    first, *_ = campaign_names(path)
    return ["tweet_language=en", f"campaign={first}&tweet_language=ru", "_search=news",
            f"campaign={first}&campaign={first}", "is_retweet=1",
            "_where=like_count>10", "_sort=tweet_time&_next=2016-06-01%2000:00,1",
            f"campaign__not={first}", "hashtags__arraycontains=news",
            # Facets the URL adds, a smaller and the largest facet size
            # (truncated or not), a date and an array facet twice.
            "_search=news&_facet=userid&_facet_array=urls&_facet_size=max", "_search=news&_facet_size=2",
            "_search=election&_facet_date=tweet_time&_facet_array=hashtags&_facet=campaign",
            "_search=news&_col=tweet_text&_col=campaign"]


async def assert_same_facets(path, tmp_path, views):
    reference = without_counts(path, str(tmp_path / "reference"))
    ours, theirs = make_datasette(path), make_datasette(reference)
    for view in views:
        got = await facets(ours, path, view)
        with pytest.MonkeyPatch.context() as patch:
            # Live facets as Datasette runs them, one query each: no single pass.
            patch.setattr(live_facets, "page_facets", lambda request, config: [])
            want = await facets(theirs, reference, view)
        assert got == want, view
        assert DEFAULT <= set(got[0]), view
        assert not got[1], view


@pytest.mark.asyncio
async def test_counted_views_equal_datasettes_facets_on_the_demo(demo_db, tmp_path):
    await assert_same_facets(demo_db, tmp_path, counted_views(demo_db))


@pytest.mark.asyncio
async def test_live_views_equal_datasettes_facets(demo_db, tmp_path):
    # Read once for every facet of the page (live_facets.py), as Datasette's
    # facets read them one by one.
    await assert_same_facets(demo_db, tmp_path, live_views(demo_db))


@pytest.mark.asyncio
async def test_the_counts_answer_the_whole_table_and_one_campaign(demo_db, tmp_path):
    """Counts altered on purpose show where the counts answer, and only there."""
    altered = copy(demo_db, str(tmp_path / "altered"),
                   f"UPDATE {facet_counts.TABLE} SET count = count + 1000 "
                   "WHERE type = 'array' OR facet = 'tweet_language'")
    reference = without_counts(demo_db, str(tmp_path / "reference"))
    ours, theirs = make_datasette(altered), make_datasette(reference)
    campaign = campaign_names(demo_db)[0]
    for view in ("", f"campaign={campaign}"):
        got, _ = await facets(ours, altered, view)
        want, _ = await facets(theirs, reference, view)
        for name in ("hashtags", "tweet_language"):
            assert [v["count"] for v in got[name]["results"]] == [
                v["count"] + 1000 for v in want[name]["results"]], (view, name)
        for name in ("campaign", "tweet_client_name", "is_retweet", "tweet_time"):
            assert got[name] == want[name]
    for view in live_views(demo_db):
        assert await facets(ours, altered, view) == await facets(theirs, reference, view), view


@pytest.mark.asyncio
@pytest.mark.parametrize("stale", [
    "INSERT INTO tei_dirty (campaign) VALUES ('synthetic_201810')",
    "UPDATE tei_meta SET value = 'old' WHERE key = 'facet_counts_version'",
    "UPDATE campaigns SET tweets = tweets + 1 WHERE name = 'synthetic_201906'",
    "INSERT INTO campaigns (name, tweets) VALUES ('loaded_later', 5)",
])
async def test_counts_that_do_not_match_the_database_are_not_used(demo_db, tmp_path, stale):
    altered = copy(demo_db, str(tmp_path / "altered"),
                   f"UPDATE {facet_counts.TABLE} SET count = count + 1000", stale)
    reference = without_counts(altered, str(tmp_path / "reference"))
    ours, theirs = make_datasette(altered), make_datasette(reference)
    for view in ("", "campaign=synthetic_201810"):
        assert await facets(ours, altered, view) == await facets(theirs, reference, view)


@pytest.mark.asyncio
async def test_immutable_database_with_inspect_data(demo_db, tmp_path):
    reference = without_counts(demo_db, str(tmp_path / "reference"))
    ours = make_datasette(demo_db, immutable=True)
    theirs = make_datasette(reference, immutable=True)
    for view in ("", "campaign=synthetic_202012", "tweet_language=ar"):
        for _ in range(2):  # the second time from the kept check
            assert await facets(ours, demo_db, view) == await facets(theirs, reference, view)


@pytest.mark.asyncio
async def test_html_page_shows_the_facets_and_their_links_work(demo_db, tmp_path):
    reference = without_counts(demo_db, str(tmp_path / "reference"))
    ours, theirs = make_datasette(demo_db), make_datasette(reference)

    def facet_html(page):
        found = re.findall(r'<div class="facet-info .*?</ul>', page, re.S)
        assert len(found) == len(DEFAULT)
        return found

    page = (await ours.client.get("/demo/tweets")).text
    assert facet_html(page) == facet_html((await theirs.client.get("/demo/tweets")).text)
    for name in DEFAULT:
        assert f'data-column="{name}"' in page
    campaign = campaign_names(demo_db)[-1]
    assert f'href="http://localhost/demo/tweets?campaign={campaign}"' in page
    filtered = (await ours.client.get(f"/demo/tweets?campaign={campaign}")).text
    assert facet_html(filtered) == facet_html(
        (await theirs.client.get(f"/demo/tweets?campaign={campaign}")).text)
    # The chosen campaign is shown selected, with its count and a link that
    # removes the filter.
    count = query(demo_db, "SELECT count(*) FROM tweets WHERE campaign = ?", (campaign,))[0][0]
    assert re.search(rf'<li>{campaign} &middot; (<span class="facet-count">)?{count:,}(</span>)? '
                     r'<a href="(http://localhost)?/demo/tweets" class="cross">', filtered)


# --- A generated database: several campaigns, shared tweets, odd values -----

def _tweets(n, seed, first_id, edits=()):
    tweets = list(generate_tweets(n, "2020", n_users=9, seed=seed, first_id=first_id))
    for index, changes in edits:
        tweets[index].update(changes)
    return tweets


ODD = [
    (0, {"tweet_language": ""}),
    (1, {"is_retweet": ""}),
    (2, {"tweet_time": "2020-02-29 10:00"}),  # a leap day: read by the slow path
    (3, {"tweet_time": ""}),
    (4, {"hashtags": "['dup', 'dup', 'x']"}),
    (5, {"tweet_client_name": ""}),
    (6, {"tweet_time": "2020-01-05 23:59:30"}),
    (7, {"hashtags": "['1', '01', '<b>']"}),
    (8, {"tweet_client_name": "Client & <Co>"}),
]


def _write(folder, campaign, tweets, part=""):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{campaign}_tweets_csv_hashed{part}.csv"
    path.write_text(tweets_csv_text(tweets, "2020"), encoding="utf-8")
    return str(path)


def oracle(path, campaign):
    """Each default facet of the campaign's tweets (tweets.campaign), in Python."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    own = conn.execute("SELECT * FROM tweets WHERE campaign = ?", (campaign,)).fetchall()
    out = {}
    for column in facet_counts.COLUMNS:
        out[("column", column)] = Counter(r[column] for r in own if r[column] is not None)
    out[("array", "hashtags")] = Counter(
        tag for r in own for tag in set(json.loads(r["hashtags"] or "[]")))
    out[("date", "tweet_time")] = Counter(
        day for (day,) in conn.execute(
            "SELECT date(tweet_time) FROM tweets WHERE campaign = ?", (campaign,)) if day)
    conn.close()
    return out


def stored(path, campaign):
    out = {facet: Counter() for facet in facet_counts.FACETS}
    for type_, facet, value, count in query(
            path, f"SELECT type, facet, value, count FROM {facet_counts.TABLE} WHERE campaign IS ?",
            (campaign,)):
        out[(type_, facet)][value] = count
    return out


def assert_counts_match_the_rows(path):
    names = campaign_names(path)
    total = {facet: Counter() for facet in facet_counts.FACETS}
    for name in names:
        expected = oracle(path, name)
        assert stored(path, name) == expected, name
        for facet, counter in expected.items():
            total[facet].update(counter)
    assert stored(path, None) == total
    conn = sqlite3.connect(path)
    assert facet_counts.current(conn)  # so that the pages use them
    conn.close()
    assert query(path, f"SELECT count(*) FROM {facet_counts.TABLE} WHERE count <= 0")[0][0] == 0
    assert query(path, f"SELECT count(*) FROM {facet_counts.TABLE} WHERE campaign IS NOT NULL "
                      "AND campaign NOT IN (SELECT name FROM campaigns)")[0][0] == 0


@pytest.mark.asyncio
async def test_generated_database_built_in_steps(tmp_path):
    """Three campaigns, one sharing tweets with another, odd values, built
    one step at a time: after each step the counts equal the rows, and the
    facets equal Datasette's, for the whole table and each campaign."""
    db = str(tmp_path / "tei.db")
    alpha = _tweets(60, 1, 10**17, ODD)
    beta = _tweets(40, 2, 2 * 10**17) + alpha[:5]  # five tweets alpha loaded first
    gamma = _tweets(30, 3, 3 * 10**17, ODD)
    more_alpha = _tweets(25, 4, 4 * 10**17, [(0, {"hashtags": "['dup']"})])
    steps = [
        [_write(tmp_path / "a", "alpha_012020", alpha)],
        [_write(tmp_path / "b", "beta_022020", beta), _write(tmp_path / "c", "gamma_032020", gamma)],
        [_write(tmp_path / "d", "alpha_012020", more_alpha, part="_2")],
    ]
    sources = []
    for step, new in enumerate(steps):
        sources += new
        report = load.build(db, sources)
        assert report.ok, report.errors
        assert_counts_match_the_rows(db)
        assert query(db, "SELECT count(*) FROM shared_tweets")[0][0] == (5 if step else 0)
        await assert_same_facets(db, tmp_path / f"step{step}", counted_views(db))
    # The odd values did reach the table.
    assert query(db, "SELECT count(*) FROM tweets WHERE tweet_time IS NULL")[0][0] == 2
    assert query(db, "SELECT count(*) FROM tweets WHERE tweet_language IS NULL")[0][0] == 2
    assert query(db, "SELECT count(*) FROM tweets WHERE is_retweet IS NULL")[0][0] == 2
    assert query(db, "SELECT count(*) FROM tweets WHERE hashtags = '[\"dup\", \"dup\", \"x\"]'")[0][0] == 2
    await assert_same_facets(db, tmp_path / "live", live_views(db))


def test_refresh_without_an_id_table_and_again(demo_db, tmp_path):
    """refresh() reads the rows itself when no id table is given, and a
    second refresh of the same campaign changes nothing."""
    path = copy(demo_db, str(tmp_path / "copy"))
    before = query(path, f"SELECT * FROM {facet_counts.TABLE} ORDER BY 1, 2, 3, 4")
    conn = sqlite3.connect(path, isolation_level=None)
    for name in campaign_names(path) * 2:
        conn.execute("BEGIN")
        facet_counts.refresh(conn, name)
        conn.execute("COMMIT")
    conn.close()
    assert query(path, f"SELECT * FROM {facet_counts.TABLE} ORDER BY 1, 2, 3, 4") == before
    assert_counts_match_the_rows(path)


@pytest.mark.parametrize("sql, params, expected", [
    ("select a, b from tweets ", [], (True, None)),
    ("select a, b from [tweets]", {}, (True, None)),
    ('select a, b from tweets where "campaign" = :p0 ', {"p0": "x"}, (True, "x")),
    ('select a, b from tweets where "campaign" = :p0 ', {"p0": 3}, (False, None)),
    ('select a, b from tweets where "campaign" = :p0 and "campaign" = :p1 ', {"p0": "x", "p1": "x"},
     (False, None)),
    ('select a, b from tweets where "tweet_language" = :p0 ', {"p0": "en"}, (False, None)),
    ("select a, b from tweets where 1 ", [], (False, None)),
    ("select a, b from tweets where rowid in (select rowid from tweets_fts) ", {}, (False, None)),
    ("select a, b from users ", [], (False, None)),
    ("select a, (select 1) from tweets ", [], (False, None)),
])
def test_which_views_the_counts_answer(sql, params, expected):
    assert precomputed_facets.view_campaign(sql, params) == expected


async def suggested(ds, path, table, query=""):
    """The names of the facets Datasette suggests on a table page."""
    database = pathlib.Path(path).stem
    response = await ds.client.get(f"/{database}/{table}.json?_size=0&_extra=suggested_facets&{query}")
    assert response.status_code == 200, response.text[:500]
    return {facet["name"] for facet in response.json()["suggested_facets"]}


@pytest.mark.asyncio
async def test_no_facet_suggestions_on_tweets_nor_on_large_views(demo_db, tmp_path, monkeypatch):
    """Suggesting facets groups every row by every column: tweets gets none,
    other tables get Datasette's suggestions while they are small."""
    ds = make_datasette(demo_db)
    assert await suggested(ds, demo_db, "tweets") == set()
    assert await suggested(ds, demo_db, "tweets", "_search=news") == set()
    small = await suggested(ds, demo_db, "users")
    assert small  # the demo's users table is small: Datasette's suggestions stay
    # Outside a TEI database, Datasette's suggestions are untouched.
    other = copy(demo_db, str(tmp_path / "other"), "DROP TABLE tei_meta")
    assert await suggested(make_datasette(other), other, "tweets")
    # A view of more rows than the limit gets none.
    monkeypatch.setattr(precomputed_facets, "SUGGEST_MAX_ROWS", 3)
    assert await suggested(make_datasette(demo_db), demo_db, "users") == set()


# --- Views too large for a live facet ----------------------------------------

def record_facet_queries(ds):
    """The SQL of every facet query (a Datasette.execute() with the facet
    time limit, as Datasette's facets run theirs) the instance runs."""
    seen = []
    execute = ds.execute

    async def recording(database, sql, *args, **kwargs):
        # Each facet's own query, or one pass for all (live_facets.py) in
        # the time they would have had together.
        limit, each = kwargs.get("custom_time_limit"), ds.setting("facet_time_limit_ms")
        if limit and each and limit % each == 0:
            seen.append(sql)
        return await execute(database, sql, *args, **kwargs)

    ds.execute = recording
    return seen


async def html_facets(ds, path, query="", table="tweets"):
    """(names of the facets shown, names shown as timed out) on the HTML page."""
    database = pathlib.Path(path).stem
    response = await ds.client.get(f"/{database}/{table}?{query}")
    assert response.status_code == 200, (query, response.text[:500])
    page = response.text
    shown = set(re.findall(r'<div class="facet-info[^"]*"[^>]*data-column="([^"]+)"', page))
    timed_out = re.search(r'<p class="facets-timed-out">These facets timed out: (.*?)</p>', page)
    return shown, set(timed_out.group(1).split(", ")) if timed_out else set()


def live_counts(path, where):
    """Each default facet of the tweets `where` selects, counted in SQL."""
    out = {}
    for column in facet_counts.COLUMNS:
        out[column] = dict(query(path, f"SELECT {column}, count(*) FROM tweets "
                                       f"WHERE {where} AND {column} IS NOT NULL GROUP BY 1"))
    out["hashtags"] = dict(query(path, f"""SELECT value, count(*) FROM (
        SELECT DISTINCT t.tweetid, j.value FROM tweets t, json_each(t.hashtags) j WHERE {where}
    ) GROUP BY value"""))
    out["tweet_time"] = dict(query(path, f"SELECT date(tweet_time), count(*) FROM tweets "
                                         f"WHERE {where} AND date(tweet_time) IS NOT NULL GROUP BY 1"))
    return out


# A view the counts do not answer, and its rows.
LIVE_VIEW, LIVE_WHERE = "is_retweet=0", "is_retweet = 0"


@pytest.mark.asyncio
async def test_a_view_too_large_for_live_facets_runs_none(demo_db, monkeypatch):
    """Above facet_time_limit_ms * LIVE_FACET_ROWS_PER_MS rows, the facets
    are reported as timed out, as Datasette's time-out reports them, and
    none is run."""
    rows = query(demo_db, f"SELECT count(*) FROM tweets WHERE {LIVE_WHERE}")[0][0]
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 1)
    ds = make_datasette(demo_db, settings={"facet_time_limit_ms": rows - 1})  # bound: rows - 1
    ran = record_facet_queries(ds)
    assert await html_facets(ds, demo_db, LIVE_VIEW) == (set(), DEFAULT)
    results, timed_out = await facets(ds, demo_db, LIVE_VIEW)
    assert results == {}
    if DATASETTE_1:  # 0.65's JSON has no time-outs
        assert sorted(timed_out) == sorted(DEFAULT)
    # A search, the page this is for: any view of more rows than the bound.
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 0)
    assert await html_facets(ds, demo_db, "_search=news") == (set(), DEFAULT)
    assert await html_facets(ds, demo_db, "_search=news&_facet=userid") == (
        set(), DEFAULT | {"userid"})
    # Every table of the database: users, whose facets are Datasette's own.
    assert await html_facets(ds, demo_db, table="users") == (
        set(), {"campaign", "account_language"})
    assert ran == []


@pytest.mark.asyncio
async def test_a_view_within_the_bound_gets_live_facets(demo_db, monkeypatch):
    rows = query(demo_db, f"SELECT count(*) FROM tweets WHERE {LIVE_WHERE}")[0][0]
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 1)
    ds = make_datasette(demo_db, settings={"facet_time_limit_ms": rows})  # bound: rows
    ran = record_facet_queries(ds)
    assert await html_facets(ds, demo_db, LIVE_VIEW) == (DEFAULT, set())
    results, timed_out = await facets(ds, demo_db, f"{LIVE_VIEW}&_facet_size=max")
    assert not timed_out
    want = live_counts(demo_db, LIVE_WHERE)
    assert set(results) == DEFAULT
    for name in DEFAULT:
        assert not results[name]["truncated"], name
        assert {v["value"]: v["count"] for v in results[name]["results"]} == want[name], name
    # Every facet, on each page, run live: the view's rows read once a page.
    assert len(ran) == 2 and all(sql.startswith("with m as materialized") for sql in ran)


@pytest.mark.asyncio
async def test_without_a_count_a_search_is_judged_by_its_matches(demo_db, monkeypatch):
    """?_nocount=1 leaves no row count: a search's matches, counted in the
    index, still decide; any other view runs its facets, as Datasette would."""
    matches = query(demo_db, "SELECT count(*) FROM tweets_fts WHERE tweets_fts MATCH 'news'")[0][0]
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 1)
    for bound, live in ((matches - 1, False), (matches, True)):
        ds = make_datasette(demo_db, settings={"facet_time_limit_ms": bound})
        ran = record_facet_queries(ds)
        assert await html_facets(ds, demo_db, "_search=news&_nocount=1") == (
            (DEFAULT, set()) if live else (set(), DEFAULT))
        assert len([sql for sql in ran if "FROM tweets_fts WHERE" in sql]) == 1
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 0)  # bound: 0 rows
    ds = make_datasette(demo_db)
    assert await html_facets(ds, demo_db, LIVE_VIEW) == (set(), DEFAULT)
    assert await html_facets(ds, demo_db, f"{LIVE_VIEW}&_nocount=1") == (DEFAULT, set())


@pytest.mark.asyncio
@pytest.mark.skipif(not DATASETTE_1, reason="Datasette 0.65 counts every row")
async def test_a_capped_count_is_counted_on_to_the_bound(demo_db, monkeypatch):
    """Datasette 1.0 counts at most count_limit + 1 rows; above that, the
    plugin counts on to the bound, once per page, and decides from that."""
    from datasette.database import Database

    rows = query(demo_db, f"SELECT count(*) FROM tweets WHERE {LIVE_WHERE}")[0][0]
    monkeypatch.setattr(Database, "count_limit", 50)
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 1)
    for bound, live in ((rows - 1, False), (rows, True)):
        ds = make_datasette(demo_db, settings={"facet_time_limit_ms": bound})
        ran = record_facet_queries(ds)
        assert await html_facets(ds, demo_db, LIVE_VIEW) == ((DEFAULT, set()) if live else (set(), DEFAULT))
        counts = [sql for sql in ran if sql.startswith("SELECT count(*) FROM (SELECT 1 FROM")]
        assert len(counts) == 1 and f"LIMIT {bound + 1}" in counts[0]
        assert len(ran) == 1 + (1 if live else 0)  # the facets: one pass (live_facets.py)
    # The whole table and one campaign read the counts: nothing to decide, no count run.
    ds = make_datasette(demo_db, settings={"facet_time_limit_ms": rows})
    ran = record_facet_queries(ds)
    for view in ("", f"campaign={campaign_names(demo_db)[0]}"):
        assert await html_facets(ds, demo_db, view) == (DEFAULT, set())
    assert ran and all(sql == precomputed_facets.TOP_SQL for sql in ran)
    # A search: its matches are counted in the full-text index first.
    matches = query(demo_db, "SELECT count(*) FROM tweets_fts WHERE tweets_fts MATCH 'news'")[0][0]
    monkeypatch.setattr(Database, "count_limit", 10)
    assert matches > 11  # above the capped count
    for bound, live in ((matches - 1, False), (matches, True)):
        ds = make_datasette(demo_db, settings={"facet_time_limit_ms": bound})
        ran = record_facet_queries(ds)
        assert await html_facets(ds, demo_db, "_search=news") == (
            (DEFAULT, set()) if live else (set(), DEFAULT))
        in_index = [sql for sql in ran if sql.startswith("SELECT count(*) FROM (SELECT rowid FROM tweets_fts")]
        assert len(in_index) == 1 and f"LIMIT {bound + 1}" in in_index[0]
        # Too many matches: nothing else runs; few enough: the view's count,
        # then the facets in one pass.
        assert len(ran) == (3 if live else 1)


@pytest.mark.asyncio
async def test_the_counts_still_answer_views_above_the_bound(demo_db, monkeypatch):
    """The whole table and one campaign come from the counts, however many
    rows; a facet the URL adds there, not counted, is not run."""
    campaign = campaign_names(demo_db)[0]
    views = ["", f"campaign={campaign}"]
    want = [await facets(make_datasette(demo_db), demo_db, view) for view in views]
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 0)  # bound: 0 rows
    ds = make_datasette(demo_db)
    ran = record_facet_queries(ds)
    for view, expected in zip(views, want):
        assert await facets(ds, demo_db, view) == expected, view
        assert set(expected[0]) == DEFAULT and not expected[1]
        assert await html_facets(ds, demo_db, f"{view}&_facet=userid") == (DEFAULT, {"userid"})
    assert ran and all(sql == precomputed_facets.TOP_SQL for sql in ran)


@pytest.mark.asyncio
async def test_other_databases_keep_live_facets_on_large_views(demo_db, tmp_path, monkeypatch):
    other = copy(demo_db, str(tmp_path / "other"), "DROP TABLE tei_meta")
    monkeypatch.setattr(precomputed_facets, "LIVE_FACET_ROWS_PER_MS", 0)  # bound: 0 rows
    ds = make_datasette(other)
    ran = record_facet_queries(ds)
    assert await html_facets(ds, other, LIVE_VIEW) == (DEFAULT, set())
    results, timed_out = await facets(ds, other, f"{LIVE_VIEW}&_facet_size=max")
    assert not timed_out
    want = live_counts(other, LIVE_WHERE)
    for name in DEFAULT:
        assert {v["value"]: v["count"] for v in results[name]["results"]} == want[name], name
    assert len(ran) == 2 * len(DEFAULT)


@pytest.mark.asyncio
async def test_an_array_item_counts_once_per_row_in_one_pass(demo_db, tmp_path):
    # A tweet whose hashtags repeat one: Datasette counts the tweet once.
    path = copy(demo_db, str(tmp_path / "repeated"),
                """UPDATE tweets SET hashtags = '["news", "news", "vote", "news"]' WHERE tweetid IN (
                   SELECT tweetid FROM tweets WHERE tweet_text LIKE '%news%' LIMIT 7)""")
    ds = make_datasette(path)
    ran = record_facet_queries(ds)
    got = await facets(ds, path, "_search=news&_facet_size=max")
    assert len(ran) == 1 and ran[0].startswith("with m as materialized")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(live_facets, "page_facets", lambda request, config: [])
        want = await facets(ds, path, "_search=news&_facet_size=max")
    assert len(ran) == 1 + len(DEFAULT)
    assert got == want
    counts = {v["value"]: v["count"] for v in got[0]["hashtags"]["results"]}
    matches = "tweetid IN (SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH 'news')"
    assert counts == live_counts(path, matches)["hashtags"]


@pytest.mark.asyncio
async def test_one_pass_that_runs_out_of_time_times_every_facet_out(demo_db):
    # The pass gets the time the page's facets would have had together;
    # past it, each is reported as timed out, as Datasette reports its own.
    ds = make_datasette(demo_db, settings={"facet_time_limit_ms": 1, "sql_time_limit_ms": 1000})
    slow = ("_search=news&_where=" + urllib.parse.quote(
        "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) "
        "SELECT count(*) FROM c) > 0"))
    ran = record_facet_queries(ds)
    shown, timed_out = await html_facets(ds, demo_db, slow)
    assert len(ran) == 1 and ran[0].startswith("with m as materialized")
    assert (shown, timed_out) == (set(), DEFAULT)
