"""`improv commands --json` is a payload Discord accepts: each command fits the spec's command-create schema, the
whole array passes the strict fake's sync rules, and the bot's real `tree.sync()` sends exactly that array."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.discord.offline.fake_discord import FakeDiscord
from bot.discord.offline.rules import as_spec_command, check_commands
from bot.discord.offline.schema import schema_errors
from bot.services import Services
from tests.support.discord import running_bot

IMPROV = Path(sys.executable).with_name("improv")


def _printed_payload(data_dir: Path) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    args = [str(IMPROV), "--data-dir", str(data_dir), "commands", "--json"]
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    payload: list[dict[str, object]] = json.loads(result.stdout)
    return payload


async def test_printed_commands_validate_against_the_spec_and_sync(tmp_path: Path, services: Services) -> None:
    payload = _printed_payload(tmp_path / "cli-data")
    assert payload
    for command in payload:
        assert schema_errors("ApplicationCommandCreateRequest", as_spec_command(command)) == {}, command["name"]
    check_commands(payload)  # names, descriptions, option order, 25s, 8,000 characters, unique names
    fake = FakeDiscord(allow_sync=True)
    async with running_bot(services, fake=fake, http=True) as sim:
        await sim.bot.tree.sync()
    assert fake.synced_commands == payload
