"""`datasette serve tei.db` with no -m or -c: the plugin supplies the table
descriptions, default facets, sortable and label columns and the hidden
tables (table_settings.py) for a TEI database of any file name, on
Datasette 0.65 and 1.0; the owner's metadata and configuration win; a
database that is not ours gets nothing; metadata.yml and datasette.yaml,
the examples to copy, say the same as the plugin."""
import pathlib
import re
import shutil
import sqlite3

import pytest
import yaml
from datasette.app import Datasette
from markupsafe import escape

from datasette_tei.serve import table_settings

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATASETTE_1 = hasattr(Datasette, "add_query")


def facet_names(facets):
    return [f if isinstance(f, str) else next(iter(f.values())) for f in facets]


@pytest.fixture(params=["tei.db", "my archive 2020.db"])
def served_copy(request, demo_db, tmp_path):
    path = tmp_path / request.param
    shutil.copy(demo_db, path)
    return path


async def start(files, metadata=None, config=None):
    kwargs = {}
    if metadata is not None:
        kwargs["metadata"] = metadata
    if config is not None:
        kwargs["config"] = config
    ds = Datasette([str(f) for f in files], **kwargs)
    await ds.invoke_startup()
    return ds


async def table_json(ds, name, table, query=""):
    response = await ds.client.get(
        f"{ds.urls.table(name, table, format='json')}?_shape=objects&_extra=facet_results&_size=1{query}")
    assert response.status_code == 200, response.text
    data = response.json()
    results = data["facet_results"]
    if "results" in results:  # 1.0
        results = results["results"]
    return data, results


async def database_tables(ds, name):
    data = (await ds.client.get(ds.urls.database(name, format="json"))).json()
    return {t["name"]: t for t in data["tables"]}


@pytest.mark.asyncio
async def test_no_options_gives_the_settings(served_copy):
    ds = await start([served_copy])
    name = served_copy.stem
    settings = table_settings.TABLES

    # Default facets.
    for table in ("tweets", "users"):
        _, facets = await table_json(ds, name, table)
        assert set(facets) == set(facet_names(settings[table]["facets"])), table

    # Sortable columns: only those listed.
    for table, column, sortable in (("tweets", "like_count", True), ("tweets", "tweet_text", False),
                                    ("users", "follower_count", True),
                                    ("users", "user_display_name", False)):
        response = await ds.client.get(f"{ds.urls.table(name, table, format='json')}?_sort={column}")
        assert (response.status_code == 200) is sortable, (table, column)
        if not sortable:  # 400 on 1.0, 500 on 0.65
            assert f"Cannot sort table by {column}" in response.text

    # Label columns.
    db = ds.databases[name]
    for table in ("tweets", "users", "campaigns"):
        assert await db.label_column_for_table(table) == settings[table]["label_column"]

    # Descriptions of the tables and their columns.
    page = (await ds.client.get(ds.urls.table(name, "tweets"))).text
    assert escape(settings["tweets"]["description"]) in page
    assert escape(settings["tweets"]["columns"]["hashtags"]) in page
    assert "tei-tables.css" in page  # shown compactly
    page = (await ds.client.get(ds.urls.table(name, "campaigns"))).text
    assert escape(settings["campaigns"]["description"]) in page
    page = (await ds.client.get(ds.urls.database(name))).text
    assert escape(table_settings.DATABASE_DESCRIPTION) in page

    # Hidden tables: the machinery, not what a reader opens.
    tables = await database_tables(ds, name)
    hidden = {t for t, info in tables.items() if info["hidden"]}
    for table in ("tei_meta", "tei_dirty", "tei_facet_counts", "campaign_top",
                  "campaign_months", "campaign_hours", "shared_values", "campaign_urls"):
        assert table in hidden, table
    for table in ("tweets", "users", "campaigns", "shared_tweets", "imports", "rejects"):
        assert table not in hidden, table
    # ... and left out of the index page's counts.
    index = (await ds.client.get("/.json")).json()
    if "databases" in index:  # 1.0: a list
        info = next(d for d in index["databases"] if d["name"] == name)
    else:
        info = index[name]
    visible = [t for t in tables if t not in hidden]
    assert info["tables_count"] == len(visible)
    assert info["hidden_tables_count"] == len(hidden)
    # The SQL box starts from a table a reader would open.
    page = (await ds.client.get(ds.urls.database(name))).text
    default_sql = re.search(r'<textarea id="sql-editor" name="sql">([^<]*)', page).group(1)
    assert default_sql.split()[-1].strip("[]") in visible

    # tweets, users and campaigns first, on the database page and the index.
    database_page = (await ds.client.get(ds.urls.database(name))).text
    listed = re.findall(r'<h3><a href="[^"]*/([^/"]+)"', database_page)
    assert listed[:3] == ["tweets", "users", "campaigns"], listed
    index_page = (await ds.client.get("/")).text
    links = re.findall(r'<a href="' + re.escape(ds.urls.database(name)) + r'/([^"/]+)"', index_page)
    # The index lists the five tables Datasette picks (by row count): of
    # those, the main ones come first.
    main = [table for table in ("tweets", "users", "campaigns") if table in links]
    assert main[:2] == ["tweets", "users"] and links[:len(main)] == main, links

    # The plugin's pages are offered.
    assert "/-/tei" in (await ds.client.get("/")).text
    assert (await ds.client.get("/-/tei")).status_code == 200


