"""The `datasette-tei` command: a thin layer over the library modules."""
import json
import os
import sys
import time

import click

from .build import archives, load, target
from .build import bucket as bucket_mod

DEMO_DIR = os.path.join(os.path.dirname(__file__), "demo")


class BarProgress(load.NullProgress):
    """Bytes-based progress bar on stderr, with rows and rows/s beside it."""

    label = "Loading"

    def __init__(self):
        self.bar = None
        self.total_rows = 0
        self.started = time.monotonic()

    def start(self, total_bytes):
        self.started = time.monotonic()
        self.bar = click.progressbar(
            length=max(total_bytes, 1),
            label=self.label,
            file=sys.stderr,
            show_pos=False,
            item_show_func=lambda _: self._rate(),
            width=30,
        )
        self.bar.__enter__()

    def _rate(self):
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return f"{self.total_rows:,} rows, {self.total_rows / elapsed:,.0f} rows/s"

    def advance(self, nbytes):
        if self.bar is not None:
            self.bar.update(nbytes, current_item=True)

    def rows(self, nrows):
        self.total_rows += nrows

    def message(self, text):
        click.echo(text, err=True)

    def finish(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.group()
@click.version_option(package_name="datasette-tei")
def cli():
    """Build and explore a database of Twitter's election-integrity archives."""


@cli.command()
# A plain string: the library names what is wrong with the path in one line
# (a folder, a foreign or read-only file), where click would print its usage.
@click.argument("database")
@click.argument("sources", nargs=-1)
@click.option("--demo", is_flag=True, help="Build the bundled synthetic sample.")
@click.option("--campaign", help="Name the campaign of every source, instead of reading it from names. "
              "With gs:// sources: a glob choosing the campaigns to download and build.")
@click.option("--strict", is_flag=True, help="A rejected row fails its archive (exit status 1).")
@click.option("--silent", is_flag=True, help="No progress bars.")
@click.option("--cache-dir", type=click.Path(file_okay=False),
              help="Where gs:// sources are downloaded (default: ~/.cache/datasette-tei).")
@click.option("--media", is_flag=True,
              help="With gs:// sources: also download the media archives (hundreds of GB in all) "
                   "and index their members. Media archives among local SOURCES are always indexed.")
def build(database, sources, demo, campaign, strict, silent, cache_dir, media):
    """Convert TEI archives into one SQLite DATABASE.

    SOURCES are .zip, .csv or .csv.gz files, or folders searched
    recursively (a bucket mirror, a flat folder, console-flattened names),
    or gs://BUCKET/PREFIX URLs: downloaded and verified into --cache-dir
    first (credentials from DATASETTE_TEI_CREDENTIALS, if set).

    Exit status: 0 when every archive was read (rejected rows are reported
    and kept in the rejects table); 1 when an archive or member could not be
    read (the others are loaded), or with --strict a row was rejected;
    2 for bad usage.
    """
    sources = list(sources)
    if demo:
        sources.append(DEMO_DIR)
    if not sources:
        raise click.UsageError("give at least one SOURCE, or --demo")
    if any(bucket_mod.is_gs_url(source) for source in sources):
        try:  # before downloading what could not be built
            target.check(database)
            target.BuildLock(database).acquire().release()  # no other build at work on it
        except target.TargetError as error:
            raise click.ClickException(str(error)) from None
        sources, campaign = _fetch_gs_sources(sources, campaign, cache_dir, silent, media), None
    progress = load.NullProgress() if silent else BarProgress()
    try:
        report = load.build(database, sources, campaign=campaign, strict=strict, progress=progress)
    except load.BuildError as error:
        raise click.ClickException(str(error)) from None
    except KeyboardInterrupt:
        progress.finish()
        click.echo(
            "Interrupted: archives already committed are kept, the one in progress was "
            "rolled back. Run the same command again to finish.",
            err=True,
        )
        sys.exit(130)
    _print_summary(report)
    if not report.ok:
        sys.exit(1)


def _print_summary(report):
    if not report.campaigns and not report.errors:
        click.echo("Nothing to load.", err=True)
    rows = [("campaign", "tweets", "users", "rejected", "duplicates", "members")]
    for name in sorted(report.campaigns):
        c = report.campaigns[name]
        rows.append((name, f"{c.tweets:,}", f"{c.users:,}", f"{c.rejected:,}", f"{c.duplicates:,}",
                     ", ".join(part for part in (
                         f"{c.skipped_members} unchanged" if c.skipped_members else "",
                         f"{c.replaced_members} replaced" if c.replaced_members else "") if part)))
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(value.ljust(width) if i == 0 else value.rjust(width)
                                 for i, (value, width) in enumerate(zip(row, widths))).rstrip(),
                       err=True)
    if report.rejected:
        click.echo(f"{report.rejected:,} rows rejected (in the rejects table, up to {load.MAX_REJECTS_LISTED:,} "
                   "an archive):", err=True)
        for sample in report.reject_samples:
            click.echo(f"  {sample}", err=True)
        if report.rejected > len(report.reject_samples):
            click.echo(f"  ... and {report.rejected - len(report.reject_samples):,} more", err=True)
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)


