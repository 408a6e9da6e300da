"""The CLI's start-up: a command imports only what it uses. A command that
does not read a bucket does not import the Google Cloud client (a third of
a second of every command); none imports Datasette (a fifth of a second),
igraph or networkx until it needs them, while Datasette still finds every
hook, template and static file of the plugin."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          check=True).stdout


def test_the_cli_imports_the_cloud_client_only_when_it_is_used():
    out = run_python(
        "import sys, datasette_tei.cli, datasette_tei.build.bucket as b\n"
        "print('google.cloud.storage' in sys.modules)\n"
        "b.make_retry(1)\n"
        "print('google.cloud.storage' in sys.modules)\n"
    )
    assert out.split() == ["False", "True"]


def test_the_cli_does_not_import_datasette_or_the_graph_libraries():
    out = run_python(
        "import sys, json, datasette_tei.cli, datasette_tei.build.coordination, datasette_tei.build.groups\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('datasette', 'igraph', 'networkx', 'jinja2'))))\n"
    )
    assert json.loads(out) == []


def test_build_and_coordinate_do_not_import_datasette(tmp_path):
    # The whole commands, not only their imports: igraph, which finds the
    # groups, is the one library of the three they use.
    db = str(tmp_path / "demo.db")
    out = run_python(
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from datasette_tei.cli import cli\n"
        f"for args in (['build', {db!r}, '--demo', '--silent'],\n"
        f"             ['coordinate', {db!r}, '--kind', 'co_link', '--window', '2', '--silent']):\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'datasette', 'igraph', 'networkx'})))\n"
    )
    assert json.loads(out) == ["igraph"]


def test_datasette_imported_after_the_cli_finds_the_whole_plugin():
    # The command line imports the package first; Datasette, loading its
    # plugins afterwards, gets the same module and must find every hook of
    # plugin.py and the package's templates and static files.
    out = run_python(
        "import json, datasette_tei.cli\n"
        "from datasette.plugins import pm, get_plugins\n"
        "from datasette_tei.serve import plugin\n"
        "tei = pm.get_plugin('tei')\n"
        "names = sorted({i.function.__name__ for c in pm.get_hookcallers(tei) for i in c.get_hookimpls()\n"
        "                if i.plugin is tei})\n"
        "[info] = [p for p in get_plugins() if p['name'] in ('datasette-tei', 'datasette_tei')]\n"
        "print(json.dumps({'registered': names, 'hooks': sorted(plugin.hooks()),\n"
        "                  'static': info['static_path'], 'templates': info['templates_path']}))\n"
    )
    found = json.loads(out)
    assert found["registered"] == found["hooks"]
    assert {"startup", "render_cell", "register_routes", "prepare_connection"} <= set(found["hooks"])
    package = os.path.join(ROOT, "datasette_tei")
    assert found["static"] == os.path.join(package, "static")
    assert found["templates"] == os.path.join(package, "templates")
