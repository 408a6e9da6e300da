"""Datasette plugin hooks for datasette-tei, registered through the package
(__init__.py says why): thin, delegating to pages.py (campaign pages,
JSON), queries.py (canned queries), search.py (the search functions) and
access.py (what an actor may see). The render_cell helpers are here
because they are a few lines."""
import contextvars
import json
import re

from datasette import hookimpl, hookspecs
from markupsafe import Markup, escape

from .. import accounts, search
from . import (access, account_page, exports, network_page, pages, precomputed_facets, queries, served,
               table_settings, tweets_view, zeroconf)
from ..schema import is_tei_database

# 2018 hashes are 64 hex digits; later ones base64-like, 40-44 chars.
_HASHED = re.compile(r"^(?:[0-9a-f]{64}|[A-Za-z0-9+/]{38,44}={0,2})$")
_ID_COLUMNS = {"userid", "retweet_userid", "in_reply_to_userid", "user_screen_name",
               "user_display_name", "screen_name"}
# Columns that hold a user id, linked to the account page; and screen-name
# columns, linked to the account of their row's user id column.
_USERID_COLUMNS = {"userid", "retweet_userid", "in_reply_to_userid", "userid_a", "userid_b"}
_SCREEN_NAME_COLUMNS = {"user_screen_name": ("userid",),
                        "screen_name": ("userid", "retweet_userid")}
_TWEETID_COLUMNS = {"tweetid", "tweetid_str"}


@hookimpl
def startup(datasette):
    async def inner():
        for name in list(datasette.databases):
            served.forget(name)
            await served.is_tei(datasette, name)
        if hasattr(datasette, "set_database_metadata"):  # Datasette 1.0
            await zeroconf.apply_10(datasette)
        if hasattr(datasette, "add_query"):  # Datasette 1.0a31 and later
            await queries.register_all(datasette)

    return inner


# Hooks that one Datasette line declares and the other does not. pluggy
# registers an implementation of an undeclared hook without a word and never
# calls it (only check_pending(), which Datasette does not run, would
# object), so each is defined only where its line declares it.
_DECLARED = frozenset(name for name in dir(hookspecs) if not name.startswith("_"))

if "get_metadata" in _DECLARED:  # Datasette 0.65; 1.0: zeroconf.apply_10 from startup
    @hookimpl
    def get_metadata(datasette, key, database, table):
        # Called synchronously, on every metadata lookup: served.py keeps
        # which databases are TEI databases and their tables.
        return zeroconf.metadata_065(datasette, database)

if "canned_queries" in _DECLARED:  # Datasette 0.65; 1.0: startup above
    @hookimpl
    def canned_queries(datasette, database):
        async def inner():
            return await queries.canned_queries(datasette, database)

        return inner

if "permission_allowed" in _DECLARED:  # Datasette 0.65
    @hookimpl
    def permission_allowed(datasette, actor, action, resource):
        # The plugin's canned queries are closed to an actor who may not
        # view the tables they read (queries.py).
        if action != "view-query":
            return None

        async def inner():
            return await queries.view_query_allowed(datasette, actor, resource)

        return inner

if "permission_resources_sql" in _DECLARED:  # Datasette 1.0
    @hookimpl
    def permission_resources_sql(datasette, actor, action):
        if action != "view-query":
            return None

        async def inner():
            return await queries.denied_permission_sql(datasette, actor)

        return inner


# Memory-mapped reads: a search or facet over many tweets reads each
# matching row by its id, and with mmap a page already in the operating
# system's cache costs a memory read, not a system call and a copy into
# SQLite's small page cache (about a third less time per row measured).
MMAP_BYTES = 2**31 - 2**16  # the largest size SQLite builds allow by default


# trylast: Datasette registers its escape_fts() in this hook too, and a TEI
# database's must be the one that stays. The search functions go to TEI
# databases only, each bounded (search.MAX_*): Datasette's time limit
# cannot stop a call once it has started.
@hookimpl(trylast=True)
def prepare_connection(conn, database, datasette):
    if is_tei_database(conn):
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        search.register_search_functions(conn)
        search.read_searches_as_indexed(conn)
        # ?_search= and a campaign's count read from the index and the
        # build's figures (tweets_view.py).
        db = datasette.databases.get(database) if datasette is not None else None
        if db is not None:
            tweets_view.install(db)


