"""The .graphml and .gexf output renderers, through Datasette itself on both
Datasette lines. Files written by networkx are read back by other code:
GraphML by igraph, GEXF by xml.etree, and checked against the tables read
directly: nodes, edges, weights, node attributes from `users` and groups,
hostile text, permissions."""
import collections
import pathlib
import sqlite3
import urllib.parse
import xml.etree.ElementTree as ET

import igraph
import pytest
import pytest_asyncio
from datasette.app import Datasette

from coordination_fixture import HOSTILE_NAME, HOSTILE_TEXT, add_coordination, copy_demo
from datasette_tei.serve import exports, queries

DATASETTE_1 = hasattr(Datasette, "add_query")
GEXF = "{http://www.gexf.net/1.2draft}"


def make(files, settings=None):
    settings = settings or {}
    return Datasette(list(files), **({"config": settings} if DATASETTE_1 else {"metadata": settings}))


@pytest.fixture(scope="module")
def coord_db(demo_db, tmp_path_factory):
    return add_coordination(copy_demo(demo_db, tmp_path_factory.mktemp("coord") / "coord.db"))


@pytest_asyncio.fixture
async def ds(coord_db):
    ds = make([coord_db])
    await ds.invoke_startup()
    return ds


def rows(path, sql, params=()):
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, params)]
    finally:
        conn.close()


async def fetch(ds, path, status=200, **kwargs):
    response = await ds.client.get(path, **kwargs)
    assert response.status_code == status, (path, response.text[:500])
    return response


def read_graphml(body, tmp_path):
    path = tmp_path / "network.graphml"
    path.write_bytes(body)
    return igraph.Graph.Read_GraphML(str(path))


def read_gexf(body):
    """(nodes {id: {label, attributes}}, edges [(source, target, weight, attributes)])."""
    root = ET.fromstring(body)
    graph = root.find(f"{GEXF}graph")
    titles = {}
    for block in graph.findall(f"{GEXF}attributes"):
        for attribute in block.findall(f"{GEXF}attribute"):
            titles[(block.get("class"), attribute.get("id"))] = attribute.get("title")

    def values(element, cls):
        found = element.find(f"{GEXF}attvalues")
        return {} if found is None else {
            titles[(cls, v.get("for"))]: v.get("value") for v in found.findall(f"{GEXF}attvalue")}

    nodes = {n.get("id"): dict(values(n, "node"), label=n.get("label"))
             for n in graph.find(f"{GEXF}nodes").findall(f"{GEXF}node")}
    edges = [(e.get("source"), e.get("target"), float(e.get("weight")), values(e, "edge"))
             for e in graph.find(f"{GEXF}edges").findall(f"{GEXF}edge")]
    return nodes, edges


def users_by_id(path):
    found = {}
    for user in rows(path, "SELECT * FROM users ORDER BY userid, campaign"):
        found.setdefault(user["userid"], user)
    return found


def cleaned(text):
    return exports.clean(text)


@pytest.mark.asyncio
async def test_graphml_of_an_edge_table_read_back_by_igraph(ds, coord_db, tmp_path):
    response = await fetch(ds, "/coord/coordination_edges.graphml?run_id=2&_size=max")
    assert response.headers["content-type"].startswith("application/graphml+xml")
    graph = read_graphml(response.content, tmp_path)
    edges = rows(coord_db, "SELECT * FROM coordination_edges WHERE run_id = 2")
    assert graph.is_directed()
    ids = graph.vs["id"]
    got = {(ids[e.source], ids[e.target]): e for e in graph.es}
    assert set(got) == {(e["userid_a"], e["userid_b"]) for e in edges}
    users = users_by_id(coord_db)
    groups = {g["userid"]: g["group_id"] for g in rows(
        coord_db, "SELECT * FROM coordination_groups WHERE run_id = 2")}
    for edge in edges:
        found = got[(edge["userid_a"], edge["userid_b"])]
        assert found["weight"] == edge["weight"]
        assert found["weight_reverse"] == edge["weight_reverse"]
        assert found["campaign_a"] == edge["campaign_a"]
        assert found["symmetry"] == pytest.approx(edge["symmetry"])
    for vertex in graph.vs:
        user = users[vertex["id"]]
        assert vertex["screen_name"] == cleaned(user["user_screen_name"])
        assert vertex["campaign"] == user["campaign"]
        assert vertex["followers"] == user["follower_count"]
        assert vertex["account_creation_date"] == user["account_creation_date"]
        assert vertex["group"] == groups[vertex["id"]]


