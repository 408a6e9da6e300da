"""Campaign pages: /-/tei (every campaign) and /-/tei/<campaign>, in HTML and JSON.

Everything a page shows comes from the campaigns table and the summary
tables the build precomputed (summaries.py): a page runs a dozen indexed
lookups, never an aggregate over tweets. A database built before a summary
table existed still gets its pages, with the missing parts left empty.

Tweet and profile text is written by troll farms: templates autoescape, and
the SVG charts are built from escaped strings (markupsafe) only.
"""
import itertools
import json
import urllib.parse

from markupsafe import Markup, escape

from .. import summaries, time_bins
from . import access, served
from ..schema import dict_rows as _dicts
from ..schema import is_tei_database
from ..schema import tables_and_views as _tables

TOP = 15  # rows per table on a campaign page

# Every tweet of each campaign that holds it (schema.VIEWS).
MEMBERSHIP_VIEW = "campaign_tweets"
# The same with each tweet's weekday and hour: the hour chart and heatmap link here.
HOURS_VIEW = "campaign_tweet_hours"
# Accounts created per day and campaign (all_campaigns.py).
CREATION_DAYS = "campaign_creation_days"

# (key in the page data, campaign_top kind, tweets column to facet, title)
TOP_TABLES = (
    ("languages", "language", "tweet_language", "Languages"),
    ("clients", "client", "tweet_client_name", "Clients"),
    ("hashtags", "hashtag", "hashtags", "Hashtags"),
    ("domains", "domain", None, "URL domains"),
    ("active_accounts", "account", "userid", "Most active accounts"),
    ("retweeted_accounts", "retweeted", "retweet_userid", "Most retweeted accounts"),
)

CAMPAIGN_COLUMNS = (
    "name", "country", "release", "release_date", "description", "synthetic",
    "announced_accounts", "announced_tweets", "tweets", "accounts", "tweeting_accounts",
    "hashed_accounts", "shared_tweets", "rejected_rows", "first_tweet", "last_tweet", "updated",
)


# --- Reading the database (run in Datasette's thread, on one connection) ----

def _campaign_columns(conn):
    present = {row[1] for row in conn.execute("PRAGMA table_info(campaigns)")}
    return [c for c in CAMPAIGN_COLUMNS if c in present]


def read_campaigns(conn):
    """Every campaign of a TEI database, with its monthly tweets; [] otherwise."""
    if not is_tei_database(conn):
        return []
    columns = _campaign_columns(conn)
    campaigns = _dicts(conn.execute(
        f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM campaigns ORDER BY release, name"
    ))
    months = {}
    if "campaign_months" in _tables(conn):
        for campaign, month, tweets in conn.execute(
            "SELECT campaign, month, tweets FROM campaign_months ORDER BY campaign, month"
        ):
            months.setdefault(campaign, []).append({"month": month, "tweets": tweets})
    membership = MEMBERSHIP_VIEW in _tables(conn)
    for campaign in campaigns:
        campaign["months"] = months.get(campaign["name"], [])
        campaign["membership_view"] = membership
    return campaigns


def _short_span_days(conn, tables, table, key, campaign):
    """The campaign's rows of a per-day table when its span is charted by
    day or week; None otherwise (charted by month), read from the
    (campaign, day) key: first and last day, then the days if few."""
    if table not in tables:
        return None
    first, last = conn.execute(f"SELECT min(day), max(day) FROM [{table}] WHERE campaign = ? "
                               "AND day > ''", (campaign,)).fetchone()
    if not time_bins.within_weeks(first, last):
        return None
    return _dicts(conn.execute(f"SELECT day, [{key}] FROM [{table}] WHERE campaign = ? ORDER BY day",
                               (campaign,)))


