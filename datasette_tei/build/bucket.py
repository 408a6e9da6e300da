"""List, download and verify the TEI archives in Google Cloud Storage.

The archives sit in the public bucket `twitter-election-integrity` under
`hashed/`. This module lists what a gs:// URL holds (release folders,
campaigns, files and sizes), and mirrors the chosen objects under a local
folder: in parallel, each file checked against the object's CRC32C (or MD5)
before it counts, partial downloads resumed from their last byte, files
already verified skipped, transient network errors retried with backoff.

Every failure the user can cause or meet (a missing bucket, an empty prefix,
a denied permission, an unreachable server, a checksum mismatch) surfaces as
a BucketError with a one-line message; the CLI prints it, never a traceback.
"""
import base64
import concurrent.futures
import fnmatch
import hashlib
import importlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field

from .archives import campaign_from_name, release_from_path


class _OnFirstUse:
    """A module imported when one of its names is first read: the Google
    Cloud client takes a third of a second to import, which every command of
    the CLI (the `cli` module imports this one) would otherwise pay."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)


api_exceptions = _OnFirstUse("google.api_core.exceptions")
storage = _OnFirstUse("google.cloud.storage")
_storage_retry = _OnFirstUse("google.cloud.storage.retry")

try:  # the C or pure-Python CRC32C that google-cloud-storage depends on
    import google_crc32c
except ImportError:  # pragma: no cover - always installed with the client
    google_crc32c = None

DEFAULT_URL = "gs://twitter-election-integrity/hashed/"
# How long transient errors (timeouts, 429, 5xx, refused connections) are
# retried, with exponential backoff, before a file or listing gives up.
DEFAULT_RETRY_TIMEOUT = 60.0
# (connect, read) seconds for one HTTP request; a stalled read is retried.
REQUEST_TIMEOUT = (10, 60)
BLOCK = 1024 * 1024
PART_SUFFIX = ".part"

_MEDIA_MARKER_RE = re.compile(r"_(?:tweet_media|media_file_list)(?:_|\.|$)", re.IGNORECASE)
_KIND_RE = re.compile(r"_(tweets|users)_csv(?:_|\.|$)", re.IGNORECASE)
_RELEASE_RE = re.compile(r"^20\d\d_(?:0[1-9]|1[0-2])$")


class BucketError(Exception):
    """A failure explained in one line, meant for the user."""


# --- Locations and clients ---------------------------------------------------


def is_gs_url(text):
    return text.startswith("gs://")


def parse_url(url):
    """('bucket', 'prefix/') from 'gs://bucket/prefix/'."""
    if not is_gs_url(url):
        raise BucketError(f"{url}: not a gs://BUCKET/PREFIX URL")
    bucket, _, prefix = url[len("gs://"):].partition("/")
    if not bucket:
        raise BucketError(f"{url}: no bucket name")
    return bucket, prefix


def default_cache_dir():
    """Where `build gs://...` keeps its mirror: the user's cache directory."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base and os.name == "nt":
        base = os.environ.get("LOCALAPPDATA")
    if not base:
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "datasette-tei")


def make_client(credentials=None):
    """An anonymous client by default: the TEI bucket is public.

    `credentials` is a JSON key file (a service account key, or an
    authorized user file as `gcloud auth application-default login` writes),
    or "default" for application default credentials (which also cover
    GOOGLE_APPLICATION_CREDENTIALS pointing at any other kind of file).
    STORAGE_EMULATOR_HOST is honoured by the client library itself.
    """
    try:
        if not credentials:
            client = storage.Client.create_anonymous_client()
        else:
            # project=None: reading a bucket needs no project.
            client = storage.Client(project=None, credentials=load_credentials(credentials))
        # Recent clients fetch the bucket's metadata in a background thread,
        # for tracing attributes we do not use; anonymous users may not read
        # it (403 on the public bucket). One request less per client.
        if hasattr(client, "_bucket_metadata_cache"):
            client._bucket_metadata_cache = None
        return client
    except BucketError:
        raise
    except Exception as error:  # a bad emulator URL, say
        raise BucketError(f"cannot create a storage client: {_first_line(error)}") from None


