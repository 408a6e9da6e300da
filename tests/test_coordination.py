"""Coordination networks (coordination.py, groups.py): planted groups found,
the tables checked against the definitions computed independently in
Python (coord_data.expected_network), runs kept and replaced, and the
networks kept up to date as archives are added."""
import json
import os
from collections import Counter
import shutil
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from datasette_tei.build import coordination, load
from datasette_tei.cli import cli
from datasette_tei.build.synthetic import planted_pairs

import coord_data
from helpers import query

EVENTS = 5
ALL_KINDS = tuple(coordination.KINDS)


def build(db_path, *sources):
    report = load.build(db_path, [str(source) for source in sources])
    assert report.ok, report.errors
    return db_path


def coordinate(*args):
    return CliRunner().invoke(cli, ["coordinate", *map(str, args)], catch_exceptions=False)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    alpha, beta, groups = coord_data.planted_sources(root / "sources", events=EVENTS)
    db_path = build(str(root / "tei.db"), alpha, beta)
    # co_hashtag is not a default network: compute it as a user would.
    result = coordinate(db_path, "--kind", "co_hashtag")
    assert result.exit_code == 0, result.output
    return {"db": db_path, "groups": groups, "alpha": alpha, "beta": beta}


def run_id(db_path, kind, window=1, min_weight=None, scope="*"):
    min_weight = min_weight or coordination.KINDS[kind].min_weight
    rows = query(db_path, "SELECT id FROM coordination_runs WHERE kind = ? AND window_minutes = ? "
                 "AND min_weight = ? AND scope = ?", (kind, window, min_weight, scope))
    assert len(rows) == 1, (kind, window, min_weight, scope, rows)
    return rows[0][0]


def test_build_computes_the_default_runs(planted):
    rows = query(planted["db"], "SELECT kind, window_minutes, min_weight, scope, is_default, parameters "
                 "FROM coordination_runs ORDER BY id")
    defaults = [row[:5] for row in rows if row[4]]
    assert defaults == [(kind, 1, 2, "*", 1) for kind in coordination.DEFAULT_KINDS]
    assert ("co_hashtag", 1, 5, "*", 0) in [row[:5] for row in rows]
    for kind, window, min_weight, scope, _, parameters in rows:
        parameters = json.loads(parameters)
        assert (parameters["kind"], parameters["window_minutes"], parameters["min_weight"],
                parameters["scope"]) == (kind, window, min_weight, scope)
        assert parameters["community"]["seed"] == coordination.COMMUNITY_SEED


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_planted_pairs_found_and_background_pairs_rare(planted, kind):
    db_path = planted["db"]
    edges = {(a, b): w for a, b, w in query(
        db_path, "SELECT userid_a, userid_b, weight FROM coordination_edges WHERE run_id = ?",
        (run_id(db_path, kind),))}
    wanted = planted_pairs(planted["groups"])
    missing = wanted - set(edges)
    assert not missing, f"{len(missing)} planted pairs not found"
    assert all(edges[pair] >= EVENTS for pair in wanted)
    background = set(edges) - wanted
    assert len(background) <= len(wanted) // 50, sorted(background)[:5]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_groups_found_are_the_planted_ones(planted, kind):
    db_path = planted["db"]
    members = {}
    for userid, group_id in query(db_path, "SELECT userid, group_id FROM coordination_groups WHERE run_id = ?",
                                  (run_id(db_path, kind),)):
        members.setdefault(group_id, set()).add(userid)
    planted_sets = {frozenset(user["userid"] for user in group) for group in planted["groups"]}
    planted_accounts = set().union(*planted_sets)
    found = {frozenset(group) for group in members.values() if group & planted_accounts}
    assert found == planted_sets
    # Numbered by size: group 1 is the largest.
    sizes = [len(members[g]) for g in sorted(members)]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_tables_follow_the_definitions(planted, kind):
    """Edges, weights both ways, campaigns, times and every evidence row,
    against the definitions computed by brute force."""
    db_path = planted["db"]
    run = run_id(db_path, kind)
    expected = coord_data.expected_network(coord_data.tweet_rows(db_path), kind, 1,
                                           coordination.KINDS[kind].min_weight)
    assert coord_data.stored_network(db_path, run) == expected


