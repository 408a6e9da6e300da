"""The Datasette plugin, through Datasette itself: campaign pages and their
JSON, canned queries, metadata and facets, render_cell, escaping, and the
README's JSON API examples. Runs on Datasette 0.65 and on the 1.0 alphas."""
import html
import json
import pathlib
import re
import shutil
import sqlite3
import urllib.parse
from collections import Counter

import pytest
import markupsafe
import pytest_asyncio
import yaml
from datasette.app import Datasette

from datasette_tei import search
from datasette_tei.serve import queries
from datasette_tei.serve.plugin import MMAP_BYTES
from test_search import oracle as search_oracle
from test_summaries import campaign_rows, expected, oracle_domain

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATASETTE_1 = hasattr(Datasette, "add_query")
XSS = ['<script>alert("tei")</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"]


def make_datasette(files, immutables=(), inspect_data=None):
    kwargs = {"metadata": yaml.safe_load((ROOT / "metadata.yml").read_text())}
    if DATASETTE_1:
        kwargs["config"] = yaml.safe_load((ROOT / "datasette.yaml").read_text())
    if inspect_data is not None:
        kwargs["inspect_data"] = inspect_data
    return Datasette(list(files), immutables=list(immutables), **kwargs)


async def started(ds):
    await ds.invoke_startup()
    return ds


@pytest_asyncio.fixture
async def ds(demo_db):
    return await started(make_datasette([demo_db]))


def sql(path, query, params=()):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(query, params).fetchall()
    finally:
        conn.close()


def campaigns(path):
    return sql(path, "SELECT * FROM campaigns ORDER BY name")


async def get_json(ds, path, status=200):
    response = await ds.client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    return response.json()


async def get_html(ds, path, status=200):
    response = await ds.client.get(path)
    assert response.status_code == status, (path, response.text[:500])
    return response.text


async def query_rows(ds, name, **params):
    params["_shape"] = "array"
    return await get_json(ds, f"/demo/{name}.json?" + urllib.parse.urlencode(params))


def local(url, fmt=""):
    """A link from a page, as a path the test client can request."""
    parsed = urllib.parse.urlsplit(html.unescape(url))
    return parsed.path + fmt + ("?" + parsed.query if parsed.query else "")


# --- /-/tei ------------------------------------------------------------------

@pytest.mark.asyncio
async def test_index_json_has_every_campaign(ds, demo_db):
    data = await get_json(ds, "/-/tei.json")
    want = campaigns(demo_db)
    assert [c["name"] for c in sorted(data["campaigns"], key=lambda c: c["name"])] == [
        c["name"] for c in want]
    by_name = {c["name"]: c for c in data["campaigns"]}
    for row in want:
        card = by_name[row["name"]]
        for key in ("tweets", "accounts", "country", "release", "description", "first_tweet",
                    "last_tweet"):
            assert card[key] == row[key]
        assert card["database"] == "demo"
        assert sum(m["tweets"] for m in card["months"]) == row["tweets"]
        assert card["links"]["page"] == "/-/tei/" + row["name"]


@pytest.mark.asyncio
async def test_index_html_cards(ds, demo_db):
    page = await get_html(ds, "/-/tei")
    for row in campaigns(demo_db):
        assert f'href="/-/tei/{row["name"]}"' in page
        assert f'{row["tweets"]:,}' in page
    assert page.count('<section class="tei-card') == len(campaigns(demo_db))
    assert page.count("<svg") >= len(campaigns(demo_db))
    # No script or stylesheet from anywhere but this server.
    assert not re.search(r'(src|href)="(https?:)?//', page.split("<footer")[0])


# --- /-/tei/<campaign> ---------------------------------------------------------

@pytest.mark.asyncio
async def test_campaign_json_matches_the_rows(ds, demo_db):
    conn = sqlite3.connect(demo_db)
    conn.row_factory = sqlite3.Row
    for row in campaigns(demo_db):
        name = row["name"]
        data = await get_json(ds, f"/-/tei/{name}.json")
        want = expected(conn, name)
        assert data["name"] == name and data["tweets"] == row["tweets"]
        assert {m["month"]: m["tweets"] for m in data["months"]} == dict(want["months"])
        hours = Counter()
        for (weekday, hour), n in want["hours"].items():
            hours[hour] += n
        assert [h["tweets"] for h in data["hours"]] == [hours[h] for h in range(24)]
        assert {(c["weekday"], c["hour"]): c["tweets"] for c in data["weekday_hours"]} == dict(
            want["hours"])
        assert {m["month"]: m["accounts"] for m in data["account_months"]} == dict(
            want["account_months"])
        for key, kind in (("languages", "language"), ("clients", "client"), ("hashtags", "hashtag"),
                          ("domains", "domain"), ("retweeted_accounts", "retweeted")):
            top = sorted(want[kind].items(), key=lambda kv: -kv[1][0])
            assert [r["tweets"] for r in data[key]] == [v[0] for _, v in top][: len(data[key])]
            assert len(data[key]) == min(len(top), 15)
            for r in data[key]:
                assert (r["tweets"], r["accounts"]) == want[kind][r["value"]]
        most = max(want["account"].values())[0]
        assert data["active_accounts"][0]["tweets"] == most


@pytest.mark.asyncio
async def test_campaign_links_open_the_views_behind_the_figures(ds, demo_db):
    name = campaigns(demo_db)[0]["name"]
    data = await get_json(ds, f"/-/tei/{name}.json")
    assert data["links"]["facets"]["languages"].endswith(
        "/demo/tweets?campaign=" + name + "&_facet=tweet_language")
    checked = 0
    for key in ("languages", "clients", "hashtags", "active_accounts", "retweeted_accounts"):
        for r in data[key][:2]:
            rows = await get_json(ds, local(r["url"], ".json") + "&_shape=array&_size=max")
            assert len(rows) == r["tweets"], (key, r)
            assert {row["campaign"] for row in rows} == {name}
            checked += 1
    month = data["months"][0]
    rows = await get_json(ds, local(month["url"], ".json") + "&_shape=array&_size=max")
    assert len(rows) == month["tweets"] and all(r["tweet_time"].startswith(month["month"]) for r in rows)
    for url in list(data["links"]["facets"].values()) + [
            v for k, v in data["links"].items() if isinstance(v, str)]:
        response = await ds.client.get(local(url))
        assert response.status_code == 200, url
    assert checked >= 5


@pytest.mark.asyncio
async def test_campaign_html_has_charts_tables_and_links(ds, demo_db):
    name = campaigns(demo_db)[0]["name"]
    page = await get_html(ds, f"/-/tei/{name}")
    assert page.count('<svg class="tei-chart"') == 3  # months, hours, accounts created
    assert page.count('<svg class="tei-heatmap"') == 1
    assert "<title>" in page.split('<svg class="tei-chart"')[1]
    assert f"/demo/tweets?campaign={name}&amp;_facet=tweet_language" in page
    assert f"/demo/tweets?campaign={name}&amp;_facet_array=hashtags" in page
    for heading in ("Languages", "Clients", "Hashtags", "URL domains", "Most active accounts",
                    "Most retweeted accounts"):
        assert heading in page


@pytest.mark.asyncio
async def test_unknown_campaign_is_404(ds):
    await get_html(ds, "/-/tei/no_such_campaign", status=404)
    data = await get_json(ds, "/-/tei/no_such_campaign.json", status=404)
    assert data["ok"] is False


@pytest.mark.asyncio
@pytest.mark.parametrize("name", [
    "x' OR '1'='1", "'; DROP TABLE tweets; --", '" OR 1=1 --', "synthetic_201810' --",
    "%", "_", "../../etc/passwd", "synthetic_201810%00",
])
async def test_sqlish_campaign_names_are_looked_up_not_run(ds, demo_db, name):
    quoted = urllib.parse.quote(name, safe="")
    page = await get_html(ds, f"/-/tei/{quoted}", status=404)
    assert f"No campaign named “{markupsafe.escape(name)}”" in page
    data = await get_json(ds, f"/-/tei/{quoted}.json", status=404)
    assert f"“{name}”" in data["error"]
    assert sql(demo_db, "SELECT count(*) FROM tweets")[0][0] > 0


# --- Escaping ------------------------------------------------------------------

@pytest.fixture
def hostile_db(demo_db, tmp_path):
    """The demo with payloads in everything a campaign page shows."""
    path = str(tmp_path / "demo.db")
    shutil.copy(demo_db, path)
    conn = sqlite3.connect(path, isolation_level=None)
    name = campaigns(demo_db)[0]["name"]
    hostile = XSS[0] + XSS[1]
    conn.execute("UPDATE campaigns SET country = ?, description = ? WHERE name = ?",
                 (XSS[1], XSS[0] + XSS[2], name))
    conn.execute("INSERT INTO campaigns (name, country, description) VALUES (?, ?, ?)",
                 (hostile, XSS[0], XSS[1]))
    for kind in ("hashtag", "language", "client", "domain", "account", "retweeted"):
        conn.execute(
            "UPDATE campaign_top SET value = ?, label = ? WHERE campaign = ? AND kind = ? AND rank = 1",
            (XSS[0] + kind, XSS[1], name, kind))
    conn.execute("UPDATE campaign_months SET month = ? WHERE campaign = ? AND month = "
                 "(SELECT min(month) FROM campaign_months WHERE campaign = ?)", (XSS[1], name, name))
    conn.execute("UPDATE tweets SET hashtags = ? WHERE tweetid = (SELECT min(tweetid) FROM tweets)",
                 (json.dumps([XSS[0], XSS[1]]),))
    conn.close()
    return path, name, hostile


def assert_escaped(page):
    body = page.split("<body", 1)[1]
    for payload in XSS:
        assert payload not in body
    assert "<script>alert" not in body
    assert "<img src=x" not in body
    assert "onmouseover='alert" not in body


@pytest.mark.asyncio
async def test_pages_escape_every_text(hostile_db):
    path, name, hostile = hostile_db
    ds = await started(make_datasette([path]))
    index = await get_html(ds, "/-/tei")
    assert_escaped(index)
    assert str(markupsafe.escape(XSS[0])) in index
    page = await get_html(ds, f"/-/tei/{name}")
    assert_escaped(page)
    assert "&lt;script&gt;alert(&#34;tei&#34;)&lt;/script&gt;hashtag" in page or \
        "&lt;script&gt;alert(&quot;tei&quot;)&lt;/script&gt;hashtag" in page
    # The campaign named with payloads has its page, found by its name.
    hostile_page = await get_html(ds, "/-/tei/" + urllib.parse.quote(hostile, safe=""))
    assert_escaped(hostile_page)
    data = await get_json(ds, "/-/tei/" + urllib.parse.quote(hostile, safe="") + ".json")
    assert data["name"] == hostile and data["months"] == []
    # Datasette's own views with the plugin's render_cell.
    tweets = await get_html(ds, "/demo/tweets?_sort=tweetid&_size=5")
    assert_escaped(tweets)
    assert "hashtags__arraycontains=%3Cscript%3E" in tweets


@pytest.mark.asyncio
async def test_demo_payloads_are_escaped_in_views_and_search(ds):
    rows = await query_rows(ds, "search", q="script")
    assert rows and all("script" in r["snippet"] for r in rows)
    page = await get_html(ds, "/demo/search?q=script")
    assert_escaped(page)
    assert "MATCH tei_search_expression" not in page.split("<body", 1)[1]  # the long SQL is hidden
    assert '<mark class="tei-hit">script</mark>' in page
    users = await get_html(ds, "/demo/users?_size=max")
    assert_escaped(users)
    assert "&lt;b&gt;" in users or "&lt;svg" in users


# --- Canned queries -------------------------------------------------------------

@pytest.mark.asyncio
async def test_every_canned_query_is_registered_and_runs(ds, demo_db):
    name = campaigns(demo_db)[0]["name"]
    for query in queries.NAMES:
        if query == queries.EVIDENCE_QUERY:
            continue  # offered with the coordination tables only: test_network_page.py
        params = {"campaign": name, "q": "news", "userid": "x"}
        response = await ds.client.get(f"/demo/{query}.json?_shape=array&" + urllib.parse.urlencode(params))
        assert response.status_code == 200, (query, response.text[:300])
        page = await get_html(ds, f"/demo/{query}")
        assert "<form" in page


@pytest.mark.asyncio
async def test_search_ranks_and_filters(ds, demo_db):
    texts = {int(r["tweetid"]): r for r in sql(demo_db, "SELECT * FROM tweets")}
    word = "news"
    rows = await query_rows(ds, "search", q=word)
    want = {i for i, r in texts.items() if search_oracle(r["tweet_text"], word)}
    assert {int(r["tweetid"]) for r in rows} == want
    assert all(isinstance(r["tweetid"], str) for r in rows)
    assert [r["score"] for r in rows] == sorted(r["score"] for r in rows)
    assert all(search.OPEN in r["snippet"] for r in rows)
    campaign = rows[0]["campaign"]
    filtered = await query_rows(ds, "search", q=word, campaign=campaign)
    assert {int(r["tweetid"]) for r in filtered} == {
        i for i in want if texts[i]["campaign"] == campaign} | {
        r["tweetid"] for r in sql(demo_db, "SELECT tweetid FROM shared_tweets WHERE campaign = ?",
                                  (campaign,)) if r["tweetid"] in want}
    language = rows[0]["tweet_language"]
    by_language = await query_rows(ds, "search", q=word, language=language.upper())
    assert by_language and all(r["tweet_language"].lower() == language.lower() for r in by_language)


@pytest.mark.asyncio
@pytest.mark.parametrize("short", ["fa", "ke", "zq", "a"])
async def test_search_finds_short_words(ds, demo_db, short):
    """Words of one or two letters are words like any other."""
    rows = await query_rows(ds, "search", q=f"news {short.upper()}")
    want = {r[0] for r in sql(demo_db, "SELECT tweetid, tweet_text FROM tweets")
            if search_oracle(r[1], f"news {short}")}
    assert {int(r["tweetid"]) for r in rows} == want


@pytest.mark.asyncio
@pytest.mark.parametrize("word", ["人民", "华人", "香港"])
async def test_search_finds_two_character_chinese_words(ds, demo_db, word):
    rows = await query_rows(ds, "search", q=word)
    want = {r[0] for r in sql(demo_db, "SELECT tweetid, tweet_text FROM tweets")
            if r[1] and word in r[1]}
    assert want and {int(r["tweetid"]) for r in rows} == want
    assert all(search.OPEN + word + search.CLOSE in r["snippet"] for r in rows)


@pytest.mark.asyncio
async def test_two_character_word_inside_a_longer_run(ds, demo_db):
    """华人 occurs only inside 中华人民共和国: no word boundary to split on."""
    texts = [r[0] for r in sql(demo_db, "SELECT tweet_text FROM tweets WHERE tweet_text LIKE '%华人%'")]
    assert texts and all("中华人民共和国" in t for t in texts)
    rows = await query_rows(ds, "search", q="华人")
    assert len(rows) == len(texts)
    mixed = await query_rows(ds, "search", q="华人 香港")
    assert {r["tweetid"] for r in mixed} == {
        str(r[0]) for r in sql(demo_db, "SELECT tweetid FROM tweets WHERE tweet_text LIKE '%华人%' "
                                        "AND tweet_text LIKE '%香港%'")}


@pytest.mark.parametrize("q", ["人民", "news", "人民 政府 news", "经济发展", "US news"])
@pytest.mark.parametrize("campaign", ["", "synthetic_201810"])
def test_search_query_plan_does_not_scan_tweets(demo_db, q, campaign):
    conn = sqlite3.connect(demo_db)
    search.register_functions(conn)
    canned = next(query for query in queries.QUERIES if query.name == "search")
    params = {"q": q, "campaign": campaign, "language": "zh" if campaign else ""}
    plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + canned.sql, params)]
    assert any("tweets_fts VIRTUAL TABLE" in line for line in plan)
    assert any(line.startswith("SEARCH t USING INTEGER PRIMARY KEY") for line in plan)
    assert not [line for line in plan if re.match(r"SCAN (t|tweets)\b(?! VIRTUAL)", line)], plan
    # A Bloom filter on tweets is built by reading every tweet.
    assert not [line for line in plan if "BLOOM" in line and " t " in line + " "], plan


