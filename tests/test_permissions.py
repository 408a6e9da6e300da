"""The plugin obeys Datasette's permissions, through Datasette itself, on
0.65 and on the 1.0 alphas: every page and its JSON, the menu link, the
table actions, the links render_cell makes and the canned queries show an
actor only what Datasette would; the owner's own query of the same name
wins with its `allow`; the JSON answers carry Datasette's CORS headers.

Two databases are served together: `public` (one campaign) and `private`
(two others), so that a page leaking the private one shows its names.
"""
import json
import os
import sqlite3
import urllib.parse

import pytest
import pytest_asyncio
from datasette.app import Datasette

from datasette_tei.build import load
from datasette_tei.serve import queries
from datasette_tei.cli import DEMO_DIR

DATASETTE_1 = hasattr(Datasette, "add_query")
ALICE = {"id": "alice"}  # the actor the configurations let in
BOB = {"id": "bob"}  # signed in, but not let in
ACTORS = {"anonymous": None, "bob": BOB, "alice": ALICE}
MENU = "Influence-operation campaigns"  # the menu link's label
ACTION = "Campaign pages"  # the table action's label


@pytest.fixture(scope="module")
def dbs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("permissions")
    hashed = os.path.join(DEMO_DIR, "hashed")
    paths = {"public": str(folder / "public.db"), "private": str(folder / "private.db")}
    assert load.build(paths["public"], [os.path.join(hashed, "2018_10")]).ok
    assert load.build(paths["private"], [os.path.join(hashed, "2019_06"),
                                         os.path.join(hashed, "2020_12")]).ok
    return paths


def campaign_names(path):
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM campaigns ORDER BY name")]
    finally:
        conn.close()


def a_value(path, sql):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


async def serve(dbs, config, **kwargs):
    """Both databases, with `config` where this Datasette reads permissions
    and canned queries: metadata on 0.65, datasette.yaml on 1.0."""
    ds = Datasette([dbs["public"], dbs["private"]],
                   **({"config": config} if DATASETTE_1 else {"metadata": config}), **kwargs)
    await ds.invoke_startup()
    return ds


async def get(ds, path, actor=None):
    cookies = {"ds_actor": ds.sign({"a": actor}, "actor")} if actor else {}
    return await ds.client.get(path, cookies=cookies, follow_redirects=True)


def quoted(name, fmt=""):
    return "/-/tei/" + urllib.parse.quote(name, safe="") + fmt


async def assert_sees(ds, actor, visible, hidden):
    """Every plugin route, JSON, menu link and table action shows the
    campaigns of the `visible` databases and nothing of the `hidden` ones."""
    index = await get(ds, "/-/tei.json", actor)
    assert index.status_code == 200
    cards = index.json()["campaigns"]
    assert sorted(c["name"] for c in cards) == sorted(n for names in visible.values() for n in names)
    assert {c["database"] for c in cards} == set(visible)
    page = await get(ds, "/-/tei", actor)
    assert page.status_code == 200
    for database, names in visible.items():
        for name in names:
            assert f'href="{quoted(name)}"' in page.text
            for fmt in ("", ".json"):
                response = await get(ds, quoted(name, fmt), actor)
                assert response.status_code == 200, (actor, name, fmt)
            assert (await get(ds, quoted(name, ".json"), actor)).json()["database"] == database
    for database, names in hidden.items():
        assert f'"/{database}/' not in page.text and f'"/{database}/' not in index.text
        for name in names:
            assert name not in page.text and name not in index.text
            for fmt in ("", ".json"):
                response = await get(ds, quoted(name, fmt), actor)
                assert response.status_code == 404, (actor, name, fmt)
                assert name in response.text  # the message of an unknown campaign
            missing = await get(ds, quoted(name + "-no-such", ".json"), actor)
            assert response.json()["error"] == missing.json()["error"].replace("-no-such", "")
    # The menu link and the table actions, on a page the actor may open.
    for database in sorted(set(visible) | set(hidden)):
        for table in ("tweets", "users"):
            response = await get(ds, f"/{database}/{table}", actor)
            if response.status_code != 200:
                assert database in hidden
                continue
            assert (MENU in response.text) == bool(visible)
            assert (ACTION in response.text) == (database in visible)


# --- A public and a private database served together --------------------------

PRIVATE_DATABASE = {"databases": {"private": {"allow": ALICE}}}


