"""Synthetic archives in the real TEI layouts: invented accounts and tweets.

Used for the bundled demo, by the tests (which build their own inputs) and
by the benchmarks (millions of rows). Nothing here is real data.
"""
import csv
import datetime
import io
import random
import zipfile

# Column orders as the real files have them. 2018: in_reply_to_tweetid
# before in_reply_to_userid, poll_choices present, every field quoted.
USERS_HEADER = [
    "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language",
]
_HEAD = ["tweetid"] + USERS_HEADER + ["tweet_language", "tweet_text", "tweet_time", "tweet_client_name"]
_TAIL = [
    "quoted_tweet_tweetid", "is_retweet", "retweet_userid", "retweet_tweetid", "latitude",
    "longitude", "quote_count", "reply_count", "like_count", "retweet_count", "hashtags",
    "urls", "user_mentions",
]
LAYOUTS = {
    # 31 columns, reply columns tweetid-first, every field quoted.
    "2018": _HEAD + ["in_reply_to_tweetid", "in_reply_to_userid"] + _TAIL + ["poll_choices"],
    # 31 columns, reply columns userid-first, minimal quoting.
    "2019": _HEAD + ["in_reply_to_userid", "in_reply_to_tweetid"] + _TAIL + ["poll_choices"],
    # 30 columns: poll_choices gone (from about 2020_05).
    "2020": _HEAD + ["in_reply_to_userid", "in_reply_to_tweetid"] + _TAIL,
}

WORDS = {
    "en": "election vote news freedom people government media truth war peace america "
    "police protest economy border president fake campaign rally".split(),
    "ru": "выборы новости свобода народ правительство правда война мир россия "
    "президент протест экономика граница митинг".split(),
    "zh": ["中华人民共和国", "香港", "政府", "民主", "新闻", "经济发展", "人民", "美国", "抗议", "和平"],
    "ar": "الانتخابات الأخبار الحرية الشعب الحكومة الحقيقة الحرب السلام قطر إيران".split(),
    "fa": "انتخابات اخبار آزادی مردم دولت حقیقت جنگ صلح آمریکا".split(),
}
CLIENTS = ["Twitter Web Client", "Twitter for Android", "Twitter for iPhone", "TweetDeck", "IFTTT"]
HASHTAGS = ["news", "MAGA", "BlackLivesMatter", "香港", "Россия", "إيران", "election2016"]
DOMAINS = ["example.com", "news.example.org", "bit.ly", "t.co"]


def _hash_id(rng, layout):
    """A hashed account id: 64 hex chars in 2018, base64-like later."""
    if layout == "2018":
        return "%064x" % rng.getrandbits(256)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return "".join(rng.choice(alphabet) for _ in range(43)) + "="


def make_users(n, layout="2020", seed=1, start_year=2012):
    """n invented accounts as dicts of USERS_HEADER; about half hashed."""
    rng = random.Random(seed)
    users = []
    for i in range(n):
        hashed = rng.random() < 0.5
        userid = _hash_id(rng, layout) if hashed else str(10**17 + rng.getrandbits(50) + i)
        name = userid if hashed else f"Patriot Voice {i}"
        screen = userid if hashed else f"patriot_voice_{i}"
        users.append(
            {
                "userid": userid,
                "user_display_name": name,
                "user_screen_name": screen,
                "user_reported_location": rng.choice(["", "USA", "Москва", "Tehran", "香港"]),
                "user_profile_description": rng.choice(["", "News 24/7", "Правда", "حقيقة"]),
                "user_profile_url": rng.choice(["", "https://t.co/abc123"]),
                "follower_count": str(rng.randint(0, 50000)),
                "following_count": str(rng.randint(0, 5000)),
                "account_creation_date": f"{start_year + rng.randint(0, 5)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "account_language": rng.choice(["en", "ru", "zh-cn", "zh-CN", "ar", "fa"]),
            }
        )
    return users


def _list_value(items, layout, empty, quote_items=True):
    if not items:
        return empty
    if layout == "2018" or not quote_items:
        return "[" + ", ".join(items) + "]"
    return repr(list(items))


