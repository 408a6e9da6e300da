"""How tweet text is indexed for full-text search, and how a search is read.

The index, tweets_fts, is FTS5 with the unicode61 tokenizer: it holds words,
so a word is one lookup however many tweets use it (a substring index, such
as trigram, intersects the long lists of each three-letter piece of the word:
ten times slower for a common word). Marks (Unicode M*) count as letters, so
that Hindi or Thai words are not cut at every vowel sign.

Some scripts are written without spaces between words: Chinese, Japanese,
Korean (whose words carry their particles), Thai, Lao, Khmer, Myanmar. unicode61 would take
a whole run of them as one token, and a word inside the run could never be
found. So the text indexed for a tweet holding such characters is its text
with each run replaced, in place, by the run's overlapping pairs of
characters (bigrams): 中华人民共和国 is indexed as 中华 华人 人民 民共 共和
和国. A search is cut the same way, as a phrase: 共和国 is the phrase
"共和 和国", found at consecutive positions inside the run; a two-character
word is one token. Both sides go through index_text(), so they always agree.

The index keeps no copy of the text (external content: tweets.tweet_text),
and Datasette finds it by its `content=[tweets]` for `?_search=`, which the
plugin reads with search_expression() in place of Datasette's escape_fts().
What it indexed differs from tweet_text where runs were cut into pairs, so
FTS5's `rebuild`, which re-reads tweet_text, would lose the pairs: the build
alone writes this index.
"""
import functools
import operator
import re

TABLE = "tweets_fts"
# remove_diacritics 2: café finds cafe. Marks as token characters: see above.
TOKENIZE = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
# Written out because sqlite-utils' enable_fts() quotes the tokenizer
# options with the single quotes that the categories option needs inside.
CREATE = (f"CREATE VIRTUAL TABLE IF NOT EXISTS [{TABLE}] USING fts5("
          f"[tweet_text], content=[tweets], tokenize=\"{TOKENIZE}\")")

# Han (with extension A and compatibility ideographs), kana, Hangul, Thai,
# Lao, Myanmar and Khmer: the scripts searched by character pairs.
_UNSPACED = ("\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
             "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff")
_RUN = re.compile(f"[{_UNSPACED}]+")

# A match expression that no tweet matches: FTS5 rejects an empty query, so
# "nothing to look up" needs a real expression. Private-use characters are
# token characters (Co) that tweets do not use.
NEVER = '"\ue001\ue002\ue003"'


# After each run, a token of its own: without it, the pairs of two runs
# that only punctuation separates (共和，和国) would sit at consecutive
# positions and be found as the phrase of a word that is not there (共和国).
BOUNDARY = "\ue000"


def _pairs(match):
    run = match.group()
    # add(run[i], run[i + 1]) for every i, in C.
    return " " + (" ".join(map(operator.add, run, run[1:])) if len(run) > 1 else run) + " " + BOUNDARY + " "


def index_text(text):
    """The text as the index holds it: None when it is the text itself (no
    character of a script written without spaces), the common case, so that
    the caller passes the text it has. The regular expressions do the work
    in C: this runs once per tweet."""
    if not text or text.isascii() or not _RUN.search(text):
        return None
    return _RUN.sub(_pairs, text)


# --- Reading a search ----------------------------------------------------------

# Caps on the work of one call. SQLite cannot interrupt a Python function:
# Datasette's sql_time_limit_ms stops a query between two calls, never
# inside one, and a call holds the interpreter (and so every other request)
# while it runs. Any `?sql=` may call these functions with any argument, so
# each reads at most this much of it (under 20 ms a call at worst, on
# text and searches made to be slow: tests/test_time_limit.py):
MAX_SEARCH = 500  # characters of a search: the rest is ignored
MAX_PARTS = 16  # words or "quoted phrases" of a search: the rest are ignored
MAX_TEXT = 10_000  # characters of a tweet ranked or marked (tweets hold 280)