@pytest.mark.asyncio
@pytest.mark.parametrize("q", ['"', "AND OR NOT (", "*", "NEAR(a b)", "a:b", "'", "x\x00y", "", "  "])
async def test_search_syntax_is_never_an_error(ds, q):
    await query_rows(ds, "search", q=q)


@pytest.mark.asyncio
async def test_top_hashtags_and_domains(ds, demo_db):
    conn = sqlite3.connect(demo_db)
    conn.row_factory = sqlite3.Row
    for row in campaigns(demo_db):
        want = expected(conn, row["name"])
        for query, kind, column in (("top_hashtags", "hashtag", "hashtag"),
                                    ("top_domains", "domain", "domain")):
            rows = await query_rows(ds, query, campaign=row["name"])
            assert {r[column]: (r["tweets"], r["accounts"]) for r in rows} == want[kind]
            assert [r["tweets"] for r in rows] == sorted((r["tweets"] for r in rows), reverse=True)


@pytest.mark.asyncio
async def test_activity_by_hour(ds, demo_db):
    conn = sqlite3.connect(demo_db)
    conn.row_factory = sqlite3.Row
    name = campaigns(demo_db)[-1]["name"]
    want = expected(conn, name)["hours"]
    rows = await query_rows(ds, "activity_by_hour", campaign=name)
    days = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
    for r in rows:
        for weekday, day in enumerate(days):
            assert r[day] == want.get((weekday, r["hour"]), 0)
        assert r["total"] == sum(r[d] for d in days)
    assert sum(r["total"] for r in rows) == sum(want.values())


