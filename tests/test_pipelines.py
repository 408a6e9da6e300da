"""The two load pipelines (DATASETTE_TEI_PIPELINE=python, the default, and
sql) make the same database from the same sources: every table's rows,
the rejects with their lines, reasons and raw text, the imports' counts,
and what the search index holds (term by term, position by position).
Timestamps alone may differ.

The sources hold every layout of synthetic.LAYOUTS and the quirks the other
tests load: bad rows of every kind, duplicates within an archive, tweets
shared by two campaigns, lists in both syntaxes and unusual ones, HTML
entities, CJK and Thai text, numeric coordinates, odd counts, dates and
times, unknown columns, users files (one with hashed ids, one loaded after
its campaign's tweets), repeated headers and a member parsed in a child
process.
"""
import csv
import io
import sqlite3

import pytest

from datasette_tei import schema
from datasette_tei.build import load, sqlload, stream
from datasette_tei.build.synthetic import LAYOUTS, USERS_HEADER, generate_tweets, make_users, tweets_csv_text, \
    users_csv_text, write_zip
from helpers import run_build

TIMESTAMPS = {"started", "finished", "updated", "created", "seconds"}  # and durations


def _rows(layout, n, seed, first_id):
    return list(generate_tweets(n, layout, n_users=13, seed=seed, first_id=first_id))


def _csv(header, rows):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header] if isinstance(row, dict) else row)
    return out.getvalue()


