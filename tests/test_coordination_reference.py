"""The coordination networks against the reference tool itself, the QUT
Digital Observatory's coordination-network-toolkit, on the same tweets:
the same edges and the same weights (both directions) for co_retweet,
co_tweet, co_link and co_reply, at two windows and two minimum weights.

Our tweets are written as its CSV input (message_id, user_id, username,
repost_id, reply_id, message, timestamp in seconds, space-separated urls),
then loaded by its preprocess and computed by its compute functions, with
the window in seconds. Where our definitions differ on purpose
(docs/coordination.md), the input avoids the difference: no text that
normalises to nothing; and its CSV reader's empty urls field, which it
reads as the URL "" (`"".split(" ")`), is read as no URL.
"""
import csv
import json
import sqlite3

import pytest
from click.testing import CliRunner

from coordination_network_toolkit import compute_networks, preprocess

from datasette_tei.build import load
from datasette_tei.cli import cli

import coord_data

KINDS = ("co_retweet", "co_tweet", "co_link", "co_reply")
WINDOWS = (1, 3)


def write_reference_csv(rows, path):
    """Our tweets in the reference tool's CSV input format. A retweet whose
    retweet_tweetid is missing gets a repost id of its own: it is a retweet
    for both tools (no co_tweet, co_link or co_reply), and matches nothing."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message",
                         "timestamp", "urls"])
        for row in rows:
            repost = row["retweet_tweetid"]
            if repost is None and row["is_retweet"]:
                repost = f"retweet-{row['tweetid']}"
            writer.writerow([
                row["tweetid"], row["userid"], row["user_screen_name"],
                "" if repost is None else repost,
                "" if row["in_reply_to_tweetid"] is None else row["in_reply_to_tweetid"],
                row["tweet_text"] or "",
                coord_data.minute(row["tweet_time"]) * 60,
                " ".join(json.loads(row["urls"])),
            ])


def reference_preprocess(csv_path, db_path):
    """Its preprocess_csv_files, but reading an empty urls field as no URL."""
    with open(csv_path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        preprocess.preprocess_data(db_path, ((*row[:-1], row[-1].split()) for row in reader))


COMPUTE = {
    "co_retweet": lambda db, seconds: compute_networks.compute_co_retweet_parallel(
        db, seconds, n_threads=2, min_edge_weight=1),
    "co_tweet": lambda db, seconds: compute_networks.compute_co_tweet_network(
        db, seconds, min_edge_weight=1, n_threads=2),
    "co_link": lambda db, seconds: compute_networks.compute_co_link_network(
        db, seconds, n_threads=2, min_edge_weight=1),
    "co_reply": lambda db, seconds: compute_networks.compute_co_reply_network(
        db, seconds, min_edge_weight=1, n_threads=2),
}


def reference_weights(db_path, kind, window):
    """{(user_1, user_2): weight} of every pair, self-loops left out."""
    COMPUTE[kind](db_path, window * 60)
    conn = sqlite3.connect(db_path)
    try:
        return {(a, b): w for a, b, w in conn.execute(f"SELECT user_1, user_2, weight FROM {kind}_network")
                if a != b}
    finally:
        conn.close()


def ours(db_path, kind, window, min_weight):
    result = CliRunner().invoke(cli, ["coordinate", db_path, "--kind", kind, "--window", str(window),
                                      "--min-weight", str(min_weight), "--silent"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db_path)
    try:
        (run,), = conn.execute(
            "SELECT id FROM coordination_runs WHERE kind = ? AND window_minutes = ? AND min_weight = ? "
            "AND scope = '*'", (kind, window, min_weight)).fetchall()
        return {(a, b): (w, r) for a, b, w, r in conn.execute(
            "SELECT userid_a, userid_b, weight, weight_reverse FROM coordination_edges WHERE run_id = ?", (run,))}
    finally:
        conn.close()


@pytest.fixture(scope="module", params=["dense", "planted"])
def both(request, tmp_path_factory):
    """Our database and the reference tool's, of the same tweets."""
    root = tmp_path_factory.mktemp(f"reference-{request.param}")
    if request.param == "dense":
        users, rows = coord_data.dense_rows(n=2500)
        coord_data.write_campaign(root / "src", "dense_052019", users, rows)
        sources = [root / "src"]
    else:
        alpha, beta, _ = coord_data.planted_sources(root / "src", n_background=2000)
        sources = [alpha, beta]
    db_path = str(root / "tei.db")
    assert load.build(db_path, [str(source) for source in sources]).ok
    csv_path = str(root / "reference.csv")
    write_reference_csv(coord_data.tweet_rows(db_path), csv_path)
    return db_path, csv_path, root


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("window", WINDOWS)
def test_same_edges_and_weights_as_the_reference_tool(both, kind, window):
    db_path, csv_path, root = both
    reference_db = str(root / f"reference_{kind}_{window}.db")
    reference_preprocess(csv_path, reference_db)
    theirs = reference_weights(reference_db, kind, window)
    assert len(theirs) > 10  # the data makes edges to compare
    for min_weight in (1, 2):
        mine = ours(db_path, kind, window, min_weight)
        assert {pair: w for pair, (w, _) in mine.items()} == \
            {pair: w for pair, w in theirs.items() if w >= min_weight}, (kind, window, min_weight)
        assert {pair: r for pair, (_, r) in mine.items()} == \
            {(a, b): theirs.get((b, a), 0) for (a, b) in mine}, (kind, window, min_weight)


def test_the_reference_csv_reader_links_every_linkless_tweet(tmp_path):
    """Why the test reads the CSV's urls itself: the reference tool's own
    reader gives a tweet without URLs the URL "", so two such tweets by
    different accounts within the window co-link. We never match on ""."""
    path = tmp_path / "messages.csv"
    path.write_text(
        "message_id,user_id,username,repost_id,reply_id,message,timestamp,urls\n"
        "1,a,a,,,hello,60,\n2,b,b,,,world,60,\n3,a,a,,,again,120,\n4,b,b,,,more,120,\n",
        encoding="utf-8")
    db_path = str(tmp_path / "reference.db")
    preprocess.preprocess_csv_files(db_path, [str(path)])
    assert reference_weights(db_path, "co_link", 1).get(("a", "b")) == 2
