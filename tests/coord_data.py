"""Inputs for the coordination tests, and an independent statement of the
definitions (docs/coordination.md) in plain Python to check the SQL against."""
import datetime
import json
import random
import re
import sqlite3
from collections import Counter, defaultdict

from datasette_tei.build import synthetic


def write_campaign(root, name, users, rows, layout="2020"):
    """<name>_tweets_csv_hashed.csv and <name>_users_csv_hashed.csv in root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}_tweets_csv_hashed.csv").write_text(synthetic.tweets_csv_text(rows, layout), encoding="utf-8")
    (root / f"{name}_users_csv_hashed.csv").write_text(synthetic.users_csv_text(users, layout), encoding="utf-8")


def planted_sources(root, n_background=3000, seed=5, events=5):
    """Two campaigns, alpha and beta: background accounts tweeting at random
    over three years (the planted accounts too, now and then), and four
    planted groups; the last has two accounts in each campaign.
    Returns (alpha folder, beta folder, groups)."""
    rng = random.Random(seed)
    background = synthetic.make_users(40, seed=seed)
    groups = synthetic.make_planted_groups([6, 5, 4, 4], seed=seed)
    alpha_users = background[:20] + groups[0] + groups[1] + groups[2] + groups[3][:2]
    beta_users = background[20:] + groups[3][2:]
    everyone = alpha_users + beta_users
    rows = [synthetic.make_tweet(rng, i, everyone[rng.randrange(len(everyone))], "2020", background)
            for i in range(n_background)]
    rows += synthetic.planted_tweets(groups, events=events, background=background, seed=seed)
    in_alpha = {user["userid"] for user in alpha_users}
    write_campaign(root / "alpha", "alpha_082020", alpha_users, [r for r in rows if r["userid"] in in_alpha])
    write_campaign(root / "beta", "beta_092020", beta_users, [r for r in rows if r["userid"] not in in_alpha])
    return root / "alpha", root / "beta", groups


# --- The definitions, independently ---------------------------------------------

_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200b))) + "\u2028\u2029\u202f\u205f\u3000"
_MENTION = re.compile("@[^" + re.escape(_WHITESPACE) + "]*")


def normalised(text):
    return " ".join(_MENTION.sub("", text.lower()).split())


def minute(tweet_time):
    when = datetime.datetime.strptime(tweet_time[:16], "%Y-%m-%d %H:%M")
    return int(when.replace(tzinfo=datetime.timezone.utc).timestamp()) // 60


def is_retweet(row):
    return row["retweet_tweetid"] is not None or row["is_retweet"] == 1


def objects(row, kind):
    """What a tweet (a row of the tweets table) shares, for one kind."""
    if kind == "co_retweet":
        return {str(row["retweet_tweetid"])} if row["retweet_tweetid"] is not None else set()
    if is_retweet(row):
        return set()
    if kind == "co_tweet":
        text = normalised(row["tweet_text"] or "")
        return {text} if text else set()
    if kind == "co_link":
        return {url for url in json.loads(row["urls"]) if url}
    if kind == "co_reply":
        return {str(row["in_reply_to_tweetid"])} if row["in_reply_to_tweetid"] is not None else set()
    if kind == "co_hashtag":
        return {tag.lower() for tag in json.loads(row["hashtags"]) if tag}
    raise ValueError(kind)


def tweet_rows(db_path):
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM tweets")]
    finally:
        conn.close()


def expected_network(rows, kind, window, min_weight):
    """(edges, evidence) as the definitions say, by brute force:
    edges {(a, b): (campaign_a, campaign_b, weight, weight_reverse, first, last)},
    evidence {(a, b, tweetid_a): (tweetid_b, object, minutes_apart)}."""
    by_object = defaultdict(list)
    for row in rows:
        if row["userid"] and row["tweet_time"]:
            for value in objects(row, kind):
                by_object[value].append(row)
    best = {}
    for value, items in by_object.items():
        for a in items:
            for b in items:
                if a["userid"] == b["userid"]:
                    continue
                apart = abs(minute(a["tweet_time"]) - minute(b["tweet_time"]))
                if apart > window:
                    continue
                key = (a["userid"], b["userid"], a["tweetid"])
                candidate = (apart, b["tweetid"], value)
                if key not in best or candidate < best[key]:
                    best[key] = candidate
    weights = Counter((a, b) for a, b, _ in best)
    by_tweet = {row["tweetid"]: row for row in rows}
    edges, evidence = {}, {}
    for (a, b), weight in weights.items():
        if weight < min_weight:
            continue
        mine = [(ta, tb, value, apart) for (ua, ub, ta), (apart, tb, value) in best.items() if (ua, ub) == (a, b)]
        for ta, tb, value, apart in mine:
            evidence[(a, b, ta)] = (tb, value, apart)
        campaigns_a = Counter(by_tweet[ta]["campaign"] for ta, *_ in mine)
        campaigns_b = Counter(by_tweet[tb]["campaign"] for tb in {tb for _, tb, _, _ in mine})
        times = [by_tweet[ta]["tweet_time"] for ta, *_ in mine]
        edges[(a, b)] = (
            min(campaigns_a, key=lambda c: (-campaigns_a[c], c)),
            min(campaigns_b, key=lambda c: (-campaigns_b[c], c)),
            weight, weights.get((b, a), 0), min(times), max(times),
        )
    return edges, evidence


def stored_network(db_path, run_id):
    conn = sqlite3.connect(db_path)
    try:
        edges = {
            (a, b): (ca, cb, w, r, first, last)
            for a, b, ca, cb, w, r, first, last in conn.execute(
                "SELECT userid_a, userid_b, campaign_a, campaign_b, weight, weight_reverse, first_time, "
                "last_time FROM coordination_edges WHERE run_id = ?", (run_id,))
        }
        evidence = {
            (a, b, ta): (tb, value, apart)
            for a, b, ta, tb, value, apart in conn.execute(
                "SELECT userid_a, userid_b, tweetid_a, tweetid_b, object, minutes_apart "
                "FROM coordination_evidence WHERE run_id = ?", (run_id,))
        }
        return edges, evidence
    finally:
        conn.close()


def dense_rows(n=2500, n_users=30, seed=3, minutes=120, layout="2020"):
    """Tweets crowded into a few hours, with few texts, URLs and retweeted
    tweets, so that chance matches abound: the edge cases of the window
    (same minute, one apart, exactly W apart), several matching tweets of B
    at the same distance, a URL twice in one tweet, retweets carrying URLs,
    texts that differ only in case, spacing and @mentions.
    Returns (users, rows)."""
    rng = random.Random(seed)
    users = synthetic.make_users(n_users, layout, seed=seed)
    names = [user["user_screen_name"][:15] for user in users]
    texts = [" ".join(rng.sample(synthetic.PLANTED_WORDS, rng.randint(2, 6))) for _ in range(25)]
    urls = [f"https://example.com/{i}" for i in range(25)]
    start = datetime.datetime(2019, 5, 1, 12, 0)
    rows = []
    true, false = "True", "False"
    for i in range(n):
        user = users[rng.randrange(n_users)]
        row = synthetic.make_tweet(rng, i, user, layout, users, year=2019, first_id=5 * 10**17)
        when = start + datetime.timedelta(minutes=rng.randrange(minutes))
        row["tweet_time"] = when.strftime("%Y-%m-%d %H:%M")
        roll = rng.random()
        row.update({"is_retweet": false, "retweet_tweetid": "", "retweet_userid": "",
                    "in_reply_to_tweetid": "", "in_reply_to_userid": ""})
        if roll < 0.3:
            row["is_retweet"] = true
            row["retweet_tweetid"] = str(10**15 + rng.randrange(15))
            row["tweet_text"] = "RT @x: " + rng.choice(texts)
        elif roll < 0.32:
            row["is_retweet"] = true  # a retweet without its id, as some rows are
            row["tweet_text"] = "RT @y: " + rng.choice(texts)
        else:
            row["tweet_text"] = synthetic.vary_text(rng, rng.choice(texts).split(), names)
            if rng.random() < 0.15:
                row["in_reply_to_tweetid"] = str(10**15 + rng.randrange(6))
        chosen = [rng.choice(urls) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]
        row["urls"] = synthetic._list_value(chosen, layout, "[]")
        rows.append(row)
    return users, rows
