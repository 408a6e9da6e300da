"""The demo walked as a researcher would, in Debian's Chromium, against a
real `datasette serve demo.db` with no other option (the plugin supplies
the metadata and configuration): the index, a campaign page and its chart
bars and heatmap cells, an account page, a search, every canned query with
and without a campaign, the network page; on each page every figure that
is a link equals the number of rows its link opens (read from the link's
JSON, page after page), on this Python's Datasette line. Screenshots of
each page, at a desktop's width and at a phone's, go to test-output/."""
import json
import pathlib
import re
import sqlite3
import urllib.parse
import urllib.request

import pytest

from browser_support import chromium, serving, skip_without_browser
from helpers import free_port

skip_without_browser()

OUTPUT = pathlib.Path(__file__).resolve().parent.parent / "test-output"
CAMPAIGN_QUERIES = ("top_hashtags", "top_domains", "activity_by_hour",
                    "account_creation_bursts", "most_retweeted_accounts")

# Every linked number on the page: (href, number), the number of a chart's
# bar or cell read from its tooltip ("label: 1,234" or "...: 12 tweets").
FIGURES_JS = """() => {
  const out = [];
  for (const a of document.querySelectorAll('a[href]')) {
    const title = a.querySelector('rect > title');
    const text = title ? ((title.textContent.match(/: ([0-9][0-9,]*)(?: tweets)?$/) || [])[1])
                       : a.textContent.trim();
    if (text && /^[0-9][0-9,]*$/.test(text)) {
      out.push([new URL(a.getAttribute('href'), location.href).href, text.replace(/,/g, '')]);
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def server(demo_db):
    import datasette

    with serving([demo_db], free_port()) as base:  # no -m, no -c
        yield {"base": base, "version": datasette.__version__}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _get_json(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def rows_behind(url, cache={}):
    """How many rows the link opens: its JSON, following next_url."""
    if url in cache:
        return cache[url]
    parts = urllib.parse.urlsplit(url)
    params = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
              if not k.startswith("_facet")]
    params += [("_shape", "objects"), ("_size", "max")]
    page = urllib.parse.urlunsplit(parts._replace(path=parts.path + ".json",
                                                  query=urllib.parse.urlencode(params)))
    count = 0
    while page:
        data = _get_json(page)
        count += len(data["rows"])
        page = data.get("next_url")
    cache[url] = count
    return count


class Walk:
    def __init__(self, browser, server, width):
        self.base, self.version = server["base"], server["version"]
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.errors, self.dialogs = [], []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.checked = 0

    def open(self, path):
        response = self.page.goto(self.base + path)
        assert response.status == 200, (path, response.status)
        return self.page

    def figures(self):
        """(url, number) of every linked figure; a number that names a row
        (a tweet or account id, as its link's last part) is not a figure."""
        out = []
        for url, text in self.page.evaluate(FIGURES_JS):
            number = int(text)  # read in Python: ids pass 2**53
            path = urllib.parse.urlsplit(url).path
            if path.startswith("/-/tei") or urllib.parse.unquote(path).endswith("/" + str(number)):
                continue
            out.append((url, number))
        return out

    def check_figures(self, at_least=0):
        figures = self.figures()
        assert len(figures) >= at_least, (self.page.url, len(figures))
        wrong = [(url, n, rows_behind(url)) for url, n in figures if rows_behind(url) != n]
        assert not wrong, (self.page.url, wrong)
        self.checked += len(figures)
        return figures

    def shot(self, name):
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / f"walk-{name}-datasette-{self.version}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5_000

    def close(self):
        assert self.errors == [] and self.dialogs == []
        self.context.close()


def _campaigns(demo_db):
    conn = sqlite3.connect(demo_db)
    try:
        return [r[0] for r in conn.execute(
            "SELECT name FROM campaigns ORDER BY shared_tweets DESC, release, name")]
    finally:
        conn.close()


def _table_count(page):
    """The row count a Datasette table page states ('6 rows where ...')."""
    text = page.locator("h3").first.inner_text()
    match = re.search(r"([0-9][0-9,]*) rows?", text)
    return int(match.group(1).replace(",", "")) if match else None


def test_walk_the_demo(browser, server, demo_db):
    walk = Walk(browser, server, 1280)
    page = walk.open("/")
    # The index of the instance puts the tables a researcher wants first
    # and hides the machinery, without -m or -c.
    page = walk.open("/demo")
    tables = page.locator("h2 a, h3 a").all_inner_texts()
    assert tables[:3] == ["tweets", "users", "campaigns"] or {"tweets", "users", "campaigns"} <= set(tables[:4])
    assert not any(t.startswith("tei_") or t in ("campaign_months", "campaign_days") for t in tables)

    page = walk.open("/-/tei")
    names = _campaigns(demo_db)
    assert page.locator("section.tei-card").count() == len(names)
    walk.check_figures(at_least=2 * len(names))
    walk.shot("index")

    # The campaign that shares tweets with an earlier archive: every figure,
    # bar and cell of its page opens exactly its rows.
    name = names[0]
    page.locator(f'section.tei-card[data-campaign="{name}"] h2 a').click()
    page.wait_for_url(f"**/-/tei/{name}")
    figures = walk.check_figures(at_least=60)
    for section in ("#months", "#hours", "#weekdays", "#account-months"):
        assert page.locator(f"{section} svg a").count() >= 1, section
        assert page.locator(f"{section} .tei-axis").count() >= 3, section  # a labelled scale or axis
    assert page.locator("#months .tei-grid").count() >= 2
    assert re.search(r"20[0-9][0-9]", " ".join(page.locator("#months .tei-axis").all_text_contents()))
    assert "Tweets an hour" in page.locator("#weekdays svg").text_content()
    hours = [n for url, n in figures if "campaign_tweet_hours" in url and "weekday=" not in url]
    cells = [n for url, n in figures if "campaign_tweet_hours" in url and "weekday=" in url]
    tweets = int(page.locator(".tei-headline dd a").first.inner_text().replace(",", ""))
    assert sum(hours) == sum(cells) == tweets
    walk.shot("campaign")

    # A click on a month bar, an hour bar and a heatmap cell opens a table
    # that states the bar's figure.
    for selector in ("#months svg a", "#hours svg a", "#weekdays svg a"):
        bar = page.locator(selector).nth(page.locator(selector).count() // 2)
        want = int(re.search(r": ([0-9][0-9,]*)", bar.locator("title").text_content()).group(1)
                   .replace(",", ""))
        bar.click()
        page.wait_for_load_state()
        assert _table_count(page) == want, (selector, page.url)
        walk.shot("click-" + selector.split()[0][1:])
        page.go_back()
        page.wait_for_url(f"**/-/tei/{name}")

    # An account page, from the campaign's most active accounts, and its
    # timeline as the canned query has it.
    page.locator("#active_accounts td a").first.click()
    page.wait_for_url("**/-/tei/accounts/**")
    walk.check_figures(at_least=10)
    assert page.locator("svg.tei-chart a").count() >= 2
    walk.shot("account")
    userid = urllib.parse.unquote(page.url.rsplit("/", 1)[1])
    tweets = int(page.locator(".tei-headline dd a").first.inner_text().replace(",", ""))
    walk.open("/demo/user_timeline?" + urllib.parse.urlencode({"userid": userid}))
    walk.check_figures()
    assert rows_behind(f"{walk.base}/demo/user_timeline?" + urllib.parse.urlencode(
        {"userid": userid})) == tweets

    # The search, from the campaign page's link, with a word of its tweets.
    walk.open(f"/-/tei/{name}")
    page.locator("a", has_text="Search this campaign").click()
    page.wait_for_load_state()
    page.locator("input[name=q]").fill("election")
    page.locator("input[type=submit]").first.click()
    page.wait_for_load_state()
    assert "q=election" in page.url and f"campaign={name}" in page.url
    assert page.locator("td.col-tweet_text").count() >= 1
    walk.check_figures()
    walk.shot("search")
    found = {}
    for campaign in (name, ""):
        walk.open("/demo/search?" + urllib.parse.urlencode({"q": "election", "campaign": campaign}))
        walk.check_figures()
        found[campaign] = rows_behind(f"{walk.base}/demo/search?" + urllib.parse.urlencode(
            {"q": "election", "campaign": campaign}))
    assert found[""] > found[name] > 0

    # Every canned query, for the campaign and for all (an empty campaign):
    # its title, rows, and all campaigns hold at least what one does.
    for query in CAMPAIGN_QUERIES:
        counts = {}
        for campaign in (name, ""):
            page = walk.open(f"/demo/{query}?" + urllib.parse.urlencode({"campaign": campaign}))
            assert page.locator("h1").inner_text().strip() != "", query
            walk.check_figures()
            counts[campaign] = rows_behind(f"{walk.base}/demo/{query}?campaign="
                                           + urllib.parse.quote(campaign))
            if campaign == "":
                walk.shot(f"query-{query}")
        assert counts[""] >= counts[name] and counts[""] > 0, (query, counts)
    for query in ("shared_urls_across_campaigns",):
        walk.open(f"/demo/{query}")
        walk.check_figures()
        assert rows_behind(f"{walk.base}/demo/{query}") > 0

    # The network page of the campaign, when the build made networks.
    page = walk.open(f"/-/tei/{name}/network")
    walk.check_figures(at_least=1)
    walk.shot("network")
    # Why two accounts are linked: the canned query coordination_evidence_pair.
    page.locator("a", has_text="why?").first.click()
    page.wait_for_load_state()
    assert "/demo/coordination_evidence_pair?" in page.url
    walk.check_figures()
    assert rows_behind(page.url) > 0
    assert walk.checked > 100
    walk.close()


def test_charts_read_on_a_phone(browser, server, demo_db):
    """At a phone's width the page does not overflow sideways, the charts
    scroll in their own box, and no chart label is under 9 px."""
    walk = Walk(browser, server, 390)
    name = _campaigns(demo_db)[0]
    page = walk.open(f"/-/tei/{name}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    sizes = page.evaluate("""Array.from(document.querySelectorAll('.tei-axis'))
        .map(e => e.getBoundingClientRect().height)""")
    assert sizes and min(sizes) >= 9, min(sizes)
    walk.shot("campaign-phone")
    userid = page.locator("#active_accounts td a").first.get_attribute("href")
    page = walk.open(userid)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    walk.shot("account-phone")
    walk.close()
