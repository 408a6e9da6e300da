"""Coordination networks: ours against the reference tool, timed two ways.

Generates N synthetic tweets (cached): background accounts tweeting at
random (synthetic.generate_tweets, as benchmarks/build.py) plus planted
groups (one per 10,000 tweets) that retweet, post and link together. Then:

- `datasette-tei build` of the tweets, which computes the default networks
  (the build's growth: the sum of their coordination_runs.seconds, the
  making of the stored objects, tei_coordination_objects, included);
- the coordination-network-toolkit's preprocess of the same tweets, once
  (not counted; its preprocess_data, since its CSV reader makes every
  link-less tweet share the URL ""), copied afresh before every compute
  so that each starts where a user's first compute starts: without the
  indexes and normalised texts its compute makes and keeps.

Each network is then timed, `--repeat` times, ours and theirs alternately,
in two views:

- **command** (the issue's comparison: what a user waits for): the wall time
  of the whole command as a user runs it, start-up included:
  `datasette-tei coordinate DB --kind K --window W` (networks, evidence,
  groups, summaries, commit) against
  `compute_networks DB compute K --time_window 60W --min_edge_weight 2`
  (its CLI: imports, its indexes, co_tweet's text normalisation, its
  process pool of one worker per core, the network table);
- **work**: the seconds inside the process, start-up left out: ours is
  coordination_runs.seconds (compute_run: networks, evidence, groups,
  summaries); theirs its compute function timed around its call.

Peak memory is the largest resident set of the command's processes
(ru_maxrss of it and its waited-for children: its workers, not summed);
CPU is user + system of all of them. The medians of the repeats are
printed, with the range.

Usage: python benchmarks/coordination.py [--tweets 1000000] [--dir bench-data] [--window 1] [--repeat 3]
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
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei.build import coordination, synthetic  # noqa: E402

REFERENCE_KINDS = ("co_retweet", "co_tweet", "co_link")


def run(command, **kwargs):
    """Run a command; returns (wall seconds, peak RSS in MB of its largest
    process, its standard output, CPU seconds of it and its children)."""
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


# Its compute function, timed around its call (start-up left out), with
# the arguments its CLI passes.
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


class Sample:
    """Repeated measurements of one network by one tool in one view."""

    def __init__(self):
        self.seconds, self.peaks, self.cpus = [], [], []

    def add(self, seconds, peak, cpu):
        self.seconds.append(seconds)
        self.peaks.append(peak)
        self.cpus.append(cpu)

    @property
    def median(self):
        return statistics.median(self.seconds)

    def cell(self):
        if len(self.seconds) == 1:
            return f"{self.median:.2f}"
        return f"{self.median:.2f} ({min(self.seconds):.2f}-{max(self.seconds):.2f})"


def fresh_copy(source, target):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    shutil.copyfile(source, target)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=coordination.DEFAULT_WINDOW, help="minutes")
    parser.add_argument("--repeat", type=int, default=3)
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
    reference_tool = os.path.join(bindir, "compute_networks")
    load = os.getloadavg()
    kinds = coordination.DEFAULT_KINDS
    ours = {(kind, view): Sample() for kind in kinds for view in ("command", "work")}
    theirs = {(kind, view): Sample() for kind in REFERENCE_KINDS for view in ("command", "work")}
    try:
        db = os.path.join(work, "tei.db")
        print("building ...", file=sys.stderr)
        build_seconds, build_peak, _, _ = run([tool, "build", db, csv_path, "--silent"])
        conn = sqlite3.connect(db)
        in_build = dict(conn.execute("SELECT kind, seconds FROM coordination_runs WHERE is_default = 1"))
        objects_mb = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?",
                                  (coordination.OBJECTS,)).fetchone()[0] / 1e6
        tweets = conn.execute("SELECT count(*) FROM tweets").fetchone()[0]
        conn.close()
        preprocessed = os.path.join(work, "reference.db")
        copy = os.path.join(work, "reference_copy.db")
        preprocess_seconds = None
        if not args.skip_reference:
            print("reference preprocess ...", file=sys.stderr)
            reference_csv = os.path.join(work, "reference.csv")
            write_reference_csv(db, reference_csv)
            preprocess_seconds, _, _, _ = run([sys.executable, "-c", REFERENCE_PREPROCESS, preprocessed,
                                               reference_csv])
            # One self-contained file to copy (its preprocess leaves it in WAL).
            conn = sqlite3.connect(preprocessed)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        for repeat in range(args.repeat):
            print(f"round {repeat + 1} of {args.repeat} ...", file=sys.stderr)
            for kind in kinds:
                seconds, peak, _, cpu = run([tool, "coordinate", db, "--kind", kind, "--silent",
                                             "--window", str(args.window)])
                ours[kind, "command"].add(seconds, peak, cpu)
                conn = sqlite3.connect(db)
                (inside,), = conn.execute(
                    "SELECT seconds FROM coordination_runs WHERE kind = ? AND window_minutes = ? "
                    "AND min_weight = 2 AND scope = '*'", (kind, args.window))
                conn.close()
                ours[kind, "work"].add(inside, peak, cpu)
                if kind not in REFERENCE_KINDS or args.skip_reference:
                    continue
                fresh_copy(preprocessed, copy)
                seconds, peak, _, cpu = run([reference_tool, copy, "compute", kind,
                                             "--time_window", str(args.window * 60), "--min_edge_weight", "2"],
                                            stderr=subprocess.DEVNULL)
                theirs[kind, "command"].add(seconds, peak, cpu)
                fresh_copy(preprocessed, copy)
                _, peak, out, cpu = run([sys.executable, "-c", REFERENCE_COMPUTE, copy, kind,
                                         str(args.window * 60), str(os.cpu_count())])
                theirs[kind, "work"].add(float(out.split("SECONDS")[-1]), peak, cpu)
        conn = sqlite3.connect(db)
        counts = dict((kind, (edges, groups)) for kind, edges, groups in conn.execute(
            "SELECT kind, edge_count, group_count FROM coordination_runs WHERE window_minutes = ? "
            "AND min_weight = 2 AND scope = '*'", (args.window,)))
        conn.close()
    finally:
        shutil.rmtree(work)

    print(f"\n{tweets:,} tweets, window {args.window} min ({args.window * 60} s), minimum weight 2, "
          f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start, "
          f"median of {args.repeat} (range)\n")
    for view, title in (("command", "Whole command, wall time, start-up included (the issue's comparison)"),
                        ("work", "Work inside the process, start-up left out")):
        print(title)
        print(f"| network | edges | groups | reference s | ours s | ratio | reference CPU s | our CPU s "
              f"| CPU ratio | reference MB | our MB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for kind in kinds:
            mine = ours[kind, view]
            edges, groups = counts.get(kind, (0, 0))
            reference = theirs.get((kind, view))
            ratio = ref_s = ref_mb = ref_cpu = cpu_ratio = ""
            if reference and reference.seconds:
                ratio, ref_s = f"{mine.median / reference.median:.2f}", reference.cell()
                ref_mb = f"{max(reference.peaks):.0f}"
                ref_cpu = f"{statistics.median(reference.cpus):.1f}"
                cpu_ratio = f"{statistics.median(mine.cpus) / statistics.median(reference.cpus):.2f}"
            print(f"| {kind} | {edges:,} | {groups:,} | {ref_s} | {mine.cell()} | {ratio} | {ref_cpu} "
                  f"| {statistics.median(mine.cpus):.1f} | {cpu_ratio} | {ref_mb} | {max(mine.peaks):.0f} |")
        if theirs[REFERENCE_KINDS[0], view].seconds:
            mine = sum(ours[kind, view].median for kind in REFERENCE_KINDS)
            reference = sum(theirs[kind, view].median for kind in REFERENCE_KINDS)
            mine_cpu = sum(statistics.median(ours[kind, view].cpus) for kind in REFERENCE_KINDS)
            reference_cpu = sum(statistics.median(theirs[kind, view].cpus) for kind in REFERENCE_KINDS)
            print(f"| the three | | | {reference:.2f} | {mine:.2f} | {mine / reference:.2f} | {reference_cpu:.1f} "
                  f"| {mine_cpu:.1f} | {mine_cpu / reference_cpu:.2f} | | |")
        print()
    print("(CPU and MB are of the whole command in both views; MB the largest of the repeats)")
    print(f"\nbuild (load, indexes, summaries, networks): {build_seconds:.1f} s, peak {build_peak:.0f} MB; "
          f"of which the default networks: {sum(in_build.values()):.1f} s "
          + ", ".join(f"{kind} {seconds:.2f}" for kind, seconds in in_build.items())
          + f"; the stored objects take {objects_mb:.0f} MB")
    if preprocess_seconds is not None:
        print(f"reference preprocess (not counted): {preprocess_seconds:.1f} s")


if __name__ == "__main__":
    main()
