"""Where the pieces meet, on 0.65 and 1.0: an owner who closes a table the
account page reads sees it closed there too; links between the pages hold
for the ids hostile archives can hold."""
import pathlib
import sqlite3
import urllib.parse

import pytest
from datasette.app import Datasette

DATASETTE_1 = hasattr(Datasette, "add_query")
ROOT = {"id": "root"}


def serve(path, settings):
    return Datasette([path], **({"config": settings} if DATASETTE_1 else {"metadata": settings}))


async def get(ds, path, actor=None):
    cookies = {"ds_actor": ds.sign({"a": actor}, "actor")} if actor else {}
    return await ds.client.get(path, cookies=cookies)


def partnered_account(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT userid_a, userid_b FROM coordination_edges "
                            "ORDER BY weight DESC, userid_a LIMIT 1").fetchone()
    finally:
        conn.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("closed", ["coordination_edges", "coordination_runs", "coordination_evidence"])
async def test_account_page_hides_partners_from_closed_coordination_tables(demo_db, closed):
    name = pathlib.Path(demo_db).stem
    userid, partner = partnered_account(demo_db)
    ds = serve(demo_db, {"databases": {name: {"tables": {closed: {"allow": ROOT}}}}})
    await ds.invoke_startup()
    path = "/-/tei/accounts/" + urllib.parse.quote(userid, safe="")
    # The owner's root sees the partners ...
    opened = (await get(ds, path + ".json", ROOT)).json()["databases"][0]
    assert partner in [e["userid_b"] for e in opened["partners"]]
    # ... anyone else sees the account, but not the closed table's rows.
    anonymous = await get(ds, path + ".json")
    assert anonymous.status_code == 200
    section = anonymous.json()["databases"][0]
    assert section["partners"] is None
    page = await get(ds, path)
    assert page.status_code == 200
    assert "Coordination partners" not in page.text and "coordination_evidence" not in page.text


@pytest.mark.asyncio
async def test_network_page_links_an_id_ending_in_json_to_its_own_page(demo_db, tmp_path):
    # User ids come from the archives, hostile ones included: a node named
    # "<id>.json" must link to its own page, not to the JSON of <id>.
    import shutil

    path = str(tmp_path / "demo.db")
    shutil.copy(demo_db, path)
    userid, partner = partnered_account(path)
    odd = userid + ".json"
    conn = sqlite3.connect(path)
    for table in ("coordination_edges", "coordination_evidence", "coordination_groups"):
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
        for column in ("userid", "userid_a", "userid_b"):
            if column in columns:
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (odd, userid))
    conn.execute("UPDATE tweets SET userid = ? WHERE userid = ?", (odd, userid))
    conn.execute("UPDATE users SET userid = ? WHERE userid = ?", (odd, userid))
    campaign = conn.execute("SELECT campaign_a FROM coordination_edges WHERE userid_a = ? LIMIT 1",
                            (odd,)).fetchone()[0]
    conn.commit()
    conn.close()
    ds = Datasette([path])
    await ds.invoke_startup()
    data = (await ds.client.get(f"/-/tei/{campaign}/network.json")).json()
    links = {n["id"]: n["url"] for n in data["drawing"]["nodes"]}
    links.update({e["userid_a"]: e["links"]["account_a"] for e in data["edges"]})
    assert odd in links
    page = await ds.client.get(links[odd])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "tei-userid" in page.text and odd in page.text
