"""One GM check behind every GM-only door: /panic, /campaign, /billing and the buttons agree on who is a GM."""

from __future__ import annotations

import pytest

from bot.discord.offline.driver import BASIC_PERMISSIONS, DiscordDriver, FakeUser

GM_ROLE = 777
ADMINISTRATOR = 1 << 3
ROLE_GM = FakeUser(3003, "rolegm", roles=(GM_ROLE,))
ADMIN = FakeUser(3004, "admin", BASIC_PERMISSIONS | ADMINISTRATOR)
OTHER_ROLE = FakeUser(3005, "bard", roles=(778,))
GM_ONLY = ["panic button", "campaign list", "campaign status", "billing status"]


@pytest.mark.parametrize("user", [ROLE_GM, ADMIN], ids=["gm-role", "administrator"])
async def test_a_gm_by_role_or_administrator_may_use_every_gm_command(
    discord_sim: DiscordDriver, user: FakeUser
) -> None:
    await discord_sim.slash("panic settings", gm_role=discord_sim.role(GM_ROLE))
    for command in GM_ONLY:
        ex = await discord_sim.slash(command, user=user)
        assert ex.last.embeds[0]["title"] != "GM only", command
    panel = (await discord_sim.slash("panic button")).message
    clicked = await discord_sim.click(panel, "PANIC!", user=user)
    assert clicked.last.embeds[0]["fields"]


async def test_a_member_without_the_gm_role_is_refused_everywhere(discord_sim: DiscordDriver) -> None:
    await discord_sim.slash("panic settings", gm_role=discord_sim.role(GM_ROLE))
    for command in [*GM_ONLY, "panic npc", "panic settings"]:
        ex = await discord_sim.slash(command, user=OTHER_ROLE)
        assert ex.ephemeral
        assert ex.last.embeds[0]["title"] == "GM only", command
    panel = (await discord_sim.slash("panic button")).message
    clicked = await discord_sim.click(panel, "PANIC!", user=OTHER_ROLE)
    assert clicked.last.embeds[0]["title"] == "GM only"


async def test_a_new_gm_role_counts_at_once_for_every_command(discord_sim: DiscordDriver) -> None:
    before = await discord_sim.slash("campaign list", user=ROLE_GM)
    assert before.last.embeds[0]["title"] == "GM only"
    await discord_sim.slash("panic settings", gm_role=discord_sim.role(GM_ROLE))
    after = await discord_sim.slash("campaign list", user=ROLE_GM)
    assert after.last.embeds[0]["title"] == "Campaign memory"
