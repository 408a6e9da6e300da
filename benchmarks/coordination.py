"""Coordination networks: ours against the reference tool's `compute`.

Generates N synthetic tweets (cached): background accounts tweeting at
random (synthetic.generate_tweets, as benchmarks/build.py) plus planted
groups (one per 10,000 tweets) that retweet, post and link together. Then,
each in a child process whose peak memory is read:

- `datasette-tei build` of the tweets (the build computes the default
  networks; their seconds are read from coordination_runs);
- `datasette-tei coordinate DB`: the default networks again, alone;
- the coordination-network-toolkit: its preprocess of the same tweets (not
  counted), then its compute of co_retweet, co_tweet and co_link with the
  same window in seconds, the same minimum weight and a process per core
  (its CLI's default), each timed alone.

Both tools' seconds are measured inside their processes (ours is
coordination_runs.seconds, which includes the groups and their summaries),
so that start-up is not counted; the peaks are of the whole processes.

Usage: python benchmarks/coordination.py [--tweets 1000000] [--dir bench-data] [--window 1]
Needs coordination-network-toolkit (the `test` extra). Not a test: it
prints figures and ratios.
"""
import argparse
import csv
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei import coordination, synthetic  # noqa: E402

REFERENCE_KINDS = ("co_retweet", "co_tweet", "co_link")


