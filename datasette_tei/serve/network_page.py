"""Network pages: /-/tei/<campaign>/network and its .json, the accounts of a
campaign that acted together, from the coordination tables the build (or
`datasette-tei coordinate`) computed.

The page shows the runs whose scope covers the campaign, the groups of the
chosen run with their summaries, the strongest edges, and a drawing of the
strongest part of the network (network_drawing.py). It reads only the
coordination tables, `users` and `campaigns`, by their keys and with a LIMIT
on every query, through Datasette's execute() so that Datasette's time limit
holds. Every figure links to the rows that make it: an edge's weight to its
evidence rows (the schema stores exactly `weight` of them), a run's counts
to its edges, groups and members.
"""
import asyncio
import functools
import json
import urllib.parse

from . import access, network_drawing
from .queries import EVIDENCE_QUERY
from .pages import _json_response, _table_url, account_path, campaign_path

DRAW_EDGES = 150  # pairs in the drawing
TABLE_EDGES = 50  # of those, rows in the table of strongest edges
GROUPS_SHOWN = 50
RUNS_SHOWN = 100
TABLES = ("coordination_runs", "coordination_edges", "coordination_evidence",
          "coordination_groups", "coordination_group_summaries")
NO_NETWORKS = ("No networks computed for this database: run "
               "`datasette-tei coordinate DATABASE` (or build it again) to compute them.")
KINDS = {
    "co_retweet": "retweeted the same tweet",
    "co_tweet": "posted the same text (case, spacing and @mentions ignored)",
    "co_link": "shared the same URL",
    "co_reply": "replied to the same tweet",
    "co_hashtag": "used the same hashtag",
}


def network_path(datasette, campaign, fmt=""):
    return campaign_path(datasette, campaign, "/network" + fmt)


def _rows(results):
    return [dict(zip(results.columns, row)) for row in results.rows]


def _json_list(text):
    try:
        value = json.loads(text or "[]")
    except (TypeError, ValueError):
        return []
    return value if isinstance(value, list) else []


async def _read(db, sql, params):
    # Datasette's execute() interrupts a query past sql_time_limit_ms.
    return _rows(await db.execute(sql, params))


async def has_campaign(db, name):
    return bool(await _read(db, "SELECT 1 FROM campaigns WHERE name = :name LIMIT 1",
                            {"name": name}))


async def read_runs(db, campaign):
    """The runs whose scope covers the campaign, each with the number of the
    campaign's accounts it linked (a count over the run's groups, by key)."""
    runs = await _read(db, f"""SELECT id, kind, window_minutes, min_weight, scope, is_default,
  parameters, created, edge_count, account_count, group_count
FROM coordination_runs WHERE :campaign GLOB scope
ORDER BY is_default DESC, kind, window_minutes, min_weight, id LIMIT {RUNS_SHOWN}""",
                       {"campaign": campaign})
    for run in runs:
        run["parameters"] = _json_object(run["parameters"])
        run["campaign_accounts"] = (await _read(
            db, "SELECT count(*) AS n FROM coordination_groups WHERE run_id = :run "
                "AND campaign = :campaign", {"run": run["id"], "campaign": campaign}))[0]["n"]
    return runs


def _json_object(text):
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


# The strongest pairs, each pair once: the direction with the larger weight
# (on a tie, the smaller userid first), so that a pair's strength is its
# weight. Read in two halves, the campaign's accounts as A and as B, so that
# each half reads an index on (run_id, campaign_x, weight) in weight order and
# stops after the LIMIT; the halves are merged here.
_EDGES_SQL = """SELECT userid_a, userid_b, campaign_a, campaign_b, weight, weight_reverse,
  symmetry, first_time, last_time
FROM coordination_edges
WHERE run_id = :run AND {side} = :campaign {other}
  AND (weight > weight_reverse OR (weight = weight_reverse AND userid_a < userid_b))
ORDER BY weight DESC, weight_reverse DESC, userid_a, userid_b
LIMIT {limit}"""


def _strength(edge):
    return (-edge["weight"], -edge["weight_reverse"], edge["userid_a"], edge["userid_b"])


async def read_edges(db, run_id, campaign):
    params = {"run": run_id, "campaign": campaign}
    as_a = await _read(db, _EDGES_SQL.format(side="campaign_a", other="", limit=DRAW_EDGES), params)
    as_b = await _read(db, _EDGES_SQL.format(
        side="campaign_b", other="AND campaign_a <> :campaign", limit=DRAW_EDGES), params)
    return sorted(as_a + as_b, key=_strength)[:DRAW_EDGES]