def read_campaign(conn, name):
    """One campaign's page data, or None when the database does not hold it.

    `name` comes from a URL: it is only ever a bound parameter."""
    if not is_tei_database(conn):
        return None
    columns = _campaign_columns(conn)
    rows = _dicts(conn.execute(
        f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM campaigns WHERE name = ?", (name,)
    ))
    if not rows:
        return None
    data = rows[0]
    tables = _tables(conn)
    missing = [table for table in summaries.PAGE_TABLES if table not in tables]
    data["missing_summaries"] = missing
    data["networks"] = "coordination_runs" in tables
    data["membership_view"] = MEMBERSHIP_VIEW in tables
    data["hours_view"] = HOURS_VIEW in tables
    if data.get("shared_tweets") and not data["membership_view"]:
        missing.append(MEMBERSHIP_VIEW)
    p = {"campaign": name}

    def query(table, sql):
        return _dicts(conn.execute(sql, p)) if table in tables else []

    data["months"] = query(
        "campaign_months",
        "SELECT month, tweets FROM campaign_months WHERE campaign = :campaign ORDER BY month",
    )
    # Days, weeks or months, by the span (time_bins.py); None: no days stored.
    data["tweet_bins"] = time_bins.choose(
        _short_span_days(conn, tables, "campaign_days", "tweets", name), data["months"], "tweets")
    by_cell = query(
        "campaign_hours",
        "SELECT weekday, hour, tweets FROM campaign_hours WHERE campaign = :campaign "
        "ORDER BY weekday, hour",
    )
    hours = [0] * 24
    for cell in by_cell:
        if 0 <= cell["hour"] < 24:
            hours[cell["hour"]] += cell["tweets"]
    data["hours"] = [{"hour": hour, "tweets": tweets} for hour, tweets in enumerate(hours)]
    data["weekday_hours"] = [
        dict(cell, day=summaries.WEEKDAYS[cell["weekday"] % 7]) for cell in by_cell
    ]
    data["account_months"] = query(
        "campaign_account_months",
        "SELECT month, accounts FROM campaign_account_months WHERE campaign = :campaign "
        "ORDER BY month",
    )
    data["account_bins"] = time_bins.choose(
        _short_span_days(conn, tables, CREATION_DAYS, "accounts", name), data["account_months"],
        "accounts")
    for key, kind, _, _ in TOP_TABLES:
        rows = []
        if "campaign_top" in tables:
            rows = _dicts(conn.execute(
                "SELECT rank, value, label, tweets, accounts, internal FROM campaign_top "
                "WHERE campaign = :campaign AND kind = :kind AND rank <= :top ORDER BY rank",
                dict(p, kind=kind, top=TOP),
            ))
        data[key] = rows
    return data


# --- Links to the Datasette views behind each figure -----------------------

def _table_url(datasette, database, table, **params):
    url = datasette.urls.table(database, table)
    query = urllib.parse.urlencode([(k, v) for k, v in params.items() if v is not None])
    return f"{url}?{query}" if query else url


def campaign_path(datasette, name, fmt=""):
    # Dots encoded too, so that a name ending in .json is not read as a format.
    quoted = urllib.parse.quote(name, safe='').replace('.', '%2E')
    return datasette.urls.path(f"/-/tei/{quoted}{fmt}")


def account_path(datasette, userid, fmt=""):
    quoted = urllib.parse.quote(str(userid), safe='').replace('.', '%2E')
    return datasette.urls.path(f"/-/tei/accounts/{quoted}{fmt}")


def campaign_tweets(datasette, database, campaign):
    """A function giving the URL of the campaign's tweets with more filters.

    A tweet that several campaigns' archives hold is a row of tweets under
    the first (tweets.campaign) and of shared_tweets under the others. When
    the campaign has such tweets, its figures count them, and the links open
    the campaign_tweets view, which holds them; otherwise the campaign's
    tweets are exactly `tweets?campaign=X`, whose facets the build counted."""
    if campaign.get("shared_tweets") and campaign.get("membership_view"):
        table, column = MEMBERSHIP_VIEW, "in_campaign"
    else:
        table, column = "tweets", "campaign"
    name = campaign["name"]
    return lambda **kw: _table_url(datasette, database, table, **{column: name}, **kw)


def card_links(datasette, database, campaign):
    name = campaign["name"]
    return {
        "page": campaign_path(datasette, name),
        "json": campaign_path(datasette, name, ".json"),
        "tweets": campaign_tweets(datasette, database, campaign)(),
        "users": _table_url(datasette, database, "users", campaign=name),
    }