def load_credentials(credentials):
    import google.auth
    from google.auth import exceptions as auth_exceptions
    from google.oauth2 import credentials as user_credentials
    from google.oauth2 import service_account

    scopes = ["https://www.googleapis.com/auth/devstorage.read_only"]
    try:
        if credentials == "default":
            return google.auth.default(scopes=scopes)[0]
        if not os.path.isfile(credentials):
            raise BucketError(f"{credentials}: no such credentials file")
        try:
            with open(credentials, encoding="utf-8") as handle:
                kind = json.load(handle).get("type")
        except (OSError, ValueError, AttributeError):
            raise BucketError(f"{credentials}: not a JSON credentials file") from None
        # Loaders by type: a generic loader would also run whatever an
        # external-account file asks for.
        if kind == "service_account":
            return service_account.Credentials.from_service_account_file(credentials, scopes=scopes)
        if kind == "authorized_user":
            return user_credentials.Credentials.from_authorized_user_file(credentials, scopes=scopes)
        raise BucketError(
            f"{credentials}: credentials of type {kind!r} are not supported here; give a service "
            "account key or an authorized user file, or set GOOGLE_APPLICATION_CREDENTIALS and "
            "use --credentials default"
        )
    except (auth_exceptions.GoogleAuthError, ValueError) as error:
        raise BucketError(f"cannot load credentials from {credentials}: {_first_line(error)}") from None


def make_retry(timeout=DEFAULT_RETRY_TIMEOUT):
    """The library's own notion of a transient error, with our time limit."""
    return _storage_retry.DEFAULT_RETRY.with_timeout(timeout).with_delay(
        initial=0.5, maximum=16.0, multiplier=2.0)


def endpoint(client):
    try:
        return client.api_endpoint
    except Exception:  # pragma: no cover - older clients
        return "storage.googleapis.com"


# --- Listing -----------------------------------------------------------------


@dataclass
class RemoteFile:
    """One object under the prefix, and what its path says it is."""

    bucket: str
    name: str
    size: int
    crc32c: str = None
    md5: str = None
    generation: int = None
    release: str = None
    campaign: str = None
    kind: str = "other"  # tweets, users, media, readme, other

    @property
    def is_media(self):
        return self.kind == "media"

    def as_dict(self):
        return {
            "name": self.name,
            "size": self.size,
            "kind": self.kind,
            "crc32c": self.crc32c,
            "md5": self.md5,
            "generation": self.generation,
        }


def classify(bucket, name, size=0, crc32c=None, md5=None, generation=None):
    """A RemoteFile with the release, campaign and kind read from the path.

    Media sit beside the data (`<c>_tweet_media_hashed_1.zip`) or in their
    own folder (`<c>_tweet_media_hashed/<c>_hashed_001.zip`): a media marker
    anywhere in the path makes a media file.
    """
    parts = name.split("/")
    base = parts[-1]
    folders = parts[:-1]
    is_media = any(_MEDIA_MARKER_RE.search(part) for part in parts)
    campaign = campaign_from_name(base)
    if not campaign and len(folders) >= 2 and not _RELEASE_RE.match(folders[-1]):
        # Named by its folder (`ira/README.txt`, `<c>_tweet_media_hashed/...`);
        # the bucket's top folder (`hashed/`) and release folders name none.
        campaign = campaign_from_name(folders[-1]) or folders[-1]
    if is_media:
        kind = "media"
    elif _KIND_RE.search(base):
        kind = _KIND_RE.search(base).group(1).lower()
    elif "readme" in base.lower():
        kind = "readme"
    else:
        kind = "other"
    return RemoteFile(
        bucket=bucket,
        name=name,
        size=int(size or 0),
        crc32c=crc32c,
        md5=md5,
        generation=generation,
        release=release_from_path(name),
        campaign=campaign,
        kind=kind,
    )


