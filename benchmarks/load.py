"""Load test: N concurrent clients against a real `datasette serve` for T seconds.

Starts `datasette serve` on a free loopback port over a database built by
`datasette-tei build` (--db PATH, or the bundled demo, built into a temporary
folder), then N clients (asyncio, one keep-alive HTTP/1.1 connection each,
standard library only: Datasette 1.0 no longer installs httpx) request, in
turn: the campaign index and pages, their JSON, the `search` canned query
and ?_search=, facets, the table JSON and the precomputed canned queries.
Bounded in time (--duration) and in count (--max-requests); it stops by
itself, stops the server, and prints requests served, errors and the
p50/p95/p99 latency per kind of request.

Serves with the settings the README recommends for a published instance
(benchmarks/serve.py's SETTINGS), unless --datasette-defaults.

Usage: python benchmarks/load.py [--db tei.db | --tweets 1000000] [--clients 50] [--duration 60]
Exit status 1 when any request failed (a status of 400 or more, or no answer).
"""
import argparse
import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from serve import SETTINGS as RECOMMENDED_SETTINGS, ensure_database, free_port  # noqa: E402
SEARCH_TERMS = ["election", "news", "香港", "Выборы", "الحكومة", "freedom people", "经济发展"]


def build_demo(folder):
    path = os.path.join(folder, "demo.db")
    command = [os.path.join(os.path.dirname(sys.executable), "datasette-tei"), "build", path, "--demo", "--silent"]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return path


class Server:
    """`datasette serve` on 127.0.0.1, started and stopped by this process."""

    def __init__(self, db, port=None, log=None, extra=(), immutable=False):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log or tempfile.TemporaryFile()
        # Immutable, with the inspect file beside the database if there is
        # one: how a built database is meant to be served.
        target = ["-i", db] if immutable else [db]
        inspect = os.path.join(os.path.dirname(db), "inspect.json")
        if immutable and os.path.exists(inspect):
            target += ["--inspect-file", inspect]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "datasette", "serve", *target, "--host", "127.0.0.1",
             "--port", str(self.port), *extra],
            stdout=subprocess.DEVNULL, stderr=self.log)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.base + "/-/versions.json", timeout=5):
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("datasette serve did not start:\n" + self.log_tail())
            time.sleep(0.05)

    def log_tail(self, size=4000):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-size:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self):
        self.wait_ready()
        return self

    def __exit__(self, *exc):
        self.stop()


