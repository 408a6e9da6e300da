"""End-to-end builds: every layout and quirk of TEI-FORMAT.md, idempotency,
incremental loads, the CLI's output and exit status.

Each test writes its own archives with datasette_tei.build.synthetic.
"""
import gzip
import json
import os
import re

import pytest
from click.testing import CliRunner

from datasette_tei import search
from datasette_tei.build import stream
from datasette_tei.cli import cli
from datasette_tei.build.synthetic import (
    LAYOUTS,
    generate_tweets,
    make_users,
    tweets_csv_text,
    users_csv_text,
    write_zip,
)
from helpers import query, run_build


def rows_for(n, layout, seed=1, first_id=10**17):
    return list(generate_tweets(n, layout, n_users=7, seed=seed, first_id=first_id))


def place(root, relative, text=None, zip_members=None):
    """Write a CSV (text) or a zip ({member: text}) at root/relative."""
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if zip_members is not None:
        write_zip(path, zip_members)
    else:
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
    return path


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_loads_typed(tmp_path, db_path, layout):
    rows = rows_for(60, layout)
    users = make_users(5, layout)
    place(tmp_path, "t/c_tweets_csv_hashed.zip", zip_members={"c_tweets_csv_hashed.csv": tweets_csv_text(rows, layout)})
    place(tmp_path, "t/c_users_csv_hashed.csv", users_csv_text(users, layout))
    result = run_build(db_path, str(tmp_path / "t"))
    assert result.exit_code == 0, result.output
    assert query(db_path, "select count(*) from tweets")[0][0] == 60
    assert query(db_path, "select count(*) from users where from_users_file")[0][0] == 5
    # Typed, exact, mapped by header name whatever the column order.
    source = {int(r["tweetid"]): r for r in rows}
    for tweetid, reply_tweet, reply_user, is_rt, tweet_time, lang, hashtags, like in query(
        db_path,
        "select tweetid, in_reply_to_tweetid, in_reply_to_userid, is_retweet, tweet_time, "
        "tweet_language, hashtags, like_count from tweets",
    ):
        raw = source[tweetid]
        assert reply_tweet == (int(raw["in_reply_to_tweetid"]) if raw["in_reply_to_tweetid"] else None)
        assert reply_user == (raw["in_reply_to_userid"] or None)
        assert is_rt == (1 if raw["is_retweet"].lower() == "true" else 0)
        assert tweet_time == raw["tweet_time"]
        assert lang == raw["tweet_language"].lower()
        assert isinstance(json.loads(hashtags), list)
        assert like == int(raw["like_count"])
    types = dict(query(db_path, "select 'tweetid', typeof(tweetid) from tweets limit 1"))
    assert types["tweetid"] == "integer"
    assert query(db_path, "select count(*) from tweets where tweetid_str != cast(tweetid as text)")[0][0] == 0
    # absent/present never reach a numeric coordinate column.
    assert query(db_path, "select count(*) from tweets where typeof(latitude) not in ('real', 'null')")[0][0] == 0


