"""Bulk load archives into the database: one transaction per archive.

An archive (a zip, a CSV, a CSV.gz) is loaded whole or not at all: its rows,
its full-text entries, its `imports` rows and the mark that its campaign's
figures need recomputing commit together. A build killed at any point leaves
every archive either fully present or absent; running it again finishes the
job. Members already imported (same campaign, same checksum) are skipped.
"""
import json
import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field

from .. import search, summaries
from . import finish, media, replace, sqlload
from . import stream as stream_mod
from .archives import ArchiveError, file_checksum, find_archives, raw_text
from .checkpoints import checkpoint
from .parse import Converter, RowError
from ..schema import FTS_TABLE, ensure_schema, now, record_failure, set_meta, transaction
from .target import BuildLock, TargetError
from .target import check as check_target

BATCH = 5000
REJECT_SAMPLES = 10  # rejected rows named in the build's summary
# Every rejected row is counted (imports.rows_rejected, campaigns.rejected_rows),
# but an archive of nothing but bad rows must not make a database of them:
# `rejects` lists at most this many rows of an archive, with at most this many
# characters of raw text in all (later rows are listed without it).
MAX_REJECTS_LISTED = 100_000
MAX_REJECT_RAW = 10_000_000
MAX_RAW_PENDING = 1_000_000  # raw text held before it is written

class BuildError(Exception):
    """The build as a whole cannot go on (no database, no sources)."""


@dataclass
class CampaignReport:
    tweets: int = 0
    users: int = 0
    rejected: int = 0
    duplicates: int = 0
    skipped_members: int = 0
    replaced_members: int = 0  # loaded before with other content: replaced


@dataclass
class BuildReport:
    campaigns: dict = field(default_factory=lambda: defaultdict(CampaignReport))
    errors: list = field(default_factory=list)  # one line per unreadable archive or member
    rejected: int = 0
    # The first rejected rows, "file[:member]: line N: reason", for the CLI.
    reject_samples: list = field(default_factory=list)

    @property
    def ok(self):
        return not self.errors


class NullProgress:
    """The progress interface the CLI implements; this one shows nothing."""

    def start(self, total_bytes):
        pass

    def advance(self, nbytes):
        pass

    def rows(self, nrows):
        pass

    def message(self, text):
        pass

    def finish(self):
        pass


def connect(path):
    # Python's sqlite3 binds None, which is not one of the types it binds
    # directly, only after looking for an adapter in its registry and on the
    # object: about 0.5 µs per None, and a tweet has a dozen empty columns,
    # a quarter of the load's time in the main process. An adapter for None
    # that returns None (a C call: {}.get) binds the same NULL at once.
    sqlite3.register_adapter(type(None), {}.get)
    conn = sqlite3.connect(path, isolation_level=None, timeout=60)
    # WAL lets a `datasette serve` reading the database during a build see
    # the last committed state, never a half-loaded archive. synchronous
    # NORMAL in WAL mode survives a killed process; only a power cut can
    # lose the last transaction, which the next build then redoes.
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    # 32 MiB: SQLite sorts (indexes, summaries) take up to as much again, and
    # the whole build must stay under 200 MB whatever the archive's size.
    conn.execute("PRAGMA cache_size = -32768")
    conn.execute("PRAGMA temp_store = FILE")
    return conn


def build(db_path, sources, campaign=None, strict=False, progress=None):
    """Load every archive under `sources` into the database at `db_path`."""
    progress = progress or NullProgress()
    report = BuildReport()
    pipeline()  # a wrong DATASETTE_TEI_PIPELINE stops the build before it starts
    try:
        # Refused before anything else reads the sources or touches the file.
        check_target(db_path)
        # A source that cannot be read is reported and skipped; the rest loads.
        found = find_archives(sources, campaign=campaign, errors=report.errors)
        if not found and report.errors:
            raise BuildError("\nError: ".join(report.errors))
        lock = BuildLock(db_path).acquire()
    except (ArchiveError, TargetError) as error:
        raise BuildError(str(error)) from None
    try:
        return _build(db_path, found, report, strict, progress)
    finally:
        lock.release()


