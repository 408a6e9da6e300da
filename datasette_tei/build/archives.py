"""Find TEI archives on disk and stream their rows without extracting them.

A source is a `.zip`, `.csv`, `.csv.gz`, or a folder searched recursively
(a mirror of the bucket, a flat folder, console-flattened names). Each file
found is an Archive: the unit a build loads atomically. Its Members are the
CSV files inside (a zip may hold many parts, in sub-folders, with junk).
"""
import codecs
import collections
import csv
import errno
import gzip
import hashlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from .parse import file_kind, normalise_header
from .zipscan import MAX_ENTRIES, UNREADABLE, LocalEntry, scan_local_headers

# A tweet is at most a few KB; a field past this is an unterminated quote
# swallowing the file, and must not be allowed to eat the memory.
MAX_FIELD = 1024 * 1024
csv.field_size_limit(MAX_FIELD)

# A record (a row with all its lines) past this many characters is
# rejected before the CSV reader holds it: a tweet row is a few KB, and the
# cap keeps memory bounded however long a line or a quoted field runs.
MAX_RECORD = 2 * MAX_FIELD
# A line that looks like the start of a record, after a bad one, is taken
# for one only if it parses as one within this many lines (a tweet's text
# and profile hold at most a few hundred newlines).
PROBE_LINES = 1000

# A TEI zip holds a tweets or users CSV, or a few dozen parts; a directory
# listing more is hostile (zipfile would hold it all in memory).
MAX_ZIP_ENTRIES = MAX_ENTRIES

# How rejected rows are quoted in the rejects table.
MAX_RAW = 10_000

DATA_SUFFIXES = (".zip", ".csv", ".csv.gz")

# `<campaign>_tweets_csv_hashed...`, `<campaign>_users_csv_unhashed...`, the
# media files; what stands before the marker names the campaign.
_KIND_MARKER_RE = re.compile(
    r"^(?P<campaign>.+?)_(?:(?P<kind>tweets|users)_csv|(?P<media>tweet_media|media_file_list))"
    r"(?:_(?:un)?hashed)?",
    re.IGNORECASE,
)
_RELEASE_RE = re.compile(r"^(20\d\d)_(0[1-9]|1[0-2])$")
# Console downloads flatten `hashed/2020_12/iran_202012/iran_202012_...` to
# `hashed_2020_12_iran_202012_iran_202012_...`.
_FLAT_PREFIX_RE = re.compile(r"^hashed_(?:(20\d\d_(?:0[1-9]|1[0-2]))_)?(?P<rest>.+)$")


class ArchiveError(Exception):
    """An archive or member that cannot be read at all."""


@dataclass
class Member:
    """One CSV inside an archive (or the archive itself, for a plain CSV)."""

    archive: "Archive"
    name: str  # path inside the zip; '' for a plain or gzipped CSV
    size: int  # uncompressed bytes, when known
    checksum: str = ""
    # Where the member lies in a zip read without its central directory.
    local: "LocalEntry" = None

    @property
    def label(self):
        if self.name:
            return f"{self.archive.path}:{self.name}"
        return self.archive.path

    def open_binary(self):
        """The member's bytes as a stream; nothing is written to disk."""
        return self.archive.open_member(self)