def add_links(datasette, database, data):
    """Give every figure the URL of the Datasette view that backs it: each
    figure equals the number of rows its URL opens (docs/accounts.md). The
    figures with no such view (accounts per language, domains) get none."""
    name = data["name"]
    tweets = campaign_tweets(datasette, database, data)
    users = lambda **kw: _table_url(datasette, database, "users", campaign=name, **kw)  # noqa: E731
    query = lambda q, **kw: datasette.urls.database(database) + f"/{q}?" + urllib.parse.urlencode(  # noqa: E731
        dict(campaign=name, **kw))
    data["database"] = database
    data["links"] = dict(card_links(datasette, database, data), **{
        # Every account of the campaign's tweets has its row in campaign_top.
        "tweeting_accounts": _table_url(datasette, database, "campaign_top", campaign=name,
                                        kind="account", _sort="rank"),
        "shared_tweets": _table_url(datasette, database, "shared_tweets", campaign=name),
        "first_tweet": tweets(_sort="tweet_time"),
        "last_tweet": tweets(_sort_desc="tweet_time"),
        "months": tweets(_facet_date="tweet_time"),
        "hours": query("activity_by_hour"),
        "account_months": users(_facet="account_language", _sort="account_creation_date"),
        "hashed_accounts": users(is_hashed="1"),
        "account_creation_bursts": query("account_creation_bursts"),
        "top_hashtags": query("top_hashtags"),
        "top_domains": query("top_domains"),
        "most_retweeted_accounts": query("most_retweeted_accounts"),
        "search": datasette.urls.database(database) + "/search?" + urllib.parse.urlencode(
            {"campaign": name}),
    })
    for row in data.get("months", []):
        after = _month_after(row["month"])
        row["url"] = after and tweets(tweet_time__gte=row["month"], tweet_time__lt=after,
                                      _sort="tweet_time")
    for row in data.get("account_months", []):
        after = _month_after(row["month"])
        row["url"] = after and users(account_creation_date__gte=row["month"],
                                     account_creation_date__lt=after)
    # Each bar of the time charts: a range of times, as the months above.
    for (kind, bins), link in (
            (data["tweet_bins"], lambda start, end: tweets(
                tweet_time__gte=start, tweet_time__lt=end, _sort="tweet_time")),
            (data["account_bins"], lambda start, end: users(
                account_creation_date__gte=start, account_creation_date__lt=end))):
        for row in bins:
            row["url"] = row.get("end") and link(row["start"], row["end"])
    # The hours and weekdays: the campaign's tweets with that hour (and
    # weekday) in the view that computes them as the build counted them.
    # Without facet suggestions (_nosuggest, both lines): on the view's forty
    # columns they took 3.7 of the page's 3.9 s at 300,000 tweets
    # (benchmarks/charts.py); the rows and their count are the same.
    if data.get("hours_view"):
        by_hour = lambda **kw: _table_url(datasette, database, HOURS_VIEW,  # noqa: E731
                                          in_campaign=name, **kw, _sort="tweet_time",
                                          _nosuggest="1")
        for row in data.get("hours", []):
            row["url"] = by_hour(hour=row["hour"])
        for cell in data.get("weekday_hours", []):
            cell["url"] = by_hour(weekday=cell["weekday"], hour=cell["hour"])
    facets = {}
    for key, kind, column, _ in TOP_TABLES:
        if column == "hashtags":
            facets[key] = tweets(_facet_array="hashtags")
        elif column:
            facets[key] = tweets(_facet=column)
        else:
            facets[key] = query("top_domains")
        for row in data.get(key, []):
            value = row["value"]
            if kind in ("account", "retweeted") and value is not None:
                row["account"] = account_path(datasette, value)
            if value is None:
                # The build counts '' with NULL (nullif): isblank opens both.
                row["url"] = tweets(**{f"{column}__isblank": "1"}) if column else None
            elif column == "hashtags":
                row["url"] = tweets(hashtags__arraycontains=value)
            elif kind == "domain":
                # The build finds a URL's domain by parsing it: no filter of
                # the tweets table does the same, so the figure has no link;
                # the domain's URLs (one row per URL) are listed instead.
                row["url"] = None
                row["urls"] = _table_url(datasette, database, "campaign_urls",
                                         campaign=name, domain=value, _sort_desc="tweets")
            elif kind == "account":
                row["url"] = tweets(userid=value, _sort="tweet_time")
            elif kind == "retweeted":
                row["url"] = tweets(retweet_userid=value, is_retweet="1")
            else:
                row["url"] = tweets(**{column: value})
    data["links"]["facets"] = facets
    if data.get("networks"):
        data["links"]["network"] = campaign_path(datasette, name, "/network")
    return data


