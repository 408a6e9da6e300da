"""A member loaded again with new content replaces what its old version loaded.

A member is known by its archive's path, its name inside the archive and
its campaign. When a build finds one whose checksum differs from the one
loaded before (a zip re-downloaded after Twitter replaced it, a CSV fixed
by hand), it first removes everything the old version brought: its tweets
and their full-text entries, its users, its rejected rows, its
shared_tweets memberships and its `done` imports rows. This runs inside the
archive's transaction, before the new version loads, and inside the
member's savepoint: if the new version cannot be read, the old one stays.

A tweet of the old version that another campaign's archive also holds
(a shared_tweets row) is not deleted: it passes to that campaign, so the
other archive keeps every tweet it had. Each campaign whose rows change is
marked dirty, and the build's last step recomputes its figures and
summaries; the accounts derived from a campaign's tweets (users rows with
from_users_file = 0) are derived again there too.
"""
from .. import search
from ..schema import FTS_TABLE


def previous_imports(conn, archive, member):
    """Ids of the imports rows of an earlier version of this member that
    loaded. (Rows of attempts that failed loaded nothing, and stay as the
    history of the member.)"""
    return [row[0] for row in conn.execute(
        "SELECT id FROM imports WHERE path = ? AND member IS ? AND campaign = ? AND status = 'done'",
        (archive.path, member.name or None, archive.campaign),
    )]


def forget(conn, campaign, import_ids):
    """Remove what the imports `import_ids` of `campaign` loaded (in the caller's transaction)."""
    if not import_ids:
        return
    conn.create_function("tei_index_text", 1, search.index_text, deterministic=True)
    conn.execute("DROP TABLE IF EXISTS temp._tei_forget")
    conn.execute("CREATE TEMP TABLE _tei_forget (id INTEGER PRIMARY KEY)")
    conn.executemany("INSERT INTO temp._tei_forget (id) VALUES (?)", [(i,) for i in import_ids])
    # The old version's tweets (one scan: import_id has no index, and a
    # replaced member is rare), each with the campaign that inherits it:
    # the first other campaign whose archive also holds it, if any.
    conn.execute("DROP TABLE IF EXISTS temp._tei_old")
    conn.execute("""
        CREATE TEMP TABLE _tei_old AS
        SELECT t.tweetid AS tweetid,
               (SELECT s.campaign FROM shared_tweets s WHERE s.tweetid = t.tweetid
                ORDER BY s.campaign LIMIT 1) AS heir
        FROM tweets t WHERE t.import_id IN (SELECT id FROM temp._tei_forget)
    """)
    conn.execute("CREATE INDEX temp._tei_old_tweetid ON _tei_old (tweetid)")
    conn.execute("INSERT OR IGNORE INTO tei_dirty (campaign) VALUES (?)", (campaign,))
    conn.execute("INSERT OR IGNORE INTO tei_dirty (campaign) "
                 "SELECT DISTINCT heir FROM temp._tei_old WHERE heir IS NOT NULL")
    # An external-content index forgets a row only when told the text it
    # indexed: the tweet's own, or its pairs of unspaced characters.
    conn.execute(f"""
        INSERT INTO [{FTS_TABLE}] ([{FTS_TABLE}], rowid, tweet_text)
        SELECT 'delete', t.tweetid, coalesce(tei_index_text(t.tweet_text), t.tweet_text)
        FROM temp._tei_old o JOIN tweets t ON t.tweetid = o.tweetid WHERE o.heir IS NULL
    """)
    conn.execute("DELETE FROM tweets WHERE tweetid IN (SELECT tweetid FROM temp._tei_old WHERE heir IS NULL)")
    # Inherited: the row (and its index entry) stays, owned by the heir,
    # whose membership row it replaces.
    conn.execute("""
        UPDATE tweets SET campaign = o.heir, import_id = (
            SELECT s.import_id FROM shared_tweets s WHERE s.tweetid = o.tweetid AND s.campaign = o.heir)
        FROM temp._tei_old o WHERE o.tweetid = tweets.tweetid AND o.heir IS NOT NULL
    """)
    conn.execute("""
        DELETE FROM shared_tweets WHERE (tweetid, campaign) IN (
            SELECT tweetid, heir FROM temp._tei_old WHERE heir IS NOT NULL)
    """)
    # The old version's memberships in tweets other campaigns own.
    conn.execute("DELETE FROM shared_tweets WHERE campaign = ? AND import_id IN (SELECT id FROM temp._tei_forget)",
                 (campaign,))
    conn.execute("DELETE FROM users WHERE campaign = ? AND import_id IN (SELECT id FROM temp._tei_forget)",
                 (campaign,))
    # Accounts derived from the campaign's tweets: derived again when its
    # figures are recomputed, from the tweets it has then.
    conn.execute("DELETE FROM users WHERE campaign = ? AND from_users_file = 0", (campaign,))
    conn.execute("DELETE FROM rejects WHERE import_id IN (SELECT id FROM temp._tei_forget)")
    conn.execute("DELETE FROM imports WHERE id IN (SELECT id FROM temp._tei_forget)")
    conn.execute("DROP TABLE temp._tei_old")
    conn.execute("DROP TABLE temp._tei_forget")