@hookimpl(hookwrapper=True)
def register_facet_classes():
    # Datasette's column, array and date facets, answered from the counts the
    # build made when the page is the tweets table, whole or one campaign's
    # (precomputed_facets.py). A wrapper, so that metadata keeps the plain facet
    # names and every other table and view is faceted by Datasette's code.
    outcome = yield
    outcome.force_result(precomputed_facets.replace_facet_classes(outcome.get_result()))


@hookimpl
def register_routes():
    # Accounts first: /-/tei/accounts/<id> would otherwise match the campaign routes.
    return account_page.ROUTES + network_page.ROUTES + pages.ROUTES


@hookimpl
def register_output_renderer(datasette):
    return exports.RENDERERS


@hookimpl
def extra_css_urls(datasette, database, template):
    # The plugin's own pages (tei_*.html) and a TEI database's pages only:
    # every other page is Datasette's own, unchanged.
    css = datasette.urls.static_plugins("datasette_tei", "tei.css")
    if template and template.startswith("tei_"):
        return [css]
    if not database:
        return []

    async def inner():
        if await served.is_tei(datasette, database):
            # tei-tables.css: the column descriptions, shown compactly.
            return [css, datasette.urls.static_plugins("datasette_tei", "tei-tables.css")]
        return []

    return inner


@hookimpl
def extra_template_vars(datasette, database, template):
    # For the plugin's index.html, database.html and query.html, which
    # extend Datasette's: tweets, users and campaigns listed first, and the
    # plugin's queries titled by their titles, on TEI databases only.
    if template == "index.html":
        def main_first(databases):
            return [
                dict(d, tables_and_views_truncated=table_settings.main_first(
                    d["tables_and_views_truncated"]))
                if served.tables_if_tei(datasette, d["name"]) is not None else d
                for d in databases
            ]

        return {"tei_main_first_databases": main_first}
    if not database:
        return {}

    async def inner():
        if await served.is_tei(datasette, database):
            return {"tei_query_names": list(queries.NAMES), "tei_main_first": table_settings.main_first}
        return {}

    return inner


@hookimpl
def menu_links(datasette, actor):
    async def inner():
        if not await access.visible_tei_databases(datasette, actor):
            return []
        return [{"href": datasette.urls.path("/-/tei"), "label": "Influence-operation campaigns"}]

    return inner


@hookimpl
def table_actions(datasette, actor, database, table, request):
    if table not in ("tweets", "users"):
        return None

    async def inner():
        if database not in await access.visible_tei_databases(datasette, actor):
            return []
        links = [{"href": datasette.urls.path("/-/tei"), "label": "Campaign pages"}]
        campaign = request.args.get("campaign") if request is not None else None
        if campaign:
            links.insert(0, {
                "href": pages.campaign_path(datasette, campaign),
                "label": f"Campaign page: {campaign}",
            })
        return links

    return inner


def shorten_hash(value):
    return Markup('<span class="tei-id" title="{}">{}…</span>').format(value, value[:10])


def render_hashtags(datasette, database, value):
    try:
        tags = json.loads(value)
    except (TypeError, ValueError):
        return None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return None
    base = datasette.urls.table(database, "tweets")
    links = [
        Markup('<a href="{}?{}">#{}</a>').format(
            base, pages.urllib.parse.urlencode({"hashtags__arraycontains": tag}), tag
        )
        for tag in tags
    ]
    return Markup(", ").join(links) if links else Markup("")


def render_snippet(value):
    text = str(escape(value))
    return Markup(
        text.replace(search.OPEN, '<mark class="tei-hit">').replace(search.CLOSE, "</mark>")
    )


def _cell(row, key):
    try:
        return row[key]
    except (KeyError, IndexError, TypeError):
        return None


def _account_of(row, column, table, value):
    """The user id whose account page a cell links to, or None."""
    if column in _USERID_COLUMNS and isinstance(value, str):
        return value
    if column == "value" and table == "campaign_top" and _cell(row, "kind") in ("account", "retweeted"):
        return value if isinstance(value, str) else None
    for key in _SCREEN_NAME_COLUMNS.get(column, ()):
        userid = _cell(row, key)
        if isinstance(userid, str) and userid:
            return userid
    return None


def render_account(datasette, userid, value):
    href = pages.account_path(datasette, userid)
    if isinstance(value, str) and _HASHED.match(value):
        return Markup('<a href="{}" class="tei-id" title="{}">{}…</a>').format(href, value, value[:10])
    return Markup('<a href="{}">{}</a>').format(href, value)