@pytest.mark.asyncio
async def test_gexf_of_evidence_rows_weighs_each_pair_by_its_rows(ds, coord_db):
    hostile = rows(coord_db, "SELECT userid FROM users WHERE user_screen_name = ?",
                   (HOSTILE_NAME,))[0]["userid"]
    path = "/coord/coordination_evidence.gexf?" + urllib.parse.urlencode(
        {"run_id": 1, "userid_a": hostile, "_size": "max"})
    nodes, edges = read_gexf((await fetch(ds, path)).content)
    evidence = rows(coord_db, "SELECT * FROM coordination_evidence WHERE run_id = 1 AND userid_a = ?",
                    (hostile,))
    per_pair = collections.Counter((e["userid_a"], e["userid_b"]) for e in evidence)
    assert {(s, t): w for s, t, w, _ in edges} == per_pair
    weights = {(e["userid_a"], e["userid_b"]): e["weight"] for e in rows(
        coord_db, "SELECT * FROM coordination_edges WHERE run_id = 1 AND userid_a = ?", (hostile,))}
    assert per_pair == weights  # the schema's guarantee, seen through the export
    assert set(nodes) == {u for pair in per_pair for u in pair}
    users = users_by_id(coord_db)
    for userid, node in nodes.items():
        assert node["label"] == node["screen_name"] == cleaned(users[userid]["user_screen_name"])
        assert node["followers"] == str(users[userid]["follower_count"])
    # The hostile name arrives whole, its one XML-invalid character replaced.
    assert nodes[hostile]["label"] == HOSTILE_NAME.replace("\x01", "\ufffd")


@pytest.mark.asyncio
async def test_query_with_source_target_and_hostile_text(ds, coord_db, tmp_path):
    # Control characters XML 1.0 forbids, and markup, in an edge attribute.
    sql = ("SELECT userid_a AS source, userid_b AS target, weight, "
           "'<b>' || char(0) || char(1) || char(11) || ']]>' || kind AS note, NULL AS empty "
           "FROM coordination_edges WHERE run_id = 2 ORDER BY userid_a, userid_b")
    for fmt in ("graphml", "gexf"):
        body = (await fetch(ds, f"/coord.{fmt}?" + urllib.parse.urlencode({"sql": sql}),
                            follow_redirects=True)).content
        ET.fromstring(body)  # well-formed
        if fmt == "graphml":
            graph = read_graphml(body, tmp_path)
            notes = set(graph.es["note"])
            weights = sorted(graph.es["weight"])
        else:
            _, edges = read_gexf(body)
            notes = {attributes["note"] for _, _, _, attributes in edges}
            weights = sorted(w for _, _, w, _ in edges)
        assert notes == {"<b>\ufffd\ufffd\ufffd]]>co_tweet"}
        assert weights == sorted(r["weight"] for r in rows(
            coord_db, "SELECT weight FROM coordination_edges WHERE run_id = 2"))
    # The evidence query's rows (tweet texts with control characters) export too.
    edge = rows(coord_db, "SELECT * FROM coordination_edges WHERE run_id = 1 ORDER BY weight DESC, "
                          "userid_a LIMIT 1")[0]
    path = f"/coord/{queries.EVIDENCE_QUERY}.gexf?" + urllib.parse.urlencode(
        {"userid_a": edge["userid_a"], "userid_b": edge["userid_b"], "run_id": 1})
    nodes, edges = read_gexf((await fetch(ds, path)).content)
    assert {(s, t): w for s, t, w, _ in edges}[(edge["userid_a"], edge["userid_b"])] == edge["weight"]
    texts = {a.get("text_a") for _, _, _, a in edges} | {a.get("text_b") for _, _, _, a in edges}
    assert cleaned(HOSTILE_TEXT) in texts


@pytest.mark.asyncio
async def test_offered_only_for_rows_that_are_edges(ds):
    edges_page = (await fetch(ds, "/coord/coordination_edges")).text
    assert "coordination_edges.graphml" in edges_page and "coordination_edges.gexf" in edges_page
    tweets_page = (await fetch(ds, "/coord/tweets")).text
    assert ".graphml" not in tweets_page
    refused = await fetch(ds, "/coord/tweets.graphml", status=400)
    assert "userid_a" in refused.text and "source" in refused.text


@pytest.mark.asyncio
async def test_empty_rows_make_an_empty_valid_file(ds, tmp_path):
    body = (await fetch(ds, "/coord/coordination_edges.graphml?run_id=3")).content
    graph = read_graphml(body, tmp_path)
    assert graph.vcount() == 0 and graph.ecount() == 0
    nodes, edges = read_gexf((await fetch(ds, "/coord/coordination_edges.gexf?run_id=3")).content)
    assert nodes == {} and edges == []


@pytest.mark.asyncio
async def test_user_attributes_only_for_who_may_view_users(coord_db):
    closed_users = {"databases": {"coord": {"tables": {"users": {"allow": {"id": "root"}}}}}}
    ds = make([coord_db], closed_users)
    await ds.invoke_startup()
    path = "/coord/coordination_edges.gexf?run_id=2&_size=max"
    nodes, edges = read_gexf((await fetch(ds, path)).content)
    assert edges and all("screen_name" not in n and "campaign" not in n for n in nodes.values())
    assert all(n.get("group") for n in nodes.values())  # groups are not in users
    root = {"ds_actor": ds.sign({"a": {"id": "root"}}, "actor")}
    nodes, _ = read_gexf((await fetch(ds, path, cookies=root)).content)
    assert all(n.get("screen_name") for n in nodes.values())
    # A database the actor may not see exports nothing.
    private = make([coord_db], {"databases": {"coord": {"allow": {"id": "root"}}}})
    await private.invoke_startup()
    response = await private.client.get(path)
    assert response.status_code in (403, 404) and b"<gexf" not in response.content
