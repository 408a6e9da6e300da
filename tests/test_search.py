"""Full-text search: the word index, scripts written without spaces, and
`?_search=` as Datasette serves it. Every search is checked against an
oracle in Python that reads the tweets' text."""
import re
import shutil
import sqlite3
import unicodedata

import pytest
from datasette.app import Datasette
from hypothesis import given, settings
from hypothesis import strategies as st

from datasette_tei import search
from datasette_tei.build.synthetic import generate_tweets, tweets_csv_text
from helpers import query, run_build

# Tweets in the scripts that need care, and the words of other scripts.
TEXTS = [
    "中华人民共和国政府今天在香港发表声明",  # Chinese: one long run
    "共和，和国",  # two runs that only punctuation separates
    "東京オリンピックは延期された",  # Japanese: kanji and kana
    "대통령 선거에서 승리했다",  # Korean: particles written onto their words
    "ประเทศไทยสวัสดีครับ การเลือกตั้ง",  # Thai: no spaces between words
    "हिन्दी भाषा में चुनाव",  # Hindi: vowel signs inside words
    "Выборы в России прошли",
    "الانتخابات والحكومة",
    "Vote in the election! #Election2020 elections, reelection",
    "Café society, cafe\u0301 culture, RT @patriot_voice_4321",
    "中国 news, 香港 election",
]
UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0eff]")


def fold(text):
    """Lower case, Latin accents off (as unicode61's remove_diacritics 2)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return re.sub("[\u0300-\u036f]", "", decomposed)


def words(text):
    return re.findall(r"[\w\u0900-\u097f\u0e00-\u0e7f]+", fold(text))


def oracle(text, q):
    """Every part of the search is in the text: a word of an unspaced script
    anywhere, any other word whole (or as a prefix, with *)."""
    text = text or ""
    for part in q.split():
        if UNSPACED.search(part):
            if part not in text:
                return False
        elif part.endswith("*"):
            if not any(w.startswith(fold(part[:-1])) for w in words(text)):
                return False
        elif fold(part) not in words(text):
            return False
    return True


SEARCHES = ["共和国", "人民", "华人", "香港", "国政", "オリンピック", "延期", "선거", "대통령",
            "ไทย", "สวัสดี", "เลือกตั้ง", "भाषा", "चुनाव", "выборы", "России", "الحكومة",
            "election", "elect*", "ELECTION", "cafe", "café", "patriot_voice_4321",
            "中国 news", "香港 election", "election2020"]


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search")
    # The extra tweets bring the generator's words in several languages.
    rows = list(generate_tweets(len(TEXTS) + 20, "2020", n_users=5, seed=3))
    for row, text in zip(rows, TEXTS):
        row["tweet_text"] = text
    path = folder / "search_tweets_csv_hashed.csv"
    path.write_text(tweets_csv_text(rows, "2020"), encoding="utf-8")
    db = str(folder / "search.db")
    assert run_build(db, path).exit_code == 0
    return db


def texts_of(db):
    return dict(query(db, "SELECT tweetid, tweet_text FROM tweets"))


@pytest.mark.parametrize("q", SEARCHES)
def test_the_index_finds_what_the_oracle_finds(db, q):
    got = {r[0] for r in query(db, "SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH ?",
                               (search.search_expression(q),))}
    want = {i for i, text in texts_of(db).items() if oracle(text, q)}
    assert got == want
    if q != "الحكومة":  # a whole word: والحكومة (and the government) is another
        assert want, q


def test_runs_that_punctuation_separates_are_not_one_word(db):
    texts = texts_of(db)
    got = {r[0] for r in query(db, "SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH ?",
                               (search.search_expression("共和国"),))}
    assert not any(texts[i] == "共和，和国" for i in got)
    assert any(texts[i] == "共和，和国" for i in (r[0] for r in query(
        db, "SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH ?", (search.search_expression("和国"),))))


def test_index_text():
    assert search.index_text("no unspaced script here") is None
    assert search.index_text(None) is None
    cut = search.index_text("RT @x: 中华人民 a 人").split()
    b = search.BOUNDARY
    assert cut == ["RT", "@x:", "中华", "华人", "人民", b, "a", "人", b]
    assert search.index_text("한국어 テスト").split() == ["한국", "국어", b, "テス", "スト", b]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("中华人民共和国香港ab ,\n한국テกขั"), max_size=30),
       st.text(alphabet=st.sampled_from("中华人民共和国香港한국テกขั"), min_size=2, max_size=4))
def test_a_run_of_two_or_more_characters_is_found_exactly_where_it_occurs(text, q):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE tweets (tweetid INTEGER PRIMARY KEY, tweet_text TEXT)")
    conn.execute(search.CREATE)
    conn.execute("INSERT INTO tweets VALUES (1, ?)", (text,))
    conn.execute("INSERT INTO tweets_fts (rowid, tweet_text) VALUES (1, ?)", (search.index_text(text) or text,))
    found = conn.execute("SELECT count(*) FROM tweets_fts WHERE tweets_fts MATCH ?",
                         (search.search_expression(q),)).fetchone()[0]
    assert found == (q in text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_search_is_a_valid_expression(q):
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE tweets (tweetid INTEGER PRIMARY KEY, tweet_text TEXT)")
    conn.execute(search.CREATE)
    conn.execute("INSERT INTO tweets_fts (rowid, tweet_text) VALUES (1, 'x')")
    conn.execute("SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH ?", (search.search_expression(q),)).fetchall()


QUOTED_ONLY = re.compile(r'"(?:[^"]|"")*"(?: \*)?(?: "(?:[^"]|"")*"(?: \*)?)*')


@pytest.mark.parametrize("q", ['"', "AND OR NOT (", "*", "NEAR(a b)", "tweet_text:x", "a:b", "^x", "x\x00y",
                               "", "  ", '""', "-x", "+", 'say "hello world', "a* b*"])
def test_syntax_is_never_read_as_fts5(q):
    """Whatever is typed becomes quoted strings, a trailing * at most."""
    assert QUOTED_ONLY.fullmatch(search.search_expression(q))


def test_snippet_and_rank_follow_words():
    text = "x " * 150 + "中华人民共和国 reelection election" + " y" * 150
    s = search.snippet(text, "人民 election")
    assert search.OPEN + "人民" + search.CLOSE in s
    assert search.OPEN + "election" + search.CLOSE in s and "re" + search.OPEN not in s
    assert s.startswith("…") and s.endswith("…") and len(s) < 200
    assert search.OPEN + "elections" + search.CLOSE in search.snippet("big elections", "elect*")
    assert search.rank("elections", "election") == 0 > search.rank("the election", "election")


# --- ?_search= through Datasette ------------------------------------------------------

@pytest.mark.asyncio
@pytest.mark.parametrize("q", SEARCHES)
async def test_datasette_search_finds_what_the_oracle_finds(db, q):
    ds = Datasette([db])
    response = await ds.client.get("/search/tweets.json",
                                   params={"_search": q, "_shape": "array", "_size": "max"})
    assert response.status_code == 200
    got = {row["tweetid"] for row in response.json()}
    assert got == {i for i, text in texts_of(db).items() if oracle(text, q)}


@pytest.mark.asyncio
async def test_escape_fts_is_replaced_in_tei_databases_only(db, tmp_path):
    """Another database's FTS table is searched as Datasette searches it."""
    other = str(tmp_path / "other.db")
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.execute("CREATE VIRTUAL TABLE notes_fts USING fts5(body, content=notes, content_rowid=id)")
    conn.execute("INSERT INTO notes VALUES (1, '共和国')")
    conn.execute("INSERT INTO notes_fts (rowid, body) VALUES (1, '共和国')")
    conn.commit()
    conn.close()
    ds = Datasette([db, other])
    notes = await ds.client.get("/other/notes.json", params={"_search": "共和国", "_shape": "array"})
    assert [row["id"] for row in notes.json()] == [1]  # one unicode61 token, found whole
    tei = await ds.client.get("/search/tweets.json", params={"_search": "共和国", "_shape": "array"})
    assert tei.json() and all("共和国" in row["tweet_text"] for row in tei.json())


