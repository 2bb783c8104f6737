"""The import graph of the project's own modules (bot, cogs, db), read statically with `ast`.

Every `import` and `from … import` counts wherever it is written: at module level, inside a function, or under
`if TYPE_CHECKING:`. An import names the deepest project module it reaches (`from bot.cli import core` is
`bot.cli.core`; `from bot.cli import main` is `bot.cli`). The package `__init__` Python runs on the way to a
submodule is not counted: that would make every package that imports its own submodules a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.support.imports import imported_names

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cogs", "db")
# The configuration model and the composition root that reads it: domain code gets small config objects instead.
CONFIG_MODULES = ("bot.settings", "bot.services")


def project_modules(root: Path = REPO_ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every Python file of `packages` (a package is named by its `__init__`)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _deepest(name: str, known: Iterable[str]) -> str | None:
    """The longest project module that `name` is or lies inside of; None for outside modules."""
    modules = set(known)
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(source: str, module: str, *, is_package: bool, known: Iterable[str]) -> set[str]:
    """The project modules that `source` (the module `module`) imports anywhere in its body."""
    modules = set(known)
    package = module if is_package else module.rpartition(".")[0]
    targets = (_deepest(name, modules) for name in imported_names(source, package, from_modules=False))
    return {target for target in targets if target is not None and target != module}


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, is_package=path.name == "__init__.py", known=modules)
        for name, path in modules.items()
    }


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (strongly connected, size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group: list[str] = []
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


def describe(groups: list[list[str]], graph: Mapping[str, set[str]]) -> str:
    """Each cycle's modules with the imports that tie them together."""
    lines = []
    for group in groups:
        members = set(group)
        lines.append(" <-> ".join(group))
        lines.extend(f"    {name} imports {', '.join(sorted(graph[name] & members))}" for name in group)
    return "\n".join(lines)


# --- the checker itself ---------------------------------------------------------------------------------

KNOWN = ("pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c")


def test_every_import_form_is_resolved_to_a_project_module() -> None:
    source = (
        "import os\n"
        "import pkg.a\n"
        "from pkg import b\n"
        "from pkg.sub import c as alias\n"
        "from pkg.sub.c import function\n"
        "from . import c\n"
        "from ..b import thing\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pkg import helper\n"
        "def later() -> None:\n"
        "    import pkg.sub.c.inner\n"
    )
    found = imports_of(source, "pkg.sub.d", is_package=False, known=KNOWN)
    assert found == {"pkg", "pkg.a", "pkg.b", "pkg.sub.c"}


def test_a_package_resolves_relative_imports_from_itself() -> None:
    assert imports_of("from . import c\nfrom .. import a\n", "pkg.sub", is_package=True, known=KNOWN) == {
        "pkg.sub.c",
        "pkg.a",
    }


def test_a_cycle_through_a_function_level_import_is_found() -> None:
    graph = {
        "pkg.a": imports_of("from pkg.b import x\n", "pkg.a", is_package=False, known=KNOWN),
        "pkg.b": imports_of("def f() -> None:\n    from pkg.sub import c\n", "pkg.b", is_package=False, known=KNOWN),
        "pkg.sub.c": imports_of("from ..a import y\n", "pkg.sub.c", is_package=False, known=KNOWN),
        "pkg": imports_of("from pkg import a\n", "pkg", is_package=True, known=KNOWN),
    }
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_a_package_importing_its_submodules_is_no_cycle_by_itself() -> None:
    graph = {"pkg": {"pkg.a", "pkg.b"}, "pkg.a": set(), "pkg.b": {"pkg.a"}}
    assert cycles(graph) == []
    assert cycles({**graph, "pkg.b": {"pkg"}}) == [["pkg", "pkg.b"]]


# --- the project ----------------------------------------------------------------------------------------


def test_the_project_has_modules_to_check() -> None:
    modules = project_modules()
    assert {"bot.cli", "bot.web", "bot.services", "bot.billing.service", "cogs.panic", "db.engine"} <= set(modules)


def test_no_import_cycle_among_the_projects_modules() -> None:
    graph = import_graph(project_modules())
    groups = cycles(graph)
    assert groups == [], "import cycles:\n" + describe(groups, graph)


def test_the_web_door_does_not_import_the_command_line() -> None:
    graph = import_graph(project_modules())
    assert not {name for name in graph["bot.web"] if name == "bot.cli" or name.startswith("bot.cli.")}


def _config_imports(package: str) -> dict[str, set[str]]:
    modules = project_modules()
    graph = import_graph(modules)
    return {
        name: found
        for name in modules
        if name == package or name.startswith(package + ".")
        if (found := graph[name] & set(CONFIG_MODULES))
    }


def test_the_config_check_sees_a_settings_import() -> None:
    graph = {"bot.settings", "bot.services", "bot.memory.x"}
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot import settings\n"
    assert imports_of(source, "bot.memory.x", is_package=False, known=graph) == {"bot.settings"}


@pytest.mark.parametrize("package", ["bot.billing", "bot.memory", "bot.improv"])
def test_domain_package_takes_config_objects_not_the_settings(package: str) -> None:
    assert _config_imports(package) == {}, f"{package} must get small config objects from bot.services"
