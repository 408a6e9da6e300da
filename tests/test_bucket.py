"""list, download and build gs:// against a real GCS emulator.

The emulator is fake-gcs-server (tests/gcs_server.py), seeded through the
real google-cloud-storage client with a small bucket tree in the real TEI
layout. A loopback proxy in front of it stands for a slow, flaky or vanished
network; it also records the requests, so a test can tell what a run
actually fetched.
"""
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile

import pytest
from click.testing import CliRunner

from datasette_tei.build import bucket, media
from datasette_tei.cli import cli
from datasette_tei.build.synthetic import generate_tweets, make_users, tweets_csv_text, users_csv_text

from gcs_server import FakeGCS, Proxy, file_size, wait_for
from helpers import default_sigint, free_port

URL = "gs://tei-test/hashed/"
BIG_URL = "gs://tei-big/hashed/"
IRA_HASH = "9" * 64
IRAN_HASH = "Qm9ndXNIYXNoT2ZBbkFjY291bnRJbkJhc2U2NA" + "xyz12="
BIG_NAME = "hashed/2020_05/china_052020/china_052020_tweets_csv_hashed.zip"
BIG_SIZE = 3 * 1024 * 1024


def _zip(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _tree():
    """The seeded bucket: three releases, three layouts, both media layouts."""
    ira_tweets = list(generate_tweets(25, "2018", n_users=6, seed=11, first_id=7 * 10**17))
    iran_tweets = list(generate_tweets(40, "2020", n_users=8, seed=12, first_id=9 * 10**17))
    catalonia = list(generate_tweets(15, "2019", n_users=4, seed=13, first_id=8 * 10**17))
    jpg, mp4 = b"\xff\xd8\xff" + bytes(200), b"\x00\x00\x00\x18ftypmp42" + bytes(300)
    return {
        "hashed/2018_10/ira/ira_tweets_csv_hashed.zip": _zip(
            {"ira_tweets_csv_hashed.csv": tweets_csv_text(ira_tweets, "2018")}),
        "hashed/2018_10/ira/ira_users_csv_hashed.zip": _zip(
            {"ira_users_csv_hashed.csv": users_csv_text(make_users(6, "2018", seed=11), "2018")}),
        # 2018 media: beside the CSVs, members <part>/<userid>/<kind>/<tweetid>-<key>.<ext>.
        "hashed/2018_10/ira/ira_tweet_media_hashed_1.zip": _zip({
            f"ira_1/{IRA_HASH}/images/{7 * 10**17 + 1}-CVfPc8YUsAApZSL.jpg": jpg,
            f"ira_1/{IRA_HASH}/images/{7 * 10**17 + 2}-Dk3lQ.png": jpg,
            f"ira_1/{IRA_HASH}/videos/{7 * 10**17 + 3}-vid.mp4": mp4,
            f"ira_1/{IRA_HASH}/profile_images/avatar.jpg": jpg,
            "__MACOSX/ira_1/._avatar.jpg": b"junk",
            "ira_1/.DS_Store": b"junk",
        }),
        "hashed/2020_12/Twitter_Elections_Integrity_Datasets_hashed_README.txt": b"Read me first.\n",
        "hashed/2020_12/iran_202012/iran_202012_tweets_csv_hashed.zip": _zip(
            {"iran_202012_tweets_csv_hashed.csv": tweets_csv_text(iran_tweets, "2020")}),
        "hashed/2020_12/iran_202012/iran_202012_users_csv_hashed.zip": _zip(
            {"iran_202012_users_csv_hashed.csv": users_csv_text(make_users(8, "2020", seed=12), "2020")}),
        "hashed/2020_12/iran_202012/iran_202012_media_file_list_hashed.txt": b"iran_202012_hashed_001.zip\n",
        # Later media: their own folder, zips named without the marker.
        "hashed/2020_12/iran_202012/iran_202012_tweet_media_hashed/iran_202012_hashed_001.zip": _zip({
            f"{IRAN_HASH}/{9 * 10**17 + 5}_1.jpg": jpg,
            f"{IRAN_HASH}/video/{9 * 10**17 + 6}.mp4": mp4,
        }),
        "hashed/2019_06/catalonia_201906_1/catalonia_201906_1_tweets_csv_hashed.csv":
            tweets_csv_text(catalonia, "2019").encode("utf-8"),
    }


EXPECTED = {"ira": (25, 6), "iran_202012": (40, 8), "catalonia_201906_1": (15, 0)}
MEDIA_NAMES = {"hashed/2018_10/ira/ira_tweet_media_hashed_1.zip",
               "hashed/2020_12/iran_202012/iran_202012_media_file_list_hashed.txt",
               "hashed/2020_12/iran_202012/iran_202012_tweet_media_hashed/iran_202012_hashed_001.zip"}


def _big_objects():
    rng = random.Random(5)
    return {BIG_NAME: rng.randbytes(BIG_SIZE),
            "hashed/2020_05/china_052020/china_052020_users_csv_hashed.zip": rng.randbytes(5000)}


@pytest.fixture(scope="session")
def gcs():
    server = FakeGCS().start()
    try:
        server.tree = _tree()
        server.seed("tei-test", server.tree)
        server.big = _big_objects()
        server.seed("tei-big", server.big)
        server.seed("tei-hostile", {
            "hashed/../../evil.zip": b"outside",
            "hashed/2020_12/ok_202012/ok_202012_tweets_csv_hashed.csv": b"tweetid\n",
            "hashed/2020_12/ok_202012/empty.txt": b"",
        })
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(gcs, monkeypatch, tmp_path):
    """The client library pointed at the emulator; the user cache in tmp."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("DATASETTE_TEI_CREDENTIALS", raising=False)
    return gcs


@pytest.fixture
def proxies():
    started = []

    def make(port, **kwargs):
        proxy = Proxy(port, **kwargs)
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()


def run(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


def subprocess_cli(*args, env):
    code = "from datasette_tei.cli import cli; cli()"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=default_sigint)


def one_line_error(result_text):
    lines = [line for line in result_text.strip().splitlines() if line.strip()]
    assert "Traceback" not in result_text
    return lines


# --- list ----------------------------------------------------------------------


def test_list_shows_releases_campaigns_files_and_media_totals(emulator):
    result = run("list", URL)
    assert result.exit_code == 0, result.output
    out = result.stdout
    tree = emulator.tree
    for heading in ("2018_10", "2019_06", "2020_12"):
        assert f"\n{heading}" in out
    assert out.index("2018_10") < out.index("2019_06") < out.index("2020_12")
    ira_zip = tree["hashed/2018_10/ira/ira_tweets_csv_hashed.zip"]
    assert re.search(rf"\n    ira_tweets_csv_hashed.zip +{bucket.human_size(len(ira_zip))}\n", out)
    media_size = len(tree["hashed/2018_10/ira/ira_tweet_media_hashed_1.zip"])
    assert f"media {bucket.human_size(media_size)} in 1 file" in out
    # Media archives are totalled, not listed, without --media.
    assert "ira_tweet_media_hashed_1.zip" not in out
    assert "--media" in out
    listed = run("list", URL, "--media").stdout
    assert "\n    ira_tweet_media_hashed_1.zip " in listed
    assert "\n    iran_202012_tweet_media_hashed/iran_202012_hashed_001.zip " in listed


def test_list_json_sizes_match_the_objects(emulator):
    result = run("list", URL, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    tree = emulator.tree
    campaigns = {c["campaign"]: c for r in data["releases"] for c in r["campaigns"]}
    assert set(campaigns) == set(EXPECTED)
    for name, campaign in campaigns.items():
        data_names = {n for n in tree if f"/{name}/" in n and n not in MEDIA_NAMES}
        media_names = {n for n in tree if f"/{name}/" in n and n in MEDIA_NAMES}
        assert campaign["size"] == sum(len(tree[n]) for n in data_names)
        assert campaign["media_size"] == sum(len(tree[n]) for n in media_names)
        assert {f["name"] for f in campaign["files"]} == data_names
        assert all(f["crc32c"] for f in campaign["files"])
    assert data["campaigns_count"] == 3 and data["files_count"] == len(set(tree) - MEDIA_NAMES)
    assert data["size"] == sum(len(v) for n, v in tree.items() if n not in MEDIA_NAMES)
    assert data["media_size"] == sum(len(tree[n]) for n in MEDIA_NAMES)
    release_2020 = next(r for r in data["releases"] if r["release"] == "2020_12")
    assert [f["kind"] for f in release_2020["files"]] == ["readme"]
    with_media = json.loads(run("list", URL, "--json", "--media").stdout)
    kinds = {f["name"]: f["kind"] for r in with_media["releases"] for c in r["campaigns"] for f in c["files"]}
    assert {n for n, k in kinds.items() if k == "media"} == MEDIA_NAMES


@pytest.mark.parametrize("globs, expected", [
    (["ira"], {"ira"}),
    (["iran_*"], {"iran_202012"}),
    (["2019_06/*"], {"catalonia_201906_1"}),
    (["ira", "cat*"], {"ira", "catalonia_201906_1"}),
])
def test_list_campaign_globs(emulator, globs, expected):
    args = ["list", URL, "--json"]
    for glob in globs:
        args += ["--campaign", glob]
    data = json.loads(run(*args).stdout)
    assert {c["campaign"] for r in data["releases"] for c in r["campaigns"]} == expected


def test_list_campaign_glob_matching_nothing_is_an_error(emulator):
    result = run("list", URL, "--campaign", "nope*")
    assert result.exit_code == 1
    assert one_line_error(result.output) == [f"Error: {URL}: no campaign matches nope*"]


# --- errors ----------------------------------------------------------------------


@pytest.mark.parametrize("command", ["list", "download"])
def test_missing_bucket_is_one_line(emulator, tmp_path, command):
    args = [command] + ([tmp_path / "dest"] if command == "download" else []) + ["gs://no-such-bucket/hashed/"]
    result = run(*args)
    assert result.exit_code == 1
    assert one_line_error(result.output) == ["Error: gs://no-such-bucket: no such bucket"]
    assert not (tmp_path / "dest").exists()


def test_empty_prefix_is_one_line(emulator):
    result = run("list", "gs://tei-test/nothing-here/")
    assert result.exit_code == 1
    assert one_line_error(result.output) == ["Error: gs://tei-test/nothing-here/: no objects under this prefix"]


def test_unreachable_server_is_one_line(emulator, monkeypatch, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", dead)
    started = time.monotonic()
    result = run("download", tmp_path / "d", URL, "--retry-timeout", "1")
    assert result.exit_code == 1
    lines = one_line_error(result.output)
    assert lines == [f"Error: listing {URL}: cannot reach {dead} (connection refused); gave up after retrying"]
    assert time.monotonic() - started < 20


def test_bad_url_and_missing_credentials_file(emulator, tmp_path):
    result = run("list", "s3://tei-test/hashed/")
    assert result.exit_code == 1 and "not a gs://BUCKET/PREFIX URL" in result.output
    result = run("list", URL, "--credentials", tmp_path / "nope.json")
    assert result.exit_code == 1
    assert one_line_error(result.output) == [f"Error: {tmp_path / 'nope.json'}: no such credentials file"]
    (tmp_path / "bad.json").write_text('{"type": "service_account"}')
    result = run("list", URL, "--credentials", tmp_path / "bad.json")
    assert result.exit_code == 1
    [line] = one_line_error(result.output)
    assert line.startswith(f"Error: cannot load credentials from {tmp_path / 'bad.json'}: ")
    (tmp_path / "odd.json").write_text('{"type": "external_account"}')
    [line] = one_line_error(run("list", URL, "--credentials", tmp_path / "odd.json").output)
    assert "type 'external_account' are not supported" in line


# --- download ----------------------------------------------------------------------


def _mirror_matches(dest, tree, names):
    for name in names:
        with open(os.path.join(dest, *name.split("/")), "rb") as handle:
            assert handle.read() == tree[name], name


def test_download_mirrors_verifies_and_builds(emulator, tmp_path):
    dest = tmp_path / "mirror"
    result = run("download", dest, URL)
    assert result.exit_code == 0, result.output
    assert "Downloading" in result.stderr  # the progress bar
    tree = emulator.tree
    data_names = set(tree) - MEDIA_NAMES
    assert f"{len(data_names)} downloaded" in result.stderr
    _mirror_matches(dest, tree, data_names)
    on_disk = {os.path.relpath(os.path.join(root, name), dest).replace(os.sep, "/")
               for root, _, names in os.walk(dest) for name in names if not name.startswith(".")}
    assert on_disk == data_names  # no media, no .part left behind
    db = tmp_path / "tei.db"
    result = run("build", db, dest, "--silent")
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    counts = dict(conn.execute("select campaign, count(*) from tweets group by campaign"))
    users = dict(conn.execute("select campaign, count(*) from users where from_users_file group by campaign"))
    for campaign, (tweets, accounts) in EXPECTED.items():
        assert counts[campaign] == tweets
        assert users.get(campaign, 0) == accounts
    assert "media" not in {r[0] for r in conn.execute("select name from sqlite_master")}


def test_second_run_downloads_nothing(emulator, tmp_path, proxies, monkeypatch):
    dest = tmp_path / "mirror"
    assert run("download", dest, URL, "--silent").exit_code == 0
    mtimes = {p: os.stat(p).st_mtime_ns for p in map(str, dest.rglob("*")) if os.path.isfile(p)}
    proxy = proxies(emulator.port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    result = run("download", dest, URL, "--silent")
    assert result.exit_code == 0, result.output
    assert "0 downloaded (0 B)" in result.stderr
    assert f"{len(set(emulator.tree) - MEDIA_NAMES)} already verified" in result.stderr
    # One listing, nothing fetched, nothing else asked.
    assert proxy.request_lines() == ["GET /storage/v1/b/tei-test/o?projection=noAcl&prefix=hashed%2F&prettyPrint=false"]
    assert {p: os.stat(p).st_mtime_ns for p in mtimes} == mtimes


def test_campaign_filter_downloads_only_that_campaign(emulator, tmp_path):
    dest = tmp_path / "mirror"
    result = run("download", dest, URL, "--campaign", "iran_*", "--silent")
    assert result.exit_code == 0, result.output
    files = {p.name for p in dest.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert files == {"iran_202012_tweets_csv_hashed.zip", "iran_202012_users_csv_hashed.zip"}


def test_media_only_with_flag_and_indexed_by_build(emulator, tmp_path):
    dest = tmp_path / "mirror"
    result = run("download", dest, URL, "--media", "--campaign", "ira", "--campaign", "iran_202012", "--silent")
    assert result.exit_code == 0, result.output
    tree = emulator.tree
    _mirror_matches(dest, tree, MEDIA_NAMES)
    db = tmp_path / "tei.db"
    assert run("build", db, dest, "--silent").exit_code == 0
    conn = sqlite3.connect(db)
    rows = conn.execute("select campaign, tweetid, userid, kind, member, size from media order by member").fetchall()
    by_member = {row[4]: row for row in rows}
    assert len(rows) == 6  # the junk members are not indexed
    assert by_member[f"ira_1/{IRA_HASH}/images/{7 * 10**17 + 1}-CVfPc8YUsAApZSL.jpg"][:4] == (
        "ira", 7 * 10**17 + 1, IRA_HASH, "image")
    assert by_member[f"ira_1/{IRA_HASH}/videos/{7 * 10**17 + 3}-vid.mp4"][1:4] == (
        7 * 10**17 + 3, IRA_HASH, "video")
    assert by_member[f"ira_1/{IRA_HASH}/profile_images/avatar.jpg"][1:4] == (None, IRA_HASH, "profile")
    # The later layout: campaign from the media folder, user from the folder, tweet from the name.
    assert by_member[f"{IRAN_HASH}/{9 * 10**17 + 5}_1.jpg"][:4] == (
        "iran_202012", 9 * 10**17 + 5, IRAN_HASH, "image")
    assert by_member[f"{IRAN_HASH}/video/{9 * 10**17 + 6}.mp4"][3] == "video"
    # Media rows join to the tweets they belong to.
    joined = conn.execute("select count(*) from media join tweets using (tweetid)").fetchone()[0]
    assert joined == 5  # every member that names a tweet
    imports = conn.execute("select count(*) from imports where kind = 'media' and status = 'done'").fetchone()[0]
    assert imports == 2
    # A second build indexes nothing again, and keeps the rows.
    assert run("build", db, dest, "--silent").exit_code == 0
    assert conn.execute("select count(*) from media").fetchone()[0] == 6
    assert conn.execute("select count(*) from imports where kind = 'media'").fetchone()[0] == 2


def test_unreadable_media_archive_fails_alone(emulator, tmp_path):
    folder = tmp_path / "src" / "hashed" / "2018_10" / "ira"
    folder.mkdir(parents=True)
    good = emulator.tree["hashed/2018_10/ira/ira_tweet_media_hashed_1.zip"]
    (folder / "ira_tweet_media_hashed_1.zip").write_bytes(good)
    # Not a zip at all (an error page saved under the zip's name); a zip
    # cut short keeps its whole members: see test_truncated_zip.py.
    (folder / "ira_tweet_media_hashed_2.zip").write_bytes(b"<html><body>403 Forbidden</body></html>")
    db = tmp_path / "tei.db"
    result = run("build", db, tmp_path / "src", "--silent")
    assert result.exit_code == 1
    assert "ira_tweet_media_hashed_2.zip: not a readable zip file" in result.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("select count(distinct archive), count(*) from media").fetchone() == (1, 4)
    statuses = dict(conn.execute("select substr(path, -5), status from imports where kind = 'media'"))
    assert statuses == {"1.zip": "done", "2.zip": "failed"}


def test_media_archive_replaced_in_place_is_indexed_again(tmp_path):
    path = tmp_path / "src" / "ira_tweet_media_hashed_1.zip"
    path.parent.mkdir()
    first = _zip({"ira_1/12345/images/1000000000000000001-a.jpg": b"a",
                  "ira_1/12345/images/1000000000000000002-b.jpg": b"b"})
    second = _zip({"ira_1/12345/videos/1000000000000000003-c.mp4": b"c"})
    db = tmp_path / "tei.db"
    for content, expected in ((first, [1000000000000000001, 1000000000000000002]),
                              (second, [1000000000000000003]),
                              (first, [1000000000000000001, 1000000000000000002])):
        path.write_bytes(content)
        assert run("build", db, path.parent, "--silent").exit_code == 0
        conn = sqlite3.connect(db)
        assert [r[0] for r in conn.execute("select tweetid from media order by tweetid")] == expected
        done = conn.execute("select count(*) from imports where kind = 'media' and status = 'done'").fetchone()
        assert done == (1,)


def test_build_from_bucket_downloads_into_the_user_cache_then_reuses_it(
        emulator, tmp_path, proxies, monkeypatch):
    db = tmp_path / "tei.db"
    result = run("build", db, URL, "--campaign", "iran_*", "--silent")
    assert result.exit_code == 0, result.output
    cached = tmp_path / "xdg-cache" / "datasette-tei" / "tei-test" / "hashed" / "2020_12" / "iran_202012"
    assert (cached / "iran_202012_tweets_csv_hashed.zip").is_file()
    conn = sqlite3.connect(db)
    assert dict(conn.execute("select campaign, count(*) from tweets group by campaign")) == {"iran_202012": 40}
    proxy = proxies(emulator.port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
    result = run("build", db, URL, "--campaign", "iran_*", "--silent")
    assert result.exit_code == 0, result.output
    assert "2 already verified" in result.stderr and not proxy.media_requests()
    assert conn.execute("select count(*) from tweets").fetchone()[0] == 40


def test_build_whole_prefix_from_bucket(emulator, tmp_path):
    db, cache = tmp_path / "tei.db", tmp_path / "cache"
    result = run("build", db, URL, "--cache-dir", cache, "--silent")
    assert result.exit_code == 0, result.output
    assert (cache / "tei-test/hashed/2020_12/Twitter_Elections_Integrity_Datasets_hashed_README.txt").is_file()
    assert not list(cache.rglob("*tweet_media*"))  # build fetches no media
    conn = sqlite3.connect(db)
    counts = dict(conn.execute("select campaign, count(*) from tweets group by campaign"))
    assert counts == {campaign: tweets for campaign, (tweets, _) in EXPECTED.items()}
    assert conn.execute("select count(*) from imports where status != 'done'").fetchone()[0] == 0


def test_build_with_media_downloads_and_indexes_them(emulator, tmp_path):
    """build --media does in one command what download --media and build do."""
    one_step, cache = tmp_path / "one.db", tmp_path / "cache"
    result = run("build", one_step, URL, "--campaign", "ira*", "--media", "--cache-dir", cache, "--silent")
    assert result.exit_code == 0, result.output
    assert list(cache.rglob("*tweet_media*"))
    dest, two_steps = tmp_path / "mirror", tmp_path / "two.db"
    assert run("download", dest, URL, "--media", "--campaign", "ira*", "--silent").exit_code == 0
    assert run("build", two_steps, dest, "--silent").exit_code == 0
    media_sql = "select campaign, tweetid, userid, kind, member, size from media order by member"
    rows = sqlite3.connect(one_step).execute(media_sql).fetchall()
    assert len(rows) == 6 and rows == sqlite3.connect(two_steps).execute(media_sql).fetchall()


def test_build_with_cache_dir_and_glob_over_releases(emulator, tmp_path):
    db, cache = tmp_path / "tei.db", tmp_path / "cache"
    result = run("build", db, URL, "--campaign", "2018_*/*", "--cache-dir", cache, "--silent")
    assert result.exit_code == 0, result.output
    assert (cache / "tei-test" / "hashed" / "2018_10" / "ira" / "ira_users_csv_hashed.zip").is_file()
    conn = sqlite3.connect(db)
    assert dict(conn.execute("select campaign, count(*) from tweets group by campaign")) == {"ira": 25}


def test_build_from_missing_bucket_builds_nothing(emulator, tmp_path):
    result = run("build", tmp_path / "tei.db", "gs://no-such-bucket/hashed/", "--silent")
    assert result.exit_code == 1
    assert one_line_error(result.output) == ["Error: gs://no-such-bucket: no such bucket"]
    assert not (tmp_path / "tei.db").exists()


def test_campaign_for_gs_sources_cannot_name_local_ones(emulator, tmp_path):
    result = run("build", tmp_path / "tei.db", URL, tmp_path, "--campaign", "ira")
    assert result.exit_code == 2 and "separate run" in result.output


# --- verification and resume ---------------------------------------------------------


def _flip_byte(path, at=100):
    with open(path, "r+b") as handle:
        handle.seek(at)
        byte = handle.read(1)
        handle.seek(at)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_corrupted_local_file_is_caught_and_fetched_again(emulator, tmp_path):
    dest = tmp_path / "mirror"
    assert run("download", dest, URL, "--silent").exit_code == 0
    name = "hashed/2020_12/iran_202012/iran_202012_tweets_csv_hashed.zip"
    path = dest / name
    _flip_byte(path)
    result = run("download", dest, URL, "--silent")
    assert result.exit_code == 0, result.output
    assert "local copy does not match" in result.stderr and "CRC32C" in result.stderr
    assert "1 downloaded" in result.stderr and "1 repaired" in result.stderr
    assert path.read_bytes() == emulator.tree[name]
    # Bit rot keeps the modification time: only --verify re-reads every file.
    stat = os.stat(path)
    _flip_byte(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = run("download", dest, URL, "--silent")
    assert "0 downloaded" in result.stderr and path.read_bytes() != emulator.tree[name]
    result = run("download", dest, URL, "--silent", "--verify")
    assert result.exit_code == 0 and "1 repaired" in result.stderr
    assert path.read_bytes() == emulator.tree[name]


# Bytes damaged in transit: the proxy alters a run of the object's bytes in
# the response (Content-Length unchanged), as a bad router or a broken
# middlebox would; the server and the client are the real ones.
CORRUPTED = "hashed/2020_12/iran_202012/iran_202012_tweets_csv_hashed.zip"
# The object's metadata without a CRC32C (an object uploaded without one):
# the listing's field and the download's X-Goog-Hash renamed, so the client
# never sees it, and verification must fall back to the MD5.
NO_CRC32C = [(b'"crc32c":', b'"crc32x":'), (b"crc32c=", b"crc32x=")]


def _in_transit_damage(tree):
    data = tree[CORRUPTED]
    run = data[len(data) // 2:len(data) // 2 + 12]
    assert sum(blob.count(run) for blob in tree.values()) == 1  # only in that object's body
    return [(run, bytes(byte ^ 0x5A for byte in run))]


def _assert_refused(dest, result, algorithm):
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"Error: gs://tei-test/{CORRUPTED}: downloaded data does not match "
                                f"the object's {algorithm} (")
    assert errors[0].endswith("); the file was discarded")
    path = dest / CORRUPTED
    assert not path.exists()  # refused and deleted,
    assert not os.path.exists(str(path) + bucket.PART_SUFFIX)  # its partial file too,
    assert not os.path.exists(bucket.sidecar_path(str(path)))  # and never recorded as verified
    users = dest / "hashed/2020_12/iran_202012/iran_202012_users_csv_hashed.zip"
    assert users.exists() and os.path.exists(bucket.sidecar_path(str(users)))  # the rest is kept


@pytest.mark.parametrize("algorithm", ["CRC32C", "MD5"])
def test_bytes_damaged_in_transit_are_refused(emulator, tmp_path, proxies, monkeypatch, algorithm):
    assert bucket.google_crc32c is not None  # else CRC32C is never the one checked
    rewrite = _in_transit_damage(emulator.tree) + (NO_CRC32C if algorithm == "MD5" else [])
    damaging = proxies(emulator.port, rewrite=rewrite)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", damaging.url)
    dest = tmp_path / "mirror"
    result = run("download", dest, URL, "--campaign", "iran_202012", "--silent")
    assert damaging.rewritten >= 1 + (algorithm == "MD5")  # the damage did happen
    _assert_refused(dest, result, algorithm)
    # build from the bucket builds nothing from a download that failed.
    db = tmp_path / "tei.db"
    result = run("build", db, URL, "--campaign", "iran_202012", "--cache-dir", dest, "--silent")
    _assert_refused(dest / "tei-test", result, algorithm)
    assert "Nothing was built" in result.stderr and not db.exists()
    # A sound connection: fetched again, verified, recorded.
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.url)
    result = run("download", dest, URL, "--campaign", "iran_202012", "--silent")
    assert result.exit_code == 0 and "1 downloaded" in result.stderr, result.output
    assert (dest / CORRUPTED).read_bytes() == emulator.tree[CORRUPTED]


def test_object_without_crc32c_is_verified_by_its_md5(emulator, tmp_path, proxies, monkeypatch):
    stripping = proxies(emulator.port, rewrite=NO_CRC32C)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", stripping.url)
    dest = tmp_path / "mirror"
    result = run("download", dest, URL, "--campaign", "iran_202012", "--silent")
    assert result.exit_code == 0, result.output
    assert stripping.rewritten >= 1
    with open(bucket.sidecar_path(str(dest / CORRUPTED)), encoding="utf-8") as handle:
        record = json.load(handle)
    assert record["crc32c"] is None and record["md5"]
    # A local copy damaged later is caught by the MD5 alone.
    _flip_byte(dest / CORRUPTED)
    result = run("download", dest, URL, "--campaign", "iran_202012", "--silent", "--verify")
    assert result.exit_code == 0 and "1 repaired" in result.stderr, result.output
    assert "local copy does not match" in result.stderr and "MD5" in result.stderr
    assert (dest / CORRUPTED).read_bytes() == emulator.tree[CORRUPTED]


def test_stale_partial_file_is_discarded_and_fetched_afresh(emulator, tmp_path):
    dest = tmp_path / "mirror"
    name = "hashed/2018_10/ira/ira_tweets_csv_hashed.zip"
    good = emulator.tree[name]
    part = dest / (name + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(good) // 2))  # not the object's first bytes
    longer = dest / "hashed/2018_10/ira/ira_users_csv_hashed.zip.part"
    longer.write_bytes(b"y" * 10**6)  # longer than the object: cannot be a prefix of it
    result = run("download", dest, URL, "--campaign", "ira", "--silent")
    assert result.exit_code == 0, result.output
    assert "resumed download failed verification" in result.stderr
    assert (dest / name).read_bytes() == good
    assert not part.exists() and not longer.exists()


def test_download_killed_half_way_resumes(emulator, tmp_path, proxies):
    dest = tmp_path / "mirror"
    slow = proxies(emulator.port, rate=400_000)
    env = dict(os.environ, STORAGE_EMULATOR_HOST=slow.url)
    process = subprocess_cli("download", dest, BIG_URL, "--silent", "--workers", "1", env=env)
    part = dest / (BIG_NAME + ".part")
    try:
        assert wait_for(lambda: file_size(part) >= 100_000), "the download never started"
    finally:
        process.kill()  # SIGKILL: no chance to clean up
        process.communicate()
    kept = file_size(part)
    assert 0 < kept < BIG_SIZE and not (dest / BIG_NAME).exists()
    fast = proxies(emulator.port)
    env = dict(os.environ, STORAGE_EMULATOR_HOST=fast.url)
    process = subprocess_cli("download", dest, BIG_URL, "--silent", env=env)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "resumed" in stderr
    assert (dest / BIG_NAME).read_bytes() == emulator.big[BIG_NAME]
    assert not part.exists()
    # Only the missing tail came over the network, asked for with a Range.
    assert fast.bytes_down < BIG_SIZE - kept + 100_000
    assert f"range: bytes={kept}-".encode() in fast.requests.lower()


def test_overloaded_front_end_is_retried(emulator, tmp_path, proxies, monkeypatch):
    busy = proxies(emulator.port, statuses=[503, 429], status_only=b"alt=media")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", busy.url)
    dest = tmp_path / "mirror"
    result = run("download", dest, URL, "--campaign", "iran_*", "--silent", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "2 downloaded" in result.stderr and not busy.statuses  # every injected error was met
    _mirror_matches(dest, emulator.tree, [n for n in emulator.tree if "/iran_202012/iran_202012_" in n
                                          and n not in MEDIA_NAMES])


def test_permission_denied_is_one_line(emulator, proxies, monkeypatch):
    denied = proxies(emulator.port, statuses=[403])
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", denied.url)
    result = run("list", URL)
    assert result.exit_code == 1
    [line] = one_line_error(result.output)
    assert line.startswith(f"Error: listing {URL}: permission denied (403); the bucket is not public")
    assert "--credentials FILE" in line


@pytest.mark.skipif(os.name == "nt", reason="advisory locks are POSIX")
def test_two_runs_never_write_one_part_file(emulator, tmp_path):
    import fcntl

    dest = tmp_path / "mirror"
    name = "hashed/2018_10/ira/ira_users_csv_hashed.zip"
    part = dest / (name + ".part")
    part.parent.mkdir(parents=True)
    with open(part, "ab") as other_run:
        fcntl.flock(other_run.fileno(), fcntl.LOCK_EX)
        result = run("download", dest, URL, "--campaign", "ira", "--silent")
        assert result.exit_code == 1
        assert f"Error: gs://tei-test/{name}: another download is writing {part}; let it finish" in result.stderr
        assert "1 downloaded" in result.stderr  # the other file of the campaign
    result = run("download", dest, URL, "--campaign", "ira", "--silent")
    assert result.exit_code == 0 and (dest / name).read_bytes() == emulator.tree[name]


@pytest.mark.skipif(os.name == "nt", reason="SIGINT to a child process is POSIX")
def test_interrupted_download_exits_130_and_keeps_the_part(emulator, tmp_path, proxies):
    dest = tmp_path / "mirror"
    slow = proxies(emulator.port, rate=300_000)
    env = dict(os.environ, STORAGE_EMULATOR_HOST=slow.url)
    process = subprocess_cli("download", dest, BIG_URL, "--silent", env=env)
    part = dest / (BIG_NAME + ".part")
    try:
        assert wait_for(lambda: file_size(part) >= 50_000), "the download never started"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert one_line_error(stderr)[-1] == "Interrupted: partial files are kept; run the same command again to resume."
    assert 0 < file_size(part) < BIG_SIZE and not (dest / BIG_NAME).exists()


def test_flaky_network_is_retried_and_resumed_within_a_run(emulator, tmp_path, proxies, monkeypatch):
    flaky = proxies(emulator.port, drop=2, cut_after=200_000)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", flaky.url)
    dest = tmp_path / "mirror"
    result = run("download", dest, BIG_URL, "--silent", "--retry-timeout", "20")
    assert result.exit_code == 0, result.output
    assert (dest / BIG_NAME).read_bytes() == emulator.big[BIG_NAME]
    big_requests = [line for line in flaky.media_requests() if "china_052020_tweets" in line]
    assert len(big_requests) >= 2  # cut once, continued from where it broke
    assert b"range: bytes=" in flaky.requests.lower()


def test_server_stopped_mid_run_fails_cleanly_and_keeps_the_part(tmp_path, proxies):
    server = FakeGCS().start()
    try:
        server.seed("tei-big", _big_objects())
        slow = proxies(server.port, rate=300_000)
        dest = tmp_path / "mirror"
        env = dict(os.environ, STORAGE_EMULATOR_HOST=slow.url)
        process = subprocess_cli("download", dest, BIG_URL, "--silent", "--workers", "1",
                                 "--retry-timeout", "2", env=env)
        part = dest / (BIG_NAME + ".part")
        assert wait_for(lambda: file_size(part) >= 50_000), "the download never started"
    finally:
        server.stop()
    slow.stop()  # the only way to the server is gone too: nothing is buffered on the way
    try:
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1
    lines = one_line_error(stderr)
    assert len(lines) == 2 and lines[0].startswith(f"{dest}: 0 downloaded")
    assert lines[1].startswith(f"Error: gs://tei-big/{BIG_NAME}: cannot reach {slow.url}")
    assert "; 1 other file not downloaded" in lines[1] and "run the same command again to resume" in lines[1]
    assert 0 < file_size(part) < BIG_SIZE


@pytest.mark.skipif(os.name == "nt", reason="file size limits are POSIX")
def test_local_write_failure_is_one_fatal_line(emulator, tmp_path):
    """A disk that fills up is not a network error: no retries, one line, part kept."""
    import resource

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))  # Python ignores SIGXFSZ

    dest = tmp_path / "mirror"
    process = subprocess.Popen(
        [sys.executable, "-c", "from datasette_tei.cli import cli; cli()", "download", str(dest), BIG_URL,
         "--silent", "--workers", "1"],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=limit_file_size)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    lines = one_line_error(stderr)
    part = dest / (BIG_NAME + ".part")
    assert lines[-1].startswith(f"Error: cannot write {part}: File too large")
    assert "1 other file not downloaded" in lines[-1]
    assert file_size(part) == 500_000


# --- hostile names and parsing ------------------------------------------------------------


def test_object_names_cannot_escape_dest(emulator, tmp_path):
    dest = tmp_path / "a" / "mirror"
    result = run("download", dest, "gs://tei-hostile/hashed/", "--silent")
    assert result.exit_code == 1
    assert "refusing a name that is not a plain relative path" in result.stderr
    assert (dest / "hashed/2020_12/ok_202012/ok_202012_tweets_csv_hashed.csv").read_bytes() == b"tweetid\n"
    assert (dest / "hashed/2020_12/ok_202012/empty.txt").read_bytes() == b""
    assert not list(tmp_path.rglob("evil.zip"))


@pytest.mark.parametrize("name", ["../x.zip", "a/../../x.zip", "/etc/x", "a//b", "a/./b", "a\\..\\b", "", "a/"])
def test_local_path_refuses_unsafe_names(tmp_path, name):
    with pytest.raises(bucket.BucketError):
        bucket.local_path(str(tmp_path), name)


def test_local_path_keeps_the_object_path(tmp_path):
    path = bucket.local_path(str(tmp_path), "hashed/2019_01/iran_201901_1/x.zip")
    assert path == os.path.join(str(tmp_path), "hashed", "2019_01", "iran_201901_1", "x.zip")


@pytest.mark.parametrize("name, release, campaign, kind", [
    ("hashed/2019_01/iran_201901_1/iran_201901_1_tweets_csv_hashed.zip", "2019_01", "iran_201901_1", "tweets"),
    ("hashed/ira/ira_users_csv_hashed.zip", None, "ira", "users"),
    ("hashed/2019_01/russia_201901_1/russia_201901_1_tweets_csv_hashed_3.zip", "2019_01", "russia_201901_1",
     "tweets"),
    ("hashed/2018_10/ira/ira_tweet_media_hashed_10.zip", "2018_10", "ira", "media"),
    ("hashed/2020_05/china_052020/china_052020_tweet_media_hashed/china_052020_hashed_001.zip", "2020_05",
     "china_052020", "media"),
    ("hashed/2020_05/china_052020/china_052020_tweet_media_hashed/china_052020_hashed_README.txt", "2020_05",
     "china_052020", "media"),
    ("hashed/2020_12/iran_202012/iran_202012_media_file_list_hashed.txt", "2020_12", "iran_202012", "media"),
    ("hashed/2020_12/Twitter_Elections_Integrity_Datasets_hashed_README.txt", "2020_12", None, "readme"),
    ("hashed/notes.txt", None, None, "other"),
])
def test_classify_reads_the_object_path(name, release, campaign, kind):
    remote = bucket.classify("b", name)
    assert (remote.release, remote.campaign, remote.kind) == (release, campaign, kind)


def test_render_puts_objects_outside_release_folders_last():
    names = {"hashed/iranian/iranian_tweets_csv_hashed.zip": 2_500_000,
             "hashed/2019_01/iran_201901_1/iran_201901_1_users_csv_hashed.zip": 1_000,
             "hashed/2019_01/iran_201901_1/iran_201901_1_tweet_media_hashed_1.zip": 7_000_000_000}
    files = [bucket.classify("b", name, size) for name, size in names.items()]
    text = bucket.render(bucket.summarize("gs://b/hashed/", files))
    assert text.splitlines() == [
        "gs://b/hashed/: 2 campaigns, 2 files, 2.5 MB; media 7.0 GB in 1 file (--media to list and download them)",
        "",
        "2019_01  1 file, 1.0 KB; media 7.0 GB in 1 file",
        "  iran_201901_1  1 file, 1.0 KB; media 7.0 GB in 1 file",
        "    iran_201901_1_users_csv_hashed.zip     1.0 KB",
        "",
        "(no release folder)  1 file, 2.5 MB",
        "  iranian  1 file, 2.5 MB",
        "    iranian_tweets_csv_hashed.zip          2.5 MB",
    ]


@pytest.mark.parametrize("member, expected", [
    ("ira_10/" + "a" * 64 + "/images/673250708364247040-CVfPc8YUsAApZSL.jpg",
     ("image", 673250708364247040, "a" * 64)),
    ("x_1/12345/videos/1000000000000000001.mp4", ("video", 1000000000000000001, "12345")),
    ("x_1/12345/profile_images/me.png", ("profile", None, "12345")),
    ("12345/1000000000000000002_2.jpg", ("image", 1000000000000000002, "12345")),
    ("loose/1000000000000000003.gif", ("image", 1000000000000000003, None)),
    ("readme.txt", ("other", None, None)),
    ("x/99999999999999999999-too-long.jpg", ("image", None, None)),
    ("__MACOSX/x/._a.jpg", None),
    ("x/.DS_Store", None),
    ("x/images/", None),
])
def test_media_member_names(member, expected):
    assert media.parse_member(member) == expected
