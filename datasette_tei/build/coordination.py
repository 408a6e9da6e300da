"""Coordination networks: which accounts acted together, and the tweets that show it.

Two tweets by different accounts *match* when they share an object and
their tweet_time values are at most W minutes apart (the archives have
minute resolution: W = 1 is the same or the next minute). Each network kind
has its object (KINDS). The weight of the directed edge A->B is the number
of distinct tweets of A that match at least one tweet of B, as the
coordination-network-toolkit counts it; edges of weight >= a minimum are
kept, each with one evidence row per tweet counted (B's nearest matching
tweet beside it). docs/coordination.md states it all for readers.

A run is one parameter set (kind, window, minimum weight, campaign glob):
`compute_run` replaces a run's rows in one transaction; `refresh` (the
build's last step) computes the default runs and recomputes every run
whose campaigns gained or lost archives since it was computed.

The work is SQL over tables, so that memory stays bounded by SQLite's
page cache and sorter (which spill to disk) whatever the size:

1. the objects: one row (object, minute, userid, tweetid) per tweet and
   object, inserted in key order into a WITHOUT ROWID table, which is then
   its own index. co_retweet, co_link and co_reply keep theirs between
   runs (tei_coordination_objects, made again when the data changes), for
   the runs of every campaign; the other runs make theirs in a temporary
   table;
2. the matches: a self-join of that table on the object and a window of
   minutes, each row probing its neighbours in the index;
3. per tweet of A and account B, B's nearest matching tweet (ties: the
   smaller tweetid), then the weights, the edges and their evidence.

co_tweet's objects are 64-bit hashes of the normalised text (cheaper to
sort and compare than the text); the matches are then checked on the text
itself, so a hash collision cannot make an edge.
"""
import hashlib
import json
import os
import re
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass

from . import groups
from ..schema import ensure_coordination_schema, is_tei_database, now, set_meta, transaction
from .checkpoints import checkpoint
from .target import BuildLock, TargetError

# What a run's results depend on besides its parameters: raised when a
# definition changes, so that the next build recomputes every stored run.
DEFINITIONS_VERSION = 1

DEFAULT_WINDOW = 1
MAX_WINDOW = 1440  # a day: wider windows make every busy object a clique
DEFAULT_SCOPE = "*"

_NOT_RETWEET = "t.retweet_tweetid IS NULL AND coalesce(t.is_retweet, 0) = 0"
# Minutes since 1970: seconds, where a file has them, are dropped, so that
# every tweet has the minute resolution most archives have. unixepoch()
# (SQLite 3.38) costs a fifth of strftime('%s').
_MINUTE = (
    "unixepoch(t.tweet_time) / 60" if sqlite3.sqlite_version_info >= (3, 38)
    else "CAST(strftime('%s', substr(t.tweet_time, 1, 16)) AS INTEGER) / 60"
)


