"""Index the members of media archives, without extracting them.

Twitter shipped the images and videos of each campaign as zips beside the
CSVs (`ira_tweet_media_hashed_10.zip`) or in a folder of their own
(`china_052020_tweet_media_hashed/china_052020_hashed_001.zip`). Public code
that read them shows members like

    ira_10/<userid>/images/<tweetid>-<media key>.jpg

and other releases vary the folders. So a member's kind comes from a folder
name (`images`, `videos`, `profile_images`, ...) or else its extension; the
tweet id from the leading digits of the file name; the user id from the
folder above the kind folder, or a parent folder that looks like an id.
Anything that cannot be read is left NULL rather than guessed.

The `media` table gets one row per member; the zip's central directory is
all that is read (or, for a zip cut short, its local headers: the whole
members are indexed and the build says which member the file ends in). Each archive is indexed in one transaction and recorded in
`imports` with a checksum of that directory, so a second build skips it.
"""
import hashlib
import os
import re
import zipfile
from collections import namedtuple

from .archives import campaign_for, campaign_from_name, is_junk
from ..schema import now, record_failure, transaction
from .zipscan import scan_local_headers

MEDIA_SQL = """CREATE TABLE IF NOT EXISTS [media] (
  [id] INTEGER PRIMARY KEY,
  [campaign] TEXT NOT NULL,
  [tweetid] INTEGER,
  [userid] TEXT,
  [kind] TEXT NOT NULL,
  [archive] TEXT NOT NULL,
  [member] TEXT NOT NULL,
  [size] INTEGER,
  [compressed_size] INTEGER,
  [crc32] TEXT,
  [import_id] INTEGER
)"""
MEDIA_INDEXES = (
    "CREATE INDEX IF NOT EXISTS [idx_media_tweetid] ON [media] ([tweetid])",
    "CREATE INDEX IF NOT EXISTS [idx_media_campaign_kind] ON [media] ([campaign], [kind])",
    "CREATE INDEX IF NOT EXISTS [idx_media_userid] ON [media] ([userid])",
    "CREATE INDEX IF NOT EXISTS [idx_media_archive] ON [media] ([archive])",
)
BATCH = 5000

_MEDIA_FOLDER_RE = re.compile(r"^.+_tweet_media(?:_(?:un)?hashed)?$", re.IGNORECASE)
_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}
_VIDEO_EXT = {".mp4", ".mov", ".m4v", ".webm", ".m3u8", ".ts", ".avi", ".mkv"}
_VIDEO_FOLDERS = {"video", "videos", "gif", "gifs", "animated_gif", "animated_gifs"}
_IMAGE_FOLDERS = {"image", "images", "photo", "photos", "img", "imgs"}
# Tweet ids are 64-bit; a longer run of digits is not one.
_TWEETID_RE = re.compile(r"^(\d{1,19})(?=[-_.]|$)")
# What a user id looks like in the archives: a number, a 64-hex hash (2018),
# a base64-like hash of 40-44 characters (later).
_USERID_RE = re.compile(r"^(?:\d{1,20}|[0-9a-f]{64}|[A-Za-z0-9+_-]{38,44}={0,2})$")


def is_media_archive(archive):
    """A media zip: named so, or inside a `<campaign>_tweet_media_hashed/` folder."""
    if archive.is_media:
        return True
    parent = os.path.basename(os.path.dirname(os.path.abspath(archive.path)))
    return archive.format == "zip" and bool(_MEDIA_FOLDER_RE.match(parent))


def campaign_of(archive):
    """The archive's campaign, reading the media folder when the name has none.

    `china_052020_hashed_001.zip` names no campaign; its folder
    `china_052020_tweet_media_hashed` does. A campaign given by the user
    (--campaign) differs from the derived one and is kept.
    """
    if archive.campaign != campaign_for(archive.path):
        return archive.campaign
    path = os.path.abspath(archive.path)
    name = campaign_from_name(os.path.basename(path))
    if name:
        return name
    parent = os.path.basename(os.path.dirname(path))
    if _MEDIA_FOLDER_RE.match(parent):
        return campaign_from_name(parent) or archive.campaign
    return archive.campaign


def _looks_like_userid(text):
    return bool(_USERID_RE.match(text)) and not _MEDIA_FOLDER_RE.match(text)


def parse_member(name):
    """(kind, tweetid, userid) for one member path, or None for junk and folders."""
    path = name.replace("\\", "/")
    if path.endswith("/") or is_junk(path):
        return None
    parts = path.split("/")
    base = parts[-1]
    folders = [part.lower() for part in parts[:-1]]
    ext = os.path.splitext(base)[1].lower()
    kind = None
    kind_at = None
    for at in range(len(folders) - 1, -1, -1):
        folder = folders[at]
        if "profile" in folder:
            kind = "profile"
        elif folder in _VIDEO_FOLDERS:
            kind = "video"
        elif folder in _IMAGE_FOLDERS:
            kind = "image"
        if kind:
            kind_at = at
            break
    if kind is None:
        if "profile" in base.lower():
            kind = "profile"
        elif ext in _IMAGE_EXT:
            kind = "image"
        elif ext in _VIDEO_EXT:
            kind = "video"
        else:
            kind = "other"
    userid = None
    if kind_at is not None and kind_at >= 1 and _looks_like_userid(parts[kind_at - 1]):
        userid = parts[kind_at - 1]
    elif kind_at is None and len(parts) >= 2 and _looks_like_userid(parts[-2]):
        userid = parts[-2]
    stem = os.path.splitext(base)[0]
    if userid is None and kind == "profile" and _looks_like_userid(stem):
        userid = stem
    tweetid = None
    if kind in ("image", "video"):
        match = _TWEETID_RE.match(base)
        if match and int(match.group(1)) < 2**63:
            tweetid = int(match.group(1))
    return kind, tweetid, userid


