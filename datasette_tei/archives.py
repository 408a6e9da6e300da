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
        central directory holds every member whole, and fails nothing.
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


# --- Zips without their central directory -------------------------------------
#
# zipfile finds members through the central directory at the end of the zip,
# which a download cut short lacks. Each member's data is also preceded by a
# local header holding its name, method, CRC-32 and sizes, so the members can
# be found from the start of the file, one after the other, up to the cut.

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # signature .. name and extra lengths
_LOCAL_SIG, _CENTRAL_SIG, _DESCRIPTOR_SIG = b"PK\x03\x04", b"PK\x01\x02", b"PK\x07\x08"
# The central directory, or the end records that follow it.
_DIRECTORY_SIGS = (_CENTRAL_SIG, b"PK\x06\x06", b"PK\x05\x06")
_ENCRYPTED, _DATA_DESCRIPTOR, _UTF8_NAME = 0x1, 0x8, 0x800
_ZIP64_EXTRA, _MAX32 = 0x0001, 0xFFFFFFFF
CHUNK = 1024 * 1024
# The checksum of a member that cannot be read: never that of a loaded one,
# so that it is never skipped as already imported, and not empty, which would
# make the build hash the whole zip to recognise it.
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class LocalEntry:
    """A zip member found by its local header; `error` says why it cannot be read."""

    name: str
    method: int = 0
    data_offset: int = 0
    compressed_size: int = 0
    size: int = 0
    crc: int = 0
    error: str = ""

    def open(self, path):
        if self.error:
            raise ArchiveError(self.error)
        return _LocalMemberFile(path, self)


def scan_local_headers(path):
    """(entries, cut) from the local headers of the zip at `path`, in order.

    `entries` are the members found whole (those zipfile could not read carry
    an `error`); `cut` is the entry where the file stops making sense (cut
    short, or damaged) with its `error`, or None when the scan reached the
    central directory. None instead of a pair when the file does not start
    with a local header: it is no zip at all.
    """
    entries = []
    end = os.path.getsize(path)
    with open(path, "rb") as handle:
        position = 0
        while True:
            handle.seek(position)
            head = handle.read(_LOCAL_HEADER.size)
            if position == 0 and head[:4] != _LOCAL_SIG:
                return None
            if head[:4] in _DIRECTORY_SIGS:
                return entries, None  # every member is whole: only the directory was cut or damaged
            if head[:4] != _LOCAL_SIG or len(head) < _LOCAL_HEADER.size:
                return entries, _lost(path, position, end, head)
            _, _, flags, method, _, _, crc, compressed, size, name_length, extra_length = \
                _LOCAL_HEADER.unpack(head)
            raw_name = handle.read(name_length)
            extra = handle.read(extra_length)
            if len(raw_name) < name_length:
                return entries, _lost(path, position, end, head)
            name = raw_name.decode("utf-8" if flags & _UTF8_NAME else "cp437", "replace")
            cut = LocalEntry(name, error=f"{path}:{name}: cut short (the zip file ends at byte {end}, "
                                         "inside this member): download it again")
            if len(extra) < extra_length:
                return entries, cut
            zip64, size, compressed = _zip64_sizes(extra, size, compressed)
            data_offset = position + _LOCAL_HEADER.size + name_length + extra_length
            after = 0  # the data descriptor's length, if there is one
            if flags & _DATA_DESCRIPTOR:
                # The sizes and CRC follow the data: its end is found by
                # inflating it, which only a deflated member allows.
                if method != zipfile.ZIP_DEFLATED:
                    return entries, LocalEntry(name, error=(
                        f"{path}:{name}: cannot be read without the zip's central directory (its size "
                        "is written after its data), nor can the members after it: download it again"))
                try:
                    compressed = _deflate_length(handle, data_offset)
                    descriptor = compressed is not None and \
                        _data_descriptor(handle, data_offset + compressed, zip64, compressed)
                except (zlib.error, zipfile.BadZipFile) as error:
                    return entries, LocalEntry(name, error=(
                        f"{path}:{name}: damaged, cannot be read ({error}), nor can the members "
                        "after it without the zip's central directory: download it again"))
                if not descriptor:
                    return entries, cut
                crc, size, after = descriptor
            elif data_offset + compressed > end:
                return entries, cut
            error = ""
            if flags & _ENCRYPTED:
                error = f"{path}:{name}: cannot open (encrypted)"
            elif method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                error = f"{path}:{name}: cannot open (compression method {method} is not supported)"
            entries.append(LocalEntry(name, method, data_offset, compressed, size, crc, error))
            position = data_offset + compressed + after


