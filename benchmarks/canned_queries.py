"""The canned queries with and without a campaign, through a real
`datasette serve` started with no -m or -c (the plugin's own settings).

The database is benchmarks/serve.py's (N synthetic tweets in two
campaigns, built once and cached). The synthetic tweets use a few dozen
hashtags and domains and a few thousand accounts, far fewer than real
archives, so a copy is padded first: --hashtags rows of invented hashtags
in campaign_top and --accounts invented users (account creation dates
spread over ten years), and the all-campaign rankings and creation days are
recomputed (their time is printed: the build pays it once). Then each query is
requested R times after a warm-up, one at a time; p50 and p95 in ms.

Usage: python benchmarks/canned_queries.py [--tweets 1000000] [--repeat 20]
       [--hashtags 300000] [--accounts 200000] [--dir bench-data]
Not a test: it prints figures.
"""
import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

from datasette_tei.build import all_campaigns  # noqa: E402
from serve import Client, ensure_database, free_port, measure  # noqa: E402

QUERIES = ("top_hashtags", "top_domains", "activity_by_hour", "account_creation_bursts",
           "most_retweeted_accounts")


def pad(path, hashtags, accounts):
    conn = sqlite3.connect(path)
    rng = random.Random(5)
    campaigns = [r[0] for r in conn.execute("SELECT name FROM campaigns")]
    with conn:
        for campaign in campaigns:
            start = conn.execute("SELECT coalesce(max(rank), 0) FROM campaign_top "
                                 "WHERE campaign = ? AND kind = 'hashtag'", (campaign,)).fetchone()[0]
            conn.executemany(
                "INSERT INTO campaign_top (campaign, kind, rank, value, tweets, accounts) "
                "VALUES (?, 'hashtag', ?, ?, ?, ?)",
                ((campaign, start + i + 1, f"padded{rng.randrange(hashtags)}_{i}", 1, 1)
                 for i in range(hashtags // len(campaigns))))
        conn.executemany(
            "INSERT INTO users (campaign, userid, user_screen_name, account_creation_date) "
            "VALUES (?, ?, ?, ?)",
            ((rng.choice(campaigns), f"padded{i}", f"padded{i}",
              f"{2010 + rng.randrange(10)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}")
             for i in range(accounts)))
    started = time.perf_counter()
    with conn:
        all_campaigns.refresh(conn)
        all_campaigns.refresh_creation_days(conn)
    refresh = time.perf_counter() - started
    conn.execute("ANALYZE")
    conn.close()
    return refresh


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--hashtags", type=int, default=300_000)
    parser.add_argument("--accounts", type=int, default=200_000)
    parser.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    args = parser.parse_args()
    bindir = os.path.dirname(sys.executable)
    db, _ = ensure_database(os.path.join(args.dir, f"serve_{args.tweets}"), args.tweets, bindir)
    padded = os.path.join(os.path.dirname(db), "padded.db")
    shutil.copy(db, padded)
    refresh = pad(padded, args.hashtags, args.accounts)
    print(f"padded: +{args.hashtags:,} hashtag rows, +{args.accounts:,} accounts; "
          f"all-campaign rankings and creation days recomputed in {refresh:.2f} s")
    port = free_port()
    process = subprocess.Popen(
        [os.path.join(bindir, "datasette"), "serve", "-i", padded, "--port", str(port),
         "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                client.get("/-/versions.json")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("datasette serve did not start")
                time.sleep(0.2)
        big = f"bench_{args.tweets}_2020"
        print(f"{'query':28} {'campaign':22} {'rows':>5} {'p50 ms':>7} {'p95 ms':>7}  status")
        for query in QUERIES:
            for campaign in (big, ""):
                url = (f"/padded/{query}.json?_shape=array&"
                       + urllib.parse.urlencode({"campaign": campaign}))
                rows = len(client.get(url).json())
                p50, p95, statuses = measure(client, url, args.repeat)
                print(f"{query:28} {campaign or '(all)':22} {rows:5} {p50:7.0f} {p95:7.0f}  {sorted(statuses)}")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
