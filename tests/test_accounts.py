"""The account page (/-/tei/accounts/<userid>), its JSON and timeline, the
figures the build stores for prolific accounts, the tweet row page, the
account links render_cell adds, escaping and permissions. Through Datasette
itself, on both lines."""
import html
import json
import re
import shutil
import sqlite3

import pytest
import pytest_asyncio
from datasette.app import Datasette

from datasette_tei import accounts
from datasette_tei.serve import account_page, pages
from figures_db import assert_every_figure_opens_its_rows, build, datasette, local
from helpers import query

DATASETTE_1 = hasattr(Datasette, "add_query")
XSS = ['<script>alert("tei")</script>', '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return build(tmp_path_factory.mktemp("accounts"))


@pytest_asyncio.fixture
async def ds(db):
    ds = datasette(db)
    await ds.invoke_startup()
    return ds


def copy(db, tmp_path, name="tei.db"):
    path = str(tmp_path / name)
    shutil.copy(db, path)
    return path


def prolific(db):
    return query(db, "SELECT userid FROM tweets WHERE campaign = 'prolific_042020' "
                     "GROUP BY userid ORDER BY count(*) DESC, sum(tweet_time IS NULL) DESC, userid LIMIT 1")[0][0]


async def get(ds, path, status=200):
    response = await ds.client.get(path)
    assert response.status_code == status, (path, response.text[:300])
    return response


@pytest.mark.asyncio
async def test_account_json_has_profile_campaigns_figures_and_timeline(ds, db):
    userid = query(db, "SELECT userid FROM tweets WHERE tweetid IN (SELECT tweetid FROM shared_tweets) "
                       "LIMIT 1")[0][0]
    data = (await get(ds, pages.account_path(ds, userid, ".json"))).json()
    assert data["userid"] == userid
    section = data["databases"][0]
    assert section["database"] == "tei"
    profile = section["profiles"][0]
    want = query(db, "SELECT user_screen_name, account_creation_date, follower_count, is_hashed "
                     "FROM users WHERE userid = ? ORDER BY from_users_file DESC, campaign", (userid,))[0]
    assert (profile["user_screen_name"], profile["account_creation_date"], profile["follower_count"],
            profile["is_hashed"]) == want
    # Every campaign holding its tweets, the shared ones included.
    held = {r[0] for r in query(db, "SELECT in_campaign FROM campaign_tweets WHERE userid = ?", (userid,))}
    assert held <= {c["campaign"] for c in section["campaigns"]}
    assert len(held) > 1
    figures = section["figures"]
    for key in ("tweets", "retweets", "retweet_share", "first_tweet", "last_tweet", "peak_day",
                "peak_day_tweets", "months", "hours", "languages", "clients", "hashtags", "domains",
                "retweeted_accounts"):
        assert key in figures
    assert figures["source"] == "live"
    assert len(figures["hours"]) == 24
    assert section["timeline"] and section["timeline"][0]["tweetid"]
    # Its coordination partners: every edge from it in the networks the build computed.
    edges = query(db, "SELECT run_id, userid_b, weight FROM coordination_edges WHERE userid_a = ?", (userid,))
    assert sorted((p["run_id"], p["userid_b"], p["weight"]) for p in section["partners"]) == sorted(edges)


@pytest.mark.asyncio
async def test_account_html_shows_profile_charts_and_linked_timeline(ds, db):
    userid = prolific(db)
    page = (await get(ds, pages.account_path(ds, userid))).text
    name = query(db, "SELECT user_screen_name FROM users WHERE userid = ?", (userid,))[0][0]
    assert html.escape(name) in page
    assert page.count('class="tei-chart"') == 2
    assert page.count('<li class="tei-tweet"') == accounts.TIMELINE_PAGE
    # Retweet targets link to their account pages.
    target = query(db, "SELECT retweet_userid FROM tweets WHERE userid = ? AND is_retweet = 1 "
                       "AND retweet_userid <> '' ORDER BY tweet_time, tweetid LIMIT 1", (userid,))
    if target:
        assert html.escape(pages.account_path(ds, target[0][0])) in page


@pytest.mark.asyncio
async def test_unknown_account_is_404(ds):
    assert (await ds.client.get("/-/tei/accounts/nobody")).status_code == 404
    response = await ds.client.get("/-/tei/accounts/nobody.json")
    assert response.status_code == 404 and response.json()["ok"] is False


@pytest.mark.asyncio
async def test_an_account_counted_per_request_stops_at_the_time_limit(db, tmp_path):
    # A database built before account_summaries, with an account of 300,000
    # tweets: its figures are counted per request, which must stop where
    # Datasette stops its own queries (sql_time_limit_ms), with a clear answer.
    path = copy(db, tmp_path)
    userid = prolific(db)
    conn = sqlite3.connect(path)
    conn.execute(f"DROP TABLE {accounts.TABLE}")
    columns = [row[1] for row in conn.execute("PRAGMA table_info(tweets)")]
    copied = ", ".join("t.tweetid + k.n * 1000000000000" if c == "tweetid" else f"t.[{c}]" for c in columns)
    conn.execute(f"""WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 2500)
                     INSERT OR IGNORE INTO tweets ({", ".join(f"[{c}]" for c in columns)})
                     SELECT {copied} FROM tweets AS t, k WHERE t.userid = ?""", (userid,))
    conn.commit()
    assert conn.execute("SELECT count(*) FROM tweets WHERE userid = ?", (userid,)).fetchone()[0] > 250_000
    conn.close()
    ds = datasette(path, settings={"sql_time_limit_ms": 50})
    response = await ds.client.get(pages.account_path(ds, userid, ".json"))
    assert response.status_code == 500, response.text[:300]
    assert "time limit" in response.json()["error"]
    response = await ds.client.get(pages.account_path(ds, userid))
    assert response.status_code == 500 and "too large to read in time" in response.text
    # Another account of the same database answers in full within that limit.
    other = query(path, "SELECT userid FROM tweets WHERE userid != ? LIMIT 1", (userid,))[0][0]
    figures = (await get(ds, pages.account_path(ds, other, ".json"))).json()["databases"][0]["figures"]
    assert figures["source"] == "live" and figures["tweets"] > 0


@pytest.mark.asyncio
async def test_timeline_pages_cover_every_tweet_once_in_order(ds, db):
    userid = prolific(db)
    want = [r[0] for r in query(
        db, "SELECT tweetid FROM tweets WHERE userid = ? ORDER BY tweet_time IS NOT NULL, "
            "tweet_time, tweetid", (userid,))]
    assert len(want) > 2 * accounts.TIMELINE_PAGE  # three pages at least
    assert query(db, "SELECT count(*) FROM tweets WHERE userid = ? AND tweet_time IS NULL", (userid,))[0][0]
    seen = []
    path = pages.account_path(ds, userid, ".json")
    pages_read = 0
    while path:
        section = (await get(ds, path)).json()["databases"][0]
        seen += [t["tweetid"] for t in section["timeline"]]
        pages_read += 1
        path = section["next_url"] and local(section["next_url"]).replace(
            pages.account_path(ds, userid), pages.account_path(ds, userid, ".json"), 1)
    assert seen == want
    assert pages_read == -(-len(want) // accounts.TIMELINE_PAGE)


def test_timeline_reads_the_userid_index(db):
    conn = sqlite3.connect(db)
    plan = " ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT tweetid FROM tweets WHERE userid = :u AND (tweet_time, tweetid) > "
        "(:t, :id) ORDER BY tweet_time, tweetid LIMIT 51", {"u": "x", "t": "2020", "id": 1}))
    assert "idx_tweets_userid_tweet_time" in plan and "TEMP B-TREE" not in plan