@pytest.mark.asyncio
async def test_account_creation_bursts(ds, demo_db):
    for row in campaigns(demo_db):
        days = Counter(r[0] for r in sql(
            demo_db, "SELECT account_creation_date FROM users WHERE campaign = ?", (row["name"],)) if r[0])
        rows = await query_rows(ds, "account_creation_bursts", campaign=row["name"])
        assert {r["day"]: r["accounts"] for r in rows} == {d: n for d, n in days.items() if n > 1}


@pytest.mark.asyncio
async def test_most_retweeted_accounts(ds, demo_db):
    conn = sqlite3.connect(demo_db)
    conn.row_factory = sqlite3.Row
    for row in campaigns(demo_db):
        want = expected(conn, row["name"])["retweeted"]
        rows = await query_rows(ds, "most_retweeted_accounts", campaign=row["name"])
        assert {r["retweet_userid"]: (r["retweets"], r["retweeted_by_accounts"]) for r in rows} == want


@pytest.mark.asyncio
async def test_shared_urls_across_campaigns(ds, demo_db):
    conn = sqlite3.connect(demo_db)
    conn.row_factory = sqlite3.Row
    urls, domains = {}, {}
    for row in campaigns(demo_db):
        for r in campaign_rows(conn, row["name"]):
            for url in json.loads(r["urls"] or "[]"):
                urls.setdefault(url, set()).add(row["name"])
                domains.setdefault(oracle_domain(url), set()).add(row["name"])
    rows = await query_rows(ds, "shared_urls_across_campaigns")
    got = {(r["kind"], r["value"]): r["campaigns"] for r in rows}
    want = {("url", u): len(c) for u, c in urls.items() if len(c) > 1}
    want.update({("domain", d): len(c) for d, c in domains.items() if len(c) > 1})
    assert got == want and want


