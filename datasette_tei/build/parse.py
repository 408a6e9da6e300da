"""Value parsers for the TEI CSV columns, and the row converters built on them.

Every parser takes the raw string from the CSV and returns the typed value,
or raises RowError with a reason a person can act on. They never raise
anything else: a troll farm's tweet must not be able to crash a build.
"""
import datetime
import html
import json
import re

# Canonical column order of the tweets table. Source files are mapped onto
# this by header name, because the two reply columns swap places between the
# 2018 and the later layouts, and poll_choices disappears around 2020_05.
USER_COLUMNS = (
    "userid",
    "user_display_name",
    "user_screen_name",
    "user_reported_location",
    "user_profile_description",
    "user_profile_url",
    "follower_count",
    "following_count",
    "account_creation_date",
    "account_language",
)
TWEET_COLUMNS = (
    ("tweetid",)
    + USER_COLUMNS
    + (
        "tweet_language",
        "tweet_text",
        "tweet_time",
        "tweet_client_name",
        "in_reply_to_userid",
        "in_reply_to_tweetid",
        "quoted_tweet_tweetid",
        "is_retweet",
        "retweet_userid",
        "retweet_tweetid",
        "latitude",
        "longitude",
        "quote_count",
        "reply_count",
        "like_count",
        "retweet_count",
        "hashtags",
        "urls",
        "user_mentions",
        "poll_choices",
    )
)


class RowError(ValueError):
    """A value that cannot be converted; the row it sits in is rejected."""


def _nullable_text(value):
    return value or None


def parse_tweet_text(value):
    # Twitter's API escaped &, < and > in tweet text and the archives kept
    # the entities; store what the author wrote. Display layers escape again.
    if "&" not in value:
        return value
    fast = value.replace("&lt;", "<").replace("&gt;", ">")
    if fast.count("&") == fast.count("&amp;"):
        return fast.replace("&amp;", "&")  # html.unescape is 50x slower
    return html.unescape(value)


def parse_tweetid(value):
    """A tweet id must be an integer: it is the primary key."""
    if not (value.isascii() and value.isdigit()):
        raise RowError(f"tweetid is not an integer: {_show(value)}")
    number = int(value)
    if not 0 < number < 2**63:
        raise RowError(f"tweetid out of range: {_show(value)}")
    return number


def parse_id(value):
    """Optional tweet id columns: an exact integer, or the text kept as is.

    Never float(): ids are beyond 2**53 and lose their last digits.
    """
    if not value:
        return None
    if value.isascii() and value.isdigit():
        number = int(value)
        if number < 2**63:
            return number
    return value


def parse_userid(value):
    """User ids are numbers or hashes; both are kept as exact text."""
    return value.strip() or None


