"""Campaigns from the terminal as a user runs them (real processes, embedded defaults): the console's
`channel NAME` switches channels, each bound to its own campaign; `improv campaign … --campaign NAME` and
`improv panic … --campaign NAME` act on a named campaign (default: the server's default one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.discord.offline.driver import DEFAULT_GUILD_ID
from tests.cli.test_console import IMPROV, events, run_console
from tests.cli.test_party_cli import improv
from tests.memory.test_campaign import GUILD_A_NOTES, GUILD_B_NOTES

GUILD = str(DEFAULT_GUILD_ID)  # the console's server


def _passages(event: dict[str, object]) -> str:
    embeds = event["embeds"]
    assert isinstance(embeds, list)
    return json.dumps(embeds[0].get("fields", []))


@pytest.mark.timeout(600)  # several real processes, each loading the embedder
def test_console_channels_each_use_their_campaign_and_the_cli_names_them(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (tmp_path / "frogs.md").write_bytes(GUILD_B_NOTES)
    (tmp_path / "court.md").write_bytes(GUILD_A_NOTES)
    out = events(
        run_console(
            data,
            [
                "/campaign new name: Frog Kingdom",
                "channel frogs",
                "/campaign use name: Frog Kingdom",
                f"/campaign import {tmp_path / 'frogs.md'}",
                "channel game-night",
                f"/campaign import {tmp_path / 'court.md'}",
                "/campaign search query: King Bulbous Queen Ysolde results: 10",
                "channel frogs",
                "/campaign search query: King Bulbous Queen Ysolde results: 10",
            ],
        )
    )
    assert not [e for e in out if e["event"] == "error"], out
    searches = [e for e in out if e["embeds"] and str(e["embeds"][0].get("title", "")).startswith("Search")]
    lobby, frogs = searches[-2], searches[-1]
    assert "Ysolde" in _passages(lobby)
    assert "Bulbous" not in _passages(lobby)
    assert "Bulbous" in _passages(frogs)
    assert "Ysolde" not in _passages(frogs)
    assert lobby["channel_id"] != frogs["channel_id"]

    # a later run finds the same channel by name
    [again] = [e for e in events(run_console(data, ["channel frogs", "/campaign list"])) if e["event"] == "message"]
    assert "frogs.md" in json.dumps(again["embeds"])
    assert "court.md" not in json.dumps(again["embeds"])

    named = improv(data, "search", "--guild", GUILD, "--campaign", "frog kingdom", "King Bulbous", "--json")
    assert named.returncode == 0, named.stderr
    assert {p["file"] for p in json.loads(named.stdout)} == {"frogs.md"}
    default = improv(data, "search", "--guild", GUILD, "King Bulbous", "--json")
    assert {p["file"] for p in json.loads(default.stdout)} == {"court.md"}
    listed = improv(data, "list", "--guild", GUILD, "--campaign", "Frog Kingdom")
    assert "frogs.md" in listed.stdout
    assert "court.md" not in listed.stdout
    unknown = improv(data, "list", "--guild", GUILD, "--campaign", "Nowhere")
    assert unknown.returncode != 0
    assert "has no campaign 'Nowhere' (it has Frog Kingdom)" in unknown.stderr + unknown.stdout


@pytest.mark.timeout(600)
def test_panic_cli_grounds_in_the_named_campaign(tmp_path: Path) -> None:
    import os
    import subprocess

    data = tmp_path / "data"
    (tmp_path / "frogs.md").write_bytes(GUILD_B_NOTES)
    events(run_console(data, ["/campaign new name: Frogs", "channel frogs", "/campaign use name: Frogs"]))
    assert (
        improv(data, "import", "--guild", GUILD, "--campaign", "Frogs", "-q", str(tmp_path / "frogs.md")).returncode
        == 0
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}

    def panic(*extra: str) -> dict[str, object]:
        command = [str(IMPROV), "--data-dir", str(data), "panic", "location", "--guild", GUILD, "--json", *extra]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert isinstance(result, dict)
        return result

    grounded = panic("--campaign", "Frogs", "--details", "the Mossy Well")
    assert "frogs.md" in json.dumps(grounded["sources"])
    assert panic("--details", "the Mossy Well")["sources"] == []  # the default campaign has no notes
