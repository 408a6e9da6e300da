"""What an actor may see of the plugin's pages, asked of Datasette itself.

Every page, JSON answer, menu link, table action, rendered link and canned
query of the plugin checks here, through Datasette's own permission API, so
that the owner's `allow` blocks and any permission plugin decide. Datasette
0.65 answers `permission_allowed()`; the 1.0 alphas answer `allowed()` with
resource objects.

Each level must allow the actor: the instance, the database, and the table.
That is never looser than Datasette's own pages (on 0.65 a table's `allow`
can open a table of a private database; the plugin still hides it).
"""
from . import served

# A campaign page shows figures of both: an actor needs to see both tables.
TEI_TABLES = ("tweets", "users")


async def _allowed(datasette, actor, action, database=None, table=None):
    if hasattr(datasette, "allowed"):  # Datasette 1.0
        from datasette.resources import DatabaseResource, TableResource

        if table is not None:
            resource = TableResource(database=database, table=table)
        elif database is not None:
            resource = DatabaseResource(database=database)
        else:
            resource = None
        return await datasette.allowed(action=action, resource=resource, actor=actor)
    if table is not None:
        resource = (database, table)
    else:
        resource = database
    return await datasette.permission_allowed(actor, action, resource=resource, default=True)


async def can_view_instance(datasette, actor):
    return bool(await _allowed(datasette, actor, "view-instance"))


async def can_view_database(datasette, actor, database):
    return (
        await can_view_instance(datasette, actor)
        and bool(await _allowed(datasette, actor, "view-database", database))
    )


async def can_view_table(datasette, actor, database, table):
    return (
        await can_view_database(datasette, actor, database)
        and bool(await _allowed(datasette, actor, "view-table", database, table))
    )


async def viewable_tables(datasette, actor, database, tables):
    """The ones of `tables` (of one database) that can_view_table() would
    allow, the instance and the database asked once, and on Datasette 1.0
    every table in one query (each check there is a query of Datasette's
    internal database, waiting its turn among the SQL threads)."""
    if not await can_view_database(datasette, actor, database):
        return set()
    if hasattr(datasette, "allowed_resources_sql"):  # Datasette 1.0
        sql, params = await datasette.allowed_resources_sql(
            action="view-table", actor=actor, parent=database)
        rows = await datasette.get_internal_database().execute(sql, params)
        allowed = {row["child"] for row in rows}
        return {table for table in tables if table in allowed}
    return {table for table in tables
            if await _allowed(datasette, actor, "view-table", database, table)}


async def visible_tei_databases(datasette, actor):
    """The TEI databases, in Datasette's order, where the actor may view
    both `tweets` and `users`."""
    visible = []
    for name in list(datasette.databases):
        if name.startswith("_") or not await served.is_tei(datasette, name):
            continue
        if await viewable_tables(datasette, actor, name, TEI_TABLES) == set(TEI_TABLES):
            visible.append(name)
    return visible
