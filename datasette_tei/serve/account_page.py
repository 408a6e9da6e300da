"""The account page: /-/tei/accounts/<userid>, in HTML and JSON.

One section per visible TEI database that holds the account: its profiles,
its campaigns, its figures (accounts.py: stored by the build or counted
from the (userid, tweet_time) index), its coordination partners and a paged
timeline. Every figure links to the rows it counts: a filter of tweets by
the account's userid and one more column, or of campaign_tweets for a
campaign that holds tweets another archive loaded first.

Tweet and profile text is hostile: the template autoescapes, and the tweet
text is linked (URLs, hashtags) from escaped pieces only.
"""
import re
import sqlite3
import urllib.parse

from markupsafe import Markup, escape

from .. import accounts, time_bins
from . import access, pages

_URL = re.compile(r"https?://[^\s<>\"']+")
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)")


def glob_prefix(value):
    """A GLOB pattern that matches the strings starting with `value`."""
    return re.sub(r"([*?\[])", r"[\1]", value) + "*"


def hour_glob(hour):
    # tweet_time 'YYYY-MM-DD HH:MM': the hour is the 12th and 13th characters.
    return "?" * 11 + f"{hour:02d}*"


# What the coordination partners read and link to: shown only to an actor
# who may view all three.
PARTNER_TABLES = ("coordination_runs", "coordination_edges", "coordination_evidence")


def read(conn, userid, after=None, partners=True):
    """Everything the page shows from one database; None when it does not
    know the account. `partners`: whether to read its coordination partners."""
    tables = accounts._tables(conn)
    if not {"tweets", "users", "campaigns", "tei_meta"} <= tables:
        return None
    profiles = accounts.profiles(conn, userid)
    campaigns = accounts.campaigns(conn, userid, tables)
    count = accounts.tweet_count(conn, userid)
    retweeted_by = accounts.retweeted_by(conn, userid)
    if not profiles and not campaigns and not count and not retweeted_by:
        return None
    figures = accounts.stored_or_live_figures(conn, userid, tables) if count else accounts.figures(conn, userid)
    names = accounts.screen_names(conn, [r["value"] for r in figures.get("retweeted_accounts", [])])
    for row in figures.get("retweeted_accounts", []):
        row["label"] = names.get(row["value"])
    timeline, following = accounts.timeline(conn, userid, after)
    return {
        "profiles": profiles,
        "campaigns": campaigns,
        "figures": figures,
        "retweeted_by": retweeted_by,
        "partners": accounts.partners(conn, userid, tables) if partners else None,
        "membership_view": pages.MEMBERSHIP_VIEW in tables,
        "timeline": timeline,
        "next": following,
    }


def _cursor(value):
    """'<tweet_time>|<tweetid>' (or '|<tweetid>' for a tweet without a time)."""
    if not value or "|" not in value:
        return None
    time, _, tweetid = value.rpartition("|")
    if not tweetid.isdigit():
        return None
    return (time or None, int(tweetid))


def _cursor_text(cursor):
    return None if cursor is None else f"{cursor[0] or ''}|{cursor[1]}"


