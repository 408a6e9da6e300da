"""An account's figures, profile, campaigns and timeline: the data of the
account page (/-/tei/accounts/<userid>), read from one database.

An account's tweets are the rows of tweets with its userid, wherever their
campaigns: every figure counts rows of that set, and its link (made by the
page) filters tweets by the same userid and one more column, so that the
figure equals what the link opens. `figures()` is the one definition of
those counts: the page computes them from the (userid, tweet_time) index
and the rows for an account of a few thousand tweets, and the build stores
them (account_summaries) for the accounts with more, which would take too
long per request. Timelines are read a page at a time, by keyset on the same
index.
"""
import functools
import json
from collections import Counter

from . import summaries, time_bins
from .schema import dict_rows as _dicts
from .schema import now
from .schema import tables_and_views as _tables

# Accounts with at least this many tweets get their figures stored by the
# build: reading a few thousand rows takes a few milliseconds; 100,000 take
# a second or more.
STORE_FROM_TWEETS = 2000
TOP = 15  # rows in each of the page's tables
TIMELINE_PAGE = 50

TABLE = "account_summaries"
SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS [{TABLE}] (
  [userid] TEXT PRIMARY KEY,
  [tweets] INTEGER NOT NULL,
  [figures] TEXT NOT NULL,
  [computed] TEXT
) WITHOUT ROWID""",
)

PROFILE_COLUMNS = (
    "campaign", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language", "is_hashed", "from_users_file",
)

TIMELINE_COLUMNS = (
    "tweetid", "tweet_time", "campaign", "tweet_text", "tweet_language", "tweet_client_name",
    "is_retweet", "retweet_userid", "retweet_tweetid", "in_reply_to_userid",
    "in_reply_to_tweetid", "quoted_tweet_tweetid", "hashtags", "urls",
)


def ensure(conn):
    for sql in SCHEMA:
        conn.execute(sql)


def _list(value):
    """A JSON list of strings from a hashtags or urls cell; [] for anything else."""
    if not value or value == "[]":
        return []
    try:
        items = json.loads(value)
    except (TypeError, ValueError):
        return []
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, str) and item]


def _top(counter, n=TOP):
    # Ties in a stable order: the larger count, then the value.
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], "" if kv[0] is None else str(kv[0])))
    return [{"value": value, "tweets": count} for value, count in ranked[:n]]


def figures(conn, userid):
    """Every figure of the account over its tweets, in one pass over its rows
    (found by the (userid, tweet_time) index, read in rowid order)."""
    total = retweets = 0
    first = last = None
    days, months, hours = Counter(), Counter(), Counter()
    languages, clients, hashtags, domains, retweeted = (Counter() for _ in range(5))
    # Each URL's domain parsed once, in a bounded cache: an account may
    # have a million distinct URLs, and the build stays under 200 MB.
    domain_of = functools.lru_cache(maxsize=16384)(summaries.domain)
    for (tweet_time, is_retweet, language, client, tags, urls, retweet_userid) in conn.execute(
        """SELECT t.tweet_time, t.is_retweet, t.tweet_language, t.tweet_client_name, t.hashtags,
                  t.urls, t.retweet_userid
        FROM (SELECT tweetid FROM tweets WHERE userid = ? ORDER BY +tweetid) i
        CROSS JOIN tweets t ON t.tweetid = i.tweetid""",
        (userid,),
    ):
        total += 1
        if tweet_time:
            first = tweet_time if first is None else min(first, tweet_time)
            last = tweet_time if last is None else max(last, tweet_time)
            days[tweet_time[:10]] += 1
            months[tweet_time[:7]] += 1
            if len(tweet_time) >= 13 and tweet_time[11:13].isdigit():
                hours[int(tweet_time[11:13])] += 1
        if is_retweet == 1:
            retweets += 1
            if retweet_userid:
                retweeted[retweet_userid] += 1
        languages[language or None] += 1
        clients[client or None] += 1
        for tag in set(_list(tags)):
            hashtags[tag] += 1
        seen = set()
        for url in _list(urls):
            name = domain_of(url)
            if name:
                seen.add(name)
        for name in seen:
            domains[name] += 1
    peak = _top(days, 1)
    # The days only where the chart draws them (time_bins): a stored
    # account's figures stay small whatever its span.
    by_day = sorted(days.items()) if days and time_bins.within_weeks(min(days), max(days)) else []
    return {
        "tweets": total,
        "retweets": retweets,
        "retweet_share": round(retweets / total, 4) if total else None,
        "first_tweet": first,
        "last_tweet": last,
        "active_days": len(days),
        "peak_day": peak[0]["value"] if peak else None,
        "peak_day_tweets": peak[0]["tweets"] if peak else 0,
        "months": [{"month": m, "tweets": n} for m, n in sorted(months.items())],
        "days": [{"day": d, "tweets": n} for d, n in by_day],
        "hours": [{"hour": h, "tweets": hours.get(h, 0)} for h in range(24)],
        "languages": _top(languages, None),
        "clients": _top(clients, None),
        "hashtags": _top(hashtags),
        "domains": _top(domains),
        "retweeted_accounts": _top(retweeted),
    }


def tweet_count(conn, userid):
    """The account's tweets, from the (userid, tweet_time) index alone."""
    return conn.execute("SELECT count(*) FROM tweets WHERE userid = ?", (userid,)).fetchone()[0]