# --- The bucket: list, download, and gs:// sources for build -----------------

_CREDENTIALS_HELP = (
    "A JSON key file for a private copy of the bucket, or 'default' for application "
    "default credentials. Anonymous access otherwise (the TEI bucket is public)."
)
_RETRY_HELP = "Seconds to keep retrying timeouts, 429, 5xx and refused connections before giving up."


class DownloadBar(BarProgress):
    """Total bytes on stderr, with the transfer rate beside the bar."""

    label = "Downloading"

    def start(self, total_bytes):
        self.total = total_bytes
        self.done = 0
        self.network = 0
        super().start(total_bytes)

    def _rate(self):
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (f"{bucket_mod.human_size(self.done)} of {bucket_mod.human_size(self.total)}, "
                f"{bucket_mod.human_size(self.network / elapsed)}/s")

    def advance(self, nbytes):
        self.done += nbytes
        super().advance(nbytes)

    def fetched(self, nbytes):
        self.network += nbytes


class _QuietDownload(bucket_mod.DownloadProgress):
    """--silent: no bar, but what needs saying (a corrupt file re-fetched) is said."""

    def message(self, text):
        click.echo(text, err=True)


def _bucket_options(function):
    function = click.option("--retry-timeout", type=click.FloatRange(0), metavar="SECONDS",
                            default=bucket_mod.DEFAULT_RETRY_TIMEOUT, show_default=True,
                            help=_RETRY_HELP)(function)
    function = click.option("--credentials", metavar="FILE", envvar="DATASETTE_TEI_CREDENTIALS",
                            help=_CREDENTIALS_HELP)(function)
    function = click.option("--campaign", "campaigns", multiple=True, metavar="GLOB",
                            help="Only campaigns matching this glob (case-sensitive; repeatable); "
                                 "'2019_01/*' matches a release folder.")(function)
    return function


def _listing(url, credentials, retry_timeout):
    try:
        client = bucket_mod.make_client(credentials)
        return bucket_mod.list_files(client, url, retry_timeout=retry_timeout)
    except bucket_mod.BucketError as error:
        raise click.ClickException(str(error)) from None


@cli.command("list")
@click.argument("url", default=bucket_mod.DEFAULT_URL, metavar="[gs://BUCKET/PREFIX]")
@_bucket_options
@click.option("--media", is_flag=True, help="List media archives one by one (their total per campaign is always shown).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
def list_command(url, campaigns, credentials, retry_timeout, media, as_json):
    """List the release folders, campaigns, files and sizes under a gs:// URL.

    The default URL is the public TEI bucket, gs://twitter-election-integrity/hashed/.
    """
    files = _listing(url, credentials, retry_timeout)
    summary = bucket_mod.summarize(url, files, campaigns=campaigns, media=media)
    if campaigns and not summary["campaigns_count"]:
        raise click.ClickException(f"{url}: no campaign matches {', '.join(campaigns)}")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(bucket_mod.render(summary, media=media))


@cli.command()
@click.argument("dest", type=click.Path(file_okay=False))
@click.argument("url", default=bucket_mod.DEFAULT_URL, metavar="[gs://BUCKET/PREFIX]")
@_bucket_options
@click.option("--media", is_flag=True, help="Also download the media archives (hundreds of GB in all).")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Files downloaded at once.")
@click.option("--verify", is_flag=True,
              help="Re-read every local file and check it against the bucket, even those verified before.")
@click.option("--silent", is_flag=True, help="No progress bar.")
def download(dest, url, campaigns, credentials, retry_timeout, media, workers, verify, silent):
    """Mirror the archives under a gs:// URL into DEST, verified and resumable.

    Files keep their object paths (DEST/hashed/2019_01/...). Each is checked
    against the object's CRC32C (or MD5) before it counts; a second run
    skips verified files and resumes partial ones (DEST/....part).

    Exit status: 0 when every file is verified; 1 when a file could not be
    downloaded or verified, or the bucket could not be read; 130 when
    interrupted (run again to resume).
    """
    report = _download(dest, url, campaigns, credentials, retry_timeout, media, workers, verify, silent)
    _print_download(report, dest)
    if not report.ok:
        sys.exit(1)


def _download(dest, url, campaigns, credentials, retry_timeout, media, workers=4, verify=False, silent=False):
    files = _listing(url, credentials, retry_timeout)
    chosen = bucket_mod.select(files, campaigns=campaigns, media=media)
    if not chosen:
        what = f"campaign {', '.join(campaigns)}" if campaigns else "data file (only media; add --media)"
        raise click.ClickException(f"{url}: no {what} to download")
    progress = _QuietDownload() if silent else DownloadBar()
    try:
        return bucket_mod.download(
            chosen,
            dest,
            client_factory=lambda: bucket_mod.make_client(credentials),
            workers=workers,
            progress=progress,
            retry_timeout=retry_timeout,
            verify=verify,
        )
    except KeyboardInterrupt:
        progress.finish()
        click.echo("Interrupted: partial files are kept; run the same command again to resume.", err=True)
        sys.exit(130)


def _print_download(report, dest):
    parts = [f"{report.downloaded} downloaded ({bucket_mod.human_size(report.bytes_fetched)})"]
    if report.resumed:
        parts.append(f"{report.resumed} resumed")
    if report.repaired:
        parts.append(f"{report.repaired} repaired")
    parts.append(f"{report.verified} already verified")
    if report.errors:
        parts.append(f"{len(report.errors)} failed")
    click.echo(f"{dest}: " + ", ".join(parts) + ".", err=True)
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)


