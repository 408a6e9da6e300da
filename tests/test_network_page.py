"""The network page (/-/tei/<campaign>/network and .json) and the
coordination_evidence_pair canned query, through Datasette itself on both
Datasette lines: every figure against the rows its link opens, the edges and
groups against the tables read directly, the drawing, escaping of hostile
names, permissions, and a database without coordination tables. The last
test draws the page in Debian's chromium and saves a screenshot."""
import html
import json
import pathlib
import re
import sqlite3
import urllib.parse

import pytest
import pytest_asyncio
from datasette.app import Datasette

from coordination_fixture import HOSTILE_NAME, add_coordination, copy_demo, without_coordination
from datasette_tei.serve import network_page, queries

DATASETTE_1 = hasattr(Datasette, "add_query")
ROOT = pathlib.Path(__file__).resolve().parent.parent
CAMPAIGN = "synthetic_201810"


def make(files, allow=None, database_allow=None):
    """A Datasette; `allow` closes the instance, `database_allow` the database."""
    settings = {}
    if allow is not None:
        settings["allow"] = allow
    if database_allow is not None:
        settings["databases"] = {pathlib.Path(files[0]).stem: {"allow": database_allow}}
    return Datasette(list(files), **({"config": settings} if DATASETTE_1 else {"metadata": settings}))


async def started(ds):
    await ds.invoke_startup()
    return ds


@pytest.fixture(scope="module")
def plain_db(demo_db, tmp_path_factory):
    """Served under the demo's name, without the coordination tables."""
    return without_coordination(demo_db, tmp_path_factory.mktemp("plain") / "demo.db")


@pytest.fixture(scope="module")
def coord_db(demo_db, tmp_path_factory):
    path = copy_demo(demo_db, tmp_path_factory.mktemp("coord") / "coord.db")
    return add_coordination(path)


@pytest_asyncio.fixture
async def ds(coord_db):
    return await started(make([coord_db]))


def rows(path, sql, params=()):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


def local(url, fmt=""):
    parsed = urllib.parse.urlsplit(html.unescape(url))
    return parsed.path + fmt + ("?" + parsed.query if parsed.query else "")


async def get(ds, path, status=200, **kwargs):
    response = await ds.client.get(path, **kwargs)
    assert response.status_code == status, (path, response.text[:500])
    return response


async def count_rows(ds, url):
    """The rows a table or query link opens, all of them (under 1,000 here)."""
    path = local(url, ".json")
    path += ("&" if "?" in path else "?") + "_shape=array&_size=max"
    found = (await get(ds, path)).json()
    assert len(found) < 1000, "the count would be truncated"
    return len(found)


async def network(ds, campaign=CAMPAIGN, query=""):
    return (await get(ds, f"/-/tei/{campaign}/network.json{query}")).json()


def expected_pairs(path, run_id, campaign):
    """The pairs touching the campaign, each once, strongest first (an oracle
    in Python over the whole edge table)."""
    edges = rows(path, "SELECT * FROM coordination_edges WHERE run_id = ?", (run_id,))
    stored = {(e["userid_a"], e["userid_b"]): e for e in edges}
    pairs = {}
    for (a, b), e in stored.items():
        if campaign not in (e["campaign_a"], e["campaign_b"]):
            continue
        key = frozenset((a, b))
        forward, backward = e["weight"], e["weight_reverse"]
        # The direction shown is the stronger one, on a tie the smaller userid
        # first; pairs by that weight, then the other way's.
        if forward > backward or (forward == backward and a < b):
            pairs[key] = (forward + backward, forward, a, b)
    return sorted(pairs.values(), key=lambda p: (-p[1], -(p[0] - p[1]), p[2], p[3]))


# --- The page's data ----------------------------------------------------------