def add_links(datasette, database, userid, data, path):
    url = lambda table, **kw: pages._table_url(datasette, database, table, **kw)  # noqa: E731
    tweets = lambda **kw: url("tweets", userid=userid, **kw)  # noqa: E731
    f = data["figures"]
    links = {
        "tweets": tweets(_sort="tweet_time"),
        "retweets": tweets(is_retweet="1", _sort="tweet_time"),
        "retweeted_by": url("tweets", retweet_userid=userid),
        "users": url("users", userid=userid),
        "first_tweet": tweets(_sort="tweet_time"),
        "last_tweet": tweets(_sort_desc="tweet_time"),
    }
    if f.get("peak_day"):
        links["peak_day"] = tweets(tweet_time__glob=glob_prefix(f["peak_day"]), _sort="tweet_time")
    data["links"] = links
    for row in f.get("months", []):
        row["url"] = tweets(tweet_time__glob=glob_prefix(row["month"]), _sort="tweet_time")
    # Days, weeks or months by the span (time_bins.py); days are stored
    # only for spans that are charted by day or week.
    f["tweet_bins"] = time_bins.choose(f.pop("days", None), f.get("months", []), "tweets")
    for row in f["tweet_bins"][1]:
        row["url"] = row["end"] and tweets(tweet_time__gte=row["start"], tweet_time__lt=row["end"],
                                           _sort="tweet_time")
    for row in f.get("hours", []):
        row["url"] = tweets(tweet_time__glob=hour_glob(row["hour"]), _sort="tweet_time")
    for key, column in (("languages", "tweet_language"), ("clients", "tweet_client_name")):
        for row in f.get(key, []):
            row["url"] = (tweets(**{f"{column}__isblank": "1"}) if row["value"] is None
                          else tweets(**{column: row["value"]}))
    for row in f.get("hashtags", []):
        row["url"] = tweets(hashtags__arraycontains=row["value"])
    for row in f.get("domains", []):
        row["url"] = None  # found by parsing each URL: no filter opens the same rows
    for row in f.get("retweeted_accounts", []):
        row["url"] = tweets(retweet_userid=row["value"], is_retweet="1")
        row["account"] = pages.account_path(datasette, row["value"])
    for entry in data["campaigns"]:
        entry["database"] = database
        entry["page"] = pages.campaign_path(datasette, entry["campaign"])
        member = pages.campaign_tweets(
            datasette, database,
            {"name": entry["campaign"], "shared_tweets": entry.get("shared_tweets"),
             "membership_view": data["membership_view"]})
        entry["url"] = member(userid=userid, _sort="tweet_time")
        entry["profile"] = url("users", campaign=entry["campaign"], userid=userid)
    for edge in data["partners"] or []:
        edge["account"] = pages.account_path(datasette, edge["userid_b"])
        # coordination_evidence has exactly `weight` rows per edge.
        edge["evidence"] = url("coordination_evidence", run_id=edge["run_id"],
                               userid_a=userid, userid_b=edge["userid_b"])
    for tweet in data["timeline"]:
        tweet["url"] = datasette.urls.row(database, "tweets", str(tweet["tweetid"]))
        for key in ("retweet", "in_reply_to", "quoted_tweet"):
            target = tweet.get(f"{key}_tweetid")
            tweet[f"{key}_url"] = (datasette.urls.row(database, "tweets", str(target))
                                   if target and tweet.get(f"{key}_held") else None)
        for key in ("retweet_userid", "in_reply_to_userid"):
            tweet[key.replace("userid", "account")] = (
                pages.account_path(datasette, tweet[key]) if tweet.get(key) else None)
        tweet["campaign_pages"] = [
            {"campaign": c, "page": pages.campaign_path(datasette, c)} for c in tweet["campaigns"]]
    if data["next"] is not None:
        data["next_url"] = path + "?" + urllib.parse.urlencode(
            {"database": database, "after": _cursor_text(data["next"])})
    else:
        data["next_url"] = None
    data["next"] = _cursor_text(data["next"])
    data["database"] = database
    return data


def tweet_html(datasette, database, tweet):
    """The tweet's text, escaped, with its URLs and hashtags linked."""
    text = tweet.get("tweet_text") or ""
    hashtags_url = datasette.urls.table(database, "tweets")
    out = []
    position = 0
    for match in _URL.finditer(text):
        out.append(_hashtags(text[position:match.start()], hashtags_url))
        url = match.group(0).rstrip(".,;:!?)")
        out.append(Markup('<a href="{}" rel="nofollow noopener">{}</a>').format(url, url))
        out.append(escape(match.group(0)[len(url):]))
        position = match.end()
    out.append(_hashtags(text[position:], hashtags_url))
    return Markup("").join(out)


