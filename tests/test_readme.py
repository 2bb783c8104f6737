"""The README stays true: the two commands at the top, and a configuration row for every setting."""

from __future__ import annotations

import re
from pathlib import Path

from bot.improv.kinds import KINDS
from bot.settings import Settings, env_name

README = Path(__file__).resolve().parent.parent / "README.md"


def config_table_variables(text: str) -> list[str]:
    """The first column of the table under the `| Variable | Meaning | Default |` header."""
    lines = text.splitlines()
    header = next(
        i for i, line in enumerate(lines) if re.match(r"^\|\s*Variable\s*\|\s*Meaning\s*\|\s*Default\s*\|", line)
    )
    names: list[str] = []
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        names.append(line.split("|")[1].strip().strip("`"))
    return names


def test_configuration_table_lists_exactly_the_settings() -> None:
    documented = config_table_variables(README.read_text(encoding="utf-8"))
    expected = {env_name(field) for field in Settings.model_fields}
    assert sorted(set(documented) - expected) == [], "documented but not a setting"
    assert sorted(expected - set(documented)) == [], "settings missing from the README configuration table"


def test_configuration_table_has_no_duplicates() -> None:
    documented = config_table_variables(README.read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented))


def test_the_first_code_block_is_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```\w*\n(.*?)```", text, re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["./scripts/run.sh", "./scripts/test.sh"]


def test_the_two_commands_exist_and_are_executable() -> None:
    root = README.parent
    for script in ("scripts/run.sh", "scripts/test.sh", ".ci/run"):
        path = root / script
        assert path.is_file(), script
        assert path.stat().st_mode & 0o111, f"{script} is not executable"


def readme_kinds(text: str) -> list[str]:
    """The kinds the README's "Panic kinds" bullet names (`/panic npc`, `location`, …), in order."""
    start = text.index("**Panic kinds**")
    bullet = text[start : text.index("\n- ", start)]
    return re.findall(r"`(?:/panic )?([a-z]+)`", bullet.split(", each with")[0])


def test_readme_names_every_kind_of_the_registry() -> None:
    assert readme_kinds(README.read_text(encoding="utf-8")) == list(KINDS)
