"""The layout holds: the domain packages stay Discord-free (directly or transitively), only the Discord door
(bot/discord/ and cogs/) imports discord, and the cogs reach the database only through domain functions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.imports import imported_names

REPO_ROOT = Path(__file__).resolve().parent.parent
DOMAIN_PACKAGES = ("bot/memory", "bot/improv", "bot/billing")
FORBIDDEN = ("discord", "cogs", "bot.discord")
DOOR = ("bot/discord", "cogs")
COGS_FORBIDDEN = ("db", "sqlalchemy")


def imported_modules(source: str, module: str) -> set[str]:
    """Every module a source file imports, relative imports resolved against `module` (its dotted name)."""
    package = module.rsplit(".", 1)[0] if not module.endswith("__init__") else module.removesuffix(".__init__")
    return imported_names(source, package)


def forbidden_imports(source: str, module: str, forbidden: tuple[str, ...] = FORBIDDEN) -> set[str]:
    """The imports of `source` that are `forbidden` (by default: those a domain module must not make)."""
    return {
        name
        for name in imported_modules(source, module)
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    }


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)


def domain_files() -> list[Path]:
    files = [path for package in DOMAIN_PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    assert files, "no domain modules found"
    return files


def files_outside_the_door() -> list[Path]:
    files = [path for package in ("bot", "db") for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    outside = [path for path in files if not any(path.is_relative_to(REPO_ROOT / door) for door in DOOR)]
    assert outside, "no modules found"
    assert len(outside) < len(files), "no modules found in bot/discord/"
    return outside


def cog_files() -> list[Path]:
    files = sorted((REPO_ROOT / "cogs").rglob("*.py"))
    assert files, "no cogs found"
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
    assert forbidden_imports(path.read_text(encoding="utf-8"), module_name(path)) == set()


def test_checker_tells_the_library_from_the_door_package() -> None:
    source = "from bot.discord.client import PanicBot\nfrom discord import app_commands\nimport sqlalchemy.orm\n"
    assert forbidden_imports(source, "bot.cli.core", ("discord",)) == {"discord", "discord.app_commands"}
    assert forbidden_imports(source, "cogs.panic", COGS_FORBIDDEN) == {"sqlalchemy.orm"}


@pytest.mark.parametrize("path", files_outside_the_door(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_only_the_door_imports_discord(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8"), module_name(path), ("discord",)) == set()


@pytest.mark.parametrize("path", cog_files(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_cogs_reach_the_database_only_through_domain_functions(path: Path) -> None:
    assert forbidden_imports(path.read_text(encoding="utf-8"), module_name(path), COGS_FORBIDDEN) == set()


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