@dataclass(frozen=True)
class Kind:
    name: str
    object: str  # what the matching tweets share, for people
    select: str  # SQL: object, minute, userid, tweetid FROM tweets t ... (scope appended)
    min_weight: int
    default: bool  # computed by every build
    exact_text: bool = False  # objects are hashes; check the normalised texts
    # Objects kept in tei_coordination_objects between runs (the runs of
    # every campaign read them); co_tweet's hashes hold only within a process.
    stored: bool = False


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "co_retweet", "the same retweeted tweet (retweet_tweetid)",
            f"SELECT t.retweet_tweetid, {_MINUTE}, t.userid, t.tweetid FROM tweets t "
            "WHERE t.retweet_tweetid IS NOT NULL",
            min_weight=2, default=True, stored=True,
        ),
        Kind(
            "co_tweet", "the same text, normalised (lower case, @mentions removed, "
            "whitespace collapsed); retweets excluded",
            f"SELECT tei_text_key(t.tweet_text), {_MINUTE}, t.userid, t.tweetid FROM tweets t "
            f"WHERE {_NOT_RETWEET} AND t.tweet_text IS NOT NULL",
            min_weight=2, default=True, exact_text=True,
        ),
        Kind(
            "co_link", "the same URL (in urls); retweets excluded",
            f"SELECT j.value, {_MINUTE}, t.userid, t.tweetid FROM tweets t, json_each(t.urls) j "
            f"WHERE t.urls <> '[]' AND {_NOT_RETWEET} AND j.value <> ''",
            min_weight=2, default=True, stored=True,
        ),
        Kind(
            "co_reply", "a reply to the same tweet (in_reply_to_tweetid); retweets excluded",
            f"SELECT t.in_reply_to_tweetid, {_MINUTE}, t.userid, t.tweetid FROM tweets t "
            f"WHERE t.in_reply_to_tweetid IS NOT NULL AND {_NOT_RETWEET}",
            min_weight=2, default=True, stored=True,
        ),
        # A hashtag is one word from a small shared vocabulary that a
        # campaign's own slogans and any trending topic put in thousands of
        # unrelated tweets a minute: two accounts share a tag within a minute
        # by chance far more often than a text or a URL, so one edge needs
        # more repeats to mean anything (docs/coordination.md has the
        # figures). Not a default network: on a trending tag the matches grow
        # as the square of the tweets in a minute.
        Kind(
            "co_hashtag", "the same hashtag, case-insensitive; retweets excluded",
            f"SELECT tei_lower(j.value), {_MINUTE}, t.userid, t.tweetid FROM tweets t, "
            f"json_each(t.hashtags) j WHERE t.hashtags <> '[]' AND {_NOT_RETWEET} AND j.value <> ''",
            min_weight=5, default=False,
        ),
    )
}
DEFAULT_KINDS = tuple(name for name, kind in KINDS.items() if kind.default)

COMMUNITY_SEED = 1


def tune(conn):
    """The connection's settings for the networks' sorts: a helper thread
    (the other core), and 8 MiB of page cache, by which SQLite sizes each
    sorter's memory. Two sorters of the build's 16 MiB raised its peak at 1M
    tweets from 140 to 162 MB; these leave 146 MB, at the same speed."""
    conn.execute("PRAGMA threads = 1")
    conn.execute("PRAGMA cache_size = -8192")

# An @ and what follows it up to whitespace, whitespace as the reference
# tool's `regex` pattern sees it (Unicode White_Space: str.isspace() without
# the four information separators \x1c-\x1f), so that texts normalise alike.
_MENTION = re.compile("@[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*")


class CoordinationError(Exception):
    """Parameters or a database a run cannot be computed with."""


def normalise_text(text):
    """A tweet's text as co_tweet compares it: lower case, @mentions (an @
    and what follows it up to whitespace) removed, runs of whitespace made
    one space, none at either end. The coordination-network-toolkit's
    message_preprocessor, with a fast path for the common text without @."""
    if text is None:
        return None
    text = text.lower()
    if "@" in text:
        text = _MENTION.sub("", text)
    return " ".join(text.split())


def _text_key(text):
    # hash() of a str is SipHash with a per-process key: equal texts get
    # equal keys within one run, and no text can be written to collide.
    text = normalise_text(text)
    return hash(text) if text else None


def _lower(value):
    return value.lower() if value is not None else None


def register_functions(conn):
    conn.create_function("tei_text_key", 1, _text_key, deterministic=True)
    conn.create_function("tei_normalise_text", 1, normalise_text, deterministic=True)
    conn.create_function("tei_lower", 1, _lower, deterministic=True)
    groups.register_functions(conn)


@dataclass(frozen=True)
class RunSpec:
    kind: str
    window_minutes: int = DEFAULT_WINDOW
    min_weight: int = None
    scope: str = DEFAULT_SCOPE

    def __post_init__(self):
        if self.kind not in KINDS:
            raise CoordinationError(f"unknown network kind {self.kind!r} (one of {', '.join(KINDS)})")
        if self.min_weight is None:
            object.__setattr__(self, "min_weight", KINDS[self.kind].min_weight)
        if not isinstance(self.window_minutes, int) or not 0 <= self.window_minutes <= MAX_WINDOW:
            raise CoordinationError(f"window must be 0 to {MAX_WINDOW} minutes, not {self.window_minutes!r}")
        if not isinstance(self.min_weight, int) or self.min_weight < 1:
            raise CoordinationError(f"minimum weight must be 1 or more, not {self.min_weight!r}")
        if not self.scope:
            raise CoordinationError("the campaign glob is empty")

    @property
    def is_default(self):
        return self in default_specs()

    def parameters(self):
        """Everything the run is computed with, as stored in coordination_runs."""
        kind = KINDS[self.kind]
        return {
            "kind": self.kind,
            "object": kind.object,
            "window_minutes": self.window_minutes,
            "window": f"tweet_time at most {self.window_minutes} minute(s) apart "
                      "(minute resolution; seconds are ignored)",
            "min_weight": self.min_weight,
            "weight": "distinct tweets of A matching at least one tweet of B",
            "scope": self.scope,
            "self_edges": False,
            "community": {"library": "igraph", "method": "leiden", "objective": "modularity",
                          "graph": "undirected, weight = weight A->B + weight B->A",
                          "seed": COMMUNITY_SEED},
            "definitions_version": DEFINITIONS_VERSION,
        }


