"""The layout's rules (docs/adr/0012), read from the source: the order domain and its interfaces
never import the simulators or the proving tools; they reach the simulators only by the dotted
paths the settings name."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_DOUBLES = ("fulfillment.simulators", "fulfillment.proving")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, source: str | None = None) -> set[str]:
    """Every module `path` imports, at module level or inside a function, relative ones resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package.pop()
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def production_modules() -> list[Path]:
    doubles = [ROOT / "fulfillment" / "simulators", ROOT / "fulfillment" / "proving"]
    return [
        path
        for path in sorted((ROOT / "fulfillment").rglob("*.py"))
        if not any(path.is_relative_to(folder) for folder in doubles) and "migrations" not in path.parts
    ]


def test_the_rule_sees_relative_and_function_level_imports():
    """Or the rule below would prove nothing."""
    source = "def f():\n    from ..simulators import payment\n    import fulfillment.proving.soak\n"
    found = imported_modules(ROOT / "fulfillment" / "admin" / "probe.py", source)
    assert {"fulfillment.simulators.payment", "fulfillment.proving.soak"} <= found


@pytest.mark.parametrize("path", production_modules(), ids=lambda path: module_name(path))
def test_no_production_module_imports_the_simulators_or_the_proving_tools(path):
    leaks = sorted(name for name in imported_modules(path) if name.startswith(TEST_DOUBLES))
    assert not leaks, (
        f"{module_name(path)} imports {', '.join(leaks)}: name it by dotted path in the settings"
    )
