"""The load in SQLite's C (DATASETTE_TEI_PIPELINE=sql): raw CSV fields in,
typed rows out, by SQL.

The default load types every value in Python (parse.Converter), in the
parsing process. Here the rows go into a temporary staging table as the
CSV reader gave them (text), and one `INSERT ... SELECT` per batch does the
typing, the lists, the lower-casing and the checks in C, in the writing
process. That costs the writing process, the one a load waits for, more
than the Python typing costs the other core (docs/performance.md, "The
SQL load"), so it is not the default.

The SQL is a fast path, not a second definition of the format: for each
column it accepts only values whose result it can compute exactly as
parse.py would (plain counts, `True`/`False`, dates of the calendar, lists
in the two usual syntaxes, ...). A row holding any other value (a
malformed one, an HTML entity past &amp;, a numeric coordinate, a list in
an unusual syntax) is handed to parse.Converter, which rejects it with the
reason and line of the Python pipeline or types it: the two pipelines
make identical databases (tests/test_pipelines.py) by construction.

The search index gets the tweet's text, or, for text holding a script
written without spaces, search.index_text's pairs, which the process
reading the CSV makes (stream.py) and stages beside the row.
"""
import json

from .parse import (TWEET_COLUMNS, TWEET_EXTRA_COLUMNS, USER_COLUMNS, USER_EXTRA_COLUMNS,
                    TWEET_PARSERS, _FALSE, _TRUE, _nullable_text, normalise_header, parse_bool,
                    parse_coordinate, parse_count, parse_date, parse_id, parse_language, parse_list,
                    parse_time, parse_tweet_text, parse_tweetid, parse_userid)

STAGE = "temp.tei_stage"

# What str.strip() removes: Unicode whitespace, as SQLite's trim() is told.
_WHITESPACE = "".join(chr(c) for c in range(0x110000) if chr(c).isspace())


def _ranges(chars):
    """A GLOB class body for a set of characters, runs written as ranges."""
    codes = sorted(map(ord, chars))
    out, start = [], codes[0]
    for previous, code in zip(codes, codes[1:] + [None]):
        if code != previous + 1:
            out.append(chr(start) if start == previous else chr(start) + "-" + chr(previous))
            start = code
    return "".join(out)


# Control characters (JSON escapes them) and whitespace other than the space.
_ODD = _ranges(set(map(chr, range(1, 32))) | set(_WHITESPACE) - {" "})
# Text that is printable ASCII has none of them: one range to look for first.
_NOT_PRINTABLE_ASCII = "*[^ -~]*"


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def _in(values):
    return "(" + ", ".join(_literal(v) for v in sorted(values)) + ")"


def _no_odd(text):
    return f"(NOT {text} GLOB '{_NOT_PRINTABLE_ASCII}' OR NOT {text} GLOB '*[{_ODD}]*')"


# Years 1000-2999 (0000 does not exist; the rest go to Python).
_DATE_SHAPE = "[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]"


def _date_ok(d):
    """`d` (ten characters) is a date parse._DATE takes: only days every
    such month has; February 29 and anything unusual go to Python, which
    asks the calendar. Days up to the 28th, most of them, are decided first."""
    month, day = f"substr({d}, 6, 2)", f"substr({d}, 9, 2)"
    return (f"{month} BETWEEN '01' AND '12' AND ({day} BETWEEN '01' AND '28' OR {day} BETWEEN '29' AND "
            f"(CASE {month} WHEN '02' THEN '28' WHEN '04' THEN '30' WHEN '06' THEN '30' "
            f"WHEN '09' THEN '30' WHEN '11' THEN '30' ELSE '31' END))")


def _text(f):
    return "1", f"nullif({f}, '')"


def _userid(f):
    return "1", f"nullif(trim({f}, {_literal(_WHITESPACE)}), '')"


def _canonical(f):
    # The integer's own decimal text: no sign but `-`, no leading zero, no
    # space, within 64 bits (CAST saturates beyond, and the text differs).
    return f"CAST(CAST({f} AS INTEGER) AS TEXT)"


