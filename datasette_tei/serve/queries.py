"""Canned queries, written once as data and registered for every database
with the TEI schema: through the `canned_queries` hook on Datasette 0.65,
through `datasette.add_query()` from `startup` on the 1.0 alphas.

Parameters that a user leaves out arrive as '' and mean "any". The queries
over large sets read the summary tables the build precomputed (summaries.py),
so that they answer at once on a 40-million-tweet campaign; `requires` names
the tables a query needs, and a query is offered only where they exist.

The queries are guests: the owner's own query of the same name (metadata on
0.65, datasette.yaml on 1.0) is left in place, and a query runs only for an
actor who may view every table it reads (`reads`) and `tweets` and `users`,
whose rows the summaries are made of. A canned query runs without the
`execute-sql` permission, so without this check it would read tables that
the owner's `allow` closes.
"""
import weakref
from dataclasses import dataclass, field

from . import access
from ..schema import is_tei_database
from ..summaries import RETWEETED_KEEP


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    description: str
    sql: str
    params: tuple = ()
    requires: frozenset = field(default_factory=frozenset)
    reads: frozenset = field(default_factory=frozenset)  # every table the SQL reads
    hide_sql: bool = False  # a long query would push its form off the screen

    def canned(self):
        """The 0.65 canned query dictionary."""
        return {
            "sql": self.sql,
            "title": self.title,
            "description": self.description,
            "params": list(self.params),
            "hide_sql": self.hide_sql,
        }


# The search: the word index (search.py) finds the candidates, newest first
# (by tweet id, which an FTS5 index reads in either direction without
# sorting), and each is scored (tei_rank, bm25 with every word weighted
# alike: FTS5's own bm25() computes each word's weight from all its matches,
# a pass over a million rows for a common word). tei_search_expression()
# quotes the user's words, so that no search text is ever parsed as FTS5
# syntax, and cuts Chinese, Thai, ... as the index does.
#
# Bounds: at most SCAN_LIMIT candidates are read, and the first FOUND_LIMIT
# that pass the filters (campaign, language) are ranked; the best 200 of
# those are returned. A search with fewer matches than that ranks every match.
# The tweets row is found with `tweetid BETWEEN x AND x`, not `= x`: with an
# equality SQLite may build a Bloom filter first, by scanning every tweet.
# Snippets are made for the 200 rows returned only.
SCAN_LIMIT = 10000  # the descriptions below say these figures
FOUND_LIMIT = 1000
_SEARCH_SQL = f"""WITH hits AS (
  SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH tei_search_expression(:q)
  ORDER BY rowid DESC LIMIT {SCAN_LIMIT}
),
found AS (
  SELECT t.tweetid, tei_rank(t.tweet_text, :q) AS score FROM hits h
  JOIN tweets t ON t.tweetid BETWEEN h.rowid AND h.rowid
  WHERE (:campaign = '' OR t.campaign = :campaign
         OR EXISTS (SELECT 1 FROM shared_tweets s WHERE s.tweetid = t.tweetid AND s.campaign = :campaign))
    AND (:language = '' OR lower(t.tweet_language) = lower(:language))
  LIMIT {FOUND_LIMIT}
),
best AS (SELECT tweetid, score FROM found ORDER BY score, tweetid DESC LIMIT 200)
SELECT t.tweetid_str AS tweetid, t.campaign, t.tweet_time, t.userid, t.user_screen_name,
  t.tweet_language, tei_snippet(t.tweet_text, :q) AS snippet, t.tweet_text,
  round(best.score, 3) AS score
FROM best JOIN tweets t ON t.tweetid BETWEEN best.tweetid AND best.tweetid
ORDER BY best.score, best.tweetid DESC"""

_ALL_NOTE = (
    " With no campaign, the campaigns' figures are added up: a tweet that two "
    "campaigns' archives hold counts in each."
)