def default_specs():
    return tuple(RunSpec(kind) for kind in DEFAULT_KINDS)


def _scope_sql(scope):
    """A condition on tweets t: the tweet is in a campaign the glob matches
    (its own, or one that shares it)."""
    if scope == "*":
        return "", {}
    return (
        " AND (t.campaign GLOB :scope OR t.tweetid IN "
        "(SELECT tweetid FROM shared_tweets WHERE campaign GLOB :scope))",
        {"scope": scope},
    )


def data_version(conn, scope):
    """What a run of this scope is computed from: the loaded imports of its
    campaigns, by content. Equal versions mean equal rows."""
    where, params = ("", {}) if scope == "*" else (" AND campaign GLOB :scope", {"scope": scope})
    digest = hashlib.sha1()
    for (key,) in conn.execute(
        "SELECT coalesce(checksum, path || ':' || coalesce(member, '') || ':' || coalesce(size, '')) "
        f"AS key FROM imports WHERE status = 'done'{where} ORDER BY key",
        params,
    ):
        digest.update(key.encode("utf-8", "surrogatepass") + b"\n")
    return f"{DEFINITIONS_VERSION}:{digest.hexdigest()}"


def matching_campaigns(conn, scope):
    return [row[0] for row in conn.execute(
        "SELECT name FROM campaigns WHERE name GLOB ? ORDER BY name", (scope,))]


# --- One run ---------------------------------------------------------------

_TEMP = ("_tei_co_m", "_tei_co_p", "_tei_co_x", "_tei_co_h", "_tei_co_w", "_tei_co_e")


def _drop_temp(conn):
    for table in _TEMP:
        conn.execute(f"DROP TABLE IF EXISTS temp.{table}")
    groups.drop_temp(conn)


def compute_run(conn, spec, is_default=None):
    """Compute one run and replace its rows, in one transaction. Returns
    its coordination_runs row as a dict."""
    register_functions(conn)
    started = time.perf_counter()
    with transaction(conn):
        run_id = _run_row(conn, spec, spec.is_default if is_default is None else is_default)
        for table in ("coordination_evidence", "coordination_edges", "coordination_groups",
                      "coordination_group_summaries"):
            conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
        try:
            evidence = _compute(conn, spec, run_id)
            group_count = groups.find(conn, run_id, seed=COMMUNITY_SEED)
            groups.summarise(conn, run_id, *_scope_sql(spec.scope))
        finally:
            _drop_temp(conn)
        edge_count, account_count = conn.execute(
            "SELECT count(*), (SELECT count(*) FROM (SELECT userid_a FROM coordination_edges "
            "WHERE run_id = :run UNION SELECT userid_b FROM coordination_edges WHERE run_id = :run)) "
            "FROM coordination_edges WHERE run_id = :run",
            {"run": run_id},
        ).fetchone()
        conn.execute(
            "UPDATE coordination_runs SET created = ?, edge_count = ?, account_count = ?, group_count = ?, "
            "evidence_count = ?, seconds = ?, data_version = ? WHERE id = ?",
            (now(), edge_count, account_count, group_count, evidence,
             round(time.perf_counter() - started, 3), data_version(conn, spec.scope), run_id),
        )
        checkpoint("coordination")
    return run_row(conn, run_id)


def run_row(conn, run_id):
    cursor = conn.execute("SELECT * FROM coordination_runs WHERE id = ?", (run_id,))
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return dict(zip(names, row)) if row else None


