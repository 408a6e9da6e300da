"""The groups of a coordination run (its communities) and what each is like.

`find` partitions the run's accounts with igraph's Leiden algorithm
(modularity, on the undirected graph whose edge weight is the sum of the two
directions), seeded so that a run gives the same groups every time, and
numbers the groups by size: 1 is the largest (ties: the group holding the
smallest userid). `summarise` writes one coordination_group_summaries row a
group: its campaigns, its accounts' creation dates, its top hashtags and
domains and the share of its tweets that the run's evidence holds.

Both run inside coordination.compute_run's transaction.
"""
import contextlib
import json
import random

from ..summaries import domain

TOP = 10  # hashtags and domains kept per group
_CHUNK = 50_000  # edges read and handed to igraph at a time

_TEMP = ("_tei_gr_m", "_tei_gr_c", "_tei_gr_t")


def register_functions(conn):
    conn.create_function("tei_domain", 1, domain, deterministic=True)


@contextlib.contextmanager
def _seeded(igraph, seed):
    """igraph draws from Python's random module by default: give it its own
    generator, so that the groups depend on the seed and nothing else."""
    igraph.set_random_number_generator(random.Random(seed))
    try:
        yield
    finally:
        igraph.set_random_number_generator(random)


def find(conn, run_id, seed=1):
    """Fill coordination_groups for the run; returns the number of groups."""
    accounts = [row[0] for row in conn.execute(
        "SELECT userid_a FROM coordination_edges WHERE run_id = :run UNION "
        "SELECT userid_b FROM coordination_edges WHERE run_id = :run ORDER BY 1", {"run": run_id})]
    if not accounts:
        return 0
    # Imported here: the build imports this module, and igraph's 25 MB
    # would otherwise count in its peak while it loads the archives.
    import igraph

    index = {userid: i for i, userid in enumerate(accounts)}
    graph = igraph.Graph(n=len(accounts))
    weights = []
    # Each undirected pair once, with both directions' weights summed.
    cursor = conn.execute(
        """SELECT min(userid_a, userid_b), max(userid_a, userid_b), sum(weight)
        FROM coordination_edges WHERE run_id = ? GROUP BY 1, 2""", (run_id,))
    while True:
        chunk = cursor.fetchmany(_CHUNK)
        if not chunk:
            break
        graph.add_edges([(index[a], index[b]) for a, b, _ in chunk])
        weights.extend(weight for _, _, weight in chunk)
    with _seeded(igraph, seed):
        membership = graph.community_leiden(
            objective_function="modularity", weights=weights, n_iterations=-1).membership
    del graph, weights
    # Number by size, largest first; a tie goes to the group holding the
    # smallest userid (the accounts are in userid order).
    sizes, first = {}, {}
    for vertex, community in enumerate(membership):
        sizes[community] = sizes.get(community, 0) + 1
        first.setdefault(community, vertex)
    order = sorted(sizes, key=lambda community: (-sizes[community], first[community]))
    number = {community: n for n, community in enumerate(order, 1)}
    conn.executemany(
        "INSERT INTO coordination_groups (run_id, userid, group_id) VALUES (?, ?, ?)",
        ((run_id, userid, number[community]) for userid, community in zip(accounts, membership)),
    )
    _set_campaigns(conn, run_id)
    return len(order)


def _set_campaigns(conn, run_id):
    """Each account's campaign: the one (tweets.campaign) holding most of
    its tweets in the run's evidence (ties: the first name)."""
    drop_temp(conn)
    conn.execute(
        """CREATE TEMP TABLE _tei_gr_c (userid TEXT, tweetid INTEGER, PRIMARY KEY (userid, tweetid))
        WITHOUT ROWID""")
    conn.execute(
        """INSERT OR IGNORE INTO temp._tei_gr_c
        SELECT userid_a, tweetid_a FROM coordination_evidence WHERE run_id = :run
        UNION ALL SELECT userid_b, tweetid_b FROM coordination_evidence WHERE run_id = :run
        ORDER BY 1, 2""", {"run": run_id})
    conn.execute(
        """UPDATE coordination_groups SET campaign = (
          SELECT t.campaign FROM temp._tei_gr_c c CROSS JOIN tweets t ON t.tweetid = c.tweetid
          WHERE c.userid = coordination_groups.userid
          GROUP BY t.campaign ORDER BY count(*) DESC, t.campaign LIMIT 1)
        WHERE run_id = :run""", {"run": run_id})