def _ranking_queries(name, title, description, kind, columns):
    """A ranking of campaign_top, of one campaign or (campaign left empty)
    of all campaigns: from campaign_top_all, which the build precomputes;
    for a database built before that table, added up per request."""
    one = f"""SELECT rank, {columns}, 1 AS campaigns FROM campaign_top
  WHERE campaign = :campaign AND kind = '{kind}' ORDER BY rank LIMIT 500"""
    everything = f"""SELECT rank, {columns}, campaigns FROM campaign_top_all
  WHERE :campaign = '' AND kind = '{kind}' ORDER BY rank LIMIT 500"""
    added_up = f"""SELECT row_number() OVER (ORDER BY tweets DESC, accounts DESC, value) AS rank,
    {columns}, campaigns FROM (
    SELECT value, max(label) AS label, sum(tweets) AS tweets, sum(accounts) AS accounts,
      max(internal) AS internal, count(*) AS campaigns
    FROM campaign_top WHERE :campaign = '' AND kind = '{kind}' GROUP BY value
  ) ORDER BY rank LIMIT 500"""

    def sql(all_campaigns):
        # Each branch ordered and cut on its own, so that one campaign's
        # ranking is read in its primary key's order, never sorted whole.
        return f"SELECT * FROM (\n  {one}\n)\nUNION ALL\nSELECT * FROM (\n  {all_campaigns}\n)\nORDER BY rank"

    return (
        Query(name, title, description, sql(everything), ("campaign",),
              frozenset({"campaign_top", "campaign_top_all"}),
              reads=frozenset({"campaign_top", "campaign_top_all"})),
        # For a database built before campaign_top_all existed.
        Query(name, title, description, sql(added_up), ("campaign",), frozenset({"campaign_top"}),
              reads=frozenset({"campaign_top"})),
    )


_BURSTS_DESCRIPTION = (
    "Days on which two or more accounts were created, most first: accounts registered "
    "in batches. In one campaign or, with no campaign, in all of them (an account that "
    "several campaigns list counts once, on its earliest creation date)."
)

_WEEKDAY_COLUMNS = ",\n  ".join(
    f"sum(CASE weekday WHEN {number} THEN tweets ELSE 0 END) AS {name}"
    for number, name in ((1, "mon"), (2, "tue"), (3, "wed"), (4, "thu"), (5, "fri"), (6, "sat"), (0, "sun"))
)