@pytest.mark.asyncio
async def test_user_timeline(ds, demo_db):
    userid, n = sql(demo_db, "SELECT userid, count(*) FROM tweets GROUP BY 1 ORDER BY 2 DESC LIMIT 1")[0]
    rows = await query_rows(ds, "user_timeline", userid=userid)
    assert len(rows) == n
    assert [r["tweet_time"] for r in rows] == sorted(r["tweet_time"] for r in rows)
    ids = {r[0] for r in sql(demo_db, "SELECT tweetid FROM tweets WHERE userid = ?", (userid,))}
    assert {int(r["tweetid"]) for r in rows} == ids
    assert all(r["tweetid"] == str(int(r["tweetid"])) for r in rows)


@pytest.mark.asyncio
async def test_queries_only_for_tei_databases(demo_db, tmp_path):
    other = str(tmp_path / "other.db")
    sqlite3.connect(other).execute("CREATE TABLE tweets (hashtags TEXT, userid TEXT)").connection.commit()
    conn = sqlite3.connect(other)
    conn.execute("INSERT INTO tweets VALUES (?, ?)", ('["a"]', "a" * 64))
    conn.commit()
    ds = await started(make_datasette([demo_db, other]))
    assert (await ds.client.get("/other/search")).status_code == 404
    assert (await ds.client.get("/demo/search")).status_code == 200
    page = await get_html(ds, "/other/tweets")
    assert "hashtags__arraycontains" not in page and "tei-id" not in page
    names = [c["database"] for c in (await get_json(ds, "/-/tei.json"))["campaigns"]]
    assert set(names) == {"demo"}