def stored_or_live_figures(conn, userid, tables=None):
    """The figures the build stored for the account when they still count
    its tweets, else computed now. A stored summary that no longer matches
    (a build interrupted before it was refreshed) is used only when the
    account has too many tweets to count per request, and then says so."""
    tables = tables if tables is not None else _tables(conn)
    count = tweet_count(conn, userid)
    stored = None
    if TABLE in tables:
        row = conn.execute(f"SELECT tweets, figures FROM [{TABLE}] WHERE userid = ?", (userid,)).fetchone()
        if row:
            stored = json.loads(row[1])
            if row[0] == count:
                stored["source"] = "stored"
                return stored
    if stored is not None and count >= STORE_FROM_TWEETS:
        stored["source"] = "stale"
        return stored
    live = figures(conn, userid)
    live["source"] = "live"
    return live


def refresh(conn, campaign):
    """Store the figures of the campaign's accounts that have many tweets
    (inside the caller's transaction; after summaries.refresh, whose
    campaign_top lists the campaign's accounts)."""
    ensure(conn)
    accounts = [row[0] for row in conn.execute(
        "SELECT value FROM campaign_top WHERE campaign = ? AND kind = 'account' AND value IS NOT NULL",
        (campaign,))]
    for userid in accounts:
        count = tweet_count(conn, userid)
        if count < STORE_FROM_TWEETS:
            conn.execute(f"DELETE FROM [{TABLE}] WHERE userid = ?", (userid,))
            continue
        conn.execute(
            f"INSERT OR REPLACE INTO [{TABLE}] (userid, tweets, figures, computed) VALUES (?, ?, ?, ?)",
            (userid, count, json.dumps(figures(conn, userid), ensure_ascii=False), now()),
        )


# --- What the page reads besides the figures ---------------------------------

def profiles(conn, userid):
    """The account's rows of users, one per campaign, users files first."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(users)")}
    columns = [c for c in PROFILE_COLUMNS if c in present]
    order = "from_users_file DESC, campaign" if "from_users_file" in present else "campaign"
    return _dicts(conn.execute(
        f"SELECT {', '.join(f'[{c}]' for c in columns)} FROM users WHERE userid = ? ORDER BY {order}",
        (userid,)))


def campaigns(conn, userid, tables=None):
    """Every campaign that holds the account (a users row or tweets), with
    its tweets in that campaign (shared ones included, as campaign_top
    counts them) and whether the campaign has tweets another archive holds."""
    tables = tables if tables is not None else _tables(conn)
    found = {}
    for (name,) in conn.execute("SELECT campaign FROM users WHERE userid = ?", (userid,)):
        found[name] = {"campaign": name, "tweets": 0, "in_users": True}
    if "campaign_top" in tables:
        for name, tweets in conn.execute(
            "SELECT campaign, tweets FROM campaign_top WHERE kind = 'account' AND value = ?", (userid,)
        ):
            found.setdefault(name, {"campaign": name, "in_users": False})["tweets"] = tweets
    else:
        for name, tweets in conn.execute(
            "SELECT campaign, count(*) FROM tweets WHERE userid = ? GROUP BY campaign", (userid,)
        ):
            found.setdefault(name, {"campaign": name, "in_users": False})["tweets"] = tweets
    columns = {row[1] for row in conn.execute("PRAGMA table_info(campaigns)")}
    for name, entry in found.items():
        row = conn.execute(
            "SELECT country, release, shared_tweets FROM campaigns WHERE name = ?"
            if "shared_tweets" in columns else
            "SELECT country, release, 0 FROM campaigns WHERE name = ?", (name,)).fetchone()
        entry["country"], entry["release"], entry["shared_tweets"] = row if row else (None, None, 0)
    return sorted(found.values(), key=lambda e: (e["release"] or "", e["campaign"]))


def screen_names(conn, userids):
    """{userid: screen name} for the ids a users file or a tweet's profile names."""
    names = {}
    for userid in userids:
        row = conn.execute("SELECT user_screen_name FROM users WHERE userid = ? "
                           "AND user_screen_name IS NOT NULL ORDER BY from_users_file DESC LIMIT 1",
                           (userid,)).fetchone()
        if row:
            names[userid] = row[0]
    return names