def test_bucket_mirror_flattened_and_old_names(tmp_path, db_path):
    layout = "2020"
    place(tmp_path, "m/hashed/2019_01/iran_201901_1/iran_201901_1_tweets_csv_hashed.zip",
          zip_members={"iran_201901_1_tweets_csv_hashed.csv": tweets_csv_text(rows_for(5, layout, 1, 1000), layout)})
    # The member is named unlike the zip: the zip names the campaign.
    place(tmp_path, "m/hashed/2019_01/russia_201901_1/russia_201901_1_tweets_csv_hashed.zip",
          zip_members={"russian_linked_tweets_csv_hashed.csv": tweets_csv_text(rows_for(4, layout, 2, 2000), layout)})
    place(tmp_path, "m/hashed/ira/ira_tweets_csv_hashed.zip",
          zip_members={"ira_tweets_csv_hashed.csv": tweets_csv_text(rows_for(3, "2018", 3, 3000), "2018")})
    place(tmp_path, "m/hashed_2020_12_iran_202012_iran_202012_tweets_csv_hashed.csv",
          tweets_csv_text(rows_for(6, layout, 4, 4000), layout))
    # A bare tweets.csv takes its folder's campaign.
    place(tmp_path, "m/catalonia_201906_1/tweets.csv", tweets_csv_text(rows_for(2, layout, 5, 5000), layout))
    result = run_build(db_path, str(tmp_path / "m"))
    assert result.exit_code == 0, result.output
    campaigns = {name: (release, country, tweets) for name, release, country, tweets in query(
        db_path, "select name, release, country, tweets from campaigns")}
    assert campaigns == {
        "iran_201901_1": ("2019_01", "Iran", 5),
        "russia_201901_1": ("2019_01", "Russia", 4),
        "ira": ("2018_10", "Russia (Internet Research Agency)", 3),
        "iran_202012": ("2020_12", "Iran", 6),
        "catalonia_201906_1": ("2019_06", "Spain (Catalonia)", 2),
    }
    described = query(db_path, "select count(*) from campaigns where description is not null")[0][0]
    assert described == 5


def test_unknown_campaign_still_catalogued_and_campaign_override(tmp_path, db_path):
    place(tmp_path, "x/mystery_2099_tweets_csv_hashed.csv", tweets_csv_text(rows_for(3, "2020"), "2020"))
    assert run_build(db_path, str(tmp_path / "x")).exit_code == 0
    assert query(db_path, "select name, tweets, description from campaigns") == [("mystery_2099", 3, None)]
    other = str(tmp_path / "other.db")
    assert run_build(other, str(tmp_path / "x"), "--campaign", "renamed").exit_code == 0
    assert query(other, "select campaign, count(*) from tweets group by 1") == [("renamed", 3)]


PART_SCHEMES = [
    ["_1", "_2", "_3", "_4"],
    ["_part1", "_part2"],
    ["_01", "_02", "_13"],
    ["_2011", "_2012"],
    ["_2016_01", "_2016_02"],
]