@pytest.mark.asyncio
async def test_runs_edges_and_groups_are_the_tables(ds, coord_db):
    data = await network(ds)
    assert [r["id"] for r in data["runs"]] == [1, 2, 3]  # defaults first, then by kind
    assert data["run"] == 1
    want = expected_pairs(coord_db, 1, CAMPAIGN)
    assert len(want) > network_page.DRAW_EDGES  # so that the bound is tested
    got = [(e["weight"] + e["weight_reverse"], e["weight"], e["userid_a"], e["userid_b"])
           for e in data["edges"]]
    assert got == want[:network_page.DRAW_EDGES]
    drawn = {u for e in data["edges"] for u in (e["userid_a"], e["userid_b"])}
    assert {n["id"] for n in data["drawing"]["nodes"]} == drawn
    groups = {g["userid"]: g["group_id"] for g in rows(
        coord_db, "SELECT userid, group_id FROM coordination_groups WHERE run_id = 1")}
    for node in data["drawing"]["nodes"]:
        assert node["group_id"] == groups[node["id"]]
    colour = {}
    for node in data["drawing"]["nodes"]:  # one colour a group
        assert colour.setdefault(node["group_id"], node["colour"]) == node["colour"]
    summaries = rows(coord_db, "SELECT * FROM coordination_group_summaries WHERE run_id = 1")
    assert [g["group_id"] for g in data["groups"]] == sorted(
        s["group_id"] for s in summaries if CAMPAIGN in json.loads(s["campaigns"]))
    # A run scoped to other campaigns is not listed; one that found nothing is.
    other = await network(ds, "synthetic_201906")
    assert [r["id"] for r in other["runs"]] == [1, 3]
    empty = await network(ds, query="?run=3")
    assert empty["run"] == 3 and empty["edges"] == [] and empty["groups"] == []
    page = (await get(ds, f"/-/tei/{CAMPAIGN}/network?run=3")).text
    assert "This network links none of this campaign" in page
    scoped = await network(ds, query="?run=2")
    assert [(e["weight"] + e["weight_reverse"], e["weight"], e["userid_a"], e["userid_b"])
            for e in scoped["edges"]] == expected_pairs(coord_db, 2, CAMPAIGN)


@pytest.mark.asyncio
async def test_same_answer_without_the_indexes(ds, demo_db, tmp_path):
    bare = add_coordination(copy_demo(demo_db, tmp_path / "coord.db"), indexes=False)
    plain = await started(make([bare]))
    for query in ("", "?run=2"):
        with_indexes, without = await network(ds, query=query), await network(plain, query=query)
        assert without["edges"] == with_indexes["edges"] and without["groups"] == with_indexes["groups"]


@pytest.mark.asyncio
async def test_every_figure_equals_what_its_link_opens(ds):
    page = (await get(ds, f"/-/tei/{CAMPAIGN}/network")).text
    figures = re.findall(r'<a href="([^"]+)">([\d,]+)</a>', page)
    assert len(figures) > network_page.TABLE_EDGES + 10
    for url, figure in figures:
        assert await count_rows(ds, url) == int(figure.replace(",", "")), url
    data = await network(ds)
    run = data["runs"][0]
    assert await count_rows(ds, run["links"]["edges"]) == run["edge_count"]
    assert await count_rows(ds, run["links"]["accounts"]) == run["account_count"]
    assert await count_rows(ds, run["links"]["groups"]) == run["group_count"]
    for edge in data["edges"]:  # every drawn edge, the table shows only the first 50
        assert await count_rows(ds, edge["links"]["evidence"]) == edge["weight"]
        if edge["links"]["evidence_reverse"]:
            assert await count_rows(ds, edge["links"]["evidence_reverse"]) == edge["weight_reverse"]
        else:
            assert edge["weight_reverse"] < run["min_weight"]
    for group in data["groups"]:
        assert await count_rows(ds, group["links"]["members"]) == group["size"]
    for edge in data["edges"][:20]:
        assert await count_rows(ds, edge["links"]["why"]) == edge["evidence_rows"]


@pytest.mark.asyncio
async def test_the_drawing_links_accounts_and_evidence(ds):
    page = (await get(ds, f"/-/tei/{CAMPAIGN}/network")).text
    data = await network(ds)
    svg = page[page.index('<svg class="tei-network"'):]
    svg = svg[:svg.index("</svg>")]
    lines = re.findall(r'<a href="([^"]+)"><line ', svg)
    circles = re.findall(r'<a href="([^"]+)"><circle ', svg)
    assert len(lines) == len(data["edges"]) == network_page.DRAW_EDGES
    assert sorted(html.unescape(u) for u in lines) == sorted(
        e["links"]["evidence"] for e in data["edges"])
    assert sorted(html.unescape(u) for u in circles) == sorted(
        "/-/tei/accounts/" + urllib.parse.quote(n["id"], safe="") for n in data["drawing"]["nodes"])
    # Coordinates inside the picture.
    for x, y in re.findall(r'cx="([\d.-]+)" cy="([\d.-]+)"', svg):
        assert 0 <= float(x) <= 960 and 0 <= float(y) <= 640
    legend = page[page.index('class="tei-legend"'):].split("</ul>")[0]
    anchors = re.findall(r'href="#(group-\d+)"', legend)
    coloured = sorted({n["group_id"] for n in data["drawing"]["nodes"]})[:10]  # the rest: grey
    assert anchors == [f"group-{g}" for g in coloured if g in {x["group_id"] for x in data["groups"]}]
    assert "other groups" in legend
    for anchor in anchors:
        assert f'id="{anchor}"' in page
    # The same network is drawn the same way each time.
    again = (await get(ds, f"/-/tei/{CAMPAIGN}/network")).text
    assert again[again.index('<svg class="tei-network"'):].split("</svg>")[0] == svg