QUERIES = (
    Query(
        "search",
        "Search tweets",
        "Full-text search of tweet text in any script, with the words found marked "
        "⟦like this⟧. Words are found whole (election does not find elections; "
        "elect* finds both); \"quoted words\" are a phrase. In Chinese, Japanese, Korean, "
        "Thai and other scripts written without spaces, a word of two or more characters "
        "is found anywhere in the text. Optionally limit to a campaign and a tweet language "
        "(such as en, ru, zh). The newest 1,000 matching tweets (of the newest 10,000 "
        "matches) are ranked by relevance (bm25, every word weighted alike) and the best "
        "200 shown.",
        _SEARCH_SQL,
        ("q", "campaign", "language"),
        frozenset({"tweets_fts"}),
        reads=frozenset({"tweets_fts", "tweets", "shared_tweets"}),
        hide_sql=True,
    ),
    *_ranking_queries(
        "top_hashtags",
        "Top hashtags",
        "Hashtags by the number of tweets that used them and the number of accounts "
        "that did, in one campaign or, with no campaign, in all of them (precomputed "
        "at build time)." + _ALL_NOTE,
        "hashtag",
        "value AS hashtag, tweets, accounts",
    ),
    *_ranking_queries(
        "top_domains",
        "Top URL domains",
        "Domains of the links tweeted, by tweets and by accounts (www. removed), in one "
        "campaign or, with no campaign, in all of them (precomputed at build time)." + _ALL_NOTE,
        "domain",
        "value AS domain, tweets, accounts",
    ),
    Query(
        "activity_by_hour",
        "Activity by hour and weekday (UTC)",
        "Tweets per hour of the day (UTC), one column a weekday, of one campaign or, with "
        "no campaign, of all of them: a troll farm's office hours and days off show here."
        + _ALL_NOTE,
        f"""SELECT hour,
  {_WEEKDAY_COLUMNS},
  sum(tweets) AS total
FROM campaign_hours WHERE :campaign = '' OR campaign = :campaign
GROUP BY hour ORDER BY hour""",
        ("campaign",),
        frozenset({"campaign_hours"}),
        reads=frozenset({"campaign_hours"}),
    ),
    Query(
        "account_creation_bursts",
        "Account creation bursts",
        _BURSTS_DESCRIPTION + " (Precomputed at build time.)",
        """SELECT day, accounts,
  round(100.0 * accounts / (SELECT sum(accounts) FROM campaign_creation_days
                            WHERE campaign = :campaign), 1) AS percent_of_accounts,
  screen_names
FROM campaign_creation_days
WHERE campaign = :campaign AND accounts > 1
ORDER BY accounts DESC, day LIMIT 500""",
        ("campaign",),
        frozenset({"campaign_creation_days"}),
        reads=frozenset({"campaign_creation_days"}),
    ),
    # For a database built before campaign_creation_days existed.
    Query(
        "account_creation_bursts",
        "Account creation bursts",
        _BURSTS_DESCRIPTION,
        """WITH chosen AS (
  SELECT userid, account_creation_date AS day, user_screen_name FROM users
  WHERE campaign = :campaign AND account_creation_date IS NOT NULL AND account_creation_date <> ''
  UNION ALL
  SELECT userid, min(account_creation_date), min(user_screen_name) FROM users
  WHERE :campaign = '' AND account_creation_date IS NOT NULL AND account_creation_date <> ''
  GROUP BY userid
)
SELECT day, count(*) AS accounts,
  round(100.0 * count(*) / (SELECT count(*) FROM chosen), 1) AS percent_of_accounts,
  group_concat(user_screen_name, ' ') AS screen_names
FROM chosen
GROUP BY day HAVING count(*) > 1
ORDER BY accounts DESC, day LIMIT 500""",
        ("campaign",),
        reads=frozenset({"users"}),
    ),
    *_ranking_queries(
        "most_retweeted_accounts",
        "Most retweeted accounts",
        "The accounts amplified: retweets of each, how many accounts retweeted it, and "
        "whether it is one of the campaign's own accounts (with no campaign: one of any "
        "campaign's own), in one campaign or, with no campaign, in all of them (each "
        f"campaign's {RETWEETED_KEEP} most retweeted added up)." + _ALL_NOTE,
        "retweeted",
        "value AS retweet_userid, label AS screen_name, tweets AS retweets, "
        "accounts AS retweeted_by_accounts, internal AS campaign_account",
    ),
    Query(
        "shared_urls_across_campaigns",
        "URLs and domains shared across campaigns",
        "Domains and exact URLs that more than one campaign tweeted, most campaigns first "
        "(precomputed at build time).",
        """SELECT kind, value, campaigns, tweets, campaign_names FROM shared_values
ORDER BY campaigns DESC, tweets DESC, kind, value LIMIT 1000""",
        (),
        frozenset({"shared_values"}),
        reads=frozenset({"shared_values"}),
    ),
    # For a database built before shared_values existed.
    Query(
        "shared_urls_across_campaigns",
        "URLs and domains shared across campaigns",
        "Domains and exact URLs that more than one campaign tweeted, most campaigns first.",
        """SELECT * FROM (
  SELECT 'domain' AS kind, value, count(*) AS campaigns, sum(tweets) AS tweets,
    group_concat(campaign, ' ') AS campaign_names
  FROM campaign_top WHERE kind = 'domain' GROUP BY value HAVING count(*) > 1
  UNION ALL
  SELECT 'url', url, count(*), sum(tweets), group_concat(campaign, ' ')
  FROM campaign_urls GROUP BY url HAVING count(*) > 1
)
ORDER BY campaigns DESC, tweets DESC, kind, value LIMIT 1000""",
        (),
        frozenset({"campaign_top", "campaign_urls"}),
        reads=frozenset({"campaign_top", "campaign_urls"}),
    ),
    Query(
        "user_timeline",
        "An account's timeline",
        "Every tweet of an account (its userid, which may be a hash), oldest first, "
        "in every campaign that holds it.",
        """SELECT tweetid_str AS tweetid, tweet_time, campaign, tweet_language, tweet_text,
  is_retweet, retweet_userid, in_reply_to_tweetid_str AS in_reply_to_tweetid,
  hashtags, urls, like_count, retweet_count
FROM tweets WHERE userid = :userid
ORDER BY tweet_time, tweetid LIMIT 1000""",
        ("userid",),
        reads=frozenset({"tweets"}),
    ),
)