def _hashtags(text, base):
    out = []
    position = 0
    for match in _HASHTAG.finditer(text):
        out.append(escape(text[position:match.start()]))
        href = base + "?" + urllib.parse.urlencode({"hashtags__arraycontains": match.group(1)})
        out.append(Markup('<a href="{}">#{}</a>').format(href, match.group(1)))
        position = match.end()
    out.append(escape(text[position:]))
    return Markup("").join(out)


def charts(f):
    return {
        "months": pages.time_chart(*f["tweet_bins"], "tweets", "Tweets"),
        "hours": pages.hour_chart(f.get("hours", []), height=110),
    }


def _bounded(datasette, read):
    """`read` (a function of a connection) for execute_fn, stopped past
    sql_time_limit_ms as Datasette stops its own queries: an account's
    figures are stored at build time for prolific accounts, but a database
    built before account_summaries existed counts them per request."""
    from datasette.utils import sqlite_timelimit

    limit = datasette.setting("sql_time_limit_ms")

    def bounded(conn):
        with sqlite_timelimit(conn, limit):
            return read(conn)

    return bounded


async def account(datasette, request):
    from datasette.database import QueryInterrupted
    from datasette.utils.asgi import Response

    fmt = request.url_vars.get("format") or ""
    userid = urllib.parse.unquote(request.url_vars["userid"])
    actor = request.actor
    if not await access.can_view_instance(datasette, actor):
        if fmt == ".json":
            return pages._json_response(datasette, {"ok": False, "error": "Forbidden", "status": 403}, status=403)
        return Response.html("Forbidden", status=403)
    wanted_db = request.args.get("database")
    after = _cursor(request.args.get("after"))
    path = pages.account_path(datasette, userid)
    sections = []
    try:
        for database in await access.visible_tei_databases(datasette, actor):
            db = datasette.databases[database]
            cursor = after if database == wanted_db else None
            partners = await access.viewable_tables(
                datasette, actor, database, PARTNER_TABLES) == set(PARTNER_TABLES)
            data = await db.execute_fn(
                _bounded(datasette, lambda conn: read(conn, userid, cursor, partners)))
            if data is None:
                continue
            sections.append(add_links(datasette, database, userid, data, path))
    except (QueryInterrupted, sqlite3.OperationalError) as error:
        if "interrupted" not in str(error):
            raise
        message = "Reading this account took longer than the server's time limit."
        if fmt == ".json":
            return pages._json_response(datasette, {"ok": False, "error": message, "status": 500}, status=500)
        html = await datasette.render_template(
            "tei_account.html", {"userid": userid, "sections": [], "message": message,
                                 "heading": "Account too large to read in time"}, request=request)
        return Response.html(html, status=500)
    if not sections:
        message = f"No account “{userid}” in the served databases."
        if fmt == ".json":
            return pages._json_response(datasette, {"ok": False, "error": message, "status": 404}, status=404)
        html = await datasette.render_template(
            "tei_account.html", {"userid": userid, "sections": [], "message": message}, request=request)
        return Response.html(html, status=404)
    if fmt == ".json":
        return pages._json_response(datasette, {"userid": userid, "databases": sections})
    for section in sections:
        section["charts"] = charts(section["figures"])
        for tweet in section["timeline"]:
            tweet["html"] = tweet_html(datasette, section["database"], tweet)
    profile = next((s["profiles"][0] for s in sections if s["profiles"]), None)
    html = await datasette.render_template(
        "tei_account.html",
        {"userid": userid, "sections": sections, "profile": profile,
         "json_url": pages.account_path(datasette, userid, ".json"),
         "index_url": datasette.urls.path("/-/tei")},
        request=request,
    )
    return Response.html(html)


ROUTES = [
    (r"^/-/tei/accounts/(?P<userid>[^/]+?)(?P<format>\.json)?$", account),
]