# The request being answered, for render_cell: Datasette 0.65 does not pass
# it to that hook, and the links it renders must be the ones this actor may
# follow. Datasette calls actor_from_request with the request it then gives
# its actor and passes to the view, in the same task: a context variable
# carries it there (the 1.0 alphas keep their permission cache so too).
_request = contextvars.ContextVar("datasette_tei_request", default=None)


@hookimpl
def actor_from_request(datasette, request):
    _request.set((request, {}))
    return None  # not an authentication: no opinion on the actor


async def may_link_to_tweets(datasette, database):
    """Whether this request's actor may view `tweets` (asked once a request)."""
    request, seen = _request.get() or (None, {})
    if database not in seen:
        actor = request.actor if request is not None else None
        seen[database] = await access.can_view_table(datasette, actor, database, "tweets")
    return seen[database]


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if not isinstance(value, (str, int)) or value == "":
        return None
    userid = _account_of(row, column, table, value)
    wanted = (
        userid is not None
        or (column in _TWEETID_COLUMNS and (table is None or table in _TWEET_TABLES))
        or (column in _ID_COLUMNS and isinstance(value, str) and _HASHED.match(value))
        or (column == "hashtags" and isinstance(value, str) and value.startswith("["))
        or (column == "snippet" and table is None and isinstance(value, str) and search.OPEN in value)
    )
    if not wanted:
        return None

    async def inner():
        if not await served.is_tei(datasette, database):
            return None
        if userid is not None:
            return render_account(datasette, userid, value)
        if column in _TWEETID_COLUMNS:
            if not str(value).isdigit() or not await may_link_to_tweets(datasette, database):
                return None
            href = datasette.urls.row(database, "tweets", str(value))
            return Markup('<a href="{}">{}</a>').format(href, value)
        if column == "hashtags":
            if not await may_link_to_tweets(datasette, database):
                return None
            return render_hashtags(datasette, database, value)
        if column == "snippet":
            return render_snippet(value)
        return shorten_hash(value)

    return inner


_TWEET_TABLES = {"tweets", pages.MEMBERSHIP_VIEW, "shared_tweets"}
_CARD_SKIPS = {"tweet_text", "tweetid", "campaign", "userid", "user_screen_name", "tweet_time", "import_id"}


# A second implementation of the same hook, under its own name: a module
# holds one function of a name, and the first one is the listing pages'.
@hookimpl(specname="extra_template_vars")
def tweet_row_template_vars(template, database, table, view_name, request, datasette):
    # The tweet row page: the tweet's text first, and every campaign whose
    # archive holds it (templates/row.html shows them above Datasette's table).
    if view_name != "row" or table != "tweets" or request is None:
        return None

    async def inner():
        if not await served.is_tei(datasette, database):
            return {}
        pks = request.url_vars.get("pks", "")
        if not pks.isdigit():
            return {}
        tweetid = int(pks)

        def read(conn):
            cursor = conn.execute("SELECT * FROM tweets WHERE tweetid = ?", (tweetid,))
            row = cursor.fetchone()
            if row is None:
                return None
            tweet = dict(zip([d[0] for d in cursor.description], row))
            # Every other column that has a value, one a line: Datasette's
            # table of the row below is one line of 35 columns.
            tweet["details"] = [
                (key, value) for key, value in tweet.items()
                if key not in _CARD_SKIPS and not key.endswith("_str")
                and value not in (None, "", "[]", "{}")
            ]
            tweet["campaigns"] = accounts.tweet_campaigns(conn, tweetid)
            return tweet

        tweet = await datasette.get_database(database).execute_fn(read)
        if tweet is None:
            return {}
        tweet["html"] = account_page.tweet_html(datasette, database, tweet)
        tweet["campaign_pages"] = [
            {"campaign": c, "page": pages.campaign_path(datasette, c)} for c in tweet["campaigns"]]
        for key in ("userid", "retweet_userid", "in_reply_to_userid"):
            tweet[key + "_page"] = pages.account_path(datasette, tweet[key]) if tweet[key] else None
        return {"tei_tweet": tweet}

    return inner


def hooks():
    """This module's hook implementations, by attribute name."""
    return {name: value for name, value in globals().items() if hasattr(value, "datasette_impl")}
