"""Bad input, one test each: damaged zips, files that are not what they
claim, malformed rows. For every case the message names the file (and the
member, and the line where there is one), the good rows and the other
archives still load, rejected rows are in `rejects` with their reason, and
the exit status is the one the build command documents (0 when every
archive was read, 1 when an archive or member could not be).

Each test writes its own archives with datasette_tei.build.synthetic.
"""
import gzip
import io
import os
import zipfile

import pytest

from datasette_tei.build.synthetic import (
    LAYOUTS,
    generate_tweets,
    make_users,
    tweets_csv_text,
    users_csv_text,
    write_zip,
)
from helpers import query, run_build

LAYOUT = "2020"
WIDTH = len(LAYOUTS[LAYOUT])


def tweets(n, seed=1, first_id=10**17, layout=LAYOUT):
    return list(generate_tweets(n, layout, n_users=7, seed=seed, first_id=first_id))


def csv_text(rows, layout=LAYOUT):
    return tweets_csv_text(rows, layout)


def good_sources(tmp_path):
    """A folder of sources holding one good archive (assert_good_archive_loaded
    checks it), for a bad one to sit beside."""
    folder = tmp_path / "src"
    folder.mkdir()
    write_zip(str(folder / "good_082020_tweets_csv_hashed.zip"),
              {"good_082020_tweets_csv_hashed.csv": csv_text(tweets(25, seed=9, first_id=9 * 10**17))})
    return folder


@pytest.fixture
def src(tmp_path):
    return good_sources(tmp_path)


def assert_good_archive_loaded(db_path):
    assert query(db_path, "select count(*) from tweets where campaign = 'good_082020'") == [(25,)]
    assert query(db_path, "select status from imports where campaign = 'good_082020'") == [("done",)]
    assert query(db_path, "select value from tei_meta where key = 'build_state'") == [("complete",)]


def error_lines(result):
    return [line for line in result.output.splitlines() if line.startswith("Error: ")]


def failed_imports(db_path):
    return query(db_path, "select path, member, error from imports where status = 'failed' order by id")


def rejects(db_path):
    return query(db_path, "select path, member, line, reason, raw from rejects order by path, member, line")