def _build(db_path, found, report, strict, progress):
    try:
        check_target(db_path)  # again, now that no other build can change it
        conn = connect(db_path)
    except TargetError as error:
        raise BuildError(str(error)) from None
    except sqlite3.Error as error:
        raise BuildError(f"{db_path}: cannot open the database ({error})") from None
    try:
        conn.execute("BEGIN")
        ensure_schema(conn)
        summaries.mark_outdated(conn)
        set_meta(conn, build_state="building", build_started=now())
        conn.execute("COMMIT")
        plans = []
        for archive in found:
            if media.is_media_archive(archive):
                media.index_archive(conn, archive, report)  # members indexed, never extracted
                continue
            try:
                members = archive.members()
            except ArchiveError as error:
                record_failure(conn, archive.path, archive.campaign, str(error))
                report.errors.append(str(error))
                continue
            plans.append((archive, members))
        progress.start(sum(m.size for _, members in plans for m in members))
        for archive, members in plans:
            try:
                load_archive(conn, archive, members, report, strict, progress)
            finally:
                archive.close()
        progress.finish()
        finish.finish(conn, progress)
    except sqlite3.DatabaseError as error:
        # A full disk, an I/O error, a lock held too long: every transaction
        # committed before stays, the one in progress is rolled back.
        progress.finish()
        cause = "another program writing to it?" if "locked" in str(error) else "a full disk?"
        raise BuildError(
            f"{db_path}: cannot write the database ({error}). Archives loaded before this "
            f"are kept, the one in progress was rolled back; fix the cause ({cause}) "
            "and run the same command again."
        ) from None
    finally:
        conn.close()
    return report


def already_imported(conn, archive, member):
    """True when this member's content is already in the database."""
    if member.checksum:
        row = conn.execute(
            "SELECT 1 FROM imports WHERE checksum = ? AND campaign = ? AND status = 'done'",
            (member.checksum, archive.campaign),
        ).fetchone()
        return row is not None
    # A plain CSV: the same path, size and mtime is the same file; otherwise
    # hash it, and a copy of a loaded file under another name is known too.
    stat = os.stat(archive.path)
    row = conn.execute(
        "SELECT 1 FROM imports WHERE path = ? AND size = ? AND mtime_ns = ? AND campaign = ? "
        "AND status = 'done'",
        (archive.path, stat.st_size, stat.st_mtime_ns, archive.campaign),
    ).fetchone()
    if row:
        return True
    member.checksum = file_checksum(archive.path)
    return already_imported(conn, archive, member)


def load_archive(conn, archive, members, report, strict, progress):
    """Load one archive's new members in a single transaction."""
    campaign_report = report.campaigns[archive.campaign]
    todo = []
    for member in members:
        if already_imported(conn, archive, member):
            campaign_report.skipped_members += 1
            progress.advance(member.size)
        else:
            todo.append(member)
    if not todo:
        return
    # KeyboardInterrupt included: the archive is rolled back whole.
    with transaction(conn):
        changed = False
        for member in todo:
            conn.execute("SAVEPOINT member")
            try:
                # An earlier version of this member (same path, new content)
                # goes first: the new one replaces it, or, unreadable, leaves it.
                previous = replace.previous_imports(conn, archive, member)
                replace.forget(conn, archive.campaign, previous)
                counts = load_member(conn, archive, member, strict, progress)
            except (ArchiveError, StrictError) as error:
                conn.execute("ROLLBACK TO member")
                conn.execute("RELEASE member")
                message = str(error)
                report.errors.append(message)
                _insert_import(conn, archive, member, "failed", error=message)
                continue
            conn.execute("RELEASE member")
            changed = True
            campaign_report.replaced_members += bool(previous)
            campaign_report.tweets += counts["tweets"]
            campaign_report.users += counts["users"]
            campaign_report.rejected += counts["rejected"]
            campaign_report.duplicates += counts["duplicates"]
            report.rejected += counts["rejected"]
            report.reject_samples.extend(counts["samples"][: REJECT_SAMPLES - len(report.reject_samples)])
        if changed:
            conn.execute("INSERT OR IGNORE INTO tei_dirty (campaign) VALUES (?)", (archive.campaign,))


class StrictError(Exception):
    pass


