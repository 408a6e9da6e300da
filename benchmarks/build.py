"""Build speed and memory, phase by phase, beside SQLite's own importer.

Generates N synthetic tweets in a real layout (cached), then on the same file
times, each in a fresh database and a child process whose peak memory is read:

- `datasette-tei build` with each load pipeline (DATASETTE_TEI_PIPELINE:
  `sql`, the default, and `python`), one after the other in this run, with
  the time of each phase read from the build's progress messages as they
  arrive: load (rows, their search index and the campaign's imports),
  indexes, summaries, coordination networks, ranking, ANALYZE (with the
  final checkpoint of the write-ahead log);
- the `sqlite3` CLI: `.import` of the CSV, an FTS5 index over tweet_text and
  the same 4 column indexes (C, no types, no lists): the reference;
- optionally `sqlite-utils insert --csv` followed by `enable-fts`;
- optionally csvs-to-sqlite 1.3.1 (its full-text index and the same 4
  indexes), installed on first use into a virtual environment of its own
  under --dir (its pins are old: never into the project's environments).

Usage: python benchmarks/build.py [--tweets 1000000] [--pipeline sql|python|both]
       [--repeat N] [--sqlite-utils] [--csvs-to-sqlite] [--skip-reference] [--dir bench-data]
Not a test: it prints figures, ratios and the targets (at most 1.5x the
sqlite3 reference, faster than csvs-to-sqlite, peak under 200 MB).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei.build import synthetic  # noqa: E402

INDEXED = ("tweet_time", "userid", "tweet_language", "tweet_client_name")
CSVS_TO_SQLITE = "csvs-to-sqlite==1.3.1"
TARGET_RATIO = 1.5
TARGET_PEAK_MB = 200

# A phase starts when the build prints the first message of its kind.
PHASES = (
    ("indexes", "Creating indexes"),
    ("summaries", "Summarising "),
    ("coordination", ("Coordination network ", "Computing ")),
    ("ranking", "Ranking all campaigns together"),
    ("analyze", "Analysing"),
)


def run(command, stdin=None, env=None, messages=None):
    """Run a command; returns (seconds, peak RSS in MB, CPU seconds: user
    and system, of the process and of the children it waited for). With
    `messages` (a list), each line of its stderr is appended as (seconds
    since the start, line) when it arrives."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin else None,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE if messages is not None else None, env=env)
    reader = None
    if messages is not None:
        def read():
            for raw in process.stderr:
                messages.append((time.perf_counter() - started, raw.decode("utf-8", "replace").strip()))
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
    if stdin:
        process.stdin.write(stdin.encode())
        process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if reader:
        reader.join()
    if os.waitstatus_to_exitcode(status) != 0:
        shown = "\n".join(line for _, line in messages or [])
        raise SystemExit(f"failed: {' '.join(command)}\n{shown}")
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def phase_times(messages, total):
    """{phase: seconds}: from each phase's first message to the next's."""
    starts = [("load", 0.0)]
    for name, prefix in PHASES:
        for at, line in messages:
            if line.startswith(prefix):
                starts.append((name, at))
                break
    starts.sort(key=lambda item: item[1])
    ends = [at for _, at in starts[1:]] + [total]
    return {name: end - at for (name, at), end in zip(starts, ends)}


def sqlite3_script(csv_path, tokenize):
    lines = [
        ".mode csv",
        f".import '{csv_path}' tweets",
        f"CREATE VIRTUAL TABLE tweets_fts USING fts5(tweet_text, content='tweets', tokenize='{tokenize}');",
        "INSERT INTO tweets_fts(tweets_fts) VALUES('rebuild');",
    ]
    lines += [f"CREATE INDEX idx_{column} ON tweets({column});" for column in INDEXED]
    return "\n".join(lines) + "\n"