def list_files(client, url, retry_timeout=DEFAULT_RETRY_TIMEOUT):
    """Every object under a gs:// URL, as RemoteFiles sorted by name.

    Raises BucketError for a missing bucket, an empty prefix, a denied
    permission or a server that cannot be reached.
    """
    bucket, prefix = parse_url(url)
    files = []
    try:
        for blob in client.list_blobs(
            bucket, prefix=prefix or None, retry=make_retry(retry_timeout), timeout=REQUEST_TIMEOUT
        ):
            if blob.name.endswith("/"):
                continue  # a folder placeholder made by the console
            files.append(
                classify(bucket, blob.name, blob.size, blob.crc32c, blob.md5_hash, blob.generation)
            )
    except api_exceptions.NotFound:
        # Listing an existing bucket never 404s, whatever the prefix.
        raise BucketError(f"gs://{bucket}: no such bucket") from None
    except Exception as error:
        raise BucketError(describe(error, f"listing {url}", client)) from None
    if not files:
        raise BucketError(f"{url}: no objects under this prefix")
    files.sort(key=lambda f: f.name)
    return files


def campaign_matches(remote, globs):
    """A campaign glob matches the campaign name, or `release/campaign`."""
    if not globs:
        return True
    if not remote.campaign:
        return False
    names = [remote.campaign]
    if remote.release:
        names.append(f"{remote.release}/{remote.campaign}")
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs for name in names)


def select(files, campaigns=(), media=False):
    """The files a download fetches: matching campaigns; media only if asked.

    Files outside every campaign (a release README) come only when no
    campaign is named.
    """
    return [f for f in files if (media or not f.is_media) and campaign_matches(f, campaigns)]


def _group(key, name):
    return {key: name, "size": 0, "files_count": 0, "media_size": 0, "media_files": 0, "files": []}


def summarize(url, files, campaigns=(), media=False):
    """The listing as data: releases, campaigns, files, sizes; JSON-ready.

    Media files are counted and sized per campaign always, and listed one
    by one only with `media`. A release's totals include its campaigns and
    the files outside any campaign (its README).
    """
    bucket, prefix = parse_url(url)
    chosen = [f for f in files if campaign_matches(f, campaigns)]
    releases = {}
    for remote in chosen:
        release = releases.get(remote.release)
        if release is None:
            release = releases[remote.release] = _group("release", remote.release)
            release["campaigns"] = {}
        groups = [release]
        if remote.campaign is not None:
            campaigns_seen = release["campaigns"]
            if remote.campaign not in campaigns_seen:
                campaigns_seen[remote.campaign] = _group("campaign", remote.campaign)
            groups.append(campaigns_seen[remote.campaign])
        for group in groups:
            if remote.is_media:
                group["media_size"] += remote.size
                group["media_files"] += 1
            else:
                group["size"] += remote.size
                group["files_count"] += 1
        if media or not remote.is_media:
            groups[-1]["files"].append(remote.as_dict())
    ordered = []
    # Release folders in date order; objects outside any release folder last.
    for key in sorted(releases, key=lambda r: (r is None, r or "")):
        release = releases[key]
        found = release["campaigns"]
        release["campaigns"] = [found[name] for name in sorted(found, key=str.lower)]
        ordered.append(release)
    data_files = [f for f in chosen if not f.is_media]
    media_files = [f for f in chosen if f.is_media]
    return {
        "url": url,
        "bucket": bucket,
        "prefix": prefix,
        "campaigns_count": sum(len(r["campaigns"]) for r in ordered),
        "files_count": len(data_files),
        "size": sum(f.size for f in data_files),
        "media_files": len(media_files),
        "media_size": sum(f.size for f in media_files),
        "releases": ordered,
    }