def summarise(conn, run_id, scope_sql="", params=None):
    """One coordination_group_summaries row per group of the run.
    `scope_sql` is a condition on tweets t (AND ...): the run's campaigns."""
    params = dict(params or {}, run=run_id)
    if not conn.execute("SELECT 1 FROM coordination_groups WHERE run_id = ? LIMIT 1", (run_id,)).fetchone():
        return
    conn.execute(
        "CREATE TEMP TABLE _tei_gr_m (userid TEXT PRIMARY KEY, group_id INTEGER NOT NULL) WITHOUT ROWID")
    conn.execute(
        "INSERT INTO temp._tei_gr_m SELECT userid, group_id FROM coordination_groups WHERE run_id = :run",
        params)
    # The members' tweets in the run's campaigns, with what the top lists
    # read; `coordinated` when the run's evidence holds the tweet. Members
    # first (CROSS JOIN), then their tweets by the (userid, tweet_time)
    # index: the planner, knowing nothing of the temporary table, would
    # scan every tweet instead (1.2 s instead of 0.01 at 1M tweets).
    conn.execute(
        f"""CREATE TEMP TABLE _tei_gr_t AS
        SELECT m.group_id, t.tweetid,
               nullif(t.hashtags, '[]') AS hashtags, nullif(t.urls, '[]') AS urls,
               EXISTS (SELECT 1 FROM temp._tei_gr_c c WHERE c.userid = t.userid AND c.tweetid = t.tweetid)
                 AS coordinated
        FROM temp._tei_gr_m m CROSS JOIN tweets t ON t.userid = m.userid
        WHERE 1{scope_sql}""",
        params,
    )
    summaries = {}
    # Campaigns by the number of members from each, then by name.
    for group_id, campaign, members in conn.execute(
        """SELECT group_id, campaign, count(*) AS n FROM coordination_groups
        WHERE run_id = :run GROUP BY group_id, campaign ORDER BY group_id, n DESC, campaign""",
        params,
    ):
        summary = summaries.setdefault(group_id, {
            "size": 0, "campaigns": [], "first_created": None, "last_created": None,
            "top_hashtags": [], "top_domains": [], "tweets": 0, "coordinated_tweets": 0, "edges": 0,
        })
        summary["size"] += members
        if campaign is not None:
            summary["campaigns"].append(campaign)
    for group_id, first, last in conn.execute(
        """SELECT m.group_id, min(u.account_creation_date), max(u.account_creation_date)
        FROM temp._tei_gr_m m JOIN users u ON u.userid = m.userid GROUP BY m.group_id"""
    ):
        summaries[group_id].update(first_created=first, last_created=last)
    for group_id, tweets, coordinated in conn.execute(
        "SELECT group_id, count(*), sum(coordinated) FROM temp._tei_gr_t GROUP BY group_id"
    ):
        summaries[group_id].update(tweets=tweets, coordinated_tweets=coordinated)
    for group_id, edges in conn.execute(
        """SELECT ga.group_id, count(*) FROM coordination_edges e
        JOIN coordination_groups ga ON ga.run_id = e.run_id AND ga.userid = e.userid_a
        JOIN coordination_groups gb ON gb.run_id = e.run_id AND gb.userid = e.userid_b
        WHERE e.run_id = :run AND ga.group_id = gb.group_id GROUP BY ga.group_id""",
        params,
    ):
        summaries[group_id]["edges"] = edges
    for key, column, value in (("top_hashtags", "hashtags", "j.value"),
                               ("top_domains", "urls", "tei_domain(j.value)")):
        for group_id, item, tweets in conn.execute(
            f"""SELECT group_id, item, tweets FROM (
              SELECT group_id, item, tweets,
                     row_number() OVER (PARTITION BY group_id ORDER BY tweets DESC, item) AS rank
              FROM (SELECT t.group_id, {value} AS item, count(DISTINCT t.tweetid) AS tweets
                    FROM temp._tei_gr_t t, json_each(t.{column}) j
                    WHERE t.{column} IS NOT NULL AND item IS NOT NULL
                    GROUP BY t.group_id, item))
            WHERE rank <= {TOP} ORDER BY group_id, rank"""
        ):
            summaries[group_id][key].append([item, tweets])
    conn.executemany(
        """INSERT INTO coordination_group_summaries (run_id, group_id, size, campaigns, first_created,
            last_created, top_hashtags, top_domains, tweets, coordinated_tweets, coordinated_share, edges)
        VALUES (:run, :group_id, :size, :campaigns, :first_created, :last_created, :top_hashtags,
            :top_domains, :tweets, :coordinated_tweets, :share, :edges)""",
        (
            dict(summary, run=run_id, group_id=group_id,
                 campaigns=json.dumps(summary["campaigns"], ensure_ascii=False),
                 top_hashtags=json.dumps(summary["top_hashtags"], ensure_ascii=False),
                 top_domains=json.dumps(summary["top_domains"], ensure_ascii=False),
                 share=summary["coordinated_tweets"] / summary["tweets"] if summary["tweets"] else 0.0)
            for group_id, summary in sorted(summaries.items())
        ),
    )
    drop_temp(conn)


def drop_temp(conn):
    for table in _TEMP:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
