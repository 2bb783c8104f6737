"""`improv commands --json` as a reviewer runs it: a real process prints the payload a command sync would send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

IMPROV = Path(sys.executable).with_name("improv")
GUILD_CONTEXT = 0  # Discord's InteractionContextType.GUILD
GUILD_INSTALL = 0  # Discord's ApplicationIntegrationType.GUILD_INSTALL


def test_commands_json_prints_guild_only_commands_every_gm_can_see(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    args = [str(IMPROV), "--data-dir", str(tmp_path / "data"), "commands", "--json"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [command["name"] for command in payload] == ["panic", "campaign", "billing"]
    for command in payload:
        assert command["type"] == 1
        assert command["contexts"] == [GUILD_CONTEXT], command["name"]
        assert command["integration_types"] == [GUILD_INSTALL], command["name"]
        # GMs by role must see /campaign and /billing: the bot's own check decides, not a Manage Server default
        assert command["default_member_permissions"] is None, command["name"]
    subcommands = {c["name"]: {o["name"] for o in c["options"]} for c in payload}
    assert {"npc", "button", "settings"} <= subcommands["panic"]
    assert {"import", "forget-everything", "party"} <= subcommands["campaign"]
    assert subcommands["billing"] == {"status", "upgrade", "manage"}