def parse_count(value):
    """Counts: integers, sometimes written `0.0`; blank where a column had gaps."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"not a count: {_show(value)}") from None
    if number != number or number in (float("inf"), float("-inf")) or number != int(number):
        raise RowError(f"not a whole count: {_show(value)}")
    return int(number)


_TRUE = frozenset(("true", "True", "TRUE", "1", "t", "T", "yes"))
_FALSE = frozenset(("false", "False", "FALSE", "0", "f", "F", "no"))


def parse_bool(value):
    if value in _TRUE:
        return 1
    if value in _FALSE:
        return 0
    if not value:
        return None
    raise RowError(f"not a boolean: {_show(value)}")


# ASCII digits only: int() reads other scripts' digits, SQLite's date
# functions do not.
_TIME_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?)?(?:Z|[+-]00:?00| UTC)?$",
    re.ASCII,
)


def _time(value, with_time):
    if not value:
        return None
    value = value.strip()
    match = _TIME_RE.match(value)
    if not match:
        raise RowError(f"not a date or time: {_show(value)}")
    year, month, day, hour, minute, second = match.groups()
    try:
        # The calendar decides: no 2016-02-31, no 2015-02-29, no year 0000.
        datetime.date(int(year), int(month), int(day))
    except ValueError:
        raise RowError(f"not a valid date: {_show(value)}") from None
    if hour is not None and not (int(hour) < 24 and int(minute) < 60 and int(second or 0) < 61):
        raise RowError(f"not a valid time: {_show(value)}")
    date = f"{year}-{month}-{day}"
    if not with_time:
        return date
    # `YYYY-MM-DD HH:MM[:SS]` is what SQLite's date functions read, and sorts
    # as text in time order.
    time = f"{hour or '00'}:{minute or '00'}"
    if second is not None and second != "00":
        time += f":{second}"
    return f"{date} {time}"


# The formats every known release uses, checked in one C call: four times
# cheaper than slicing the string, and this runs for every tweet.
# Only days every such month has: February 29 (leap years) and anything
# unusual go to _time, which asks the calendar; year 0000 does not exist.
_DATE = (r"(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
         r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))")
_PLAIN_TIME = re.compile(_DATE + r" (?:[01][0-9]|2[0-3]):[0-5][0-9]").fullmatch
_PLAIN_DATE = re.compile(_DATE).fullmatch


def parse_time(value):
    """`YYYY-MM-DD HH:MM` UTC; seconds, a `T` or a UTC suffix are accepted too."""
    if _PLAIN_TIME(value):
        return value
    return _time(value, True)


def parse_date(value):
    """`YYYY-MM-DD`; a full timestamp is cut to its date."""
    if _PLAIN_DATE(value):
        return value
    return _time(value, False)


def parse_language(value):
    """Language codes come in mixed case (`zh-cn` and `zh-CN` in one file)."""
    value = value.strip()
    return value.lower() if value else None


def parse_coordinate(value):
    """Latitude/longitude: a number, or the words `absent`/`present`, or blank.

    The words say whether the tweet had a location; they are not coordinates,
    so they go to the `geo` column (see parse_geo) and this gives NULL.
    """
    if not value or value in ("absent", "present"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"not a coordinate: {_show(value)}") from None
    if not -180.0 <= number <= 180.0:
        raise RowError(f"coordinate out of range: {_show(value)}")
    return number


def parse_geo(latitude, longitude):
    """What the source said about location: `absent`, `present`, `coordinates`."""
    if latitude in ("absent", "present"):
        return latitude
    if latitude and longitude:
        return "coordinates"
    return None


_QUOTED_ITEM_RE = re.compile(r"""'([^']*)'|"([^"]*)\"""")


def parse_list(value):
    """A list column as a JSON array of strings (`[]` when empty).

    Two syntaxes exist: 2018 files write `[tag1, tag2]`, later ones the Python
    repr `['tag1', 'tag2']`. Empty is `""` or `[]`, even in adjacent rows.
    Items stay strings, so that 64-bit user ids in user_mentions stay exact.
    """
    value = value.strip()
    if not value or value == "[]":
        return "[]"
    if value[0] != "[" or value[-1] != "]":
        raise RowError(f"not a list: {_show(value)}")
    inner = value[1:-1].strip()
    if not inner:
        return "[]"
    # Fast paths, exact when the text holds nothing JSON must escape: with no
    # `"` or `\\` in a repr list, every item is `'...'` with no `'` inside.
    plain = '"' not in inner and "\\" not in inner and inner.isprintable()
    if inner[0] == "'":
        if plain and inner[-1] == "'" and "'" not in inner[1:-1].replace("', '", ""):
            return '["' + inner[1:-1].replace("', '", '", "') + '"]'
    elif inner[0] != '"' and plain and "," not in inner.replace(", ", ""):
        return '["' + inner.replace(", ", '", "') + '"]'
    if inner[0] in "'\"":
        if "\\" in inner:
            items = _literal_list(value)
        else:
            items = [a or b for a, b in _QUOTED_ITEM_RE.findall(inner)]
            # Text between the quoted items must be separators only,
            # otherwise the regular expression has misread the list.
            if _QUOTED_ITEM_RE.sub("", inner).replace(",", "").strip():
                items = _literal_list(value)
    else:
        items = [item.strip() for item in inner.split(", ")]
        if len(items) == 1 and "," in inner and " " not in inner:
            items = [item.strip() for item in inner.split(",")]
    return json.dumps(items, ensure_ascii=False)


# Python's parser takes ~200 bytes of memory and a microsecond per byte of a
# list it reads: a list past this size (a tweet's are a few hundred
# characters) is not given to it.
MAX_LITERAL_LIST = 64 * 1024