def plural(n, word):
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def human_size(n):
    """1.2 GB: decimal units, as the TEI announcements and gsutil show them."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover


def render(summary, media=False):
    """The human-readable listing: releases, their campaigns, their files."""
    lines = []
    media_note = ""
    if summary["media_files"]:
        media_note = f"; media {human_size(summary['media_size'])} in {plural(summary['media_files'], 'file')}"
        if not media:
            media_note += " (--media to list and download them)"
    lines.append(
        f"{summary['url']}: {plural(summary['campaigns_count'], 'campaign')}, {plural(summary['files_count'], 'file')}, "
        f"{human_size(summary['size'])}{media_note}"
    )
    shown = [(release, group) for release in summary["releases"] for group in [release] + release["campaigns"]]
    width = max([len(_display_name(f["name"], g.get("campaign"))) for _, g in shown for f in g["files"]] or [0])
    for release in summary["releases"]:
        lines.append("")
        lines.append(f"{release['release'] or '(no release folder)'}  {_totals(release)}")
        for group in [release] + release["campaigns"]:
            indent = "  "
            if group is not release:
                lines.append(f"  {group['campaign']}  {_totals(group)}")
                indent = "    "
            for remote in group["files"]:
                name = _display_name(remote["name"], group.get("campaign"))
                lines.append(f"{indent}{name.ljust(width + 4 - len(indent))}  {human_size(remote['size']).rjust(9)}")
    return "\n".join(lines)


def _totals(group):
    text = f"{plural(group['files_count'], 'file')}, {human_size(group['size'])}"
    if group["media_files"]:
        text += f"; media {human_size(group['media_size'])} in {plural(group['media_files'], 'file')}"
    return text


def _display_name(name, campaign):
    """The path below the campaign folder (media folders show), else the file name."""
    parts = name.split("/")
    if campaign in parts[:-1]:
        at = len(parts) - 2 - parts[-2::-1].index(campaign)
        return "/".join(parts[at + 1:])
    return parts[-1]


# --- Local paths ---------------------------------------------------------------


def local_path(dest, name):
    """DEST/<object name>, refusing any name that could escape DEST.

    Object names are chosen by whoever wrote the bucket: `../`, absolute
    paths, backslashes and drive letters are refused, not cleaned up.
    """
    parts = name.split("/")
    bad = (
        not name
        or any(part in ("", ".", "..") for part in parts)
        or any("\\" in part or "\x00" in part for part in parts)
        or (os.name == "nt" and any(":" in part for part in parts))
    )
    if bad:
        raise BucketError(f"gs object {name!r}: refusing a name that is not a plain relative path")
    root = os.path.abspath(dest)
    path = os.path.join(root, *parts)
    if os.path.commonpath([root, os.path.abspath(path)]) != root:
        raise BucketError(f"gs object {name!r}: refusing a name that leads outside {dest}")  # pragma: no cover
    return path


def sidecar_path(path):
    """The record of a verified download: hidden, so builds never read it."""
    folder, base = os.path.split(path)
    return os.path.join(folder, f".{base}.verified")


# --- Checksums -------------------------------------------------------------------


class Hasher:
    """The checksum the object's metadata offers: CRC32C, else MD5, else none."""

    def __init__(self, remote):
        self.expected = None
        self.algorithm = None
        self._hash = None
        if remote.crc32c and google_crc32c is not None:
            self.algorithm, self.expected = "CRC32C", remote.crc32c
            self._hash = google_crc32c.Checksum()
        elif remote.md5:
            self.algorithm, self.expected = "MD5", remote.md5
            self._hash = hashlib.md5()

    def update(self, data):
        if self._hash is not None:
            self._hash.update(data)

    def value(self):
        if self._hash is None:
            return None
        return base64.b64encode(self._hash.digest()).decode("ascii")

    def matches(self):
        return self._hash is None or self.value() == self.expected


def hash_file(path, hasher, on_bytes=None, abort=None):
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            if abort is not None and abort.is_set():
                raise _Aborted()
            hasher.update(block)
            if on_bytes:
                on_bytes(len(block))
    return hasher


