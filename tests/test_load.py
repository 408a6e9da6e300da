"""A real `datasette serve` on loopback under load (the short form of
benchmarks/load.py), and Datasette's time limit against a hostile query:
it ends with the timeout error and the server keeps answering the others.
"""
import asyncio
import json
import os
import urllib.parse

import pytest

from helpers import load_benchmark

bench = load_benchmark()

# Never ends: only Datasette's time limit stops it.
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def test_short_load_has_no_errors(demo_db):
    results, failures, elapsed, log = bench.run(demo_db, clients=6, duration=3, max_requests=400)
    assert failures == {}, (failures, log)
    kinds = {"index", "campaign", "campaign json", "search", "_search", "_search html", "facets",
             "table json", "table html", "canned", "account", "row", "network"}
    assert set(results) == kinds
    assert all(results[kind] for kind in kinds)  # every kind was requested and answered
    printed = bench.table(results, failures, elapsed).splitlines()
    assert [line for line in printed if line.startswith("all ")][0].split()[2] == "0"  # 0 errors
    assert [line.split()[-1] for line in printed if line.startswith("target:")] == ["met"] * 3


def test_targets_say_missed():
    # A kind no client reached, an error and a slow request: each target says so.
    results = {"index": [0.1, 0.2], "campaign": [0.1, 12.0], "network": []}
    failures = {"campaign": ["500 /-/tei/x"]}
    lines = [line for line in bench.table(results, failures, 60).splitlines() if line.startswith("target:")]
    assert [line.split()[-1] if "(" not in line else line.split()[line.split().index("MISSED")]
            for line in lines] == ["MISSED"] * 3
    assert lines[2].endswith("(none answered: network)")


def test_max_requests_bounds_the_run(demo_db):
    results, failures, elapsed, _ = bench.run(demo_db, clients=3, duration=60, max_requests=12)
    assert failures == {}
    assert sum(len(times) for times in results.values()) == 12


@pytest.fixture(scope="module")
def server(demo_db):
    # The default time limit (1 s): Datasette's, not one set for the test.
    with bench.Server(demo_db) as running:
        yield running


def query_paths(server, demo_db):
    database = os.path.splitext(os.path.basename(demo_db))[0]
    paths = [f"/{database}.json"]
    versions = bench.get_json(server.base + "/-/versions.json")
    if versions["datasette"]["version"].startswith("1."):
        paths.append(f"/{database}/-/query.json")
    return database, paths


def test_endless_query_ends_with_the_timeout_and_others_are_answered(server, demo_db):
    database, paths = query_paths(server, demo_db)

    address = ("127.0.0.1", server.port)

    async def get(path):
        connection = bench.Connection(*address)  # one each: all at once
        try:
            status, headers, body = await asyncio.wait_for(connection.get(path), 60)
            if status in (301, 302) and headers["location"].startswith("/"):  # 1.0: ?sql= moved
                status, headers, body = await asyncio.wait_for(connection.get(headers["location"]), 60)
            return status, headers, body
        finally:
            connection.close()

    async def scenario():
        hostile = [get(f"{path}?" + urllib.parse.urlencode({"sql": ENDLESS})) for path in paths for _ in range(3)]
        others = [get(path) for _ in range(4) for path in (
            "/-/tei.json", f"/{database}/tweets.json?_size=5", f"/{database}/search.json?q=news")]
        return await asyncio.gather(asyncio.gather(*hostile), asyncio.gather(*others))

    hostile, others = asyncio.run(scenario())
    for status, _, body in hostile:
        assert status == 400, body[:300]
        body = json.loads(body)
        assert body["ok"] is False and "SQL query took too long" in body["error"]
    assert [status for status, _, _ in others] == [200] * len(others)
    # And afterwards, as before.
    query = urllib.parse.urlencode({"sql": "SELECT 1 AS one", "_shape": "array"})
    assert bench.get_json(f"{server.base}/{database}.json?{query}") == [{"one": 1}]


def test_time_limit_is_not_raised_by_the_plugin_or_its_metadata(server):
    settings = bench.get_json(server.base + "/-/settings.json")
    assert settings["sql_time_limit_ms"] <= 1000
