"""What Datasette shows for a database built by datasette-tei, as data: the
database's and each table's description, default facets, sortable and label
columns, column descriptions, and which tables are the build's machinery
(hidden from the index and database pages).

The plugin supplies these for every TEI database it serves, whatever the
file is called (zeroconf.py): through the get_metadata hook on Datasette
0.65, through the metadata and configuration of 1.0 from `startup`. The
owner's own metadata and configuration win, key by key. metadata.yml and
datasette.yaml at the top of the repository hold the same settings, as
examples to copy and change; tests/test_zeroconf.py checks that they agree.
"""
import copy
import marshal

# Plain descriptions only, never description_html: Datasette shows an
# owner's description_html before any description, and an owner's
# description replaces this one, so the owner's text always shows.
DATABASE_DESCRIPTION = (
    "Twitter's election-integrity archives (state-backed information operations), "
    "one row per tweet and per account, by campaign: start with tweets, users and "
    "campaigns, the campaign pages (menu) or the canned queries. Source: Twitter "
    "Transparency Center. Accounts with fewer than 5,000 followers are hashed: their "
    "ids and names are the same hash."
)

# The tables a reader starts from, in this order.
MAIN_TABLES = ("tweets", "users", "campaigns")

# The build's machinery: precomputed figures that the campaign pages and
# canned queries read, and the build's own bookkeeping. Every table whose
# name starts with `tei_` is machinery too. imports and rejects stay in
# view: they say what was read and what could not be.
HIDDEN_TABLES = (
    "campaign_months",
    "campaign_hours",
    "campaign_account_months",
    "campaign_days",
    "campaign_top",
    "campaign_top_all",
    "campaign_creation_days",
    "campaign_urls",
    "shared_values",
    "tei_meta",
    "tei_dirty",
    "tei_facet_counts",
)
HIDDEN_PREFIX = "tei_"

# Short column descriptions: Datasette lists them above the rows.
TWEETS_COLUMNS = {
    "tweetid": "Tweet id (64-bit; JSON clients read tweetid_str).",
    "tweetid_str": "The tweet id as text.",
    "campaign": "The first campaign archive that holds the tweet (others: shared_tweets).",
    "tweet_time": "UTC, YYYY-MM-DD HH:MM.",
    "userid": "Account id; a hash below 5,000 followers.",
    "user_screen_name": "Screen name at suspension (the hash if hashed).",
    "user_display_name": "Display name at suspension.",
    "tweet_language": "Language Twitter detected, lower-cased (und: undetermined).",
    "tweet_text": "Text; retweets start \"RT @name:\" and are truncated.",
    "tweet_client_name": "App that posted it.",
    "is_retweet": "1 for a retweet.",
    "retweet_userid": "Account retweeted.",
    "retweet_tweetid": "Tweet retweeted.",
    "in_reply_to_userid": "Account replied to.",
    "in_reply_to_tweetid": "Tweet replied to.",
    "quoted_tweet_tweetid": "Tweet quoted.",
    "hashtags": "JSON array, without the # sign.",
    "urls": "JSON array of links.",
    "user_mentions": "JSON array of account ids.",
    "like_count": "Likes when archived.",
    "retweet_count": "Retweets when archived.",
    "geo": "Location as the source gives it.",
    "account_creation_date": "YYYY-MM-DD.",
    "account_language": "Interface language of the account.",
    "extra": "Columns the converter did not know, as JSON.",
    "import_id": "The imports row it was loaded from.",
}

USERS_COLUMNS = {
    "userid": "Account id; a hash below 5,000 followers.",
    "user_screen_name": "Screen name at suspension (the hash if hashed).",
    "user_display_name": "Display name at suspension.",
    "user_reported_location": "Location the account gave.",
    "user_profile_description": "Profile text.",
    "follower_count": "Followers at suspension.",
    "following_count": "Accounts followed at suspension.",
    "account_creation_date": "YYYY-MM-DD.",
    "account_language": "Interface language of the account.",
    "is_hashed": "1 when the source hashed id and names.",
    "from_users_file": "0 when seen only in the campaign's tweets.",
}

CAMPAIGNS_COLUMNS = {
    "name": "Campaign name as the archives name it.",
    "release": "Release folder of the bucket (YYYY_MM).",
    "country": "Country or attribution Twitter gave.",
    "tweets": "Tweets loaded, shared tweets included.",
    "accounts": "Accounts loaded (users rows).",
    "announced_accounts": "Accounts announced with the release (approximate).",
    "announced_tweets": "Tweets announced with the release (approximate).",
    "synthetic": "1 for the bundled synthetic sample (invented data).",
}

# The settings Datasette 1.0 reads from its configuration (datasette.yaml)
# rather than from metadata; 0.65 reads all of them from metadata.
CONFIG_KEYS = ("facets", "sortable_columns", "label_column", "hidden", "sort", "sort_desc")

