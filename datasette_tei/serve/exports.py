"""Output renderers .graphml and .gexf, for Gephi, igraph, networkx, Cytoscape:
any table or query whose rows are edges (columns userid_a and userid_b, or
source and target; optionally weight) is offered as a network file.

The file holds the rows Datasette already returned to the actor for that
view (the page, or `?_size=max`), one edge per pair: its weight is the sum of
the weight column, or the number of rows when there is none (so the
coordination_evidence table exports as a weighted network), and its other
columns come from the pair's first row. Nodes get attributes from `users`
(screen name, campaign, followers, creation date) when the actor may view
that table, and their group when the rows belong to one coordination run.

Files are written by networkx. Tweet and profile text can hold characters
XML 1.0 forbids (control characters, lone surrogates); they are replaced,
as everything else is escaped by the writer, so that the file always parses.
"""
import io
import re

from . import access, served

ENDPOINTS = (("userid_a", "userid_b"), ("source", "target"))
# Names the formats give a meaning of their own: a column so named is renamed.
RESERVED = {"id", "label", "key", "type", "start", "end", "spells", "weight", "source", "target"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
USERS_CHUNK = 400


def endpoints(columns):
    for pair in ENDPOINTS:
        if set(pair) <= set(columns or ()):
            return pair
    return None


def clean(value):
    if isinstance(value, str):
        return _NOT_XML.sub("\ufffd", value)
    return value


def _typed(values):
    """One type per attribute, as GraphML and GEXF declare them: int, float or str."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return int
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return float
    return str


def edge_graph(columns, rows):
    """A networkx DiGraph of the rows, and the run id when they hold one."""
    import networkx

    a, b = endpoints(columns)
    rows = [dict(zip(columns, row)) if not isinstance(row, dict) else row for row in rows]
    extra = [c for c in columns if c not in (a, b, "weight")]
    types = {c: _typed(r.get(c) for r in rows) for c in extra}
    has_weight = "weight" in columns
    graph = networkx.DiGraph()
    for row in rows:
        source, target = row.get(a), row.get(b)
        if source is None or target is None:
            continue
        source, target = clean(str(source)), clean(str(target))
        weight = row.get("weight") if has_weight else 1
        weight = weight if isinstance(weight, (int, float)) and not isinstance(weight, bool) else 0
        if graph.has_edge(source, target):
            graph[source][target]["weight"] += weight
            continue
        attributes = {}
        for column in extra:
            value = row.get(column)
            if value is None:
                continue
            # A query's aliases are the visitor's: cleaned like the values.
            name = clean(column + "_value" if column in RESERVED else column)
            attributes[name] = clean(types[column](value))
        graph.add_edge(source, target, weight=weight, **attributes)
    run_ids = {row.get("run_id") for row in rows} if "run_id" in columns else set()
    return graph, (run_ids.pop() if len(run_ids) == 1 else None)


async def add_node_attributes(datasette, actor, database, graph, run_id):
    db = datasette.databases.get(database)
    if db is None or not graph.number_of_nodes() or not await served.is_tei(datasette, database):
        return
    ids = sorted(graph.nodes)
    if await access.can_view_table(datasette, actor, database, "users"):
        for start in range(0, len(ids), USERS_CHUNK):
            chunk = ids[start:start + USERS_CHUNK]
            marks = ", ".join("?" * len(chunk))
            results = await db.execute(
                f"SELECT userid, user_screen_name, campaign, follower_count, "
                f"account_creation_date FROM users WHERE userid IN ({marks}) "
                f"ORDER BY userid, campaign LIMIT {USERS_CHUNK * 50}", chunk)
            for userid, screen_name, campaign, followers, created in results.rows:
                node = graph.nodes[userid]
                if "screen_name" not in node and screen_name is not None:
                    node["screen_name"] = node["label"] = clean(str(screen_name))
                if campaign is not None:  # an account in several campaigns: all of them
                    known = node.get("campaign")
                    node["campaign"] = clean(campaign if not known else f"{known}; {campaign}")
                if isinstance(followers, int):
                    node["followers"] = max(followers, node.get("followers", 0))
                if created and str(created) < node.get("account_creation_date", "\uffff"):
                    node["account_creation_date"] = clean(str(created))
    if run_id is not None and await access.can_view_table(
            datasette, actor, database, "coordination_groups"):
        present = await db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'coordination_groups'")
        if not present.rows:
            return
        for start in range(0, len(ids), USERS_CHUNK):
            chunk = ids[start:start + USERS_CHUNK]
            marks = ", ".join("?" * len(chunk))
            results = await db.execute(
                f"SELECT userid, group_id FROM coordination_groups WHERE run_id = ? "
                f"AND userid IN ({marks})", [run_id, *chunk])
            for userid, group_id in results.rows:
                if isinstance(group_id, int):
                    graph.nodes[userid]["group"] = group_id


def _write(graph, fmt):
    import networkx

    buffer = io.BytesIO()
    if fmt == "graphml":
        networkx.write_graphml(graph, buffer, encoding="utf-8")
    else:
        networkx.write_gexf(graph, buffer, encoding="utf-8")
    return buffer.getvalue()


def _renderer(fmt, content_type):
    async def render(datasette, columns, rows, database, table, query_name, request):
        if endpoints(columns) is None:
            return {"body": f"Not a list of edges: .{fmt} needs columns userid_a and userid_b, "
                            "or source and target.\n",
                    "status_code": 400, "content_type": "text/plain; charset=utf-8"}
        graph, run_id = edge_graph(columns, rows)
        await add_node_attributes(datasette, request.actor if request else None, database,
                                  graph, run_id)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", table or query_name or database or "network")
        return {
            "body": _write(graph, fmt),
            "content_type": content_type,
            "headers": {"content-disposition": f'attachment; filename="{name}.{fmt}"'},
        }

    def can_render(columns):
        return endpoints(columns) is not None

    return {"extension": fmt, "render": render, "can_render": can_render}


RENDERERS = [
    _renderer("graphml", "application/graphml+xml; charset=utf-8"),
    _renderer("gexf", "application/gexf+xml; charset=utf-8"),
]