def _run_row(conn, spec, is_default):
    """The run's id: its row's, kept when a run is recomputed, so that links
    to it stay valid; a new row otherwise."""
    key = (spec.kind, spec.window_minutes, spec.min_weight, spec.scope)
    parameters = json.dumps(spec.parameters(), sort_keys=True)
    row = conn.execute(
        "SELECT id, is_default FROM coordination_runs WHERE kind = ? AND window_minutes = ? "
        "AND min_weight = ? AND scope = ?", key).fetchone()
    if row:
        conn.execute("UPDATE coordination_runs SET parameters = ?, is_default = ? WHERE id = ?",
                     (parameters, int(is_default or row[1]), row[0]))
        return row[0]
    return conn.execute(
        "INSERT INTO coordination_runs (kind, window_minutes, min_weight, scope, is_default, "
        "parameters, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
        key + (int(is_default), parameters, now()),
    ).lastrowid


def _compute(conn, spec, run_id):
    """Fill the run's edges and evidence; returns the evidence rows' count."""
    kind = KINDS[spec.kind]
    scope_sql, params = _scope_sql(spec.scope)
    params.update({"w": spec.window_minutes, "min": spec.min_weight, "run": run_id, "kind": spec.kind})
    _drop_temp(conn)
    # 1. Objects, in key order: the table is its own index. The stored ones
    # when the run is of every campaign; the run's own otherwise.
    if kind.stored and spec.scope == "*":
        _store_objects(conn)
        objects, same_kind = OBJECTS, "a.kind = :kind AND b.kind = a.kind AND "
    else:
        conn.execute(
            "CREATE TEMP TABLE _tei_co_m (object NOT NULL, minute INTEGER NOT NULL, userid TEXT NOT NULL, "
            "tweetid INTEGER NOT NULL, PRIMARY KEY (object, minute, userid, tweetid)) WITHOUT ROWID"
        )
        conn.execute(f"INSERT OR IGNORE INTO temp._tei_co_m {kind.select}{scope_sql} ORDER BY 1, 2, 3, 4",
                     params)
        objects, same_kind = "temp._tei_co_m", ""
    # 2. Matches: each object row probes the rows of its object within the
    # window, in the same index.
    conn.execute(
        f"""CREATE TEMP TABLE _tei_co_p AS
        SELECT a.userid AS ua, b.userid AS ub, a.tweetid AS ta, b.tweetid AS tb, a.object AS obj,
               abs(a.minute - b.minute) AS d
        FROM {objects} a JOIN {objects} b
          ON {same_kind}b.object = a.object AND b.minute BETWEEN a.minute - :w AND a.minute + :w
        WHERE b.userid <> a.userid""",
        params,
    )
    conn.execute("DROP TABLE IF EXISTS temp._tei_co_m")
    # No match, no edge: the evidence's steps would each read an empty table
    # and the edges' step the evidence.
    if not conn.execute("SELECT 1 FROM temp._tei_co_p LIMIT 1").fetchone():
        return 0
    if kind.exact_text:
        _check_texts(conn)
    # 3. Per tweet of A and account B, B's nearest matching tweet.
    conn.execute(
        """CREATE TEMP TABLE _tei_co_h AS
        SELECT ua, ub, ta, tb, obj, d FROM (
          SELECT ua, ub, ta, tb, obj, d,
                 row_number() OVER (PARTITION BY ta, ub ORDER BY d, tb, obj) AS n
          FROM temp._tei_co_p)
        WHERE n = 1"""
    )
    conn.execute("DROP TABLE temp._tei_co_p")
    conn.execute(
        "CREATE TEMP TABLE _tei_co_w (ua TEXT, ub TEXT, weight INTEGER, PRIMARY KEY (ua, ub)) WITHOUT ROWID"
    )
    conn.execute("INSERT INTO temp._tei_co_w SELECT ua, ub, count(*) FROM temp._tei_co_h GROUP BY ua, ub")
    evidence = conn.execute(
        """INSERT INTO coordination_evidence
          (run_id, userid_a, userid_b, tweetid_a, tweetid_b, object, minutes_apart)
        SELECT :run, h.ua, h.ub, h.ta, h.tb, h.obj, h.d
        FROM temp._tei_co_h h JOIN temp._tei_co_w w ON w.ua = h.ua AND w.ub = h.ub
        WHERE w.weight >= :min
        ORDER BY h.ua, h.ub, h.ta""",
        params,
    ).rowcount
    conn.execute("DROP TABLE temp._tei_co_h")
    # The evidence's tweets: the campaigns and times of each edge.
    conn.execute(
        """CREATE TEMP TABLE _tei_co_e AS
        SELECT e.userid_a AS ua, e.userid_b AS ub, e.tweetid_a AS ta, e.tweetid_b AS tb,
               a.campaign AS ca, b.campaign AS cb, a.tweet_time AS time
        FROM coordination_evidence e
        CROSS JOIN tweets a ON a.tweetid = e.tweetid_a
        CROSS JOIN tweets b ON b.tweetid = e.tweetid_b
        WHERE e.run_id = :run
        ORDER BY ua, ub""",
        params,
    )
    conn.execute("CREATE INDEX temp._tei_co_e_pair ON _tei_co_e (ua, ub)")
    conn.execute(
        """INSERT INTO coordination_edges (run_id, kind, userid_a, userid_b, campaign_a, campaign_b,
            weight, weight_reverse, symmetry, first_time, last_time)
        SELECT :run, :kind, w.ua, w.ub,
          (SELECT ca FROM temp._tei_co_e WHERE ua = w.ua AND ub = w.ub
           GROUP BY ca ORDER BY count(*) DESC, ca LIMIT 1),
          (SELECT cb FROM temp._tei_co_e WHERE ua = w.ua AND ub = w.ub
           GROUP BY cb ORDER BY count(DISTINCT tb) DESC, cb LIMIT 1),
          w.weight, coalesce(r.weight, 0),
          min(w.weight, coalesce(r.weight, 0)) * 1.0 / max(w.weight, coalesce(r.weight, 0)),
          (SELECT min(time) FROM temp._tei_co_e WHERE ua = w.ua AND ub = w.ub),
          (SELECT max(time) FROM temp._tei_co_e WHERE ua = w.ua AND ub = w.ub)
        FROM (SELECT ua, ub, weight FROM temp._tei_co_w WHERE weight >= :min) w
        LEFT JOIN temp._tei_co_w r ON r.ua = w.ub AND r.ub = w.ua
        ORDER BY w.ua, w.ub""",
        params,
    )
    return evidence