def make_tweet(rng, i, user, layout, users, year=2016, first_id=10**17):
    """One invented tweet row (a dict keyed by the layout's header)."""
    language = rng.choice(list(WORDS))
    words = WORDS[language]
    text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
    is_retweet = rng.random() < 0.3
    target = rng.choice(users)
    if is_retweet:
        text = f"RT @{target['user_screen_name'][:15]}: {text}"
    if rng.random() < 0.05:
        text += "\nsecond line &amp; more"
    hashtags = rng.sample(HASHTAGS, rng.randint(0, 2))
    urls = [f"https://{rng.choice(DOMAINS)}/{rng.randint(1, 9999)}" for _ in range(rng.randint(0, 1))]
    mentions = [target["userid"]] if rng.random() < 0.2 else []
    reply = rng.random() < 0.1
    # Empty lists are written `""` or `[]`, even in adjacent rows.
    empty = rng.choice(["", "[]"])
    true, false = ("true", "false") if layout == "2018" else ("True", "False")
    row = dict(user)
    row.update(
        {
            "tweetid": str(first_id + i),
            "tweet_language": "zh-CN" if language == "zh" and rng.random() < 0.5 else language,
            "tweet_text": text,
            "tweet_time": f"{year + rng.randint(0, 2)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
            f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
            "tweet_client_name": rng.choice(CLIENTS),
            "in_reply_to_tweetid": str(first_id + rng.randint(0, max(i, 1))) if reply else "",
            "in_reply_to_userid": target["userid"] if reply else "",
            "quoted_tweet_tweetid": "",
            "is_retweet": true if is_retweet else false,
            # Quirk: retweet_userid is sometimes empty on a retweet.
            "retweet_userid": target["userid"] if is_retweet and rng.random() < 0.9 else "",
            "retweet_tweetid": str(first_id - 1 - rng.randint(0, 10**6)) if is_retweet else "",
            "latitude": "" if layout == "2018" else rng.choice(["absent", "absent", "present"]),
            "longitude": "" if layout == "2018" else "absent",
            "quote_count": rng.choice(["0", "0.0", "1", ""]),
            "reply_count": str(rng.randint(0, 3)),
            "like_count": str(rng.randint(0, 50)),
            "retweet_count": str(rng.randint(0, 20)),
            "hashtags": _list_value(hashtags, layout, empty),
            "urls": _list_value(urls, layout, empty),
            "user_mentions": _list_value(mentions, layout, empty, quote_items=False),
            "poll_choices": "",
        }
    )
    return row


def write_csv(handle, header, rows, layout):
    """Write rows (dicts) with the layout's quoting: all fields in 2018."""
    quoting = csv.QUOTE_ALL if layout == "2018" else csv.QUOTE_MINIMAL
    writer = csv.writer(handle, quoting=quoting, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row[name] for name in header])


def tweets_csv_text(rows, layout):
    out = io.StringIO()
    write_csv(out, LAYOUTS[layout], rows, layout)
    return out.getvalue()


def users_csv_text(users, layout):
    out = io.StringIO()
    write_csv(out, USERS_HEADER, users, layout)
    return out.getvalue()


def generate_tweets(n, layout="2020", n_users=1000, seed=7, first_id=10**17):
    """Yield n tweet rows from n_users invented accounts, lazily."""
    rng = random.Random(seed)
    users = make_users(n_users, layout, seed=seed)
    for i in range(n):
        yield make_tweet(rng, i, users[i % len(users)], layout, users, first_id=first_id)


def write_big_csv(path, n, layout="2020", n_users=5000, seed=7):
    """A large tweets CSV for the benchmarks, written as it is generated."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        write_csv(handle, LAYOUTS[layout], generate_tweets(n, layout, n_users, seed), layout)


def write_zip(path, members):
    """A zip of {member name: text}, deflated, as Twitter shipped them."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)


# --- Planted coordination ----------------------------------------------------

# What a planted group does together, one network kind each (coordination.py):
# retweet the same tweet, post the same text (each member varying its case,
# spacing and @mentions), share the same new URL, reply to the same tweet,
# use the same new hashtag. Every member acts within the same two minutes
# (minute t or t + 1), so that each pair of members matches at a window of
# one minute, at every event.
BEHAVIOURS = ("retweet", "text", "link", "reply", "hashtag")
PLANTED_WORDS = ("the vote was stolen share this before they delete it wake up people "
                 "truth media lies border crisis rally tonight").split()


def make_planted_groups(sizes, layout="2020", seed=11, created="2016-03"):
    """Accounts of planted groups: a list (one per size) of lists of user
    dicts, labelled synthetic in their profile; each group's accounts were
    created in the same month, as a farm's often are."""
    groups = []
    for number, size in enumerate(sizes, 1):
        users = make_users(size, layout, seed=seed * 1000 + number)
        for i, user in enumerate(users):
            user["user_profile_description"] = f"Synthetic account, planted group {number}"
            if user["user_screen_name"] != user["userid"]:  # not hashed
                user["user_display_name"] = f"Planted {number}.{i} (synthetic)"
                user["user_screen_name"] = f"planted_{number}_{i}"
            user["account_creation_date"] = f"{created}-{(i % 28) + 1:02d}"
        groups.append(users)
    return groups


