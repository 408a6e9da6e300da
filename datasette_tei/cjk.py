"""A second full-text index for two-character Chinese, Japanese and Korean words.

The main index (tweets_fts) uses the trigram tokenizer: it finds any
substring of three or more characters, in any script, but nothing shorter,
and most Chinese words have two characters. Chinese has no spaces to split
words on, so this index holds, for each tweet that contains CJK text, every
pair of adjacent CJK characters (its bigrams) as a token: the word 人民 is
then a token of 中华人民共和国, found by an index lookup.

The index is contentless (it keeps no copy of the text) and grows per
import: tweets are never changed or deleted once loaded, so each import's
tweets are indexed once, and `tweets_cjk_imports` remembers which imports
are done.
"""
import re

TABLE = "tweets_cjk"
IMPORTS_TABLE = "tweets_cjk_imports"

# Han (with extension A and compatibility ideographs), kana and Hangul.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_CJK_RUN = re.compile(f"[{_CJK_CLASS}]+")
# The same ranges for SQLite's GLOB.
GLOB = f"*[{_CJK_CLASS}]*"

# A match expression for either index that cannot match any tweet: FTS5
# rejects an empty or NULL query, so "no terms" needs a real expression.
NEVER_BIGRAM = '"tei_no_match_token"'  # ASCII: the bigram index holds only CJK tokens
NEVER_TRIGRAM = '"\ue000\ue001\ue002"'  # private-use characters

TABLES = {
    TABLE: f"CREATE VIRTUAL TABLE IF NOT EXISTS [{TABLE}] USING fts5("
    "bigrams, content='', tokenize='ascii')",
    IMPORTS_TABLE: f"CREATE TABLE IF NOT EXISTS [{IMPORTS_TABLE}] ([import_id] INTEGER PRIMARY KEY)",
}


def is_cjk(text):
    return bool(text) and _CJK_RUN.fullmatch(text) is not None


def has_cjk(text):
    return bool(text) and _CJK_RUN.search(text) is not None


_PAIR = re.compile(f"(?=([{_CJK_CLASS}][{_CJK_CLASS}]))")
_SINGLE = re.compile(f"(?<![{_CJK_CLASS}])[{_CJK_CLASS}](?![{_CJK_CLASS}])")


def bigrams(text):
    """The CJK bigrams of a text, space-separated; None when it has no CJK.

    A run of a single character is kept as it is, so that it is searchable
    beside its neighbours in other scripts. The regular expressions do the
    work in C: this runs once per tweet of every campaign."""
    if not text or not _CJK_RUN.search(text):
        return None
    tokens = _PAIR.findall(text) + _SINGLE.findall(text)
    return " ".join(tokens) if tokens else None


def ensure(conn):
    for sql in TABLES.values():
        conn.execute(sql)


def register_functions(conn):
    conn.create_function("tei_cjk_bigrams", 1, bigrams, deterministic=True)


def refresh(conn, campaign, ids=None):
    """Index the campaign's tweets from imports not indexed yet.

    The load indexes each import's tweets as it writes them, so this reads
    tweets only when an import of the campaign is not in the index yet (a
    database loaded before that): one pass over the campaign's rows. `ids`,
    a table of the campaign's tweet ids, lets the rows be read in rowid
    order (see summaries._rows). The function is called once per row: it
    returns None, fast, for a text without CJK characters."""
    ensure(conn)
    register_functions(conn)
    p = {"campaign": campaign}
    # A campaign's tweets come from its own tweet imports (tweets.import_id),
    # and only a finished import has rows: none pending, nothing to read.
    pending = conn.execute(
        f"""SELECT 1 FROM imports WHERE campaign = :campaign AND status = 'done'
              AND coalesce(kind, 'tweets') = 'tweets'
              AND id NOT IN (SELECT import_id FROM [{IMPORTS_TABLE}]) LIMIT 1""",
        p,
    ).fetchone()
    if pending:
        # +t.campaign: with ids, the rows are found by rowid; were the campaign
        # index used instead, each id would scan all the campaign's rows.
        source = (f"{ids} i CROSS JOIN tweets t ON t.tweetid BETWEEN i.tweetid AND i.tweetid "
                  "WHERE +t.campaign = :campaign"
                  if ids else "tweets t WHERE t.campaign = :campaign")
        conn.execute(
            f"""INSERT INTO [{TABLE}] (rowid, bigrams)
            SELECT tweetid, bigrams FROM (
                SELECT t.tweetid AS tweetid, tei_cjk_bigrams(t.tweet_text) AS bigrams FROM {source}
                  AND t.import_id NOT IN (SELECT import_id FROM [{IMPORTS_TABLE}])
                LIMIT -1  -- keeps the subquery from being flattened: one call a row
            ) WHERE bigrams IS NOT NULL""",
            p,
        )
    conn.execute(
        f"""INSERT OR IGNORE INTO [{IMPORTS_TABLE}] (import_id)
        SELECT id FROM imports WHERE campaign = :campaign AND status = 'done'""",
        p,
    )