# (column, value): each replaces the value of one column of one good row.
QUIRKS = [
    ("tweet_text", "a &amp; b &lt;c&gt;"), ("tweet_text", "fish &amp chips &#x4e2d; &quot;q&quot;"),
    ("tweet_text", "中华人民共和国，香港 news ไทยภาษา 한국어"), ("tweet_text", ""),
    ("tweet_text", "&amp;amp; &"), ("tweet_text", "tab\there\r\nand\x0bcontrol"),
    ("hashtags", "['a', 'b']"), ("hashtags", "[a, b]"), ("hashtags", "['it''s', 'x']"),
    ("hashtags", "[\"it's\", 'x']"), ("hashtags", "['a\\\\b']"), ("hashtags", "['a\"b', 'c']"), ("hashtags", "[a\"b, c]"), ("hashtags", "[a\\b, c]"), ("hashtags", "['a','b']"),
    ("hashtags", " ['a', 'b'] "), ("hashtags", "[a,b]"), ("hashtags", "[a ,b]"), ("hashtags", "[ ]"),
    ("hashtags", "['']"), ("hashtags", "['', '']"), ("hashtags", "[Россия, 香港]"),
    ("hashtags", "[a,  b]"), ("hashtags", "[a,  b\u200b]"), ("hashtags", "[a , b\u200b]"), ("hashtags", "['a\u3000b', 'c']"), ("hashtags", "[a\u3000, b]"),
    ("hashtags", "['a\u200bb']"), ("urls", "[http://x.example/a,b]"), ("urls", "['a\tb']"),
    ("user_mentions", "[123456789012345678901, 5]"), ("hashtags", "[]"), ("hashtags", "['x', 'y', ]"),
    ("quote_count", "0.0"), ("quote_count", "12.0"), ("quote_count", "007"), ("quote_count", "1e3"),
    ("quote_count", "99999999999999999"), ("quote_count", "1_000"), ("quote_count", " 5"),
    ("like_count", "3.00"), ("like_count", ".0"),
    ("in_reply_to_tweetid", "1234567890123456789"), ("in_reply_to_tweetid", "9999999999999999999"),
    ("in_reply_to_tweetid", "abc"), ("in_reply_to_tweetid", "12.0"), ("in_reply_to_tweetid", "٣٤"),
    ("retweet_tweetid", "0001"), ("retweet_tweetid", "0000000000000000000000042"),
    ("retweet_tweetid", "-12"), ("retweet_tweetid", " 12"), ("retweet_tweetid", "1e5"),
    ("quoted_tweet_tweetid", "9223372036854775807"), ("quoted_tweet_tweetid", "9223372036854775808"),
    ("quote_count", "-3"), ("quote_count", "-0"), ("quote_count", "+4"), ("quote_count", "4.0 "),
    ("quote_count", "-2.0"), ("quote_count", "9223372036854775807"),
    ("is_retweet", "1"), ("is_retweet", "yes"), ("is_retweet", "f"), ("is_retweet", ""),
    ("tweet_time", "2016-02-29 10:00"), ("tweet_time", "2016-01-02 03:04:05"),
    ("tweet_time", "2016-01-02T03:04:00Z"), ("tweet_time", "2016-01-02"), ("tweet_time", ""),
    ("tweet_time", "2016-01-02 24:00"), ("tweet_time", " 2016-01-02 03:04 "),
    ("tweet_time", "2016-04-30 23:59"), ("tweet_time", "2016-12-31 00:00"), ("tweet_time", "0999-12-31 00:00"),
    ("tweet_time", "3000-01-01 00:00"), ("tweet_time", "2016-02-28 00:00"), ("tweet_time", "2016-02-00 00:00"),
    ("account_creation_date", "2016-06-31"), ("account_creation_date", "2016-00-10"),
    ("account_creation_date", "2012-02-29"), ("account_creation_date", "2012-03-04 05:06"),
    ("account_creation_date", ""), ("account_creation_date", "0999-01-01"),
    ("tweet_language", "zh-CN"), ("tweet_language", " EN "), ("tweet_language", "İT"),
    ("tweet_language", ""), ("account_language", "Zh-Hant_TW"),
    ("latitude", "12.5"), ("longitude", "-33.25"), ("latitude", "present"), ("latitude", "1e2"),
    ("userid", " padded "), ("userid", "\u3000wide\u3000"), ("user_display_name", ""),
    ("retweet_userid", "  "), ("poll_choices", "yes|no"),
]
# Each makes its row a reject.
BAD = [
    ("tweetid", "-12"), ("tweetid", "+12"), ("tweetid", " 12"), ("tweetid", "9223372036854775808"),
    ("tweetid", "12x"), ("tweetid", "99999999999999999999"), ("tweetid", ""), ("tweetid", "0"),
    ("quote_count", "1.5"), ("quote_count", "many"), ("quote_count", "nan"), ("is_retweet", "maybe"),
    ("tweet_time", "2015-02-29 10:00"), ("tweet_time", "2016-13-01 10:00"), ("tweet_time", "0000-01-01 00:00"),
    ("tweet_time", "2016-01-00 10:00"), ("tweet_time", "2016-11-31 10:00"), ("tweet_time", "2016-01-01 10:60"),
    ("tweet_time", "yesterday"), ("account_creation_date", "2016-04-31"), ("latitude", "200"),
    ("latitude", "north"), ("hashtags", "not a list"), ("hashtags", "['unclosed"),
    ("urls", "['a' 'b']"),
]


def quirky_tweets(layout, seed, first_id):
    header = LAYOUTS[layout]
    rows = _rows(layout, len(QUIRKS) + len(BAD) + 40, seed, first_id)
    for row, (column, value) in zip(rows, QUIRKS + BAD):
        if column in header:
            row[column] = value
    rows[-1]["tweetid"] = "0" + rows[-1]["tweetid"]
    text = tweets_csv_text(rows, layout).splitlines(keepends=True)
    # A row too short, a repeated header, a blank line. (A duplicate row
    # would send this batch the Python way: see the second member.)
    text.insert(5, "1,2,3\n")
    text.insert(9, text[0])
    text.insert(12, "\n")
    return "".join(text)


def extra_columns_tweets(seed, first_id):
    header = LAYOUTS["2020"] + ["tweet_media", "note"]
    rows = _rows("2020", 30, seed, first_id)
    for i, row in enumerate(rows):
        row["tweet_media"] = f"media-{i}" if i % 3 else ""
        row["note"] = "ünïcode \"quoted\"" if i % 4 == 0 else ""
    # Columns missing too: no in_reply_to_userid.
    header.remove("in_reply_to_userid")
    return _csv(header, rows)