@pytest.mark.parametrize("suffixes", PART_SCHEMES, ids=lambda s: s[0])
def test_parts_in_every_scheme_as_files_and_as_members(tmp_path, db_path, suffixes):
    layout = "2019"
    rows = rows_for(10 * len(suffixes), layout)
    chunks = [rows[i * 10:(i + 1) * 10] for i in range(len(suffixes))]
    # Parts as separate zips of one campaign ...
    for suffix, chunk in zip(suffixes, chunks):
        place(tmp_path, f"a/egypt_022020_tweets_csv_hashed{suffix}.zip",
              zip_members={f"egypt_022020_tweets_csv_hashed{suffix}.csv": tweets_csv_text(chunk, layout)})
    # ... and as members in a sub-folder of one zip, with macOS junk.
    members = {f"parts/cuba_082020_tweets_csv_hashed{s}.csv": tweets_csv_text(c, layout)
               for s, c in zip(suffixes, chunks)}
    members["__MACOSX/parts/._cuba_082020_tweets_csv_hashed_1.csv"] = "\x00\x05\x16\x07junk"
    members["parts/.DS_Store"] = "junk"
    place(tmp_path, "b/cuba_082020_tweets_csv_hashed.zip", zip_members=members)
    result = run_build(db_path, str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    # Same tweet ids in both campaigns: each keeps its membership.
    assert query(db_path, "select campaign, count(*) from tweets group by 1") == [("egypt_022020", len(rows))]
    assert query(db_path, "select campaign, count(*) from shared_tweets group by 1") == [("cuba_082020", len(rows))]
    assert dict(query(db_path, "select name, tweets from campaigns")) == {
        "egypt_022020": len(rows), "cuba_082020": len(rows)}
    assert query(db_path, "select count(*) from rejects")[0][0] == 0
    imported = query(db_path, "select count(*) from imports where status = 'done' and kind = 'tweets'")[0][0]
    assert imported == 2 * len(suffixes)


def test_repeated_headers_bom_multiline_and_gzip(tmp_path, db_path):
    layout = "2020"
    rows = rows_for(30, layout)
    rows[3]["tweet_text"] = "line one\nline two\r\nline three"
    text = tweets_csv_text(rows[:15], layout) + tweets_csv_text(rows[15:], layout)  # header repeated
    place(tmp_path, "g/serbia_022020_tweets_csv_hashed.csv", "\ufeff" + text)
    gz = tmp_path / "g" / "serbia_022020_users_csv_hashed.csv.gz"
    gz.write_bytes(gzip.compress(("\ufeff" + users_csv_text(make_users(4, layout), layout)).encode()))
    result = run_build(db_path, str(tmp_path / "g"))
    assert result.exit_code == 0, result.output
    assert query(db_path, "select count(*) from tweets")[0][0] == 30
    assert query(db_path, "select count(*) from users where from_users_file")[0][0] == 4
    assert query(db_path, "select tweet_text from tweets where tweetid = ?", (int(rows[3]["tweetid"]),)) == [
        ("line one\nline two\r\nline three",)]
    assert query(db_path, "select count(*) from rejects")[0][0] == 0


def test_bad_rows_rejected_with_line_numbers_good_rows_kept(tmp_path, db_path):
    layout = "2020"
    rows = rows_for(20, layout)
    rows[0]["tweet_text"] = "three\nline\ntweet"  # physical lines 2-4
    rows[1]["tweet_text"] = rows[2]["tweet_text"] = "one line"
    lines = tweets_csv_text(rows, layout).split("\n")
    # Line 6 (row 3): a bad count; a short row appended at the end.
    bad = rows[2]
    fixed = tweets_csv_text([dict(bad, like_count="lots")], layout).split("\n")[1]
    lines[5] = fixed
    text = "\n".join(lines).rstrip("\n") + "\n1,2,3\n"
    last_line = text[: text.rindex("1,2,3")].count("\n") + 1  # tweets may span lines
    place(tmp_path, "r/honduras_022020_tweets_csv_hashed.csv", text)
    result = run_build(db_path, str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "2 rows rejected" in result.output
    # The summary names each rejected row's file and line.
    assert "honduras_022020_tweets_csv_hashed.csv: line 6: like_count" in result.output
    assert f"honduras_022020_tweets_csv_hashed.csv: line {last_line}: expected 30 fields" in result.output
    assert query(db_path, "select count(*) from tweets")[0][0] == 19
    rejects = query(db_path, "select path, line, reason, raw from rejects order by line")
    assert [(os.path.basename(p), line) for p, line, _, _ in rejects] == [
        ("honduras_022020_tweets_csv_hashed.csv", 6), ("honduras_022020_tweets_csv_hashed.csv", last_line)]
    assert "like_count" in rejects[0][2] and "lots" in rejects[0][3]
    assert "expected 30 fields, found 3" in rejects[1][2]
    # --strict: the archive fails whole, with the line in the message.
    strict_db = str(tmp_path / "strict.db")
    result = run_build(strict_db, str(tmp_path / "r"), "--strict")
    assert result.exit_code == 1
    assert "line 6" in result.output and "honduras_022020_tweets_csv_hashed.csv" in result.output
    assert query(strict_db, "select count(*) from tweets")[0][0] == 0


def test_unreadable_archive_fails_alone(tmp_path, db_path):
    place(tmp_path, "u/qatar_082020_tweets_csv_hashed.zip", "this is not a zip file")
    place(tmp_path, "u/iran_092020_tweets_csv_hashed.csv", tweets_csv_text(rows_for(5, "2020"), "2020"))
    place(tmp_path, "u/thailand_092020_tweets_csv_hashed.csv", "id,text\n1,hello\n")
    result = run_build(db_path, str(tmp_path / "u"))
    assert result.exit_code == 1
    assert "qatar_082020_tweets_csv_hashed.zip: not a readable zip file" in result.output
    assert "header matches neither" in result.output and "line 1" in result.output
    assert query(db_path, "select campaign, count(*) from tweets group by 1") == [("iran_092020", 5)]
    failed = query(db_path, "select path, error from imports where status = 'failed' order by path")
    assert [os.path.basename(p) for p, _ in failed] == [
        "qatar_082020_tweets_csv_hashed.zip", "thailand_092020_tweets_csv_hashed.csv"]
    assert query(db_path, "select value from tei_meta where key = 'build_state'") == [("complete",)]


def test_rerun_changes_nothing_and_new_archives_append(tmp_path, db_path):
    layout = "2020"
    place(tmp_path, "i/turkey_052020_tweets_csv_hashed_1.zip",
          zip_members={"turkey_052020_tweets_csv_hashed_1.csv": tweets_csv_text(rows_for(20, layout, 1, 100), layout)})
    place(tmp_path, "i/turkey_052020_users_csv_hashed.csv", users_csv_text(make_users(7, layout, seed=1), layout))
    assert run_build(db_path, str(tmp_path / "i")).exit_code == 0
    snapshot = "select (select count(*) from tweets), (select count(*) from users), " \
               "(select count(*) from imports), (select count(*) from tweets_fts), " \
               "(select tweets || '/' || accounts from campaigns)"
    first = query(db_path, snapshot)
    result = run_build(db_path, str(tmp_path / "i"))
    assert result.exit_code == 0
    assert "2 unchanged" in result.output
    assert query(db_path, snapshot) == first
    # A copy of a loaded CSV under another path is recognised by checksum.
    os.makedirs(tmp_path / "copy")
    os.link(tmp_path / "i/turkey_052020_users_csv_hashed.csv", tmp_path / "copy/turkey_052020_users_csv_hashed.csv")
    assert run_build(db_path, str(tmp_path / "copy")).exit_code == 0
    assert query(db_path, snapshot) == first
    # A new part later: appended, figures updated.
    place(tmp_path, "j/turkey_052020_tweets_csv_hashed_2.zip",
          zip_members={"turkey_052020_tweets_csv_hashed_2.csv": tweets_csv_text(rows_for(15, layout, 2, 200), layout)})
    assert run_build(db_path, str(tmp_path / "j")).exit_code == 0
    assert query(db_path, "select tweets from campaigns") == [(35,)]
    assert query(db_path, "select count(*) from tweets_fts")[0][0] == 35
    assert query(db_path, "select count(*) from tweets") == [(35,)]


def test_large_members_parse_in_a_child_process_with_same_result(tmp_path, monkeypatch):
    layout = "2018"
    rows = rows_for(300, layout)
    rows[7]["like_count"] = "bad"
    place(tmp_path, "p/ira_tweets_csv_hashed.zip", zip_members={"ira.csv": tweets_csv_text(rows, layout)})
    results = []
    for threshold in (10**12, 0):  # in-process, then forced into a child
        monkeypatch.setattr(stream, "PARALLEL_MIN_BYTES", threshold)
        db = str(tmp_path / f"{threshold}.db")
        assert run_build(db, str(tmp_path / "p")).exit_code == 0
        results.append(query(db, "select * from tweets order by tweetid") + query(
            db, "select line, reason from rejects"))
        # The Chinese text is cut into pairs while parsing, in either place.
        term = next(m.group()[1:4] for (text,) in query(db, "select tweet_text from tweets")
                    for m in re.finditer("[\u4e00-\u9fff]{4,}", text or ""))
        hits = query(db, "select rowid from tweets_fts where tweets_fts match ? order by rowid",
                     (search.search_expression(term),))
        expected = query(db, "select tweetid from tweets where instr(tweet_text, ?) order by tweetid", (term,))
        assert hits == expected and expected
    assert results[0] == results[1]
    assert len(results[0]) == 299 + 1  # 299 tweets and the rejected row


def test_cli_usage_errors(tmp_path, db_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["build", db_path])
    assert result.exit_code == 2 and "at least one SOURCE" in result.output
    result = runner.invoke(cli, ["build", db_path, str(tmp_path / "missing.zip")])
    assert result.exit_code == 1 and "missing.zip: no such file or directory" in result.output
    os.makedirs(tmp_path / "empty")
    result = runner.invoke(cli, ["build", db_path, str(tmp_path / "empty")])
    assert result.exit_code == 1 and "no .zip, .csv or .csv.gz files" in result.output


def test_demo_build_summary(db_path):
    result = run_build(db_path, "--demo")
    assert result.exit_code == 0, result.output
    for campaign in ("synthetic_201810", "synthetic_201906", "synthetic_202012"):
        assert campaign in result.output
    assert query(db_path, "select count(*) from campaigns where synthetic = 1 and description like 'SYNTHETIC%'") == [(3,)]
    assert query(db_path, "select value from tei_meta where key = 'build_state'") == [("complete",)]
    # One clean file, ready to publish read-only.
    assert query(db_path, "pragma journal_mode") == [("delete",)]
    assert not os.path.exists(db_path + "-wal")


@pytest.mark.asyncio
@pytest.mark.parametrize("term, language", [
    ("共和国", "zh-cn"),  # inside a longer run of Chinese text
    ("Выборы", "ru"), ("الحكومة", "ar"), ("مردم", "fa"),
])
async def test_datasette_search_finds_every_script(demo_db, term, language):
    from datasette.app import Datasette

    ds = Datasette([demo_db])
    name = os.path.splitext(os.path.basename(demo_db))[0]
    response = await ds.client.get(
        f"/{name}/tweets.json", params={"_search": term, "_shape": "array"}
    )
    assert response.status_code == 200
    found = response.json()
    assert found and all(term.lower() in row["tweet_text"].lower() for row in found)
    assert language in {row["tweet_language"] for row in found}


@pytest.mark.asyncio
async def test_datasette_serves_ids_as_text_and_array_facets(demo_db):
    from datasette.app import Datasette

    ds = Datasette([demo_db])
    name = os.path.splitext(os.path.basename(demo_db))[0]
    response = await ds.client.get(f"/{name}/tweets.json", params={"_shape": "array", "_size": "5"})
    for row in response.json():
        assert row["tweetid_str"] == str(row["tweetid"])
    response = await ds.client.get(f"/{name}/tweets.json", params={"_facet_array": "hashtags", "_size": "0"})
    facets = response.json()["facet_results"]
    results = facets["results"] if "results" in facets else facets
    values = {item["value"] for item in results["hashtags"]["results"]}
    assert "香港" in values or "news" in values


def test_names_of_media_folders_and_hidden_folders(tmp_path):
    from datasette_tei.build.archives import find_archives

    place(tmp_path, "h/cuba_082020_tweet_media_hashed/cuba_082020_hashed_001.zip", zip_members={"a/1.jpg": "x"})
    place(tmp_path, "h/.Trash/cuba_082020_tweets_csv_hashed.csv", "tweetid\n")
    place(tmp_path, "h/cuba_082020/cuba_082020_tweets_csv_hashed.csv", "tweetid\n")
    found = {os.path.relpath(a.path, tmp_path / "h"): (a.campaign, a.is_media)
             for a in find_archives([str(tmp_path / "h")])}
    assert found == {
        os.path.join("cuba_082020_tweet_media_hashed", "cuba_082020_hashed_001.zip"): ("cuba_082020", True),
        os.path.join("cuba_082020", "cuba_082020_tweets_csv_hashed.csv"): ("cuba_082020", False),
    }