@dataclass
class Archive:
    path: str
    campaign: str
    release: str = None
    is_media: bool = False
    _zip: zipfile.ZipFile = field(default=None, repr=False)
    # Rejected rows listed in `rejects`, and their raw characters (see load).
    rejects_listed: list = field(default_factory=lambda: [0, 0], repr=False)

    @property
    def format(self):
        lower = self.path.lower()
        if lower.endswith(".zip"):
            return "zip"
        if lower.endswith(".gz"):
            return "gzip"
        return "csv"

    @property
    def size(self):
        return os.path.getsize(self.path)

    def members(self):
        """The CSV members, with checksums that cost no extra read where possible."""
        fmt = self.format
        if fmt == "zip":
            try:
                entries = _directory_entries(self.path)
                if entries > MAX_ZIP_ENTRIES:
                    raise ArchiveError(
                        f"{self.path}: its directory lists {entries:,} members, more than the "
                        f"{MAX_ZIP_ENTRIES:,} a TEI archive could hold: not read")
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                return self._recovered_members(error)
            members, offsets = [], set()
            # A directory that lists a member many times, or many names at
            # one place in the file, is read once: zipfile opens a name at
            # its last entry, and the first name at each place is kept.
            for info in {info.filename: info for info in self._zip.infolist()}.values():
                if info.is_dir() or not is_csv_member(info.filename) or info.header_offset in offsets:
                    continue
                offsets.add(info.header_offset)
                # The zip already holds each member's CRC-32: a free checksum.
                members.append(
                    Member(self, info.filename, info.file_size, f"crc32:{info.CRC:08x}:{info.file_size}")
                )
            if not members:
                names = [info.filename for info in self._zip.infolist() if not info.is_dir()]
                shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                raise ArchiveError(f"{self.path}: holds no .csv or .csv.gz file"
                                   + (f" (only {shown})" if names else " (it is empty)"))
            members.sort(key=lambda m: natural_key(m.name))
            return members
        if fmt == "gzip":
            # The gzip trailer holds the CRC-32 and length of the content.
            if self.size < 18:  # a gzip header and trailer take 18 bytes
                raise ArchiveError(f"{self.path}: empty or truncated gzip file ({self.size} bytes)")
            try:
                with open(self.path, "rb") as handle:
                    handle.seek(-8, os.SEEK_END)
                    crc, length = struct.unpack("<II", handle.read(8))
            except OSError as error:
                raise ArchiveError(f"{self.path}: not a readable gzip file ({error})") from None
            return [Member(self, "", self.size, f"gzip:{crc:08x}:{length}:{self.size}")]
        return [Member(self, "", self.size, "")]

    def _recovered_members(self, error):
        """The members of a zip whose central directory zipfile cannot read.

        A download cut short has none, yet every member before the cut is
        whole: those load, read from their local headers, with the same
        checksums a complete download of the zip gives them. The member the
        file ends in is returned too, as one that fails when opened, so that
        it is recorded as a failed import with a message naming it (or the
        file, when the cut falls between members). A zip cut inside its
        central directory holds every member whole: all load, and the file
        is still reported, as it is not the one published.
        """
        try:
            scan = scan_local_headers(self.path)
        except OSError as os_error:
            raise ArchiveError(f"{self.path}: not a readable zip file ({os_error})") from None
        if scan is None:  # no local header at the start either: not a zip at all
            raise ArchiveError(f"{self.path}: not a readable zip file ({error})") from None
        entries, cut = scan
        members = [
            Member(self, entry.name, entry.size,
                   UNREADABLE if entry.error else f"crc32:{entry.crc:08x}:{entry.size}", local=entry)
            for entry in entries
            if is_csv_member(entry.name)
        ]
        if cut is not None:
            # Reported whatever its name: the members after it are lost too.
            members.append(Member(self, cut.name, cut.size, UNREADABLE, local=cut))
        members.sort(key=lambda m: natural_key(m.name))
        return members

    def open_member(self, member):
        fmt = self.format
        if fmt == "zip":
            if member.local is not None:
                if member.local.error:
                    raise ArchiveError(member.local.error)
                return member.local.open(self.path)
            if self._zip is None:  # in a parsing process, which opens the zip again
                self._zip = zipfile.ZipFile(self.path)
            return self._zip.open(member.name)
        if fmt == "gzip":
            return gzip.open(self.path, "rb")
        return open(self.path, "rb")

    def close(self):
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def _directory_entries(path):
    """How many members a zip's end record says its directory lists (0 when
    it has no end record): read before zipfile, which holds every entry of
    the directory in memory, a few hundred bytes each."""
    with open(path, "rb") as handle:
        end = zipfile._EndRecData(handle)
    return end[zipfile._ECD_ENTRIES_TOTAL] if end else 0


