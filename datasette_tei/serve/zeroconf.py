"""`datasette serve tei.db` with no other option: the plugin supplies the
settings of table_settings.py to every TEI database it serves, through
Datasette's own mechanisms, and the owner's metadata and configuration win.

- Datasette 0.65: the get_metadata hook. Datasette merges the owner's
  metadata over what a hook returns, key by key (a table's `facets` list
  from the owner replaces ours whole), and reads `hidden` from it.
- Datasette 1.0: metadata lives in the internal database, written from the
  owner's file before the `startup` hooks run, so `startup` writes only
  the keys the owner left unset; table configuration (facets, sortable and
  label columns, hidden) is read from `datasette.config`, into which the
  same keys are merged, the owner's first.
"""
from . import served, table_settings


def metadata_065(datasette, database):
    """The get_metadata hook's answer: the blocks of the TEI databases asked
    about (all of them when no database is named)."""
    names = [database] if database else [
        name for name in datasette.databases if not name.startswith("_")
    ]
    blocks = {}
    for name in names:
        tables = served.tables_if_tei(datasette, name)
        if tables is not None:
            blocks[name] = table_settings.database_metadata(tables)
    return {"databases": blocks} if blocks else {}


async def apply_10(datasette):
    """Datasette 1.0, from `startup`: metadata and table configuration of
    every TEI database, under what the owner set."""
    config = datasette.config
    if config is None:  # constructed without any configuration
        config = datasette.config = {}
    for name in list(datasette.databases):
        tables = await served.tables_of(datasette, name)
        if tables is None:
            continue
        block = table_settings.database_metadata(tables)
        owner = await datasette.get_database_metadata(name)
        if "description" not in owner and "description_html" not in owner:
            await datasette.set_database_metadata(name, "description", block["description"])
        db_config = config.setdefault("databases", {}).setdefault(name, {})
        tables_config = db_config.setdefault("tables", {})
        for table, settings in block["tables"].items():
            metadata, table_config = table_settings.split(settings)
            columns = metadata.pop("columns", {})
            owner = await datasette.get_resource_metadata(name, table)
            for key, value in metadata.items():
                if key == "description" and "description_html" in owner:
                    continue
                if key not in owner:
                    await datasette.set_resource_metadata(name, table, key, value)
            for column, description in columns.items():
                if "description" not in await datasette.get_column_metadata(name, table, column):
                    await datasette.set_column_metadata(name, table, column, "description", description)
            owner_config = tables_config.setdefault(table, {})
            for key, value in table_config.items():
                owner_config.setdefault(key, value)