def quirky_users(layout):
    users = make_users(30, layout, seed=5)
    users[0]["userid"] = ""
    users[1]["userid"] = "٣٤٥"
    users[1]["user_screen_name"] = "٣٤٥"
    users[2]["follower_count"] = "12.0"
    users[3]["follower_count"] = "lots"
    users[4]["account_language"] = "ZH-tw"
    users[5]["account_creation_date"] = "2013-02-30"
    users[6]["userid"] = " 77 "
    users.append(dict(users[7]))  # a duplicate user
    return users_csv_text(users, layout)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-sources")
    paths = []
    for number, layout in enumerate(sorted(LAYOUTS)):
        campaign = f"lay{layout}_0{number + 1}2020"
        path = str(root / f"{campaign}_tweets_csv_hashed.zip")
        first = _rows(layout, 30, number, (number + 1) * 10**17)
        write_zip(path, {
            f"{campaign}_tweets_csv_hashed_1.csv": quirky_tweets(layout, number, (number + 1) * 10**17),
            # Its last batch repeats a row of its first: a duplicate.
            f"{campaign}_tweets_csv_hashed_2.csv": tweets_csv_text(
                _rows(layout, 2500, number + 10, (number + 1) * 10**17 + 10**15) + [first[20]], layout),
        })
        paths.append(path)
        users = str(root / f"{campaign}_users_csv_hashed.csv")
        with open(users, "w", encoding="utf-8", newline="") as handle:
            handle.write(quirky_users(layout))
        paths.append(users)
    # Another campaign holding 300 of the first one's tweets and more.
    shared = str(root / "shared_052021_tweets_csv_hashed.csv")
    with open(shared, "w", encoding="utf-8", newline="") as handle:
        rows = _rows("2018", 300, 10, 10**17 + 10**15) + _rows("2018", 200, 99, 8 * 10**17)
        handle.write(tweets_csv_text(rows, "2018"))
    paths.append(shared)
    extra = str(root / "extra_062021_tweets_csv_hashed.csv")
    with open(extra, "w", encoding="utf-8", newline="") as handle:
        handle.write(extra_columns_tweets(3, 7 * 10**17))
    paths.append(extra)
    # Users whose campaign's tweets load first (its users table derived by finish).
    late = str(root / "zlate_072021_users_csv_hashed.csv")
    with open(late, "w", encoding="utf-8", newline="") as handle:
        handle.write(_csv(USERS_HEADER, make_users(13, "2020", seed=7)))
    late_tweets = str(root / "zlate_072021_tweets_csv_hashed.csv")
    with open(late_tweets, "w", encoding="utf-8", newline="") as handle:
        handle.write(tweets_csv_text(_rows("2020", 50, 7, 9 * 10**17), "2020"))
    return paths, late, late_tweets


def snapshot(db):
    conn = sqlite3.connect(db)
    try:
        state = {}
        tables = [name for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
                  if not sql.startswith("CREATE VIRTUAL") and not name.startswith("tweets_fts")]
        for table in tables:
            without_rowid = "WITHOUT ROWID" in conn.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
            cursor = conn.execute(f"SELECT * FROM [{table}]" + ("" if without_rowid else " ORDER BY rowid"))
            keep = [i for i, d in enumerate(cursor.description) if d[0] not in TIMESTAMPS]
            rows = [tuple((row[i], type(row[i]).__name__) for i in keep) for row in cursor]
            if table == "sqlite_stat1":  # the search index's segments follow its batches
                rows = [row for row in rows if not row[0][0].startswith("tweets_fts")]
            if table == "tei_meta":
                rows = [row for row in rows if row[0][0] not in ("build_started", "build_finished")]
            state[table] = rows
        state["with_extra"] = conn.execute("SELECT count(*) FROM tweets WHERE extra IS NOT NULL").fetchall()
        conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, tweets_fts, instance)")
        state["search"] = conn.execute("SELECT * FROM temp.vocab ORDER BY 1, 2, 3, 4").fetchall()
        return state
    finally:
        conn.close()


def build_with(pipeline, db, paths, monkeypatch):
    monkeypatch.setenv("DATASETTE_TEI_PIPELINE", pipeline)
    result = run_build(db, *paths)
    assert result.exit_code == 0, result.output
    return snapshot(db)


