"""The live facets of a view of `tweets`, every one from a single read of
the view's rows.

Datasette runs one query per facet, each over the whole view: for a search
of 30,000 matches, the six default facets of tweets look every match up
in the table six times (a random read of a row each), about 250 ms of CPU
on the 2-core benchmark machine, most of it spent six times over. Here the
view's rows are read once, their facet columns kept in a temporary table
(`m`, a materialized common table expression), and each facet is grouped
from that: the same SQL as Datasette's facets (datasette/facets.py: a column's
values, an array's distinct items per row, the dates of a column), the same
`order by count desc, value` and limit, answered in about a third of the time.

The facets a page shows are of three types, answered by three facet
classes, each on its own: the first to ask runs the pass for all of them
and the others read its answer (one pass per page and view).
"""
import asyncio

from datasette.database import QueryInterrupted, Results
from datasette.facets import load_facet_configs
from datasette.utils import escape_sqlite

# The facet types this reads once; any other type is Datasette's.
TYPES = ("column", "array", "date")
_KEY = "_tei_key"
# The view's key: tweets' primary key, so that an array's items count once
# per row, as Datasette's `select distinct j.value, inner.*` counts them.
_ROW_KEY = "tweetid"


def page_facets(request, config):
    """(type, column) of every facet of the page, in Datasette's order, for
    the types this reads once; config is the table's metadata (0.65) or
    configuration (1.0)."""
    configs = load_facet_configs(request, config)
    facets = []
    for type in TYPES:
        for source_and_config in configs.get(type) or []:
            facet = source_and_config["config"]
            column = (facet.get("column") or facet.get("simple")) if isinstance(facet, dict) else None
            if isinstance(column, str) and (type, column) not in facets:
                facets.append((type, column))
    return facets


def _grouped(index, type, column, limit):
    col = escape_sqlite(column)
    if type == "column":
        return (f"select {index} as facet, {col} as value, count(*) as count from m "
                f"where {col} is not null group by {col} order by count desc, value limit {limit}")
    if type == "array":
        return (f"select {index} as facet, value, count(*) as count from "
                f"(select distinct m.[{_KEY}], j.value from m join json_each(m.{col}) j) "
                f"group by value order by count desc, value limit {limit}")
    return (f"select {index} as facet, date({col}) as value, count(*) as count from m "
            f"where date({col}) is not null group by date({col}) order by count desc, value limit {limit}")


def one_pass_sql(view_sql, facets, limit):
    """One statement for every facet: rows (facet, value, count), facet the
    index in `facets`, at most `limit` rows a facet, in each facet's order."""
    columns = []
    for _, column in facets:
        if column not in columns:
            columns.append(column)
    kept = ", ".join([f"{escape_sqlite(_ROW_KEY)} as [{_KEY}]"] + [escape_sqlite(c) for c in columns])
    arms = [f"f{i} as ({_grouped(i, type, column, limit)})" for i, (type, column) in enumerate(facets)]
    union = " union all ".join(f"select facet, value, count from f{i}" for i in range(len(facets)))
    return f"with m as materialized (select {kept} from ({view_sql})), {', '.join(arms)} {union}"


class Pass:
    """The answers of one pass, per facet, as Datasette's execute() gives
    them (rows with value and count). `ran` is False when the pass failed
    (a column the view lacks, an array column that is not JSON): the facets
    are then Datasette's, which reports the error as usual. `timed_out`:
    the pass did not finish in the time the facets had together."""

    def __init__(self, facets, results=None, timed_out=False):
        self.rows = {facet: [] for facet in facets}
        self.ran = results is not None
        self.timed_out = timed_out
        for row in results.rows if results is not None else ():
            self.rows[facets[row["facet"]]].append({"value": row["value"], "count": row["count"]})

    def results(self, type, column):
        return Results(self.rows[(type, column)], False, [("value",), ("count",)])


async def run_pass(ds, database, view_sql, params, facets, limit, time_limit_ms):
    """The pass, within the time Datasette would give the facets together
    (its execute() keeps that under sql_time_limit_ms)."""
    try:
        results = await ds.execute(database, one_pass_sql(view_sql, facets, limit), params,
                                   truncate=False, custom_time_limit=time_limit_ms)
    except QueryInterrupted:
        return Pass(facets, timed_out=True)
    except Exception:
        return Pass(facets)
    return Pass(facets, results)


_ATTRIBUTE = "_tei_live_facets"


async def shared_pass(request, view, start):
    """The pass for this page's view, started once (by whichever facet class
    asks first) and awaited by the others."""
    known = getattr(request, _ATTRIBUTE, None)
    if known is None or known[0] != view:
        known = (view, asyncio.ensure_future(start()))
        setattr(request, _ATTRIBUTE, known)
    return await asyncio.shield(known[1])
