"""Memory and the database stay bounded by the limits, not by the input.

Zip bombs are small on disk and inflate to hundreds of MB: one endless line,
endless large rows, endless bad rows. The memory tests run the real
`datasette-tei build` in a child process and read its peak resident size
(os.wait4 counts the parsing process it starts too). The other tests check
that reading resumes at the next record after an over-long one, so that
every other row loads.
"""
import os
import subprocess
import sys
import zipfile

import pytest

from datasette_tei.build import archives, load
from datasette_tei.build.synthetic import (
    LAYOUTS,
    generate_tweets,
    make_users,
    tweets_csv_text,
    users_csv_text,
    write_zip,
)
from helpers import query, run_build

PEAK_MB = 200
BUILD = os.path.join(os.path.dirname(sys.executable), "datasette-tei")


# Runs a command and prints its exit status and peak RSS (KB). The build is
# started from this small process, not from the test's: Linux carries a
# process's peak over fork and exec, so a child of a large pytest process
# would report pytest's size, not its own.
_MEASURE = (
    "import os, subprocess, sys\n"
    "process = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(process.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, file=sys.stderr)\n"
)


def build_peak(db_path, *sources):
    """(exit status, output, peak RSS in MB) of a real build in a child process
    (os.wait4 counts the parsing process the build starts too)."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, BUILD, "build", str(db_path), "--silent", *map(str, sources)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output, _, measured = result.stderr.rstrip("\n").rpartition("\n")
    status, peak_kb = map(int, measured.split())
    return status, result.stdout + output, peak_kb / 1024


def tweets(n, seed=1, first_id=10**17, layout="2020"):
    return list(generate_tweets(n, layout, n_users=7, seed=seed, first_id=first_id))


def body(rows, layout="2020"):
    """CSV lines of rows, without the header."""
    return tweets_csv_text(rows, layout).split("\n", 1)[1]


def streamed_zip(path, name, parts):
    """A zip of one member written from an iterable of byte strings, so that a
    member of hundreds of MB never sits in the test's memory."""
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = 1  # fast: the tests zip hundreds of MB
        with archive.open(info, "w", force_zip64=True) as handle:
            for part in parts:
                handle.write(part)


