"""Serving latency on a large database, through a real `datasette serve -i`.

Builds (once, cached) a database of N synthetic tweets in two campaigns, writes
the inspect file, starts `datasette serve -i tei.db --inspect-file inspect.json
-m metadata.yml` with the settings the README recommends for a published
instance (plus `-c datasette.yaml` on Datasette 1.0) on a free loopback port,
and requests each page R times after a warm-up, one request at a time.
Prints p50/p95 per page against the targets of the performance issue (ok or
MISSED), how many tweets the common word matches, and whether any facet
timed out.

Usage: python benchmarks/serve.py [--tweets 5000000] [--repeat 20] [--dir bench-data] [--only TEXT]
Not a test: it prints figures.
"""
import argparse
import os
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import time

import json
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from datasette_tei.build import synthetic  # noqa: E402

SMALL = 100_000  # the second campaign, so that a filter to one campaign means something


class Page:
    def __init__(self, status_code, body):
        self.status_code = status_code
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.text)


class Client:
    """The few calls this needs, on the standard library: Datasette 1.0
    does not bring httpx along."""

    def __init__(self, base, timeout=60):
        self.base = base
        self.timeout = timeout

    def get(self, path):
        url = self.base + urllib.parse.quote(path, safe="/?=&:%._-")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return Page(response.status, response.read())
        except urllib.error.HTTPError as error:
            return Page(error.code, error.read())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_database(folder, tweets, bindir):
    db = os.path.join(folder, "tei.db")
    inspect = os.path.join(folder, "inspect.json")
    if os.path.exists(db) and os.path.exists(inspect):
        return db, inspect
    os.makedirs(folder, exist_ok=True)
    # The same file benchmarks/build.py generates and caches.
    big = os.path.join(os.path.dirname(folder), f"bench_{tweets}_2020_tweets_csv_hashed.csv")
    small = os.path.join(folder, "bench_small_tweets_csv_hashed.csv")
    if not os.path.exists(big):
        print(f"generating {tweets:,} tweets ...", file=sys.stderr)
        synthetic.write_big_csv(big + ".tmp", tweets, "2020")
        os.replace(big + ".tmp", big)
    if not os.path.exists(small):
        with open(small + ".tmp", "w", encoding="utf-8", newline="") as handle:
            synthetic.write_csv(handle, synthetic.LAYOUTS["2019"],
                                synthetic.generate_tweets(SMALL, "2019", 500, seed=12, first_id=9 * 10**17),
                                "2019")
        os.replace(small + ".tmp", small)
    started = time.perf_counter()
    subprocess.run([os.path.join(bindir, "datasette-tei"), "build", db, big, small, "--silent"], check=True)
    print(f"built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    subprocess.run([os.path.join(bindir, "datasette"), "inspect", db, "--inspect-file", inspect], check=True)
    return db, inspect


# The settings the README recommends for a published instance.
SETTINGS = (
    ("suggest_facets", "off"),
    ("allow_download", "off"),
    ("default_cache_ttl", "86400"),
    ("sql_time_limit_ms", "3000"),
    ("num_sql_threads", "8"),
)


def serve(db, inspect, bindir, port):
    import datasette

    command = [os.path.join(bindir, "datasette"), "serve", "-i", db, "--inspect-file", inspect,
               "-m", os.path.join(ROOT, "metadata.yml"), "--port", str(port), "--host", "127.0.0.1"]
    for name, value in SETTINGS:
        command += ["--setting", name, value]
    if not datasette.__version__.startswith("0."):
        command += ["-c", os.path.join(ROOT, "datasette.yaml")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            Client(f"http://127.0.0.1:{port}", timeout=2).get("/-/versions.json")
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("datasette serve did not start")


def measure(client, url, repeat):
    client.get(url)  # warm-up: the first request pays for caches
    times, statuses = [], set()
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        statuses.add(response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95, statuses


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="only the pages whose name holds TEXT (repeatable), e.g. --only '?_search='")
    args = parser.parse_args()
    bindir = os.path.dirname(sys.executable)
    db, inspect = ensure_database(os.path.join(args.dir, f"serve_{args.tweets}"), args.tweets, bindir)
    port = free_port()
    process = serve(db, inspect, bindir, port)
    base = f"http://127.0.0.1:{port}"
    big = f"bench_{args.tweets}_2020"
    pages = [
        ("/-/tei", "/-/tei", 100),
        ("campaign page (large)", f"/-/tei/{big}", 150),
        ("campaign page (small)", "/-/tei/bench_small", 150),
        ("search: common word", "/tei/search.json?q=election&_shape=array", 200),
        ("search: Chinese 2-char word", "/tei/search.json?q=香港&_shape=array", 200),
        ("search: rare word", "/tei/search.json?q=patriot_voice_4321&_shape=array", 200),
        ("search: no match", "/tei/search.json?q=zzqxv&_shape=array", 200),
        ("?_search= common, JSON array", "/tei/tweets.json?_search=election&_shape=array", 200),
        ("?_search= rare, JSON array", "/tei/tweets.json?_search=patriot_voice_4321&_shape=array", 200),
        # As a browser sees it: with the count and the facets, which the JSON array skips.
        ("?_search= common, HTML page", "/tei/tweets?_search=election", 200),
        ("?_search= rare, HTML page", "/tei/tweets?_search=patriot_voice_4321", 200),
        ("tweets page, default facets", "/tei/tweets", 1000),
        ("tweets page, one campaign", f"/tei/tweets?campaign={big}", 1000),
        ("tweets page, small campaign", "/tei/tweets?campaign=bench_small", 1000),
        ("top_hashtags query", f"/tei/top_hashtags.json?campaign={big}&_shape=array", 200),
        ("table counts (/tei.json)", "/tei.json", 200),
    ]
    if args.only:
        pages = [page for page in pages if any(text in page[0] for text in args.only)]
    try:
        client = Client(base)
        print(f"\n{os.path.getsize(db) / 1e9:.1f} GB database, {args.tweets + SMALL:,} tweets, "
              f"{args.repeat} requests each\n")
        print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}  status")
        for name, url, target in pages:
            p50, p95, statuses = measure(client, url, args.repeat)
            verdict = "ok" if p95 < target and statuses == {200} else "MISSED"
            print(f"{name:32} {p50:8.0f} {p95:8.0f} {target:8}  {sorted(statuses)} {verdict}")
        # The page says which facets timed out (0.65's JSON does not).
        for url in ("/tei/tweets", f"/tei/tweets?campaign={big}", "/tei/tweets?campaign=bench_small"):
            timed_out = re.search(r'class="facets-timed-out">([^<]*)<', client.get(url).text)
            print(f"facets timed out on {url}: {timed_out.group(1) if timed_out else 'none'}")
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            matched = conn.execute("SELECT count(*) FROM tweets_fts WHERE tweets_fts MATCH 'election'")
            print(f"tweets matching election: {matched.fetchone()[0]:,}")
        finally:
            conn.close()
        counts = client.get("/tei.json").json()
        tables = counts.get("tables", [])
        tweets = [t for t in tables if t.get("name") == "tweets"]
        if tweets:
            print(f"tweets count shown: {tweets[0].get('count')} (truncated: {tweets[0].get('count_truncated')})")
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
