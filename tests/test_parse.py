"""The value parsers and the row converter, one format at a time."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasette_tei.build import parse
from datasette_tei.build.parse import RowError
from datasette_tei.build.synthetic import LAYOUTS


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("", "[]"),
        ("[]", "[]"),
        ("[ ]", "[]"),
        ("[tag1, tag2]", '["tag1", "tag2"]'),  # 2018: unquoted
        ("['tag1', 'tag2']", '["tag1", "tag2"]'),  # later: Python repr
        ("['香港', 'Россия']", '["香港", "Россия"]'),
        ('["it\'s", \'x\']', '["it\'s", "x"]'),  # repr switches quotes
        ("['a\\'b\"c']", '["a\'b\\"c"]'),  # and escapes when it must
        ("[2572896396, 443196382]", '["2572896396", "443196382"]'),  # ids stay exact
        ("[1040218716374077441, abc+/def=]", '["1040218716374077441", "abc+/def="]'),
        ("['http://x.com/a,b', 'c']", '["http://x.com/a,b", "c"]'),
        ("['']", '[""]'),
        ("['tab\\there']", '["tab\\there"]'),
    ],
)
def test_parse_list(raw, expected):
    assert parse.parse_list(raw) == expected
    assert json.loads(parse.parse_list(raw)) == json.loads(expected)


@pytest.mark.parametrize("raw", ["tag1, tag2", "[unclosed", "['a', 'b'", "['a' 'b']x"])
def test_parse_list_rejects(raw):
    with pytest.raises(RowError):
        parse.parse_list(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [("0", 0), ("12", 12), ("0.0", 0), ("3.0", 3), ("", None), ("-1", -1)],
)
def test_parse_count(raw, expected):
    assert parse.parse_count(raw) == expected


@pytest.mark.parametrize("raw", ["abc", "1.5", "nan", "inf", "1e400"])
def test_parse_count_rejects(raw):
    with pytest.raises(RowError):
        parse.parse_count(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [("true", 1), ("True", 1), ("false", 0), ("False", 0), ("", None)],
)
def test_parse_bool(raw, expected):
    assert parse.parse_bool(raw) == expected


def test_parse_bool_rejects():
    with pytest.raises(RowError):
        parse.parse_bool("maybe")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2016-11-08 23:59", "2016-11-08 23:59"),
        ("2016-11-08 23:59:00", "2016-11-08 23:59"),
        ("2016-11-08 23:59:30", "2016-11-08 23:59:30"),
        ("2016-11-08T23:59:30Z", "2016-11-08 23:59:30"),
        ("2016-11-08", "2016-11-08 00:00"),
        ("", None),
    ],
)
def test_parse_time(raw, expected):
    assert parse.parse_time(raw) == expected


@pytest.mark.parametrize("raw", ["2016-13-01 00:00", "2016-11-08 24:00", "08/11/2016", "yesterday"])
def test_parse_time_rejects(raw):
    with pytest.raises(RowError):
        parse.parse_time(raw)


@pytest.mark.parametrize("raw, expected", [
    ("2016-02-29 10:00", "2016-02-29 10:00"),  # a leap year
    ("2000-02-29", "2000-02-29 00:00"),
    ("2016-12-31 23:59:60", "2016-12-31 23:59:60"),  # a leap second
    ("0001-01-01 00:00", "0001-01-01 00:00"),
])
def test_parse_time_accepts_real_calendar_days(raw, expected):
    assert parse.parse_time(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("2016-02-31", "not a valid date: '2016-02-31'"),
    ("2016-02-31 10:00", "not a valid date: '2016-02-31 10:00'"),
    ("2015-02-29 10:00", "not a valid date: '2015-02-29 10:00'"),
    ("1900-02-29", "not a valid date: '1900-02-29'"),
    ("2016-04-31 10:00", "not a valid date: '2016-04-31 10:00'"),
    ("2016-11-31", "not a valid date: '2016-11-31'"),
    ("0000-01-01", "not a valid date: '0000-01-01'"),
    ("0000-01-01 00:00", "not a valid date: '0000-01-01 00:00'"),
    ("2016-01-01 12:60", "not a valid time: '2016-01-01 12:60'"),
    ("2016-01-01 12:00:61", "not a valid time: '2016-01-01 12:00:61'"),
])
def test_impossible_dates_and_times_are_untypable(raw, reason):
    for parser in (parse.parse_time, parse.parse_date):
        with pytest.raises(RowError) as error:
            parser(raw)
        assert str(error.value) == reason


@pytest.mark.parametrize("column, value", [
    ("tweet_time", "2016-02-31 10:00"), ("tweet_time", "0000-01-01 00:00"),
    ("tweet_time", "2016-01-01 12:60"), ("account_creation_date", "2015-02-29"),
])
def test_converter_rejects_impossible_dates_naming_column_and_value(column, value):
    """Through the compiled fast path, as every row goes: the reason names
    the column and the value."""
    header = LAYOUTS["2020"]
    converter = parse.Converter("tweets", header)
    assert converter(_row(header, tweetid="5", tweet_time="2016-02-29 10:00"))[0] == 5
    with pytest.raises(RowError) as error:
        converter(_row(header, tweetid="5", **{column: value}))
    assert str(error.value).startswith(f"{column}: not a valid ") and repr(value) in str(error.value)


def test_parse_ids_are_exact():
    big = "1234567890123456789"  # beyond 2**53: a float would change it
    assert parse.parse_tweetid(big) == 1234567890123456789
    assert parse.parse_id(big) == 1234567890123456789
    assert parse.parse_id("") is None
    # A hash where an id was expected is kept as text, not lost.
    assert parse.parse_id("abc=") == "abc="
    assert parse.parse_userid(" 42 ") == "42"
    for bad in ["", "12a", "-5", "0", "1.5e18", "99999999999999999999"]:
        with pytest.raises(RowError):
            parse.parse_tweetid(bad)


def test_languages_and_coordinates():
    assert parse.parse_language("zh-CN") == "zh-cn"
    assert parse.parse_language("") is None
    assert parse.parse_coordinate("absent") is None
    assert parse.parse_coordinate("present") is None
    assert parse.parse_coordinate("51.5") == 51.5
    assert parse.parse_geo("present", "present") == "present"
    assert parse.parse_geo("51.5", "-0.1") == "coordinates"
    with pytest.raises(RowError):
        parse.parse_coordinate("north")


def test_tweet_text_entities():
    assert parse.parse_tweet_text("Q&amp;A &lt;b&gt;") == "Q&A <b>"
    assert parse.parse_tweet_text("&amp;lt;") == "&lt;"  # one level only
    assert parse.parse_tweet_text("caf&eacute; &#39;x&#39;") == "café 'x'"
    assert parse.parse_tweet_text("AT&T") == "AT&T"


def test_file_kind_by_header():
    assert parse.file_kind(LAYOUTS["2018"]) == "tweets"
    assert parse.file_kind(LAYOUTS["2020"]) == "tweets"
    assert parse.file_kind(["\ufeffuserid", "user_display_name", "user_screen_name"]) == "users"
    assert parse.file_kind(['"USERID"', "User_Screen_Name"]) == "users"
    assert parse.file_kind(["id", "text"]) is None


def _row(header, **values):
    return [values.get(name, "") for name in header]


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_converter_maps_by_header_name(layout):
    header = LAYOUTS[layout]
    converter = parse.Converter("tweets", header, tail=("camp", 7))
    row = _row(
        header, tweetid="1234567890123456789", userid="abc=", in_reply_to_tweetid="55",
        in_reply_to_userid="66", tweet_time="2019-01-02 03:04", is_retweet="True",
        hashtags="['a']", like_count="0.0", latitude="absent", tweet_language="EN",
    )
    values = dict(zip(converter.columns + ("campaign", "import_id"), converter(row)))
    assert values["tweetid"] == 1234567890123456789
    assert values["in_reply_to_tweetid"] == 55
    assert values["in_reply_to_userid"] == "66"
    assert values["is_retweet"] == 1
    assert values["hashtags"] == '["a"]'
    assert values["like_count"] == 0
    assert values["latitude"] is None and values["geo"] == "absent"
    assert values["tweet_language"] == "en"
    assert values["poll_choices"] is None
    assert values["campaign"] == "camp" and values["import_id"] == 7


def test_converter_keeps_unknown_columns_and_names_bad_column():
    header = LAYOUTS["2020"] + ["brand_new_column"]
    converter = parse.Converter("tweets", header)
    row = _row(header, tweetid="5", brand_new_column="kept")
    values = dict(zip(converter.columns, converter(row)))
    assert json.loads(values["extra"]) == {"brand_new_column": "kept"}
    with pytest.raises(RowError, match="follower_count"):
        converter(_row(header, tweetid="5", follower_count="many"))
    with pytest.raises(RowError, match="tweetid"):
        converter(_row(header, tweetid="x"))


def test_users_converter_flags_hashed_accounts():
    header = parse.USER_COLUMNS
    converter = parse.Converter("users", header)
    hashed = converter(_row(header, userid="Zm9vYmFy=", user_screen_name="Zm9vYmFy=", user_display_name="Zm9vYmFy="))
    clear = converter(_row(header, userid="12345", user_screen_name="someone"))
    at = converter.columns.index("is_hashed")
    assert hashed[at] == 1 and clear[at] == 0
    with pytest.raises(RowError, match="userid"):
        converter(_row(header, userid=""))


# --- Property tests: any string gives a value or a RowError, never a crash ---

PARSERS = [
    parse.parse_count, parse.parse_bool, parse.parse_time, parse.parse_date, parse.parse_list,
    parse.parse_tweetid, parse.parse_id, parse.parse_userid, parse.parse_language,
    parse.parse_coordinate, parse.parse_tweet_text,
]


@pytest.mark.parametrize("parser", PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=300, deadline=None)
@given(value=st.text())
def test_parsers_never_raise_anything_but_row_error(parser, value):
    try:
        parser(value)
    except RowError:
        pass


@settings(max_examples=300, deadline=None)
@given(items=st.lists(st.text(), max_size=5))
def test_repr_lists_round_trip(items):
    assert json.loads(parse.parse_list(repr(items))) == items


@settings(max_examples=200, deadline=None)
@given(number=st.integers(min_value=1, max_value=2**63 - 1))
def test_ids_round_trip(number):
    assert parse.parse_tweetid(str(number)) == number
    assert parse.parse_id(str(number)) == number


@settings(max_examples=200, deadline=None)
@given(fields=st.lists(st.text(max_size=30), min_size=31, max_size=31))
def test_converter_never_crashes(fields):
    converter = parse.Converter("tweets", LAYOUTS["2019"])
    try:
        converter(list(fields))
    except RowError:
        pass


# Values near every fast path's edge: the compiled converter inlines the
# common case of each parser and must give exactly what the parsers give.
EDGE_VALUES = [
    "", " ", "0", "7", "12", "007", "0.0", "3.5", "-1", "１２", "1" * 19, "9" * 20,
    "2016-11-08 23:59", "2016-11-08 24:00", "2016-11-08 23:59:30", "2016-13-01 00:00",
    "2016-11-32 00:00", "2016-11-08", "2016-00-08", "2016-11-08T23:59Z", "２０１６-11-08 23:59",
    "[]", "[ ]", "['a', 'b']", "[a, b]", "['it''s']", "true", "False", "TRUE", "yes", "maybe",
    "absent", "present", "45.5", "200", "&amp;", "a &lt;b&gt;", "zh-CN", " en ", "Zm9vYmFy=",
]


def _expected(header, fields, tail):
    names = parse.normalise_header(header)
    index = {name: position for position, name in reversed(list(enumerate(names)))}
    value = {name: fields[index[name]] if name in index else "" for name in parse.TWEET_COLUMNS}
    typed = tuple(parse.TWEET_PARSERS[name](value[name]) for name in parse.TWEET_COLUMNS)
    return typed + (parse.parse_geo(value["latitude"], value["longitude"]), None) + tail


def _accepts(parser, value):
    try:
        parser(value)
    except RowError:
        return False
    return True


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_converter_gives_what_the_parsers_give(layout, data):
    header = LAYOUTS[layout]
    names = parse.normalise_header(header)
    # Mostly values each column accepts, so that whole rows convert, and
    # now and then any value, so that the rejections are compared too.
    fields = []
    for name in names:
        parser = parse.TWEET_PARSERS.get(name, parse._nullable_text)
        valid = [value for value in EDGE_VALUES if _accepts(parser, value)]
        fields.append(data.draw(st.sampled_from(valid)))
    for position in data.draw(st.lists(st.integers(0, len(names) - 1), max_size=2)):
        fields[position] = data.draw(st.one_of(st.sampled_from(EDGE_VALUES), st.text(max_size=12)))
    converter = parse.Converter("tweets", header, ("campaign", 1))
    try:
        expected = _expected(header, fields, ("campaign", 1))
    except RowError:
        with pytest.raises(RowError):
            converter(list(fields))
    else:
        assert converter(list(fields)) == expected