# What is read of each member: the central directory's entry, or, for a zip
# cut short, its local header (scan_local_headers).
Entry = namedtuple("Entry", "filename CRC file_size compress_size")


def read_entries(path):
    """(entries, error): every member but folders, and, for a zip cut short,
    whose whole members are found from their local headers, the message
    naming the member the file ends in (left out). ValueError, with the
    message, when the file cannot be read as a zip at all."""
    try:
        with zipfile.ZipFile(path) as zipped:
            return [Entry(i.filename, i.CRC, i.file_size, i.compress_size)
                    for i in zipped.infolist() if not i.is_dir()], None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        try:
            scan = scan_local_headers(path)
        except OSError:
            scan = None
        if scan is None:
            raise ValueError(f"{path}: not a readable zip file ({error})") from None
    found, cut = scan
    entries = [Entry(e.name, e.crc, e.size, e.compressed_size) for e in found if not e.name.endswith("/")]
    return entries, cut.error if cut else None


def directory_checksum(infos):
    """A checksum of the zip's content read from its central directory alone.

    Each entry's name, CRC-32 and sizes: the same content under another path
    (a cache and a mirror) is recognised without reading gigabytes of media.
    """
    digest = hashlib.sha256()
    for info in infos:
        digest.update(f"{info.filename}\0{info.CRC:08x}\0{info.file_size}\0{info.compress_size}\n".encode())
    return f"zipdir:{digest.hexdigest()}:{len(infos)}"


def ensure_media_table(conn):
    conn.execute(MEDIA_SQL)
    for sql in MEDIA_INDEXES:
        conn.execute(sql)


def index_archive(conn, archive, report):
    """Index one media archive's members in a single transaction.

    Skips an archive whose directory checksum is already indexed for the
    campaign. A zip that cannot be read is recorded as failed in `imports`
    and in report.errors; the build goes on.
    """
    campaign = campaign_of(archive)
    try:
        infos, cut = read_entries(archive.path)
    except ValueError as error:
        record_failure(conn, archive.path, campaign, str(error), kind="media")
        report.errors.append(str(error))
        return 0
    if cut:
        # A download cut short: the whole members are indexed, the import
        # keeps the message, and every build that meets the file says it.
        report.errors.append(cut)
    checksum = directory_checksum(infos)
    # KeyboardInterrupt included: the archive's rows go whole or not at all.
    with transaction(conn):
        ensure_media_table(conn)
        done = conn.execute(
            "SELECT 1 FROM imports WHERE checksum = ? AND campaign = ? AND status = 'done'",
            (checksum, campaign),
        ).fetchone()
        if done:
            report.campaigns[campaign].skipped_members += 1
            return 0
        # The same path with other content: its old rows describe a file that
        # is gone, and its old import must no longer vouch for that content.
        conn.execute("DELETE FROM media WHERE archive = ?", (archive.path,))
        conn.execute(
            "UPDATE imports SET status = 'replaced' WHERE path = ? AND kind = 'media' AND status = 'done'",
            (archive.path,),
        )
        stat = os.stat(archive.path)
        import_id = conn.execute(
            "INSERT INTO imports (path, member, campaign, kind, size, mtime_ns, checksum, status, error, "
            "started) VALUES (?, NULL, ?, 'media', ?, ?, ?, 'loading', ?, ?)",
            (archive.path, campaign, stat.st_size, stat.st_mtime_ns, checksum, cut, now()),
        ).lastrowid
        rows = 0
        batch = []
        for info in infos:
            parsed = parse_member(info.filename)
            if parsed is None:
                continue
            kind, tweetid, userid = parsed
            batch.append((campaign, tweetid, userid, kind, archive.path, info.filename, info.file_size,
                          info.compress_size, f"{info.CRC:08x}", import_id))
            if len(batch) >= BATCH:
                rows += _insert(conn, batch)
                batch = []
        rows += _insert(conn, batch)
        conn.execute(
            "UPDATE imports SET status = 'done', rows_read = ?, rows_loaded = ?, finished = ? WHERE id = ?",
            (len(infos), rows, now(), import_id),
        )
    return rows


def _insert(conn, batch):
    if not batch:
        return 0
    conn.executemany(
        "INSERT INTO media (campaign, tweetid, userid, kind, archive, member, size, compressed_size, crc32, "
        "import_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    return len(batch)
