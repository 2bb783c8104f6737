"""`improv campaign party add|remove|list --guild ID` as a user runs it: real processes, embedded defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

IMPROV = Path(sys.executable).with_name("improv")

NOTES = """# Harrowgate

## The party
- Kestrel Vane, half-elf ranger

## Session log
Brother Osric argued with Mira Fenwick at the east gate. Mira Fenwick cursed Brother Osric.
"""


def improv(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    command = [str(IMPROV), "--data-dir", str(data_dir), "campaign", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_party_add_list_and_remove_persist_across_processes(tmp_path: Path) -> None:
    data = tmp_path / "d"
    notes = tmp_path / "harrowgate.md"
    notes.write_text(NOTES)
    imported = improv(data, "import", "--guild", "5", "-q", str(notes))
    assert imported.returncode == 0, imported.stderr

    added = improv(data, "party", "add", "--guild", "5", "Brother Osric", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"added": ["Brother Osric"], "from_notes": ["Kestrel Vane"]}

    again = improv(data, "party", "add", "--guild", "5", "brother osric")
    assert again.returncode == 1
    assert "Brother Osric is already in the party" in again.stderr

    listed = improv(data, "party", "list", "--guild", "5")
    assert listed.stdout.splitlines() == ["Brother Osric", "Kestrel Vane  (from the notes)"]
    assert json.loads(improv(data, "party", "list", "--guild", "6", "--json").stdout) == {
        "added": [],
        "from_notes": [],
    }

    removed = improv(data, "party", "remove", "--guild", "5", "Brother Osric", "--json")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout) == {"added": [], "from_notes": ["Kestrel Vane"]}
    missing = improv(data, "party", "remove", "--guild", "5", "Brother Osric")
    assert missing.returncode == 1
    assert "isn't in the party" in missing.stderr