@pytest.mark.asyncio
async def test_the_owners_metadata_and_configuration_win(served_copy):
    name = served_copy.stem
    owner_tables = {
        "tweets": {"description": "The owner's own words.", "facets": ["tweet_language"],
                   "columns": {"hashtags": "The owner's hashtags."}},
        "tei_meta": {"hidden": False},
    }
    metadata = {"databases": {name: {"description": "The owner's database.",
                                     "tables": owner_tables}}}
    config = None
    if DATASETTE_1:  # table configuration moves to datasette.yaml on 1.0
        config = {"databases": {name: {"tables": {
            "tweets": {"facets": ["tweet_language"]}, "tei_meta": {"hidden": False}}}}}
        metadata = {"databases": {name: {"description": "The owner's database.", "tables": {
            "tweets": {"description": "The owner's own words.",
                       "columns": {"hashtags": "The owner's hashtags."}}}}}}
    ds = await start([served_copy], metadata=metadata, config=config)
    _, facets = await table_json(ds, name, "tweets")
    assert list(facets) == ["tweet_language"]
    page = (await ds.client.get(ds.urls.table(name, "tweets"))).text
    assert escape("The owner's own words.") in page
    assert table_settings.TABLES["tweets"]["description"][:40] not in page.replace("&#39;", "'")
    assert escape("The owner's hashtags.") in page
    # What the owner left unset still comes from the plugin.
    assert escape(table_settings.TABLES["tweets"]["columns"]["urls"]) in page
    assert await ds.databases[name].label_column_for_table("tweets") == "tweet_text"
    tables = await database_tables(ds, name)
    assert tables["tei_meta"]["hidden"] is False
    assert tables["campaign_top"]["hidden"] is True
    page = (await ds.client.get(ds.urls.database(name))).text
    assert escape("The owner's database.") in page
    assert table_settings.DATABASE_DESCRIPTION[:40] not in page.replace("&#39;", "'")