def test_timeline_cursor_round_trip():
    for cursor in (("2020-01-01 10:00", 5), (None, 7), ("a|b", 9)):
        assert account_page._cursor(account_page._cursor_text(cursor)) == cursor
    for bad in ("", "x", "2020|x", None):
        assert account_page._cursor(bad) is None


def test_glob_prefix_matches_exactly_the_strings_that_start_with_it():
    conn = sqlite3.connect(":memory:")
    for prefix, text, match in (("2020-01", "2020-01-05 10:00", True), ("2020-01", "2020-011", True),
                                ("a[b", "a[bc", True), ("a[b", "ab", False), ("a*", "abc", False),
                                ("a*", "a*c", True), ("a?", "ab", False), ("a?", "a?", True)):
        got = conn.execute("SELECT ? GLOB ?", (text, account_page.glob_prefix(prefix))).fetchone()[0]
        assert bool(got) == match, (prefix, text)


@pytest.mark.asyncio
async def test_figures_stored_at_build_are_what_the_page_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(accounts, "STORE_FROM_TWEETS", 50)
    db = build(tmp_path)
    stored = dict(query(db, f"SELECT userid, figures FROM {accounts.TABLE}"))
    heavy = {r[0] for r in query(db, "SELECT userid FROM tweets GROUP BY userid HAVING count(*) >= 50")}
    assert set(stored) == heavy and heavy
    conn = sqlite3.connect(db)
    userid = sorted(heavy)[0]
    assert json.loads(stored[userid]) == accounts.figures(conn, userid)
    ds = datasette(db)
    figures = (await get(ds, pages.account_path(ds, userid, ".json"))).json()["databases"][0]["figures"]
    assert figures["source"] == "stored"
    # The page reads the stored figures: change them, and it shows the change.
    conn.execute(f"UPDATE {accounts.TABLE} SET figures = json_set(figures, '$.retweets', 12345) "
                 "WHERE userid = ?", (userid,))
    conn.commit()
    figures = (await get(ds, pages.account_path(ds, userid, ".json"))).json()["databases"][0]["figures"]
    assert figures["retweets"] == 12345
    # Stored for another count of tweets: stale, said so; counted live below the threshold.
    conn.execute(f"UPDATE {accounts.TABLE} SET tweets = tweets + 1 WHERE userid = ?", (userid,))
    conn.commit()
    page = (await get(ds, pages.account_path(ds, userid))).text
    assert "from an earlier build" in page
    monkeypatch.setattr(accounts, "STORE_FROM_TWEETS", 1000)
    figures = (await get(ds, pages.account_path(ds, userid, ".json"))).json()["databases"][0]["figures"]
    assert figures["source"] == "live" and figures["retweets"] != 12345
    conn.close()