# --- Charts: server-side SVG, every text escaped ----------------------------
# Drawn in a 640-unit wide box that CSS keeps at least 480 px wide (a phone
# scrolls it sideways), so that a 12-unit label is never under 9 px.

def _fmt(number):
    return f"{number:,}"


def _short(number):
    """An axis label: 1,500 -> 1.5k, 2,000,000 -> 2M."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if number >= size:
            return f"{number / size:g}{suffix}"
    return f"{number:g}"


def _scale(peak):
    """(top, gridlines): the axis ends at a round number at or above the
    peak, with a gridline every 1, 2 or 5 times a power of ten (at most 4)."""
    steps = (m * 10 ** e for e in itertools.count() for m in (1, 2, 5))
    step = next(step for step in steps if -(-peak // step) <= 4)
    top = step * -(-peak // step)
    return top, list(range(step, top + 1, step))


def bar_chart(points, width=640, height=130, label="", link=True, ticks=None):
    """Bars for [(label, value, url)], each with a tooltip (<title>), over
    gridlines labelled with their value; `ticks` [(index, text)] label the
    x axis (first and last points when not given)."""
    if not points or not any(value for _, value, _ in points):
        return Markup('<p class="tei-empty">No data.</p>')
    top, grid = _scale(max(value for _, value, _ in points))
    left, above, below = 40, 8, 20
    n = len(points)
    plot = width - left
    gap = 0 if n > 120 else 1 if n > 40 else 2
    bar = max((plot - gap * n) / n, 0.5)
    base = above + height
    parts = [
        f'<svg class="tei-chart" viewBox="0 0 {width} {base + below}" width="100%" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for value in [0] + grid:
        y = base - value / top * height
        parts.append(f'<line class="tei-grid" x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" class="tei-axis" text-anchor="end">'
                     f'{escape(_short(value))}</text>')
    step = plot / n
    for i, (name, value, url) in enumerate(points):
        h = 0 if not value else max(value / top * height, 1)
        x = left + i * step
        tip = f"{name}: {_fmt(value)}"
        rect = (f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                f'<title>{escape(tip)}</title></rect>')
        if url and link and value:
            rect = f'<a href="{escape(url)}">{rect}</a>'
        parts.append(rect)
    if ticks is None:
        ticks = [(0, points[0][0])] + ([(n - 1, points[-1][0])] if n > 1 else [])
    for index, text in ticks:
        x = left + index * step
        anchor = ' text-anchor="end"' if index == n - 1 and n > 1 and index > 0 and x > width - 60 else ""
        if anchor:
            x += bar
        parts.append(f'<line class="tei-tick" x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}"/>'
                     f'<text x="{x:.1f}" y="{base + 16}" class="tei-axis"{anchor}>{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def time_chart(kind, bins, key, label):
    """A chart of time_bins.choose's bins, each linked to its `url`."""
    title = {"day": "per day", "week": "per week", "month": "per month"}[kind]
    points = [(b["label"], b[key], b.get("url")) for b in bins]
    return bar_chart(points, label=f"{label} {title}", ticks=time_bins.ticks(bins))


