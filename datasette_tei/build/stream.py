"""Typed batches from one archive member, parsed on the second core when large.

The parse (CSV, UTF-8, types, lists) is Python and the load is SQLite; on two
cores they overlap when the parse runs in a child process that sends batches
of tuples through a pipe. marshal is the fastest serialiser for tuples of
str, int, float and None, which is all a batch holds. Small members are
parsed in-process: a child is not worth starting for them.

Events, in order: ("header", kind, columns), then any number of
("rows", [tuple, ...], nbytes, [(tweetid, indexed text), ...]) and
("rejects", [(line, reason, raw), ...], nbytes), then ("end",
repeated_header_count). A member that cannot be read raises ArchiveError,
in the parent, with the child's message.

With raw=True (the SQL pipeline, sqlload.py) nothing is typed here: the
header event carries the header row itself, and the rows come as
("raw", [[field, ..., line(, indexed)], ...], nbytes, [(line, reason, raw),
...]): good-shaped rows as the CSV reader gave them, each with its line
number and, for tweets, the search index's text where it is not the
tweet's own (search.index_text, or None), and the rows rejected for their
shape among them.
"""
import gc
import marshal
import multiprocessing
import os
import signal
import zipfile
import zlib

from .. import search
from .archives import Archive, ArchiveError, Member, MemberReader, RawReject, raw_text
from .parse import Converter, RowError, normalise_header, parse_tweet_text

# Rows per message: small enough that a few messages fit in the pipe, so the
# child parses ahead while the parent is inside SQLite.
BATCH = 1000
# ... and fewer when the rows are large: a batch holds what this many bytes
# of the member held, so that rows near the size limits cannot make a batch
# (held by both processes, and in the pipe) hundreds of MB.
BATCH_BYTES = 4 * 1024 * 1024
_F_SETPIPE_SZ = 1031  # Linux fcntl: grow the pipe's buffer
# Below this many bytes a child process costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024

_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, ValueError, RuntimeError)


def events(member, tail, parallel=None, raw=False):
    """Yield the member's events; see the module docstring."""
    if parallel is None:
        parallel = member.size >= PARALLEL_MIN_BYTES and os.cpu_count() > 1
    if parallel:
        yield from _from_child(member, tail, raw)
    else:
        yield from _parse(member, tail, raw)


def _parse(member, tail, raw=False):
    read = [0]

    def on_bytes(n):
        read[0] += n

    def taken():
        n, read[0] = read[0], 0
        return n

    reader = MemberReader(member, on_bytes=on_bytes)
    if raw:
        yield from _raw(member, reader, read, taken)
        return
    try:
        converter = Converter(reader.kind, reader.header, tail)
        yield ("header", reader.kind, converter.columns)
        convert = converter.__call__
        # The text the search index holds, where it is not the tweet's own
        # (search.index_text: scripts without spaces), is made here, on the
        # parsing core.
        text_at = converter.columns.index("tweet_text") if reader.kind == "tweets" else None
        index_text = search.index_text
        batch, rejects, indexed = [], [], []
        try:
            for item in reader.rows():
                if item.__class__ is RawReject:
                    rejects.append((item.line, item.reason, item.raw))
                else:
                    line, fields = item
                    try:
                        values = convert(fields)
                    except RowError as error:
                        fields.pop()  # the blank the converter appended
                        rejects.append((line, str(error), raw_text(fields)))
                    else:
                        batch.append(values)
                        if text_at is not None:
                            text = index_text(values[text_at])
                            if text is not None:
                                indexed.append((values[0], text))
                if len(batch) >= BATCH or read[0] >= BATCH_BYTES:
                    if batch:
                        yield ("rows", batch, taken(), indexed)
                        batch, indexed = [], []
                    if rejects:
                        yield ("rejects", rejects, taken())
                        rejects = []
                if len(rejects) >= BATCH:
                    yield ("rejects", rejects, taken())
                    rejects = []
        except _READ_ERRORS as error:
            # zlib and CRC errors surface while streaming: the member is damaged.
            raise ArchiveError(f"{member.label}: damaged, cannot be read to the end ({error})") from None
        if batch:
            yield ("rows", batch, 0, indexed)
        if rejects:
            yield ("rejects", rejects, 0)
        yield ("end", reader.repeated_headers, taken())
    finally:
        reader.close()