def member_data_offset(data, name):
    """Where a member's (compressed) bytes start inside the zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    name_length, extra_length = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little"), \
        int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


# --- Damaged or wrong files: the archive or member fails, exit status 1 ------


def test_truncated_zip(src, db_path):
    """Its one member cut short fails, named; see test_truncated_zip.py for more."""
    path = src / "cut_082020_tweets_csv_hashed.zip"
    member = "cut_082020_tweets_csv_hashed.csv"
    write_zip(str(path), {member: csv_text(tweets(200))})
    data = path.read_bytes()
    cut = len(data) * 2 // 3
    path.write_bytes(data[:cut])  # a download that stopped short
    result = run_build(db_path, src)
    assert result.exit_code == 1
    message = f"{path}:{member}: cut short (the zip file ends at byte {cut}, inside this member): download it again"
    assert error_lines(result) == [f"Error: {message}"]
    assert failed_imports(db_path) == [(str(path), member, message)]
    assert query(db_path, "select count(*) from tweets where campaign = 'cut_082020'") == [(0,)]
    assert_good_archive_loaded(db_path)


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
@pytest.mark.parametrize("rows", [5, 4000], ids=["small", "past-the-read-buffer"])
def test_crc_error_in_one_member(src, db_path, compression, rows):
    """One flipped byte fails its member; the archive's other member loads.

    A small member is read whole with its header row; a large one fails
    after thousands of its rows were written, which must all be undone."""
    path = src / "crc_082020_tweets_csv_hashed.zip"
    damaged, intact = "parts/crc_082020_tweets_csv_hashed_1.csv", "parts/crc_082020_tweets_csv_hashed_2.csv"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr(damaged, csv_text(tweets(rows, seed=1, first_id=10**17)))
        archive.writestr(intact, csv_text(tweets(30, seed=2, first_id=2 * 10**17)))
    data = bytearray(buffer.getvalue())
    start, length = member_data_offset(bytes(data), damaged)
    data[start + length * 9 // 10] ^= 0x01  # near the end: most rows are read first
    path.write_bytes(bytes(data))
    result = run_build(db_path, src)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert line.startswith(f"Error: {path}:{damaged}: damaged, cannot be read")
    [(failed_path, failed_member, error)] = failed_imports(db_path)
    assert (failed_path, failed_member) == (str(path), damaged) and error == line[len("Error: "):]
    # Nothing of the damaged member, all of the intact one.
    assert query(db_path, "select count(*) from tweets where tweetid < ?", (2 * 10**17,)) == [(0,)]
    assert query(db_path, "select count(*) from tweets where campaign = 'crc_082020'") == [(30,)]
    assert query(db_path, "select count(*) from tweets_fts where tweets_fts match 'election OR news OR vote'") == \
        query(db_path, "select count(*) from tweets where tweet_text like '%election%' "
                       "or tweet_text like '%news%' or tweet_text like '%vote%'")
    assert query(db_path, "select member, status from imports where campaign = 'crc_082020' order by member") == [
        (damaged, "failed"), (intact, "done")]
    assert_good_archive_loaded(db_path)


def test_file_that_is_not_a_zip_or_gzip(src, db_path):
    fake_zip = src / "fake_082020_tweets_csv_hashed.zip"
    fake_zip.write_bytes(b"<html><body>403 Forbidden</body></html>\n")  # what a failed download saves
    fake_gz = src / "fakegz_082020_users_csv_hashed.csv.gz"
    fake_gz.write_text("userid,user_screen_name\n1,a\n")
    result = run_build(db_path, src)
    assert result.exit_code == 1
    errors = error_lines(result)
    assert f"Error: {fake_zip}: not a readable zip file (File is not a zip file)" in errors
    assert any(line.startswith(f"Error: {fake_gz}: damaged, cannot be read") and "gzip" in line.lower()
               for line in errors), errors
    assert [path for path, _, _ in failed_imports(db_path)] == [str(fake_zip), str(fake_gz)]
    assert query(db_path, "select count(*) from users") == query(
        db_path, "select count(distinct userid) from tweets")  # only those seen in the good tweets
    assert_good_archive_loaded(db_path)


def test_empty_files(src, db_path):
    empty_csv = src / "empty_082020_tweets_csv_hashed.csv"
    empty_zip = src / "emptyzip_082020_tweets_csv_hashed.zip"
    empty_gz = src / "emptygz_082020_tweets_csv_hashed.csv.gz"
    empty_member = src / "emptymember_082020_tweets_csv_hashed.zip"
    for path in (empty_csv, empty_zip, empty_gz):
        path.write_bytes(b"")
    write_zip(str(empty_member), {"blank.csv": "", "ok.csv": csv_text(tweets(4))})
    result = run_build(db_path, src)
    assert result.exit_code == 1
    errors = error_lines(result)
    assert f"Error: {empty_csv}: empty file, no header row" in errors
    assert f"Error: {empty_member}:blank.csv: empty file, no header row" in errors
    assert f"Error: {empty_zip}: not a readable zip file (File is not a zip file)" in errors
    assert any(line.startswith(f"Error: {empty_gz}: ") for line in errors), errors
    assert len(errors) == 4
    assert query(db_path, "select count(*) from tweets where campaign = 'emptymember_082020'") == [(4,)]
    assert_good_archive_loaded(db_path)


def test_header_that_matches_neither_tweets_nor_users(src, db_path):
    path = src / "odd_082020_tweets_csv_hashed.csv"
    path.write_text("\n\nid,text,created_at\n1,hello,2020-01-01\n")  # header on line 3
    result = run_build(db_path, src)
    assert result.exit_code == 1
    [line] = error_lines(result)
    assert line.startswith(f"Error: {path}: line 3: header matches neither a tweets nor a users file")
    assert "id,text,created_at" in line
    assert [p for p, _, _ in failed_imports(db_path)] == [str(path)]
    assert_good_archive_loaded(db_path)


# --- Malformed rows: rejected with their line and reason, exit status 0 ------


def write_rows_then(src, name, rows, lines_after, before=None):
    """A CSV of good rows with raw lines inserted; returns (path, text)."""
    text = csv_text(rows)
    if before is not None:
        head, body = text.split("\n", 1)
        text = head + "\n" + before + body
    text += "".join(line + "\n" for line in lines_after)
    path = src / name
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path, text


def good_line(row):
    return csv_text([row]).split("\n")[1]


def test_rows_with_too_few_and_too_many_fields(src, db_path):
    rows = tweets(10)
    extra = tweets(3, seed=4, first_id=3 * 10**17)
    short = ",".join(good_line(extra[0]).split(",")[:5])
    long_ = good_line(extra[1]) + ",surplus"
    path = src / "width_082020_tweets_csv_hashed.zip"
    member = "width/width_082020_tweets_csv_hashed.csv"
    text = csv_text(rows[:5]) + short + "\n" + "\n".join(csv_text(rows[5:]).split("\n")[1:]) + long_ + "\n" \
        + good_line(extra[2]) + "\n"
    write_zip(str(path), {member: text})
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    assert "2 rows rejected" in result.output
    found = rejects(db_path)
    assert [(p, m, line, reason) for p, m, line, reason, _ in found] == [
        (str(path), member, 7, f"expected {WIDTH} fields, found 5"),
        (str(path), member, 13, f"expected {WIDTH} fields, found {WIDTH + 1}"),
    ]
    assert found[0][4] == short and found[1][4].endswith(",surplus") and extra[1]["tweetid"] in found[1][4]
    assert query(db_path, "select count(*) from tweets where campaign = 'width_082020'") == [(11,)]
    assert query(db_path, "select rows_read, rows_loaded, rows_rejected from imports where member = ?", (member,)) == [
        (13, 11, 2)]
    assert query(db_path, "select rejected_rows from campaigns where name = 'width_082020'") == [(2,)]
    assert_good_archive_loaded(db_path)


def test_nul_bytes(src, db_path):
    rows = tweets(8)
    rows[3]["tweet_text"] = "before\x00after"
    path, _ = write_rows_then(src, "nul_082020_tweets_csv_hashed.csv", rows, [])
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    [(p, member, line, reason, raw)] = rejects(db_path)
    assert (p, member, line, reason) == (str(path), None, 5, "NUL byte in row")
    assert rows[3]["tweetid"] in raw
    assert query(db_path, "select count(*) from tweets where campaign = 'nul_082020'") == [(7,)]
    assert query(db_path, "select count(*) from tweets where instr(tweet_text, char(0))") == [(0,)]
    assert_good_archive_loaded(db_path)


def test_invalid_utf8_bytes(src, db_path):
    rows = tweets(8)
    rows[2]["user_profile_description"] = "caf\udce9 latin-1"  # a lone 0xE9 byte in the file
    rows[6]["tweet_text"] = "cut \udce2\udc80"  # a truncated three-byte sequence
    path, _ = write_rows_then(src, "latin_082020_tweets_csv_hashed.csv", rows, [])
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    found = rejects(db_path)
    assert [(p, m, line, reason) for p, m, line, reason, _ in found] == [
        (str(path), None, 4, "bytes that are not UTF-8"), (str(path), None, 8, "bytes that are not UTF-8")]
    assert rows[2]["tweetid"] in found[0][4] and "\\udce9" in found[0][4]  # shown, never silently replaced
    assert query(db_path, "select count(*) from tweets where campaign = 'latin_082020'") == [(6,)]
    assert query(db_path, "select count(*) from tweets where tweet_text like '%' || char(65533) || '%'") == [(0,)]
    assert_good_archive_loaded(db_path)


def test_unterminated_quote_at_end_of_file(src, db_path):
    rows = tweets(12)
    cut = good_line(tweets(1, seed=5, first_id=5 * 10**17)[0])
    # A file cut inside a quoted tweet: the quote never closes.
    truncated = cut[: cut.index(",", 60)] + ',"RT @someone: the file ends insi'
    path, text = write_rows_then(src, "cut_082020_tweets_csv_hashed.csv", rows, [truncated])
    line = text.count("\n")  # the last line
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    [(p, member, at, reason, raw)] = rejects(db_path)
    assert (p, member, at) == (str(path), None, line)
    assert reason.startswith("expected 30 fields, found ")
    assert "the file ends insi" in raw
    assert query(db_path, "select count(*) from tweets where campaign = 'cut_082020'") == [(12,)]
    assert_good_archive_loaded(db_path)


def test_ten_megabyte_field(src, db_path):
    """Larger than the field limit: the row is rejected, memory stays bounded,
    and the rows after it load. The member is large enough to be parsed in
    the child process."""
    rows = tweets(6)
    huge = tweets(2, seed=6, first_id=6 * 10**17)
    huge[0]["tweet_text"] = "spam " * (2 * 1024 * 1024)  # 10 MiB, one line
    text = csv_text(rows) + "\n".join(csv_text(huge).split("\n")[1:])
    path = src / "huge_082020_tweets_csv_hashed.zip"
    write_zip(str(path), {"huge.csv": text})
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    [(p, member, line, reason, raw)] = rejects(db_path)
    assert (p, member, line) == (str(path), "huge.csv", 8)
    assert reason.startswith("row longer than 2,097,152 characters")
    assert len(raw) <= 20_000
    assert query(db_path, "select count(*) from tweets where campaign = 'huge_082020'") == [(7,)]
    assert query(db_path, "select count(*) from tweets where tweetid = ?", (int(huge[1]["tweetid"]),)) == [(1,)]
    assert_good_archive_loaded(db_path)


# --- Quirks that are not errors: nothing rejected, exit status 0 -------------


def test_repeated_header_rows(src, db_path):
    rows = tweets(30)
    # Parts concatenated: the header again, once plain, once with a BOM and
    # fully quoted; a repeated users header too.
    quoted = ",".join(f'"{name}"' for name in LAYOUTS[LAYOUT])
    text = csv_text(rows[:10]) + csv_text(rows[10:20]) + "\ufeff" + quoted + "\n" + \
        "\n".join(csv_text(rows[20:]).split("\n")[1:])
    (src / "rep_082020_tweets_csv_hashed.csv").write_text(text, encoding="utf-8")
    users = make_users(6, LAYOUT)
    (src / "rep_082020_users_csv_hashed.csv").write_text(
        users_csv_text(users[:3], LAYOUT) + users_csv_text(users[3:], LAYOUT), encoding="utf-8")
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    assert rejects(db_path) == []
    assert query(db_path, "select count(*) from tweets where campaign = 'rep_082020'") == [(30,)]
    assert query(db_path, "select count(*) from users where campaign = 'rep_082020' and from_users_file") == [(6,)]
    assert query(db_path, "select count(*) from tweets where tweetid_str = 'tweetid' or userid = 'userid'") == [(0,)]
    assert_good_archive_loaded(db_path)


def test_byte_order_marks(src, db_path):
    rows = tweets(9)
    bom = "\ufeff"
    (src / "bom_082020_tweets_csv_hashed.csv").write_text(bom + csv_text(rows[:3]), encoding="utf-8")
    write_zip(str(src / "bomzip_082020_tweets_csv_hashed.zip"), {"a.csv": bom + csv_text(rows[3:6])})
    (src / "bomgz_082020_tweets_csv_hashed.csv.gz").write_bytes(
        gzip.compress((bom + csv_text(rows[6:])).encode("utf-8")))
    (src / "bom_082020_users_csv_hashed.csv").write_text(
        bom + users_csv_text(make_users(4, LAYOUT), LAYOUT), encoding="utf-8")
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    assert rejects(db_path) == []
    # The first column kept its name: ids loaded as integers, users typed.
    assert query(db_path, "select count(*) from tweets where typeof(tweetid) = 'integer' and tweetid < ?",
                 (2 * 10**17,)) == [(9,)]
    assert query(db_path, "select count(*) from users where campaign = 'bom_082020' and from_users_file") == [(4,)]
    assert_good_archive_loaded(db_path)


# --- Hostile member names: a label, never a path ------------------------------


def all_files(root):
    return {os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names}


def test_zip_member_paths_are_never_written(tmp_path, db_path, monkeypatch):
    src = tmp_path / "deep" / "er" / "src"
    src.mkdir(parents=True)
    work = tmp_path / "deep" / "er" / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    escape = f"tei-escape-{os.getpid()}"
    names = [
        f"../../{escape}_tweets_csv_hashed.csv",
        f"/tmp/{escape}/abs_tweets_csv_hashed.csv",
        f"..\\..\\{escape}_win_tweets_csv_hashed.csv",
        f"ok/../../../{escape}_dots.csv",
    ]
    path = src / "evil_082020_tweets_csv_hashed.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, name in enumerate(names):
            info = zipfile.ZipInfo("x" * len(name))  # zipfile would clean a leading '/'
            info.filename = name
            archive.writestr(info, csv_text(tweets(3, seed=i, first_id=(i + 1) * 10**17)))
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == names
    before = all_files(tmp_path)
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    # Nothing extracted: the only new files are the database's own.
    assert all_files(tmp_path) - before <= {db_path, db_path + "-wal", db_path + "-shm", db_path + "-journal"}
    assert not os.path.exists(f"/tmp/{escape}")
    assert not any(escape in name for name in os.listdir(tmp_path))
    # The names are kept as labels, verbatim.
    assert query(db_path, "select member, rows_loaded from imports order by member") == sorted(
        (name, 3) for name in names)
    assert query(db_path, "select count(*) from tweets where campaign = 'evil_082020'") == [(12,)]
