"""The steps after the load, timed one by one on a database already built.

Takes a complete database (`datasette-tei build`, e.g. the one
benchmarks/build.py makes), and for each version of the code given, on a
fresh copy of it: drops the column indexes the build creates, marks every
campaign changed and every coordination run stale, as the load leaves them,
then runs `finish.finish` in a child process and times each step by the
progress messages it gives. Prints one table of steps by version, the
children's peak memory, the time their threads waited for a core (on a busy
machine, the part of the wall time that is the machine's) or were blocked,
and whether the versions' figures agree (a digest of every table the steps
write).

Usage:
  python benchmarks/finish.py --db bench-data/base.db [--code DIR ...] [--label NAME ...]
Each --code is a directory holding a `datasette_tei` package (default: this
checkout); `git archive main datasette_tei | tar -x -C DIR` makes one of
another branch, to compare A/B in one run. Not a test: it prints figures.
"""
import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The tables the steps after the load write, and the columns that hold a
# time of computation (left out of the digest).
WRITTEN = {
    "campaigns": ("updated",),
    "users": (),
    "campaign_months": (),
    "campaign_hours": (),
    "campaign_days": (),
    "campaign_account_months": (),
    "campaign_top": (),
    "campaign_urls": (),
    "shared_values": (),
    "tei_facet_counts": (),
    "account_summaries": ("computed",),
    "campaign_top_all": (),
    "campaign_creation_days": (),
}

CHILD = r"""
import json, sqlite3, sys, time
import datasette_tei
try:
    from datasette_tei.build import finish, load
except ImportError:  # a version from before the modules were grouped by side
    from datasette_tei import finish, load
from datasette_tei.schema import INDEXES, ensure_schema, index_name

db = sys.argv[1]
conn = load.connect(db)
# As a build does first: a database made by an older version gains the
# tables this one writes.
ensure_schema(conn)
# As the load leaves the database: no column indexes, every campaign to
# summarise, every coordination run to compute.
for table, columns in INDEXES:
    conn.execute(f"DROP INDEX IF EXISTS [{index_name(table, columns)}]")
conn.execute("INSERT OR IGNORE INTO tei_dirty (campaign) SELECT name FROM campaigns")
conn.execute("UPDATE coordination_runs SET data_version = NULL")
conn.execute("DELETE FROM users WHERE from_users_file = 0")
conn.execute("UPDATE tei_meta SET value = 'building' WHERE key = 'build_state'")
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
# The page cache as the load leaves it: warm for the last rows written.
conn.execute("SELECT count(*) FROM tweets").fetchone()

steps = []

class Progress(load.NullProgress):
    def message(self, text):
        steps.append([text, time.perf_counter(), time.process_time()])

started, cpu_started = time.perf_counter(), time.process_time()
finish.finish(conn, Progress())
ended, cpu_ended = time.perf_counter(), time.process_time()
out = []
for i, (text, at, cpu_at) in enumerate(steps):
    until, cpu_until = steps[i + 1][1:] if i + 1 < len(steps) else (ended, cpu_ended)
    out.append([text, until - at, cpu_until - cpu_at])
print(json.dumps({"steps": out, "total": ended - started, "cpu": cpu_ended - cpu_started,
                  "code": datasette_tei.__file__}))
"""


def step_name(text):
    """Progress messages grouped into steps (one row per kind)."""
    if text.startswith("Summarising"):
        return "summaries, facet counts, accounts"
    if text.startswith("Coordination network"):
        return "coordination networks"
    return text


def digest(db):
    conn = sqlite3.connect(db)
    out = {}
    for table, skip in WRITTEN.items():
        columns = [r[1] for r in conn.execute(f"PRAGMA table_info([{table}])") if r[1] not in skip]
        if not columns:
            continue
        rows = conn.execute(
            f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM [{table}] "
            f"ORDER BY {', '.join(f'[{c}]' for c in columns)}")
        h = hashlib.sha256()
        n = 0
        for row in rows:
            h.update(json.dumps(row, default=str).encode())
            n += 1
        out[table] = (n, h.hexdigest()[:12])
    conn.close()
    return out


