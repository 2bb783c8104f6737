"""`/panic` through discord.py's real dispatch (offline harness) with the real `openai` client and a fake model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.discord.offline.driver import DiscordDriver, FakeUser
from bot.improv.canon import CanonIndex
from bot.improv.kinds import KINDS, Kind, schema_for
from bot.services import Services
from bot.settings import Settings
from db.models.panic import Panic as PanicRow
from db.models.panic import SavedImprov
from tests.cogs.conftest import model_settings
from tests.fakes.openai import FakeOpenAI
from tests.support.discord import running_bot

NOTES = b"""# Emberfall

Emberfall is a mining town under the ash peaks. @everyone knows the market opens at dawn.

## Mira Voss

Mira Voss is the blacksmith of Emberfall. She secretly forged the Duke's crown and fears Captain Harl Denby.

## Captain Harl Denby

Captain Harl Denby commands the Emberfall watch and suspects Mira Voss.
"""


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Extra settings; a test overrides this by parametrizing `settings_overrides`."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, fake_openai: FakeOpenAI, settings_overrides: dict[str, Any]) -> Settings:
    """Embedded settings with the fake model."""
    return model_settings(tmp_path / "data", fake_openai, **settings_overrides)


def _embed(ex: Any) -> dict[str, Any]:
    return ex.message.embeds[0]


def _no_mentions(payloads: list[dict[str, Any]]) -> None:
    """Every payload that carries text says "ping nobody" (the deferred placeholder carries none)."""
    checked = [p for p in payloads if p.get("content") or p.get("embeds")]
    assert checked
    for payload in checked:
        mentions = payload.get("allowed_mentions")
        assert mentions is not None, payload
        assert mentions.get("parse") == []


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_by_slash_command_answers_privately_from_the_model(
    kind: Kind, discord_sim: DiscordDriver
) -> None:
    ex = await discord_sim.slash(f"panic {kind}", details="something for the heist")
    assert ex.ephemeral
    embed = _embed(ex)
    assert embed["title"]
    assert embed["fields"]
    assert embed["footer"]["text"].startswith("Source: gpt-4o-mini")
    labels = [b.get("label") for b in ex.message.buttons()]
    secret = ["Reveal secret…"] if schema_for(kind).gm_only_paths() else []  # only kinds with a GM-only part
    assert labels == ["Reveal to table", "Reroll", "Save to campaign", *secret]


async def test_without_a_key_the_offline_tables_answer_and_say_so(tmp_path: Path) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    async with open_services(Settings.embedded(tmp_path / "d", panic_cooldown_seconds=0)) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            ex = await sim.slash("panic tavern")
    assert "offline tables (no model configured)" in _embed(ex)["footer"]["text"]


EXAMPLE_CAMPAIGN = Path(__file__).resolve().parents[2] / "examples" / "campaign"


async def test_offline_answers_fit_the_request_and_use_canon(tmp_path: Path) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    async with open_services(Settings.embedded(tmp_path / "d", panic_cooldown_seconds=0)) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            for path in sorted(EXAMPLE_CAMPAIGN.glob("*.md")):
                imported = await sim.slash("campaign import", file=sim.attachment(path))
                assert imported.last.embeds or imported.last.content
            await sim.settle()
            cold = await sim.slash("panic rumor")
            smith = await sim.slash("panic npc", details="the master smith of the Anvil Quarter")
            stranger = await sim.slash("panic npc", details="a nervous toll keeper on the east road")
            miners = await sim.slash("panic names", details="miners of Emberfall")
            mine = await sim.slash("panic location", details="the Deepvein Mine")
            rumors = await sim.slash("panic rumor", details="the Lantern Society")
            warm = await sim.slash("panic rumor")  # bare, right after the mine and the Society

    embed = _embed(smith)
    assert "offline tables (no model configured)" in embed["footer"]["text"]
    assert embed["title"] == "Brenna Coalhand — master smith"  # the canon person, not an invented stranger
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert "soot-freckled woman" in fields["Look"]
    assert "short sentences" in fields["Voice"]
    assert "apprentice Tobin" in fields["Wants"]
    assert "Lantern Society" in fields["Secret"]
    assert fields["Sources"].splitlines()[0].endswith("Brenna Coalhand, master smith")

    assert "Brenna" not in _embed(stranger)["title"]
    assert "toll keeper" in _embed(stranger)["title"]

    names = next(f["value"] for f in _embed(miners)["fields"] if f["name"] == "Names")
    lines = names.splitlines()
    assert len(lines) == 6
    assert all("— a miner, " in line for line in lines), names  # miners are given miners' roles
    assert _embed(mine)["title"] == "The Deepvein Mine"
    assert "The Lantern Society" in _embed(rumors)["title"]

    # a bare panic draws on what the table was just asking about (the last two panics steer retrieval)
    def first_source(ex: Any) -> str:
        return next(f["value"] for f in _embed(ex)["fields"] if f["name"] == "Sources").splitlines()[0]

    recent = ("› The Deepvein Mine", "› The Lantern Society")
    assert not first_source(cold).endswith(recent), first_source(cold)
    assert first_source(warm).endswith(recent), first_source(warm)


async def test_the_answer_starts_while_discord_takes_the_acknowledgement(
    settings: Settings, fake_openai: FakeOpenAI
) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    async with open_services(settings) as services:
        await upgrade(services.engine)
        # every request to Discord takes 0.3 s to arrive, as over a slow network
        async with running_bot(services, latency=0.3) as sim:
            ex = await sim.slash("panic npc", details="the blacksmith")
            acked_at = sim.fake.interactions[max(sim.fake.interactions)].acked_at
    assert _embed(ex)["title"]
    assert "gpt-4o-mini" in _embed(ex)["footer"]["text"]
    assert acked_at is not None
    (asked,) = fake_openai.chat_requests()
    assert asked.at < acked_at  # the model was asked before the acknowledgement had even reached Discord


async def test_an_acknowledgement_that_fails_stops_the_answer(settings: Settings, fake_openai: FakeOpenAI) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    fake_openai.delay = 0.5  # the model is still thinking when the acknowledgement fails
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services, latency=0.2, check=False) as sim:

            async def network_stall() -> None:  # the defer reaches Discord after its 3-second window
                await asyncio.sleep(0.1)
                sim.fake.advance(5)

            stall = asyncio.create_task(network_stall())
            await sim.slash("panic npc", details="the blacksmith")
            await stall
            await sim.settle()
            problems = sim.problems()
        async with services.sessionmaker() as session:
            recorded = await session.scalar(select(func.count()).select_from(PanicRow))
    assert recorded == 0  # the answer was abandoned, not finished and stored for nobody
    assert len(fake_openai.chat_requests()) == 1
    assert any("never acknowledged" in p for p in problems), problems


@pytest.mark.parametrize("settings_overrides", [{"panic_deadline_seconds": 0.4}])
@pytest.mark.parametrize("mode", ["429", "500", "hang", "malformed", "refusal"])
async def test_every_model_failure_still_answers_from_the_tables(
    mode: Any, discord_sim: DiscordDriver, fake_openai: FakeOpenAI, services: Services
) -> None:
    fake_openai.mode = mode
    ex = await discord_sim.slash("panic npc", details="a guard")
    assert "offline tables" in _embed(ex)["footer"]["text"]
    await discord_sim.settle()
    async with services.sessionmaker() as session:
        row = (await session.execute(select(PanicRow))).scalar_one()
    assert row.engine == "tables"
    assert row.fallback_reason is not None


@pytest.mark.parametrize(
    "settings_overrides", [{"panic_deadline_seconds": 2.0, "breaker_threshold": 2, "openai_timeout_seconds": 5}]
)
async def test_local_overload_does_not_rest_the_model_but_a_silent_model_does(
    discord_sim: DiscordDriver, fake_openai: FakeOpenAI, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from bot.memory.types import Passage

    async def overloaded_search(*args: Any, **kwargs: Any) -> list[Passage]:
        time.sleep(1.8)  # noqa: ASYNC251 -- the event loop is busy (local CPU work) for most of the deadline
        return []

    fake_openai.delay = 0.3  # a healthy model: it answers 0.3 s after the request
    monkeypatch.setattr(services.memory, "search", overloaded_search)
    for n in range(3):  # more deadline misses than the breaker threshold, all caused locally
        ex = await discord_sim.slash("panic npc", details=f"a miner {n}")
        assert "offline tables (the model took too long)" in _embed(ex)["footer"]["text"]
    monkeypatch.undo()
    ex = await discord_sim.slash("panic npc", details="a miner")
    assert _embed(ex)["footer"]["text"].startswith("Source: gpt-4o-mini")  # not "resting after errors"

    fake_openai.mode = "hang"  # now the model itself goes silent
    for _ in range(2):
        ex = await discord_sim.slash("panic npc", details="a miner")
        assert "the model took too long" in _embed(ex)["footer"]["text"]
    fake_openai.mode = "ok"
    ex = await discord_sim.slash("panic npc", details="a miner")
    assert "the model is resting after errors" in _embed(ex)["footer"]["text"]


async def test_streamed_edits_are_seen_and_throttled(discord_sim: DiscordDriver, fake_openai: FakeOpenAI) -> None:
    fake_openai.chunk_size = 4
    fake_openai.chunk_delay = 0.012  # roughly 200 chunks over 2.5 s
    cog = discord_sim.bot.get_cog("Panic")
    assert cog is not None
    cog.edit_interval = 0.5  # type: ignore[attr-defined]
    ex = await discord_sim.slash("panic npc", details="the blacksmith")
    streamed = [e for e in ex.message.edits if e.get("embeds") and "Writing" in e["embeds"][0]["footer"]["text"]]
    assert streamed, "no partial answer was shown while streaming"
    assert len(streamed) <= 8  # far fewer edits than the ~200 chunks streamed
    assert "Writing" not in _embed(ex)["footer"]["text"]


async def test_button_works_before_and_after_a_restart(discord_sim: DiscordDriver, services: Services) -> None:
    posted = await discord_sim.slash("panic button")
    assert not posted.ephemeral
    panel = posted.message
    first = await discord_sim.click(panel, "PANIC!")
    assert first.ephemeral
    assert first.last.embeds[0]["author"]["name"] == "NPC"  # the guild's default kind

    await discord_sim.restart()
    second = await discord_sim.click(panel, "PANIC!")
    assert second.ephemeral
    assert second.last.embeds[0]["fields"]
    picked = await discord_sim.select(panel, "panic:pick", ["loot"])
    assert picked.ephemeral
    assert picked.last.embeds[0]["author"]["name"] == "Loot"


async def test_a_player_gets_a_polite_refusal_and_no_answer(discord_sim: DiscordDriver) -> None:
    panel = (await discord_sim.slash("panic button")).message
    click = await discord_sim.click(panel, "PANIC!", user=discord_sim.player)
    assert click.ephemeral
    assert click.last.embeds[0]["title"] == "GM only"
    ex = await discord_sim.slash("panic npc", user=discord_sim.player)
    assert ex.last.embeds[0]["title"] == "GM only"
    assert all("fields" not in (m.embeds[0] if m.embeds else {}) for m in click.responses + ex.responses)


async def test_gm_role_from_settings_counts_as_gm(discord_sim: DiscordDriver) -> None:
    await discord_sim.slash("panic settings", gm_role=discord_sim.role(777))
    gm_by_role = FakeUser(3003, "rolegm", roles=(777,))
    ex = await discord_sim.slash("panic rumor", user=gm_by_role)
    assert ex.message.embeds[0]["fields"]


async def test_reveal_reroll_and_save(discord_sim: DiscordDriver, services: Services) -> None:
    ex = await discord_sim.slash("panic twist", details="the party just got paid")
    revealed = await discord_sim.click(ex.message, "Reveal to table")
    assert revealed.ephemeral
    [public] = discord_sim.channel_messages()
    assert public.embeds[0]["title"] == _embed(ex)["title"]
    assert not public.buttons()

    rerolled = await discord_sim.click(ex.message, "Reroll")
    assert rerolled.ephemeral
    assert rerolled.last.embeds[0]["author"]["name"] == "Plot twist"
    await discord_sim.settle()
    async with services.sessionmaker() as session:
        details = (await session.execute(select(PanicRow.details).order_by(PanicRow.id))).scalars().all()
    assert details == ["the party just got paid", "the party just got paid"]

    saved = await discord_sim.click(ex.message, "Save to campaign")
    assert "Saved" in saved.last.content
    await discord_sim.settle()
    hits = await services.memory.search(discord_sim.guild_id, _embed(ex)["title"], 3)
    title = _embed(ex)["title"]
    assert any(title in h.heading or title in h.text for h in hits), hits
    async with services.sessionmaker() as session:
        row = (await session.execute(select(SavedImprov).order_by(SavedImprov.id))).scalars().first()
    assert row is not None
    assert row.saved_at is not None
    _no_mentions([public.payload, *(m.payload for m in saved.responses)])


async def test_players_may_panic_with_player_safe_notes_only_and_cannot_save(
    discord_sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    await services.memory.import_file(discord_sim.guild_id, "secrets.md", "text/markdown", NOTES)
    await services.memory.import_file(
        discord_sim.guild_id,
        "handout.md",
        "text/markdown",
        b"# Handout\n\nThe Lantern Fair comes to Emberfall every spring; all are welcome.\n",
        player_safe=True,
    )
    await discord_sim.slash("panic settings", players_may_panic=True)
    ex = await discord_sim.slash("panic rumor", details="the fair", user=discord_sim.player)
    prompt = fake_openai.chat_requests()[-1].prompt
    assert "Lantern Fair" in prompt
    assert "Duke's crown" not in prompt
    assert "Mira Voss" not in prompt
    assert "player-safe notes only" in _embed(ex)["footer"]["text"]
    refused = await discord_sim.click(ex.message, "Save to campaign", user=discord_sim.player)
    assert refused.last.embeds[0]["title"] == "GM only"


async def test_citations_no_canon_clash_and_no_pings_with_notes(
    discord_sim: DiscordDriver, services: Services, fake_openai: FakeOpenAI
) -> None:
    await services.memory.import_file(discord_sim.guild_id, "emberfall.md", "text/markdown", NOTES)
    fake_openai.overrides = {"name": "Mira Thorne", "hook": "Mira Thorne says @everyone must come."}
    ex = await discord_sim.slash("panic npc", details="the blacksmith's rival")
    embed = _embed(ex)
    sources = next(f for f in embed["fields"] if f["name"] == "Sources")
    assert "emberfall.md" in sources["value"]
    prompt = fake_openai.chat_requests()[-1].prompt
    assert "Mira Voss" in prompt  # the roster went to the model
    text = str(embed)
    assert "Mira Thorne" not in text
    roster = await services.memory.roster(discord_sim.guild_id)
    assert all(CanonIndex(roster).check(name) is None for name in [embed["title"].split(" — ")[0]])
    _no_mentions([ex.message.payload, *ex.message.edits])


@pytest.mark.parametrize("settings_overrides", [{"panic_cooldown_seconds": 60}])
async def test_cooldown_message(discord_sim: DiscordDriver) -> None:
    await discord_sim.slash("panic npc")
    ex = await discord_sim.slash("panic npc")
    assert ex.last.embeds[0]["title"] == "Slow down"
    assert "again in" in ex.last.embeds[0]["description"]


@pytest.mark.parametrize("settings_overrides", [{"panic_cooldown_seconds": 60}])
async def test_cooldown_refusal_is_private_even_when_answers_are_public(discord_sim: DiscordDriver) -> None:
    await discord_sim.slash("panic settings", public_by_default=True)
    first = await discord_sim.slash("panic npc", details="the ferryman")
    assert not first.ephemeral
    refused = await discord_sim.slash("panic npc", details="the ferryman's wife")
    assert refused.ephemeral
    assert all(m.ephemeral for m in refused.responses)
    assert refused.last.embeds[0]["title"] == "Slow down"


async def test_spent_quota_answer_is_private_even_when_answers_are_public(
    discord_sim: DiscordDriver, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.billing.types import QuotaDecision

    class OnePanic:
        used = 0

        async def consume_panic(self, guild_id: int) -> QuotaDecision:
            if self.used >= 1:
                return QuotaDecision(False, self.used, 1, "free")
            self.used += 1
            return QuotaDecision(True, self.used, 1, "free")

    await discord_sim.slash("panic settings", public_by_default=True)
    monkeypatch.setattr(services.billing, "consume_panic", OnePanic().consume_panic)
    try:
        allowed = await discord_sim.slash("panic loot")
        spent = await discord_sim.slash("panic loot")
        rumor_spent = await discord_sim.slash("panic rumor", details="the mine")
    finally:
        monkeypatch.undo()
    assert not allowed.ephemeral
    assert "0 of 1 panics left" in _embed(allowed)["footer"]["text"]
    for ex in (spent, rumor_spent):
        assert ex.ephemeral
        assert all(m.ephemeral for m in ex.responses)
        assert "panics are used up" in _embed(ex)["footer"]["text"]


async def test_quota_shown_and_exhausted_quota_falls_back(
    discord_sim: DiscordDriver, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.billing.types import QuotaDecision

    class TwoPanics:
        used = 0

        async def consume_panic(self, guild_id: int) -> QuotaDecision:
            if self.used >= 2:
                return QuotaDecision(False, self.used, 2, "free")
            self.used += 1
            return QuotaDecision(True, self.used, 2, "free")

    monkeypatch.setattr(services.billing, "consume_panic", TwoPanics().consume_panic)
    try:
        first = await discord_sim.slash("panic loot")
        await discord_sim.slash("panic loot")
        third = await discord_sim.slash("panic loot")
    finally:
        monkeypatch.undo()
    assert "1 of 2 panics left this month" in _embed(first)["footer"]["text"]
    assert "panics are used up" in _embed(third)["footer"]["text"]
    assert "0 of 2 panics left" in _embed(third)["footer"]["text"]


async def test_public_by_default_setting_makes_answers_public(discord_sim: DiscordDriver) -> None:
    await discord_sim.slash("panic settings", public_by_default=True, tone="grim", length=60)
    ex = await discord_sim.slash("panic location")
    assert not ex.ephemeral


async def test_pool_hit_on_a_bare_click(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    settings = Settings.embedded(
        tmp_path / "p",
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        panic_cooldown_seconds=0,
        pool_size=2,
    )
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            await sim.slash("panic npc")
            await sim.settle()
            ex = await sim.slash("panic npc")
            await sim.settle()
            async with services.sessionmaker() as session:
                hits = (await session.execute(select(func.count()).where(PanicRow.pool_hit))).scalar_one()
    assert "instant pool" in _embed(ex)["footer"]["text"]
    assert hits == 1


async def test_pooled_answers_follow_a_settings_change(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    from bot.services import open_services
    from db.migrate import upgrade

    settings = Settings.embedded(
        tmp_path / "p",
        openai_api_key=fake_openai.api_key,
        openai_base_url=fake_openai.base_url,
        panic_cooldown_seconds=0,
        pool_size=2,
    )
    async with open_services(settings) as services:
        await upgrade(services.engine)
        async with running_bot(services) as sim:
            await sim.slash("panic npc")
            await sim.settle()  # two balanced-tone answers pooled
            await sim.slash("panic settings", tone="noir", length=60, game_system="Blades in the Dark")
            asked_before = len(fake_openai.chat_requests())
            after_change = await sim.slash("panic npc")
            await sim.settle()
            pooled = await sim.slash("panic npc")
            await sim.settle()
    assert "instant pool" not in _embed(after_change)["footer"]["text"]  # the old style's pool is not served
    assert _embed(after_change)["footer"]["text"].startswith("Source: gpt-4o-mini")
    assert "instant pool" in _embed(pooled)["footer"]["text"]
    systems = [r.body["messages"][0]["content"] for r in fake_openai.chat_requests()[asked_before:]]
    assert len(systems) >= 2  # the answer itself and the refill of the new style's pool
    for system in systems:
        assert "noir" in system
        assert "60 words" in system
        assert "Blades in the Dark" in system


async def test_settings_shape_the_prompt_and_the_buttons_kind(
    discord_sim: DiscordDriver, fake_openai: FakeOpenAI
) -> None:
    shown = await discord_sim.slash(
        "panic settings", game_system="Dungeon World", tone="noir", content_rating="pg", length=60, button_kind="loot"
    )
    assert shown.ephemeral
    assert "Dungeon World" in shown.last.embeds[0]["description"]
    panel = (await discord_sim.slash("panic button")).message
    click = await discord_sim.click(panel, "PANIC!")
    assert click.last.embeds[0]["author"]["name"] == "Loot"
    system = fake_openai.chat_requests()[-1].body["messages"][0]["content"]
    assert "Dungeon World" in system
    assert "60 words" in system
    assert "noir" in system


async def test_a_player_cannot_change_settings_or_post_the_button(discord_sim: DiscordDriver) -> None:
    for command in ("panic settings", "panic button"):
        ex = await discord_sim.slash(command, user=discord_sim.player)
        assert ex.last.embeds[0]["title"] == "GM only"