def test_group_summaries(planted):
    db_path = planted["db"]
    run = run_id(db_path, "co_link")
    groups = planted["groups"]
    by_account = dict(query(db_path, "SELECT userid, group_id FROM coordination_groups WHERE run_id = ?", (run,)))
    cross = groups[3]  # two accounts in each campaign
    group_id = by_account[cross[0]["userid"]]
    (size, campaigns, first, last, domains, tweets, coordinated, share, edges), = query(
        db_path, "SELECT size, campaigns, first_created, last_created, top_domains, tweets, "
        "coordinated_tweets, coordinated_share, edges FROM coordination_group_summaries "
        "WHERE run_id = ? AND group_id = ?", (run, group_id))
    ids = [user["userid"] for user in cross]
    assert size == 4 and sorted(json.loads(campaigns)) == ["alpha_082020", "beta_092020"]
    created = sorted(user["account_creation_date"] for user in cross)
    assert (first, last) == (created[0], created[-1])
    marks = ",".join("?" * len(ids))
    assert tweets == query(db_path, f"SELECT count(*) FROM tweets WHERE userid IN ({marks})", ids)[0][0]
    evidence = query(db_path, f"""SELECT count(*) FROM (
        SELECT tweetid_a FROM coordination_evidence WHERE run_id = ? AND userid_a IN ({marks})
        UNION SELECT tweetid_b FROM coordination_evidence WHERE run_id = ? AND userid_b IN ({marks}))""",
                     [run, *ids, run, *ids])[0][0]
    assert coordinated == evidence == EVENTS * 4 and share == pytest.approx(coordinated / tweets)
    assert edges == 12  # every ordered pair of the four
    assert ["planted.example", EVENTS * 4] in json.loads(domains)
    summaries = query(db_path, "SELECT count(*), sum(size) FROM coordination_group_summaries WHERE run_id = ?",
                      (run,))[0]
    assert summaries == query(db_path, "SELECT count(DISTINCT group_id), count(*) FROM coordination_groups "
                              "WHERE run_id = ?", (run,))[0]
    counts = query(db_path, "SELECT edge_count, account_count, group_count, evidence_count "
                   "FROM coordination_runs WHERE id = ?", (run,))[0]
    assert counts == query(db_path, """SELECT (SELECT count(*) FROM coordination_edges WHERE run_id = :r),
        (SELECT count(DISTINCT userid) FROM coordination_groups WHERE run_id = :r),
        (SELECT count(DISTINCT group_id) FROM coordination_groups WHERE run_id = :r),
        (SELECT count(*) FROM coordination_evidence WHERE run_id = :r)""", {"r": run})[0]


def test_dense_data_follows_the_definitions(tmp_path):
    """Crowded data, where chance matches and ties are everywhere, at two
    windows and minimum weight 1 (every pair)."""
    users, rows = coord_data.dense_rows(n=1500)
    # The same accounts in two campaigns, so that an edge's campaign is the
    # one holding most of its tweets, not the only one.
    coord_data.write_campaign(tmp_path / "src", "dense_052019", users, rows[::3] + rows[1::3])
    coord_data.write_campaign(tmp_path / "src", "denser_052019", users, rows[2::3])
    db_path = build(str(tmp_path / "tei.db"), tmp_path / "src")
    tweets = coord_data.tweet_rows(db_path)
    for kind in ("co_retweet", "co_tweet", "co_link", "co_reply"):
        for window, min_weight in ((1, 1), (3, 2)):
            result = coordinate(db_path, "--kind", kind, "--window", window, "--min-weight", min_weight)
            assert result.exit_code == 0, result.output
            stored = coord_data.stored_network(db_path, run_id(db_path, kind, window, min_weight))
            expected = coord_data.expected_network(tweets, kind, window, min_weight)
            assert stored == expected, (kind, window, min_weight)
            assert len(stored[0]) > 20, (kind, window, min_weight)  # the data makes many edges
            check_summaries(db_path, run_id(db_path, kind, window, min_weight), tweets, stored)


