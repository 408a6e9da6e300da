"""The search functions hold Datasette's time limit: they exist on TEI
databases only, each call's work is capped (search.MAX_*), and so any
`?sql=` that calls them with a huge argument ends within sql_time_limit_ms
and a small margin while other requests are answered. The caps change no
result on realistic tweets and searches."""
import sqlite3
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from datasette.app import Datasette

from datasette_tei import search
from helpers import load_benchmark, query, run_build

LIMIT_MS = 200
# Beyond the limit: SQLite builds the 30 MB argument below in one step that
# nothing interrupts (about 0.2 s here, Datasette's own functions), then a
# call of ours (under 20 ms), on a machine that runs other work too.
MARGIN = 1.5
QUICK = 1.0  # a plain request answered meanwhile

# 30 MB of "a a a ...": one word matched 15 million times, or a search of
# 15 million words. SQLite computes it once (a constant expression).
HUGE = "replace(hex(zeroblob(15000000)), '00', 'a ')"
MANY = " ".join(f"a{'a' * i}*" for i in range(search.MAX_PARTS))  # every part matches
ATTACKS = {
    "tei_rank text": f"tei_rank({HUGE}, '{MANY}')",
    "tei_rank search": f"tei_rank('a', {HUGE})",
    "tei_snippet text": f"tei_snippet(replace({HUGE}, 'a', 'b'), '{MANY}')",
    "tei_snippet search": f"tei_snippet('a', {HUGE})",
    "tei_search_expression": f"tei_search_expression({HUGE})",
    "escape_fts": f"escape_fts({HUGE})",
}
# Many calls, so that the query outlasts the limit unless interrupted.
ROWS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 1000000) "


def timed_get(url, timeout=60):
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, body, time.monotonic() - started


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("limit") / "tei.db")
    assert run_build(db, "--demo").exit_code == 0
    Server = load_benchmark().Server
    with Server(db, extra=("--setting", "sql_time_limit_ms", str(LIMIT_MS))) as running:
        yield running


@pytest.mark.parametrize("name", ATTACKS)
def test_a_huge_argument_ends_within_the_time_limit(server, name):
    sql = ROWS + f"SELECT count({ATTACKS[name]}) FROM n"
    url = server.base + "/tei.json?" + urllib.parse.urlencode({"sql": sql})
    # SQLite makes the 30 MB argument in one step nothing interrupts: its
    # time, on this machine under its present load, is allowed on top.
    _, _, making = timed_get(server.base + "/tei.json?" + urllib.parse.urlencode(
        {"sql": f"SELECT length({HUGE})"}))
    attack = {}
    thread = threading.Thread(target=lambda: attack.update(zip(("status", "body", "seconds"),
                                                               timed_get(url))))
    thread.start()
    time.sleep(0.1)
    status, _, plain = timed_get(server.base + "/tei/campaigns.json?_shape=array")
    thread.join()
    print(f"{name}: {attack['status']} in {attack['seconds']:.2f} s (the argument alone {making:.2f} s); "
          f"a plain request meanwhile {plain:.2f} s")
    assert status == 200
    assert attack["status"] in (200, 400), attack["body"][:300]
    assert attack["seconds"] < LIMIT_MS / 1000 + MARGIN + 2 * making, (name, attack["seconds"], making)
    assert plain < QUICK, (name, plain)


def test_tei_index_text_is_the_builds_only(server):
    url = server.base + "/tei.json?" + urllib.parse.urlencode({"sql": "SELECT tei_index_text('中华')"})
    status, body, _ = timed_get(url)
    assert status == 400 and b"no such function" in body


@pytest.mark.asyncio
async def test_the_functions_are_on_tei_databases_only(demo_db, tmp_path):
    other = str(tmp_path / "other.db")
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    ds = Datasette([demo_db, other])
    for name, call in (("tei_rank", "tei_rank('a b', 'a')"), ("tei_snippet", "tei_snippet('a b', 'a')"),
                       ("tei_search_expression", "tei_search_expression('a')")):
        sql = urllib.parse.urlencode({"sql": f"SELECT {call} AS v", "_shape": "array"})
        response = await ds.client.get(f"/demo.json?{sql}", follow_redirects=True)
        assert response.status_code == 200 and response.json()[0]["v"] is not None, name
        response = await ds.client.get(f"/other.json?{sql}", follow_redirects=True)
        assert response.status_code == 400 and "no such function" in response.text, name


# --- The caps ---------------------------------------------------------------------

def uncapped(monkeypatch):
    for cap in ("MAX_SEARCH", "MAX_PARTS", "MAX_TEXT"):
        monkeypatch.setattr(search, cap, 10**9)
    search._patterns.cache_clear()


def test_the_caps_change_nothing_on_realistic_input(demo_db, monkeypatch):
    texts = [row[0] for row in query(demo_db, "SELECT tweet_text FROM tweets")]
    texts.append(" ".join(texts)[:5000])  # a long text, within a few thousand characters
    searches = ["election", "香港 news", '"freedom people" elect*', "Выборы", "الحكومة",
                " ".join(f"word{i}" for i in range(search.MAX_PARTS)), "x" * 200]

    def answers():
        search._patterns.cache_clear()
        return [(search.search_expression(q), [(search.rank(t, q), search.snippet(t, q)) for t in texts])
                for q in searches]

    capped = answers()
    uncapped(monkeypatch)
    assert answers() == capped


def test_beyond_a_cap_the_rest_is_ignored():
    text = "election " * 2000
    assert search.rank(text, "election") == search.rank(text[:search.MAX_TEXT], "election")
    assert search.rank("x " * search.MAX_TEXT + "election", "election") == 0
    words = " ".join(f"w{i}" for i in range(search.MAX_PARTS + 5))
    assert len(search.phrases(words)) == search.MAX_PARTS
    long_search = "a " * search.MAX_SEARCH + "zebra"
    assert "zebra" not in search.search_expression(long_search)
    assert search.rank(None, "a") == 0 and search.rank(12, "12") < 0 and search.rank(b"a", "a") == 0
    assert search.snippet(b"a", "a") == ""


@pytest.mark.parametrize("text, q", [
    ("a " * 5_000_000, "a"),
    ("a " * 5_000_000, MANY),
    ("b " * 5_000_000, MANY),
    ("a", "a " * 5_000_000),
    ("a " * 5_000_000, "a " * 5_000_000),
    ("中华" * 5_000_000, "中华" * 5_000_000),
    ("a." * 5_000_000, ".a" * 5_000_000),
])
def test_each_call_is_bounded(text, q):
    search._patterns.cache_clear()
    for function in (search.rank, search.snippet, lambda t, q: search.search_expression(q)):
        started = time.perf_counter()
        function(text, q)
        assert time.perf_counter() - started < 0.1