async def read_groups(db, run_id, campaign):
    """The groups holding accounts of the campaign, smallest number (largest
    group) first: their ids by the campaign's members, then their summaries
    by key."""
    ids = [row["group_id"] for row in await _read(db, f"""SELECT DISTINCT group_id
FROM coordination_groups WHERE run_id = :run AND campaign = :campaign
ORDER BY group_id LIMIT {GROUPS_SHOWN}""", {"run": run_id, "campaign": campaign})]
    if not ids:
        return []
    params = {f"g{i}": g for i, g in enumerate(ids)}
    groups = await _read(db, f"""SELECT group_id, size, campaigns, first_created, last_created,
  top_hashtags, top_domains, tweets, coordinated_tweets, coordinated_share
FROM coordination_group_summaries
WHERE run_id = :run AND group_id IN ({", ".join(f":{k}" for k in params)})
ORDER BY group_id""", dict(params, run=run_id))
    for group in groups:
        for key in ("campaigns", "top_hashtags", "top_domains"):
            group[key] = _json_list(group[key])
    return groups


async def read_accounts(db, run_id, userids):
    """{userid: {screen_name, campaign, group_id}} for the drawn accounts."""
    found = {u: {"screen_name": None, "campaign": None, "group_id": None} for u in userids}
    ids = sorted(userids)
    for start in range(0, len(ids), 400):
        chunk = ids[start:start + 400]
        params = {f"u{i}": u for i, u in enumerate(chunk)}
        marks = ", ".join(f":{k}" for k in params)
        for row in await _read(db, f"SELECT userid, group_id, campaign FROM coordination_groups "
                                   f"WHERE run_id = :run AND userid IN ({marks})",
                               dict(params, run=run_id)):
            found[row["userid"]].update(group_id=row["group_id"], campaign=row["campaign"])
        for row in await _read(db, f"SELECT userid, user_screen_name, campaign FROM users "
                                   f"WHERE userid IN ({marks}) ORDER BY campaign LIMIT 10000",
                               params):
            account = found[row["userid"]]
            account["screen_name"] = account["screen_name"] or row["user_screen_name"]
            account["campaign"] = account["campaign"] or row["campaign"]
    return found


def evidence_url(datasette, database, run_id, a, b):
    return _table_url(datasette, database, "coordination_evidence", run_id=run_id,
                      userid_a=a, userid_b=b)


def why_url(datasette, database, run_id, a, b):
    return datasette.urls.database(database) + f"/{EVIDENCE_QUERY}?" + urllib.parse.urlencode(
        {"userid_a": a, "userid_b": b, "run_id": run_id})


def add_run_links(datasette, database, campaign, run):
    table = lambda t, **kw: _table_url(datasette, database, t, run_id=run["id"], **kw)  # noqa: E731
    run["links"] = {
        "page": network_path(datasette, campaign) + f"?run={run['id']}",
        "json": network_path(datasette, campaign, ".json") + f"?run={run['id']}",
        "edges": table("coordination_edges"),
        "accounts": table("coordination_groups"),
        "groups": table("coordination_group_summaries"),
        "campaign_accounts": table("coordination_groups", campaign=campaign),
        "campaign_edges": table("coordination_edges", campaign_a=campaign, _sort_desc="weight"),
    }
    run["meaning"] = KINDS.get(run["kind"], run["kind"])


def describe(datasette, database, run, edges, accounts, groups):
    """Links for every edge and group, and the accounts' names beside them."""
    for edge in edges:
        a, b = edge["userid_a"], edge["userid_b"]
        edge["screen_name_a"], edge["screen_name_b"] = accounts[a]["screen_name"], accounts[b]["screen_name"]
        edge["group_a"], edge["group_b"] = accounts[a]["group_id"], accounts[b]["group_id"]
        # The reverse edge is stored, with its evidence, only when its weight
        # reaches the run's minimum; below that its figure has no rows to open.
        reverse_stored = edge["weight_reverse"] >= run["min_weight"]
        edge["evidence_rows"] = edge["weight"] + (edge["weight_reverse"] if reverse_stored else 0)
        edge["links"] = {
            "account_a": account_path(datasette, a),
            "account_b": account_path(datasette, b),
            "evidence": evidence_url(datasette, database, run["id"], a, b),
            "evidence_reverse": evidence_url(datasette, database, run["id"], b, a)
            if reverse_stored else None,
            "why": why_url(datasette, database, run["id"], a, b),
        }
    for group in groups:
        group["links"] = {
            "members": _table_url(datasette, database, "coordination_groups",
                                  run_id=run["id"], group_id=group["group_id"]),
        }


def drawing(datasette, campaign, edges, accounts, label, listed):
    index = {}
    for edge in edges:
        for userid in (edge["userid_a"], edge["userid_b"]):
            index.setdefault(userid, len(index))
    palette = network_drawing.colours(a["group_id"] for a in accounts.values())
    nodes = []
    for userid in index:
        account = accounts[userid]
        group = account["group_id"]
        nodes.append({
            "id": userid,
            "label": label(userid),
            "campaign": account["campaign"],
            "group_id": group,
            "own": account["campaign"] == campaign,
            "colour": palette.get(group, network_drawing.NO_GROUP),
            "url": account_path(datasette, userid),
            "title": f"{label(userid)} ({account['campaign'] or 'unknown campaign'}"
                     f"{', group ' + str(group) if group is not None else ''})",
        })
    lines = [{
        "source": index[e["userid_a"]],
        "target": index[e["userid_b"]],
        "weight": e["weight"] + e["weight_reverse"],
        "url": e["links"]["evidence"],
        "title": f"{label(e['userid_a'])} → {label(e['userid_b'])}: {e['weight']} matched "
                 f"tweets (the other way: {e['weight_reverse']})",
    } for e in edges]
    svg = network_drawing.draw(nodes, lines)
    # A group links to its row in the groups table when it is there (it is
    # not when none of its accounts is of this campaign).
    legend = [{"group_id": g, "colour": c, "anchor": f"group-{g}" if g in listed else None}
              for g, c in sorted(palette.items()) if c != network_drawing.OTHER_GROUPS]
    if any(c == network_drawing.OTHER_GROUPS for c in palette.values()):
        legend.append({"group_id": None, "colour": network_drawing.OTHER_GROUPS,
                       "label": "other groups"})
    return svg, nodes, legend


