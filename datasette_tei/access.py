"""Who may see what: the checks every page, JSON, link and query of the
plugin makes, on both Datasette lines (0.65's permission_allowed, 1.0's
allowed with resources)."""
from . import served


async def _allowed(datasette, actor, action, database=None, table=None):
    if hasattr(datasette, "allowed"):  # Datasette 1.0
        from datasette.resources import DatabaseResource, TableResource

        resource = None
        if table is not None:
            resource = TableResource(database, table)
        elif database is not None:
            resource = DatabaseResource(database)
        return await datasette.allowed(action=action, resource=resource, actor=actor)
    resource = (database, table) if table is not None else database
    return await datasette.permission_allowed(actor, action, resource=resource, default=True)


async def can_view_instance(datasette, actor):
    return await _allowed(datasette, actor, "view-instance")


async def can_view_database(datasette, actor, database):
    return (await can_view_instance(datasette, actor)
            and await _allowed(datasette, actor, "view-database", database))


async def can_view_table(datasette, actor, database, table):
    return (await can_view_database(datasette, actor, database)
            and await _allowed(datasette, actor, "view-table", database, table))


async def visible_tei_databases(datasette, actor):
    names = []
    for name in list(datasette.databases):
        if name.startswith("_") or not await served.is_tei(datasette, name):
            continue
        if (await can_view_table(datasette, actor, name, "tweets")
                and await can_view_table(datasette, actor, name, "users")):
            names.append(name)
    return names