def _count(f):
    # An integer, or one written `N.0`: what int() or float() reads the same.
    ok = f"({f} = '' OR {_canonical(f)} = {f} OR {_canonical(f)} || '.0' = {f})"
    # CAST reads the integer before `.0`.
    return ok, f"CASE WHEN {f} = '' THEN NULL ELSE CAST({f} AS INTEGER) END"


def _id(f):
    # parse_id gives an integer for ASCII digits below 2**63 and the text
    # otherwise; the column's INTEGER affinity makes exactly those texts
    # integers: the text is stored as it is, with no check.
    return "1", f"nullif({f}, '')"


def _tweetid(f):
    return f"({_canonical(f)} = {f} AND CAST({f} AS INTEGER) > 0)", f"CAST({f} AS INTEGER)"


def _bool(f):
    # The usual spellings first: a comparison is cheaper than the IN list.
    return (f"({f} = 'True' OR {f} = 'False' OR {f} = 'true' OR {f} = 'false' "
            f"OR {f} IN {_in(_TRUE | _FALSE | {''})})",
            f"CASE WHEN {f} IN {_in(_TRUE)} THEN 1 WHEN {f} IN {_in(_FALSE)} THEN 0 END")


def _time(f):
    # The GLOB fixes the length: no `*` in it.
    ok = (f"({f} = '' OR ({f} GLOB '{_DATE_SHAPE} [0-2][0-9]:[0-5][0-9]' "
          f"AND substr({f}, 12, 2) <= '23' AND {_date_ok(f)}))")
    return ok, f"nullif({f}, '')"


def _date(f):
    return f"({f} = '' OR ({f} GLOB '{_DATE_SHAPE}' AND {_date_ok(f)}))", f"nullif({f}, '')"


def _language(f):
    return f"{f} NOT GLOB '*[^A-Za-z0-9_-]*'", f"nullif(lower({f}), '')"


def _coordinate(f):
    return f"{f} IN ('', 'absent', 'present')", "NULL"


def _tweet_text(f):
    lt_gt = f"replace(replace({f}, '&lt;', '<'), '&gt;', '>')"
    # Every & left is the start of an &amp;: parse_tweet_text's fast case.
    ok = (f"(instr({f}, '&') = 0 OR length({lt_gt}) - length(replace({lt_gt}, '&', '')) "
          f"= (length({lt_gt}) - length(replace({lt_gt}, '&amp;', ''))) / 5)")
    return ok, f"CASE WHEN instr({f}, '&') = 0 THEN {f} ELSE replace({lt_gt}, '&amp;', '&') END"


def _list(f):
    # ['a', 'b']: M is what stands between the first and the last quote.
    # The tests that read the same on the whole value (the brackets and
    # quotes around M hold no `"`, backslash or odd character) take it
    # whole: a substr() less each.
    m = f"substr({f}, 3, length({f}) - 4)"
    plain = f"instr({f}, '\"') = 0 AND instr({f}, '\\') = 0 AND {_no_odd(f)}"
    repr_ok = (f"({f} GLOB '[[]''*'']' AND length({f}) >= 4 AND {plain} "
               f"AND instr(replace({m}, ''', ''', ''), '''') = 0)")
    # [a, b]: items split at ", " exactly, none starting or ending in
    # whitespace, nothing JSON escapes: the items are the text between.
    i = f"substr({f}, 2, length({f}) - 2)"
    bare_ok = (f"({f} GLOB '[[][^ ''\"]*[]]' AND NOT {f} GLOB '* ]' AND {plain} "
               f"AND instr(replace({f}, ', ', ''), ',') = 0 AND instr({f}, ' ,') = 0 "
               f"AND instr({f}, ',  ') = 0)")
    ok = f"({f} = '' OR {f} = '[]' OR {repr_ok} OR {bare_ok})"
    value = (f"CASE WHEN {f} = '' OR {f} = '[]' THEN '[]' "
             f"WHEN substr({f}, 2, 1) = '''' THEN '[\"' || replace({m}, ''', ''', '\", \"') || '\"]' "
             f"ELSE '[\"' || replace({i}, ', ', '\", \"') || '\"]' END")
    return ok, value