TABLES = {
    "tweets": {
        "description": (
            "Every tweet of every campaign archive, one row per tweet id, with the "
            "account's profile as it was at suspension. A tweet several archives hold "
            "is stored once, under the first campaign; shared_tweets lists the others."
        ),
        "label_column": "tweet_text",
        "facets": [
            "campaign",
            "tweet_language",
            "tweet_client_name",
            "is_retweet",
            {"array": "hashtags"},
            {"date": "tweet_time"},
        ],
        "sortable_columns": [
            "tweetid", "tweet_time", "like_count", "retweet_count", "quote_count",
            "reply_count", "follower_count", "following_count", "account_creation_date",
        ],
        "columns": TWEETS_COLUMNS,
    },
    "users": {
        "description": (
            "One row per account and campaign: the campaign's users file, plus accounts "
            "seen only in its tweets (from_users_file = 0)."
        ),
        "label_column": "user_screen_name",
        "facets": ["campaign", "account_language"],
        "sortable_columns": ["follower_count", "following_count", "account_creation_date"],
        "columns": USERS_COLUMNS,
    },
    "campaigns": {
        "description": (
            "One row per campaign (archive), with its attribution, release and the "
            "figures loaded from it."
        ),
        "label_column": "name",
        "sortable_columns": ["name", "release", "tweets", "accounts", "first_tweet", "last_tweet"],
        "columns": CAMPAIGNS_COLUMNS,
    },
    "shared_tweets": {
        "description": "Tweets that a second campaign's archive also holds; "
                       "the tweets row carries the first campaign.",
    },
    "imports": {
        "description": "Every archive member the build read, with its checksum, status and row counts.",
    },
    "rejects": {
        "description": "Rows the build could not read, with file, line, reason and the raw text.",
    },
    "media": {
        "description": "Media files of the campaigns' media archives, indexed by tweet and account.",
    },
    "campaign_months": {"description": "Precomputed tweets per month per campaign."},
    "campaign_hours": {
        "description": "Precomputed tweets per weekday (0 = Sunday) and hour, UTC, per campaign.",
    },
    "campaign_account_months": {"description": "Precomputed accounts created per month per campaign."},
    "campaign_days": {"description": "Precomputed tweets per UTC day per campaign."},
    "campaign_top": {
        "description": (
            "Precomputed rankings per campaign: kind is language, client, hashtag, domain, "
            "account (most active) or retweeted (most retweeted accounts); internal = 1 when "
            "a retweeted account is the campaign's own."
        ),
    },
    "campaign_top_all": {
        "description": "Precomputed hashtag and domain rankings of all campaigns together.",
    },
    "campaign_creation_days": {
        "description": "Precomputed accounts created per day, per campaign and of all "
                       "campaigns together (campaign empty).",
    },
    "campaign_urls": {"description": "Every URL each campaign tweeted, with its domain and tweets."},
    "shared_values": {
        "description": "Precomputed domains and URLs that more than one campaign tweeted.",
    },
}


def hidden(table_names):
    """The tables of a TEI database to hide, of those it holds."""
    return [
        name for name in table_names
        if name in HIDDEN_TABLES or name.startswith(HIDDEN_PREFIX)
    ]


# The block of each set of table names, built once: Datasette 0.65 asks for
# it some forty times a page.
_BLOCKS = {}
_BLOCKS_KEPT = 64


def database_metadata(table_names):
    """The 0.65 metadata of one TEI database (its `databases.<name>` block),
    a new copy on each call: Datasette merges the owner's metadata into it.
    (A copy through marshal: plain dicts, lists and strings, copied in C,
    three times as fast as copy.deepcopy.)"""
    key = tuple(table_names)
    block = _BLOCKS.get(key)
    if block is None:
        block = marshal.dumps(_database_metadata(key))
        if len(_BLOCKS) >= _BLOCKS_KEPT:
            _BLOCKS.clear()
        _BLOCKS[key] = block
    return marshal.loads(block)


def _database_metadata(table_names):
    tables = {}
    for name in table_names:
        settings = copy.deepcopy(TABLES.get(name, {}))
        if name in HIDDEN_TABLES or name.startswith(HIDDEN_PREFIX):
            settings["hidden"] = True
        if settings:
            tables[name] = settings
    return {"description": DATABASE_DESCRIPTION, "tables": tables}


def main_first(tables):
    """Datasette's list of tables (dicts on 0.65, objects on the 1.0 database
    page), with MAIN_TABLES first, in order, the others as they were."""
    rank = {name: i for i, name in enumerate(MAIN_TABLES)}

    def name(table):
        return table["name"] if isinstance(table, dict) else getattr(table, "name", None)

    return sorted(tables, key=lambda t: rank.get(name(t), len(rank)))


def split(table_settings):
    """(metadata, configuration) of one table, as Datasette 1.0 keeps them."""
    metadata = {k: v for k, v in table_settings.items() if k not in CONFIG_KEYS}
    config = {k: v for k, v in table_settings.items() if k in CONFIG_KEYS}
    return metadata, config