@pytest.mark.asyncio
async def test_a_database_that_is_not_ours_gets_nothing(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tweets (id INTEGER PRIMARY KEY, tweet_text TEXT, campaign TEXT)")
    conn.execute("CREATE TABLE campaign_top (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE tei_meta (key TEXT, value TEXT)")
    conn.execute("INSERT INTO tweets VALUES (1, 'hello', 'x')")
    conn.commit()
    conn.close()
    ds = await start([path])
    tables = await database_tables(ds, "other")
    assert not any(info["hidden"] for info in tables.values())
    data, facets = await table_json(ds, "other", "tweets")
    assert facets == {}
    assert (await ds.client.get("/other/tweets.json?_sort=tweet_text")).status_code == 200
    page = (await ds.client.get("/other/tweets")).text
    assert table_settings.TABLES["tweets"]["description"][:40] not in page.replace("&#39;", "'")
    assert "tei-tables.css" not in page
    assert "/-/tei" not in (await ds.client.get("/")).text
    assert (await ds.client.get("/-/tei")).status_code == 404


def test_the_example_files_say_what_the_plugin_does():
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    config = yaml.safe_load((ROOT / "datasette.yaml").read_text())
    for database in ("tei", "demo"):
        tables = metadata["databases"][database]["tables"]
        assert metadata["databases"][database]["description"] == table_settings.DATABASE_DESCRIPTION
        configured = config["databases"][database]["tables"]
        for table, settings in table_settings.TABLES.items():
            ours, our_config = table_settings.split(settings)
            assert tables[table].get("description") == ours.get("description"), table
            assert tables[table].get("columns", {}) == ours.get("columns", {}), table
            for key in ("facets", "sortable_columns", "label_column"):
                assert tables[table].get(key) == our_config.get(key), (table, key)
                assert configured.get(table, {}).get(key) == our_config.get(key), (table, key)
        for table in table_settings.HIDDEN_TABLES:
            assert tables[table].get("hidden") is True, table
            assert configured[table].get("hidden") is True, table
    assert "#" in metadata["databases"]["tei"]["tables"]["tweets"]["columns"]["hashtags"]
    assert "lower-cased" in metadata["databases"]["tei"]["tables"]["tweets"]["columns"]["tweet_language"]


# Pages of a database that is not ours, and of the instance, that must be
# the same with the plugin installed as without it. (Datasette's own test
# suite cannot be run from its sdists, which lack its fixtures; this is the
# part of it that concerns a guest.)
GUEST_PATHS = (
    "/", "/.json", "/other", "/other.json", "/other/tweets", "/other/tweets.json?_shape=objects",
    "/other/tweets/1", "/other/tweets?_facet=campaign", "/other/tweets.csv",
    "/other?sql=select+*+from+tweets", "/-/metadata.json", "/-/databases.json",
)


def strip_volatile(text):
    # Timings and the per-run hash of Datasette's static files.
    text = re.sub(r'"query_ms": [0-9.e-]+', "", text)
    text = re.sub(r"Queries took [0-9.,]+ms", "", text)
    return re.sub(r"\?_hash=[0-9a-f]+", "", text)


@pytest.mark.asyncio
async def test_a_guest_changes_nothing_where_there_is_nothing_of_its_own(tmp_path):
    from datasette.plugins import pm

    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE tweets (id INTEGER PRIMARY KEY, tweet_text TEXT, campaign TEXT, "
                 "userid TEXT, hashtags TEXT)")
    conn.execute("INSERT INTO tweets VALUES (1, 'hello', 'x', ?, '[\"a\"]')", ("a" * 64,))
    conn.commit()
    conn.close()

    async def pages():
        ds = await start([path])
        return {p: (r.status_code, strip_volatile(r.text))
                for p in GUEST_PATHS for r in [await ds.client.get(p)]}

    with_plugin = await pages()
    plugin = pm.get_plugin("tei")
    assert plugin is not None
    pm.unregister(plugin)
    try:
        without = await pages()
    finally:
        pm.register(plugin, name="tei")
    for p in GUEST_PATHS:
        assert with_plugin[p] == without[p], p


def section(page, pattern):
    found = re.search(pattern, page, re.S)
    return found.group(0) if found else None


@pytest.mark.asyncio
async def test_no_options_gives_what_the_example_files_give(demo_db, tmp_path):
    """The table pages of `datasette serve demo.db` equal those with the
    example files, but for what only the files set (the instance's title,
    source and license)."""
    metadata = yaml.safe_load((ROOT / "metadata.yml").read_text())
    config = yaml.safe_load((ROOT / "datasette.yaml").read_text()) if DATASETTE_1 else None
    plain = await start([demo_db])
    with_files = await start([demo_db], metadata=metadata, config=config)
    for table in ("tweets", "users", "campaigns", "imports"):
        pages = []
        for ds in (plain, with_files):
            page = (await ds.client.get(ds.urls.table("demo", table))).text
            _, facets = await table_json(ds, "demo", table)
            pages.append((
                section(page, r'<div class="metadata-description">.*?</div>'),
                section(page, r'<dl class="column-descriptions">.*?</dl>'),
                list(facets),
                re.findall(r'<th class="col-[^"]*"[^>]*>.*?</th>', page, re.S),  # sortable headers
                await ds.databases["demo"].label_column_for_table(table),
            ))
        assert pages[0] == pages[1], table
    for ds in (plain, with_files):
        hidden = {t for t, info in (await database_tables(ds, "demo")).items() if info["hidden"]}
        assert "campaign_top" in hidden and "tweets" not in hidden


def test_each_database_block_is_a_copy_of_its_own():
    # Datasette 0.65 merges the owner's metadata into the block it gets:
    # a change to one answer must not reach the next.
    tables = ["tweets", "users", "campaigns", "tei_meta", "campaign_top"]
    first = table_settings.database_metadata(tables)
    first["tables"]["tweets"]["facets"].append("userid")
    first["tables"]["users"]["description"] = "the owner's"
    first["description"] = "changed"
    again = table_settings.database_metadata(tables)
    assert again == table_settings.database_metadata(list(tables))
    assert "userid" not in again["tables"]["tweets"]["facets"]
    assert again["tables"]["users"]["description"] != "the owner's"
    assert again["description"] == table_settings.DATABASE_DESCRIPTION
    assert again["tables"]["tei_meta"]["hidden"] is True
    assert table_settings.database_metadata(["tweets"])["tables"].keys() == {"tweets"}