def test_texts_sharing_a_hash_do_not_match(tmp_path, monkeypatch):
    """co_tweet joins on a hash of the normalised text: with every text
    forced to the same hash, the edges and evidence are still those of the
    texts themselves."""
    users, rows = coord_data.dense_rows(n=600)
    coord_data.write_campaign(tmp_path / "src", "dense_052019", users, rows)
    db_path = build(str(tmp_path / "tei.db"), tmp_path / "src")
    tweets = coord_data.tweet_rows(db_path)
    real_key = coordination._text_key
    monkeypatch.setattr(coordination, "_text_key", lambda text: None if real_key(text) is None else 7)
    for window, min_weight in ((1, 1), (3, 2)):
        result = coordinate(db_path, "--kind", "co_tweet", "--window", window, "--min-weight", min_weight)
        assert result.exit_code == 0, result.output
        stored = coord_data.stored_network(db_path, run_id(db_path, "co_tweet", window, min_weight))
        assert stored == coord_data.expected_network(tweets, "co_tweet", window, min_weight), (window, min_weight)
        assert len(stored[0]) > 5, (window, min_weight)


def check_summaries(db_path, run, tweets, stored):
    """Each group's figures, from its members and the run's evidence."""
    edges, evidence = stored
    group_of = dict(query(db_path, "SELECT userid, group_id FROM coordination_groups WHERE run_id = ?", (run,)))
    assert set(group_of) == {a for a, _ in edges} | {b for _, b in edges}
    coordinated = {(a, ta) for a, _, ta in evidence} | {(b, tb) for (_, b, _), (tb, _, _) in evidence.items()}
    expected = {}
    for row in tweets:
        group = group_of.get(row["userid"])
        if group is not None:
            figures = expected.setdefault(group, [0, 0])
            figures[0] += 1
            figures[1] += (row["userid"], row["tweetid"]) in coordinated
    inside = Counter(group_of[a] for a, b in edges if group_of[a] == group_of[b])
    found = {group: [tweets_, coordinated_] for group, tweets_, coordinated_, edges_ in query(
        db_path, "SELECT group_id, tweets, coordinated_tweets, edges FROM coordination_group_summaries "
        "WHERE run_id = ?", (run,)) if edges_ == inside[group]}
    assert found == expected


def test_texts_that_normalise_to_nothing_match_nothing(tmp_path):
    users, rows = coord_data.dense_rows(n=60, n_users=6)
    for row in rows:
        row.update(is_retweet="False", retweet_tweetid="", urls="[]", tweet_time="2019-05-01 12:00",
                   tweet_text=f"@{row['user_screen_name'][:15]}  @someone\n")
    coord_data.write_campaign(tmp_path / "src", "empty_052019", users, rows)
    db_path = build(str(tmp_path / "tei.db"), tmp_path / "src")
    assert query(db_path, "SELECT count(*) FROM coordination_edges WHERE kind = 'co_tweet'") == [(0,)]


def snapshot(db_path, exclude_run=None):
    """Every coordination row, by table, except one run's."""
    state = {}
    for table, key in (("coordination_runs", "id"), ("coordination_edges", "run_id"),
                       ("coordination_evidence", "run_id"), ("coordination_groups", "run_id"),
                       ("coordination_group_summaries", "run_id")):
        rows = query(db_path, f"SELECT * FROM {table} WHERE {key} IS NOT ? ORDER BY 1, 2, 3", (exclude_run,))
        state[table] = rows
    return state


