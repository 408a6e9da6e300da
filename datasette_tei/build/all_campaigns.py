"""The rankings of all campaigns together, precomputed from each campaign's
(campaign_top), so that a canned query with no campaign (top hashtags, top
domains, most retweeted accounts) reads at most KEEP rows of one small table
instead of grouping every campaign's hashtags per request; and the accounts
created each day, per campaign and of all campaigns together (campaign
ALL), which account_creation_bursts reads instead of grouping the users.

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


CREATION_TABLE = "campaign_creation_days"
ALL = ""  # the campaign of the rows of all campaigns together: no archive is named ''

CREATION_SCHEMA = f"""CREATE TABLE IF NOT EXISTS [{CREATION_TABLE}] (
  [campaign] TEXT NOT NULL,
  [day] TEXT NOT NULL,
  [accounts] INTEGER NOT NULL,
  [screen_names] TEXT,
  PRIMARY KEY ([campaign], [day])
) WITHOUT ROWID"""
# The bursts, largest first, without sorting a campaign's days.
CREATION_INDEX = (f"CREATE INDEX IF NOT EXISTS [idx_{CREATION_TABLE}_bursts] "
                  f"ON [{CREATION_TABLE}] ([campaign], [accounts] DESC, [day])")


def exists(conn):
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).fetchone() is not None


def refresh(conn):
    """Recompute the table from campaign_top, inside the caller's transaction."""
    conn.execute(SCHEMA)
    conn.execute(f"DELETE FROM [{TABLE}]")
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'campaign_top'").fetchone():
        return  # nothing summarised yet (a build that stopped at its first error)
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


def refresh_creation_days(conn):
    """Accounts created per day, per campaign and (an account counted once,
    on its earliest date) of all campaigns, inside the caller's transaction."""
    conn.execute(CREATION_SCHEMA)
    conn.execute(CREATION_INDEX)
    conn.execute(f"DELETE FROM [{CREATION_TABLE}]")
    dated = "account_creation_date IS NOT NULL AND account_creation_date <> ''"
    conn.execute(
        f"""INSERT INTO [{CREATION_TABLE}] (campaign, day, accounts, screen_names)
SELECT campaign, account_creation_date, count(*), group_concat(user_screen_name, ' ')
FROM users WHERE {dated} GROUP BY campaign, account_creation_date"""
    )
    conn.execute(
        f"""INSERT INTO [{CREATION_TABLE}] (campaign, day, accounts, screen_names)
SELECT ?, day, count(*), group_concat(user_screen_name, ' ') FROM (
  SELECT min(account_creation_date) AS day, min(user_screen_name) AS user_screen_name
  FROM users WHERE {dated} GROUP BY userid
) GROUP BY day""",
        (ALL,),
    )
