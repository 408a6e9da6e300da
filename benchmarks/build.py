"""Build speed and memory, side by side with SQLite's own importer.

Generates N synthetic tweets in a real layout (cached), then on the same file
times, each in a fresh database and a child process whose peak memory is read:

- `datasette-tei build` (typed parse, tweets, users, FTS, indexes, summaries);
- the `sqlite3` CLI: `.import` of the CSV, an FTS5 index over tweet_text and
  the same column indexes (C, no types, no lists): the reference;
- optionally `sqlite-utils insert --csv` followed by `enable-fts`.

Usage: python benchmarks/build.py [--tweets 1000000] [--sqlite-utils] [--dir bench-data]
Not a test: it prints figures and ratios.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei import synthetic  # noqa: E402

INDEXED = ("tweet_time", "userid", "tweet_language", "tweet_client_name")


def run(command, stdin=None):
    """Run a command; returns (seconds, peak RSS in MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else None,
                               stdout=subprocess.DEVNULL)
    if stdin:
        process.stdin.write(stdin.encode())
        process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss / 1024


def sqlite3_script(csv_path, tokenize):
    lines = [
        ".mode csv",
        f".import '{csv_path}' tweets",
        f"CREATE VIRTUAL TABLE tweets_fts USING fts5(tweet_text, content='tweets', tokenize='{tokenize}');",
        "INSERT INTO tweets_fts(tweets_fts) VALUES('rebuild');",
    ]
    lines += [f"CREATE INDEX idx_{column} ON tweets({column});" for column in INDEXED]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=1_000_000)
    parser.add_argument("--layout", default="2020", choices=sorted(synthetic.LAYOUTS))
    parser.add_argument("--dir", default=os.path.join(os.path.dirname(HERE), "bench-data"))
    parser.add_argument("--sqlite-utils", action="store_true", help="also time sqlite-utils (slow)")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    csv_path = os.path.join(args.dir, f"bench_{args.tweets}_{args.layout}_tweets_csv_hashed.csv")
    if not os.path.exists(csv_path):
        print(f"generating {args.tweets:,} tweets ...", file=sys.stderr)
        synthetic.write_big_csv(csv_path + ".tmp", args.tweets, args.layout)
        os.replace(csv_path + ".tmp", csv_path)
    size_mb = os.path.getsize(csv_path) / 1e6
    work = tempfile.mkdtemp(dir=args.dir)
    bindir = os.path.dirname(sys.executable)
    results = []
    try:
        db = os.path.join(work, "tei.db")
        seconds, peak = run([os.path.join(bindir, "datasette-tei"), "build", db, csv_path, "--silent"])
        results.append(("datasette-tei build", seconds, peak, os.path.getsize(db)))
        if not args.skip_reference:
            for tokenize in ("unicode61", "trigram"):
                db = os.path.join(work, f"sqlite3_{tokenize}.db")
                seconds, peak = run(["sqlite3", db], stdin=sqlite3_script(csv_path, tokenize))
                results.append((f"sqlite3 .import+FTS5({tokenize})+4 indexes", seconds, peak, os.path.getsize(db)))
        if args.sqlite_utils:
            db = os.path.join(work, "sqlite_utils.db")
            su = os.path.join(bindir, "sqlite-utils")
            s1, p1 = run([su, "insert", db, "tweets", csv_path, "--csv"])
            s2, p2 = run([su, "enable-fts", db, "tweets", "tweet_text", "--fts5"])
            results.append(("sqlite-utils insert --csv + enable-fts", s1 + s2, max(p1, p2), os.path.getsize(db)))
    finally:
        shutil.rmtree(work)

    print(f"\n{args.tweets:,} tweets, {size_mb:,.0f} MB of CSV ({args.layout} layout)\n")
    print(f"{'command':48} {'seconds':>8} {'rows/s':>10} {'peak MB':>8} {'db MB':>7}")
    for name, seconds, peak, size in results:
        print(f"{name:48} {seconds:8.1f} {args.tweets / seconds:10,.0f} {peak:8.0f} {size / 1e6:7.0f}")
    ours = results[0][1]
    for name, seconds, _, _ in results[1:]:
        if seconds > ours:  # a slower tool: how many times faster the build is
            print(f"datasette-tei is {seconds / ours:.1f}x faster than {name}")
        else:
            print(f"datasette-tei / {name}: {ours / seconds:.2f}x")


if __name__ == "__main__":
    main()
