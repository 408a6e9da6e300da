"""The package as a user installs it: `pip wheel --no-deps .` builds the
wheel, a fresh virtual environment installs it (and its dependencies, from
PyPI or pip's cache, with the Datasette version under test), and from that
environment alone `datasette-tei build --demo` makes a database of any name
that `datasette serve` with no option serves with the plugin's pages,
queries, settings and static files. The wheel is installed as the README's
`datasette publish ... --static wheels:dist --install wheels/<wheel>` has
Datasette's Dockerfile install it (no Docker here: the same pip command, in
the folder Datasette prepares for the image).

Needs PyPI (or a pip cache holding the dependencies): deselect it offline
with `-m "not wheel"`. About 40 s, most of it the installation."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.request

import datasette
import pytest
from datasette.utils import temporary_docker_directory, tilde_encode

from helpers import free_port

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.wheel


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as response:
        return response.status, response.read().decode("utf-8")


def test_the_wheel_installs_and_serves(tmp_path, demo_db):
    # From a copy of the sources: a build/ folder left in the tree would
    # hand the wheel files that MANIFEST.in no longer lists.
    source = tmp_path / "source"
    patterns = shutil.ignore_patterns(
        ".git", ".venv*", "dist", "*.egg-info", "test-output", "bench-data", "*.db", "__pycache__")

    def ignore(folder, names):
        # The top folder's build/ only: datasette_tei/build is the package's build side.
        top = {"build"} & set(names) if pathlib.Path(folder) == ROOT else set()
        return set(patterns(folder, names)) | top

    shutil.copytree(ROOT, source, ignore=ignore)
    wheels = tmp_path / "wheels"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)])
    [wheel] = wheels.glob("datasette_tei-*.whl")

    # Nothing of the source tree or of this environment may leak in.
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    venv = tmp_path / "fresh"
    run([sys.executable, "-m", "venv", str(venv)], env=env)
    bin_dir = venv / "bin"
    # As the README's publish command has Datasette build its image: the
    # wheel folder copied in as a static mount, and installed from there.
    with temporary_docker_directory(
        files=[demo_db], name="tei", metadata=None, extra_options=None, branch=None,
        template_dir=None, plugins_dir=None, static=[("wheels", str(wheels))],
        install=[f"wheels/{wheel.name}"], spatialite=False, version_note=None, secret="x",
    ) as context:
        dockerfile = (pathlib.Path(context) / "Dockerfile").read_text()
        [line] = [line for line in dockerfile.splitlines() if line.startswith("RUN pip install")]
        assert line.split()[-1] == f"wheels/{wheel.name}", dockerfile
        run([str(bin_dir / "pip"), "install", "-q", "--disable-pip-version-check",
             f"wheels/{wheel.name}", f"datasette=={datasette.__version__}"], env=env, cwd=context)
    where = run([str(bin_dir / "python"), "-c", "import datasette_tei; print(datasette_tei.__file__)"],
                env=env, cwd=tmp_path).strip()
    assert where.startswith(str(venv)), where

    db = tmp_path / "any name.db"
    run([str(bin_dir / "datasette-tei"), "build", str(db), "--demo"], env=env, cwd=tmp_path)

    port = free_port()
    process = subprocess.Popen(
        [str(bin_dir / "datasette"), "serve", str(db), "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    name = tilde_encode("any name")
    try:
        for _ in range(300):
            try:
                get(base, "/-/versions.json")
                break
            except OSError:
                if process.poll() is not None:
                    raise AssertionError(process.stdout.read().decode())
                time.sleep(0.1)
        status, body = get(base, "/-/plugins.json")
        assert any(p["name"] == "datasette-tei" or p["name"] == "datasette_tei"
                   for p in json.loads(body)), body
        status, body = get(base, "/-/tei.json")
        assert status == 200 and len(json.loads(body)["campaigns"]) == 3
        status, body = get(base, f"/{name}/tweets.json?_extra=facet_results&_shape=objects&_size=1")
        results = json.loads(body)["facet_results"]
        results = results.get("results", results)
        assert {"campaign", "tweet_language", "hashtags"} <= set(results)
        status, body = get(base, f"/{name}/top_hashtags.json?campaign=&_shape=array")
        assert status == 200 and json.loads(body)
        status, body = get(base, f"/{name}/top_hashtags")
        assert "<title>Top hashtags" in body
        status, body = get(base, "/-/static-plugins/datasette_tei/tei.css")
        assert status == 200 and ".tei-card" in body
    finally:
        process.terminate()
        process.wait(10)
