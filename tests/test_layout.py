"""The domain packages stay Discord-free: no discord, no cogs, no bot client, directly or transitively."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOMAIN_PACKAGES = ("bot/memory", "bot/improv", "bot/billing")
FORBIDDEN = ("discord", "cogs", "bot.discord")


def imported_modules(source: str, module: str) -> set[str]:
    """Every module a source file imports, relative imports resolved against `module` (its dotted name)."""
    found: set[str] = set()
    package = module.rsplit(".", 1)[0] if not module.endswith("__init__") else module.removesuffix(".__init__")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def forbidden_imports(source: str, module: str) -> set[str]:
    """The imports of `source` that a domain module must not make."""
    return {
        name
        for name in imported_modules(source, module)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }


def domain_files() -> list[Path]:
    files = [path for package in DOMAIN_PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    assert files, "no domain modules found"
    return files


def test_checker_catches_every_forbidden_form() -> None:
    source = (
        "import discord\n"
        "from discord.ext import commands\n"
        "from cogs.panic import Panic\n"
        "from bot.discord import client\n"
        "from ..discord.client import PanicBot\n"
        "from bot.memory.types import Chunk\n"
    )
    assert forbidden_imports(source, "bot.memory.store") == {
        "discord",
        "discord.ext",
        "discord.ext.commands",
        "cogs.panic",
        "cogs.panic.Panic",
        "bot.discord",
        "bot.discord.client",
        "bot.discord.client.PanicBot",
    }


@pytest.mark.parametrize("path", domain_files(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_domain_module_imports_nothing_from_discord(path: Path) -> None:
    module = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
    assert forbidden_imports(path.read_text(encoding="utf-8"), module) == set()


def test_importing_the_domain_does_not_load_discord() -> None:
    modules = [".".join(path.relative_to(REPO_ROOT).with_suffix("").parts) for path in domain_files()]
    modules = [name.removesuffix(".__init__") for name in modules]
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'discord' or m.startswith(('discord.', 'cogs'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
