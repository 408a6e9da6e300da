"""Hostile requests to the plugin's URLs and to the canned queries'
parameters, through Datasette's test client on the demo database: path
traversal, SQL fragments, FTS5 syntax, control characters, bad
percent-encoding and oversized values get a 404 or a 400 (or, for a canned
query, an answer that is just empty), never a 500, a traceback, a file path
or an unescaped payload; and the database is unchanged afterwards.
"""
import os
import sqlite3
import urllib.parse

import pytest
import pytest_asyncio
from datasette.app import Datasette

from coordination_fixture import add_coordination, copy_demo
from datasette_tei.serve import queries

SQL_FRAGMENTS = [
    "' OR 1=1 --",
    "x' UNION SELECT sql, 1, 1, 1, 1, 1, 1, 1 FROM sqlite_master --",
    '"; DROP TABLE tweets; --',
    "1; ATTACH DATABASE '/tmp/tei-pwned.db' AS pwned; --",
]
FTS_SYNTAX = ['"', '"unclosed', "NEAR(a b)", "a OR b AND NOT c", "{tweet_text}: abc", "^abc", "abc*", "()",
              "tweets_fts", "*"]
ODD = ["", "%", "_", "\x00", "\x00abc", "\r\n", "../../../../etc/passwd", "..\\..\\windows\\win.ini",
       "<script>alert(1)</script>", "-1", "9" * 40, "1e999", "NaN", "\u202e\u2066", "香港\" OR \"1"]
OVERSIZED = ["x" * 20_000, " ".join(["abc"] * 5_000), "香" * 5_000, "%" * 20_000]
VALUES = SQL_FRAGMENTS + FTS_SYNTAX + ODD + OVERSIZED
HTML_VALUES = {SQL_FRAGMENTS[1], '"unclosed', "\x00abc", "<script>alert(1)</script>", OVERSIZED[2]}

PARAMS = {query.name: query.params for query in queries.QUERIES}


@pytest_asyncio.fixture
async def ds(demo_db):
    datasette = Datasette([demo_db])
    await datasette.invoke_startup()
    return datasette


@pytest.fixture(scope="module")
def every_query_db(demo_db, tmp_path_factory):
    """The demo with coordination tables, where every canned query is offered."""
    return add_coordination(copy_demo(demo_db, tmp_path_factory.mktemp("hostile") / "demo.db"))


@pytest_asyncio.fixture
async def every_query_ds(every_query_db):
    datasette = Datasette([every_query_db])
    await datasette.invoke_startup()
    return datasette


def counts(path):
    conn = sqlite3.connect(path)
    try:
        return [conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0]
                for t in ("tweets", "users", "campaigns", "imports", "rejects")] + [
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]]
    finally:
        conn.close()


def assert_no_leak(response, demo_db):
    text = response.text
    assert response.status_code < 500, text[:500]
    assert "Traceback" not in text and 'File "' not in text
    assert os.path.dirname(demo_db) not in text  # no file system path
    assert "<script>alert(1)</script>" not in text or response.headers["content-type"].startswith(
        "application/json")


def name(demo_db):
    return os.path.splitext(os.path.basename(demo_db))[0]


def test_every_canned_query_is_covered():
    assert set(PARAMS) == {"search", "top_hashtags", "top_domains", "activity_by_hour",
                           "account_creation_bursts", "most_retweeted_accounts",
                           "shared_urls_across_campaigns", "user_timeline",
                           "coordination_evidence_pair"}


@pytest.mark.asyncio
@pytest.mark.parametrize("query_name", sorted(PARAMS))
async def test_canned_query_parameters(every_query_ds, every_query_db, query_name):
    ds, demo_db = every_query_ds, every_query_db
    before = counts(demo_db)
    database = name(demo_db)
    params = PARAMS[query_name] or ("campaign",)  # a parameter it does not take is ignored
    for param in params:
        for value in VALUES:
            # Every value as JSON; a few through the HTML page too, which
            # shows the parameters back in its form.
            for fmt in (".json", "") if value in HTML_VALUES else (".json",):
                query = urllib.parse.urlencode({param: value})
                response = await ds.client.get(f"/{database}/{query_name}{fmt}?{query}")
                assert response.status_code in (200, 400), (param, value[:40], fmt, response.text[:300])
                assert_no_leak(response, demo_db)
                if fmt == ".json":
                    assert response.headers["content-type"].startswith("application/json")
                    body = response.json()
                    if response.status_code == 200 and value in SQL_FRAGMENTS:
                        # A fragment is a value, never SQL: it matches nothing.
                        assert body["rows"] == [] or query_name == "shared_urls_across_campaigns"
    # Bad percent-encoding in the query string.
    for raw in ("%ff%fe", "%ED%A0%80", "%", "%ZZ", "%00"):
        response = await ds.client.get(f"/{database}/{query_name}.json?{params[0]}={raw}")
        assert response.status_code in (200, 400)
        assert_no_leak(response, demo_db)
    assert counts(demo_db) == before
    assert not os.path.exists("/tmp/tei-pwned.db")


CAMPAIGN_PATHS = [
    "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%5C..%5Cwindows", "%2F", "a%2Fb",
    "x'%20OR%20'1'='1", "x%22%3B%20DROP%20TABLE%20campaigns%3B--", "synthetic_201810'--",
    "synthetic_201810%00", "%00", "%ff%fe", "%ED%A0%80", "%25", "%", "%ZZ", ".json",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E", "x" * 30_000, "%E9%A6%99" * 3_000,
]


@pytest.mark.asyncio
@pytest.mark.parametrize("fmt", ["", ".json"])
async def test_campaign_pages_with_hostile_names(ds, demo_db, fmt):
    before = counts(demo_db)
    for path in CAMPAIGN_PATHS:
        response = await ds.client.get(f"/-/tei/{path}{fmt}")
        assert response.status_code == 404, (path[:60], response.status_code, response.text[:300])
        assert_no_leak(response, demo_db)
        if fmt == ".json":
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["ok"] is False
        else:
            assert "<script>alert(1)</script>" not in response.text
    # Paths the router never gives to the plugin: a 404, or Datasette's
    # redirect within the site.
    for path in ("../../etc/passwd", "..", "a/b", "/"):
        response = await ds.client.get(f"/-/tei/{path}{fmt}")
        assert response.status_code in (301, 302, 404), (path, response.status_code)
        if response.status_code in (301, 302):
            location = response.headers["location"]
            assert location.startswith("/") and not location.startswith("//"), location
        assert_no_leak(response, demo_db)
    # The index ignores what it does not know.
    for query in ("campaign=%27%20OR%201%3D1", "x=%ff", "_sort=" + "x" * 20_000):
        response = await ds.client.get(f"/-/tei{fmt}?{query}")
        assert response.status_code == 200
        assert_no_leak(response, demo_db)
    assert counts(demo_db) == before
