"""The CLI's start-up: a command that does not read a bucket does not
import the Google Cloud client (a third of a second of every command)."""
import os
import subprocess
import sys


def test_the_cli_imports_the_cloud_client_only_when_it_is_used():
    code = (
        "import sys, datasette_tei.cli, datasette_tei.bucket as b\n"
        "print('google.cloud.storage' in sys.modules)\n"
        "b.make_retry(1)\n"
        "print('google.cloud.storage' in sys.modules)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["False", "True"]