@pytest.mark.asyncio
async def test_a_private_database_is_absent_for_whoever_may_not_see_it(dbs):
    ds = await serve(dbs, PRIVATE_DATABASE)
    public, private = campaign_names(dbs["public"]), campaign_names(dbs["private"])
    for actor in (None, BOB):
        assert (await get(ds, "/private", actor)).status_code == 403  # Datasette's own answer
        await assert_sees(ds, actor, {"public": public}, {"private": private})
    await assert_sees(ds, ALICE, {"public": public, "private": private}, {})
    for name, path in query_paths(dbs, "private").items():
        for actor in (None, BOB):
            assert (await get(ds, path, actor)).status_code == 403, (actor, name)
        assert (await get(ds, path, ALICE)).status_code == 200, name


# --- A private instance ----------------------------------------------------------

@pytest.mark.asyncio
async def test_a_private_instance_answers_403_as_datasette_does(dbs):
    ds = await serve(dbs, {"allow": ALICE})
    names = campaign_names(dbs["public"]) + campaign_names(dbs["private"])
    paths = ["/-/tei", "/-/tei.json"] + [quoted(n, fmt) for n in names for fmt in ("", ".json")]
    for actor in (None, BOB):
        assert (await get(ds, "/", actor)).status_code == 403
        for path in paths:
            response = await get(ds, path, actor)
            assert response.status_code == 403, (actor, path)
            assert not any(name in response.text for name in names)
            assert MENU not in response.text
    await assert_sees(ds, ALICE, {"public": campaign_names(dbs["public"]),
                                  "private": campaign_names(dbs["private"])}, {})
    page = await get(ds, "/public/tweets", ALICE)
    assert MENU in page.text and ACTION in page.text
    for name, path in query_paths(dbs).items():
        for actor in (None, BOB):
            assert (await get(ds, path, actor)).status_code == 403, (actor, name)
        assert (await get(ds, path, ALICE)).status_code == 200, name


@pytest.mark.asyncio
@pytest.mark.skipif(not DATASETTE_1, reason="`permissions:` blocks are Datasette 1.0's")
async def test_permissions_blocks_of_datasette_1(dbs):
    """A `view-database` block does not reach the tables on Datasette 1.0
    (its table pages stay open); the plugin asks for each level."""
    ds = await serve(dbs, {"databases": {"private": {"permissions": {"view-database": ALICE}}}})
    public, private = campaign_names(dbs["public"]), campaign_names(dbs["private"])
    assert (await get(ds, "/private")).status_code == 403
    await assert_sees(ds, None, {"public": public}, {"private": private})
    await assert_sees(ds, ALICE, {"public": public, "private": private}, {})
    ds = await serve(dbs, {"permissions": {"view-instance": ALICE}})
    assert (await get(ds, "/")).status_code == 403
    for path in ("/-/tei", "/-/tei.json", quoted(public[0], ".json")):
        assert (await get(ds, path)).status_code == 403
        assert (await get(ds, path, ALICE)).status_code == 200


# --- A table-level allow on tweets ----------------------------------------------------

def tweets_closed(extra_queries=None):
    database = {"tables": {"tweets": {"allow": ALICE}}}
    if extra_queries:
        database["queries"] = extra_queries
    return {"databases": {"public": database}}


def query_paths(dbs, database="public"):
    """A request for each of the plugin's canned queries that returns rows."""
    campaign = campaign_names(dbs[database])[0]
    userid = a_value(dbs[database], "SELECT userid FROM tweets WHERE userid <> '' LIMIT 1")
    word = a_value(dbs[database], "SELECT tweet_text FROM tweets WHERE tweet_text <> '' LIMIT 1").split()[0]
    params = {"search": {"q": word}, "user_timeline": {"userid": userid},
              "shared_urls_across_campaigns": {}}
    return {name: f"/{database}/{name}.json?" + urllib.parse.urlencode(
        dict(params.get(name, {"campaign": campaign}), _shape="array"))
        for name in queries.NAMES}


async def listed_queries(ds, database, actor):
    if DATASETTE_1:
        data = (await get(ds, f"/{database}/-/queries.json?_size=100", actor)).json()
    else:
        data = (await get(ds, f"/{database}.json", actor)).json()
    return {query["name"] for query in data["queries"]}


@pytest.mark.asyncio
async def test_canned_queries_are_closed_with_the_tables_they_read(dbs):
    # An owner's query of another name too: on 0.65 Datasette then adds the
    # plugin's queries to the owner's dictionary of metadata, where they
    # must not be taken for the owner's.
    ds = await serve(dbs, tweets_closed({"owners": {"sql": "select 1 as one"}}))
    paths = query_paths(dbs)
    for actor in (ALICE, None, BOB, ALICE):
        allowed = actor == ALICE
        assert (await get(ds, "/public/tweets.json", actor)).status_code == (200 if allowed else 403)
        for name, path in paths.items():
            response = await get(ds, path, actor)
            if allowed:
                assert response.status_code == 200, (name, response.text[:300])
                if name in ("search", "user_timeline", "top_hashtags"):
                    assert response.json(), name  # rows: the check is not vacuous
            else:
                assert response.status_code == 403, (actor, name, response.text[:300])
        listed = await listed_queries(ds, "public", actor)
        assert "owners" in listed
        assert (set(queries.NAMES) <= listed) if allowed else not (set(queries.NAMES) & listed)
        # The public database's other tables stay as they were.
        assert (await get(ds, "/public/campaigns.json", actor)).status_code == 200
        assert (await get(ds, "/public/owners.json", actor)).status_code == 200
    # The private database is not concerned: its queries stay open.
    assert (await get(ds, "/private/top_hashtags.json?campaign=x")).status_code == 200