def file_checksum(path):
    """sha256 of a plain CSV, for files whose format carries no checksum."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def is_csv_member(name):
    """A zip member to load: a CSV, not a folder or junk the zip carries along."""
    return not is_junk(name) and name.lower().endswith((".csv", ".csv.gz"))


def is_junk(path):
    """macOS resource forks and Finder files that zips carry along."""
    parts = path.replace("\\", "/").split("/")
    return "__MACOSX" in parts or parts[-1].startswith(".") or parts[-1] == "Thumbs.db"


def natural_key(text):
    """Sort `part2` before `part10`."""
    return [int(piece) if piece.isdigit() else piece.lower() for piece in re.split(r"(\d+)", text)]


def campaign_from_name(filename):
    """The campaign a file name declares, or None when it declares none.

    `iran_201901_1_tweets_csv_hashed_3.zip` -> `iran_201901_1`;
    `hashed_2020_12_iran_202012_iran_202012_tweets_csv_hashed.csv` ->
    `iran_202012`.
    """
    base = os.path.basename(filename)
    match = _KIND_MARKER_RE.match(base)
    if not match:
        return None
    campaign = match.group("campaign")
    flat = _FLAT_PREFIX_RE.match(campaign)
    if flat:
        rest = flat.group("rest")
        # The campaign folder and the file name both hold the campaign:
        # `iran_202012_iran_202012`. Take the repeated half.
        words = rest.split("_")
        for cut in range(1, len(words)):
            if words[:cut] == words[cut:]:
                return "_".join(words[:cut])
        campaign = rest
    return campaign


def release_from_path(path):
    """`2019_01` from `hashed/2019_01/...` or a flattened name, else None."""
    parts = os.path.normpath(path).split(os.sep)
    for part in reversed(parts[:-1]):
        if _RELEASE_RE.match(part):
            return part
    flat = _FLAT_PREFIX_RE.match(os.path.basename(path))
    if flat and flat.group(1):
        return flat.group(1)
    return None


def campaign_for(path):
    """The campaign of an archive: named by the file, else by its folder."""
    folder = os.path.basename(os.path.dirname(os.path.abspath(path)))
    # `<c>_tweet_media_hashed/<c>_hashed_001.zip`: the folder declares it.
    name = campaign_from_name(path) or campaign_from_name(folder)
    if name:
        return name
    stem = os.path.basename(path)
    for suffix in DATA_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    # A bare `tweets.csv` in `iran_201901_1/` belongs to the folder's campaign.
    if stem.lower() in ("tweets", "users") or re.match(r"^(tweets|users)[_-]?\w*$", stem, re.I):
        return folder
    return stem


def is_media_name(path):
    """Media archives: by their name, or by the media folder they sit in."""
    for name in (os.path.basename(path), os.path.basename(os.path.dirname(os.path.abspath(path)))):
        match = _KIND_MARKER_RE.match(name)
        if match and match.group("media"):
            return True
    return False


def find_archives(sources, campaign=None, errors=None):
    """Archives under the given sources, in a stable order.

    A source that cannot be read (missing, a dangling symlink or a symlink
    loop, unreadable, a FIFO or a device, a file that is not a .zip, .csv
    or .csv.gz, a folder holding none) is one line in `errors` and skipped;
    without an `errors` list, the first is raised as ArchiveError. Inside a
    folder, files that are not archives (READMEs, checksum lists) are
    skipped quietly, and nothing but a regular file is ever opened: a FIFO
    would block the build forever, /dev/zero would never end.
    """
    problems = []
    found = []
    for source in sources:
        before = len(problems)
        files = _source_files(source, problems)
        if errors is None and len(problems) > before:
            raise ArchiveError(problems[before])
        found.extend(sorted(files, key=natural_key))
    if errors is not None:
        errors.extend(problems)
    archives = []
    seen = set()
    for path in found:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        archives.append(
            Archive(
                path=path,
                campaign=campaign or campaign_for(path),
                release=release_from_path(path),
                is_media=is_media_name(path),
            )
        )
    return archives


def _source_files(source, errors):
    """The archive files a source names or holds; what cannot be read goes to `errors`."""
    try:
        status = os.stat(source)
    except OSError as error:
        errors.append(f"{source}: {_why(source, error)}")
        return []
    if stat.S_ISDIR(status.st_mode):
        files = []
        before = len(errors)
        _walk(source, {(status.st_dev, status.st_ino)}, set(), files, errors)
        if not files and len(errors) == before:
            errors.append(f"{source}: no .zip, .csv or .csv.gz files found")
        return files
    if not stat.S_ISREG(status.st_mode):
        errors.append(f"{source}: {_file_type(status.st_mode)}, not a regular file: skipped")
        return []
    if not source.lower().endswith(DATA_SUFFIXES):
        errors.append(f"{source}: not a .zip, .csv or .csv.gz file: skipped")
        return []
    return [source] if _readable(source, errors) else []


def _walk(folder, ancestors, visited, files, errors):
    """Add the archives under `folder` to `files`, following symlinks.

    `ancestors` are the folders above this one (a symlink back to one is a
    loop, reported); `visited` all folders seen (one reached twice by
    different links is read once).
    """
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: natural_key(entry.name))
    except OSError as error:
        errors.append(f"{folder}: {_why(folder, error)}: folder skipped")
        return
    for entry in entries:
        name = entry.name
        # Hidden files and folders (.Trash, .git, .DS_Store), resource forks.
        if name.startswith(".") or name in ("__MACOSX", "Thumbs.db"):
            continue
        path = entry.path
        is_data = name.lower().endswith(DATA_SUFFIXES)
        try:
            status = os.stat(path)
        except OSError as error:
            errors.append(f"{path}: {_why(path, error)}: skipped")
            continue
        mode = status.st_mode
        if stat.S_ISDIR(mode):
            key = (status.st_dev, status.st_ino)
            if key in ancestors:
                errors.append(f"{path}: symlink loop (it leads back to a folder above it): skipped")
            elif key not in visited:
                visited.add(key)
                _walk(path, ancestors | {key}, visited, files, errors)
        elif not is_data:
            continue  # a README, a checksum list, a media file list
        elif not stat.S_ISREG(mode):
            errors.append(f"{path}: {_file_type(mode)}, not a regular file: skipped")
        elif _readable(path, errors):
            files.append(path)


def _readable(path, errors):
    """Whether a regular file opens for reading; if not, why is in `errors`."""
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as error:
        errors.append(f"{path}: {_why(path, error)}: skipped")
        return False
    return True


def _why(path, error):
    """What stops a path being read, in words."""
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if error.errno == errno.ENOENT and os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"dangling symlink (to {target}, which does not exist)"
    if error.errno == errno.ENOENT:
        return "no such file or directory"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return error.strerror or str(error)


def _file_type(mode):
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file or folder"


# --- Reading rows ------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, for progress bars, and notices damaged bytes.

    Checking NUL bytes and UTF-8 validity here, on large raw blocks, costs
    almost nothing; only once damage is seen do the rows get checked one by
    one (the blocks are read ahead of the rows the CSV reader yields).
    """

    def __init__(self, raw, on_bytes):
        self._raw = raw
        self._on_bytes = on_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.damaged = False

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if not self.damaged:
            try:
                self._utf8.decode(data, final=not n)
            except UnicodeDecodeError:
                self.damaged = True
            if b"\x00" in data:
                self.damaged = True
        if n and self._on_bytes:
            self._on_bytes(n)
        return n


