"""Zips cut short, as a download that stopped early leaves them: no central
directory at the end. The members before the cut load, read from their
local headers; the member the file ends in fails alone, with a message
naming the file and the member; a complete download of the same zip later
loads only what is missing.

Each test writes real zips with zipfile and cuts them.
"""
import io
import struct
import zipfile

import pytest

from datasette_tei.build import stream
from helpers import query, run_build
from test_bad_input import assert_good_archive_loaded, csv_text, error_lines, failed_imports, good_sources, tweets

CAMPAIGN = "cut_082020"
NAMES = [f"parts/{CAMPAIGN}_tweets_csv_hashed_{i}.csv" for i in (1, 2, 3)]
COUNTS = [40, 30, 50]


@pytest.fixture
def src(tmp_path):
    return good_sources(tmp_path)


class _Unseekable:
    """A file zipfile cannot seek in: it then writes each member's CRC and
    sizes in a data descriptor after its data, and zeros in its header."""

    def __init__(self, raw):
        self.raw = raw

    def write(self, data):
        return self.raw.write(data)

    def flush(self):
        pass


def three_parts(compression=zipfile.ZIP_DEFLATED, seekable=True, zip64=False):
    """The bytes of a zip of three tweets parts, ids 1e17.., 2e17.., 3e17.."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer if seekable else _Unseekable(buffer), "w", compression) as archive:
        for i, (name, count) in enumerate(zip(NAMES, COUNTS), 1):
            with archive.open(name, "w", force_zip64=zip64) as member:
                member.write(csv_text(tweets(count, seed=i, first_id=i * 10**17)).encode())
    return buffer.getvalue()


def data_span(data, name):
    """(header offset, data offset, compressed size) of a member, from the central directory."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(name)
    name_length, extra_length = struct.unpack_from("<2H", data, info.header_offset + 26)
    return info.header_offset, info.header_offset + 30 + name_length + extra_length, info.compress_size


def cut_message(path, member, at):
    return f"{path}:{member}: cut short (the zip file ends at byte {at}, inside this member): download it again"


def tweets_of_part(db_path, i):
    return query(db_path, "select count(*) from tweets where tweetid >= ? and tweetid < ?",
                 (i * 10**17, (i + 1) * 10**17))[0][0]


def imports(db_path):
    return query(db_path, "select member, status from imports where campaign = ? order by id", (CAMPAIGN,))


def assert_cut_in_third_member(db_path, result, path, at):
    """The first two parts loaded whole, the third failed with its message."""
    message = cut_message(path, NAMES[2], at)
    assert result.exit_code == 1, result.output
    assert error_lines(result) == [f"Error: {message}"]
    assert failed_imports(db_path) == [(str(path), NAMES[2], message)]
    assert [tweets_of_part(db_path, i) for i in (1, 2, 3)] == [COUNTS[0], COUNTS[1], 0]
    assert imports(db_path) == [(NAMES[0], "done"), (NAMES[1], "done"), (NAMES[2], "failed")]
    # Their full-text entries came with them.
    assert query(db_path, "select count(*) from tweets_fts") == query(db_path, "select count(*) from tweets")
    assert_good_archive_loaded(db_path)


@pytest.mark.parametrize("compression, zip64", [
    (zipfile.ZIP_DEFLATED, False), (zipfile.ZIP_STORED, False), (zipfile.ZIP_DEFLATED, True),
], ids=["deflated", "stored", "zip64-sizes"])
def test_cut_in_the_third_member(src, db_path, compression, zip64):
    data = three_parts(compression, zip64=zip64)
    if zip64:  # the sizes are in the zip64 extra field, the header holds 0xFFFFFFFF
        assert struct.unpack_from("<2L", data, 18) == (0xFFFFFFFF, 0xFFFFFFFF)
    _, start, length = data_span(data, NAMES[2])
    at = start + length // 2
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    path.write_bytes(data[:at])
    assert_cut_in_third_member(db_path, run_build(db_path, src), path, at)


@pytest.mark.parametrize("zip64", [False, True], ids=["32-bit", "zip64"])
def test_members_with_data_descriptors(src, db_path, zip64):
    """Sizes and CRC after the data: each member's end is found by inflating it."""
    data = three_parts(seekable=False, zip64=zip64)
    header, start, length = data_span(data, NAMES[2])
    flags, = struct.unpack_from("<H", data, header + 6)
    assert flags & 0x08 and struct.unpack_from("<3L", data, header + 14) in [(0, 0, 0), (0, 2**32 - 1, 2**32 - 1)]
    at = start + length - 1  # only the last byte of the deflate stream is missing
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    path.write_bytes(data[:at])
    assert_cut_in_third_member(db_path, run_build(db_path, src), path, at)


def test_members_parsed_in_the_child_process(src, db_path, monkeypatch):
    """Large members are parsed in a forked process, which opens the zip
    again: it must find a recovered member where the parent did."""
    monkeypatch.setattr(stream, "PARALLEL_MIN_BYTES", 0)
    in_child = []
    from_child = stream._from_child

    def counted(member, tail, *args):
        in_child.append(member.name)
        return from_child(member, tail, *args)

    monkeypatch.setattr(stream, "_from_child", counted)
    data = three_parts()
    _, start, length = data_span(data, NAMES[2])
    at = start + length // 3
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    path.write_bytes(data[:at])
    assert_cut_in_third_member(db_path, run_build(db_path, src), path, at)
    assert set(NAMES) <= set(in_child)


