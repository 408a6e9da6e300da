"""What the browser tests share: Debian's Chromium through Playwright
(never a browser download), skipped with the reason where it cannot be had
(no root to install it); CI sets TEI_REQUIRE_BROWSER=1, where a missing
browser fails instead. Import it first in a browser test module."""
import contextlib
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

CHROMIUM = os.environ.get("TEI_CHROMIUM", "/usr/bin/chromium")  # for testing the skip
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

_MISSING = None
try:
    import playwright.sync_api as playwright_api
except ImportError:
    playwright_api = None
    _MISSING = "Playwright is not installed: pip install -e '.[test]'"
if _MISSING is None and not pathlib.Path(CHROMIUM).exists():
    _MISSING = (f"Debian's Chromium is not installed at {CHROMIUM}: run "
                "`sudo apt-get install chromium` (or `make browser` as root)")


def skip_without_browser():
    """Call at a browser test module's top."""
    if _MISSING:
        if os.environ.get("TEI_REQUIRE_BROWSER"):
            raise RuntimeError(f"TEI_REQUIRE_BROWSER is set but {_MISSING}")
        pytest.skip(_MISSING, allow_module_level=True)


def start_datasette(args, port):
    """`datasette serve ARGS` of this Python's Datasette line, once it answers.
    Its log goes to a file: a pipe nobody reads fills after a few hundred
    requests, and the server then stops answering."""
    bin_dir = pathlib.Path(sys.executable).parent
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([str(bin_dir / "datasette"), "serve", *args, "--host", "127.0.0.1",
                                "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=1)
            return process, base
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(log.read().decode())
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("datasette serve did not start")


@contextlib.contextmanager
def serving(args, port):
    """start_datasette(), stopped when the block ends."""
    process, base = start_datasette(args, port)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def chromium():
    """Debian's Chromium, headless, through Playwright."""
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
