"""The stored objects of the networks (tei_coordination_objects), A/B in
one run, alternately, on one database:

- each stored kind's compute_run of every campaign, **own**: the run makes
  its objects in a temporary table (as before the objects were stored, and
  as a run of some campaigns still does), against **stored**: it reads the
  stored objects (`datasette-tei coordinate` after a build);
- making the stored objects of every kind, what a build pays once when its
  archives changed: into an empty table (a first build) and into a full
  one (an archive added).

So the build's networks cost (making the objects) + (stored runs) instead
of (own runs). Seconds in this process (compute_run: networks, evidence,
groups, summaries, commit); the table's size is dbstat's. The variants
leave the same rows (the tests check that); this times them.

Usage: python benchmarks/coordination_objects.py DB [--repeat 3]
DB is a built database (benchmarks/coordination.py's generated tweets
built with `datasette-tei build`); it is copied, never changed.
"""
import argparse
import dataclasses
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei.build import coordination  # noqa: E402

VARIANTS = ("own", "stored")
MAKING = ("into an empty table", "into a full table")


def timed_run(conn, kind, variant):
    original = coordination.KINDS[kind]
    if variant == "own":
        coordination.KINDS[kind] = dataclasses.replace(original, stored=False)
    try:
        started = time.perf_counter()
        coordination.compute_run(conn, coordination.RunSpec(kind))
        return time.perf_counter() - started
    finally:
        coordination.KINDS[kind] = original


def timed_making(conn, empty):
    conn.execute("DELETE FROM tei_meta WHERE key = ?", (coordination.OBJECTS_KEY,))
    if empty:
        conn.execute(f"DELETE FROM {coordination.OBJECTS}")
    started = time.perf_counter()
    with coordination.transaction(conn):
        coordination._store_objects(conn)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(args.db)))
    try:
        db = os.path.join(work, "tei.db")
        source = sqlite3.connect(args.db)
        source.execute(f"VACUUM INTO '{db}'")  # a copy, whatever its WAL holds
        source.close()
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA temp_store = FILE")
        coordination.tune(conn)
        tweets = conn.execute("SELECT count(*) FROM tweets").fetchone()[0]
        kinds = [name for name, kind in coordination.KINDS.items() if kind.stored]
        seconds = {(kind, variant): [] for kind in kinds for variant in VARIANTS}
        making = {how: [] for how in MAKING}
        load = os.getloadavg()
        for _ in range(args.repeat):
            for how in MAKING:
                making[how].append(timed_making(conn, how == MAKING[0]))
            for kind in kinds:
                for variant in VARIANTS:
                    seconds[kind, variant].append(timed_run(conn, kind, variant))
        sizes = dict(conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('tweets', ?) GROUP BY name",
            (coordination.OBJECTS,)))
        rows = dict(conn.execute(f"SELECT kind, count(*) FROM {coordination.OBJECTS} GROUP BY kind"))
        conn.close()
    finally:
        shutil.rmtree(work)

    print(f"\n{tweets:,} tweets, window 1 min, minimum weight 2, every campaign; {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start; "
          f"compute_run seconds, median of {args.repeat} (range), variants alternated\n")
    def cell(values):
        return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"

    print("| network | objects | own s | stored s | stored / own |")
    print("| --- | ---: | ---: | ---: | ---: |")
    total = {variant: 0.0 for variant in VARIANTS}
    for kind in kinds:
        medians = {variant: statistics.median(seconds[kind, variant]) for variant in VARIANTS}
        for variant in VARIANTS:
            total[variant] += medians[variant]
        print(f"| {kind} | {rows.get(kind, 0):,} | {cell(seconds[kind, 'own'])} | {cell(seconds[kind, 'stored'])} "
              f"| {medians['stored'] / medians['own']:.2f} |")
    print(f"| all | | {total['own']:.2f} | {total['stored']:.2f} | {total['stored'] / total['own']:.2f} |")
    print("\n| making the objects of every kind | s | the build's networks, stored - own |")
    print("| --- | ---: | ---: |")
    for how in MAKING:
        median = statistics.median(making[how])
        print(f"| {how} | {cell(making[how])} | {median + total['stored'] - total['own']:+.2f} |")
    objects_mb = sizes.get(coordination.OBJECTS, 0) / 1e6
    print(f"\n{coordination.OBJECTS}: {objects_mb:.0f} MB (tweets table {sizes.get('tweets', 0) / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
