"""The rankings of all campaigns together, precomputed from each campaign's
(campaign_top), so that a canned query with no campaign (top hashtags, top
domains, most retweeted accounts) reads at most KEEP rows of one small table
instead of grouping every campaign's hashtags per request.

Figures are the campaigns' figures added up: a tweet that two campaigns'
archives hold (shared_tweets) counts in each, and so does an account that
two campaigns list. `campaigns` says in how many campaigns a value ranks.
The most retweeted accounts add up each campaign's top RETWEETED_KEEP
(summaries.py), so an account is counted only where it ranks that high.
"""

TABLE = "campaign_top_all"
KINDS = ("hashtag", "domain", "retweeted")
KEEP = 1000  # per kind: the queries show 500

SCHEMA = f"""CREATE TABLE IF NOT EXISTS [{TABLE}] (
  [kind] TEXT NOT NULL,
  [rank] INTEGER NOT NULL,
  [value] TEXT,
  [label] TEXT,
  [tweets] INTEGER NOT NULL,
  [accounts] INTEGER,
  [internal] INTEGER,
  [campaigns] INTEGER NOT NULL,
  PRIMARY KEY ([kind], [rank])
) WITHOUT ROWID"""


def exists(conn):
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone() is not None


def refresh(conn):
    """Recompute the table from campaign_top, inside the caller's transaction."""
    conn.execute(SCHEMA)
    conn.execute(f"DELETE FROM [{TABLE}]")
    placeholders = ", ".join("?" for _ in KINDS)
    conn.execute(
        f"""INSERT INTO [{TABLE}] (kind, rank, value, label, tweets, accounts, internal, campaigns)
SELECT kind, rank, value, label, tweets, accounts, internal, campaigns FROM (
  SELECT kind, value, max(label) AS label, sum(tweets) AS tweets, sum(accounts) AS accounts,
    max(internal) AS internal, count(*) AS campaigns,
    row_number() OVER (PARTITION BY kind ORDER BY sum(tweets) DESC, sum(accounts) DESC, value)
      AS rank
  FROM campaign_top WHERE kind IN ({placeholders})
  GROUP BY kind, value
)
WHERE rank <= ?""",
        (*KINDS, KEEP),
    )