# Datasette's escape_fts() split: whitespace, or a "quoted phrase".
_BITS = re.compile(r'\s+|(".*?")')
# FTS5 cannot take control characters inside a string: they separate words.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _as_text(value):
    """A function's argument as text: SQL may pass a number, or a blob."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) else ""


def _bounded(q):
    return _as_text(q)[:MAX_SEARCH]


def phrases(q):
    """The search's parts: (words, prefix) for each word or quoted phrase.
    A word ending in * (elect*) is a prefix: it finds election, electoral.
    At most MAX_PARTS parts, from the first MAX_SEARCH characters."""
    q = _CONTROL.sub(" ", _bounded(q))
    if q.count('"') % 2:
        q += '"'  # an unclosed quote closes at the end, as in Datasette
    parts = []
    for bit in _BITS.split(q):
        if not bit or bit == '""':
            continue
        quoted = bit.startswith('"') and bit.endswith('"') and len(bit) > 1
        words = bit[1:-1] if quoted else bit
        prefix = not quoted and words.endswith("*") and words.strip("*") != ""
        words = words.rstrip("*") if prefix else words.replace('"', " ")
        if words.strip():
            parts.append((words, prefix))
            if len(parts) == MAX_PARTS:
                break
    return parts


def search_expression(q):
    """A user's search as an FTS5 expression: every part a quoted phrase (so
    that nothing typed is read as FTS5 syntax: AND, NEAR, column filters),
    all parts required, each cut as the index is (index_text)."""
    out = []
    for words, prefix in phrases(q):
        indexed = (index_text(words) or words).rstrip()
        # A search ending in a run may end inside a longer run of the tweet.
        indexed = indexed[:-1] if indexed.endswith(BOUNDARY) else indexed
        out.append('"' + indexed.replace('"', '""') + '"' + (" *" if prefix else ""))
    return " ".join(out) or NEVER


def _pattern(words, prefix):
    """A regular expression for one part, as the index matches it: whole
    words (unicode61 splits on what is not a letter, digit or mark), and any
    substring inside a run of an unspaced script."""
    pieces = []
    split = words.split()
    for i, word in enumerate(split):
        piece = re.escape(word)
        if not _RUN.fullmatch(word[:1]):
            piece = r"(?<!\w)" + piece
        if prefix and i == len(split) - 1:
            piece += r"\w*"
        elif not _RUN.fullmatch(word[-1:]):
            piece += r"(?!\w)"
        pieces.append(piece)
    return r"\W+".join(pieces)


@functools.lru_cache(maxsize=64)
def _patterns(q):
    """(a pattern per part, every part in one pattern, longest first, or
    None): rank() and snippet() run once per row of a search, and the
    search is read and its patterns compiled once, not once per row."""
    parts = phrases(q)
    each = tuple(re.compile(_pattern(words, prefix), re.IGNORECASE) for words, prefix in parts)
    # Longest first, so that a phrase is marked whole rather than word by word.
    parts.sort(key=lambda part: len(part[0]), reverse=True)
    every = re.compile("|".join(_pattern(w, p) for w, p in parts), re.IGNORECASE) if parts else None
    return each, every


# The search's score: bm25's weight of a part found in a tweet, from how
# often it occurs and how long the tweet is, every part weighted alike
# (bm25's inverse document frequency would need a pass over every match of a
# common word). Lower is better, as with FTS5's bm25().
RANK_K1, RANK_B, RANK_AVERAGE_LENGTH = 1.2, 0.75, 100


def rank(text, q):
    """bm25 over the first MAX_TEXT characters of the text."""
    text = _as_text(text)[:MAX_TEXT]
    norm = RANK_K1 * (1 - RANK_B + RANK_B * len(text) / RANK_AVERAGE_LENGTH)
    score = 0.0
    for pattern in _patterns(_bounded(q))[0]:
        found = len(pattern.findall(text))
        score += found * (RANK_K1 + 1) / (found + norm) if found else 0.0
    return -score


OPEN, CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧: rare in tweets, and not HTML-special


def snippet(text, q, width=160):
    """A window of the text around the first match, every match marked ⟦…⟧:
    a match in the first MAX_TEXT characters."""
    if text is None:
        return None
    text = _as_text(text)
    pattern = _patterns(_bounded(q))[1]
    if pattern is None:
        return text[:width]
    first = pattern.search(text, 0, MAX_TEXT)
    start = 0
    if first and len(text) > width:
        start = max(0, min(first.start() - width // 3, len(text) - width))
    window = text[start:start + width]
    marked = pattern.sub(lambda m: OPEN + m.group(0) + CLOSE, window)
    return ("…" if start else "") + marked + ("…" if start + width < len(text) else "")


def register_functions(conn):
    """The SQL functions the build calls: the search's, and tei_index_text,
    which reads a whole tweet however long (the build's own connection
    only: Datasette's get register_search_functions)."""
    register_search_functions(conn)
    conn.create_function("tei_index_text", 1, index_text, deterministic=True)


def register_search_functions(conn):
    """The SQL functions the `search` canned query calls, each bounded
    (MAX_SEARCH, MAX_PARTS, MAX_TEXT)."""
    conn.create_function("tei_search_expression", 1, search_expression, deterministic=True)
    conn.create_function("tei_snippet", 2, snippet, deterministic=True)
    conn.create_function("tei_rank", 2, rank, deterministic=True)


def read_searches_as_indexed(conn):
    """Datasette's ?_search= wraps the search in escape_fts(), which quotes
    each word but knows nothing of the pairs of characters that unspaced
    scripts are indexed as: for a TEI database it is search_expression()."""
    conn.create_function("escape_fts", 1, search_expression, deterministic=True)