@pytest.mark.asyncio
async def test_a_closed_table_hides_the_campaigns_menu_and_actions(dbs):
    ds = await serve(dbs, tweets_closed())
    private = campaign_names(dbs["private"])
    for actor in (None, BOB):
        await assert_sees(ds, actor, {"private": private}, {"public": campaign_names(dbs["public"])})
    await assert_sees(ds, ALICE, {"public": campaign_names(dbs["public"]), "private": private}, {})


@pytest.mark.asyncio
async def test_render_cell_links_only_to_a_table_the_actor_may_view(dbs):
    """Arbitrary SQL still reads the closed table (Datasette's execute-sql is
    the owner's to close): the cells show, without links that would 403."""
    ds = await serve(dbs, tweets_closed())
    tweetid = a_value(dbs["public"], "SELECT tweetid FROM tweets WHERE hashtags LIKE '[_%' LIMIT 1")
    tag = json.loads(a_value(dbs["public"], f"SELECT hashtags FROM tweets WHERE tweetid = {tweetid}"))[0]
    path = "/public?" + urllib.parse.urlencode(
        {"sql": f"select tweetid, hashtags from tweets where tweetid = {tweetid}"})
    row_link = f'<a href="/public/tweets/{tweetid}">'
    tag_link = "/public/tweets?" + urllib.parse.urlencode({"hashtags__arraycontains": tag})
    for actor in (None, BOB):
        page = (await get(ds, path, actor)).text
        assert str(tweetid) in page and row_link not in page and tag_link not in page
    page = (await get(ds, path, ALICE)).text
    assert row_link in page and tag_link in page
    # A public database gets its links whoever asks.
    ds = await serve(dbs, {})
    page = (await get(ds, path)).text
    assert row_link in page and tag_link in page


# --- The owner's query of the same name -----------------------------------------------

@pytest.mark.asyncio
async def test_the_owners_query_of_the_same_name_wins_with_its_allow(dbs):
    owners = {"search": {"sql": "select 'owner' as who", "allow": ALICE},
              "top_hashtags": {"sql": "select 'owner too' as who"}}
    ds = await serve(dbs, {"databases": {"public": {"queries": owners}}})
    for actor in (None, BOB):
        assert (await get(ds, "/public/search.json?_shape=array", actor)).status_code == 403
    for actor in (None, ALICE):
        response = await get(ds, "/public/top_hashtags.json?_shape=array", actor)
        assert response.json() == [{"who": "owner too"}]
    response = await get(ds, "/public/search.json?_shape=array", ALICE)
    assert response.json() == [{"who": "owner"}]
    # The plugin's stay where the owner defined none.
    rows = (await get(ds, "/private/search.json?_shape=array&q=x")).json()
    assert rows and all("snippet" in row for row in rows)


@pytest.mark.asyncio
@pytest.mark.skipif(not DATASETTE_1, reason="stored queries are Datasette 1.0's")
async def test_a_query_saved_by_a_user_stays_and_an_older_plugins_is_replaced(dbs):
    """As a persistent internal database keeps them from one start to the next."""
    ds = await serve(dbs, {})
    await ds.add_query("public", "search", "select 'older plugin' as who", source="plugin")
    await ds.add_query("public", "user_timeline", "select 'user' as who", source="user")
    await queries.register_all(ds)
    assert (await ds.get_query("public", "search")).sql == queries.QUERIES[0].sql
    response = await get(ds, "/public/user_timeline.json?_shape=array")
    assert response.json() == [{"who": "user"}]


# --- CORS ------------------------------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("cors", [True, False])
async def test_json_answers_carry_datasettes_cors_headers(dbs, cors):
    ds = await serve(dbs, {}, cors=cors)
    name = campaign_names(dbs["public"])[0]
    theirs = (await get(ds, "/public/campaigns.json")).headers
    for path, status in (("/-/tei.json", 200), (quoted(name, ".json"), 200),
                         (quoted("no such campaign", ".json"), 404)):
        response = await get(ds, path)
        assert response.status_code == status
        for header in ("access-control-allow-origin", "access-control-allow-headers",
                       "access-control-expose-headers"):
            assert response.headers.get(header) == theirs.get(header), (path, header)
            assert (header in response.headers) == cors