# --- Turning a user's search into match expressions -------------------------

_SEPARATORS = re.compile(r'["\x00-\x1f\x7f]')


def terms(q):
    """Whitespace-separated terms; quotes (which only group words) and control
    characters (which FTS5 cannot take inside a string) separate terms too."""
    return _SEPARATORS.sub(" ", q or "").split()


def _quote(term):
    return '"' + term.replace('"', '""') + '"'


def plan(q):
    """Split a search into (trigram terms, bigram terms, residual terms).

    Terms of three or more characters go to the trigram index; two-character
    CJK words (and single CJK characters) to the bigram index; anything
    else (a one- or two-letter word in another script) cannot be looked up
    and is only checked against the tweets the other terms found."""
    trigram, bigram, residue = [], [], []
    for term in terms(q):
        if len(term) >= 3:
            trigram.append(term)
        elif is_cjk(term):
            bigram.append(term)
        else:
            residue.append(term)
    return trigram, bigram, residue


def trigram_query(q):
    trigram, _, _ = plan(q)
    return " ".join(_quote(t) for t in trigram) if trigram else NEVER_TRIGRAM


def bigram_query(q):
    _, bigram, _ = plan(q)
    return " ".join(_quote(t) for t in bigram) if bigram else NEVER_BIGRAM


def search_mode(q):
    """1: trigram index only; 2: bigram index only; 3: both; 0: nothing to look up."""
    trigram, bigram, _ = plan(q)
    return (1 if trigram else 0) | (2 if bigram else 0)


def residue_ok(text, q, with_bigrams=0):
    """1 when the text contains every term that no index could look up
    (and, with_bigrams, the CJK words: for a database without the bigram index)."""
    _, bigram, residue = plan(q)
    if with_bigrams:
        residue = residue + bigram
    if not residue:
        return 1
    folded = (text or "").casefold()
    return int(all(term.casefold() in folded for term in residue))


def exact(q, with_bigrams=0):
    """1 when the indexes alone decide the search: no term is left to check
    in the text (see residue_ok)."""
    _, bigram, residue = plan(q)
    return int(not residue and not (with_bigrams and bigram))


# The search's score: bm25's weight of a word found in a tweet, from how
# often the word occurs and how long the tweet is, every word of the search
# weighted alike (bm25's inverse document frequency would need a pass over
# every match of a common word). Lower is better, as with FTS5's bm25().
RANK_K1, RANK_B, RANK_AVERAGE_LENGTH = 1.2, 0.75, 100


def rank(text, q):
    folded = (text or "").casefold()
    norm = RANK_K1 * (1 - RANK_B + RANK_B * len(folded) / RANK_AVERAGE_LENGTH)
    score = 0.0
    for word in {t.casefold() for t in terms(q)}:
        found = folded.count(word)
        score += found * (RANK_K1 + 1) / (found + norm) if found else 0.0
    return -score


OPEN, CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧: rare in tweets, and not HTML-special


def snippet(text, q, width=160):
    """A window of the text around the first match, every term marked ⟦…⟧."""
    if text is None:
        return None
    words = sorted({t.casefold() for t in terms(q)}, key=len, reverse=True)
    if not words:
        return text[:width]
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    first = pattern.search(text)
    start = 0
    if first and len(text) > width:
        start = max(0, min(first.start() - width // 3, len(text) - width))
    window = text[start:start + width]
    marked = pattern.sub(lambda m: OPEN + m.group(0) + CLOSE, window)
    return ("…" if start else "") + marked + ("…" if start + width < len(text) else "")


def register_search_functions(conn):
    """The SQL functions the `search` canned query calls."""
    conn.create_function("tei_trigram_query", 1, trigram_query, deterministic=True)
    conn.create_function("tei_bigram_query", 1, bigram_query, deterministic=True)
    conn.create_function("tei_search_mode", 1, search_mode, deterministic=True)
    conn.create_function("tei_search_residue", 2, residue_ok, deterministic=True)
    conn.create_function("tei_search_residue", 3, residue_ok, deterministic=True)
    conn.create_function("tei_search_exact", 1, exact, deterministic=True)
    conn.create_function("tei_search_exact", 2, exact, deterministic=True)
    conn.create_function("tei_snippet", 2, snippet, deterministic=True)
    conn.create_function("tei_rank", 2, rank, deterministic=True)
    register_functions(conn)