def _insert_import(conn, archive, member, status, kind=None, error=None):
    stat = os.stat(archive.path)
    cursor = conn.execute(
        "INSERT INTO imports (path, member, campaign, kind, size, mtime_ns, checksum, status, "
        "error, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            archive.path,
            member.name or None,
            archive.campaign,
            kind,
            member.size,
            stat.st_mtime_ns,
            member.checksum or None,
            status,
            error,
            now(),
        ),
    )
    return cursor.lastrowid


# Which load types the rows: "python" (parse.Converter, in the parsing
# process beside the one that writes) or "sql" (sqlload.py: raw text into a
# staging table, typed by one INSERT ... SELECT a batch). Both make the same
# database (tests/test_pipelines.py). python is the default: measured on
# 1M tweets (docs/performance.md) the writing process is the bottleneck of
# both, and sql gives it the typing and the checks to do, which python does
# on the other core.
PIPELINES = ("python", "sql")


def pipeline():
    chosen = os.environ.get("DATASETTE_TEI_PIPELINE") or PIPELINES[0]
    if chosen not in PIPELINES:
        raise BuildError(f"DATASETTE_TEI_PIPELINE must be one of {', '.join(PIPELINES)}, not {chosen!r}")
    return chosen


def load_member(conn, archive, member, strict, progress):
    """Stream one member into its table; returns counts. Raises ArchiveError."""
    import_id = _insert_import(conn, archive, member, "loading")
    tail = _tail_for(archive, import_id)
    staged = pipeline() == "sql"
    stream = stream_mod.events(member, tail, raw=staged)
    _, kind, columns = next(stream)
    conn.execute("UPDATE imports SET kind = ? WHERE id = ?", (kind, import_id))
    if staged:
        header = columns
        loader = (_StagedTweetLoader if kind == "tweets" else _StagedUserLoader)(
            conn, archive, member, import_id, header, strict)
    else:
        loader = (_TweetLoader if kind == "tweets" else _UserLoader)(
            conn, archive, member, import_id, columns, strict
        )
    for event in stream:
        tag = event[0]
        if tag == "raw":
            loader.insert_raw(event[1], event[3])
            if event[1]:
                progress.rows(len(event[1]))
                checkpoint("rows")
        elif tag == "rows":
            loader.insert(event[1], event[3])
            progress.rows(len(event[1]))
            checkpoint("rows")
        elif tag == "rejects":
            for line, reason, raw in event[1]:
                loader.reject(line, reason, raw)
        else:  # "end"
            loader.counts["repeated_headers"] = event[1]
        progress.advance(event[2])
    loader.flush_rejects()
    counts = loader.counts
    conn.execute(
        "UPDATE imports SET status = 'done', rows_read = ?, rows_loaded = ?, rows_rejected = ?, "
        "duplicates = ?, finished = ? WHERE id = ?",
        (
            counts["tweets"] + counts["users"] + counts["rejected"] + counts["duplicates"],
            counts["tweets"] + counts["users"],
            counts["rejected"],
            counts["duplicates"],
            now(),
            import_id,
        ),
    )
    return counts


def _tail_for(archive, import_id):
    # Values the converter appends to every tuple; the loaders name them.
    return (archive.campaign, import_id)


class _Loader:
    tail_columns = ("campaign", "import_id")

    def __init__(self, conn, archive, member, import_id, columns, strict):
        self.conn = conn
        self.archive = archive
        self.member = member
        self.import_id = import_id
        self.strict = strict
        self.columns = tuple(columns) + self.tail_columns
        self.counts = {"tweets": 0, "users": 0, "rejected": 0, "duplicates": 0, "repeated_headers": 0,
                       "samples": []}
        self.rejects = []
        self.raw_pending = 0  # characters of raw text in self.rejects

    def reject(self, line, reason, raw):
        self.counts["rejected"] += 1
        if self.strict:
            raise StrictError(f"{self.member.label}: line {line}: {reason} (--strict)")
        if len(self.counts["samples"]) < REJECT_SAMPLES:
            self.counts["samples"].append(f"{self.member.label}: line {line}: {reason}")
        listed = self.archive.rejects_listed  # [rows, raw characters], over the archive's members
        if listed[0] >= MAX_REJECTS_LISTED:
            return
        listed[0] += 1
        if listed[1] + len(raw) > MAX_REJECT_RAW:
            listed[1] = MAX_REJECT_RAW  # the rows after this one are listed without it too
            raw = None
        else:
            listed[1] += len(raw)
            self.raw_pending += len(raw)
        self.rejects.append(
            (self.import_id, self.archive.path, self.member.name or None, line, reason, raw)
        )
        if len(self.rejects) >= BATCH or self.raw_pending >= MAX_RAW_PENDING:
            self.flush_rejects()

    def flush_rejects(self):
        if self.rejects:
            self.conn.executemany(
                "INSERT INTO rejects (import_id, path, member, line, reason, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                self.rejects,
            )
            self.rejects = []
            self.raw_pending = 0

    def insert_sql(self, table, conflict):
        return (
            f"INSERT INTO {table} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join('?' * len(self.columns))}) ON CONFLICT({conflict}) DO NOTHING"
        )


