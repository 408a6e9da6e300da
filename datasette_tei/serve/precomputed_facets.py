"""The default facets of tweets served from the build's counts
(facet_counts.py): Datasette's column, array and date facet classes,
subclassed so that the whole table and one campaign's tweets read the
counts, and every other view is computed live (live_facets.py) unless it
has more rows than a facet can group within facet_time_limit_ms."""
import copy
import functools
import re

from ..facet_counts import FACETS, TABLE, current
from . import live_facets, served

TOP_SQL = f"""SELECT value, count FROM [{TABLE}]
WHERE type = :type AND facet = :facet AND campaign IS :campaign
ORDER BY count DESC, value LIMIT :limit"""

# The SQL Datasette's table view gives the facets for the whole table and
# for one campaign (`?campaign=X` or `?campaign__exact=X`): a plain column list.
_VIEW = re.compile(
    r'\s*select\s+[\w\s,]+?\s+from\s+(?:tweets|\[tweets\]|"tweets")\s*'
    r'(?P<where>where\s+"campaign"\s*=\s*:p0\s*)?',
    re.IGNORECASE,
)

# Datasette's clause for ?_search= (filters.py): the view's rows are among
# the index's matches, which the index alone counts in a few ms.
_SEARCH_CLAUSE = re.compile(
    r"in \(select rowid from (?P<fts>\[[^\]]+\]|\w+) where (?P=fts) match "
    r"(?P<match>escape_fts\(:search\)|:search)\)")

# Above this many rows a view of a TEI database gets no suggested facets.
SUGGEST_MAX_ROWS = 100_000
# Rows a live facet groups per ms of facet_time_limit_ms: a view of more
# rows than the two multiplied would only time out, so its live facets are
# not run. Measured at about 600 per ms (one facet over the 364,000 rows of a
# search of 5M tweets: 0.6 s). Raising facet_time_limit_ms raises the bound:
# larger views then get live facets.
LIVE_FACET_ROWS_PER_MS = 500
# database name -> (Datasette instance, current?): kept for an immutable
# database; a mutable one (perhaps being built) is checked on every request.
_CURRENT = {}


async def _counts_current(ds, database):
    db = ds.databases.get(database)
    if db is None:
        return False
    known = _CURRENT.get(database)
    if known and known[0] is ds and not db.is_mutable:
        return known[1]
    try:
        result = bool(await db.execute_fn(current))
    except Exception:
        result = False
    _CURRENT[database] = (ds, result)
    return result


def view_campaign(sql, params):
    """For the SQL and parameters of a table view of tweets: (True, None) for
    every tweet, (True, X) for the tweets of campaign X, (False, None) otherwise."""
    match = _VIEW.fullmatch(sql or "")
    if not match:
        return False, None
    if match.group("where"):
        if isinstance(params, dict) and set(params) == {"p0"} and isinstance(params["p0"], str):
            return True, params["p0"]
        return False, None
    return (not params), None


class _Answer:
    """Datasette, except that its one execute() call in a facet's
    facet_results() reads the precomputed counts instead of the rows."""

    def __init__(self, ds, params):
        self._ds = ds
        self._params = params

    def __getattr__(self, name):
        return getattr(self._ds, name)

    async def execute(self, database, sql, params=None, **kwargs):
        return await self._ds.execute(database, TOP_SQL, self._params, **kwargs)


class _Given(_Answer):
    """Datasette, except that the facet's one execute() call gets the rows
    the view's single pass counted (live_facets.py)."""

    async def execute(self, database, sql, params=None, **kwargs):
        return self._params