def _read_sidecar(path):
    try:
        with open(sidecar_path(path), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _write_sidecar(path, remote):
    stat = os.stat(path)
    record = {
        "object": f"gs://{remote.bucket}/{remote.name}",
        "generation": remote.generation,
        "size": remote.size,
        "crc32c": remote.crc32c,
        "md5": remote.md5,
        "mtime_ns": stat.st_mtime_ns,
        "verified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    temporary = sidecar_path(path) + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(temporary, sidecar_path(path))


def _sidecar_vouches(path, remote):
    """True when a verified record matches the object and the file is untouched."""
    record = _read_sidecar(path)
    if not record:
        return False
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return (
        record.get("size") == remote.size == stat.st_size
        and record.get("mtime_ns") == stat.st_mtime_ns
        and record.get("crc32c") == remote.crc32c
        and record.get("md5") == remote.md5
    )


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# --- Downloading -------------------------------------------------------------------


class DownloadProgress:
    """What download() reports; the CLI draws a bar from it."""

    def start(self, total_bytes):
        pass

    def advance(self, nbytes):
        """Bytes of the selection now accounted for (fetched or found local)."""

    def fetched(self, nbytes):
        """Bytes that came over the network, for the transfer rate."""

    def message(self, text):
        pass

    def finish(self):
        pass


class _LockedProgress:
    """Workers report from many threads; the bar is drawn by one at a time."""

    def __init__(self, progress):
        self._progress = progress
        self._lock = threading.Lock()

    def __getattr__(self, name):
        method = getattr(self._progress, name, None) or (lambda *args: None)

        def locked(*args):
            with self._lock:
                return method(*args)

        return locked


@dataclass
class DownloadReport:
    files: list = field(default_factory=list)  # local paths of every verified file, in order
    downloaded: int = 0  # files fetched in this run (fully or resumed)
    resumed: int = 0
    verified: int = 0  # files already present and verified
    repaired: int = 0  # local files that failed verification and were fetched again
    bytes_fetched: int = 0
    errors: list = field(default_factory=list)  # one line per file that is not usable
    not_attempted: int = 0  # files left when a fatal error stopped the run

    @property
    def ok(self):
        return not self.errors


_FATAL = object()  # a file whose failure stopped the run


class _Aborted(Exception):
    """Another worker hit a fatal error, or the user interrupted."""


class _Fatal(BucketError):
    """An error that dooms every other file too: stop the run."""


class _PartWriter:
    """The .part file as the client library sees it: it writes, we count and hash.

    The library retries a broken stream itself from the last byte written,
    so whatever reaches write() is the object's next bytes.
    """

    def __init__(self, handle, path, hasher, progress, abort):
        self.handle = handle
        self.path = path
        self.hasher = hasher
        self.progress = progress
        self.abort = abort
        self.count = 0

    def write(self, data):
        if self.abort.is_set():
            raise _Aborted()
        try:
            self.handle.write(data)
        except OSError as error:
            # A full disk, not the network: the library must not retry it.
            raise _fatal_os_error(error, self.path) from None
        self.hasher.update(data)
        n = len(data)
        self.count += n
        self.progress.advance(n)
        self.progress.fetched(n)
        return n

    def flush(self):
        self.handle.flush()


def download(
    files,
    dest,
    client_factory=make_client,
    workers=4,
    progress=None,
    retry_timeout=DEFAULT_RETRY_TIMEOUT,
    verify=False,
):
    """Mirror the RemoteFiles under dest (DEST/<object name>), verified.

    Returns a DownloadReport; per-file failures land in report.errors. A
    fatal failure (unreachable server, permission denied, disk full) stops
    the remaining files and is reported once. KeyboardInterrupt propagates
    after the workers stopped; partial files stay for the next run.
    """
    progress = _LockedProgress(progress or DownloadProgress())
    report = DownloadReport()
    abort = threading.Event()
    local = threading.local()
    retry = make_retry(retry_timeout)

    def client():
        if not hasattr(local, "client"):
            local.client = client_factory()
        return local.client

    paths = {}
    todo = []
    for remote in files:
        try:
            paths[remote.name] = local_path(dest, remote.name)
            todo.append(remote)
        except BucketError as error:
            report.errors.append(str(error))
    progress.start(sum(remote.size for remote in todo))
    results = {}
    fatal = []
    lock = threading.Lock()

    def work(remote):
        if abort.is_set():
            return None
        try:
            return _fetch(remote, paths[remote.name], client, retry, progress, abort, verify)
        except _Aborted:
            return None
        except _Fatal as error:
            with lock:
                fatal.append(str(error))
            abort.set()
            return _FATAL
        except BucketError as error:
            return error

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = {pool.submit(work, remote): remote for remote in todo}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future].name] = future.result()
    except KeyboardInterrupt:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
        progress.finish()
        raise
    finally:
        pool.shutdown(wait=True)
    progress.finish()
    for remote in todo:
        outcome = results.get(remote.name)
        if outcome is _FATAL:
            continue  # reported once, below
        if isinstance(outcome, BucketError):
            report.errors.append(str(outcome))
        elif outcome is None:
            report.not_attempted += 1
        else:
            report.files.append(paths[remote.name])
            status, fetched = outcome
            report.bytes_fetched += fetched
            if status == "verified":
                report.verified += 1
            else:
                report.downloaded += 1
                report.resumed += status == "resumed"
                report.repaired += status == "repaired"
    if fatal:
        # Workers that failed at the same moment failed for the same reason: say it once.
        left = len(fatal) - 1 + report.not_attempted
        left = f"; {plural(left, 'other file')} not downloaded" if left else ""
        report.errors.insert(0, f"{fatal[0]}{left} (run the same command again to resume)")
    return report