class _TweetLoader(_Loader):
    def __init__(self, *args):
        super().__init__(*args)
        self.sql = self.insert_sql("tweets", "tweetid")
        self.text_at = self.columns.index("tweet_text")

    def insert(self, batch, indexed):
        """Rows, and their text in the search index: `indexed` holds
        (tweetid, text) where the index's text is not the tweet's own."""
        conn = self.conn
        conn.execute("SAVEPOINT batch")
        inserted = conn.executemany(self.sql, batch).rowcount
        if inserted != len(batch):
            # Some tweet ids are already there: from another campaign (keep
            # the membership) or repeated in this one (count the duplicate).
            # Redo the batch knowing which, so the text index stays exact.
            conn.execute("ROLLBACK TO batch")
            batch = self._split_duplicates(batch)
            conn.executemany(self.sql, batch)
        conn.execute("RELEASE batch")
        text_at = self.text_at
        if indexed:
            texts = dict(indexed)
            fts_rows = [(values[0], texts.get(values[0], values[text_at])) for values in batch]
        else:
            fts_rows = [(values[0], values[text_at]) for values in batch]
        conn.executemany(f"INSERT INTO {FTS_TABLE} (rowid, tweet_text) VALUES (?, ?)", fts_rows)
        self.counts["tweets"] += len(batch)

    def _split_duplicates(self, batch):
        ids = json.dumps([values[0] for values in batch])
        existing = dict(
            self.conn.execute(
                "SELECT tweetid, campaign FROM tweets WHERE tweetid IN (SELECT value FROM json_each(?))",
                (ids,),
            )
        )
        campaign = self.archive.campaign
        fresh, seen, shared = [], set(), []
        for values in batch:
            tweetid = values[0]
            owner = existing.get(tweetid)
            if tweetid in seen or owner == campaign:
                self.counts["duplicates"] += 1
            elif owner is not None:
                shared.append((tweetid, campaign, self.import_id))
            else:
                seen.add(tweetid)
                fresh.append(values)
        if shared:
            cursor = self.conn.executemany(
                "INSERT OR IGNORE INTO shared_tweets (tweetid, campaign, import_id) VALUES (?, ?, ?)",
                shared,
            )
            self.counts["duplicates"] += len(shared) - cursor.rowcount
            self.counts["tweets"] += cursor.rowcount
        return fresh


class _UserLoader(_Loader):
    def __init__(self, *args):
        super().__init__(*args)
        # A users file loaded after its campaign was finished replaces the
        # rows that finish derived from the tweets (from_users_file = 0),
        # instead of being counted as duplicates and lost; a row that came
        # from a users file is kept, and the repeat counted as a duplicate.
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in self.columns if c not in ("campaign", "userid"))
        self.sql = self.insert_sql("users", "campaign, userid").replace(
            "DO NOTHING", f"DO UPDATE SET {updates}, from_users_file = 1 WHERE from_users_file = 0")

    def insert(self, batch, _indexed):
        inserted = self.conn.executemany(self.sql, batch).rowcount
        self.counts["users"] += inserted
        self.counts["duplicates"] += len(batch) - inserted