OBJECTS = "tei_coordination_objects"
OBJECTS_KEY = "coordination_objects"  # in tei_meta: the data_version they were made from


def _store_objects(conn):
    """tei_coordination_objects, made again from every tweet when the loaded
    imports changed since it was made (data_version, the key a run of every
    campaign is kept by). Every stored kind at once: the build's default
    runs read them all, and emptying the whole table is SQLite's truncation,
    where emptying one kind's rows deletes them one by one. OR IGNORE drops
    rows without an object, a time or an account, and a URL a tweet lists
    twice."""
    version = data_version(conn, "*")
    made = conn.execute("SELECT value FROM tei_meta WHERE key = ?", (OBJECTS_KEY,)).fetchone()
    if made and made[0] == version:
        return
    conn.execute(f"DELETE FROM {OBJECTS}")
    for kind in KINDS.values():
        if kind.stored:
            conn.execute(f"INSERT OR IGNORE INTO {OBJECTS} SELECT :kind, * FROM ({kind.select}) "
                         "ORDER BY 2, 3, 4, 5", {"kind": kind.name})
    set_meta(conn, **{OBJECTS_KEY: version})


def _check_texts(conn):
    """co_tweet: keep the matches whose normalised texts are equal (not
    only their hashes), with the text as the object."""
    conn.execute("CREATE TEMP TABLE _tei_co_x (tweetid INTEGER PRIMARY KEY, text TEXT)")
    conn.execute(
        """INSERT INTO temp._tei_co_x
        SELECT t.tweetid, tei_normalise_text(t.tweet_text)
        FROM (SELECT DISTINCT ta FROM temp._tei_co_p) p CROSS JOIN tweets t ON t.tweetid = p.ta"""
    )
    conn.execute(
        """DELETE FROM temp._tei_co_p WHERE
        (SELECT text FROM temp._tei_co_x WHERE tweetid = ta) IS NOT
        (SELECT text FROM temp._tei_co_x WHERE tweetid = tb)"""
    )
    conn.execute("UPDATE temp._tei_co_p SET obj = (SELECT text FROM temp._tei_co_x WHERE tweetid = ta)")


