"""The campaign page's charts and the links of their bars, timed on a
database of N synthetic tweets in one campaign, through Datasette in this
process (`datasette.client`), with the default sql_time_limit_ms (1 s).

Prints p50 over R requests (after a warm-up) of: the campaign page, its
JSON, the table a month bar opens, an hour bar's, a heatmap cell's, and the
row count each link's page states (None: Datasette's count timed out, and
the page says so instead of a figure).

Usage: python benchmarks/charts.py [--tweets 300000] [--repeat 5] [--dir bench-data/charts]
Not a test: it prints figures.
"""
import argparse
import asyncio
import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei.build import load, synthetic  # noqa: E402
from datasette_tei.serve import pages  # noqa: E402


def ensure_database(folder, tweets):
    db = os.path.join(folder, "tei.db")
    if os.path.exists(db):
        return db
    os.makedirs(folder, exist_ok=True)
    source = os.path.join(folder, f"bench_{tweets}_tweets_csv_hashed.csv")
    synthetic.write_big_csv(source, tweets, "2020")
    started = time.perf_counter()
    report = load.build(db, [source])
    assert report.ok, report.errors
    print(f"built {tweets:,} tweets in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return db


async def timed(ds, url, repeat):
    await ds.client.get(url)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await ds.client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    heading = re.search(r"<h3[^>]*>(.*?)</h3>", response.text, re.S)
    count = heading and re.search(r"([0-9][0-9,]*) rows?", re.sub(r"<[^>]+>", "", heading.group(1)))
    return statistics.median(times) * 1000, count and count.group(1)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=os.path.join(os.path.dirname(HERE), "bench-data", "charts"))
    args = parser.parse_args()
    db = ensure_database(args.dir, args.tweets)
    from datasette.app import Datasette

    ds = Datasette([db])
    await ds.invoke_startup()
    name = os.path.basename(db)[:-3]
    campaign = (await ds.client.get("/-/tei.json")).json()["campaigns"][0]["name"]
    data = (await ds.client.get(pages.campaign_path(ds, campaign, ".json"))).json()
    kind, bins = data["tweet_bins"]
    busiest = max(bins, key=lambda b: b["tweets"])
    cell = max(data["weekday_hours"], key=lambda c: c["tweets"])
    hour = max(data["hours"], key=lambda h: h["tweets"])
    rows = [
        ("campaign page", pages.campaign_path(ds, campaign), None),
        ("campaign page JSON", pages.campaign_path(ds, campaign, ".json"), None),
        (f"busiest {kind} bar's table", busiest["url"], busiest["tweets"]),
        ("busiest hour bar's table", hour["url"], hour["tweets"]),
        ("busiest heatmap cell's table", cell["url"], cell["tweets"]),
    ]
    print(f"database {name}: {data['tweets']:,} tweets, charted per {kind} ({len(bins)} bars)")
    for label, url, figure in rows:
        ms, count = await timed(ds, url, args.repeat)
        said = "" if figure is None else f"  figure {figure:,}, page says {count or 'no count'}"
        print(f"{label:32} p50 {ms:7.1f} ms{said}")


if __name__ == "__main__":
    asyncio.run(main())