def _literal_list(value):
    import ast

    if len(value) > MAX_LITERAL_LIST:
        raise RowError(f"not a list (too long to read: {len(value):,} characters): {_show(value)}")
    try:
        items = ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise RowError(f"not a list: {_show(value)}") from None
    if not isinstance(items, list):
        raise RowError(f"not a list: {_show(value)}")
    return [str(item) for item in items]


def is_hashed_account(userid, screen_name):
    """Hashed accounts hold the same hash in userid and the two name columns."""
    return 1 if userid and userid == screen_name and not userid.isdigit() else 0


def _show(value, limit=60):
    text = value if len(value) <= limit else value[:limit] + "…"
    return repr(text)


# --- Row converters ----------------------------------------------------------

# Parser per source column. Columns not named here are kept as text.
TWEET_PARSERS = {
    "tweetid": parse_tweetid,
    "userid": parse_userid,
    "user_display_name": _nullable_text,
    "user_screen_name": _nullable_text,
    "user_reported_location": _nullable_text,
    "user_profile_description": _nullable_text,
    "user_profile_url": _nullable_text,
    "follower_count": parse_count,
    "following_count": parse_count,
    "account_creation_date": parse_date,
    "account_language": parse_language,
    "tweet_language": parse_language,
    "tweet_text": parse_tweet_text,
    "tweet_time": parse_time,
    "tweet_client_name": _nullable_text,
    "in_reply_to_userid": parse_userid,
    "in_reply_to_tweetid": parse_id,
    "quoted_tweet_tweetid": parse_id,
    "is_retweet": parse_bool,
    "retweet_userid": parse_userid,
    "retweet_tweetid": parse_id,
    "latitude": parse_coordinate,
    "longitude": parse_coordinate,
    "quote_count": parse_count,
    "reply_count": parse_count,
    "like_count": parse_count,
    "retweet_count": parse_count,
    "hashtags": parse_list,
    "urls": parse_list,
    "user_mentions": parse_list,
    "poll_choices": _nullable_text,
}

# Columns the tweets table stores, in order, after the source columns.
TWEET_EXTRA_COLUMNS = ("geo", "extra")
USER_EXTRA_COLUMNS = ("is_hashed", "extra")


def normalise_header(header):
    """Header names as the converters know them: no BOM, quotes or case."""
    return [name.lstrip("\ufeff").strip().strip('"').strip().lower() for name in header]


def file_kind(header):
    """`tweets`, `users`, or None: a file is told by its header, not its name."""
    names = set(normalise_header(header))
    if "tweetid" in names and ("tweet_text" in names or "tweet_time" in names):
        return "tweets"
    if "userid" in names and "tweetid" not in names and (
        "user_screen_name" in names or "account_creation_date" in names
    ):
        return "users"
    return None


# Inline forms of the parsers for the compiled fast path: the common case
# costs no function call; anything unusual falls back to the full parser.
# `{v}` is the field's walrus-bound variable, `{f}` the field expression.
_FAST = {
    _nullable_text: "({f} or None)",
    parse_userid: "({f}.strip() or None)",
    # Blank (most id columns of most tweets) is decided first, without a call.
    parse_count: "(None if not ({v} := {f}) else _int({v}) if {v}.isdigit() and {v}.isascii() "
                 "else parse_count({v}))",
    parse_id: "(None if not ({v} := {f}) else _int({v}) if {v}.isdigit() and {v}.isascii() "
              "and len({v}) < 19 else parse_id({v}))",
    parse_bool: "(_BOOL[{v}] if ({v} := {f}) in _BOOL else parse_bool({v}))",
    parse_list: "(\"[]\" if ({v} := {f}) in _EMPTY_LIST else parse_list({v}))",
    parse_coordinate: "(None if ({v} := {f}) in _GEO_WORDS else parse_coordinate({v}))",
    parse_tweet_text: "(parse_tweet_text({v}) if \"&\" in ({v} := {f}) else {v})",
    parse_time: "({v} if _PLAIN_TIME({v} := {f}) else parse_time({v}))",
    parse_date: "({v} if _PLAIN_DATE({v} := {f}) else parse_date({v}))",
    parse_tweetid: "(_int({v}) if 0 < len({v} := {f}) < 19 and {v}.isdigit() and {v}.isascii() "
                   "and {v}[0] != \"0\" else parse_tweetid({v}))",
}
_BOOL = {"true": 1, "True": 1, "TRUE": 1, "false": 0, "False": 0, "FALSE": 0}
_EMPTY_LIST = frozenset(("", "[]"))
_GEO_WORDS = frozenset(("", "absent", "present"))