_SQL = {
    _nullable_text: _text,
    parse_userid: _userid,
    parse_count: _count,
    parse_id: _id,
    parse_tweetid: _tweetid,
    parse_bool: _bool,
    parse_time: _time,
    parse_date: _date,
    parse_language: _language,
    parse_coordinate: _coordinate,
    parse_tweet_text: _tweet_text,
    parse_list: _list,
}


class Plan:
    """The SQL for one member's header: the staging table, the check that
    a staged row is for SQL to type, and the typed values."""

    def __init__(self, kind, header):
        names = normalise_header(header)
        self.kind = kind
        self.width = len(names)
        index = {}
        for position, name in enumerate(names):
            index.setdefault(name, position)
        known = TWEET_COLUMNS if kind == "tweets" else USER_COLUMNS
        self.unknown = [(name, position) for name, position in index.items() if name not in known]
        # After the fields: the row's line, and for tweets the text the
        # search index holds where it is not the tweet's (index_text, made
        # beside the CSV reader: see stream.py).
        self.stage_columns = [f"c{i}" for i in range(self.width)] + ["line"] + (
            ["idx"] if kind == "tweets" else [])

        def field(name):
            return f"c{index[name]}" if name in index else "''"

        checks, values = [], []
        for name in known:
            ok, value = _SQL[TWEET_PARSERS[name]](field(name))
            if ok != "1":
                checks.append(ok)
            values.append(value)
        if kind == "tweets":
            lat, lon = field("latitude"), field("longitude")
            values.append(f"CASE WHEN {lat} IN ('absent', 'present') THEN {lat} "
                          f"WHEN {lat} != '' AND {lon} != '' THEN 'coordinates' END")
        else:
            userid, screen = field("userid"), field("user_screen_name")
            # parse.is_hashed_account, whose isdigit() knows other scripts'
            # digits: the SQL takes ASCII user ids only; and RowError
            # "userid is empty" is Python's to give.
            checks.append(f"NOT {userid} GLOB '*[^ -~]*'")
            checks.append(f"{values[0]} IS NOT NULL")
            values.append(f"CASE WHEN {userid} != '' AND {userid} = {screen} "
                          f"AND {userid} GLOB '*[^0-9]*' THEN 1 ELSE 0 END")
        if self.unknown:
            values.append("tei_extra(" + ", ".join(f"c{p}" for _, p in self.unknown) + ")")
        else:
            values.append("NULL")
        values += [":campaign", ":import_id"]
        self.columns = known + (TWEET_EXTRA_COLUMNS if kind == "tweets" else USER_EXTRA_COLUMNS) + (
            "campaign", "import_id")
        self.check = " AND ".join(f"({c})" for c in checks) or "1"
        self.values = values
        if kind == "tweets":
            text = values[known.index("tweet_text")]
            self.tweetid = values[0]
            self.index_text = f"coalesce(idx, {text})"

    def extra(self, *values):
        pairs = {name: value for (name, _), value in zip(self.unknown, values) if value}
        if not pairs:
            return None
        return json.dumps(pairs, ensure_ascii=False)

    def prepare(self, conn):
        conn.execute(f"DROP TABLE IF EXISTS {STAGE}")
        # No declared types: the text stays text, as the CSV reader gave it.
        conn.execute(f"CREATE TABLE {STAGE} ({', '.join(self.stage_columns)})")
        if self.unknown:
            conn.create_function("tei_extra", len(self.unknown), self.extra, deterministic=True)
        self.insert_stage = (f"INSERT INTO {STAGE} VALUES "
                             f"({', '.join('?' * len(self.stage_columns))})")
        # In a WHERE clause SQLite stops at the first check that decides (a
        # value would evaluate them all); no check is ever NULL.
        self.flagged = f"SELECT rowid, * FROM {STAGE} WHERE NOT ({self.check})"

    def split(self, staged):
        """(fields, line) of a staged row (a list, without its rowid)."""
        if self.kind == "tweets":
            staged.pop()
        return staged, staged.pop()