def _lost(path, position, end, head):
    """The cut, or the damage, where no member's name can be read."""
    if head[:4] == _LOCAL_SIG or len(head) < 4:
        error = (f"{path}: cut short (the zip file ends at byte {end}, before its central directory): "
                 "download it again")
    else:
        error = (f"{path}: damaged at byte {position} (no zip header there, and no central "
                 "directory): the members from there on cannot be read: download it again")
    return LocalEntry("", error=error)


def _zip64_sizes(extra, size, compressed):
    """(zip64, size, compressed): a zip64 extra field holds the sizes too large for the header."""
    at = 0
    while at + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, at)
        if kind == _ZIP64_EXTRA:
            data = extra[at + 4:at + 4 + length]
            values = iter(struct.unpack(f"<{len(data) // 8}Q", data[:len(data) // 8 * 8]))
            # A local header's zip64 field holds both sizes, the uncompressed
            # first; read it as zipfile does when it holds only the maxed one.
            if size == _MAX32 or length >= 16:
                size = next(values, size)
            if compressed == _MAX32 or length >= 16:
                compressed = next(values, compressed)
            return True, size, compressed
        at += 4 + length
    return False, size, compressed


def _deflate_length(handle, start):
    """How many bytes the deflate stream at `start` takes, or None when the file ends first.

    Inflated in pieces with bounded output, which is thrown away: only
    where the stream ends matters here.
    """
    handle.seek(start)
    inflate = zlib.decompressobj(-15)
    read, pending = 0, b""
    while not inflate.eof:
        if not pending:
            pending = handle.read(CHUNK)
            if not pending:
                return None
            read += len(pending)
        inflate.decompress(pending, CHUNK)
        pending = inflate.unconsumed_tail
    # Past the end, the bytes read and not inflated are all in unused_data.
    return read - len(inflate.unused_data)


def _data_descriptor(handle, at, zip64, compressed):
    """(crc, size, length) of the data descriptor at `at`, or None when it is cut short.

    Its signature is optional: the compressed size it holds, which must be
    the one found by inflating, tells whether the first four bytes are one.
    """
    layout = struct.Struct("<LQQ" if zip64 else "<LLL")
    handle.seek(at)
    raw = handle.read(4 + layout.size)
    for skip in (4, 0) if raw[:4] == _DESCRIPTOR_SIG else (0,):
        if len(raw) >= skip + layout.size:
            crc, stored, size = layout.unpack_from(raw, skip)
            if stored in (compressed, compressed & _MAX32):
                return crc, size, skip + layout.size
    if len(raw) == 4 + layout.size:
        raise zipfile.BadZipFile("its data descriptor does not match its data")
    return None


class _LocalMemberFile(io.RawIOBase):
    """A recovered member's bytes, read in place: copied if stored, inflated if
    deflated, and checked against the CRC-32 and size of its header at the
    end, raising BadZipFile on a mismatch as zipfile does."""

    def __init__(self, path, entry):
        self._pieces = _member_pieces(path, entry)
        self._piece = memoryview(b"")

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._piece:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._piece = memoryview(piece)
        n = min(len(buffer), len(self._piece))
        buffer[:n] = self._piece[:n]
        self._piece = self._piece[n:]
        return n

    def close(self):
        self._pieces.close()  # closes the file
        super().close()


def _member_pieces(path, entry):
    """The member's bytes in pieces of at most CHUNK, then the CRC-32 check."""
    with open(path, "rb") as handle:
        handle.seek(entry.data_offset)
        left = entry.compressed_size
        inflate = zlib.decompressobj(-15) if entry.method == zipfile.ZIP_DEFLATED else None
        crc = size = 0
        pending = b""
        while True:
            if not pending and left:
                pending = handle.read(min(CHUNK, left))
                if not pending:
                    raise EOFError(f"the zip file ends inside {entry.name!r}")
                left -= len(pending)
            if inflate is None:
                data, pending = pending, b""
            else:
                # Bounded output: a highly compressed member never fills the memory.
                data = inflate.decompress(pending, CHUNK)
                pending = inflate.unconsumed_tail
                if inflate.eof:  # what follows the deflate stream is not the member's
                    pending, left = b"", 0
            if data:
                crc = zlib.crc32(data, crc)
                size += len(data)
                yield data
            elif not pending and not left:
                break
    if inflate is not None and not inflate.eof:
        raise EOFError("Compressed file ended before the end-of-stream marker was reached")
    if crc != entry.crc or size != entry.size:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {entry.name!r}")


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