def test_zip_bomb_of_one_endless_line(tmp_path):
    """300 MB on one line, between good rows: one reject, its raw text capped;
    the rows after it load; the peak stays under the limit (the line read
    whole peaked at several times its size)."""
    before, after = tweets(3), tweets(3, seed=2, first_id=2 * 10**17)
    chunk = b"spam " * (2**20 // 5)
    path = tmp_path / "bomb_082020_tweets_csv_hashed.zip"
    streamed_zip(path, "bomb.csv", [
        tweets_csv_text(before, "2020").encode(), b"1234,", *[chunk] * 300, b"\n", body(after).encode(),
    ])
    length = len(b"1234,") + 300 * len(chunk) + 1
    assert path.stat().st_size < 2_000_000
    db_path = tmp_path / "tei.db"
    status, output, peak = build_peak(db_path, path)
    assert status == 0, output
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    [(line_number, reason, raw)] = query(db_path, "select line, reason, raw from rejects")
    assert line_number == 5 and reason.startswith("row longer than 2,097,152 characters")
    assert raw.startswith("1234,spam spam") and len(raw) < archives.MAX_RAW + 100
    assert raw.endswith(f"[{length - archives.MAX_RAW} more characters]")
    assert query(db_path, "select count(*) from tweets") == [(6,)]


def test_zip_bomb_of_one_endless_line_and_nothing_else(tmp_path):
    """A member that is one endless line has no header: it fails at once,
    with a message naming it, and the archive's other member loads."""
    path = tmp_path / "line_082020_tweets_csv_hashed.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("good.csv", tweets_csv_text(tweets(4), "2020"))
        info = zipfile.ZipInfo("line.csv")
        info.compress_type, info._compresslevel = zipfile.ZIP_DEFLATED, 1
        with archive.open(info, "w", force_zip64=True) as handle:
            for _ in range(100):
                handle.write(b"tweetid" * (2**20 // 7))
    db_path = tmp_path / "tei.db"
    status, output, peak = build_peak(db_path, path)
    assert status == 1
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert f"Error: {path}:line.csv: line 1: not a CSV file (a line longer than the limit before " \
        "any header row)" in output
    assert query(db_path, "select count(*) from tweets") == [(4,)]


def test_zip_bomb_of_endless_large_rows(tmp_path):
    """Rows with a field just under the limit, 120 MB of them: all load, and
    the batches between the parsing process and the database stay small."""
    rows = tweets(120)
    for row in rows:
        row["user_profile_description"] = "DESCRIPTION"
    # The csv module takes 25 ms to write each such field: put it in after.
    text = tweets_csv_text(rows, "2020").encode()
    path = tmp_path / "big_082020_tweets_csv_hashed.zip"
    *pieces, last = text.split(b"DESCRIPTION")
    field = b"x" * 1_000_000
    streamed_zip(path, "big.csv", [part for piece in pieces for part in (piece, field)] + [last])
    db_path = tmp_path / "tei.db"
    status, output, peak = build_peak(db_path, path)
    assert status == 0, output
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert query(db_path, "select count(*), min(length(user_profile_description)) from tweets") == \
        [(120, 1_000_000)]


def test_endless_bad_rows_are_all_counted_but_listed_within_caps(tmp_path, db_path):
    """An archive of nothing but bad rows: every one is counted, in imports
    and in the campaign's figures, but `rejects` lists at most
    MAX_REJECTS_LISTED of them with at most MAX_REJECT_RAW characters of raw
    text, so the database stays small (a 1 MB zip made a 923 MB one)."""
    long_bad = ("1," + "y" * 12_000 + "\n") * 1_000  # 12 MB of raw text, over the budget
    short_bad = "2,x\n" * (load.MAX_REJECTS_LISTED + 5_000)
    path = tmp_path / "bad_082020_tweets_csv_hashed.zip"
    write_zip(str(path), {"bad.csv": ",".join(LAYOUTS["2020"]) + "\n" + long_bad + short_bad,
                          "good.csv": tweets_csv_text(tweets(5), "2020")})
    assert path.stat().st_size < 1_000_000
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    total = 1_000 + load.MAX_REJECTS_LISTED + 5_000
    assert query(db_path, "select sum(rows_rejected) from imports") == [(total,)]
    assert query(db_path, "select rejected_rows, tweets from campaigns") == [(total, 5)]
    listed, raw, with_raw = query(db_path, "select count(*), sum(length(raw)), count(raw) from rejects")[0]
    assert listed == load.MAX_REJECTS_LISTED
    assert raw <= load.MAX_REJECT_RAW
    # The long rows use up the budget; the short ones after them are listed
    # with their line and reason only.
    assert with_raw < 1_000
    assert query(db_path, "select line, reason, raw from rejects where line = 1002") == \
        [(1002, "expected 30 fields, found 2", None)]
    assert query(db_path, "select raw from rejects where line = 2") == \
        [(("1," + "y" * 12_000)[:archives.MAX_RAW] + "… [2002 more characters]",)]
    assert os.path.getsize(db_path) < 30_000_000
    assert f"{total:,} rows rejected" in result.output


@pytest.mark.parametrize("layout", ["2018", "2020"])
def test_field_over_the_limit_spanning_lines_with_quotes(tmp_path, db_path, layout):
    """A tweet of 1.5 MiB over many lines, with quotes and lines that look
    like rows inside it: one reject, and the 101 good rows around it load
    (the reader once lost its place: 100 of 101 good rows were lost)."""
    first, rest = tweets(1, layout=layout), tweets(100, seed=3, first_id=3 * 10**17, layout=layout)
    hostile = tweets(1, seed=4, first_id=4 * 10**17, layout=layout)
    chunk = 'he said "stop" and left,\n123456789,"not a row",x\n"""\n'
    hostile[0]["tweet_text"] = chunk * (int(1.5 * 2**20) // len(chunk))
    text = tweets_csv_text(first, layout) + body(hostile, layout) + body(rest, layout)
    path = tmp_path / f"quote_082020_tweets_csv_hashed.csv"
    path.write_text(text, encoding="utf-8")
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    [(line_number, reason, raw)] = query(db_path, "select line, reason, raw from rejects")
    assert line_number == 3
    assert "field larger than field limit" in reason
    assert raw.startswith(body(hostile, layout)[:50])
    assert len(raw) < archives.MAX_RAW + 100
    assert query(db_path, "select count(*) from tweets") == [(101,)]
    assert query(db_path, "select count(*) from tweets where tweetid = ?", (int(rest[-1]["tweetid"]),)) == [(1,)]


@pytest.mark.parametrize("layout", ["2018", "2020"])
def test_users_file_resumes_at_the_next_user(tmp_path, db_path, layout):
    """In a users file a record starts with a user id, a number or a hash."""
    users = make_users(51, layout, seed=5)
    users[1]["user_profile_description"] = 'a "bio",\nabc=,"x"\n' * 80_000  # 1.5 MiB
    path = tmp_path / "u_082020_users_csv_hashed.csv"
    path.write_text(users_csv_text(users, layout), encoding="utf-8")
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    [(line, reason)] = query(db_path, "select line, reason from rejects")
    assert line == 3 and "field larger than field limit" in reason
    assert query(db_path, "select count(*) from users") == [(50,)]
    assert query(db_path, "select count(*) from users where userid = ?", (users[-1]["userid"],)) == [(1,)]


def test_over_long_row_then_a_line_that_only_looks_like_a_row(tmp_path, db_path):
    """After an over-long row, a line starting with digits and a comma that
    does not parse as a whole row is part of the bad record, not a new one."""
    good = tweets(4)
    bad = "5," + "z" * (archives.MAX_RECORD + 10) + "\n77,not a row\n88,\"opens a quote\n"
    text = tweets_csv_text(good[:2], "2020") + bad + body(good[2:])
    path = tmp_path / "resync_082020_tweets_csv_hashed.csv"
    path.write_text(text, encoding="utf-8")
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    assert query(db_path, "select line, reason from rejects") == \
        [(4, "row longer than 2,097,152 characters; lines 4-6 skipped")]
    assert query(db_path, "select count(*) from tweets") == [(4,)]


def test_quote_never_closed_mid_file_swallows_no_rows(tmp_path, db_path):
    """A quote opened and never closed mid-file runs on through the rows
    after it (rows holding no quote of their own to close it) until the
    field limit; those rows are read again, and load."""
    header, *lines = tweets_csv_text(tweets(10_000), "2020").split("\n")
    lines = [line for line in lines if line and '"' not in line][:5000]
    lines.insert(9, '123,"a quote that never closes')
    lines.insert(0, header)
    path = tmp_path / "open_082020_tweets_csv_hashed.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    assert path.stat().st_size > 1.5 * archives.MAX_FIELD
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    [(line, reason, raw)] = query(db_path, "select line, reason, raw from rejects")
    assert (line, raw) == (11, '123,"a quote that never closes')
    assert reason.startswith("unreadable CSV: field larger than field limit (1048576); line 11 skipped")
    assert query(db_path, "select count(*) from tweets") == [(5000,)]


def test_row_of_many_large_fields_over_the_row_limit(tmp_path, db_path):
    """Fields each under the field limit, on several lines, that add up to
    more than MAX_RECORD: one reject, the lines after its first read again."""
    good = tweets(6)
    big = '"' + "w" * 900_000 + '\n"'
    bad = "77," + ",".join([big] * 3) + "\n"
    text = tweets_csv_text(good[:3], "2020") + bad + body(good[3:])
    path = tmp_path / "wide_082020_tweets_csv_hashed.csv"
    path.write_text(text, encoding="utf-8")
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    [(line, reason, raw)] = query(db_path, "select line, reason, raw from rejects")
    assert (line, reason) == (5, "row longer than 2,097,152 characters; lines 5-8 skipped")
    assert raw.startswith('77,"www') and len(raw) < archives.MAX_RAW + 100
    assert query(db_path, "select count(*) from tweets") == [(6,)]


def test_zip_listing_one_member_many_times_is_read_once(tmp_path, db_path):
    """A central directory naming the same member 1,000 times, and other
    names at the same place in the file: the member is read once."""
    path = tmp_path / "dup_082020_tweets_csv_hashed.zip"
    write_zip(str(path), {"dup1.csv": tweets_csv_text(tweets(50), "2020")})
    data = path.read_bytes()
    start = data.index(b"PK\x01\x02")
    end = data.index(b"PK\x05\x06")
    entry = data[start:end]
    entries = [entry] * 1000 + [entry.replace(b"dup1.csv", b"dup2.csv")] * 1000
    directory = b"".join(entries)
    eocd = bytearray(data[end:])
    eocd[8:10] = eocd[10:12] = len(entries).to_bytes(2, "little")
    eocd[12:16] = len(directory).to_bytes(4, "little")
    path.write_bytes(data[:start] + directory + bytes(eocd))
    with zipfile.ZipFile(path) as archive:
        assert len(archive.infolist()) == 2000
    result = run_build(db_path, path)
    assert result.exit_code == 0, result.output
    assert query(db_path, "select count(*), sum(rows_loaded), sum(duplicates) from imports") == [(1, 50, 0)]
    assert query(db_path, "select count(*) from tweets") == [(50,)]


def test_zip_directory_of_a_million_entries_is_not_read(tmp_path):
    """zipfile holds every entry of a zip's directory in memory: a directory
    of a million entries (48 MB) is refused before it is read, and the
    other archives load."""
    path = tmp_path / "many_082020_tweets_csv_hashed.zip"
    write_zip(str(path), {"m.csv": tweets_csv_text(tweets(5), "2020")})
    data = path.read_bytes()
    start, end = data.index(b"PK\x01\x02"), data.index(b"PK\x05\x06")
    count = 1_000_000
    directory = data[start:end] * count
    with zipfile.ZipFile(path) as archive:
        assert archive.infolist()[0].header_offset == 0
    # A zip64 end record holds the count and size a plain one cannot.
    zip64_end = (b"PK\x06\x06" + (44).to_bytes(8, "little") + (45).to_bytes(2, "little") * 2
                 + bytes(8) + count.to_bytes(8, "little") * 2 + len(directory).to_bytes(8, "little")
                 + start.to_bytes(8, "little"))
    locator = b"PK\x06\x07" + bytes(4) + (start + len(directory)).to_bytes(8, "little") + (1).to_bytes(4, "little")
    plain_end = b"PK\x05\x06" + bytes(4) + b"\xff\xff" * 2 + b"\xff" * 8 + bytes(2)
    path.write_bytes(data[:start] + directory + zip64_end + locator + plain_end)
    good = tmp_path / "good_082020_tweets_csv_hashed.zip"
    write_zip(str(good), {"good.csv": tweets_csv_text(tweets(7, seed=5, first_id=5 * 10**17), "2020")})
    db_path = tmp_path / "tei.db"
    status, output, peak = build_peak(db_path, path, good)
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert status == 1
    assert (f"Error: {path}: its directory lists 1,000,000 members, more than the 100,000 a TEI "
            "archive could hold: not read") in output
    assert query(db_path, "select count(*) from tweets") == [(7,)]


def test_zip_without_directory_of_a_million_members_is_cut_off(tmp_path):
    """A zip without a central directory is read from its local headers, one
    entry kept per member: a million empty members (35 MB) are cut off at
    MAX_ENTRIES, reported, and memory stays bounded."""
    path = tmp_path / "tiny_082020_tweets_csv_hashed.zip"
    header = (b"PK\x03\x04" + (20).to_bytes(2, "little") + bytes(2 + 2 + 4 + 4 + 4 + 4)
              + (5).to_bytes(2, "little") + bytes(2) + b"x.txt")
    path.write_bytes(header * 1_000_000)
    good = tmp_path / "good_082020_tweets_csv_hashed.zip"
    write_zip(str(good), {"good.csv": tweets_csv_text(tweets(7), "2020")})
    db_path = tmp_path / "tei.db"
    status, output, peak = build_peak(db_path, path, good)
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert status == 1
    assert (f"Error: {path}: more than 100,000 members, more than a TEI archive could hold: "
            "the rest are not read") in output
    assert query(db_path, "select count(*) from tweets") == [(7,)]


def test_rows_of_huge_escaped_lists(tmp_path):
    """A list column that needs Python's own parser (backslashes in a repr
    list) costs it 200 bytes a character: one of a MiB is rejected as
    too long instead of read, and memory stays bounded."""
    rows = tweets(20)
    for row in rows:
        row["hashtags"] = "[" + ", ".join([r"'\a'"] * 170_000) + "]"  # ['\a', '\a', ...]
    path = tmp_path / "lists_082020_tweets_csv_hashed.zip"
    write_zip(str(path), {"lists.csv": tweets_csv_text(rows, "2020") + body(tweets(3, seed=8, first_id=8 * 10**17))})
    db_path = tmp_path / "tei.db"
    status, output, peak = build_peak(db_path, path)
    assert peak < PEAK_MB, f"peak {peak:.0f} MB"
    assert status == 0, output
    [(count, reason)] = query(db_path, "select count(*), min(reason) from rejects")
    assert count == 20 and reason.startswith("hashtags: not a list (too long to read: 1,020,000 characters)")
    assert query(db_path, "select count(*) from tweets") == [(3,)]
