"""Account page latency for a prolific account, in-process through datasette.client.

Builds (once, cached in --dir) a database of two campaigns: one account with
--tweets synthetic tweets, and a second campaign of 20,000 tweets from 1,000
accounts. Then prints:
- the build's cost of storing the prolific account's figures (accounts.refresh);
- what counting its figures per request would cost (accounts.figures, live);
- p50/p95 of the account page (HTML and JSON), of a timeline page deep in
  its tweets (keyset), and of its tweets table link, R requests each after a
  warm-up, one at a time, against Datasette's sql_time_limit_ms (1,000 ms).

Usage: python benchmarks/accounts.py [--tweets 150000] [--repeat 20] [--dir bench-data]
Not a test: it prints figures. Conditions (machine, load) are the caller's to state.
"""
import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette.app import Datasette  # noqa: E402

from datasette_tei import accounts  # noqa: E402
from datasette_tei.build import load, synthetic  # noqa: E402
from datasette_tei.serve import pages  # noqa: E402


def build(folder, n):
    path = os.path.join(folder, f"accounts-{n}.db")
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    sources = []
    for name, rows in (
        ("prolific_012020", synthetic.generate_tweets(n, "2020", n_users=1, seed=3, first_id=10**17)),
        ("crowd_022020", synthetic.generate_tweets(20_000, "2020", n_users=1000, seed=4,
                                                   first_id=3 * 10**17)),
    ):
        csv = os.path.join(folder, f"{name}_tweets_csv_hashed.csv")
        with open(csv, "w", encoding="utf-8") as handle:
            handle.write(synthetic.tweets_csv_text(list(rows), "2020"))
        sources.append(csv)
    started = time.perf_counter()
    report = load.build(path + ".part", sources)
    assert report.ok, report.errors
    os.rename(path + ".part", path)
    print(f"built {n + 20_000:,} tweets in {time.perf_counter() - started:.1f} s")
    return path


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(label, times):
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label:<44} p50 {statistics.median(times):8.1f} ms   p95 {p95:8.1f} ms")


async def serve(path, userid, repeat):
    ds = Datasette([path], immutables=[])
    await ds.invoke_startup()
    conn = sqlite3.connect(path)
    deep = conn.execute(
        "SELECT tweet_time, tweetid FROM tweets WHERE userid = ? ORDER BY tweet_time DESC, tweetid DESC "
        "LIMIT 1 OFFSET 60", (userid,)).fetchone()
    conn.close()
    name = os.path.splitext(os.path.basename(path))[0]
    urls = {
        "account page (HTML)": pages.account_path(ds, userid),
        "account page (JSON)": pages.account_path(ds, userid, ".json"),
        "timeline page near the end (JSON)": pages.account_path(ds, userid, ".json") + "?" + urllib.parse.urlencode(
            {"database": name, "after": f"{deep[0]}|{deep[1]}"}),
        "its tweets, the figure's link (JSON)": f"/{name}/tweets.json?" + urllib.parse.urlencode(
            {"userid": userid, "_sort": "tweet_time", "_shape": "objects"}),
    }
    for label, url in urls.items():
        response = await ds.client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = await ds.client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        report(label, times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tweets", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", default=os.path.join(HERE, "..", "bench-data"))
    args = parser.parse_args()
    path = build(args.dir, args.tweets)
    conn = sqlite3.connect(path)
    userid, count = conn.execute(
        "SELECT userid, count(*) FROM tweets GROUP BY userid ORDER BY 2 DESC LIMIT 1").fetchone()
    stored = conn.execute(f"SELECT tweets FROM {accounts.TABLE} WHERE userid = ?", (userid,)).fetchone()
    print(f"account {userid}: {count:,} tweets; figures stored by the build: {bool(stored)}")
    report("figures counted live (what the build stores)", timed(lambda: accounts.figures(conn, userid), 3))
    conn.close()
    asyncio.run(serve(path, userid, args.repeat))


if __name__ == "__main__":
    main()