# --- The build's step ----------------------------------------------------------


def stale_runs(conn):
    """The runs to compute: each default run that is missing, and every
    stored run whose data or definitions changed since it was computed."""
    todo = []
    versions = {}
    stored = conn.execute(
        "SELECT kind, window_minutes, min_weight, scope, is_default, data_version FROM coordination_runs "
        "ORDER BY id").fetchall()
    known = set()
    for kind, window, min_weight, scope, is_default, version in stored:
        if kind not in KINDS:
            continue
        spec = RunSpec(kind, window, min_weight, scope)
        known.add(spec)
        if scope not in versions:
            versions[scope] = data_version(conn, scope)
        if version != versions[scope]:
            todo.append(spec)
    todo.extend(spec for spec in default_specs() if spec not in known)
    return todo


def refresh(conn, progress=None):
    """The build's step: bring every run up to date, each in its own
    transaction. A run is recomputed whole: at 1M tweets the default runs
    take seconds (docs/coordination.md), less than finding what an added
    archive changed would be worth."""
    results = []
    for spec in stale_runs(conn):
        if progress:
            progress.message(f"Coordination network {spec.kind} (window {spec.window_minutes} min, "
                             f"min weight {spec.min_weight}, campaigns {spec.scope})")
        results.append(compute_run(conn, spec))
    return results


# --- The command's entry point ---------------------------------------------------


def coordinate(db_path, specs, progress=None):
    """Compute the runs `specs` on the database at db_path, each replacing
    its earlier rows. A file that is not a complete datasette-tei database is
    refused before anything is written to it. Returns the runs' rows."""
    _check_database(db_path)
    # The build's own lock: a build and a computation at once would each
    # see the other's campaigns half-loaded.
    try:
        lock = BuildLock(db_path).acquire()
    except TargetError as error:
        raise CoordinationError(str(error)) from None
    try:
        if _check_database(db_path) != "complete":
            raise CoordinationError(
                f"{db_path}: its build did not finish; run the same `datasette-tei build` again first")
        return _coordinate(db_path, specs, progress)
    finally:
        lock.release()


def _coordinate(db_path, specs, progress):
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=60)
    try:
        # The build's bounds: temporary tables on disk, small sorters.
        conn.execute("PRAGMA temp_store = FILE")
        tune(conn)
        for scope in sorted({spec.scope for spec in specs}):
            if not matching_campaigns(conn, scope):
                raise CoordinationError(f"{db_path}: no campaign matches {scope}")
        with transaction(conn):
            ensure_coordination_schema(conn)
        rows = []
        for spec in specs:
            if progress:
                progress.message(f"Computing {spec.kind} (window {spec.window_minutes} min, "
                                 f"min weight {spec.min_weight}, campaigns {spec.scope})")
            rows.append(compute_run(conn, spec))
        return rows
    except sqlite3.DatabaseError as error:
        raise CoordinationError(
            f"{db_path}: cannot write the database ({error}); runs computed before this are kept, "
            "the one in progress was rolled back") from None
    finally:
        conn.close()


def _check_database(db_path):
    if not os.path.isfile(db_path):
        raise CoordinationError(f"{db_path}: no such file")
    # Read-only, so that a file that is not ours is never modified.
    uri = "file:" + urllib.parse.quote(os.path.abspath(db_path)) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            ours = is_tei_database(conn)
            state = conn.execute("SELECT value FROM tei_meta WHERE key = 'build_state'").fetchone() if ours else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        # SQLite's busy timeout ran out: the file may well be ours.
        if "locked" in str(error):
            raise CoordinationError(f"{db_path}: the database is locked by another program writing "
                                    "to it; try again when it has finished") from None
        ours = False
    if not ours:
        raise CoordinationError(f"{db_path}: not a datasette-tei database (build one with `datasette-tei build`)")
    return state[0] if state else "complete"