def _fetch(remote, path, client, retry, progress, abort, verify):
    """Make `path` a verified copy of `remote`: ('verified'|'downloaded'|'resumed'|'repaired', bytes)."""
    label = f"gs://{remote.bucket}/{remote.name}"
    status = "downloaded"
    if os.path.exists(path):
        if not verify and _sidecar_vouches(path, remote):
            progress.advance(remote.size)
            return "verified", 0
        if os.path.getsize(path) == remote.size:
            hasher = hash_file(path, Hasher(remote), abort=abort)
            if hasher.matches():
                _write_sidecar(path, remote)
                progress.advance(remote.size)
                return "verified", 0
            what = f"{hasher.algorithm} {hasher.value()}, the bucket says {hasher.expected}"
        else:
            what = f"{os.path.getsize(path):,} bytes, the bucket says {remote.size:,}"
        progress.message(f"{path}: local copy does not match {label} ({what}); downloading it again")
        _remove(sidecar_path(path))
        _remove(path)
        status = "repaired"
    _remove(sidecar_path(path))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as error:
        raise _fatal_os_error(error, os.path.dirname(path)) from None
    part = path + PART_SUFFIX
    hasher, fetched, resumed_from = _fetch_part(remote, part, client, retry, progress, abort, label)
    if not hasher.matches() and resumed_from:
        # The partial file came from an earlier run: it may be stale (the
        # object was replaced) or damaged. Start once more from the first byte.
        progress.message(f"{label}: resumed download failed verification; downloading it again from the start")
        _remove(part)
        hasher, more, _ = _fetch_part(remote, part, client, retry, progress, abort, label)
        fetched += more
    if not hasher.matches():
        _remove(part)
        raise BucketError(
            f"{label}: downloaded data does not match the object's {hasher.algorithm} "
            f"({hasher.value()}, expected {hasher.expected}); the file was discarded"
        )
    os.replace(part, path)
    _write_sidecar(path, remote)
    if status == "downloaded" and resumed_from:
        status = "resumed"
    return status, fetched


def _open_part(part, remote, label):
    """The .part file, open for appending and locked against a second downloader.

    Returns (handle, bytes already there). A part longer than the object
    cannot be its beginning: it is emptied.
    """
    try:
        handle = open(part, "ab")
    except OSError as error:
        raise _fatal_os_error(error, part) from None
    try:
        _lock(handle, part, label)
        size = os.fstat(handle.fileno()).st_size
        if size > remote.size:
            handle.truncate(0)
            size = 0
    except BaseException:
        handle.close()
        raise
    return handle, size


