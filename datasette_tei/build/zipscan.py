"""Reading a zip without its central directory.

zipfile finds members through the central directory at the end of the zip,
which a download cut short lacks. Each member's data is also preceded by a
local header holding its name, method, CRC-32 and sizes, so the members can
be found from the start of the file, one after the other, up to the cut.
"""
import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass

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
# A TEI zip holds a few dozen members at most; the scan keeps an entry for
# each member it finds, so a hostile file of tiny members is cut off here.
MAX_ENTRIES = 100_000


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
        """The member's bytes (the caller checks `error` first)."""
        return _LocalMemberFile(path, self)


def scan_local_headers(path):
    """(entries, cut) from the local headers of the zip at `path`, in order.

    `entries` are the members found whole (those zipfile could not read carry
    an `error`); `cut` is the entry where the file stops making sense (cut
    short, or damaged) with its `error`: a member's, or one named '' when the
    cut falls between members or in the central directory (then every
    member is whole). None instead of a pair when the file does not start
    with a local header: it is no zip at all.
    """
    entries = []
    end = os.path.getsize(path)
    with open(path, "rb") as handle:
        position = 0
        while True:
            if len(entries) >= MAX_ENTRIES:
                return entries, LocalEntry("", error=(
                    f"{path}: more than {MAX_ENTRIES:,} members, more than a TEI archive could hold: "
                    "the rest are not read"))
            handle.seek(position)
            head = handle.read(_LOCAL_HEADER.size)
            if position == 0 and head[:4] != _LOCAL_SIG:
                return None
            if head[:4] in _DIRECTORY_SIGS:
                # Every member is whole: only the directory is cut or damaged.
                # Nothing is lost, but the file is not what was published.
                return entries, LocalEntry("", error=(
                    f"{path}: its central directory is cut short or damaged (the zip file ends at "
                    f"byte {end}): every member was whole and is read; download it again"))
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