def test_a_database_with_the_older_indexes_gets_the_word_index(db, tmp_path):
    """A trigram index and a CJK pair index, as earlier versions built them,
    are replaced by the next build, from the tweets already loaded."""
    path = str(tmp_path / "old.db")
    shutil.copy(db, path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE tweets_fts")
    conn.execute("CREATE VIRTUAL TABLE tweets_fts USING fts5(tweet_text, content=[tweets], tokenize='trigram')")
    conn.execute("INSERT INTO tweets_fts (tweets_fts) VALUES ('rebuild')")
    conn.execute("CREATE VIRTUAL TABLE tweets_cjk USING fts5(bigrams, content='', tokenize='ascii')")
    conn.execute("CREATE TABLE tweets_cjk_imports (import_id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    source = db.replace("search.db", "search_tweets_csv_hashed.csv")  # loaded already: nothing new
    assert run_build(path, source).exit_code == 0
    names = {r[0] for r in query(path, "SELECT name FROM sqlite_master")}
    assert not names & {"tweets_cjk", "tweets_cjk_imports"}
    assert search.TOKENIZE in query(path, "SELECT sql FROM sqlite_master WHERE name = 'tweets_fts'")[0][0]
    assert query(path, "SELECT count(*) FROM tweets_fts_docsize") == query(path, "SELECT count(*) FROM tweets")
    for q in ("共和国", "election", "สวัสดี"):
        got = {r[0] for r in query(path, "SELECT rowid FROM tweets_fts WHERE tweets_fts MATCH ?",
                                   (search.search_expression(q),))}
        assert got == {i for i, text in texts_of(path).items() if oracle(text, q)} != set()
