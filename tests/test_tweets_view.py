"""`?_search=` and a campaign's count on `tweets`, answered from the word
index and the build's figures (datasette_tei/serve/tweets_view.py): every page,
its order, its `next` link and its count are Datasette's own, which the same
Datasette gives with the replacement taken off (tweets_view.uninstall)."""
import re
import shutil
import sqlite3
import urllib.parse

import datasette
import pytest
from datasette.app import Datasette

from datasette_tei.serve import tweets_view
from datasette_tei.build.synthetic import generate_tweets, tweets_csv_text
from helpers import run_build

DATASETTE_1 = not datasette.__version__.startswith("0.")

TEXTS = [
    "中华人民共和国政府今天在香港发表声明",
    "共和，和国",
    "東京オリンピックは延期された",
    "Выборы в России прошли",
    "Vote in the election! #Election2020 elections, reelection",
    "in the news: election day",
    "中国 news, 香港 election",
]
# Single words (common and rare), a phrase, two words, a prefix, CJK and
# Cyrillic words, and a search nothing matches.
SEARCHES = ["election", "news", '"in the"', "election news", "elect*", "香港", "共和国",
            "人民", "выборы", "patriot_voice_4321", "zzqxv"]
# Raw mode: FTS5's own syntax, including an expression it rejects.
RAW = ["election OR news", "NEAR(election news)", "香港", "election AND"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tweets_view")
    big = list(generate_tweets(260, "2020", n_users=15, seed=5))
    for row, text in zip(big[::9], TEXTS * 5):
        row["tweet_text"] = text
    small = list(generate_tweets(90, "2020", n_users=6, seed=6, first_id=9 * 10**17))
    for row, text in zip(small[::11], TEXTS):
        row["tweet_text"] = text
    paths = []
    for name, rows in (("alpha", big), ("beta", small)):
        path = folder / f"{name}_tweets_csv_hashed.csv"
        path.write_text(tweets_csv_text(rows, "2020"), encoding="utf-8")
        paths.append(path)
    path = str(folder / "tv.db")
    assert run_build(path, *paths).exit_code == 0
    return path


async def started(*paths, **kwargs):
    ds = Datasette(list(paths), settings={"trace_debug": True}, **kwargs)
    await ds.invoke_startup()
    await ds.client.get("/tv/tweets.json?_size=1")  # opens a connection: install()
    return ds


def with_count(path):
    # 1.0 counts a table view in JSON only when asked.
    return path + ("&_extra=count" if DATASETTE_1 else "")


async def pages(ds, path):
    """Every page of a JSON table view, following `next`: (status, rows,
    count) of each."""
    out = []
    while path and len(out) < 100:
        response = await ds.client.get(with_count(path))
        if response.status_code != 200:
            return out + [(response.status_code, response.text)]
        data = response.json()
        count = data.get("count") if DATASETTE_1 else data.get("filtered_table_rows_count")
        out.append((200, data["rows"], count, data.get("next")))
        nxt = data.get("next")
        path = f"{path.split('&_next=')[0]}&_next={urllib.parse.quote(str(nxt))}" if nxt else None
    return out


async def page_text(ds, path):
    """An HTML page, less the time its queries took."""
    return re.sub(r"took [0-9.]+ ?ms", "took", (await ds.client.get(path)).text)


async def compare(ds, paths):
    """Each path's answers with the replacement, then without it."""
    db = ds.get_database("tv")
    assert "execute" in vars(db)  # installed
    ours = [await pages(ds, p) if ".json" in p else await page_text(ds, p) for p in paths]
    tweets_view.uninstall(db)
    try:
        theirs = [await pages(ds, p) if ".json" in p else await page_text(ds, p) for p in paths]
    finally:
        tweets_view.install(db)
    for path, mine, datasettes in zip(paths, ours, theirs):
        assert mine == datasettes, path
    return ours


def q(value):
    return urllib.parse.quote(value, safe="")


@pytest.mark.asyncio
@pytest.mark.parametrize("search", SEARCHES)
async def test_the_same_pages_rows_order_and_count_as_datasette(db, search):
    ds = await started(db)
    paths = [f"/tv/tweets.json?_search={q(search)}&_size=7",
             f"/tv/tweets.json?_search={q(search)}&_size=7&_sort_desc=tweetid",
             f"/tv/tweets.json?_search_tweet_text={q(search)}&_size=7",
             f"/tv/tweets.json?_search={q(search)}&_size=7&_col=tweet_text",
             f"/tv/tweets?_search={q(search)}&_size=7",
             f"/tv/tweets?_search={q(search)}"]
    ours = await compare(ds, paths)
    assert all(answer[0][0] == 200 for answer in ours if isinstance(answer, list))
    if search in ("election", "news", "香港"):
        walked = ours[0]
        assert len(walked) > 2  # several pages, each followed
        rows = [row for page in walked for row in page[1]]
        assert len(rows) == walked[0][2]  # the count is every match, counted exactly
        if DATASETTE_1:
            assert walked[0][2] < 10_001


@pytest.mark.asyncio
@pytest.mark.parametrize("search", RAW)
async def test_raw_searches_as_datasette(db, search):
    ds = await started(db)
    ours = await compare(ds, [f"/tv/tweets.json?_search={q(search)}&_searchmode=raw&_size=5",
                              f"/tv/tweets?_search={q(search)}&_searchmode=raw&_size=5"])
    assert (ours[0][0][0] == 200) == (search != "election AND")


@pytest.mark.asyncio
async def test_a_campaigns_count_is_the_builds_figure(db):
    ds = await started(db)
    for campaign in ("alpha", "beta", "no-such"):
        await compare(ds, [f"/tv/tweets.json?campaign={campaign}&_size=50",
                           f"/tv/tweets?campaign={campaign}"])
    page = (await pages(ds, "/tv/tweets.json?campaign=beta&_size=50"))
    assert page[0][2] == 90 and sum(len(p[1]) for p in page) == 90


async def statements(ds, path):
    """The SQL Datasette ran for a JSON page (trace_debug)."""
    response = await ds.client.get(with_count(path) + "&_trace=1")
    return [t["sql"] for t in response.json()["_trace"]["traces"] if t.get("type") == "sql"]


@pytest.mark.asyncio
async def test_the_index_answers_and_datasettes_own_statement_otherwise(db):
    ds = await started(db)
    ran = " ".join(await statements(ds, "/tv/tweets.json?_search=election&_size=7"))
    assert "order by rowid limit 8)" in ran
    assert "select count(*) from (select rowid from tweets_fts" in ran
    assert "tei_facet_counts" in " ".join(await statements(ds, "/tv/tweets.json?campaign=alpha"))
    assert "select count(*) from tweets" not in " ".join(
        await statements(ds, "/tv/tweets.json?campaign=alpha"))
    # Another filter beside the search: Datasette's own statement.
    ran = " ".join(await statements(ds, "/tv/tweets.json?_search=election&campaign=alpha"))
    assert "order by rowid" not in ran and "rowid in (select rowid from tweets_fts where" in ran
    assert "count(*) from (select rowid" not in ran


@pytest.mark.asyncio
async def test_a_database_whose_index_does_not_match_its_rows_is_read_as_datasette_reads_it(db, tmp_path):
    """A tweet deleted outside the build (its index entry left) from a
    database served immutable: the index counts it, so the plugin's
    statements are not used."""
    path = str(tmp_path / "tv.db")
    shutil.copy(db, path)
    conn = sqlite3.connect(path)
    gone = conn.execute("SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH 'election' LIMIT 1").fetchone()[0]
    conn.execute("DELETE FROM tweets WHERE tweetid = ?", (gone,))
    conn.commit()
    assert not tweets_view.current(conn, conn.execute("SELECT count(*) FROM tweets").fetchone()[0])
    conn.close()
    ds = await started(immutables=[path])
    ran = " ".join(await statements(ds, "/tv/tweets.json?_search=election"))
    assert "order by rowid" not in ran and "tweets_fts match escape_fts(:search))" in ran
    walked = await compare(ds, ["/tv/tweets.json?_search=election&_size=7"])
    ids = {row["tweetid"] if isinstance(row, dict) else row[0] for page in walked[0] for row in page[1]}
    assert ids and gone not in ids


def test_current_on_the_built_database(db):
    conn = sqlite3.connect(db)
    assert tweets_view.current(conn)
    assert tweets_view.index_rows(conn) == conn.execute("SELECT count(*) FROM tweets").fetchone()[0] == 350


@pytest.mark.parametrize("sql", [
    "select count(*) from tweets where rowid in (select rowid from tweets_fts where tweets_fts "
    "match escape_fts(:search)) and campaign = :p0",
    "select * from tweets where rowid in (select rowid from tweets_fts where tweets_fts "
    "match escape_fts(:search)) order by tweet_time limit 101",
    "select * from tweets where rowid in (select rowid from tweets_fts where tweets_fts "
    "match escape_fts(:search)) order by tweetid limit 101 offset 5",
    "select (select 1) from tweets where rowid in (select rowid from tweets_fts where tweets_fts "
    "match escape_fts(:search)) order by tweetid limit 101",
    "select count(*) from users where \"campaign\" = :p0",
    "delete from tweets",
])
def test_other_statements_are_left_alone(sql):
    assert tweets_view.replacement(sql, {"search": "x", "p0": "y"}) is None


def test_next_must_be_a_whole_number():
    sql = ("select tweetid from tweets where rowid in (select rowid from tweets_fts where tweets_fts "
           "match escape_fts(:search)) and ((tweetid > :p1)) order by tweetid limit 101")
    assert tweets_view.replacement(sql, {"search": "x", "p1": "12"})
    for bad in ("1e3", "12.5", "abc", str(2**63), ""):
        assert tweets_view.replacement(sql, {"search": "x", "p1": bad}) is None


@pytest.mark.asyncio
async def test_a_private_database_search_is_datasettes_refusal(db, tmp_path):
    config = {"databases": {"tv": {"allow": {"id": "alice"}}}}
    ds = Datasette([db], **({"config": config} if DATASETTE_1 else {"metadata": config}))
    await ds.invoke_startup()
    for path in ("/tv/tweets.json?_search=election", "/tv/tweets?_search=election",
                 "/tv/tweets.json?campaign=alpha"):
        assert (await ds.client.get(path)).status_code == 403
    cookies = {"ds_actor": ds.sign({"a": {"id": "alice"}}, "actor")}
    response = await ds.client.get("/tv/tweets.json?_search=election&_shape=array", cookies=cookies)
    assert response.status_code == 200 and response.json()
