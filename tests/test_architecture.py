"""The dependency order of docs/architecture.md, read from the code's own imports.

Every import counts, also one inside a function: a lazy import still ties two modules.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each app may import only from the apps before it (and from config's helpers).
ORDER = ["accounts", "teams", "billing", "apikeys", "pricing", "usage"]
# The project's wiring, which alone may import from every app.
CONFIG_WIRING = {"config.settings", "config.urls", "config.views", "config.celery"}


def _modules():
    """{dotted name: path} of every module of the apps and config."""
    modules = {}
    for package in ORDER + ["config"]:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _imports(path, modules):
    """The project modules that the file at `path` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from pricing import catalog` imports the module pricing.catalog.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _app(module):
    return module.partition(".")[0]


def test_apps_import_only_the_apps_before_them_and_configs_helpers():
    wrong = []
    for module, imported in _graph().items():
        for target in imported:
            if _app(module) in ORDER and _app(target) in ORDER:
                if ORDER.index(_app(target)) > ORDER.index(_app(module)):
                    wrong.append(f"{module} -> {target}")
            elif _app(module) in ORDER and target in CONFIG_WIRING:
                wrong.append(f"{module} -> {target}")
            elif _app(module) == "config" and _app(target) in ORDER and module not in CONFIG_WIRING:
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports against docs/architecture.md's order: " + ", ".join(sorted(wrong))


def test_no_two_modules_import_each_other_even_through_others():
    graph = _graph()
    circles = []
    state = {}  # module -> "open" while on the path, "done" after

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == [], "import circles: " + "; ".join(circles)


def test_the_checks_see_an_import_inside_a_function(tmp_path):
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from billing.closing import cycle_close\n")
    assert _imports(module, _modules()) == {"billing.closing"}