class _Staged:
    """Rows as the CSV reader gave them, typed by SQL (sqlload.Plan); the
    rows SQL does not take are typed, or rejected, by parse.Converter."""

    def __init__(self, conn, archive, member, import_id, header, strict):
        self.plan = sqlload.Plan(self.kind, header)
        self.converter = Converter(self.kind, header, _tail_for(archive, import_id))
        super().__init__(conn, archive, member, import_id, self.converter.columns, strict)
        self.plan.prepare(conn)
        self.params = {"campaign": archive.campaign, "import_id": import_id}
        # The rows that pass the check, typed: the whole batch, most often.
        self.select = (f"INSERT INTO {self.table} ({', '.join(self.plan.columns)}) "
                       f"SELECT {', '.join(self.plan.values)} FROM {sqlload.STAGE} WHERE {self.plan.check} "
                       + self.sql[self.sql.index(" ON CONFLICT"):])

    def insert_raw(self, rows, rejects):
        """One batch: `rows` are fields with their line number last;
        `rejects` (line, reason, raw) the rows the reader rejected."""
        if rows:
            self._insert_staged(rows, rejects)
        for line, reason, raw in rejects:
            self.reject(line, reason, raw)

    def _insert_staged(self, rows, rejects):
        conn = self.conn
        stage = sqlload.STAGE
        conn.execute(f"DELETE FROM {stage}")
        conn.executemany(self.plan.insert_stage, rows)
        conn.execute("SAVEPOINT staged")
        written = conn.execute(self.select, self.params).rowcount
        slow = []  # (line, typed values) of the rows Python typed
        flagged = ()
        if written != len(rows):
            # Rows the check did not pass (or keys met again: see below).
            flagged = conn.execute(self.plan.flagged).fetchall()
            for rowid, *staged_row in flagged:
                fields, line = self.plan.split(staged_row)
                try:
                    slow.append((line, self.converter(fields)))
                except RowError as error:
                    fields.pop()  # the blank the converter appended
                    rejects.append((line, str(error), raw_text(fields)))
            if flagged:
                conn.execute(f"DELETE FROM {stage} WHERE rowid IN (SELECT value FROM json_each(?))",
                             (json.dumps([row[0] for row in flagged]),))
                rejects.sort(key=lambda reject: reject[0])
        staged = len(rows) - len(flagged)
        if slow and written == staged:
            written += conn.executemany(self.sql, [values for _, values in slow]).rowcount
        if written == staged + len(slow):
            self.written(staged, slow)
        else:
            # A row met one already there, or one of the same batch: which
            # wins depends on the order, so the batch goes the Python way,
            # in line order.
            conn.execute("ROLLBACK TO staged")  # the flagged rows are staged again, too
            done = {row[0] for row in flagged}
            typed = slow
            for rowid, *staged_row in conn.execute(f"SELECT rowid, * FROM {stage}").fetchall():
                if rowid not in done:
                    fields, line = self.plan.split(staged_row)
                    typed.append((line, self.converter(fields)))
            typed.sort(key=lambda row: row[0])
            self.python_insert([values for _, values in typed])
        conn.execute("RELEASE staged")


class _StagedTweetLoader(_Staged, _TweetLoader):
    kind = "tweets"
    table = "tweets"

    def written(self, staged, slow):
        conn = self.conn
        fts = f"INSERT INTO {FTS_TABLE} (rowid, tweet_text) "
        if staged:
            conn.execute(f"{fts} SELECT {self.plan.tweetid}, {self.plan.index_text} FROM {sqlload.STAGE}")
        if slow:
            text_at = self.text_at
            index_text = search.index_text
            conn.executemany(f"{fts} VALUES (?, ?)", [
                (values[0], index_text(values[text_at]) or values[text_at]) for _, values in slow])
        self.counts["tweets"] += staged + len(slow)

    def python_insert(self, batch):
        text_at = self.text_at
        index_text = search.index_text
        indexed = [(values[0], text) for values in batch if (text := index_text(values[text_at])) is not None]
        self.insert(batch, indexed)


class _StagedUserLoader(_Staged, _UserLoader):
    kind = "users"
    table = "users"

    def written(self, staged, slow):
        self.counts["users"] += staged + len(slow)

    def python_insert(self, batch):
        self.insert(batch, None)