# The evidence behind a coordination edge, both directions. Each direction is
# read by the evidence table's key (run_id, userid_a, userid_b) for each run,
# and each tweet by its id (BETWEEN, as in the search, so that SQLite does not
# build a Bloom filter over every tweet first).
_EVIDENCE_DIRECTION = """SELECT e.run_id, r.kind, r.window_minutes, '{label}' AS direction,
  e.userid_a, e.userid_b, e.object, e.minutes_apart,
  CAST(e.tweetid_a AS TEXT) AS tweetid_a, ta.tweet_time AS time_a, ta.tweet_text AS text_a,
  CAST(e.tweetid_b AS TEXT) AS tweetid_b, tb.tweet_time AS time_b, tb.tweet_text AS text_b
FROM coordination_runs r
JOIN coordination_evidence e ON e.run_id = r.id AND e.userid_a = {a} AND e.userid_b = {b}
LEFT JOIN tweets ta ON ta.tweetid BETWEEN e.tweetid_a AND e.tweetid_a
LEFT JOIN tweets tb ON tb.tweetid BETWEEN e.tweetid_b AND e.tweetid_b
WHERE :run_id = '' OR r.id = :run_id"""
_EVIDENCE_SQL = f"""SELECT * FROM (
{_EVIDENCE_DIRECTION.format(label="A→B", a=":userid_a", b=":userid_b")}
UNION ALL
{_EVIDENCE_DIRECTION.format(label="B→A", a=":userid_b", b=":userid_a")}
)
ORDER BY run_id, direction, time_a, tweetid_a LIMIT 1000"""

# Not named coordination_evidence: a canned query of a table's name hides the
# table on Datasette 0.65, and is itself hidden by the table on 1.0.
EVIDENCE_QUERY = "coordination_evidence_pair"

QUERIES += (
    Query(
        EVIDENCE_QUERY,
        "Why are two accounts linked?",
        "The tweets that tie account A to account B in the coordination networks, both "
        "directions: each tweet of one that matched a tweet of the other (the nearest), "
        "the shared object (retweeted tweet, text, URL, reply target or hashtag) and the "
        "minutes between them. Optionally one run (its id in coordination_runs); at most "
        "1,000 rows.",
        _EVIDENCE_SQL,
        ("userid_a", "userid_b", "run_id"),
        frozenset({"coordination_runs", "coordination_evidence"}),
        reads=frozenset({"coordination_runs", "coordination_evidence", "tweets"}),
    ),
)

NAMES = tuple(dict.fromkeys(query.name for query in QUERIES))


def _table_names(conn):
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def available(conn):
    """The queries this database can run; none if it is not a TEI database."""
    if not is_tei_database(conn):
        return []
    tables = _table_names(conn)
    chosen = {}
    for query in QUERIES:  # the first variant whose tables exist
        if query.name not in chosen and query.requires <= tables:
            chosen[query.name] = query
    return list(chosen.values())


async def for_database(db):
    return await db.execute_fn(available)


def _needs(query):
    return set(access.TEI_TABLES) | query.reads


async def may_run(datasette, actor, database, query):
    """Whether the actor may view every table the query reads."""
    needs = _needs(query)
    return await access.viewable_tables(datasette, actor, database, needs) == needs


# --- Datasette 0.65: the canned_queries and permission_allowed hooks ---------

