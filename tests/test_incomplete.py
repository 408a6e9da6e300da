"""A database whose build did not finish says so on the campaign index."""
import shutil
import sqlite3

import pytest
from datasette.app import Datasette


@pytest.mark.asyncio
async def test_incomplete_build_is_flagged(demo_db, tmp_path):
    copy = str(tmp_path / "half.db")
    shutil.copy(demo_db, copy)
    ds = Datasette([demo_db, copy])
    response = await ds.client.get("/-/tei.json")
    assert response.json()["incomplete_databases"] == []
    assert "tei-warning" not in (await ds.client.get("/-/tei")).text
    conn = sqlite3.connect(copy)
    with conn:
        conn.execute("UPDATE tei_meta SET value = 'building' WHERE key = 'build_state'")
    conn.close()
    ds = Datasette([demo_db, copy])
    assert (await ds.client.get("/-/tei.json")).json()["incomplete_databases"] == ["half"]
    html = (await ds.client.get("/-/tei")).text
    assert "tei-warning" in html and "<code>half</code>" in html
