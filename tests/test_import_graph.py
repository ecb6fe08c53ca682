"""Dependencies point inward: the domain (`candor/`) owns its ports, and the edges (`bot/`,
`api/`, `actions/`) depend on it, never the reverse.

Every import counts, including those inside functions, since a lazy import is still a
dependency. Only the composition roots, which wire concrete edges together, may reach out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The `candor` command (it also starts the worker with bot's senders) and the demo command.
COMPOSITION_ROOTS = {"candor/cli.py", "candor/demo/command.py"}

FORBIDDEN = {
    "candor": {"bot", "api", "actions"},
    "actions": {"bot", "api"},
    "bot": {"api"},
}


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative in COMPOSITION_ROOTS:
            continue
        for module in sorted(imported_modules(path.read_text(encoding="utf-8"))):
            if module.split(".")[0] in FORBIDDEN[package]:
                found.append(f"{relative} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_package_imports_no_outer_edge(package: str) -> None:
    assert violations(package) == []


def test_the_walk_sees_lazy_imports_inside_functions() -> None:
    source = "def f():\n    from bot.gateway import Gateway\n    import api.app\n"
    assert imported_modules(source) == {"bot.gateway", "api.app"}


def test_the_composition_roots_exist() -> None:
    # An exception for a file that no longer exists is stale: remove it with the file.
    assert all((ROOT / root).is_file() for root in COMPOSITION_ROOTS)