@pytest.mark.asyncio
async def test_hostile_names_are_escaped_in_html_svg_and_json(ds):
    page = (await get(ds, f"/-/tei/{CAMPAIGN}/network")).text
    assert "<script>alert(" not in page  # labels are cut at 20 characters
    assert "<img src=x" not in page
    svg = page[page.index('<svg class="tei-network"'):].split("</svg>")[0]
    assert "&lt;script&gt;alert(" in svg  # the hostile account is drawn, escaped
    assert "&lt;script&gt;alert(" in page.split('id="edges"')[1]
    data = await network(ds)
    assert HOSTILE_NAME in [n["label"] for n in data["drawing"]["nodes"]]


@pytest.mark.asyncio
async def test_campaign_page_links_its_network_only_with_the_tables(ds, plain_db):
    page = (await get(ds, f"/-/tei/{CAMPAIGN}")).text
    assert f'href="/-/tei/{CAMPAIGN}/network"' in page
    assert (await get(ds, f"/-/tei/{CAMPAIGN}.json")).json()["links"]["network"] == \
        f"/-/tei/{CAMPAIGN}/network"
    plain = await started(make([plain_db]))
    assert "/network" not in (await get(plain, f"/-/tei/{CAMPAIGN}")).text
    page = (await get(plain, f"/-/tei/{CAMPAIGN}/network")).text
    assert "No networks computed" in page and "datasette-tei coordinate" in page
    data = (await get(plain, f"/-/tei/{CAMPAIGN}/network.json")).json()
    assert data["runs"] == [] and data["edges"] == [] and "datasette-tei coordinate" in data["message"]


@pytest.mark.asyncio
async def test_unknown_campaign_is_404(ds):
    await get(ds, "/-/tei/no_such_campaign/network", status=404)
    body = (await get(ds, "/-/tei/no_such_campaign/network.json", status=404)).json()
    assert body["status"] == 404


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", ["", ".json"])
async def test_hostile_campaign_names_are_404(ds, fmt):
    from test_hostile import CAMPAIGN_PATHS

    for path in CAMPAIGN_PATHS + ["synthetic_201810%2Fnetwork"]:
        response = await ds.client.get(f"/-/tei/{path}/network{fmt}?run=" + "%27%20OR%201" * 50)
        assert response.status_code == 404, (path[:60], response.status_code, response.text[:300])
        assert "Traceback" not in response.text
        if fmt == ".json":
            assert response.json()["ok"] is False
        else:
            assert "<script>alert(1)" not in response.text
    # A hostile run id is only compared: the page shows the default run.
    response = await ds.client.get(f"/-/tei/{CAMPAIGN}/network.json?run=1%20OR%201%3D1")
    assert response.status_code == 200 and response.json()["run"] == 1


@pytest.mark.asyncio
async def test_private_database_is_404_and_private_instance_403(coord_db):
    closed = await started(make([coord_db], database_allow={"id": "root"}))
    await get(closed, f"/-/tei/{CAMPAIGN}/network", status=404)
    await get(closed, f"/-/tei/{CAMPAIGN}/network.json", status=404)
    root = {"ds_actor": closed.sign({"a": {"id": "root"}}, "actor")}
    data = (await get(closed, f"/-/tei/{CAMPAIGN}/network.json", cookies=root)).json()
    assert data["edges"]
    # The coordination tables closed, the rest open: the page says so, shows nothing.
    settings = {"databases": {"coord": {"tables": {"coordination_evidence": {"allow": {"id": "root"}}}}}}
    hidden = await started(Datasette([coord_db], **(
        {"config": settings} if DATASETTE_1 else {"metadata": settings})))
    data = (await get(hidden, f"/-/tei/{CAMPAIGN}/network.json")).json()
    assert data["edges"] == [] and data["runs"] == [] and "not open to you" in data["message"]
    private = await started(make([coord_db], allow={"id": "root"}))
    await get(private, f"/-/tei/{CAMPAIGN}/network", status=403)
    await get(private, f"/-/tei/{CAMPAIGN}/network.json", status=403)
    root = {"ds_actor": private.sign({"a": {"id": "root"}}, "actor")}
    await get(private, f"/-/tei/{CAMPAIGN}/network", cookies=root)


# --- The canned query ------------------------------------------------------------