@pytest.mark.asyncio
async def test_tei_databases_are_read_memory_mapped(demo_db, tmp_path):
    """Datasette's connections to a TEI database read it through mmap; to
    any other database, as Datasette opens it."""
    other = str(tmp_path / "other.db")
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    ds = await started(make_datasette([demo_db], immutables=[other]))

    def mmap_size(conn):
        return conn.execute("PRAGMA mmap_size").fetchone()[0]

    assert await ds.get_database("demo").execute_fn(mmap_size) == MMAP_BYTES
    assert await ds.get_database("other").execute_fn(mmap_size) == 0


# --- A database built before the summaries existed ---------------------------------

@pytest.mark.asyncio
async def test_pages_on_a_database_without_summaries(demo_db, tmp_path):
    path = str(tmp_path / "demo.db")
    shutil.copy(demo_db, path)
    conn = sqlite3.connect(path)
    for table in ("campaign_months", "campaign_hours", "campaign_account_months", "campaign_top",
                  "campaign_urls", "shared_values"):
        conn.execute(f"DROP TABLE IF EXISTS [{table}]")
    conn.commit()
    conn.close()
    ds = await started(make_datasette([path]))
    index = await get_json(ds, "/-/tei.json")
    assert index["campaigns"] and all(c["months"] == [] for c in index["campaigns"])
    await get_html(ds, "/-/tei")
    name = index["campaigns"][0]["name"]
    data = await get_json(ds, f"/-/tei/{name}.json")
    assert data["months"] == [] and data["languages"] == [] and data["missing_summaries"]
    page = await get_html(ds, f"/-/tei/{name}")
    assert "No data." in page and "build" in page
    # search still works; the summary queries are not offered.
    rows = await query_rows(ds, "search", q="news")
    assert rows
    assert (await ds.client.get("/demo/top_hashtags")).status_code == 404
    assert (await ds.client.get("/demo/shared_urls_across_campaigns")).status_code == 404
    assert (await ds.client.get("/demo/user_timeline")).status_code == 200


