"""The package's layering, read from its source (every import statement,
including those inside functions, as each runs sooner or later):

- the build side (datasette_tei/build/) never imports the serving side
  (datasette_tei/serve/), neither directly nor through the modules both
  sides share: the command line must not need Datasette's plugin, and the
  serving side may change without touching the build;
- no import cycles among the package's modules.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "datasette_tei"


def module_names(root=ROOT):
    """Dotted module name -> source path, for every module of the package
    (a sub-package is its __init__)."""
    names = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports(name, source, modules):
    """The package's modules that module `name` imports, whatever the form:
    `import a.b`, `from a import b` (b a module, else a's __init__) and
    relative imports at any level."""
    is_package = source.name == "__init__.py"
    found = set()

    def add(dotted, names=()):
        for alias in names:
            if f"{dotted}.{alias}" in modules:
                found.add(f"{dotted}.{alias}")
            elif dotted in modules:
                found.add(dotted)
        if not names and dotted in modules:
            found.add(dotted)

    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                base = package[:len(package) - (node.level - 1)]
                dotted = ".".join(base + ([node.module] if node.module else []))
            else:
                dotted = node.module
            add(dotted, [alias.name for alias in node.names])
    found.discard(name)
    return found


def import_graph(root=ROOT):
    modules = module_names(root)
    return {name: imports(name, path, modules) for name, path in modules.items()}


def side_violations(graph):
    return sorted(
        f"{name} imports {target}"
        for name, targets in graph.items() if name.startswith(f"{PACKAGE}.build.")
        for target in targets if target == f"{PACKAGE}.serve" or target.startswith(f"{PACKAGE}.serve.")
    )


def reached_serving_side(graph):
    """For the command line and each build module, the serving modules that
    importing it imports, through any chain of imports."""
    found = {}
    for start in sorted(graph):
        if start != f"{PACKAGE}.cli" and not start.startswith(f"{PACKAGE}.build."):
            continue
        seen, todo = set(), [start]
        while todo:
            for target in graph[todo.pop()]:
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        serving = sorted(m for m in seen if m.startswith(f"{PACKAGE}.serve"))
        if serving:
            found[start] = serving
    return found


def cycles(graph):
    """Each strongly connected group of two or more modules (Tarjan's
    algorithm), as a sorted list."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_package_has_both_sides():
    graph = import_graph()
    build = [name for name in graph if name.startswith(f"{PACKAGE}.build.")]
    serve = [name for name in graph if name.startswith(f"{PACKAGE}.serve.")]
    assert f"{PACKAGE}.build.load" in build and f"{PACKAGE}.serve.plugin" in serve
    # What the rules below read must be there: the build's known imports.
    assert f"{PACKAGE}.build.finish" in graph[f"{PACKAGE}.build.load"]
    assert f"{PACKAGE}.schema" in graph[f"{PACKAGE}.build.load"]
    assert f"{PACKAGE}.serve.plugin" in graph[PACKAGE]


def test_the_build_side_never_imports_the_serving_side():
    assert side_violations(import_graph()) == []


def test_the_command_line_and_the_build_never_reach_the_serving_side():
    assert reached_serving_side(import_graph()) == {}


def test_no_import_cycles():
    assert cycles(import_graph()) == []


# --- The checks themselves, on a copy of the package with one import added ---

def _copy_with(tmp_path, module, line):
    import shutil

    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "demo"))
    path = tmp_path / PACKAGE / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _added():\n    {line}\n",
                    encoding="utf-8")
    return import_graph(tmp_path)


@pytest.mark.parametrize("line", [
    "from ..serve import pages",
    "from ..serve.queries import QUERIES",
    "import datasette_tei.serve.plugin",
    "from datasette_tei.serve import served as s",
])
def test_a_build_module_importing_the_serving_side_is_caught(tmp_path, line):
    assert side_violations(_copy_with(tmp_path, "build/media.py", line)) != []


def test_a_shared_module_importing_the_serving_side_is_caught(tmp_path):
    # Through summaries (shared), which load (build) and cli import.
    found = reached_serving_side(_copy_with(tmp_path, "summaries.py", "from .serve import served"))
    assert found[f"{PACKAGE}.build.load"] == [f"{PACKAGE}.serve.served"]
    assert f"{PACKAGE}.cli" in found


@pytest.mark.parametrize("module, line, members", [
    ("schema.py", "from .build import target", {"schema", "build.target"}),
    ("build/zipscan.py", "from . import archives", {"build.zipscan", "build.archives"}),
])
def test_an_import_cycle_is_caught(tmp_path, module, line, members):
    found = cycles(_copy_with(tmp_path, module, line))
    assert any({f"{PACKAGE}.{m}" for m in members} <= set(group) for group in found), found