def vary_text(rng, words, mentions):
    """The same words as another member posts them: other case, other
    spacing, @mentions added; equal once normalised (coordination.py)."""
    out = []
    for word in words:
        roll = rng.random()
        out.append(word.upper() if roll < 0.2 else word.capitalize() if roll < 0.4 else word)
        if mentions and rng.random() < 0.2:
            out.append("@" + rng.choice(mentions))
    if mentions and rng.random() < 0.5:
        out.insert(0, "@" + rng.choice(mentions))
    text = ""
    for i, word in enumerate(out):
        text += (rng.choice((" ", "  ", "\n", " \t ")) if i else rng.choice(("", " "))) + word
    return text + rng.choice(("", " ", "\n"))


def planted_tweets(groups, layout="2020", seed=13, first_id=6 * 10**17, events=4,
                   behaviours=BEHAVIOURS, year=2017, background=()):
    """Tweet rows of planted groups: for each group, `events` events of each
    behaviour, at times far apart; `background` accounts are @mentioned in
    the varied texts. Returns a list of rows (dicts of the layout's header)."""
    rng = random.Random(seed)
    mentions = [user["user_screen_name"][:15] for user in background] or ["someone"]
    rows = []
    true, false = ("true", "false") if layout == "2018" else ("True", "False")
    start = datetime.datetime(year, 1, 1)
    slot = 0
    for number, members in enumerate(groups, 1):
        for behaviour in behaviours:
            for event in range(events):
                # Events a day and some minutes apart: never within a window.
                slot += 1
                when = start + datetime.timedelta(days=slot, minutes=rng.randint(0, 1400))
                token = f"g{number}e{event}{behaviour[:2]}{seed}"
                words = rng.sample(PLANTED_WORDS, 7) + [token]
                for member in members:
                    row = make_tweet(rng, len(rows), member, layout, members, year=year,
                                     first_id=first_id)
                    minute = when + datetime.timedelta(minutes=rng.randint(0, 1))
                    row.update({
                        "tweet_time": minute.strftime("%Y-%m-%d %H:%M"),
                        "tweet_text": " ".join(rng.sample(PLANTED_WORDS, 6)) + f" {len(rows)}",
                        "is_retweet": false, "retweet_userid": "", "retweet_tweetid": "",
                        "in_reply_to_tweetid": "", "in_reply_to_userid": "",
                        "hashtags": "[]", "urls": "[]", "user_mentions": "[]",
                    })
                    if behaviour == "retweet":
                        row["is_retweet"] = true
                        row["retweet_userid"] = members[0]["userid"]
                        row["retweet_tweetid"] = str(first_id - 10**9 + slot)
                        row["tweet_text"] = f"RT @{members[0]['user_screen_name'][:15]}: " + " ".join(words)
                    elif behaviour == "text":
                        row["tweet_text"] = vary_text(rng, words, mentions)
                    elif behaviour == "link":
                        row["urls"] = _list_value([f"https://planted.example/{token}"], layout, "[]")
                    elif behaviour == "reply":
                        row["in_reply_to_tweetid"] = str(first_id - 2 * 10**9 + slot)
                        row["in_reply_to_userid"] = members[0]["userid"]
                    elif behaviour == "hashtag":
                        row["hashtags"] = _list_value([f"Planted{token}"], layout, "[]")
                    rows.append(row)
    return rows


def planted_pairs(groups):
    """Every ordered pair of accounts of the same planted group."""
    return {(a["userid"], b["userid"]) for members in groups
            for a in members for b in members if a is not b}


# --- The bundled demo ----------------------------------------------------------

# Hand-written rows that show what the archives hold and what breaks
# parsers: scripts, a long run of Chinese, HTML and script payloads, a
# multi-line tweet, an empty text, a retweet without retweet_userid.
_SHOWCASE = [
    ("zh-CN", "中华人民共和国政府今天在香港发表重要声明支持经济发展"),
    ("zh-cn", "我们坚决支持香港警察维护社会稳定"),
    ("ru", "Выборы прошли честно, говорит наш источник. #Россия"),
    ("ar", "الحكومة تعلن عن خطة جديدة للاقتصاد"),
    ("fa", "مردم ایران از دولت حمایت می کنند"),
    ("en", "<script>alert(\"xss\")</script> breaking news"),
    ("en", "\"><img src=x onerror=alert(1)> click here"),
    ("en", "First line of the statement\nsecond line &amp; third"),
    ("und", ""),
]


