"""Load test: N concurrent clients against a real `datasette serve` for T seconds.

Starts `datasette serve` on a free loopback port over a database built by
`datasette-tei build` (--db PATH, or the bundled demo, built into a temporary
folder), then N clients (asyncio + httpx, one connection each) request, in
turn: the campaign index and pages, their JSON, the `search` canned query
and ?_search=, facets, the table JSON and the precomputed canned queries.
Bounded in time (--duration) and in count (--max-requests); it stops by
itself, stops the server, and prints requests served, errors and the
p50/p95/p99 latency per kind of request.

Usage: python benchmarks/load.py [--db tei.db] [--clients 50] [--duration 60]
Exit status 1 when any request failed (a status of 400 or more, or no answer).
"""
import argparse
import asyncio
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import httpx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEARCH_TERMS = ["election", "news", "香港", "Выборы", "الحكومة", "freedom people", "经济发展"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_demo(folder):
    path = os.path.join(folder, "demo.db")
    command = [os.path.join(os.path.dirname(sys.executable), "datasette-tei"), "build", path, "--demo", "--silent"]
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    return path


class Server:
    """`datasette serve` on 127.0.0.1, started and stopped by this process."""

    def __init__(self, db, port=None, log=None, extra=()):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log or tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "datasette", "serve", db, "--host", "127.0.0.1",
             "--port", str(self.port), *extra],
            stdout=subprocess.DEVNULL, stderr=self.log)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.base + "/-/versions.json", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
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


def plan(base):
    """(kind, path) for every request the clients make, from what is served."""
    index = httpx.get(base + "/-/tei.json", timeout=30).json()
    campaigns = [(c["database"], c["name"]) for c in index["campaigns"]]
    if not campaigns:
        raise SystemExit("the database holds no campaign: is it built by datasette-tei?")
    quote = urllib.parse.quote
    requests = [("index", "/-/tei"), ("index", "/-/tei.json")]
    for database, name in campaigns:
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
        for term in SEARCH_TERMS:
            params = urllib.parse.urlencode({"q": term, "campaign": "", "language": ""})
            requests += [
                ("search", f"/{quote(database)}/search.json?{params}"),
                ("search", f"/{quote(database)}/search?{params}&campaign={quote(name)}"),
                ("_search", f"{table}.json?" + urllib.parse.urlencode({"_search": term, "_size": "20"})),
            ]
    return requests


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def client(http, requests, deadline, budget, results, failures, seed):
    rng = random.Random(seed)
    order = requests[:]
    rng.shuffle(order)
    for kind, path in itertools.cycle(order):
        if time.monotonic() >= deadline or next(budget, None) is None:
            return
        started = time.perf_counter()
        try:
            response = await http.get(path)
            await response.aread()
            failed = response.status_code >= 400
            detail = f"{response.status_code} {path}"
        except httpx.HTTPError as error:
            failed, detail = True, f"{type(error).__name__} {path}"
        elapsed = time.perf_counter() - started
        results.setdefault(kind, []).append(elapsed)
        if failed:
            failures.setdefault(kind, []).append(detail)


async def drive(base, requests, clients, duration, max_requests, timeout=30.0):
    """Run the clients; returns ({kind: [seconds]}, {kind: [failure]}, elapsed)."""
    results, failures = {}, {}
    budget = iter(range(max_requests))  # shared: the whole run's request count
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as http:
        started = time.monotonic()
        deadline = started + duration
        await asyncio.gather(*(client(http, requests, deadline, budget, results, failures, seed)
                               for seed in range(clients)))
        return results, failures, time.monotonic() - started


def table(results, failures, elapsed):
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
    return "\n".join(lines)


def run(db, clients=50, duration=60.0, max_requests=1_000_000, extra=()):
    """Serve db, load it, stop; returns (results, failures, elapsed, server log tail)."""
    with Server(db, extra=extra) as server:
        requests = plan(server.base)
        results, failures, elapsed = asyncio.run(
            drive(server.base, requests, clients, duration, max_requests))
        return results, failures, elapsed, server.log_tail()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a database built by datasette-tei (default: build the demo)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--metadata", help="metadata.yml to serve with (optional)")
    args = parser.parse_args()
    extra = ("-m", args.metadata) if args.metadata else ()
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or build_demo(folder)
        print(f"{args.clients} clients for up to {args.duration:g} s against datasette serve {db}", flush=True)
        results, failures, elapsed, log = run(db, args.clients, args.duration, args.max_requests, extra)
    print(table(results, failures, elapsed))
    if failures:
        shown = [detail for details in failures.values() for detail in details][:10]
        print("First failures:\n  " + "\n  ".join(shown), file=sys.stderr)
        print("Server log (end):\n" + log, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