# A row with these is damaged: NUL bytes, or bytes that are not UTF-8
# (decoded as lone surrogates by errors="surrogateescape").
_DAMAGE_RE = re.compile("[\x00\udc80-\udcff]")


@dataclass
class RawReject:
    line: int
    reason: str
    raw: str


class _TooLong(Exception):
    """A record passed MAX_RECORD characters; `line` is the piece that did it."""

    def __init__(self, line):
        self.line = line


def _lines(readline, record, pending):
    """The physical lines the CSV reader parses, each at most MAX_RECORD long.

    readline(limit) never holds more than `limit` characters, so a line of
    gigabytes costs no more memory than a short one. `record` is shared with
    MemberReader._records, which zeroes record[0] before each record:
    [characters of the current record so far, its first line, its other
    lines]. A record that outgrows MAX_RECORD raises _TooLong, and the
    reader resynchronises. `pending` holds lines a resynchronisation read
    ahead, given out first.
    """
    limit = MAX_RECORD
    more = record[2]
    while True:
        line = pending.popleft() if pending else readline(limit + 1)
        if not line:
            return
        used = record[0] + len(line)
        if not record[0]:
            record[1] = line
            if more:
                more.clear()
        else:
            more.append(line)
        if used > limit:
            raise _TooLong(line)
        record[0] = used
        yield line
        if not pending:
            break
    # The same without looking at `pending`, which is empty from here on:
    # this loop runs for every line of every member.
    while True:
        line = readline(limit + 1)
        if not line:
            return
        used = record[0] + len(line)
        if not record[0]:
            record[1] = line
            if more:
                more.clear()
        else:
            more.append(line)
        if used > limit:
            raise _TooLong(line)
        record[0] = used
        yield line


