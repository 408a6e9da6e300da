"""The campaign pages in a real browser (Debian's Chromium through
Playwright), against a real `datasette serve -i` process with an inspect
file, as a published instance runs. A screenshot of the campaign page is
saved under test-output/."""
import pathlib
import sqlite3
import subprocess
import sys

import pytest

# CHROMIUM and CHROMIUM_ARGS are imported from here by the network page's browser test.
from browser_support import CHROMIUM, CHROMIUM_ARGS, chromium, serving, skip_without_browser  # noqa: F401
from helpers import free_port

skip_without_browser()

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output"


@pytest.fixture(scope="module")
def server(demo_db, tmp_path_factory):
    import datasette
    from datasette.app import Datasette

    bin_dir = pathlib.Path(sys.executable).parent
    inspect_file = str(tmp_path_factory.mktemp("inspect") / "inspect.json")
    subprocess.run([str(bin_dir / "datasette"), "inspect", demo_db, "--inspect-file", inspect_file],
                   check=True, capture_output=True)
    port = free_port()
    command = [str(bin_dir / "datasette"), "serve", "-i", demo_db, "--inspect-file", inspect_file,
               "-m", str(ROOT / "metadata.yml")]
    if hasattr(Datasette, "add_query"):  # 1.0: table settings come from the config file
        command += ["-c", str(ROOT / "datasette.yaml")]
    with serving(command[2:], port) as base:
        yield {"base": base, "version": datasette.__version__}


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.foreign = []
    page.errors = []
    # An alert() would mean a payload from the data ran; dismiss and record it.
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:"))
            else page.foreign.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()


def test_campaign_pages_in_chromium(server, page, demo_db):
    base = server["base"]
    names = [r[0] for r in sqlite3.connect(demo_db).execute(
        "SELECT name FROM campaigns ORDER BY release, name")]

    page.goto(base + "/-/tei")
    cards = page.locator("section.tei-card")
    assert cards.count() == len(names)
    assert page.locator("section.tei-card svg").count() == len(names)

    # Open a campaign page from its card.
    name = names[0]
    page.locator(f'section.tei-card[data-campaign="{name}"] h2 a').click()
    page.wait_for_url(f"**/-/tei/{name}")
    assert page.locator("h1").inner_text() == name
    charts = page.locator("svg.tei-chart")
    assert charts.count() == 3
    for i in range(3):
        box = charts.nth(i).bounding_box()
        assert box and box["width"] > 200 and box["height"] > 30
    assert page.locator("svg.tei-chart rect").count() > 24
    assert page.locator("svg.tei-heatmap rect title").count() == 7 * 24
    tip = page.locator("#months svg.tei-chart rect title").first.text_content()
    assert tip.startswith("20") and ":" in tip
    OUTPUT.mkdir(exist_ok=True)
    shot = OUTPUT / f"campaign-page-datasette-{server['version']}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # Follow a figure's link to the faceted table view behind it.
    page.locator("#languages h2 a").click()
    page.wait_for_load_state()
    assert "_facet=tweet_language" in page.url and f"campaign={name}" in page.url
    facet = page.locator(".facet-info", has_text="tweet_language")
    assert facet.count() >= 1
    assert facet.first.locator("li").count() >= 1
    campaigns_shown = set(page.locator("td.col-campaign").all_inner_texts())
    assert campaigns_shown == {name}

    # A month's bar opens that month's tweets.
    page.goto(base + f"/-/tei/{name}")
    page.locator("#months svg.tei-chart a").first.click()
    page.wait_for_load_state()
    assert "tweet_time__gte=" in page.url
    assert page.locator("td.col-tweet_time").count() >= 1

    assert page.dialogs == [] and page.errors == [] and page.foreign == []


def test_payloads_never_run(server, page):
    base = server["base"]
    marks = 0
    for path in ("/demo/tweets?_search=script", "/demo/search?q=script",
                 "/demo/search?q=onerror", "/demo/users?_size=max", "/-/tei"):
        page.goto(base + path)
        page.wait_for_load_state()
        marks += page.locator("mark.tei-hit").count()
    assert marks >= 2  # the search pages found and highlighted the payload text
    assert page.dialogs == []
    assert page.foreign == []
