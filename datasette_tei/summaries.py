"""Per-campaign figures precomputed at build time, so that pages never
aggregate millions of rows per request."""

SUMMARY_TABLES = {
    "campaign_months": """CREATE TABLE IF NOT EXISTS [campaign_months] (
  [campaign] TEXT NOT NULL,
  [month] TEXT NOT NULL,
  [tweets] INTEGER NOT NULL,
  PRIMARY KEY ([campaign], [month])
) WITHOUT ROWID""",
}


def ensure(conn):
    for sql in SUMMARY_TABLES.values():
        conn.execute(sql)


def refresh(conn, campaign):
    """Recompute one campaign's summaries (inside the caller's transaction)."""
    ensure(conn)
    conn.execute("DELETE FROM campaign_months WHERE campaign = ?", (campaign,))
    conn.execute(
        """INSERT INTO campaign_months (campaign, month, tweets)
        SELECT campaign, substr(tweet_time, 1, 7), count(*) FROM tweets
        WHERE campaign = ? AND tweet_time IS NOT NULL GROUP BY 1, 2""",
        (campaign,),
    )