@pytest.mark.asyncio
async def test_hostile_profile_and_tweet_text_are_escaped(db, tmp_path):
    path = copy(db, tmp_path)
    userid = prolific(db)
    conn = sqlite3.connect(path)
    payload = " ".join(XSS)
    for column in ("user_display_name", "user_screen_name", "user_reported_location",
                   "user_profile_description", "user_profile_url", "account_language",
                   "account_creation_date"):
        conn.execute(f"UPDATE users SET {column} = ? WHERE userid = ?", (payload, userid))
    conn.execute(
        "UPDATE tweets SET tweet_text = ?, tweet_client_name = ? WHERE tweetid = (SELECT tweetid FROM tweets "
        "WHERE userid = ? ORDER BY tweet_time IS NOT NULL, tweet_time, tweetid LIMIT 1)",
        (payload + ' https://evil.example/"><script>x</script> #tag"><b> javascript:alert(1)', payload, userid))
    conn.commit()
    conn.close()
    ds = datasette(path)
    page = (await get(ds, pages.account_path(ds, userid))).text
    row_page = (await get(ds, "/tei/tweets/" + str(query(
        path, "SELECT tweetid FROM tweets WHERE tweet_text LIKE '%evil.example%'")[0][0]))).text
    for text in (page, row_page):
        assert '<script>alert' not in text and "<script>x" not in text
        assert "<img src=x" not in text
        assert "' onmouseover=" not in text
        assert "&lt;script&gt;" in text
    assert 'href="javascript' not in page
    assert '<a href="https://evil.example/"' in page  # the URL, cut where the markup starts


@pytest.mark.asyncio
async def test_tweet_row_page_starts_with_the_text_and_lists_every_campaign(ds, db):
    tweetid, text = query(db, "SELECT t.tweetid, t.tweet_text FROM shared_tweets s "
                              "JOIN tweets t ON t.tweetid = s.tweetid WHERE s.campaign = 'beta_022020' LIMIT 1")[0]
    campaigns = [r[0] for r in query(
        db, "SELECT campaign FROM tweets WHERE tweetid = ? UNION ALL "
            "SELECT campaign FROM shared_tweets WHERE tweetid = ?", (tweetid, tweetid))]
    assert len(campaigns) == 2
    page = (await get(ds, f"/tei/tweets/{tweetid}")).text
    card = page.index('class="tei tei-tweet-card"')
    # The text before Datasette's table of the row's columns.
    assert card < page.index('<p class="tei-tweet-text">') < page.index("<table")
    for campaign in campaigns:
        assert f'<a href="{pages.campaign_path(ds, campaign)}" class="tei-tweet-campaign">' in page
    # The rest, one column a line, before Datasette's one-line table.
    client = query(db, "SELECT tweet_client_name FROM tweets WHERE tweetid = ?", (tweetid,))[0][0]
    assert page.index(f"<tr><th>tweet_client_name</th><td>{html.escape(client)}</td></tr>") < page.index(
        "<table class=\"rows-and-columns")
    # Any other table's row page is Datasette's own.
    assert "tei-tweet-card" not in (await get(ds, "/tei/campaigns/alpha_012020")).text


