"""The .graphml and .gexf files parse whatever the rows' column names: a
query's aliases are the visitor's to choose, control characters included."""
import pathlib
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from datasette.app import Datasette


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", ["graphml", "gexf"])
async def test_column_names_xml_forbids_still_give_a_file_that_parses(demo_db, fmt):
    ds = Datasette([demo_db])
    await ds.invoke_startup()
    name = pathlib.Path(demo_db).stem
    sql = ("select 'a' as source, 'b' as target, 1 as \"x\x01y\x0b\", "
           "'v' as \"<odd> & \"\"name\"\"\"")
    response = await ds.client.get(f"/{name}.{fmt}?" + urllib.parse.urlencode({"sql": sql}),
                                   follow_redirects=True)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    names = {element.get("attr.name") or element.get("title") for element in root.iter()
             if element.tag.endswith(("key", "attribute"))}
    assert "x\ufffdy\ufffd" in names and '<odd> & "name"' in names
