"""Fixtures shared by every test module.

Stage-specific fixtures live in their own test modules; this file holds only
what several stages need: a built demo database and a fresh database path.
"""
import pytest

from datasette_tei.build import load
from datasette_tei.cli import DEMO_DIR


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    """The bundled demo sample, built once per test session. Do not modify."""
    path = str(tmp_path_factory.mktemp("demo") / "demo.db")
    report = load.build(path, [DEMO_DIR])
    assert report.ok, report.errors
    return path


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "tei.db")