class Converter:
    """Turns raw CSV rows of one file into typed tuples for one table.

    Built once per header: the column mapping is compiled into one function
    of index lookups and inline conversions, because this runs for every one
    of many millions of rows. `columns` is the order the lists follow. On a
    RowError the row is converted again, column by column, to name the
    column at fault. `tail` is appended to every tuple (campaign, import id).
    """

    def __init__(self, kind, header, tail=()):
        names = normalise_header(header)
        self.kind = kind
        self.width = len(names)
        self.header = names
        known = TWEET_COLUMNS if kind == "tweets" else USER_COLUMNS
        index = {}
        for position, name in enumerate(names):
            index.setdefault(name, position)
        self.missing = [name for name in known if name not in index]
        # Unknown columns are kept, as a JSON object in `extra`, not dropped.
        self.unknown = [
            (name, position) for name, position in index.items() if name not in known
        ]
        blank = self.width  # rows get one '' appended: missing columns read it
        self._plan = [(TWEET_PARSERS[name], index.get(name, blank), name) for name in known]
        self._lat = index.get("latitude", blank)
        self._lon = index.get("longitude", blank)
        self._userid = index.get("userid", blank)
        self._screen = index.get("user_screen_name", blank)
        self.columns = known + (TWEET_EXTRA_COLUMNS if kind == "tweets" else USER_EXTRA_COLUMNS)
        self._fast = self._compile(tail)

    def _compile(self, tail):
        parts = []
        namespace = {
            "_int": int, "_BOOL": _BOOL, "_EMPTY_LIST": _EMPTY_LIST,
            "_GEO_WORDS": _GEO_WORDS, "parse_geo": parse_geo,
            "is_hashed_account": is_hashed_account, "extra": self._extra,
            "parse_count": parse_count, "parse_id": parse_id, "parse_bool": parse_bool,
            "parse_list": parse_list, "parse_coordinate": parse_coordinate,
            "parse_tweet_text": parse_tweet_text, "parse_tweetid": parse_tweetid,
            "parse_time": parse_time, "parse_date": parse_date,
            "_PLAIN_TIME": _PLAIN_TIME, "_PLAIN_DATE": _PLAIN_DATE,
            "tail": tuple(tail),
        }
        for number, (parser, position, name) in enumerate(self._plan):
            field = f"r[{position}]"
            template = _FAST.get(parser)
            if template:
                parts.append(template.format(v=f"v{number}", f=field))
            else:
                namespace[f"p{number}"] = parser
                parts.append(f"p{number}({field})")
        if self.kind == "tweets":
            parts.append(f"parse_geo(r[{self._lat}], r[{self._lon}])")
        else:
            parts.append(f"is_hashed_account(r[{self._userid}], r[{self._screen}])")
        parts.append("extra(r)" if self.unknown else "None")
        source = "def fast(r):\n    return (\n        " + ",\n        ".join(parts) + ") + tail\n"
        exec(compile(source, f"<converter {self.kind}>", "exec"), namespace)
        return namespace["fast"]

    def _extra(self, row):
        extra = {name: row[position] for name, position in self.unknown if row[position]}
        return json.dumps(extra, ensure_ascii=False) if extra else None

    def __call__(self, row):
        """Typed tuple for a row of `self.width` fields; RowError otherwise."""
        row.append("")
        try:
            values = self._fast(row)
        except RowError:
            values = self._slow(row)
        if self.kind == "users" and not values[0]:
            raise RowError("userid is empty")
        return values

    def _slow(self, row):
        values = []
        for parser, position, name in self._plan:
            try:
                values.append(parser(row[position]))
            except RowError as error:
                raise RowError(f"{name}: {error}") from None
        raise AssertionError("the fast converter raised where the parsers do not")  # pragma: no cover
