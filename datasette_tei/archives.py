"""Find TEI archives on disk and stream their rows without extracting them.

A source is a `.zip`, `.csv`, `.csv.gz`, or a folder searched recursively
(a mirror of the bucket, a flat folder, console-flattened names). Each file
found is an Archive: the unit a build loads atomically. Its Members are the
CSV files inside (a zip may hold many parts, in sub-folders, with junk).
"""
import codecs
import csv
import gzip
import hashlib
import io
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

from .parse import file_kind, normalise_header
from .zipscan import UNREADABLE, LocalEntry, scan_local_headers

# A tweet is at most a few KB; a field past this is an unterminated quote
# swallowing the file, and must not be allowed to eat the memory.
MAX_FIELD = 1024 * 1024
csv.field_size_limit(MAX_FIELD)

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
                self._zip = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                return self._recovered_members(error)
            members = []
            for info in self._zip.infolist():
                if info.is_dir() or not is_csv_member(info.filename):
                    continue
                # The zip already holds each member's CRC-32: a free checksum.
                members.append(
                    Member(self, info.filename, info.file_size, f"crc32:{info.CRC:08x}:{info.file_size}")
                )
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


def find_archives(sources, campaign=None):
    """Archives under the given sources, in a stable order.

    Raises ArchiveError for a source that does not exist or holds nothing.
    """
    found = []
    for source in sources:
        if os.path.isdir(source):
            files = []
            for root, dirs, names in os.walk(source):
                # Hidden folders (.Trash, .git) and macOS resource forks.
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
                for name in names:
                    full = os.path.join(root, name)
                    if not is_junk(full) and name.lower().endswith(DATA_SUFFIXES):
                        files.append(full)
            if not files:
                raise ArchiveError(f"{source}: no .zip, .csv or .csv.gz files found")
            found.extend(sorted(files, key=natural_key))
        elif os.path.isfile(source):
            found.append(source)
        else:
            raise ArchiveError(f"{source}: no such file or directory")
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


class MemberReader:
    """Streams one member's rows: `header`, `kind`, then `rows()`.

    rows() yields (line, fields) for good-shaped rows and RawReject for rows
    that are damaged or the wrong width. Repeated header rows (parts
    concatenated) and blank lines are skipped. `line` is the physical line
    where the row starts, as an editor shows it.
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
        self._reader = csv.reader(self._text)
        self.header = None
        self.kind = None
        self._last_line = 0
        try:
            for line, fields in self._records():
                if isinstance(fields, RawReject) or not fields:
                    continue
                self.header = fields
                self._header_line = line
                break
        except csv.Error as error:
            raise ArchiveError(f"{member.label}: line 1: not a CSV file ({error})") from None
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

    def _records(self):
        """(start line, fields) per record; RawReject for a csv.Error."""
        reader = self._reader
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield start, RawReject(start, f"unreadable CSV: {error}", "")
                continue
            yield start, fields

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
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_RAW:
        text = text[:MAX_RAW] + f"… [{len(text) - MAX_RAW} more characters]"
    return text