def hour_chart(hours, width=640, height=120):
    """[{'hour', 'tweets', 'url'}]: 24 bars, a label every three hours."""
    points = [(f"{h['hour']:02d}:00 UTC", h["tweets"], h.get("url")) for h in hours]
    ticks = [(h, f"{h:02d}h") for h in range(0, len(points), 3)]
    return bar_chart(points, width, height, "Tweets by hour of day (UTC)", ticks=ticks)


def heatmap(cells, width=640):
    """Weekday x hour, darker is more tweets, with a legend of the shades;
    each cell linked to its `url`."""
    if not cells or not any(c["tweets"] for c in cells):
        return Markup('<p class="tei-empty">No data.</p>')
    peak = max(c["tweets"] for c in cells)
    left, cell_h = 40, 20
    cell_w = (width - left) / 24
    grid = {(c["weekday"], c["hour"]): c["tweets"] for c in cells}
    urls = {(c["weekday"], c["hour"]): c.get("url") for c in cells}
    order = (1, 2, 3, 4, 5, 6, 0)  # Monday first
    bottom = cell_h * 7
    parts = [f'<svg class="tei-heatmap" viewBox="0 0 {width} {bottom + 48}" width="100%" '
             f'role="img" aria-label="Tweets by weekday and hour (UTC)" '
             f'xmlns="http://www.w3.org/2000/svg">']

    def shade(value):
        return 0.08 + 0.92 * value / peak if value else 0.03

    for row, weekday in enumerate(order):
        day = summaries.WEEKDAYS[weekday]
        parts.append(f'<text x="0" y="{row * cell_h + 14}" class="tei-axis">{escape(day[:3])}</text>')
        for hour in range(24):
            value = grid.get((weekday, hour), 0)
            tip = f"{day} {hour:02d}:00 UTC: {_fmt(value)} tweets"
            rect = (f'<rect x="{left + hour * cell_w:.1f}" y="{row * cell_h}" width="{cell_w - 1:.1f}" '
                    f'height="{cell_h - 1}" fill-opacity="{shade(value):.3f}"><title>{escape(tip)}</title></rect>')
            if urls.get((weekday, hour)) and value:
                rect = f'<a href="{escape(urls[weekday, hour])}">{rect}</a>'
            parts.append(rect)
    for hour in range(0, 24, 3):
        parts.append(f'<text x="{left + hour * cell_w:.1f}" y="{bottom + 14}" '
                     f'class="tei-axis">{hour:02d}h</text>')
    # The legend: five shades from one tweet to the busiest hour.
    y = bottom + 26
    parts.append(f'<text x="{left}" y="{y + 12}" class="tei-axis">Tweets an hour:</text>')
    x = left + 110
    for i, value in enumerate(sorted({max(1, round(peak * f)) for f in (0, 0.25, 0.5, 0.75, 1)})):
        parts.append(f'<rect class="tei-legend-swatch" x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" '
                     f'height="{cell_h - 4}" fill-opacity="{shade(value):.3f}"/>'
                     f'<text x="{x + cell_w + 2:.1f}" y="{y + 12}" class="tei-axis">{escape(_fmt(value))}</text>')
        x += cell_w + 12 + 8 * len(_fmt(value))
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(months, width=240, height=40):
    """The index cards' small chart: bars only, no axes."""
    if not months:
        return Markup('<p class="tei-empty">No tweets.</p>')
    points = _fill_months(months, "tweets")
    peak = max(m["tweets"] for m in points) or 1
    n = len(points)
    gap = 1 if n > 60 else 2
    bar = max((width - gap * n) / n, 1)
    parts = [f'<svg class="tei-chart tei-spark" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="Tweets per month" xmlns="http://www.w3.org/2000/svg">']
    for i, m in enumerate(points):
        h = 0 if not m["tweets"] else max(m["tweets"] / peak * height, 1)
        parts.append(f'<rect x="{i * (bar + gap):.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
                     f'height="{h:.1f}"><title>{escape(m["month"])}: {_fmt(m["tweets"])}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))


_fill_months = time_bins.fill_months
_month_after = time_bins.month_after


def charts(data):
    return {
        "months": time_chart(*data["tweet_bins"], "tweets", "Tweets"),
        "hours": hour_chart(data["hours"]),
        "heatmap": heatmap(data["weekday_hours"]),
        "account_months": time_chart(*data["account_bins"], "accounts", "Accounts created"),
    }


# --- Views -----------------------------------------------------------------

async def tei_databases(datasette, actor):
    """(name, database) of each served TEI database the actor may see
    (access.py), in order."""
    return [(name, datasette.databases[name])
            for name in await access.visible_tei_databases(datasette, actor)]


async def ensure_instance_visible(datasette, request):
    """A private instance answers 403 here as on Datasette's own pages."""
    from datasette.utils.asgi import Forbidden

    if not await access.can_view_instance(datasette, request.actor):
        raise Forbidden("You do not have permission to view this instance")


def _json_response(datasette, data, status=200):
    from datasette.utils import add_cors_headers
    from datasette.utils.asgi import Response

    response = Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json; charset=utf-8",
    )
    if datasette.cors:  # `datasette serve --cors`, as Datasette's JSON has it
        add_cors_headers(response.headers)
    return response