def test_rerun_replaces_only_its_run(planted, tmp_path):
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    result = coordinate(db_path, "--kind", "co_link", "--window", 5, "--min-weight", 3)
    assert result.exit_code == 0, result.output
    assert "co_link" in result.output
    run = run_id(db_path, "co_link", 5, 3)
    others = snapshot(db_path, exclude_run=run)
    first = snapshot(db_path)
    conn = sqlite3.connect(db_path)
    # Damage this run's rows, as a stale run would differ, then recompute it.
    conn.execute("UPDATE coordination_edges SET weight = 99 WHERE run_id = ?", (run,))
    conn.execute("INSERT INTO coordination_groups (run_id, userid, group_id) VALUES (?, 'ghost', 1)", (run,))
    conn.commit()
    conn.close()
    result = coordinate(db_path, "--kind", "co_link", "--window", 5, "--min-weight", 3)
    assert result.exit_code == 0, result.output
    assert run_id(db_path, "co_link", 5, 3) == run
    assert snapshot(db_path, exclude_run=run) == others
    again = snapshot(db_path)
    for table in ("coordination_edges", "coordination_evidence", "coordination_groups",
                  "coordination_group_summaries"):
        assert again[table] == first[table], table


def test_a_failing_run_changes_nothing(planted, tmp_path, monkeypatch):
    """The run is replaced in one transaction: a failure half-way (here in
    the community step) leaves the old rows."""
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    before = snapshot(db_path)
    from datasette_tei.build import groups

    def broken(*args, **kwargs):
        raise RuntimeError("igraph failed")

    monkeypatch.setattr(groups, "find", broken)
    conn = load.connect(db_path)
    with pytest.raises(RuntimeError):
        coordination.compute_run(conn, coordination.RunSpec("co_retweet"))
    conn.close()
    assert snapshot(db_path) == before


def test_adding_an_archive_updates_the_networks(planted, tmp_path):
    """alpha alone, then beta added: the networks equal those of a build of
    both at once; the cross-campaign group is whole."""
    db_path = build(str(tmp_path / "tei.db"), planted["alpha"])
    cross = {user["userid"] for user in planted["groups"][3]}
    alpha_only = {a for a, in query(db_path, "SELECT userid FROM coordination_groups")}
    assert len(cross & alpha_only) == 2
    build(db_path, planted["alpha"], planted["beta"])
    fresh = build(str(tmp_path / "fresh.db"), planted["alpha"], planted["beta"])

    def networks(path):
        state = snapshot(path)
        state["coordination_runs"] = [row[1:7] + row[8:12] for row in state["coordination_runs"] if row[5]]
        return {table: rows for table, rows in state.items()}

    assert networks(db_path) == networks(fresh)
    after = {a for a, in query(db_path, "SELECT userid FROM coordination_groups")}
    assert cross <= after


def test_an_unchanged_build_keeps_the_runs(planted, tmp_path):
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    before = query(db_path, "SELECT id, created FROM coordination_runs ORDER BY id")
    build(db_path, planted["alpha"], planted["beta"])
    assert query(db_path, "SELECT id, created FROM coordination_runs ORDER BY id") == before


def test_campaign_scope(planted, tmp_path):
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    result = coordinate(db_path, "--kind", "co_retweet", "--campaign", "beta_*")
    assert result.exit_code == 0, result.output
    run = run_id(db_path, "co_retweet", scope="beta_*")
    cross = [user["userid"] for user in planted["groups"][3]]
    edges = set(query(db_path, "SELECT userid_a, userid_b FROM coordination_edges WHERE run_id = ?", (run,)))
    assert edges == {(cross[2], cross[3]), (cross[3], cross[2])}
    assert query(db_path, "SELECT DISTINCT campaign_a FROM coordination_edges WHERE run_id = ?", (run,)) == \
        [("beta_092020",)]


@pytest.mark.parametrize("args, message", [
    (["--window", "-1"], "--window"),
    (["--window", "100000"], "--window"),
    (["--min-weight", "0"], "--min-weight"),
    (["--kind", "co_nothing"], "--kind"),
    (["--campaign", "nothing_*"], "no campaign matches nothing_*"),
])
def test_bad_arguments_get_one_line(planted, tmp_path, args, message):
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    before = snapshot(db_path)
    result = CliRunner().invoke(cli, ["coordinate", db_path, *args])
    assert result.exit_code == 2 if args[0] != "--campaign" else result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert snapshot(db_path) == before


