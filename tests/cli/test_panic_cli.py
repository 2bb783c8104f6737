"""`improv panic KIND --guild ID --json` as a user runs it: a real process, embedded defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

IMPROV = Path(sys.executable).with_name("improv")


def run_panic(data_dir: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    env.update(env_extra or {})
    command = [str(IMPROV), "--data-dir", str(data_dir), "panic", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_panic_json_without_a_key_comes_from_the_tables(tmp_path: Path) -> None:
    data = _json(run_panic(tmp_path / "d", "tavern", "--guild", "5", "--details", "a dockside dive", "--json"))
    assert data["kind"] == "tavern"
    assert data["engine"] == "tables"
    assert data["fallback_reason"] == "no_key"
    assert data["title"]
    assert all(set(f) == {"name", "value"} for f in data["fields"])
    assert data["sources"] == []
    assert data["title"] in data["text"]


def test_panic_rejects_an_unknown_kind(tmp_path: Path) -> None:
    result = run_panic(tmp_path / "d", "dragon", "--guild", "5")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


def test_panic_cites_imported_notes(tmp_path: Path) -> None:
    notes = tmp_path / "emberfall.md"
    notes.write_text("# Emberfall\n\n## Mira Voss\n\nMira Voss is the blacksmith of Emberfall and hides a crown.\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    imported = subprocess.run(
        [str(IMPROV), "--data-dir", str(tmp_path / "d"), "campaign", "import", "--guild", "5", str(notes)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert imported.returncode == 0, imported.stderr
    # a new process each time: the CLI waits for the embedding model to load and retrieves patiently, so the
    # answer is grounded even on a busy machine (Discord's one-second retrieval budget is not the CLI's)
    for details in ("the blacksmith", "Mira Voss"):
        data = _json(run_panic(tmp_path / "d", "npc", "--guild", "5", "--details", details, "--json"))
        assert data["sources"], details
        assert data["sources"][0]["file"] == "emberfall.md"
        assert "heading" in data["sources"][0] or "page" in data["sources"][0]
    assert "Mira Voss" in data["text"]  # the canon person the details name