@pytest.mark.asyncio
async def test_evidence_query_shows_both_directions_with_the_tweets(ds, coord_db):
    edge = rows(coord_db, "SELECT * FROM coordination_edges WHERE run_id = 1 AND weight_reverse >= 2 "
                          "ORDER BY weight DESC, userid_a LIMIT 1")[0]
    a, b = edge["userid_a"], edge["userid_b"]
    path = f"/coord/{queries.EVIDENCE_QUERY}.json?" + urllib.parse.urlencode(
        {"userid_a": a, "userid_b": b, "run_id": 1, "_shape": "array"})
    found = (await get(ds, path)).json()
    assert len(found) == edge["weight"] + edge["weight_reverse"]
    assert {r["direction"] for r in found} == {"A→B", "B→A"}
    evidence = {(r["userid_a"], r["tweetid_a"]): r for r in rows(
        coord_db, "SELECT * FROM coordination_evidence WHERE run_id = 1 AND "
                  "((userid_a = ? AND userid_b = ?) OR (userid_a = ? AND userid_b = ?))", (a, b, b, a))}
    texts = {str(r["tweetid"]): r for r in rows(coord_db, "SELECT tweetid, tweet_text, tweet_time FROM tweets")}
    for row in found:
        stored = evidence[(row["userid_a"], int(row["tweetid_a"]))]
        assert int(row["tweetid_b"]) == stored["tweetid_b"]
        assert (row["object"], row["minutes_apart"]) == (stored["object"], stored["minutes_apart"])
        assert (row["text_a"], row["time_a"]) == (texts[row["tweetid_a"]]["tweet_text"],
                                                  texts[row["tweetid_a"]]["tweet_time"])
        assert row["text_b"] == texts[row["tweetid_b"]]["tweet_text"]
    # Every run when none is named; the same pair asked the other way round.
    every = (await get(ds, path.replace("run_id=1", "run_id="))).json()
    assert len(every) == len(rows(
        coord_db, "SELECT 1 FROM coordination_evidence WHERE (userid_a = ? AND userid_b = ?) "
                  "OR (userid_a = ? AND userid_b = ?)", (a, b, b, a)))
    swapped = (await get(ds, f"/coord/{queries.EVIDENCE_QUERY}.json?" + urllib.parse.urlencode(
        {"userid_a": b, "userid_b": a, "run_id": 1, "_shape": "array"}))).json()
    assert len(swapped) == len(found)
    # Hostile tweet text is escaped on the query's HTML page.
    hostile = rows(coord_db, "SELECT userid FROM users WHERE user_screen_name = ?", (HOSTILE_NAME,))[0]
    other = rows(coord_db, "SELECT userid_b FROM coordination_edges WHERE run_id = 1 AND userid_a = ? "
                           "LIMIT 1", (hostile["userid"],))[0]["userid_b"]
    page = (await get(ds, f"/coord/{queries.EVIDENCE_QUERY}?" + urllib.parse.urlencode(
        {"userid_a": hostile["userid"], "userid_b": other}))).text
    assert "&lt;svg onload=alert(2)&gt;" in page and "<svg onload" not in page


@pytest.mark.asyncio
async def test_evidence_query_only_where_the_tables_exist(plain_db, ds):
    plain = await started(make([plain_db]))
    await get(plain, f"/demo/{queries.EVIDENCE_QUERY}.json?userid_a=x&userid_b=y", status=404)
    # With the tables, it does not hide the evidence table either.
    assert (await get(ds, "/coord/coordination_evidence.json?_shape=array&run_id=1&_size=5")).json()[0][
        "tweetid_a"]


# --- In a browser ----------------------------------------------------------------

def test_network_page_in_chromium(coord_db):
    """The page in Debian's chromium, through a real `datasette serve`: no
    request leaves the machine, no script from the data runs, the drawing is
    visible; the screenshot goes to test-output/network.png."""
    import subprocess
    import sys
    import time
    import urllib.request

    from test_browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT  # skips without chromium
    from helpers import free_port
    from playwright.sync_api import sync_playwright

    port = free_port()
    process = subprocess.Popen(
        [str(pathlib.Path(sys.executable).parent / "datasette"), "serve", "-i", coord_db,
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(process.stdout.read().decode())
                time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            dialogs, foreign = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:")
                    else foreign.append(r.url))
            page.goto(f"{base}/-/tei/{CAMPAIGN}/network")
            drawing = page.locator("svg.tei-network")
            box = drawing.bounding_box()
            assert box["width"] > 600 and box["height"] > 350
            assert page.locator("svg.tei-network circle").count() > 20
            OUTPUT.mkdir(exist_ok=True)
            drawing.screenshot(path=str(OUTPUT / "network.png"))
            page.screenshot(path=str(OUTPUT / "network-page.png"), full_page=True)
            # Following a line opens its evidence.
            href = page.locator("svg.tei-network a").first.get_attribute("href")
            page.goto(base + href)
            assert "coordination_evidence" in page.url
            browser.close()
        assert dialogs == [] and foreign == []
    finally:
        process.terminate()
        process.wait(10)