def test_complete_download_afterwards_loads_only_the_missing_member(src, db_path):
    data = three_parts()
    _, start, length = data_span(data, NAMES[2])
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    path.write_bytes(data[:start + length // 2])
    assert run_build(db_path, src).exit_code == 1
    path.write_bytes(data)  # downloaded again, whole
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    assert error_lines(result) == []
    assert "2 unchanged" in result.output  # the two parts already loaded, recognised by checksum
    assert imports(db_path) == [(NAMES[0], "done"), (NAMES[1], "done"), (NAMES[2], "failed"), (NAMES[2], "done")]
    assert [tweets_of_part(db_path, i) for i in (1, 2, 3)] == COUNTS
    assert query(db_path, "select coalesce(sum(duplicates), 0) from imports") == [(0,)]
    assert query(db_path, "select count(*) from tweets_fts") == query(db_path, "select count(*) from tweets")
    assert_good_archive_loaded(db_path)


def test_cut_between_members_names_the_file(src, db_path):
    """Cut just after the second member: no member is damaged, but what
    followed is missing, so the file fails, its whole members loaded."""
    data = three_parts()
    header, _, _ = data_span(data, NAMES[2])
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    for at in (header, header + 10):  # at the third member's header, inside it
        path.write_bytes(data[:at])
        result = run_build(db_path, src)
        message = f"{path}: cut short (the zip file ends at byte {at}, before its central directory): " \
            "download it again"
        assert result.exit_code == 1, result.output
        assert error_lines(result) == [f"Error: {message}"]
        assert failed_imports(db_path)[-1] == (str(path), None, message)
    assert [tweets_of_part(db_path, i) for i in (1, 2, 3)] == [COUNTS[0], COUNTS[1], 0]
    assert_good_archive_loaded(db_path)


def test_cut_in_the_central_directory_loses_nothing(src, db_path):
    """Every member precedes the central directory: all are whole, and read;
    the file is still reported, as a download to do again."""
    data = three_parts()
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    path.write_bytes(data[:-30])  # the end record and part of the directory are gone
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(path)
    result = run_build(db_path, src)
    message = (f"{path}: its central directory is cut short or damaged (the zip file ends at byte "
               f"{len(data) - 30}): every member was whole and is read; download it again")
    assert result.exit_code == 1
    assert error_lines(result) == [f"Error: {message}"]
    assert [tweets_of_part(db_path, i) for i in (1, 2, 3)] == COUNTS
    assert query(db_path, "SELECT member, status, error FROM imports WHERE path = ? AND status = 'failed'",
                 (str(path),)) == [(None, "failed", message)]
    assert_good_archive_loaded(db_path)


def test_crc_error_in_a_recovered_member(src, db_path):
    """A recovered member is checked against its CRC-32 as zipfile checks
    one: the damaged part fails alone."""
    data = bytearray(three_parts(zipfile.ZIP_STORED))
    _, start, length = data_span(bytes(data), NAMES[0])
    data[start + length // 2] ^= 0x01
    _, start, length = data_span(bytes(data), NAMES[2])
    at = start + length // 2
    path = src / f"{CAMPAIGN}_tweets_csv_hashed.zip"
    path.write_bytes(bytes(data[:at]))
    result = run_build(db_path, src)
    assert result.exit_code == 1, result.output
    damaged, cut = error_lines(result)
    assert damaged.startswith(f"Error: {path}:{NAMES[0]}: damaged, cannot be read") and "Bad CRC-32" in damaged
    assert cut == f"Error: {cut_message(path, NAMES[2], at)}"
    assert [tweets_of_part(db_path, i) for i in (1, 2, 3)] == [0, COUNTS[1], 0]
    assert imports(db_path) == [(NAMES[0], "failed"), (NAMES[1], "done"), (NAMES[2], "failed")]
    assert_good_archive_loaded(db_path)


USER = "a" * 64


def media_zip(members=3):
    """The bytes of a media zip: stored images of growing size, as Twitter shipped them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for i in range(members):
            archive.writestr(f"{CAMPAIGN}/{USER}/images/{10**17 + i}-k{i}.jpg", bytes(range(256)) * 40 * (i + 1))
    return buffer.getvalue()


def test_media_zip_cut_short(src, db_path):
    """A media zip cut in its third image: the first two are indexed, the
    build names the member it ends in, every time; the whole zip later
    replaces the partial index."""
    data = media_zip()
    path = src / f"{CAMPAIGN}_tweet_media_hashed_1.zip"
    _, start, _ = data_span(data, f"{CAMPAIGN}/{USER}/images/{10**17 + 2}-k2.jpg")
    path.write_bytes(data[:start + 100])
    message = (f"Error: {path}:{CAMPAIGN}/{USER}/images/{10**17 + 2}-k2.jpg: cut short "
               f"(the zip file ends at byte {start + 100}, inside this member): download it again")
    for _ in range(2):  # the second build skips the indexed members and says it again
        result = run_build(db_path, src)
        assert result.exit_code == 1
        assert error_lines(result) == [message]
        assert query(db_path, "SELECT tweetid, kind, size FROM media ORDER BY tweetid") == [
            (10**17, "image", 10240), (10**17 + 1, "image", 20480)]
        assert query(db_path, "SELECT status, error FROM imports WHERE kind = 'media'") == [
            ("done", message.removeprefix("Error: "))]
        assert_good_archive_loaded(db_path)
    path.write_bytes(data)
    result = run_build(db_path, src)
    assert result.exit_code == 0, result.output
    assert query(db_path, "SELECT count(*), sum(size) FROM media") == [(3, 10240 * 6)]
    assert query(db_path, "SELECT status, error FROM imports WHERE kind = 'media' ORDER BY id") == [
        ("replaced", message.removeprefix("Error: ")), ("done", None)]