def run(command, **kwargs):
    """Run a command; returns (seconds, peak RSS in MB of it and its
    children, its standard output, CPU seconds of it and its children)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **kwargs)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return elapsed, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime


def write_tweets(path, n, layout="2020", seed=7):
    """n background tweets of 5,000 accounts, then the planted groups' tweets."""
    rng = random.Random(seed)
    groups = synthetic.make_planted_groups([rng.randint(3, 12) for _ in range(max(n // 10_000, 1))],
                                           layout, seed=seed)
    background = synthetic.make_users(5000, layout, seed=seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        synthetic.write_csv(handle, synthetic.LAYOUTS[layout], synthetic.generate_tweets(n, layout, 5000, seed), layout)
    planted = synthetic.planted_tweets(groups, layout, events=4, behaviours=("retweet", "text", "link"),
                                       background=background)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for row in planted:
            writer.writerow([row[name] for name in synthetic.LAYOUTS[layout]])
    return sum(len(group) for group in groups), len(groups)


def write_reference_csv(db_path, path):
    """Our tweets as the reference tool's CSV input (its README's columns):
    the same tweets, times in seconds (minute * 60)."""
    conn = sqlite3.connect(db_path)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message",
                         "timestamp", "urls"])
        for tweetid, userid, screen, repost, is_retweet, reply, text, minute, urls in conn.execute(
            f"SELECT tweetid, userid, user_screen_name, retweet_tweetid, is_retweet, in_reply_to_tweetid, "
            f"tweet_text, {coordination._MINUTE}, urls FROM tweets t"
        ):
            if repost is None and is_retweet:
                repost = f"retweet-{tweetid}"
            writer.writerow([tweetid, userid, screen, "" if repost is None else repost,
                             "" if reply is None else reply, text or "", minute * 60,
                             " ".join(json.loads(urls))])
    conn.close()


# Its preprocess_csv_files reads an empty urls field as the URL "" (which
# would co-link every link-less tweet): its preprocess_data, given lists.
# Its compute, timed inside the process (as ours is: coordination_runs.seconds),
# so that neither tool's start-up (imports) is counted.
REFERENCE_COMPUTE = """
import sys, time
from coordination_network_toolkit import compute_networks as c
compute = {"co_retweet": c.compute_co_retweet_parallel, "co_tweet": c.compute_co_tweet_network,
           "co_link": c.compute_co_link_network}[sys.argv[2]]
started = time.perf_counter()
compute(sys.argv[1], int(sys.argv[3]), n_threads=int(sys.argv[4]), min_edge_weight=2)
print("SECONDS", time.perf_counter() - started)
"""

REFERENCE_PREPROCESS = """
import csv, sys
from coordination_network_toolkit.preprocess import preprocess_data
with open(sys.argv[2], encoding="utf-8", newline="") as handle:
    reader = csv.reader(handle)
    next(reader)
    preprocess_data(sys.argv[1], ((*row[:-1], row[-1].split()) for row in reader))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=coordination.DEFAULT_WINDOW, help="minutes")
    parser.add_argument("--dir", default=os.path.join(os.path.dirname(HERE), "bench-data"))
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    csv_path = os.path.join(args.dir, f"coord_{args.tweets}_tweets_csv_hashed.csv")
    if not os.path.exists(csv_path):
        print(f"generating {args.tweets:,} tweets ...", file=sys.stderr)
        write_tweets(csv_path + ".tmp", args.tweets)
        os.replace(csv_path + ".tmp", csv_path)
    work = tempfile.mkdtemp(dir=args.dir)
    bindir = os.path.dirname(sys.executable)
    tool = os.path.join(bindir, "datasette-tei")
    try:
        db = os.path.join(work, "tei.db")
        build_seconds, build_peak, _, _ = run([tool, "build", db, csv_path, "--silent"])
        conn = sqlite3.connect(db)
        in_build = dict(conn.execute("SELECT kind, seconds FROM coordination_runs WHERE is_default = 1"))
        conn.close()
        window_args = ["--window", str(args.window)]
        ours = {}
        for kind in coordination.DEFAULT_KINDS:
            _, peak, _, cpu = run([tool, "coordinate", db, "--kind", kind, "--silent", *window_args])
            conn = sqlite3.connect(db)
            (seconds,), = conn.execute(
                "SELECT seconds FROM coordination_runs WHERE kind = ? AND window_minutes = ? "
                "AND min_weight = 2 AND scope = '*'", (kind, args.window))
            conn.close()
            ours[kind] = (seconds, peak, cpu)
        conn = sqlite3.connect(db)
        counts = dict((kind, (edges, groups)) for kind, edges, groups in conn.execute(
            "SELECT kind, edge_count, group_count FROM coordination_runs WHERE window_minutes = ? "
            "AND min_weight = 2 AND scope = '*'", (args.window,)))
        tweets = conn.execute("SELECT count(*) FROM tweets").fetchone()[0]
        conn.close()
        theirs = {}
        if not args.skip_reference:
            reference_csv = os.path.join(work, "reference.csv")
            write_reference_csv(db, reference_csv)
            for kind in REFERENCE_KINDS:
                reference_db = os.path.join(work, f"reference_{kind}.db")
                run([sys.executable, "-c", REFERENCE_PREPROCESS, reference_db, reference_csv])
                _, peak, out, cpu = run([sys.executable, "-c", REFERENCE_COMPUTE, reference_db, kind,
                                         str(args.window * 60), str(os.cpu_count())])
                seconds = float(out.split("SECONDS")[-1])
                theirs[kind] = (seconds, peak, cpu)
                os.remove(reference_db)
    finally:
        shutil.rmtree(work)

    print(f"\n{tweets:,} tweets, window {args.window} min ({args.window * 60} s), minimum weight 2, "
          f"{os.cpu_count()} cores\n")
    print(f"{'network':12} {'edges':>7} {'groups':>6} {'reference s':>11} {'ours s':>7} {'ratio':>6} "
          f"{'in build s':>10} {'ref CPU s':>9} {'our CPU s':>9} {'ref MB':>7} {'ours MB':>8}")
    for kind in coordination.DEFAULT_KINDS:
        seconds, peak, cpu = ours[kind]
        edges, groups = counts.get(kind, (0, 0))
        reference = theirs.get(kind)
        ratio = ref_s = ref_mb = ref_cpu = ""
        if reference:
            ratio, ref_s = f"{seconds / reference[0]:.2f}", f"{reference[0]:.1f}"
            ref_mb, ref_cpu = f"{reference[1]:.0f}", f"{reference[2]:.1f}"
        print(f"{kind:12} {edges:7,} {groups:6,} {ref_s:>11} {seconds:7.1f} {ratio:>6} "
              f"{in_build.get(kind, 0):10.1f} {ref_cpu:>9} {cpu:9.1f} {ref_mb:>7} {peak:8.0f}")
    print("\n(seconds: inside each process, start-up not counted; CPU: whole processes, "
          "start-up and workers included)")
    print(f"\nbuild (load, indexes, summaries, networks): {build_seconds:.1f} s, peak {build_peak:.0f} MB; "
          f"of which networks: {sum(in_build.values()):.1f} s")
    if theirs:
        compared = sum(ours[kind][0] for kind in REFERENCE_KINDS)
        reference = sum(theirs[kind][0] for kind in REFERENCE_KINDS)
        print(f"co_retweet + co_tweet + co_link: ours {compared:.1f} s, reference {reference:.1f} s "
              f"({compared / reference:.2f}x)")


if __name__ == "__main__":
    main()