def build_state(conn):
    """`complete`, or what an interrupted or running build left (`building`)."""
    row = conn.execute("SELECT value FROM tei_meta WHERE key = 'build_state'").fetchone()
    return row[0] if row else None


async def index(datasette, request):
    from datasette import NotFound

    await ensure_instance_visible(datasette, request)
    fmt = request.url_vars.get("format") or ""
    # A guest where nothing of ours is served; a TEI database the actor may
    # not see still gives this page, empty, so that it tells nothing of it.
    if not await served.any_tei(datasette):
        raise NotFound("No database built by datasette-tei is served here")
    cards = []
    # A build that was interrupted, or is running, has not recomputed every
    # figure yet: say so rather than show them as final.
    incomplete = []
    for database, db in await tei_databases(datasette, request.actor):
        if await db.execute_fn(build_state) != "complete":
            incomplete.append(database)
        for campaign in await db.execute_fn(read_campaigns):
            campaign["database"] = database
            campaign["links"] = card_links(datasette, database, campaign)
            cards.append(campaign)
    if fmt == ".json":
        return _json_response(datasette, {"campaigns": cards, "incomplete_databases": incomplete})
    from datasette.utils.asgi import Response

    for card in cards:
        card["sparkline"] = sparkline(card["months"])
    html = await datasette.render_template(
        "tei_index.html",
        {"campaigns": cards, "incomplete": incomplete, "json_url": datasette.urls.path("/-/tei.json")},
        request=request,
    )
    return Response.html(html)


async def campaign(datasette, request):
    from datasette.utils.asgi import Response

    await ensure_instance_visible(datasette, request)
    fmt = request.url_vars.get("format") or ""
    name = urllib.parse.unquote(request.url_vars["campaign"])
    found = None
    also = []
    # A campaign in a database the actor may not see is not found, with the
    # message of a campaign that does not exist: its name stays private too.
    for database, db in await tei_databases(datasette, request.actor):
        data = await db.execute_fn(lambda conn: read_campaign(conn, name))
        if data is None:
            continue
        if found is None:
            found = add_links(datasette, database, data)
        else:
            also.append(database)
    if found is None:
        message = f"No campaign named “{name}” in the served databases."
        if fmt == ".json":
            return _json_response(datasette, {"ok": False, "error": message, "status": 404}, status=404)
        html = await datasette.render_template(
            "tei_campaign.html", {"campaign": None, "message": message}, request=request
        )
        return Response.html(html, status=404)
    found["also_in_databases"] = also
    if fmt == ".json":
        return _json_response(datasette, found)
    html = await datasette.render_template(
        "tei_campaign.html",
        {"campaign": found, "charts": charts(found), "top_tables": TOP_TABLES,
         "index_url": datasette.urls.path("/-/tei")},
        request=request,
    )
    return Response.html(html)


ROUTES = [
    (r"^/-/tei(?P<format>\.json)?$", index),
    (r"^/-/tei/(?P<campaign>[^/]+?)(?P<format>\.json)?$", campaign),
]
