"""Coordination tables for the serving-side tests: the build's own tables
(schema.py), filled on a copy of the demo database with planted groups
whose figures hold together the way the build guarantees (every edge's weight is its number of evidence
rows, run counts are the counts of their rows, a group's size is its
number of members). Hostile text goes in the profile and tweet text of
accounts in the network, for the escaping tests."""
import itertools
import json
import random
import shutil
import sqlite3

from datasette_tei import schema

TABLES = ("coordination_runs", "coordination_edges", "coordination_evidence",
          "coordination_groups", "coordination_group_summaries")

HOSTILE_NAME = '<script>alert("tei")</script>"><img src=x onerror=alert(1)>\x01&amp;'
HOSTILE_TEXT = "'><svg onload=alert(2)> \x0b\x1f ]]> <!-- &lt; \x00 tail"

# (kind, window, min_weight, scope, is_default, background pairs)
RUNS = (
    ("co_retweet", 1, 2, "*", 1, 330),
    ("co_tweet", 1, 2, "synthetic_2018*", 1, 0),
    ("co_hashtag", 60, 5, "*", 0, None),  # computed, found nothing
)


def copy_demo(demo_db, path):
    shutil.copy(demo_db, path)
    return str(path)


def without_coordination(demo_db, path):
    """A copy of the demo as a database built before the networks existed."""
    conn = sqlite3.connect(copy_demo(demo_db, path))
    for table in TABLES:
        conn.execute(f"DROP TABLE [{table}]")
    conn.commit()
    conn.close()
    return str(path)