class _Precomputed:
    """Mixin for Datasette's facet classes: the default facets of tweets from
    the counts, when the view is every tweet or one campaign's; everything
    else, and every other table, by Datasette's own code."""

    async def _scope(self):
        if self.table != "tweets":
            return False, None
        ok, campaign = view_campaign(self.sql, self.params)
        if not ok or not await _counts_current(self.ds, self.database):
            return False, None
        return True, campaign

    async def suggest(self):
        # Datasette suggests facets by grouping the page's rows by every
        # column, three facet types over, each query stopped at
        # facet_suggest_time_limit_ms: over a million tweets that is about a
        # hundred queries that all time out, some 5 s of CPU per table page
        # for no suggestion. In a TEI database, tweets gets none (its facets
        # are in metadata, and counting a search's matches to decide would
        # cost as much as a facet), nor does any view of more rows than
        # SUGGEST_MAX_ROWS; smaller ones, such as the users table, keep them.
        if await served.is_tei(self.ds, self.database) and (
                self.table == "tweets" or not await self._few_rows()):
            return []
        return await super().suggest()

    async def _few_rows(self, most=None, time_limit="facet_suggest_time_limit_ms"):
        most = SUGGEST_MAX_ROWS if most is None else most
        sql = f"SELECT count(*) FROM (SELECT 1 FROM ({self.sql}) LIMIT {most + 1})"
        try:
            rows = await self.ds.execute(
                self.database, sql, self.params,
                custom_time_limit=self.ds.setting(time_limit),
            )
        except Exception:  # interrupted (too many rows to count quickly) or not countable
            return False
        return rows.first()[0] <= most

    async def _too_many_rows(self):
        """True when, in a TEI database, the view has more rows than a live
        facet can group within facet_time_limit_ms. self.row_count is
        Datasette's count of the view (None when it skipped the count or
        the count timed out: then only a search is checked)."""
        limit = self.ds.setting("facet_time_limit_ms") * LIVE_FACET_ROWS_PER_MS
        if self.row_count is None:
            # No count (?_nocount=1, or it timed out): a search's matches
            # still tell, from the index alone.
            return (await served.is_tei(self.ds, self.database)
                    and await self._cached(lambda: self._search_too_large(limit)))
        if self.row_count > limit:
            return await served.is_tei(self.ds, self.database)
        # Datasette 1.0 counts at most count_limit + 1 rows: "more than
        # count_limit". Count on to the bound, once per page (three facet
        # types ask), and within the facet time limit: a view that cannot
        # be counted that far in time cannot be grouped in time either.
        capped = getattr(self.ds.databases.get(self.database), "count_limit", None)
        if capped is None or self.row_count != capped + 1 or limit <= capped:
            return False
        if not await served.is_tei(self.ds, self.database):
            return False
        return await self._cached(lambda: self._too_many_counted(limit))

    async def _too_many_counted(self, limit):
        return (await self._search_too_large(limit)
                or not await self._few_rows(limit, "facet_time_limit_ms"))

    async def _cached(self, decide):
        """decide(), once per page: the three facet types ask the same."""
        view = (self.sql, repr(self.params))
        known = getattr(self.request, "_tei_too_many", None)
        if known is None or known[0] != view:
            known = (view, await decide())
            if self.request is not None:
                self.request._tei_too_many = known
        return known[1]

    async def _search_too_large(self, limit):
        """A search whose matches, counted in the full-text index, exceed the
        bound: each facet would read every match's row (counting the view's
        rows instead costs as much as the bound allows)."""
        clause = _SEARCH_CLAUSE.search(self.sql)
        if not clause or not isinstance(self.params, dict) or "search" not in self.params:
            return False
        fts = clause.group("fts")
        sql = (f"SELECT count(*) FROM (SELECT rowid FROM {fts} WHERE {fts} MATCH "
               f"{clause.group('match')} LIMIT {limit + 1})")
        try:
            rows = await self.ds.execute(self.database, sql, {"search": self.params["search"]},
                                         custom_time_limit=self.ds.setting("facet_time_limit_ms"))
        except Exception:  # interrupted: more matches than can be counted in time
            return True
        return rows.first()[0] > limit

    async def facet_results(self):
        configs = self.get_configs()
        if not configs:
            return [], []
        counted = self._precomputed_columns()
        precomputed, campaign = False, None
        if any(self._column(config) in counted for config in configs):
            precomputed, campaign = await self._scope()
        # A live facet of too many rows is reported as timed out, under the
        # name Datasette's own time-out gives it, without being run. (Asked
        # only where a facet would run live: the question may cost a count.)
        if not precomputed:
            if await self._too_many_rows():
                return [], [self._column(config) for config in configs]
            passed = await self._one_pass()
            if passed is None or not passed.ran and not passed.timed_out:
                return await super().facet_results()
            if passed.timed_out:
                return [], [self._column(config) for config in configs]
            results, timed_out = [], []
            for config in configs:
                one = copy.copy(self)
                one.get_configs = lambda config=config: [config]
                one.ds = _Given(self.ds, passed.results(self.type, self._column(config)))
                facet_results, facets_timed_out = await super(_Precomputed, one).facet_results()
                results.extend(facet_results)
                timed_out.extend(facets_timed_out)
            return results, timed_out
        too_many = (any(self._column(config) not in counted for config in configs)
                    and await self._too_many_rows())
        results, timed_out = [], []
        limit = self.get_facet_size() + 1
        for config in configs:  # one at a time, in order, each by Datasette's code
            one = copy.copy(self)
            one.get_configs = lambda config=config: [config]
            column = self._column(config)
            if column in counted:
                one.ds = _Answer(self.ds, {"type": self.type, "facet": column,
                                           "campaign": campaign, "limit": limit})
            elif too_many:  # a facet the URL added, not counted: live
                timed_out.append(column)
                continue
            facet_results, facets_timed_out = await super(_Precomputed, one).facet_results()
            results.extend(facet_results)
            timed_out.extend(facets_timed_out)
        return results, timed_out

    async def _one_pass(self):
        """The page's live facets of a view of tweets, from one read of its
        rows (live_facets.py), or None where Datasette's own run: another
        table, or a page of one facet (nothing to share)."""
        if self.table != "tweets" or not await served.is_tei(self.ds, self.database):
            return None
        config = self.table_config if hasattr(self, "table_config") else self.metadata
        facets = live_facets.page_facets(self.request, config)
        if len(facets) < 2 or not any(type == self.type for type, _ in facets):
            return None
        limit = self.get_facet_size() + 1
        time_limit = self.ds.setting("facet_time_limit_ms") * len(facets)
        return await live_facets.shared_pass(
            self.request, (self.sql, repr(self.params)),
            lambda: live_facets.run_pass(self.ds, self.database, self.sql, self.params, facets, limit,
                                         time_limit))

    @staticmethod
    def _column(source_and_config):
        config = source_and_config["config"]
        return config.get("column") or config.get("simple")

    def _precomputed_columns(self):
        return {column for type, column in FACETS if type == self.type}


@functools.lru_cache(maxsize=None)
def _replacements():
    """Datasette's column, array and date facet classes, each mapped to its
    subclass with the mixin above, made once."""
    from datasette.facets import ArrayFacet, ColumnFacet, DateFacet

    return {base: type(f"Tei{base.__name__}", (_Precomputed, base), {"__module__": __name__})
            for base in (ColumnFacet, ArrayFacet, DateFacet)}


def replace_facet_classes(registered):
    """The facet classes of every plugin (a list per plugin), with
    Datasette's own three replaced by their subclasses (_replacements)."""
    replacements = _replacements()
    return [[replacements.get(klass, klass) for klass in classes or []] for classes in registered]