def _lock(handle, part, label):
    """Two runs appending to one .part would interleave their bytes."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one run at a time, please
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise BucketError(f"{label}: another download is writing {part}; let it finish") from None


def _fetch_part(remote, part, client, retry, progress, abort, label):
    """Append the object's missing bytes to `part`.

    Returns (hasher over the whole part, bytes fetched, bytes that were there).
    """
    handle, offset = _open_part(part, remote, label)
    hasher = Hasher(remote)
    if offset:
        # The bytes already there count towards the checksum and the bar.
        try:
            hash_file(part, hasher, on_bytes=progress.advance, abort=abort)
        except BaseException:
            handle.close()
            raise
    writer = _PartWriter(handle, part, hasher, progress, abort)
    try:
        while offset + writer.count < remote.size:
            before = writer.count
            blob = client().bucket(remote.bucket).blob(remote.name, generation=remote.generation)
            try:
                blob.download_to_file(
                    writer,
                    start=offset + writer.count or None,
                    raw_download=True,
                    checksum=None,  # verified here, over the whole file, resumed or not
                    retry=retry,
                    timeout=REQUEST_TIMEOUT,
                )
            except (_Aborted, BucketError):
                raise
            except Exception as error:
                if writer.count > before and (_is_transient(error) or isinstance(error, OSError)):
                    continue  # the retries ran out, but bytes came: resume from the new end
                raise _classify(error, label, client()) from None
            if writer.count == before:
                break  # nothing more came: the size check below explains
        # On disk before it is renamed and recorded as verified.
        handle.flush()
        os.fsync(handle.fileno())
    except OSError as error:
        raise _fatal_os_error(error, part) from None
    finally:
        handle.close()
    got = offset + writer.count
    if got != remote.size:
        raise BucketError(f"{label}: got {got:,} bytes, the object has {remote.size:,}; run again to resume")
    return hasher, writer.count, offset


# --- Errors ----------------------------------------------------------------------


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _fatal_os_error(error, path):
    return _Fatal(f"cannot write {path}: {error.strerror or error}")


def _is_transient(error):
    if isinstance(error, api_exceptions.RetryError):
        return True
    try:
        return bool(_storage_retry.DEFAULT_RETRY._predicate(error))
    except Exception:  # pragma: no cover
        return False


def _network_reason(error):
    """A short reason from the long exception texts requests and urllib3 build."""
    text = str(error)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("getaddrinfo failed", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("timed out", "timed out"),
        ("Connection reset", "connection reset"),
        ("Connection aborted", "connection closed by the server"),
        ("RemoteDisconnected", "connection closed by the server"),
        ("IncompleteRead", "connection closed mid-transfer"),
        ("Network is unreachable", "network unreachable"),
    ):
        if needle in text:
            return reason
    return _first_line(error)


def _classify(error, what, client):
    """A BucketError (or _Fatal) naming what failed, from a library exception."""
    message = describe(error, what, client)
    cause = error.cause if isinstance(error, api_exceptions.RetryError) else error
    if isinstance(cause, api_exceptions.NotFound):
        return BucketError(message)
    if isinstance(error, api_exceptions.RetryError) or _is_transient(cause) or isinstance(
        cause, (api_exceptions.Forbidden, api_exceptions.Unauthorized)
    ):
        return _Fatal(message)
    return BucketError(message)


def describe(error, what, client=None):
    """One line saying what failed and why, for any exception the client raises."""
    retried = ""
    if isinstance(error, api_exceptions.RetryError):
        retried = "; gave up after retrying"
        error = error.cause or error
    where = endpoint(client) if client is not None else "the server"
    if isinstance(error, api_exceptions.NotFound):
        return f"{what}: not found (the object is gone or was replaced; list again)"
    if isinstance(error, (api_exceptions.Forbidden, api_exceptions.Unauthorized)):
        return (
            f"{what}: permission denied ({error.code}); the bucket is not public to this "
            "account: give --credentials FILE, or --credentials default for application "
            "default credentials"
        )
    if isinstance(error, api_exceptions.GoogleAPICallError):
        return f"{what}: the server answered {error.code} {_first_line(error.message)}{retried}"
    if _is_transient(error) or isinstance(error, OSError):
        return f"{what}: cannot reach {where} ({_network_reason(error)}){retried}"
    from google.auth import exceptions as auth_exceptions

    if isinstance(error, auth_exceptions.GoogleAuthError):
        return f"{what}: credentials rejected ({_first_line(error)})"
    return f"{what}: {type(error).__name__}: {_first_line(error)}{retried}"