def add_coordination(path, seed=13, hostile=True, indexes=True):
    """Create and fill the coordination tables in the database at `path`."""
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    # The build computed the demo's own networks: replaced here by planted
    # ones, in the tables as the build declares them (schema.py).
    for table in TABLES:
        conn.execute(f"DROP TABLE IF EXISTS [{table}]")
    schema.ensure_coordination_schema(conn)
    if not indexes:
        for table, columns in schema.COORDINATION_INDEXES:
            conn.execute(f"DROP INDEX [{schema.index_name(table, columns)}]")
    users = conn.execute(
        "SELECT userid, campaign, account_creation_date FROM users ORDER BY campaign, userid"
    ).fetchall()
    campaign_of = {u: c for u, c, _ in users}
    tweets = {}
    for tweetid, userid, time in conn.execute(
        "SELECT tweetid, userid, tweet_time FROM tweets ORDER BY tweetid"
    ):
        tweets.setdefault(userid, []).append((tweetid, time))
    for number, (kind, window, min_weight, scope, default, background) in enumerate(RUNS, 1):
        members = [u for u, c, _ in users if sqlite3_glob(scope, c)]
        edges = {}
        groups = {}
        if background is not None:
            # Planted groups of four to six accounts, one of them across two
            # campaigns, every pair in a group linked; then background pairs.
            shuffled = members[:]
            rng.shuffle(shuffled)
            planted = [shuffled[i:i + 5] for i in range(0, min(len(shuffled), 20), 5)]
            for group in planted:
                for a, b in itertools.combinations(sorted(group), 2):
                    edges[(a, b)] = None
            candidates = list(itertools.combinations(members, 2))
            rng.shuffle(candidates)
            for a, b in candidates[:background]:
                edges.setdefault((a, b), None)
            for gid, group in enumerate(planted, 1):
                for userid in group:
                    groups[userid] = gid
        directed = {}
        for a, b in edges:
            forward = rng.randint(min_weight, min(len(tweets[a]), 7))
            backward = rng.choice([0, 1, rng.randint(min_weight, min(len(tweets[b]), 7))])
            directed[(a, b)] = forward
            if backward:
                directed[(b, a)] = backward
        conn.execute(
            "INSERT INTO coordination_runs (id, kind, window_minutes, min_weight, scope, "
            "is_default, parameters, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (number, kind, window, min_weight, scope, default,
             json.dumps({"kind": kind, "window_minutes": window, "min_weight": min_weight,
                         "scope": scope}), f"2026-11-2{number}T10:00:00Z"),
        )
        stored = {k: w for k, w in directed.items() if w >= min_weight}
        for (a, b), weight in stored.items():
            reverse = directed.get((b, a), 0)
            chosen = rng.sample(tweets[a], weight)
            for tweetid_a, time_a in chosen:
                tweetid_b, time_b = rng.choice(tweets[b])
                conn.execute(
                    "INSERT INTO coordination_evidence VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (number, a, b, tweetid_a, tweetid_b, f"object {tweetid_a % 97}",
                     rng.randint(0, window)),
                )
            times = sorted(t for _, t in chosen)
            conn.execute(
                "INSERT INTO coordination_edges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, kind, a, b, campaign_of[a], campaign_of[b], weight, reverse,
                 min(weight, reverse) / max(weight, reverse), times[0], times[-1]),
            )
        linked = {u for pair in stored for u in pair}
        # Accounts outside the planted groups: each its own group, numbered after.
        next_id = max(groups.values(), default=0) + 1
        for userid in sorted(linked - set(groups)):
            groups[userid] = next_id
            next_id += 1
        groups = {u: g for u, g in groups.items() if u in linked}
        # Renumber: 1 = the largest group, as the build does.
        sizes = {}
        for g in groups.values():
            sizes[g] = sizes.get(g, 0) + 1
        order = {g: i for i, g in enumerate(sorted(sizes, key=lambda g: (-sizes[g], g)), 1)}
        groups = {u: order[g] for u, g in groups.items()}
        for userid, gid in groups.items():
            conn.execute("INSERT INTO coordination_groups VALUES (?, ?, ?, ?)",
                         (number, userid, gid, campaign_of[userid]))
        for gid in sorted(set(groups.values())):
            people = sorted(u for u, g in groups.items() if g == gid)
            marks = ",".join("?" * len(people))
            created = conn.execute(
                f"SELECT min(account_creation_date), max(account_creation_date) FROM users "
                f"WHERE userid IN ({marks})", people).fetchone()
            total = conn.execute(
                f"SELECT count(*) FROM tweets WHERE userid IN ({marks})", people).fetchone()[0]
            coordinated = conn.execute(
                f"SELECT count(*) FROM (SELECT tweetid_a FROM coordination_evidence "
                f"WHERE run_id = ? AND userid_a IN ({marks}) UNION SELECT tweetid_b "
                f"FROM coordination_evidence WHERE run_id = ? AND userid_b IN ({marks}))",
                [number, *people, number, *people]).fetchone()[0]
            conn.execute(
                "INSERT INTO coordination_group_summaries (run_id, group_id, size, campaigns, "
                "first_created, last_created, top_hashtags, top_domains, tweets, coordinated_tweets, "
                "coordinated_share) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (number, gid, len(people),
                 json.dumps(sorted({campaign_of[u] for u in people})),
                 created[0], created[1],
                 json.dumps([["election", 3], ["<b>tag</b>", 1]]),
                 json.dumps([["example.com", 2]]),
                 total, coordinated, round(coordinated / total, 4) if total else 0.0),
            )
        conn.execute(
            "UPDATE coordination_runs SET edge_count = ?, account_count = ?, group_count = ? "
            "WHERE id = ?", (len(stored), len(linked), len(set(groups.values())), number))
    if hostile:
        # The strongest account of the first run's network gets a hostile name
        # and a hostile tweet, so that every page and export must escape them.
        userid = conn.execute(
            "SELECT userid_a FROM coordination_edges WHERE run_id = 1 "
            "ORDER BY weight DESC, userid_a LIMIT 1").fetchone()[0]
        conn.execute("UPDATE users SET user_screen_name = ?, user_profile_description = ? "
                     "WHERE userid = ?", (HOSTILE_NAME, HOSTILE_TEXT, userid))
        conn.execute("UPDATE tweets SET user_screen_name = ?, tweet_text = ? WHERE userid = ?",
                     (HOSTILE_NAME, HOSTILE_TEXT, userid))
    conn.commit()
    conn.close()
    return path


def sqlite3_glob(pattern, value):
    conn = sqlite3.connect(":memory:")
    try:
        return bool(conn.execute("SELECT ? GLOB ?", (value, pattern)).fetchone()[0])
    finally:
        conn.close()