def csvs_to_sqlite(directory):
    """The csvs-to-sqlite command, in its own virtual environment."""
    venv = os.path.join(directory, "csvs-to-sqlite-venv")
    command = os.path.join(venv, "bin", "csvs-to-sqlite")
    if not os.path.exists(command):
        print("installing csvs-to-sqlite into its own environment ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q", CSVS_TO_SQLITE], check=True)
    return command


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tweets", type=int, default=1_000_000)
    parser.add_argument("--layout", default="2020", choices=sorted(synthetic.LAYOUTS))
    parser.add_argument("--dir", default=os.path.join(os.path.dirname(HERE), "bench-data"))
    parser.add_argument("--pipeline", default="both", choices=("both", "sql", "python"),
                        help="the load pipeline(s) to time (default: both, back to back)")
    parser.add_argument("--sqlite-utils", action="store_true", help="also time sqlite-utils (slow)")
    parser.add_argument("--csvs-to-sqlite", action="store_true", help="also time csvs-to-sqlite 1.3.1")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--repeat", type=int, default=1,
                        help="build N times with each pipeline, alternating (sql, python, python, sql, ...), "
                             "and keep each pipeline's fastest")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    csv_path = os.path.join(args.dir, f"bench_{args.tweets}_{args.layout}_tweets_csv_hashed.csv")
    if not os.path.exists(csv_path):
        print(f"generating {args.tweets:,} tweets ...", file=sys.stderr)
        synthetic.write_big_csv(csv_path + ".tmp", args.tweets, args.layout)
        os.replace(csv_path + ".tmp", csv_path)
    size_mb = os.path.getsize(csv_path) / 1e6
    converter = csvs_to_sqlite(args.dir) if args.csvs_to_sqlite else None
    work = tempfile.mkdtemp(dir=args.dir)
    bindir = os.path.dirname(sys.executable)
    pipelines = ("sql", "python") if args.pipeline == "both" else (args.pipeline,)
    results, phases, runs = [], {}, []
    # On a shared machine the order matters: alternate it, so that neither
    # pipeline always runs first.
    order = []
    for repeat in range(args.repeat):
        order += list(pipelines if repeat % 2 == 0 else reversed(pipelines))
    try:
        best = {}
        for pipeline in order:
            db = os.path.join(work, f"tei_{pipeline}.db")
            messages = []
            env = dict(os.environ, DATASETTE_TEI_PIPELINE=pipeline)
            # Without --silent: the phases are read from its messages.
            seconds, peak, cpu = run([os.path.join(bindir, "datasette-tei"), "build", db, csv_path],
                                     env=env, messages=messages)
            times = phase_times(messages, seconds)
            runs.append((pipeline, seconds, cpu, times))
            if pipeline not in best or seconds < best[pipeline][1]:
                best[pipeline] = (f"datasette-tei build ({pipeline} load)", seconds, peak, os.path.getsize(db), cpu)
                phases[pipeline] = times
            os.remove(db)
        results = [best[pipeline] for pipeline in pipelines]
        if not args.skip_reference:
            for tokenize in ("unicode61", "trigram"):
                db = os.path.join(work, f"sqlite3_{tokenize}.db")
                seconds, peak, cpu = run(["sqlite3", db], stdin=sqlite3_script(csv_path, tokenize))
                results.append((f"sqlite3 .import+FTS5({tokenize})+4 indexes", seconds, peak,
                                os.path.getsize(db), cpu))
                os.remove(db)
        if converter:
            db = os.path.join(work, "csvs_to_sqlite.db")
            command = [converter, csv_path, db, "--table", "tweets", "--fts", "tweet_text"]
            for column in INDEXED:
                command += ["--index", column]
            seconds, peak, cpu = run(command)
            results.append(("csvs-to-sqlite 1.3.1 (+FTS, 4 indexes)", seconds, peak, os.path.getsize(db), cpu))
            os.remove(db)
        if args.sqlite_utils:
            db = os.path.join(work, "sqlite_utils.db")
            su = os.path.join(bindir, "sqlite-utils")
            s1, p1, c1 = run([su, "insert", db, "tweets", csv_path, "--csv"])
            s2, p2, c2 = run([su, "enable-fts", db, "tweets", "tweet_text", "--fts5"])
            results.append(("sqlite-utils insert --csv + enable-fts", s1 + s2, max(p1, p2), os.path.getsize(db),
                            c1 + c2))
    finally:
        shutil.rmtree(work)

    print(f"\n{args.tweets:,} tweets, {size_mb:,.0f} MB of CSV ({args.layout} layout), "
          f"{os.cpu_count()} cores\n")
    print(f"{'command':48} {'seconds':>8} {'CPU s':>7} {'rows/s':>10} {'peak MB':>8} {'db MB':>7}")
    for name, seconds, peak, size, cpu in results:
        print(f"{name:48} {seconds:8.1f} {cpu:7.1f} {args.tweets / seconds:10,.0f} {peak:8.0f} {size / 1e6:7.0f}")
    if len(runs) > len(pipelines):
        print("\nevery build, in the order run (seconds, CPU seconds, load seconds):")
        for pipeline, seconds, cpu, times in runs:
            print(f"  {pipeline:7} {seconds:7.1f} {cpu:7.1f} {times['load']:7.1f}")

    names = ["load"] + [name for name, _ in PHASES]
    print(f"\nphases of the build, seconds\n{'pipeline':10}" + "".join(f"{n:>13}" for n in names)
          + f"{'total':>9}")
    for pipeline, times in phases.items():
        print(f"{pipeline:10}" + "".join(f"{times.get(n, 0.0):13.1f}" for n in names)
              + f"{sum(times.values()):9.1f}")
    if len(phases) == 2:
        sql, python = phases["sql"]["load"], phases["python"]["load"]
        print(f"load: sql {sql:.1f} s, python {python:.1f} s: python / sql = {python / sql:.2f}")

    reference = {result[0]: result[1] for result in results}
    print()
    for name, seconds, peak, _, _ in results[:len(pipelines)]:
        for other, other_seconds, _, _, _ in results[len(pipelines):]:
            ratio = seconds / other_seconds
            print(f"{name} / {other}: {ratio:.2f}x")
        unicode61 = reference.get("sqlite3 .import+FTS5(unicode61)+4 indexes")
        if unicode61:
            ok = seconds <= TARGET_RATIO * unicode61
            print(f"  target <= {TARGET_RATIO}x the sqlite3 (unicode61) reference: "
                  f"{'met' if ok else 'missed'} ({seconds / unicode61:.2f}x)")
        csvs = reference.get("csvs-to-sqlite 1.3.1 (+FTS, 4 indexes)")
        if csvs:
            print(f"  target faster than csvs-to-sqlite: {'met' if seconds < csvs else 'missed'} "
                  f"({csvs / seconds:.2f}x faster)")
        print(f"  target peak < {TARGET_PEAK_MB} MB: {'met' if peak < TARGET_PEAK_MB else 'missed'} "
              f"({peak:.0f} MB)")


if __name__ == "__main__":
    main()