@pytest.mark.asyncio
async def test_shared_urls_on_a_database_without_shared_values(demo_db, tmp_path):
    """The query falls back to grouping the campaigns' URLs, with the same answer."""
    path = str(tmp_path / "demo.db")
    shutil.copy(demo_db, path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE shared_values")
    conn.commit()
    conn.close()
    old = await started(make_datasette([path]))
    new = await started(make_datasette([demo_db]))
    rows = await query_rows(old, "shared_urls_across_campaigns")
    assert rows and rows == await query_rows(new, "shared_urls_across_campaigns")


# --- Metadata, facets, render_cell, menu -------------------------------------------

def facet_names(data):
    results = data.get("facet_results") or {}
    results = results.get("results", results) if isinstance(results, dict) else results
    return set(results)


@pytest.mark.asyncio
async def test_default_facets_and_metadata(ds):
    data = await get_json(ds, "/demo/tweets.json?_size=0&_extra=facet_results")
    assert facet_names(data) == {"campaign", "tweet_language", "tweet_client_name", "is_retweet",
                                 "hashtags", "tweet_time"}
    data = await get_json(ds, "/demo/users.json?_size=0&_extra=facet_results")
    assert facet_names(data) == {"campaign", "account_language"}
    home = await get_html(ds, "/")
    assert "Twitter election-integrity archives" in home
    table = await get_html(ds, "/demo/tweets")
    assert "Every tweet of every campaign archive" in table
    database = await get_html(ds, "/demo")
    assert 'href="/demo/tweets"' in database and 'href="/demo/tweets_fts"' not in database
    # Sortable columns: allowed ones sort, others are refused.
    rows = await get_json(ds, "/demo/tweets.json?_sort_desc=like_count&_shape=array&_size=5")
    likes = [r["like_count"] or 0 for r in rows]
    assert likes == sorted(likes, reverse=True)
    refused = await ds.client.get("/demo/tweets.json?_sort=tweet_text")
    assert refused.status_code >= 400 and "Cannot sort table by tweet_text" in refused.text


@pytest.mark.asyncio
async def test_metadata_alone_gives_the_facets_to_tei_and_demo(demo_db, tmp_path):
    """`datasette serve tei.db demo.db -m metadata.yml`, without datasette.yaml:
    on 1.0 Datasette moves the table settings out of metadata by itself."""
    tei = str(tmp_path / "tei.db")
    shutil.copy(demo_db, tei)
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    ds = await started(Datasette([demo_db, tei], metadata=metadata))
    for database in ("demo", "tei"):
        data = await get_json(ds, f"/{database}/tweets.json?_size=0&_extra=facet_results")
        assert facet_names(data) == {"campaign", "tweet_language", "tweet_client_name",
                                     "is_retweet", "hashtags", "tweet_time"}, database
        page = await get_html(ds, f"/{database}/users")
        assert "One row per account and campaign" in page


def test_metadata_and_config_agree():
    """datasette.yaml (1.0) holds exactly metadata.yml's table settings."""
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    config = yaml.safe_load((ROOT / "datasette.yaml").read_text())
    keys = {"facets", "sortable_columns", "label_column", "sort", "sort_desc", "size", "hidden"}
    for database in ("tei", "demo"):
        from_metadata = {
            table: {k: v for k, v in settings.items() if k in keys}
            for table, settings in metadata["databases"][database]["tables"].items()
        }
        from_metadata = {t: s for t, s in from_metadata.items() if s}
        assert config["databases"][database]["tables"] == from_metadata
    for table in ("tweets", "users", "campaigns"):
        assert metadata["databases"]["tei"]["tables"][table]["description"]


@pytest.mark.asyncio
async def test_render_cell(ds, demo_db):
    userid = sql(demo_db, "SELECT userid FROM tweets WHERE length(userid) = 64 LIMIT 1")[0][0]
    page = await get_html(ds, "/demo/user_timeline?" + urllib.parse.urlencode({"userid": userid}))
    tweetid = sql(demo_db, "SELECT min(tweetid) FROM tweets WHERE userid = ?", (userid,))[0][0]
    assert f'<a href="/demo/tweets/{tweetid}">{tweetid}</a>' in page
    page = await get_html(ds, "/demo/tweets?" + urllib.parse.urlencode({"userid": userid}))
    assert f'<span class="tei-id" title="{userid}">{userid[:10]}…</span>' in page
    tagged = sql(demo_db, "SELECT tweetid, hashtags FROM tweets WHERE hashtags LIKE '[_%' LIMIT 1")[0]
    page = await get_html(ds, f"/demo/tweets?tweetid={tagged[0]}")
    for tag in json.loads(tagged[1]):
        link = "/demo/tweets?" + urllib.parse.urlencode({"hashtags__arraycontains": tag})
        assert f'href="{link}"' in page
        rows = await get_json(ds, local(link, ".json") + "&_shape=array&_size=max")
        assert rows and all(tag in json.loads(r["hashtags"]) for r in rows)


@pytest.mark.asyncio
async def test_menu_link_and_table_actions(ds, demo_db):
    name = campaigns(demo_db)[0]["name"]
    page = await get_html(ds, "/demo/tweets?" + urllib.parse.urlencode({"campaign": name}))
    assert 'href="/-/tei"' in page
    assert f'href="/-/tei/{name}"' in page
    page = await get_html(ds, "/demo/users")
    assert 'href="/-/tei"' in page
    page = await get_html(ds, "/demo/imports")
    assert "Campaign pages" not in page
    # The campaign in the table action comes from the URL: escaped, and quoted in the link.
    page = await get_html(ds, "/demo/tweets?" + urllib.parse.urlencode({"campaign": XSS[1]}))
    assert_escaped(page)
    assert 'href="/-/tei/%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"' in page


@pytest.mark.asyncio
async def test_immutable_with_inspect_file(demo_db):
    from datasette.inspect import inspect_hash

    ds = await started(make_datasette(
        [], immutables=[demo_db],
        inspect_data={"demo": {"hash": inspect_hash(pathlib.Path(demo_db)), "tables": {
            "tweets": {"count": sql(demo_db, "SELECT count(*) FROM tweets")[0][0]}}}},
    ))
    data = await get_json(ds, "/-/tei.json")
    assert data["campaigns"]
    assert (await ds.client.get(data["campaigns"][0]["links"]["page"])).status_code == 200
    assert await query_rows(ds, "search", q="人民")


# --- The README's JSON API examples ------------------------------------------------

def readme_examples():
    text = (ROOT / "README.md").read_text()
    section = text.split("<!-- section: plugin -->")[1].split("<!-- /section: plugin -->")[0]
    api = section.split("### JSON API")[1] if "### JSON API" in section else section.split("## JSON API")[1]
    return re.findall(r"curl -s '(http://localhost:8001[^']+)'", api)


def test_readme_has_json_api_examples():
    examples = readme_examples()
    assert len(examples) >= 4
    joined = " ".join(examples)
    for needed in ("/search.json", "/-/tei/", "_str", "_shape="):
        assert needed in joined


@pytest.mark.asyncio
async def test_readme_json_api_examples_work(demo_db):
    # As written, against what `make demo` serves: demo.db with no -m or -c.
    ds = await started(Datasette([demo_db]))
    for url in readme_examples():
        path = urllib.parse.urlsplit(url)
        data = await get_json(ds, path.path + ("?" + path.query if path.query else ""))
        assert data, url


# --- Chart helpers ------------------------------------------------------------------

def test_charts_escape_labels_and_links():
    from datasette_tei.serve import pages

    svg = str(pages.bar_chart([(XSS[0], 3, 'x" onload="alert(1)'), (XSS[1], 0, None)]))
    assert_escaped("<body>" + svg)
    assert svg.count("<rect") == 2 and svg.count("<a ") == 1
    assert 'href="x&#34; onload=&#34;alert(1)"' in svg
    assert "<title>" + str(markupsafe.escape(XSS[0])) + ": 3</title>" in svg


def test_month_helpers():
    from datasette_tei.serve import pages

    assert pages._month_after("2016-12") == "2017-01"
    assert pages._month_after("2016-01") == "2016-02"
    for bad in ("2016-13", "2016", "abcd-ef", "", None, XSS[1]):
        assert pages._month_after(bad) is None
    filled = pages._fill_months([{"month": "2016-11", "tweets": 2}, {"month": "2017-02", "tweets": 1}],
                                "tweets")
    assert [(m["month"], m["tweets"]) for m in filled] == [
        ("2016-11", 2), ("2016-12", 0), ("2017-01", 0), ("2017-02", 1)]


def test_heatmap_has_a_cell_per_hour_and_weekday():
    from datasette_tei.serve import pages

    svg = str(pages.heatmap([{"weekday": 0, "hour": 23, "tweets": 5, "url": "/a?b=1&c=2"},
                             {"weekday": 1, "hour": 0, "tweets": 1}]))
    assert svg.count("<title>") == 7 * 24  # a cell each (the legend's swatches have none)
    assert "Sunday 23:00 UTC: 5 tweets" in svg and "Monday 00:00 UTC: 1 tweets" in svg
    # A cell with its url is a link (escaped); the legend runs from 1 to the peak.
    assert svg.count("<a ") == 1 and '<a href="/a?b=1&amp;c=2"><rect' in svg
    assert "Tweets an hour" in svg and '>5</text>' in svg and '>1</text>' in svg