@pytest.mark.asyncio
async def test_ids_and_screen_names_link_to_account_pages(ds, db):
    page = (await get(ds, "/tei/tweets?_size=20&is_retweet=1&retweet_userid__not=")).text
    links = re.findall(r'<td class="col-(userid|user_screen_name|retweet_userid)[^"]*">'
                       r'<a href="/-/tei/accounts/([^"]+)"', page)
    assert {column for column, _ in links} == {"userid", "user_screen_name", "retweet_userid"}
    # A shortened hash carries the full one on hover.
    for full, short in re.findall(r'title="([^"]+)">([^<]+)…</a>', page):
        assert full.startswith(short)
    # The campaign summary tables and the canned queries too.
    top = (await get(ds, "/tei/campaign_top?kind=account&_size=5")).text
    assert re.search(r'<td class="col-value[^"]*"><a href="/-/tei/accounts/', top)
    rows = (await get(ds, "/tei/most_retweeted_accounts?campaign=alpha_012020")).text
    assert re.search(r'<td class="col-retweet_userid[^"]*"><a href="/-/tei/accounts/', rows)
    # Campaign pages: every account row links to its page, the full id on hover.
    campaign = (await get(ds, pages.campaign_path(ds, "alpha_012020"))).text
    for userid in re.findall(r'<a href="/-/tei/accounts/[^"]+" title="([^" ]+)', campaign):
        assert query(db, "SELECT count(*) FROM tweets WHERE userid = ? OR retweet_userid = ?",
                     (userid, userid))[0][0]


def private(kind, database="tei"):
    """Datasette arguments that make the instance, or one database, visible to root only."""
    rule = {"allow": {"id": "root"}}
    block = rule if kind == "instance" else {"databases": {database: rule}}
    return {"config": block} if DATASETTE_1 else {"metadata": block}


@pytest.mark.asyncio
async def test_account_of_a_private_database_is_404_and_a_private_instance_403(db, tmp_path):
    userid = prolific(db)
    ds = datasette(db, **private("database"))
    await ds.invoke_startup()
    assert (await ds.client.get(pages.account_path(ds, userid))).status_code == 404
    assert (await ds.client.get(pages.account_path(ds, userid, ".json"))).status_code == 404
    root = {"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}
    assert (await ds.client.get(pages.account_path(ds, userid), cookies=root)).status_code == 200
    ds = datasette(db, **private("instance"))
    await ds.invoke_startup()
    assert (await ds.client.get(pages.account_path(ds, userid))).status_code == 403
    assert (await ds.client.get(pages.account_path(ds, userid, ".json"))).status_code == 403
    # Two databases holding the account, one private: only the other shows.
    other = copy(db, tmp_path, "other.db")
    ds = Datasette([db, other], **private("database", "other"))
    await ds.invoke_startup()
    data = (await get(ds, pages.account_path(ds, userid, ".json"))).json()
    assert [s["database"] for s in data["databases"]] == ["tei"]
    ds = Datasette([db, other])
    data = (await get(ds, pages.account_path(ds, userid, ".json"))).json()
    assert [s["database"] for s in data["databases"]] == ["tei", "other"]


@pytest.mark.asyncio
async def test_coordination_partners_link_to_their_evidence(db, tmp_path):
    path = copy(db, tmp_path)
    a, b = [r[0] for r in query(path, "SELECT userid FROM tweets WHERE campaign = 'prolific_042020' "
                                      "GROUP BY userid ORDER BY userid")]
    tweets_a = [r[0] for r in query(path, "SELECT tweetid FROM tweets WHERE userid = ? LIMIT 3", (a,))]
    tweet_b = query(path, "SELECT tweetid FROM tweets WHERE userid = ? LIMIT 1", (b,))[0][0]
    conn = sqlite3.connect(path)
    # The build's own networks replaced by one planted edge, in the build's tables.
    for table in ("coordination_runs", "coordination_edges", "coordination_evidence"):
        conn.execute(f"DELETE FROM [{table}]")
    conn.execute("INSERT INTO coordination_runs (id, kind, window_minutes, min_weight, scope, is_default, "
                 "parameters, created, edge_count, account_count, group_count) "
                 "VALUES (1, 'co_retweet', 10, 2, '*', 1, '{}', 'now', 1, 2, 1)")
    conn.execute("INSERT INTO coordination_edges VALUES (1, 'co_retweet', ?, ?, 'p', 'p', 3, 1, 0.33, NULL, NULL)",
                 (a, b))
    conn.executemany("INSERT INTO coordination_evidence VALUES (1, ?, ?, ?, ?, 'x', 1)",
                     [(a, b, t, tweet_b) for t in tweets_a])
    conn.commit()
    conn.close()
    ds = datasette(path)
    section = (await get(ds, pages.account_path(ds, a, ".json"))).json()["databases"][0]
    assert [(e["userid_b"], e["weight"]) for e in section["partners"]] == [(b, 3)]
    page = (await get(ds, pages.account_path(ds, a))).text
    assert html.escape(pages.account_path(ds, b)) in page
    figures = await assert_every_figure_opens_its_rows(ds, page)
    assert any("coordination_evidence" in url and n == 3 for url, n in figures)