def _demo_campaign(name, layout, n, seed, year, first_id):
    rng = random.Random(seed)
    users = make_users(12, layout, seed=seed)
    rows = [make_tweet(rng, i, users[i % len(users)], layout, users, year=year, first_id=first_id)
            for i in range(n)]
    for i, (language, text) in enumerate(_SHOWCASE):
        rows[i]["tweet_language"] = language
        rows[i]["tweet_text"] = text
    # A retweet whose retweet_userid is empty, as some real rows are.
    rows[len(_SHOWCASE)]["is_retweet"] = "true" if layout == "2018" else "True"
    rows[len(_SHOWCASE)]["retweet_userid"] = ""
    for user in users[:2]:
        user["user_display_name"] = "<b>Real News</b> \"'><svg onload=alert(1)>"
    return users, rows


def _demo_planted():
    """Three planted groups for the demo, labelled synthetic in their
    profiles: {campaign: (accounts, tweets)}. Group 1 (5 accounts) is in
    synthetic_202012; group 2 (4) has two accounts in synthetic_201810 and
    two in synthetic_201906, an edge across campaigns; group 3 (3) is in
    synthetic_201906. Each retweets, posts and links together three times."""
    groups = make_planted_groups([5, 4, 3], "2019", seed=21, created="2018-11")
    rows = planted_tweets(groups, "2019", seed=22, first_id=95 * 10**16, events=3,
                          behaviours=("retweet", "text", "link"), year=2019,
                          background=make_users(12, "2019", seed=2))
    homes = {"synthetic_202012": groups[0], "synthetic_201810": groups[1][:2],
             "synthetic_201906": groups[1][2:] + groups[2]}
    planted = {}
    for campaign, accounts in homes.items():
        ids = {user["userid"] for user in accounts}
        planted[campaign] = (accounts, [row for row in rows if row["userid"] in ids])
    return planted


def write_demo(root):
    """Write the demo archives under root, in three real layouts."""
    import os

    def path(*parts):
        full = os.path.join(root, *parts)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return full

    planted = _demo_planted()

    # 2018 layout, bucket mirror, one zip each for tweets and users.
    users, rows = _demo_campaign("synthetic_201810", "2018", 120, 1, 2016, 7 * 10**17)
    users, rows = users + planted["synthetic_201810"][0], rows + planted["synthetic_201810"][1]
    write_zip(path("hashed", "2018_10", "synthetic_201810", "synthetic_201810_tweets_csv_hashed.zip"),
              {"synthetic_201810_tweets_csv_hashed.csv": tweets_csv_text(rows, "2018")})
    write_zip(path("hashed", "2018_10", "synthetic_201810", "synthetic_201810_users_csv_hashed.zip"),
              {"synthetic_201810_users_csv_hashed.csv": users_csv_text(users, "2018")})

    # 2019 layout: the member is named unlike its zip, macOS junk beside it.
    users, rows = _demo_campaign("synthetic_201906", "2019", 100, 2, 2018, 8 * 10**17)
    shared = dict(rows[-1])
    users, rows = users + planted["synthetic_201906"][0], rows + planted["synthetic_201906"][1]
    write_zip(path("hashed", "2019_06", "synthetic_201906", "synthetic_201906_tweets_csv_hashed.zip"),
              {"synthetic_linked_tweets_csv_hashed.csv": tweets_csv_text(rows, "2019"),
               "__MACOSX/._synthetic_linked_tweets_csv_hashed.csv": "\x00\x05junk",
               ".DS_Store": "junk"})
    with open(path("hashed", "2019_06", "synthetic_201906", "synthetic_201906_users_csv_hashed.csv"),
              "w", encoding="utf-8", newline="") as handle:
        write_csv(handle, USERS_HEADER, users, "2019")

    # 2020 layout (30 columns): tweets split in two parts in a sub-folder,
    # the first with a BOM; the users file under a console-flattened name.
    users, rows = _demo_campaign("synthetic_202012", "2020", 140, 3, 2019, 9 * 10**17)
    shared.update({key: value for key, value in rows[-1].items() if key in USERS_HEADER})
    shared["poll_choices"] = ""
    rows.append(shared)  # the same tweet in two campaigns: both keep it
    users, rows = users + planted["synthetic_202012"][0], rows + planted["synthetic_202012"][1]
    half = len(rows) // 2
    write_zip(path("hashed", "2020_12", "synthetic_202012", "synthetic_202012_tweets_csv_hashed.zip"),
              {"tweets/synthetic_202012_tweets_csv_hashed_1.csv": "\ufeff" + tweets_csv_text(rows[:half], "2020"),
               "tweets/synthetic_202012_tweets_csv_hashed_2.csv": tweets_csv_text(rows[half:], "2020")})
    with open(path("hashed_2020_12_synthetic_202012_synthetic_202012_users_csv_hashed.csv"),
              "w", encoding="utf-8", newline="") as handle:
        write_csv(handle, USERS_HEADER, users, "2020")


if __name__ == "__main__":
    import sys

    write_demo(sys.argv[1])
