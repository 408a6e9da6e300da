"""The network page's time on a large run, with and without the indexes the
page asks of the build.

Builds the demo database, then one co_retweet run of N directed edges among
N/20 accounts spread over the demo's three campaigns (weights 2..40, their
groups and summaries; no evidence rows: the page only links to them), and
times GET /-/tei/<campaign>/network and .json through Datasette's own client
(in process: no network): the first request, which computes the layout,
then the best of the next ones, which find it cached; all under Datasette's default
sql_time_limit_ms (1 s), which the page must not reach.

Usage: python benchmarks/network_page.py [--edges 1000000] [--repeat 5] [--dir bench-data]
Not a test: it prints figures.
"""
import argparse
import asyncio
import os
import random
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from coordination_fixture import TABLES  # noqa: E402
from datasette_tei import schema  # noqa: E402
from datasette_tei.build import load  # noqa: E402
from datasette_tei.cli import DEMO_DIR  # noqa: E402


def make(path, edges, indexes):
    if os.path.exists(path):
        os.remove(path)
    report = load.build(path, [DEMO_DIR])
    assert report.ok, report.errors
    conn = sqlite3.connect(path)
    # The build made the coordination tables (and the demo's own runs):
    # emptied here for the generated network, without its indexes if asked.
    for table in TABLES:
        conn.execute(f"DELETE FROM [{table}]")
    if not indexes:
        for table, columns in schema.COORDINATION_INDEXES:
            conn.execute(f"DROP INDEX [{schema.index_name(table, columns)}]")
    campaigns = [r[0] for r in conn.execute("SELECT name FROM campaigns ORDER BY name")]
    rng = random.Random(1)
    accounts = max(edges // 20, 100)
    campaign_of = [campaigns[i % len(campaigns)] for i in range(accounts)]
    ids = [f"acct{i:07d}" for i in range(accounts)]
    seen = set()

    def rows():
        while len(seen) < edges:
            a, b = rng.randrange(accounts), rng.randrange(accounts)
            if a == b or (a, b) in seen:
                continue
            seen.add((a, b))
            weight, reverse = rng.randint(2, 40), rng.choice((0, 1, rng.randint(2, 40)))
            yield (1, "co_retweet", ids[a], ids[b], campaign_of[a], campaign_of[b], weight, reverse,
                   min(weight, reverse) / max(weight, reverse), "2019-01-01 00:00", "2019-06-01 00:00")

    conn.executemany("INSERT OR IGNORE INTO coordination_edges VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows())
    groups = max(accounts // 10, 1)
    conn.executemany("INSERT INTO coordination_groups (run_id, userid, group_id, campaign) VALUES (1, ?, ?, ?)",
                     ((ids[i], 1 + i % groups, campaign_of[i]) for i in range(accounts)))
    conn.executemany(
        "INSERT INTO coordination_group_summaries (run_id, group_id, size, campaigns, top_hashtags, top_domains, "
        "tweets, coordinated_tweets, coordinated_share) VALUES (1, ?, ?, ?, '[]', '[]', 0, 0, 0)",
        ((g, accounts // groups, '["' + '", "'.join(campaigns) + '"]') for g in range(1, groups + 1)))
    conn.execute(
        "INSERT INTO coordination_runs (id, kind, window_minutes, min_weight, scope, is_default, parameters, "
        "created, edge_count, account_count, group_count) VALUES (1, 'co_retweet', 1, 2, '*', 1, '{}', "
        "'2026-12-01T00:00:00Z', ?, ?, ?)", (edges, accounts, groups))
    conn.commit()
    conn.close()
    return campaigns[0]


async def time_page(path, campaign, repeat):
    from datasette.app import Datasette

    ds = Datasette([path])
    await ds.invoke_startup()
    times = {}
    for fmt in (".json", ""):
        for _ in range(repeat):
            started = time.perf_counter()
            response = await ds.client.get(f"/-/tei/{campaign}/network{fmt}")
            elapsed = time.perf_counter() - started
            if response.status_code != 200:  # the page's own time-limit message
                assert "time limit" in response.text, response.text[:300]
                elapsed = float("inf")
            times.setdefault(fmt or ".html", []).append(elapsed)
    return times


def shown(seconds):
    return "over the time limit" if seconds == float("inf") else f"{seconds * 1000:5.0f} ms"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--edges", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)  # at least 2
    parser.add_argument("--dir", default="bench-data")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    print(f"network page, one run of {args.edges:,} edges, {args.repeat} requests a format")
    for indexes in (True, False):
        path = os.path.join(args.dir, f"network-{args.edges}-{'indexed' if indexes else 'bare'}.db")
        started = time.perf_counter()
        campaign = make(path, args.edges, indexes)
        made = time.perf_counter() - started
        times = asyncio.run(time_page(path, campaign, args.repeat))
        label = "with the indexes   " if indexes else "without the indexes"
        print(f"{label}  first (json, layout computed) {shown(times['.json'][0])}   "
              f"then best json {shown(min(times['.json'][1:]))}, "
              f"page {shown(min(times['.html']))}   (data made in {made:.0f} s)")


if __name__ == "__main__":
    main()