def _watch_threads(process, every=0.1):
    """Until the child ends, each of its threads' time on a core and time
    waiting for one (Linux schedstat): whatever else a thread's life holds
    it spent blocked (I/O, locks). On a busy machine the waits for a core
    show how much of the wall time is the machine's, not the build's.
    Returns ({"cpu", "runqueue", "blocked"} in seconds, summed over threads
    that lived 0.5 s or more, empty without /proc; the child's exit status
    and resource usage)."""
    seen = {}
    started = time.perf_counter()
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        at = time.perf_counter() - started
        try:
            tids = os.listdir(f"/proc/{process.pid}/task")
        except OSError:
            break
        for tid in tids:
            try:
                with open(f"/proc/{process.pid}/task/{tid}/schedstat") as handle:
                    cpu, waited = map(int, handle.read().split()[:2])
            except (OSError, ValueError):
                continue
            entry = seen.setdefault(tid, [at, at, 0, 0])
            entry[1:] = [at, cpu / 1e9, waited / 1e9]
        time.sleep(every)
    lived = [e for e in seen.values() if e[1] - e[0] >= 0.5]
    threads = {
        "cpu": sum(e[2] for e in lived),
        "runqueue": sum(e[3] for e in lived),
        "blocked": sum(max(0.0, e[1] - e[0] - e[2] - e[3]) for e in lived),
    } if lived else {}
    return threads, status, usage


def run_version(code, source, work):
    db = os.path.join(work, "tei.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(source + suffix):
            shutil.copyfile(source + suffix, db + suffix)
    env = dict(os.environ, PYTHONPATH=code)
    # -P and another directory: the package comes from `code`, not from
    # the directory the script runs in.
    process = subprocess.Popen([sys.executable, "-P", "-c", CHILD, db], env=env, cwd=work,
                               stdout=subprocess.PIPE)
    threads, status, usage = _watch_threads(process)
    output = process.stdout.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"finish failed with the code in {code}")
    result = json.loads(output)
    if not result["code"].startswith(os.path.join(code, "")):
        raise SystemExit(f"the child imported {result['code']}, not the code in {code}")
    result["peak_mb"] = usage.ru_maxrss / 1024
    result["threads"] = threads
    result["digest"] = digest(db)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a complete database to start from (not modified)")
    parser.add_argument("--code", action="append", help="a directory holding datasette_tei (repeatable)")
    parser.add_argument("--label", action="append", help="a name for each --code")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each version, interleaved")
    parser.add_argument("--dir", default=os.path.join(ROOT, "bench-data"))
    args = parser.parse_args()
    codes = args.code or [ROOT]
    labels = args.label or [os.path.basename(os.path.normpath(c)) for c in codes]
    tweets = sqlite3.connect(args.db).execute("SELECT count(*) FROM tweets").fetchone()[0]

    work = tempfile.mkdtemp(dir=args.dir)
    results = {label: [] for label in labels}
    try:
        for _ in range(args.repeat):
            for code, label in zip(codes, labels):
                print(f"running {label} ...", file=sys.stderr)
                results[label].append(run_version(os.path.abspath(code), args.db, work))
    finally:
        shutil.rmtree(work)

    # The fastest run of each version, step by step.
    steps = []
    table = {}
    for label, runs in results.items():
        best = {}
        for run in runs:
            per = {}
            for text, seconds, cpu in run["steps"]:
                name = step_name(text)
                wall0, cpu0 = per.get(name, (0, 0))
                per[name] = (wall0 + seconds, cpu0 + cpu)
                if name not in steps:
                    steps.append(name)
            per["total"] = (run["total"], run["cpu"])
            for name, seconds in per.items():
                best[name] = min(best.get(name, seconds), seconds)
        table[label] = best
    print(f"\nAfter the load, {tweets:,} tweets; seconds of wall time / of CPU (every thread), "
          f"best of {args.repeat}, {os.cpu_count()} cores\n")
    print(f"{'step':36}" + "".join(f"{label:>16}" for label in labels))
    for name in steps + ["total"]:
        print(f"{name[:36]:36}" + "".join(
            "{:>16}".format("%.1f / %.1f" % table[label].get(name, (0, 0))) for label in labels))
    print(f"{'peak memory, MB':36}" + "".join(
        f"{max(r['peak_mb'] for r in results[label]):16.0f}" for label in labels))
    for key, text in (("runqueue", "threads waiting for a core, s"),
                      ("blocked", "threads blocked (I/O, locks), s")):
        print(f"{text:36}" + "".join(
            "{:>16}".format("%.1f" % min(r["threads"].get(key, 0) for r in results[label]))
            for label in labels))
    if len(labels) > 1:
        base = table[labels[0]]["total"]
        for label in labels[1:]:
            print(f"{label} / {labels[0]}: {table[label]['total'][0] / base[0]:.2f}x wall, "
                  f"{table[label]['total'][1] / base[1]:.2f}x CPU")
        digests = [results[label][0]["digest"] for label in labels]
        differ = [t for t in WRITTEN if len({json.dumps(d.get(t)) for d in digests}) > 1]
        print("figures identical in every table" if not differ else f"figures DIFFER in: {', '.join(differ)}")
    else:
        print(json.dumps(results[labels[0]][0]["digest"]))


if __name__ == "__main__":
    main()
