"""The layout's rules (docs/adr/0012): the engine's modules import each other in one direction
and never the domain; the domain and its interfaces never import the simulators or the proving
tools (they reach the simulators only by the dotted paths the settings name); no module passes
400 lines.

The import graph is read from the source, every `import` and `from ... import` counted, at the
top of a module or inside a function alike: an import moved into a function still makes a
cycle, only a later one.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DOUBLES = ("fulfillment.simulators", "fulfillment.proving")


def engine_modules() -> dict[str, Path]:
    return package_modules("processes")


def package_modules(package: str) -> dict[str, Path]:
    """Every module of a package by dotted name (a package by its own name), migrations aside."""
    modules = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported_names(name: str, path: Path) -> set[str]:
    """What the module imports, as absolute dotted names: `from a import b` gives `a.b` (which
    is the module `a.b` when there is one, else a name defined in `a`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.module, node.level)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _absolute(package: str, module: str | None, level: int) -> str:
    if not level:
        return module
    parts = package.split(".")[: len(package.split(".")) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def import_graph() -> dict[str, set[str]]:
    """Each engine module and the engine modules it imports."""
    modules = engine_modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(name, path):
            while imported and imported not in modules:  # a name inside a module: the module
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of imports as the list of modules along it (the first repeated at the end)."""
    done, path = set(), []

    def visit(module):
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module):
            return cycle
    return None


def test_the_engine_has_no_import_cycle():
    """No engine module imports, however indirectly, a module that imports it back."""
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_engine_never_imports_the_order_domain():
    """processes/ finds workflows through its registry and never imports fulfillment."""
    offenders = sorted(
        f"{name} imports {imported}"
        for name, path in engine_modules().items()
        for imported in imported_names(name, path)
        if imported == "fulfillment" or imported.startswith("fulfillment.")
    )
    assert offenders == []


def test_no_module_passes_400_lines():
    """A module that grows past about 400 lines is split by what its parts do (STYLE.md)."""
    modules = {**engine_modules(), **package_modules("fulfillment")}
    lines = {name: len(path.read_text().splitlines()) for name, path in modules.items()}
    assert {name: count for name, count in lines.items() if count > 400} == {}


def production_modules() -> dict[str, Path]:
    """The order domain and its interfaces: fulfillment/ but its simulators and proving tools."""
    return {
        name: path
        for name, path in package_modules("fulfillment").items()
        if not name.startswith(TEST_DOUBLES)
    }


@pytest.mark.parametrize("name", sorted(production_modules()))
def test_no_production_module_imports_the_simulators_or_the_proving_tools(name):
    leaks = sorted(
        imported
        for imported in imported_names(name, production_modules()[name])
        if imported.startswith(TEST_DOUBLES)
    )
    assert not leaks, f"{name} imports {', '.join(leaks)}: name it by dotted path in settings"


def test_the_engine_reads_no_setting_at_import():
    """Settings are read when used, so that `override_settings` and a deployment's values
    reach the engine: no module reads `settings.X` or the engine's `conf.get` while it is
    imported (in its body, a class body, a default argument or a decorator)."""
    offenders = sorted(
        f"{name}:{node.lineno} reads {ast.unparse(node)} at import"
        for name, path in engine_modules().items()
        for node in read_at_import(ast.parse(path.read_text()))
        if _reads_settings(node)
    )
    assert offenders == []


def read_at_import(node: ast.AST):
    """The nodes Python evaluates when the module is imported: all but function bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = child.args
            for evaluated in [*getattr(child, "decorator_list", []), *args.defaults, *args.kw_defaults]:
                if evaluated is not None:
                    yield evaluated
                    yield from read_at_import(evaluated)
            continue
        yield child
        yield from read_at_import(child)


def _reads_settings(node: ast.AST) -> bool:
    """`settings.X`, `getattr(settings, ...)` or `conf.get(...)`."""
    if isinstance(node, ast.Attribute):
        return ast.unparse(node.value) == "settings"
    if isinstance(node, ast.Call):
        called, first = ast.unparse(node.func), ast.unparse(node.args[0]) if node.args else ""
        return called == "conf.get" or (called == "getattr" and first == "settings")
    return False


def test_the_reader_counts_function_level_and_relative_imports(tmp_path):
    """The check itself: an import inside a function and a relative import are edges like any
    other, and a cycle is found and named from where it starts."""
    module = tmp_path / "a.py"
    module.write_text("def later():\n    from . import b\n    from .c import thing\n    import d.e\n")
    assert {"processes.b", "processes.c", "processes.c.thing", "d.e"} <= imported_names("processes.a", module)
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
