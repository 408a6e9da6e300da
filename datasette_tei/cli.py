"""The `datasette-tei` command: a thin layer over the library modules."""
import os
import sys
import time

import click

from . import load

DEMO_DIR = os.path.join(os.path.dirname(__file__), "demo")


class BarProgress(load.NullProgress):
    """Bytes-based progress bar on stderr, with rows and rows/s beside it."""

    def __init__(self):
        self.bar = None
        self.total_rows = 0
        self.started = time.monotonic()

    def start(self, total_bytes):
        self.started = time.monotonic()
        self.bar = click.progressbar(
            length=max(total_bytes, 1),
            label="Loading",
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
@click.argument("database", type=click.Path(dir_okay=False))
@click.argument("sources", nargs=-1)
@click.option("--demo", is_flag=True, help="Build the bundled synthetic sample.")
@click.option("--campaign", help="Name the campaign of every source, instead of reading it from names.")
@click.option("--strict", is_flag=True, help="A rejected row fails its archive (exit status 1).")
@click.option("--silent", is_flag=True, help="No progress bars.")
def build(database, sources, demo, campaign, strict, silent):
    """Convert TEI archives into one SQLite DATABASE.

    SOURCES are .zip, .csv or .csv.gz files, or folders searched
    recursively (a bucket mirror, a flat folder, console-flattened names).

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
    rows = [("campaign", "tweets", "users", "rejected", "duplicates", "skipped")]
    for name in sorted(report.campaigns):
        c = report.campaigns[name]
        rows.append((name, f"{c.tweets:,}", f"{c.users:,}", f"{c.rejected:,}", f"{c.duplicates:,}",
                     f"{c.skipped_members} unchanged" if c.skipped_members else ""))
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(value.ljust(width) if i == 0 else value.rjust(width)
                                 for i, (value, width) in enumerate(zip(row, widths))).rstrip(),
                       err=True)
    if report.rejected:
        click.echo(f"{report.rejected:,} rows rejected: see the rejects table for file, line and reason.",
                   err=True)
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)