def test_both_pipelines_make_the_same_database(tmp_path, sources, monkeypatch):
    paths, late, late_tweets = sources
    # A member over stream.PARALLEL_MIN_BYTES is parsed in a child process.
    monkeypatch.setattr(stream, "PARALLEL_MIN_BYTES", 200_000)
    states = {}
    for pipeline in ("python", "sql"):
        db = str(tmp_path / f"{pipeline}.db")
        build_with(pipeline, db, paths + [late_tweets], monkeypatch)
        states[pipeline] = build_with(pipeline, db, [late], monkeypatch)
    python, sql = states["python"], states["sql"]
    assert python.keys() == sql.keys()
    # The fixtures reach what they are meant to.
    assert len(python["rejects"]) > 3 * len(BAD)
    assert len(python["shared_tweets"]) >= 300
    assert python["with_extra"][0][0] > 10
    for table in python:
        assert python[table] == sql[table], table


@pytest.mark.parametrize("column, value", QUIRKS + BAD)
def test_sql_takes_what_it_types_exactly(tmp_path, column, value):
    """Each quirk alone, through the staging table: a row the SQL check
    takes gets exactly parse.Converter's values; any other goes to Python."""
    header = LAYOUTS["2019"]
    if column not in header:
        pytest.skip("not in this layout")
    row = _rows("2019", 1, 1, 10**17)[0]
    row[column] = value
    fields = [row[name] for name in header]
    plan = sqlload.Plan("tweets", header)
    conn = sqlite3.connect(":memory:")
    plan.prepare(conn)
    conn.execute(plan.insert_stage, fields + [2, None])
    flagged = conn.execute(plan.flagged).fetchall()
    typed = conn.execute(f"SELECT {', '.join(plan.values)} FROM {sqlload.STAGE}",
                         {"campaign": "c", "import_id": 1}).fetchone()
    try:
        expected = load.Converter("tweets", header, ("c", 1))(list(fields))
    except load.RowError:
        assert flagged, (column, value)
        return
    if not flagged:
        # As stored: through columns of the tweets table's types (affinity).
        conn.execute("CREATE TABLE t (" + ", ".join(f"[{c}] {schema._type(c)}" for c in plan.columns) + ")")
        insert = f"INSERT INTO t VALUES ({', '.join('?' * len(plan.columns))})"
        conn.execute(insert, typed)
        conn.execute(insert, expected)
        sql_row, python_row = conn.execute("SELECT * FROM t ORDER BY rowid").fetchall()
        assert sql_row == python_row
        assert [type(v) for v in sql_row] == [type(v) for v in python_row]


def test_an_unknown_pipeline_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DATASETTE_TEI_PIPELINE", "fortran")
    db = tmp_path / "tei.db"
    source = tmp_path / "x_012020_tweets_csv_hashed.csv"
    source.write_text(tweets_csv_text(_rows("2020", 3, 1, 10**17), "2020"), encoding="utf-8")
    result = run_build(str(db), source)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "Error: DATASETTE_TEI_PIPELINE must be one of python, sql, not 'fortran'")
    assert not db.exists()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_sql_types_the_usual_rows_itself(layout):
    """The synthetic rows of every layout (plain values, both list syntaxes,
    CJK, Arabic and Cyrillic text, &amp;) pass the SQL check: Python is for
    the unusual rows only, or the SQL load would be the Python one, slower."""
    header = LAYOUTS[layout]
    plan = sqlload.Plan("tweets", header)
    conn = sqlite3.connect(":memory:")
    plan.prepare(conn)
    rows = _rows(layout, 300, 5, 10**18)
    conn.executemany(plan.insert_stage, [[row[name] for name in header] + [i, None] for i, row in enumerate(rows)])
    assert conn.execute(plan.flagged).fetchall() == []
    users = sqlload.Plan("users", USERS_HEADER)
    users.prepare(conn)
    conn.executemany(users.insert_stage, [[user[name] for name in USERS_HEADER] + [i]
                                          for i, user in enumerate(make_users(100, layout))])
    assert conn.execute(users.flagged).fetchall() == []