class MemberReader:
    """Streams one member's rows: `header`, `kind`, then `rows()`.

    rows() yields (line, fields) for good-shaped rows and RawReject for rows
    that are damaged or the wrong width. Repeated header rows (parts
    concatenated) and blank lines are skipped. `line` is the physical line
    where the row starts, as an editor shows it.

    Memory stays bounded whatever the member holds: a record (a row with all
    its lines) longer than MAX_RECORD characters, or with a field over
    MAX_FIELD, is one RawReject with its first line capped, and reading
    resumes at the next line that starts a record of this file (see
    _resync), however long the bad record runs.
    """

    def __init__(self, member, on_bytes=None):
        self.member = member
        self.repeated_headers = 0
        try:
            binary = member.open_binary()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as error:
            raise ArchiveError(f"{member.label}: cannot open ({error})") from None
        if member.name.lower().endswith(".gz"):
            binary = gzip.open(binary, "rb")
        self._binary = binary
        self._counter = _CountingReader(binary, on_bytes)
        stream = io.BufferedReader(self._counter, 1024 * 1024)
        # utf-8-sig drops a BOM if there is one; surrogateescape keeps bad
        # bytes visible so that the row holding them is rejected, not the file.
        self._text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        self._record = [0, "", []]
        self._pending = collections.deque()
        self._first_line = 0  # lines before the current csv reader's first
        self._reader = csv.reader(_lines(self._text.readline, self._record, self._pending))
        self.header = None
        self.kind = None
        try:
            for line, fields in self._records():
                if not fields:
                    continue
                self.header = fields
                self._header_line = line
                break
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as error:
            # A small member is read whole with its header: a CRC or zlib
            # error then surfaces here, and fails the member, not the build.
            self.close()
            raise ArchiveError(f"{member.label}: damaged, cannot be read ({error})") from None
        if self.header is None:
            raise ArchiveError(f"{member.label}: empty file, no header row")
        if _DAMAGE_RE.search("".join(self.header)):
            raise ArchiveError(f"{member.label}: line {self._header_line}: header row is not UTF-8 text")
        self.kind = file_kind(self.header)
        if self.kind is None:
            shown = ",".join(self.header)[:200]
            raise ArchiveError(
                f"{member.label}: line {self._header_line}: header matches neither a tweets "
                f"nor a users file: {shown!r}"
            )
        self._normal_header = normalise_header(self.header)
        self._starts_record = _record_start_re(self._normal_header[0]).match

    def _records(self):
        """(start line, fields) per record; RawReject for a record that
        cannot be read (a csv.Error, or longer than MAX_RECORD)."""
        record = self._record
        while True:
            reader, first_line = self._reader, self._first_line
            while True:
                start = first_line + reader.line_num + 1
                record[0] = 0
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except (csv.Error, _TooLong) as error:
                    if self.header is None:
                        what = "a line" if isinstance(error, _TooLong) else "a field"
                        raise ArchiveError(
                            f"{self.member.label}: line {start}: not a CSV file "
                            f"({what} longer than the limit before any header row)") from None
                    yield start, self._resync(start, error)
                    break  # _resync made a new reader, at the next record
                yield start, fields

    def _resync(self, start, error):
        """The RawReject for the record that starts at line `start`, after
        reading on to the next line that starts a record of this file.

        The bad record's lines after its first are looked at again, so that
        rows a runaway quote swallowed load. A line starts a record when it
        begins with a first field of this file's kind (a tweet id, a user
        id, or the header's own first name) and the lines from it parse,
        within the limits, as one record of the header's width: a line
        inside the bad record that merely looks like one (a quoted tweet
        starting with digits) is passed over. A candidate reads at most
        PROBE_LINES lines, so that this stays linear in the input.
        """
        readline = self._text.readline
        limit = MAX_RECORD
        record, pending = self._record, self._pending
        first = record[1]
        chars = len(first)
        if isinstance(error, _TooLong):
            reason = f"row longer than {limit:,} characters"
        else:
            reason = f"unreadable CSV: {error}"
        if record[2]:  # the lines after the first, the one that failed included
            pending.extendleft(reversed(record[2]))
        else:
            piece = first
            while len(piece) > limit:  # the rest of an over-long first line
                piece = readline(limit + 1)
                chars += len(piece)
        line_number = start
        width = len(self.header)
        starts_record = self._starts_record
        while True:
            line = pending.popleft() if pending else readline(limit + 1)
            if not line:
                break  # the end of the member
            if len(line) > limit:  # never a record: skip to the end of its line
                while len(line) > limit:
                    chars += len(line)
                    line = readline(limit + 1)
            elif starts_record(line):
                probe = [line]
                if self._probe(probe) == width:
                    pending.extendleft(reversed(probe))
                    break
                pending.extendleft(reversed(probe[1:]))
            chars += len(line)
            line_number += 1
        self._first_line = line_number
        self._reader = csv.reader(_lines(readline, record, pending))
        where = f"line {start}" if line_number <= start else f"lines {start}-{line_number}"
        return RawReject(start, f"{reason}; {where} skipped", capped(first, chars))

    def _probe(self, lines):
        """How many fields the record starting at lines[0] has, reading the
        lines it needs into `lines`; 0 when it runs past the limits."""
        readline = self._text.readline
        pending = self._pending
        limit = MAX_RECORD
        state = [len(lines[0]), False]

        def source():
            yield lines[0]
            while len(lines) < PROBE_LINES:
                line = pending.popleft() if pending else readline(limit + 1)
                if not line:
                    return
                lines.append(line)
                state[0] += len(line)
                if state[0] > limit:
                    state[1] = True
                    return
                yield line
            state[1] = True

        try:
            fields = next(csv.reader(source()))
        except (csv.Error, StopIteration):
            return 0
        return 0 if state[1] else len(fields)

    def rows(self):
        width = len(self.header)
        normal_header = self._normal_header
        damage = _DAMAGE_RE.search
        counter = self._counter
        for line, fields in self._records():
            if fields.__class__ is RawReject:
                yield fields
                continue
            if not fields:
                continue
            if counter.damaged:
                found = damage("\x1f".join(fields))
                if found:
                    bad = found.group()
                    reason = "NUL byte in row" if bad == "\x00" else "bytes that are not UTF-8"
                    yield RawReject(line, reason, raw_text(fields))
                    continue
            if len(fields) != width:
                if len(fields) == 1 and fields[0].strip() == "":
                    continue
                yield RawReject(line, f"expected {width} fields, found {len(fields)}", raw_text(fields))
                continue
            # A containment test: a repeated header may carry a BOM before
            # its quotes (`\ufeff"tweetid"`), which the csv reader keeps.
            if normal_header[0] in fields[0].lower() and normalise_header(fields) == normal_header:
                self.repeated_headers += 1
                continue
            yield line, fields

    def close(self):
        try:
            self._text.close()
        except Exception:
            pass


def raw_text(fields):
    """The row as CSV text again, capped, for the rejects table."""
    out = io.StringIO()
    csv.writer(out).writerow(fields)
    text = out.getvalue().rstrip("\r\n")
    return capped(text, len(text))


def capped(text, length):
    """At most MAX_RAW characters of `text`, the start of `length` in all."""
    text = text[:MAX_RAW].rstrip("\r\n")
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if length > MAX_RAW:
        text += f"… [{length - MAX_RAW} more characters]"
    return text


def _record_start_re(first_column):
    """What the first line of a record of a file whose first column is
    `first_column` starts with: that field, quoted (2018) or not, then a
    comma. A repeated header row starts a record too."""
    value = {"tweetid": r"[0-9]{1,20}", "userid": r"[0-9A-Za-z+/=_-]{1,128}"}.get(
        first_column, r"[^\r\n\",]*")
    name = re.escape(first_column)
    return re.compile(rf'\ufeff?(?:"(?:{value}|(?i:{name}))"|{value}|(?i:{name})),')
