"""Who may see what: the visibility checks every page, JSON, link,
renderer and canned query of the plugin goes through, on Datasette 0.65
(permission_allowed with the cascade of ensure_permissions) and on the 1.0
alphas (allowed() with resource objects)."""
from . import served


async def _allowed(datasette, actor, checks):
    """checks: (action, resource) from the most specific to the instance."""
    if hasattr(datasette, "allowed"):  # Datasette 1.0
        from datasette.resources import DatabaseResource, TableResource

        for action, resource in checks:
            if isinstance(resource, tuple):
                resource = TableResource(*resource)
            elif isinstance(resource, str):
                resource = DatabaseResource(resource)
            if not await datasette.allowed(action=action, resource=resource, actor=actor):
                return False
        return True
    visible, _ = await datasette.check_visibility(
        actor, permissions=[(a, r) if r is not None else a for a, r in checks]
    )
    return visible


async def can_view_instance(datasette, actor) -> bool:
    return await _allowed(datasette, actor, [("view-instance", None)])


async def can_view_database(datasette, actor, database) -> bool:
    return await _allowed(
        datasette, actor, [("view-database", database), ("view-instance", None)]
    )


async def can_view_table(datasette, actor, database, table) -> bool:
    return await _allowed(
        datasette,
        actor,
        [("view-table", (database, table)), ("view-database", database), ("view-instance", None)],
    )


async def visible_tei_databases(datasette, actor) -> list:
    found = []
    for name in list(datasette.databases):
        if name.startswith("_") or not await served.is_tei(datasette, name):
            continue
        if await can_view_table(datasette, actor, name, "tweets") and await can_view_table(
            datasette, actor, name, "users"
        ):
            found.append(name)
    return found