async def read_network(datasette, database, campaign, wanted_run, actor):
    db = datasette.databases[database]
    data = {"campaign": campaign, "database": database, "runs": [], "run": None,
            "edges": [], "groups": [], "message": None}
    data["links"] = {
        "campaign": campaign_path(datasette, campaign),
        "page": network_path(datasette, campaign),
        "json": network_path(datasette, campaign, ".json"),
    }
    present = {row["name"] for row in await _read(
        db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'coordination%'",
        {})}
    if not set(TABLES) <= present:
        data["message"] = NO_NETWORKS
        return data, None
    for table in TABLES:
        if not await access.can_view_table(datasette, actor, database, table):
            data["message"] = "The coordination tables of this database are not open to you."
            return data, None
    data["runs"] = runs = await read_runs(db, campaign)
    if not runs:
        data["message"] = ("No network computed covers this campaign: run "
                           "`datasette-tei coordinate DATABASE --campaign NAME`.")
        return data, None
    for run in runs:
        add_run_links(datasette, database, campaign, run)
    chosen = next((r for r in runs if str(r["id"]) == wanted_run), None) or next(
        (r for r in runs if r["campaign_accounts"]), runs[0])
    data["run"] = chosen["id"]
    data["edges"] = edges = await read_edges(db, chosen["id"], campaign)
    data["groups"] = groups = await read_groups(db, chosen["id"], campaign)
    userids = {u for e in edges for u in (e["userid_a"], e["userid_b"])}
    accounts = await read_accounts(db, chosen["id"], userids)
    describe(datasette, database, chosen, edges, accounts, groups)

    def label(userid):
        return accounts[userid]["screen_name"] or userid

    # The layout is CPU work: in a thread, so that other requests go on.
    svg, nodes, legend = await asyncio.get_running_loop().run_in_executor(None, functools.partial(
        drawing, datasette, campaign, edges, accounts, label, {g["group_id"] for g in groups}))
    data["drawing"] = {"nodes": [{k: n[k] for k in ("id", "label", "campaign", "group_id",
                                                    "colour", "url")} for n in nodes],
                       "edges": len(edges), "legend": legend}
    return data, {"svg": svg, "chosen": chosen}


async def network(datasette, request):
    from datasette.utils.asgi import Forbidden, Response

    from datasette.database import QueryInterrupted

    fmt = request.url_vars.get("format") or ""
    actor = request.actor
    if not await access.can_view_instance(datasette, actor):
        if fmt == ".json":
            return _json_response(datasette, {"ok": False, "error": "Forbidden", "status": 403}, status=403)
        raise Forbidden("You may not view this instance")
    name = urllib.parse.unquote(request.url_vars["campaign"])
    wanted_run = request.args.get("run")
    found = extra = None
    try:
        for database in await access.visible_tei_databases(datasette, actor):
            if await has_campaign(datasette.databases[database], name):
                found, extra = await read_network(datasette, database, name, wanted_run, actor)
                break
    except QueryInterrupted:
        message = "Reading this network took longer than the server's time limit."
        if fmt == ".json":
            return _json_response(datasette, {"ok": False, "error": message, "status": 500}, status=500)
        return Response.html(await datasette.render_template(
            "tei_network.html", {"network": None, "message": message,
                                 "heading": "Network too large to read in time"},
            request=request), status=500)
    if found is None:
        message = f"No campaign named “{name}” in the served databases."
        if fmt == ".json":
            return _json_response(datasette, {"ok": False, "error": message, "status": 404}, status=404)
        return Response.html(await datasette.render_template(
            "tei_network.html", {"network": None, "message": message}, request=request),
            status=404)
    if fmt == ".json":
        return _json_response(datasette, found)
    context = {"network": found, "svg": extra and extra["svg"], "chosen": extra and extra["chosen"],
               "table_edges": TABLE_EDGES, "draw_edges": DRAW_EDGES,
               "index_url": datasette.urls.path("/-/tei"), "message": found["message"]}
    return Response.html(await datasette.render_template("tei_network.html", context,
                                                         request=request))


ROUTES = [
    (r"^/-/tei/(?P<campaign>[^/]+?)/network(?P<format>\.json)?$", network),
]