def _fetch_gs_sources(sources, campaign, cache_dir, silent, media=False):
    """build with gs:// sources: download them into the cache, verified.

    Returns the local sources to build from: the verified files of each
    gs:// source (not the whole cache, which may hold other campaigns), and
    the other sources unchanged. --campaign is then a glob choosing the
    campaigns to fetch, not a name, so it cannot be mixed with local sources.
    """
    remote = [source for source in sources if bucket_mod.is_gs_url(source)]
    if campaign and len(remote) != len(sources):
        raise click.UsageError(
            "--campaign chooses campaigns of gs:// sources; build local sources in a separate run")
    cache_dir = cache_dir or bucket_mod.default_cache_dir()
    credentials = os.environ.get("DATASETTE_TEI_CREDENTIALS")
    local = []
    for source in sources:
        if not bucket_mod.is_gs_url(source):
            local.append(source)
            continue
        try:
            bucket_name, _ = bucket_mod.parse_url(source)
        except bucket_mod.BucketError as error:
            raise click.ClickException(str(error)) from None
        dest = os.path.join(cache_dir, bucket_name)
        report = _download(dest, source, (campaign,) if campaign else (), credentials,
                           bucket_mod.DEFAULT_RETRY_TIMEOUT, media=media, silent=silent)
        _print_download(report, dest)
        if not report.ok:
            click.echo("Nothing was built: run the same command again to resume the download.", err=True)
            sys.exit(1)
        # Only what build reads: a release README is mirrored, not loaded.
        local.extend(path for path in report.files if path.lower().endswith(archives.DATA_SUFFIXES))
    return local


# --- Coordination networks -------------------------------------------------------

from .build import coordination  # noqa: E402  (here, beside its only command)


@cli.command()
@click.argument("database", type=click.Path(dir_okay=False))
@click.option("--kind", "kinds", multiple=True, type=click.Choice(list(coordination.KINDS)),
              help="Network kind (repeatable). Default: the build's kinds, "
                   f"{', '.join(coordination.DEFAULT_KINDS)}.")
@click.option("--window", type=click.IntRange(0, coordination.MAX_WINDOW), default=coordination.DEFAULT_WINDOW,
              show_default=True, metavar="MINUTES",
              help="Tweets at most this many minutes apart match (1: the same or the next minute).")
@click.option("--min-weight", type=click.IntRange(1), metavar="N",
              help="Keep edges of at least N matching tweets "
                   f"(default: {coordination.KINDS['co_retweet'].min_weight}; co_hashtag "
                   f"{coordination.KINDS['co_hashtag'].min_weight}).")
@click.option("--campaign", default=coordination.DEFAULT_SCOPE, show_default=True, metavar="GLOB",
              help="Only the tweets of campaigns matching this glob ('*': all campaigns together).")
@click.option("--silent", is_flag=True, help="Print nothing but errors.")
def coordinate(database, kinds, window, min_weight, campaign, silent):
    """Compute coordination networks with other parameters than the build's.

    Each parameter set is a run (coordination_runs); computing one again
    replaces that run alone, in one transaction. Later builds keep every run
    up to date as archives are added. docs/coordination.md has the
    definitions and the tables.
    """
    try:
        specs = [coordination.RunSpec(kind, window, min_weight, campaign)
                 for kind in kinds or coordination.DEFAULT_KINDS]
        rows = coordination.coordinate(database, specs,
                                       progress=None if silent else _MessageProgress())
    except coordination.CoordinationError as error:
        raise click.ClickException(str(error)) from None
    if not silent:
        _print_runs(rows)


class _MessageProgress(load.NullProgress):
    def message(self, text):
        click.echo(text, err=True)


def _print_runs(rows):
    table = [("run", "kind", "window", "min weight", "campaigns", "edges", "accounts", "groups", "seconds")]
    for row in rows:
        table.append((str(row["id"]), row["kind"], str(row["window_minutes"]), str(row["min_weight"]),
                      row["scope"], f"{row['edge_count']:,}", f"{row['account_count']:,}",
                      f"{row['group_count']:,}", f"{row['seconds']:.1f}"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(value.ljust(width) if i in (1, 4) else value.rjust(width)
                             for i, (value, width) in enumerate(zip(row, widths))).rstrip())
