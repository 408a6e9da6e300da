"""What a second build costs when sources changed, or might have.

1. Hashing a plain CSV (archives.file_checksum, sha256): what reading every
   large CSV on every build would cost, were change detection to hash it
   rather than trust its path, size and modification time. The file is read
   twice: the first figure includes reading the disk (unless the file was
   in the page cache already), the second is the hash alone from the cache.
2. Replacing a member (replace.forget): a database of --tweets tweets in
   ten members of one campaign, whose last member is then changed; the
   time of the second build, which scans tweets once for the old version's
   rows, against the time of the first.

Usage: python benchmarks/rebuild.py [--csv-mb 1024] [--tweets 200000] [--dir bench-data]
Not a test: it prints figures. State the machine's load when quoting them.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from datasette_tei.build import archives, load, synthetic  # noqa: E402


def hash_cost(folder, megabytes):
    path = os.path.join(folder, "big.csv")
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as handle:
        for _ in range(megabytes):
            handle.write(block)
    os.sync()
    # Drop the file from the page cache where the system lets us, so that the
    # first read comes from the disk.
    try:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    except (AttributeError, OSError):
        pass
    for label in ("first read", "from cache"):
        started = time.perf_counter()
        archives.file_checksum(path)
        elapsed = time.perf_counter() - started
        print(f"sha256 of a {megabytes:,} MB CSV, {label}: {elapsed:.2f} s "
              f"({megabytes / elapsed:,.0f} MB/s; 5.3 GB, the ira CSV: {5300 / megabytes * elapsed:.0f} s)")
    os.remove(path)


def replace_cost(folder, tweets):
    src = os.path.join(folder, "src")
    os.makedirs(src)
    per = tweets // 10
    members = {}
    for part in range(10):
        rows = synthetic.generate_tweets(per, "2020", n_users=2000, seed=part, first_id=(part + 1) * 10**17)
        members[f"alpha_082020_tweets_csv_hashed_{part + 1}.csv"] = synthetic.tweets_csv_text(list(rows), "2020")
    path = os.path.join(src, "alpha_082020_tweets_csv_hashed.zip")
    synthetic.write_zip(path, members)
    db = os.path.join(folder, "tei.db")
    started = time.perf_counter()
    load.build(db, [src])
    first = time.perf_counter() - started
    last = "alpha_082020_tweets_csv_hashed_10.csv"
    rows = list(synthetic.generate_tweets(per, "2020", n_users=2000, seed=99, first_id=10 * 10**17))
    members[last] = synthetic.tweets_csv_text(rows, "2020")
    synthetic.write_zip(path, members)
    started = time.perf_counter()
    report = load.build(db, [src])
    second = time.perf_counter() - started
    assert report.campaigns["alpha_082020"].replaced_members == 1
    print(f"build of {tweets:,} tweets in 10 members: {first:.1f} s; "
          f"again with the last member changed ({per:,} tweets replaced): {second:.1f} s")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv-mb", type=int, default=1024)
    parser.add_argument("--tweets", type=int, default=200_000)
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(dir=args.dir)
    try:
        hash_cost(folder, args.csv_mb)
        replace_cost(folder, args.tweets)
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