def _raw(member, reader, read, taken):
    try:
        yield ("header", reader.kind, reader.header)
        names = normalise_header(reader.header)
        text_at = names.index("tweet_text") if reader.kind == "tweets" and "tweet_text" in names else None
        index_text = search.index_text
        batch, rejects = [], []
        try:
            for item in reader.rows():
                if item.__class__ is RawReject:
                    rejects.append((item.line, item.reason, item.raw))
                    continue
                line, fields = item
                if reader.kind == "tweets":
                    # The search index's text where it is not the tweet's
                    # (sqlload.py): the tweet's text as parse.py stores it,
                    # and the staged row carries it last.
                    text = fields[text_at] if text_at is not None else ""
                    indexed = None
                    if not text.isascii():
                        indexed = index_text(parse_tweet_text(text) if "&" in text else text)
                    fields.append(line)
                    fields.append(indexed)
                else:
                    fields.append(line)
                batch.append(fields)
                if len(batch) >= BATCH or len(rejects) >= BATCH or read[0] >= BATCH_BYTES:
                    yield ("raw", batch, taken(), rejects)
                    batch, rejects = [], []
        except _READ_ERRORS as error:
            raise ArchiveError(f"{member.label}: damaged, cannot be read to the end ({error})") from None
        if batch or rejects:
            yield ("raw", batch, 0, rejects)
        yield ("end", reader.repeated_headers, taken())
    finally:
        reader.close()


def _child(receive, connection, path, campaign, name, size, checksum, local, tail, raw=False):
    """Runs in the child: parse and send every event, or the error."""
    # A forked child holds a copy of the parent's reading end: closed, a
    # parent that died makes the next write fail instead of block forever.
    receive.close()
    # Ctrl-C reaches the whole process group; the parent handles it and
    # ends this process, which must not answer it with an error message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Every row makes a list and a tuple, so the cycle collector would run
    # every few hundred rows, over objects that never form cycles (a parse
    # of 200,000 rows, bad ones included, leaves none): without it the parse
    # costs less CPU, and its memory stays flat all the same.
    gc.disable()
    # The archive opens its zip again on the first read, here in the child:
    # through the central directory, or, for a zip without one, at the
    # member's place found by the parent's scan of the local headers.
    archive = Archive(path=path, campaign=campaign)
    try:
        member = Member(archive, name, size, checksum, local)
        for event in _parse(member, tail, raw):
            connection.send_bytes(marshal.dumps(event))
    except ArchiveError as error:
        connection.send_bytes(marshal.dumps(("error", str(error))))
    except BrokenPipeError:
        pass  # the parent stopped listening: it was interrupted
    except BaseException as error:  # report anything, never die silently
        connection.send_bytes(marshal.dumps(("error", f"{path}:{name}: {error!r}")))
    finally:
        archive.close()
        connection.close()


def _context():
    # fork starts in milliseconds and the child needs nothing re-imported;
    # elsewhere (macOS, Windows) spawn is the safe default.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _grow_pipe(connection):
    try:
        import fcntl

        with open("/proc/sys/fs/pipe-max-size") as handle:
            size = int(handle.read())
        fcntl.fcntl(connection.fileno(), _F_SETPIPE_SZ, min(size, 4 * 1024 * 1024))
    except (OSError, ValueError, ImportError):
        pass  # not Linux, or not allowed: a smaller pipe only costs overlap


def _from_child(member, tail, raw=False):
    context = _context()
    receive, send = context.Pipe(duplex=False)
    _grow_pipe(receive)
    process = context.Process(
        target=_child,
        args=(receive, send, member.archive.path, member.archive.campaign, member.name, member.size,
              member.checksum, member.local, tuple(tail), raw),
        daemon=True,
    )
    process.start()
    send.close()
    try:
        while True:
            try:
                event = marshal.loads(receive.recv_bytes())
            except EOFError:
                raise ArchiveError(f"{member.label}: the parsing process stopped unexpectedly") from None
            if event[0] == "error":
                raise ArchiveError(event[1])
            yield event
            if event[0] == "end":
                break
    finally:
        receive.close()
        if process.is_alive():
            process.terminate()
        process.join()