def get_json(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class Connection:
    """One keep-alive HTTP/1.1 connection: GET, status and body, nothing more."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def get(self, path):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode("ascii"))
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed by the server")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(parts)
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def plan(base):
    """(kind, path) for every request the clients make, from what is served."""
    index = get_json(base + "/-/tei.json")
    campaigns = [(c["database"], c["name"]) for c in index["campaigns"]]
    if not campaigns:
        raise SystemExit("the database holds no campaign: is it built by datasette-tei?")
    quote = urllib.parse.quote
    requests = [("index", "/-/tei"), ("index", "/-/tei.json")]
    for number, (database, name) in enumerate(campaigns):
        table = f"/{quote(database)}/tweets"
        requests += [
            ("campaign", f"/-/tei/{quote(name)}"),
            ("campaign json", f"/-/tei/{quote(name)}.json"),
            ("facets", f"{table}?campaign={quote(name)}&_facet=tweet_language&_facet=tweet_client_name"),
            ("facets", f"{table}.json?campaign={quote(name)}&_facet_array=hashtags&_size=0"),
            ("table json", f"{table}.json?campaign={quote(name)}&_size=50"),
            ("table json", f"/{quote(database)}/users.json?campaign={quote(name)}&_sort_desc=follower_count"),
            ("canned", f"/{quote(database)}/top_hashtags.json?campaign={quote(name)}"),
            ("canned", f"/{quote(database)}/activity_by_hour?campaign={quote(name)}"),
            ("canned", f"/{quote(database)}/most_retweeted_accounts.json?campaign={quote(name)}"),
        ]
        # The pages a reader opens from there: the table filtered to the
        # campaign (rows, count and facets), an account's page, a tweet's
        # row page and the coordination network.
        requests.append(("table html", f"{table}?campaign={quote(name)}"))
        accounts = get_json(base + f"/{quote(database)}/users.json?" + urllib.parse.urlencode(
            {"campaign": name, "_sort_desc": "follower_count", "_size": "2", "_shape": "array"}))
        for account in accounts:
            requests.append(("account", f"/-/tei/accounts/{quote(str(account['userid']), safe='')}"))
        tweets = get_json(base + f"{table}.json?" + urllib.parse.urlencode(
            {"campaign": name, "_col": "tweetid", "_size": "2", "_shape": "array"}))
        for tweet in tweets:
            requests.append(("row", f"{table}/{tweet['tweetid']}"))
        requests.append(("network", f"/-/tei/{quote(name)}/network"))
        for term in SEARCH_TERMS:
            params = urllib.parse.urlencode({"q": term, "campaign": "", "language": ""})
            in_campaign = urllib.parse.urlencode({"q": term, "campaign": name, "language": ""})
            requests += [
                ("search", f"/{quote(database)}/search.json?{params}"),
                ("search", f"/{quote(database)}/search?{in_campaign}"),
                ("_search", f"{table}.json?" + urllib.parse.urlencode({"_search": term, "_size": "20"})),
            ]
        # ?_search= as a browser opens it: count, facets and 100 rows.
        term = SEARCH_TERMS[number % len(SEARCH_TERMS)]
        requests.append(("_search html", f"{table}?" + urllib.parse.urlencode({"_search": term})))
    return requests


# Every request's time by path, for --slowest.
PATH_TIMES = {}


def slowest(count):
    """The `count` paths with the highest median time, one a line."""
    ranked = sorted(((percentile(times, .5), len(times), path) for path, times in PATH_TIMES.items()),
                    reverse=True)[:count]
    return "\n".join(f"{median * 1000:8.0f} ms median, {n:>4} requests  {urllib.parse.unquote(path)}"
                     for median, n, path in ranked)


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def client(address, requests, deadline, budget, results, failures, seed, timeout):
    rng = random.Random(seed)
    order = requests[:]
    rng.shuffle(order)
    connection = Connection(*address)
    try:
        for kind, path in itertools.cycle(order):
            if time.monotonic() >= deadline or next(budget, None) is None:
                return
            started = time.perf_counter()
            try:
                status, _, _ = await asyncio.wait_for(connection.get(path), timeout)
                failed, detail = status >= 400, f"{status} {path}"
            except (OSError, EOFError, ValueError, IndexError, asyncio.TimeoutError) as error:
                connection.close()
                failed, detail = True, f"{type(error).__name__} {path}"
            elapsed = time.perf_counter() - started
            results.setdefault(kind, []).append(elapsed)
            PATH_TIMES.setdefault(path, []).append(elapsed)
            if failed:
                failures.setdefault(kind, []).append(detail)
    finally:
        connection.close()


async def drive(base, requests, clients, duration, max_requests, timeout=30.0):
    """Run the clients; returns ({kind: [seconds]}, {kind: [failure]}, elapsed)."""
    results, failures = {kind: [] for kind, _ in requests}, {}  # every kind of the plan, even unreached
    budget = iter(range(max_requests))  # shared: the whole run's request count
    address = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
    started = time.monotonic()
    deadline = started + duration
    await asyncio.gather(*(client(address, requests, deadline, budget, results, failures, seed, timeout)
                           for seed in range(clients)))
    return results, failures, time.monotonic() - started


def table(results, failures, elapsed):
    """The table of requests per kind (results holds every kind of the
    plan, unreached ones with no times), and the targets."""
    lines = [f"{'kind':<14} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"]
    everything = []
    for kind in sorted(results):
        times = results[kind]
        everything += times
        lines.append(f"{kind:<14} {len(times):>9,} {len(failures.get(kind, [])):>7,} "
                     f"{percentile(times, .50) * 1000:>8.1f} {percentile(times, .95) * 1000:>8.1f} "
                     f"{percentile(times, .99) * 1000:>8.1f}")
    errors = sum(len(f) for f in failures.values())
    lines.append(f"{'all':<14} {len(everything):>9,} {errors:>7,} {percentile(everything, .50) * 1000:>8.1f} "
                 f"{percentile(everything, .95) * 1000:>8.1f} {percentile(everything, .99) * 1000:>8.1f}")
    lines.append(f"{len(everything):,} requests served in {elapsed:.1f} s: "
                 f"{len(everything) / max(elapsed, 1e-9):,.0f} requests/s")
    lines += verdicts(results, failures)
    return "\n".join(lines)


# The targets of the performance issue for 50 clients on two cores.
TARGET_P99_SECONDS = 10.0


def verdicts(results, failures):
    """One line per target: no error, p99 under TARGET_P99_SECONDS, and
    every kind of request of the plan answered (without error) at least once."""
    everything = [t for times in results.values() for t in times]
    errors = sum(len(f) for f in failures.values())
    p99 = percentile(everything, .99)
    kinds = sorted(results)
    missing = [kind for kind in kinds if len(results[kind]) <= len(failures.get(kind, ()))]

    def verdict(ok):
        return "met" if ok else "MISSED"

    return [
        f"target: no error{'':<22} {errors:>7,} errors   {verdict(errors == 0)}",
        f"target: p99 < {TARGET_P99_SECONDS:g} s{'':<20} {p99:>7.1f} s        "
        f"{verdict(everything and p99 < TARGET_P99_SECONDS)}",
        f"target: every kind of page answered  {len(kinds) - len(missing):>3} of {len(kinds):<3}      "
        f"{verdict(not missing)}" + (f" (none answered: {', '.join(missing)})" if missing else ""),
    ]


def run(db, clients=50, duration=60.0, max_requests=1_000_000, extra=(), immutable=False):
    """Serve db, load it, stop; returns (results, failures, elapsed, server log tail)."""
    with Server(db, extra=extra, immutable=immutable) as server:
        requests = plan(server.base)
        results, failures, elapsed = asyncio.run(
            drive(server.base, requests, clients, duration, max_requests))
        return results, failures, elapsed, server.log_tail()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a database built by datasette-tei (default: build the demo)")
    parser.add_argument("--tweets", type=int,
                        help="instead, N synthetic tweets (and a 100k-tweet campaign), built once and "
                             "kept under --dir as benchmarks/serve.py builds them; served immutable")
    parser.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--metadata", help="metadata.yml to serve with (optional)")
    parser.add_argument("--immutable", action="store_true",
                        help="serve with -i, and the inspect.json beside the database if there is one")
    parser.add_argument("--setting", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a Datasette setting for the server, e.g. --setting num_sql_threads 3")
    parser.add_argument("--slowest", type=int, default=0, metavar="N",
                        help="also print the N paths with the highest median time")
    parser.add_argument("--datasette-defaults", action="store_true",
                        help="serve with Datasette's default settings, not the README's recommended ones")
    args = parser.parse_args()
    if args.tweets and not args.metadata:
        args.metadata = os.path.join(ROOT, "metadata.yml")  # as serve.py serves it
    extra = ("-m", args.metadata) if args.metadata else ()
    # The settings the README recommends for a published instance, unless
    # asked otherwise; --setting adds to them or overrides them.
    settings = {} if args.datasette_defaults else dict(RECOMMENDED_SETTINGS)
    settings.update(args.setting)
    for name, value in settings.items():
        extra += ("--setting", name, value)
    with tempfile.TemporaryDirectory() as folder:
        if args.tweets:
            db, _ = ensure_database(os.path.join(args.dir, f"serve_{args.tweets}"), args.tweets,
                                    os.path.dirname(sys.executable))
            args.immutable = True
        else:
            db = args.db or build_demo(folder)
        print(f"{args.clients} clients for up to {args.duration:g} s against datasette serve "
              f"{'-i ' if args.immutable else ''}{db}"
              + "".join(f" {part}" for part in extra), flush=True)
        results, failures, elapsed, log = run(db, args.clients, args.duration, args.max_requests, extra,
                                              immutable=args.immutable)
    print(table(results, failures, elapsed))
    if args.slowest:
        print(f"The {args.slowest} slowest paths (median under this load):\n" + slowest(args.slowest))
    if failures:
        shown = [detail for details in failures.values() for detail in details][:10]
        print("First failures:\n  " + "\n  ".join(shown), file=sys.stderr)
        print("Server log (end):\n" + log, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
