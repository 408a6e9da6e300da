"""A generated database for the figure and account tests: campaigns that
share tweets (one whose every tweet an earlier archive holds), odd values,
and one prolific account whose timeline takes several pages."""
import html
import re
import sqlite3
import urllib.parse

from datasette.app import Datasette

from datasette_tei import summaries
from datasette_tei.build import finish, load
from datasette_tei.build.synthetic import generate_tweets, tweets_csv_text

ODD = [
    (0, {"tweet_language": ""}),
    (1, {"is_retweet": ""}),
    (2, {"tweet_time": "2020-02-29 10:00"}),  # a leap day
    (3, {"tweet_time": ""}),
    (4, {"hashtags": "['dup', 'dup', 'x']"}),
    (5, {"tweet_client_name": ""}),
    (6, {"tweet_time": "2020-01-05 23:59:30"}),
    (7, {"hashtags": "['1', '01', '<b>', 'a*b', '[x']"}),
    (8, {"tweet_client_name": "Client & <Co>"}),
    (9, {"tweet_time": ""}),
]


def tweets(n, seed, first_id, edits=(), n_users=9):
    rows = list(generate_tweets(n, "2020", n_users=n_users, seed=seed, first_id=first_id))
    for index, changes in edits:
        rows[index].update(changes)
    return rows


def write(folder, campaign, rows, part=""):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{campaign}_tweets_csv_hashed{part}.csv"
    path.write_text(tweets_csv_text(rows, "2020"), encoding="utf-8")
    return str(path)


def build(folder):
    """alpha (with odd values), beta (its own tweets and five of alpha's),
    delta (only tweets alpha loaded first) and prolific (two accounts of
    120 tweets each, two of them without a time)."""
    alpha = tweets(60, 1, 10**17, ODD)
    beta = tweets(40, 2, 2 * 10**17) + alpha[:5]
    delta = alpha[10:30]
    prolific = tweets(240, 5, 5 * 10**17, ODD, n_users=2)
    # A retweet target on a row that is not a retweet: not a retweet.
    for rows in (alpha, prolific):
        row = next(r for r in rows[20:] if r["retweet_userid"])
        row["is_retweet"] = "False"
    db = str(folder / "tei.db")
    sources = [
        write(folder / "a", "alpha_012020", alpha),
        write(folder / "b", "beta_022020", beta),
        write(folder / "d", "delta_032020", delta),
        write(folder / "p", "prolific_042020", prolific),
    ]
    report = load.build(db, sources)
    assert report.ok, report.errors
    _blank_values(db)
    return db


def _blank_values(db):
    """A language and a client that are '' rather than NULL (the build
    stores NULL; a database may hold both), with the figures recounted."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    conn.execute("UPDATE tweets SET tweet_language = '', tweet_client_name = '' WHERE tweetid = ("
                 "SELECT min(tweetid) FROM tweets WHERE campaign = 'alpha_012020' "
                 "AND tweet_language IS NOT NULL AND tweet_client_name IS NOT NULL)")
    for (campaign,) in conn.execute("SELECT name FROM campaigns").fetchall():
        tweeting = summaries.refresh(conn, campaign)
        finish.update_campaign(conn, campaign, tweeting=tweeting)
    conn.execute("COMMIT")
    conn.close()


def datasette(path, **kwargs):
    return Datasette([path], **kwargs)


def local(url):
    parsed = urllib.parse.urlsplit(html.unescape(url))
    return parsed.path + ("?" + parsed.query if parsed.query else "")


async def rows_behind(ds, url):
    """Every row the link opens, through Datasette's JSON, page after page."""
    path = local(url)
    base, _, query = path.partition("?")
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    params = [(k, v) for k, v in params if not k.startswith("_facet")]
    params += [("_shape", "objects"), ("_size", "max")]
    url = base + ".json?" + urllib.parse.urlencode(params)
    rows = []
    while url:
        response = await ds.client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        data = response.json()
        rows += data["rows"]
        url = data.get("next_url")
        if url:
            url = local(url)
    return rows


# A linked figure: <a href="...">1,234</a>, and a linked chart bar or cell:
# <a href="..."><rect ...><title>label: 1,234</title></rect></a>.
_NUMBER_LINK = re.compile(r'<a href="([^"]+)"[^>]*>([0-9][0-9,]*)</a>')
_BAR_LINK = re.compile(r'<a href="([^"]+)"><rect [^>]*><title>[^<]*: ([0-9][0-9,]*)(?: tweets)?</title>')


def linked_figures(page):
    """(url, number) of every figure the page links to rows (a number that
    links to a page of the plugin is a name: an account's numeric id)."""
    found = [(u, int(n.replace(",", ""))) for u, n in _NUMBER_LINK.findall(page)]
    found += [(u, int(n.replace(",", ""))) for u, n in _BAR_LINK.findall(page)]
    return [(u, n) for u, n in found if not local(u).startswith("/-/tei")]


async def assert_every_figure_opens_its_rows(ds, page, at_least=1):
    figures = linked_figures(page)
    assert len(figures) >= at_least
    wrong = []
    for url, number in figures:
        opened = len(await rows_behind(ds, url))
        if opened != number:
            wrong.append((html.unescape(url), number, opened))
    assert not wrong, wrong
    return figures
