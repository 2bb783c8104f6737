"""Offline `improv panic KIND --details TEXT --json` after importing the example campaign: the answer is about the
person, place or group the details name, in the notes' own terms, and a name given in the details is the name
used. Real processes, embedded defaults, no model key (the offline tables answer)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.cli.test_panic_cli import IMPROV, _json, run_panic

CAMPAIGN = Path(__file__).resolve().parents[2] / "examples" / "campaign"
GUILD = "31"


def _import_examples(data_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    files = [str(p) for p in sorted(CAMPAIGN.glob("*.md"))]
    command = [str(IMPROV), "--data-dir", str(data_dir), "campaign", "import", "--guild", GUILD, *files]
    imported = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, check=False)
    assert imported.returncode == 0, imported.stderr


def _panic(data_dir: Path, kind: str, details: str) -> dict[str, Any]:
    data = _json(run_panic(data_dir, kind, "--guild", GUILD, "--details", details, "--json"))
    assert data["engine"] == "tables"
    return data


def _field(data: dict[str, Any], name: str) -> str:
    return next(str(f["value"]) for f in data["fields"] if f["name"] == name)


def test_offline_answers_obey_the_details_and_the_notes(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    _import_examples(data_dir)

    officer = _panic(data_dir, "npc", "a nervous excise officer named Tolliver Gant")
    assert officer["title"] == "Tolliver Gant — nervous excise officer"

    guards = _panic(data_dir, "encounter", "Corvane's guards at the pit head")
    foes = _field(guards, "Foes")
    assert "6 hired guards in rust-red cloaks" in foes
    assert "Mira Corvane" in foes
    assert "pit head" in _field(guards, "Terrain")
    assert "spider" not in guards["text"]
    assert guards["sources"][0]["file"] == "factions.md"

    tavern = _panic(data_dir, "tavern", "the Gilded Crucible")
    assert tavern["title"] == "The Gilded Crucible"
    assert _field(tavern, "Keeper") == "Old Hesk, a one-eyed former caravan guard"
    assert "slag ale" in _field(tavern, "On the menu")