def _owners_queries(datasette, database):
    """The names of the queries the owner's metadata defines. Not simply its
    keys: when the owner defines any query, Datasette 0.65 adds the hook's
    answers to that very dictionary, each with its name."""
    queries = datasette.metadata("queries", database=database, fallback=False) or {}
    ours = [dict(query.canned(), name=query.name) for query in QUERIES]
    return {name for name, query in queries.items() if query not in ours}


async def canned_queries(datasette, database):
    """0.65: the hook's answer for one database, without the names the
    owner's metadata defines (Datasette would let the hook's replace them)."""
    db = datasette.databases.get(database)
    if db is None:
        return {}
    owners = _owners_queries(datasette, database)
    return {query.name: query.canned() for query in await for_database(db)
            if query.name not in owners}


async def view_query_allowed(datasette, actor, resource):
    """0.65's `view-query` verdict: False for one of the plugin's queries
    that reads a table the actor may not view, else None (no opinion: the
    owner's configuration decides)."""
    if not isinstance(resource, (tuple, list)) or len(resource) != 2:
        return None
    database, name = resource
    db = datasette.databases.get(database)
    if name not in NAMES or db is None or name in _owners_queries(datasette, database):
        return None
    for query in await for_database(db):
        if query.name == name:
            return None if await may_run(datasette, actor, database, query) else False
    return None


# --- Datasette 1.0: add_query from startup, permission_resources_sql ---------

# The queries the plugin added, by Datasette instance: {(database, name): Query}.
_added = weakref.WeakKeyDictionary()


def _is_ours(stored):
    # A plugin's, not the owner's (source "config", or "user" for one saved
    # from Datasette's pages): ours, perhaps from an earlier version of the
    # plugin kept in a persistent internal database, and replaced.
    return stored.source == "plugin"


async def register_all(datasette):
    """1.0: add every query to every TEI database, from `startup`, except
    where a query of that name exists already: datasette.yaml's are saved
    before `startup` runs, and the owner's stays, with its `allow`."""
    added = {}
    for name, db in list(datasette.databases.items()):
        if name == "_internal":
            continue
        for query in await for_database(db):
            stored = await datasette.get_query(name, query.name)
            if stored is not None and not _is_ours(stored):
                continue
            await datasette.add_query(
                name,
                query.name,
                query.sql,
                title=query.title,
                description=query.description,
                parameters=list(query.params),
                hide_sql=query.hide_sql,
                # Like 0.65's canned queries: they run where arbitrary SQL
                # is not allowed (a published instance may turn that off).
                is_trusted=True,
                source="plugin",
            )
            added[(name, query.name)] = query
    _added[datasette] = added


async def denied(datasette, actor):
    """1.0: the (database, name) of each query the plugin added that reads
    a table the actor may not view; the tables of each database asked at
    once, as the hook answers for every query."""
    by_database = {}
    for (database, name), query in _added.get(datasette, {}).items():
        by_database.setdefault(database, {})[name] = query
    rows = []
    for database, added in by_database.items():
        needs = set().union(*map(_needs, added.values()))
        visible = await access.viewable_tables(datasette, actor, database, needs)
        rows += [(database, name) for name, query in added.items() if not _needs(query) <= visible]
    return rows


async def denied_permission_sql(datasette, actor):
    """1.0: a `view-query` deny rule for each query of denied(), for the
    permission_resources_sql hook; None when there is none."""
    from datasette.permissions import PermissionSQL

    rows = await denied(datasette, actor)
    if not rows:
        return None
    # Datasette joins every plugin's parameters in one dictionary: prefixed.
    params = {"datasette_tei_reason": "datasette-tei: the query reads a table the actor may not view"}
    selects = []
    for i, (database, name) in enumerate(rows):
        params[f"datasette_tei_db_{i}"] = database
        params[f"datasette_tei_query_{i}"] = name
        selects.append(f"SELECT :datasette_tei_db_{i} AS parent, :datasette_tei_query_{i} AS child, "
                       f"0 AS allow, :datasette_tei_reason AS reason")
    return PermissionSQL(sql="\nUNION ALL\n".join(selects), params=params)