# --- access.viewable_tables answers as can_view_table -----------------------------

@pytest.mark.asyncio
async def test_viewable_tables_answers_as_can_view_table(dbs):
    from datasette_tei.serve import access

    configs = [{}, PRIVATE_DATABASE, {"allow": ALICE}, tweets_closed(),
               {"databases": {"public": {"tables": {"tweets_fts": {"allow": ALICE},
                                                    "users": {"allow": BOB}}}}}]
    if DATASETTE_1:
        configs.append({"databases": {"private": {"permissions": {"view-database": ALICE}},
                                      "public": {"tables": {"users": {"permissions": {
                                          "view-table": BOB}}}}}})
    tables = set(access.TEI_TABLES) | {t for q in queries.QUERIES for t in q.reads}
    for config in configs:
        ds = await serve(dbs, config)
        for actor in ACTORS.values():
            for database in ("public", "private"):
                got = await access.viewable_tables(ds, actor, database, tables)
                want = {t for t in tables if await access.can_view_table(ds, actor, database, t)}
                assert got == want, (config, actor, database)
    assert "tweets_fts" in got  # not vacuous


# --- The hooks each Datasette line declares --------------------------------------------

def test_every_hook_implemented_is_declared_by_this_datasette():
    from datasette.plugins import pm

    import datasette_tei

    callers = pm.get_hookcallers(datasette_tei)
    assert callers, "the plugin is not registered"
    undeclared = [caller.name for caller in callers if caller.spec is None]
    assert undeclared == []
    names = {caller.name for caller in callers}
    if DATASETTE_1:
        assert "permission_resources_sql" in names and "canned_queries" not in names
    else:
        assert {"canned_queries", "permission_allowed"} <= names


def test_each_query_declares_every_table_it_reads(dbs):
    """What SQLite itself says each query reads (its authorizer), less the
    full-text index's own tables, is what the permission check asks for."""
    from datasette_tei import search

    conn = sqlite3.connect(dbs["public"])
    search.register_functions(conn)
    for query in queries.QUERIES:
        if not query.requires <= {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}:
            continue
        read = set()

        def authorizer(action, table, column, database, trigger):
            if action == sqlite3.SQLITE_READ and database == "main":
                read.add(table)
            return sqlite3.SQLITE_OK

        conn.set_authorizer(authorizer)
        conn.execute("EXPLAIN " + query.sql, {p: "" for p in query.params}).fetchall()
        conn.set_authorizer(None)
        read = {t for t in read if t != "sqlite_master" and not t.startswith("tweets_fts_")}
        assert read == set(query.reads), query.name
    conn.close()


# --- The documentation's examples ----------------------------------------------------

def doc_examples():
    import pathlib
    import re

    import yaml

    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "permissions.md").read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


@pytest.mark.asyncio
async def test_the_documented_examples_do_what_the_documentation_says(dbs, tmp_path):
    """The `allow` blocks in metadata on both lines (1.0 moves them to its
    configuration); `allow_sql` in datasette.yaml on 1.0."""
    import shutil

    tei, private = str(tmp_path / "tei.db"), str(tmp_path / "private.db")
    shutil.copy(dbs["public"], tei)
    shutil.copy(dbs["private"], private)
    two_databases, instance, closed_tweets = doc_examples()
    researcher = {"id": two_databases["databases"]["private"]["allow"]["id"][0]}

    async def serving(metadata, config=None):
        ds = Datasette([tei, private], metadata=metadata, **({"config": config} if config else {}))
        await ds.invoke_startup()
        return ds

    ds = await serving(two_databases)
    public_names, private_names = campaign_names(tei), campaign_names(private)
    assert (await get(ds, "/private")).status_code == 403
    await assert_sees(ds, None, {"tei": public_names}, {"private": private_names})
    await assert_sees(ds, researcher, {"tei": public_names, "private": private_names}, {})
    ds = await serving(instance)
    assert (await get(ds, "/-/tei")).status_code == 403
    assert (await get(ds, "/-/tei", researcher)).status_code == 200
    ds = await serving(*((None, closed_tweets) if DATASETTE_1 else (closed_tweets,)))
    await assert_sees(ds, None, {"private": private_names}, {"tei": public_names})
    sql = "/tei.json?" + urllib.parse.urlencode({"sql": "select count(*) from tweets"})
    assert (await get(ds, sql)).status_code == 403
    assert (await get(ds, sql, researcher)).status_code == 200
    assert (await get(ds, "/tei/campaigns.json")).status_code == 200