def retweeted_by(conn, userid):
    """Tweets of the database that have the account as retweet_userid (its index alone)."""
    return conn.execute("SELECT count(*) FROM tweets WHERE retweet_userid = ?", (userid,)).fetchone()[0]


def partners(conn, userid, tables=None, limit=50):
    """The account's edges in each coordination network the build computed
    (coordination_edges, A -> B), strongest first."""
    tables = tables if tables is not None else _tables(conn)
    if not {"coordination_runs", "coordination_edges"} <= tables:
        return None
    # One lookup per run on the edges' (run_id, userid_a, ...) key.
    return _dicts(conn.execute(
        """SELECT e.run_id, r.kind, r.window_minutes, r.min_weight, r.scope, e.userid_b,
                  e.campaign_b, e.weight, e.weight_reverse, e.symmetry, e.first_time, e.last_time,
                  (SELECT u.user_screen_name FROM users u WHERE u.userid = e.userid_b
                   ORDER BY u.from_users_file DESC LIMIT 1) AS screen_name_b
        FROM coordination_runs r JOIN coordination_edges e ON e.run_id = r.id AND e.userid_a = ?
        ORDER BY e.weight DESC, e.run_id, e.userid_b LIMIT ?""",
        (userid, limit)))


def timeline(conn, userid, after=None, size=TIMELINE_PAGE):
    """A page of the account's tweets in time order, and the cursor of the
    next page (None at the end). `after` is (tweet_time or None, tweetid).

    Keyset on the (userid, tweet_time) index, whose entries end with the
    tweetid: each page is a range read, however deep. Tweets without a time
    sort first, as the index holds them."""
    columns = ", ".join(f"[{c}]" for c in TIMELINE_COLUMNS)
    rows = []
    if after is None or after[0] is None:
        last_id = after[1] if after else None
        rows = _dicts(conn.execute(
            f"SELECT {columns} FROM tweets WHERE userid = :u AND tweet_time IS NULL "
            "AND (:id IS NULL OR tweetid > :id) ORDER BY tweetid LIMIT :n",
            {"u": userid, "id": last_id, "n": size + 1}))
        if len(rows) <= size:
            rows += _dicts(conn.execute(
                f"SELECT {columns} FROM tweets WHERE userid = :u AND tweet_time IS NOT NULL "
                "ORDER BY tweet_time, tweetid LIMIT :n",
                {"u": userid, "n": size + 1 - len(rows)}))
    else:
        rows = _dicts(conn.execute(
            f"SELECT {columns} FROM tweets WHERE userid = :u AND (tweet_time, tweetid) > (:t, :id) "
            "ORDER BY tweet_time, tweetid LIMIT :n",
            {"u": userid, "t": after[0], "id": after[1], "n": size + 1}))
    following = None
    if len(rows) > size:
        rows = rows[:size]
        following = (rows[-1]["tweet_time"], rows[-1]["tweetid"])
    # Which retweeted, replied-to and quoted tweets the database holds, so
    # that only those are linked to their rows.
    targets = {row[k] for row in rows for k in ("retweet_tweetid", "in_reply_to_tweetid",
                                                  "quoted_tweet_tweetid") if row[k]}
    held = set()
    if targets:
        marks = ", ".join("?" * len(targets))
        held = {r[0] for r in conn.execute(
            f"SELECT tweetid FROM tweets WHERE tweetid IN ({marks})", sorted(targets))}
    shared = {}
    ids = [row["tweetid"] for row in rows]
    if ids:
        marks = ", ".join("?" * len(ids))
        for tweetid, campaign in conn.execute(
            f"SELECT tweetid, campaign FROM shared_tweets WHERE tweetid IN ({marks}) ORDER BY campaign", ids
        ):
            shared.setdefault(tweetid, []).append(campaign)
    for row in rows:
        row["hashtags"] = _list(row["hashtags"])
        row["urls"] = _list(row["urls"])
        row["campaigns"] = [row["campaign"]] + shared.get(row["tweetid"], [])
        for key in ("retweet_tweetid", "in_reply_to_tweetid", "quoted_tweet_tweetid"):
            row[key.replace("tweetid", "held")] = row[key] in held if row[key] else False
    return rows, following


def tweet_campaigns(conn, tweetid):
    """Every campaign whose archive holds the tweet, the first one first."""
    row = conn.execute("SELECT campaign FROM tweets WHERE tweetid = ?", (tweetid,)).fetchone()
    if not row:
        return []
    others = [r[0] for r in conn.execute(
        "SELECT campaign FROM shared_tweets WHERE tweetid = ? ORDER BY campaign", (tweetid,))]
    return [row[0]] + others