def test_a_file_that_is_not_ours_is_refused_untouched(tmp_path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (text)")
    conn.commit()
    conn.close()
    text = tmp_path / "notes.txt"
    text.write_text("not a database at all\n" * 100)
    for path, message in ((other, "not a datasette-tei database"), (text, "not a datasette-tei database"),
                          (tmp_path / "missing.db", "no such file")):
        before = path.read_bytes() if path.exists() else None
        result = CliRunner().invoke(cli, ["coordinate", str(path)])
        assert result.exit_code == 1 and message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert (path.read_bytes() if path.exists() else None) == before
        assert not os.path.exists(str(path) + "-wal")


def test_normalisation_is_the_reference_tools():
    similarity = pytest.importorskip("coordination_network_toolkit.similarity")
    import random

    rng = random.Random(4)
    pieces = ["@", "@x", "a", "B", "Ж", "ẞ", " ", "  ", "\n", "\t", "\u3000", "\xa0", "\x1c", "\u2029", "x"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert coordination.normalise_text(text) == similarity.message_preprocessor(text)


def test_memory_and_time_stay_bounded(tmp_path):
    """A build of 60,000 tweets with 40 planted groups, in a child process:
    its peak memory is under the build's bound, and the networks take a
    small part of the build."""
    import random

    from datasette_tei.build import synthetic

    rng = random.Random(9)
    background = synthetic.make_users(400, seed=9)
    groups = synthetic.make_planted_groups([rng.randint(3, 12) for _ in range(40)], seed=9)
    users = background + [user for group in groups for user in group]
    rows = [synthetic.make_tweet(rng, i, users[i % len(users)], "2020", background) for i in range(60000)]
    rows += synthetic.planted_tweets(groups, events=3, background=background)
    coord_data.write_campaign(tmp_path / "src", "big_012020", users, rows)
    db_path = str(tmp_path / "tei.db")
    script = (
        "import sys, time; from datasette_tei.build import load, coordination;"
        "s = time.perf_counter(); load.build(sys.argv[1], [sys.argv[2]]); b = time.perf_counter() - s;"
        "c = load.connect(sys.argv[1]); s = time.perf_counter();"
        "[coordination.compute_run(c, spec) for spec in coordination.default_specs()];"
        # VmHWM, not ru_maxrss: the latter keeps the peak of the forked
        # test process from before exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(b, time.perf_counter() - s, int(hwm) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", script, db_path, str(tmp_path / "src")], check=True,
                         capture_output=True, text=True, env=dict(os.environ)).stdout
    build_seconds, coordination_seconds, peak_mb = map(float, out.split())
    assert peak_mb < 200
    # The build includes the networks; computing them again takes less
    # than the build that also loaded, indexed and summarised the tweets.
    assert coordination_seconds < build_seconds
    assert query(db_path, "SELECT count(DISTINCT group_id) FROM coordination_groups g "
                 "JOIN coordination_runs r ON r.id = g.run_id WHERE r.kind = 'co_retweet'")[0][0] >= 40


def test_the_demo_shows_its_planted_groups(demo_db):
    """The bundled demo: three planted groups, labelled synthetic, one across
    two campaigns, found by each default network that they act in."""
    from datasette_tei.build.synthetic import _demo_planted

    planted = _demo_planted()
    accounts = [user for users, _ in planted.values() for user in users]
    assert all("Synthetic" in user["user_profile_description"] for user in accounts)
    for kind in ("co_retweet", "co_tweet", "co_link"):
        run = run_id(demo_db, kind)
        members = {}
        for userid, group_id, campaign in query(
                demo_db, "SELECT userid, group_id, campaign FROM coordination_groups WHERE run_id = ?", (run,)):
            members.setdefault(group_id, set()).add(userid)
        assert sorted(map(len, members.values()), reverse=True) == [5, 4, 3]
        assert set().union(*members.values()) == {user["userid"] for user in accounts}
        across = query(demo_db, "SELECT count(*) FROM coordination_edges WHERE run_id = ? "
                       "AND campaign_a <> campaign_b", (run,))[0][0]
        assert across == 8  # two accounts of each campaign, both ways


def test_the_objects_are_made_once_per_change_of_the_data(planted, tmp_path):
    """The objects of the stored kinds (tei_coordination_objects) are those
    a run of every campaign would make from the tweets; the build made them,
    and a run on the same data reads them without making them again.
    (test_adding_an_archive_updates_the_networks: made again when it changes.)"""
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    stored = [kind for kind in coordination.KINDS.values() if kind.stored]
    assert [kind.name for kind in stored] == ["co_retweet", "co_link", "co_reply"]
    conn = load.connect(db_path)
    coordination.register_functions(conn)
    for kind in stored:
        made = conn.execute("SELECT object, minute, userid, tweetid FROM tei_coordination_objects "
                            "WHERE kind = ?", (kind.name,)).fetchall()
        fresh = sorted({row for row in conn.execute(kind.select) if None not in row})
        assert made == fresh and len(made) > 20, kind.name
    statements = []
    conn.set_trace_callback(statements.append)
    for kind in stored:
        coordination.compute_run(conn, coordination.RunSpec(kind.name))
    conn.close()
    assert any("tei_coordination_objects" in sql for sql in statements)
    assert not [sql for sql in statements if "INTO tei_coordination_objects" in sql or "DELETE FROM tei_coord" in sql]


def test_a_database_built_before_coordination_gets_its_tables(planted, tmp_path):
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    conn = sqlite3.connect(db_path)
    for table in ("coordination_runs", "coordination_edges", "coordination_evidence", "coordination_groups",
                  "coordination_group_summaries", "tei_coordination_objects"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("DELETE FROM tei_meta WHERE key = 'coordination_objects'")
    conn.commit()
    conn.close()
    result = coordinate(db_path, "--kind", "co_retweet")
    assert result.exit_code == 0, result.output
    assert query(db_path, "SELECT kind, edge_count > 0 FROM coordination_runs") == [("co_retweet", 1)]
    assert query(db_path, "SELECT DISTINCT kind FROM tei_coordination_objects ORDER BY 1") \
        == [("co_link",), ("co_reply",), ("co_retweet",)]
    assert query(db_path, "SELECT count(*) FROM sqlite_master WHERE name = 'idx_coordination_edges_run_id_userid_b'") \
        == [(1,)]


def test_a_locked_database_is_named_locked_not_foreign(planted, tmp_path):
    # Another program holds a write lock: the command says so, and does not
    # call the file "not a datasette-tei database".
    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = CliRunner().invoke(cli, ["coordinate", db_path, "--window", "3"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1
    assert result.output.strip() == (f"Error: {db_path}: the database is locked by another program "
                                     "writing to it; try again when it has finished")


def test_a_running_build_is_named_not_called_unfinished(planted, tmp_path):
    # A build at work holds its lock (target.BuildLock): the command waits
    # for nothing and says which process is writing, rather than telling the
    # user to run the build again.
    from datasette_tei.build.target import BuildLock

    db_path = str(tmp_path / "tei.db")
    shutil.copy(planted["db"], db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE tei_meta SET value = 'loading' WHERE key = 'build_state'")
    conn.commit()
    conn.close()
    before = snapshot(db_path)
    with BuildLock(db_path):
        result = CliRunner().invoke(cli, ["coordinate", db_path])
    assert result.exit_code == 1
    assert f"another build is writing this database (process {os.getpid()})" in result.output
    assert snapshot(db_path) == before
    result = CliRunner().invoke(cli, ["coordinate", db_path])  # no build now: unfinished
    assert result.exit_code == 1 and "its build did not finish" in result.output
