"""The improviser end to end against the real `openai` client and the loopback fake.

Fallbacks are asserted by engine and reason, never by timing (timings live in bench/).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import select

from bot.improv.config import PATIENT_POLICY, PanicPolicy
from bot.improv.engine import CooldownActive, Improviser
from bot.improv.kinds import KINDS, Improv, Kind
from bot.improv.types import PanicRecord, PanicRequest, StoredImprov
from bot.memory.types import Passage, Retriever, memory_version_key
from bot.services import Services
from bot.settings import Settings
from db.models.panic import Panic, SavedImprov
from tests.fakes.openai import FakeOpenAI, Mode
from tests.improv.conftest import CountingBilling, NotesMemory, open_improviser, passage

GUILD = 4242
SECRET = "The smith Mira Voss secretly forged the Duke's crown; Captain Harl Denby knows."
PUBLIC = "Emberfall is a mining town below the ash peaks; its market opens at dawn."


@asynccontextmanager
async def env(
    make_settings: Callable[..., Settings],
    fake: FakeOpenAI | None,
    *,
    notes: bool = False,
    billing: CountingBilling | None = None,
    **overrides: Any,
) -> AsyncIterator[tuple[Services, Improviser, NotesMemory | None]]:
    if fake is not None:
        overrides.setdefault("openai_api_key", fake.api_key)
        overrides.setdefault("openai_base_url", fake.base_url)
    settings = make_settings(**overrides)
    async with open_improviser(settings, memory=notes, billing=billing) as (services, improviser, memory):
        if memory is not None:
            memory.passages = [passage(SECRET), passage(PUBLIC, heading="Places › Emberfall", player_safe=True)]
            memory.names = ["Mira Voss", "Captain Harl Denby", "Emberfall"]
        yield services, improviser, memory


def request(kind: Kind = "npc", details: str = "the blacksmith", **kw: Any) -> PanicRequest:
    return PanicRequest(guild_id=GUILD, user_id=7, kind=kind, details=details, **kw)


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_from_the_model_with_streamed_partials(
    kind: Kind, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.chunk_size = 8
    fake_openai.chunk_delay = 0.002
    partials: list[Improv] = []

    async def on_partial(improv: Improv) -> None:
        partials.append(improv)

    async with env(make_settings, fake_openai) as (_, improviser, _):
        improviser.generator.partial_interval = 0.0  # type: ignore[union-attr]
        result = await improviser.panic(request(kind), on_partial)
    assert result.engine == "openai"
    assert result.fallback_reason is None
    assert result.improv.title
    assert result.improv.fields()
    assert len(partials) > 3
    assert result.tokens_in > 0
    assert result.tokens_out > 0
    body = fake_openai.chat_requests()[0].body
    assert body["stream"] is True
    assert body["response_format"]["type"] == "json_schema"
    assert body["model"] == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("429", "rate_limited"),
        ("500", "error"),
        ("hang", "timeout"),
        ("malformed", "invalid"),
        ("refusal", "refusal"),
        ("content_filter", "refusal"),
    ],
)
async def test_each_failure_falls_back_to_tables(
    mode: Mode, reason: str, make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.mode = mode
    # only the hang needs the deadline to fire; the other failures answer at once, so give them room to be
    # told apart on a slow machine (a late answer would read as a timeout)
    deadline = 0.5 if mode == "hang" else 3.0
    async with env(make_settings, fake_openai, panic_deadline_seconds=deadline) as (services, improviser, _):
        result = await improviser.panic(request())
        await services.tasks.drain()
        async with services.sessionmaker() as session:
            row = (await session.execute(select(Panic))).scalar_one()
    assert result.engine == "tables"
    assert result.fallback_reason == reason
    assert result.improv.title
    assert row.engine == "tables"
    assert row.fallback_reason == reason


async def test_invalid_output_is_retried_once(make_settings: Callable[..., Settings], fake_openai: FakeOpenAI) -> None:
    fake_openai.fail_next("malformed")
    async with env(make_settings, fake_openai) as (_, improviser, _):
        result = await improviser.panic(request())
    assert result.engine == "openai"
    assert len(fake_openai.chat_requests()) == 2


async def test_no_key_answers_from_tables(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None) as (_, improviser, _):
        result = await improviser.panic(request("tavern"))
    assert (result.engine, result.fallback_reason) == ("tables", "no_key")


async def test_open_circuit_skips_the_model(make_settings: Callable[..., Settings], fake_openai: FakeOpenAI) -> None:
    fake_openai.mode = "500"
    async with env(make_settings, fake_openai, breaker_threshold=2) as (_, improviser, _):
        for _ in range(2):
            assert (await improviser.panic(request())).fallback_reason == "error"
        sent = len(fake_openai.chat_requests())
        result = await improviser.panic(request())
    assert result.fallback_reason == "circuit_open"
    assert len(fake_openai.chat_requests()) == sent


async def test_exhausted_quota_answers_from_tables_and_says_so(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    billing = CountingBilling(limit=1)
    async with env(make_settings, fake_openai, billing=billing) as (_, improviser, _):
        first = await improviser.panic(request())
        second = await improviser.panic(request())
    assert first.engine == "openai"
    assert first.quota is not None
    assert first.quota.remaining == 0
    assert (second.engine, second.fallback_reason) == ("tables", "quota")
    assert len(fake_openai.chat_requests()) == 1


async def test_cooldown_refuses_without_counting_quota(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    billing = CountingBilling(limit=10)
    async with env(make_settings, fake_openai, billing=billing, panic_cooldown_seconds=30) as (_, improviser, _):
        await improviser.panic(request())
        with pytest.raises(CooldownActive) as caught:
            await improviser.panic(request())
        other_user = await improviser.panic(PanicRequest(guild_id=GUILD, user_id=8, kind="npc"))
    assert billing.used == 2
    assert 0 < caught.value.retry_after <= 30
    assert other_user.engine in {"openai", "pool"}


async def test_grounded_answer_cites_notes_and_sends_roster(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai, notes=True) as (_, improviser, _):
        result = await improviser.panic(request())
    assert result.sources
    assert result.sources[0].file == "notes.md"
    assert result.sources[0].heading
    prompt = fake_openai.chat_requests()[0].prompt
    assert "Mira Voss; Captain Harl Denby; Emberfall" in prompt
    assert "[1] (notes.md ›" in prompt


async def test_canon_clash_from_the_model_is_repaired(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    fake_openai.overrides = {"name": "Mira Thorne", "hook": "Mira Thorne owes the party a favour."}
    async with env(make_settings, fake_openai, notes=True) as (_, improviser, _):
        result = await improviser.panic(request())
    assert "Mira Thorne" not in result.improv.text()
    assert improviser.tables  # the repaired name is fresh and clashes with nothing
    from bot.improv.canon import CanonIndex

    assert CanonIndex(["Mira Voss", "Captain Harl Denby", "Emberfall"]).clashes(result.improv) == []


async def test_panics_reuse_one_connection_to_the_model(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai) as (_, improviser, _):
        for details in ("the blacksmith", "the baker", "the candlestick maker"):
            assert (await improviser.panic(request(details=details))).engine == "openai"
    peers = {r.peer for r in fake_openai.chat_requests()}
    assert len(fake_openai.chat_requests()) == 3
    assert len(peers) == 1, peers  # kept alive: no new connection (and TLS handshake) per panic


async def test_recent_panics_steer_retrieval_as_context(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None, notes=True) as (_, improviser, memory):
        for details in ("the smuggler at the docks", "a monk of the temple", "", "a monk of the temple"):
            await improviser.panic(request(details=details))
    assert memory is not None
    smuggler, monk = "NPC the smuggler at the docks", "NPC a monk of the temple"
    assert [(query, context) for _, query, _, context in memory.searches] == [
        (smuggler, ()),
        (monk, (smuggler,)),
        ("NPC", (smuggler, monk)),  # a bare panic leans on the recent ones
        (monk, (smuggler,)),  # never its own query twice
    ]


async def test_players_only_see_player_safe_notes(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai, notes=True) as (_, improviser, memory):
        result = await improviser.panic(request(player_safe_only=True))
    prompt = fake_openai.chat_requests()[0].prompt
    assert "Emberfall is a mining town" in prompt
    assert "forged the Duke's crown" not in prompt
    assert "Mira Voss" not in prompt
    assert "Harl Denby" not in prompt
    assert memory is not None
    assert memory.searches[0][2] is True
    assert all(s.heading == "Places › Emberfall" for s in result.sources)


async def test_tables_fallback_weaves_canon_names(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None, notes=True) as (_, improviser, _):
        result = await improviser.panic(request("rumor"))
    assert result.engine == "tables"
    assert any(name in result.improv.text() for name in ("Mira Voss", "Captain Harl Denby", "Emberfall"))
    assert result.sources


async def test_bare_panic_is_served_from_the_pool_after_a_refill(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai, pool_size=2) as (services, improviser, _):
        first = await improviser.panic(request(details=""))
        await services.tasks.drain()
        assert await improviser.pool.length(GUILD, "npc", False) == 2
        second = await improviser.panic(request(details=""))
        detailed = await improviser.panic(request(details="a priest"))
        await services.tasks.drain()
    assert first.engine == "openai"
    assert not first.pool_hit
    assert second.engine == "pool"
    assert second.pool_hit
    assert detailed.engine == "openai"


async def test_notes_change_invalidates_the_pool(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai, pool_size=1) as (services, improviser, _):
        await improviser.refill(GUILD, "loot", False)
        assert await improviser.pool.length(GUILD, "loot", False) == 1
        await services.kv.incr(memory_version_key(GUILD))
        result = await improviser.panic(request("loot", details=""))
        await services.tasks.drain()
    assert result.engine == "openai"


async def test_every_panic_is_recorded_and_results_reload_by_id(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai) as (services, improviser, _):
        result = await improviser.panic(request("twist", details="the heist"))
        again = await improviser.result_of(result.improv_id, GUILD)
        async with services.sessionmaker() as session:
            panic = (await session.execute(select(Panic))).scalar_one()
            saved = (await session.execute(select(SavedImprov))).scalar_one()
    assert again.improv == result.improv
    assert again.kind == "twist"
    assert again.details == "the heist"
    assert (panic.guild_id, panic.user_id, panic.kind, panic.engine) == (GUILD, 7, "twist", "openai")
    assert panic.tokens_in == result.tokens_in
    assert panic.latency_ms >= 0
    assert panic.pool_hit is False
    assert saved.panic_id == panic.id


async def test_stored_answers_and_history_come_back_as_plain_values(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None) as (_, improviser, _):
        result = await improviser.panic(request("loot", details="the smuggler's strongbox"))
        stored = await improviser.load(result.improv_id, GUILD)
        await improviser.mark_saved(result.improv_id, "note-1")
        saved = await improviser.load(result.improv_id, GUILD)
        history = await improviser.recent(GUILD)
    assert isinstance(stored, StoredImprov)
    assert (stored.kind, stored.details, stored.engine, stored.improv) == (
        "loot",
        "the smuggler's strongbox",
        "tables",
        result.improv,
    )
    assert not stored.saved
    assert saved.saved
    assert saved.note_ref == "note-1"
    assert stored.result().improv_id == result.improv_id
    assert [type(r) for r in history] == [PanicRecord]
    assert (history[0].kind, history[0].engine, history[0].fallback_reason) == ("loot", "tables", "no_key")


async def test_each_door_passes_its_own_policy(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None, notes=True) as (_, improviser, memory):
        assert memory is not None
        memory.gate = asyncio.Event()  # memory answers only when the gate opens
        hasty = await improviser.panic(request(), policy=PanicPolicy(retrieve_seconds=0.05))
        asyncio.get_running_loop().call_later(0.1, memory.gate.set)
        patient = await improviser.panic(request(), policy=PATIENT_POLICY)
        default = await improviser.panic(request())  # the improviser's own (Discord's) policy
    assert hasty.sources == ()  # the budget passed first: answered ungrounded
    assert patient.sources
    assert default.sources
    assert improviser.policy.retrieve_seconds == 1.0
    assert improviser.policy.deadline_seconds == make_settings().panic_deadline_seconds


async def test_another_guild_cannot_load_a_result(make_settings: Callable[..., Settings]) -> None:
    from bot.improv.recorder import NotFound

    async with env(make_settings, None) as (_, improviser, _):
        result = await improviser.panic(request())
        with pytest.raises(NotFound):
            await improviser.load(result.improv_id, GUILD + 1)


async def test_overload_sheds_to_the_tables(make_settings: Callable[..., Settings], fake_openai: FakeOpenAI) -> None:
    import asyncio

    fake_openai.delay = 0.2
    async with env(make_settings, fake_openai, panic_max_inflight=1) as (_, improviser, _):
        results = await asyncio.gather(*(improviser.panic(request(details=f"guard {n}")) for n in range(3)))
    reasons = sorted(r.fallback_reason or r.engine for r in results)
    assert reasons == ["busy", "busy", "openai"]


# --- recent answers, grounding notes, warm-up --------------------------------------------------------------
GIVEN = "Already given, do not repeat: "


def given(prompt: str) -> list[str]:
    """The earlier answers the prompt's "Already given" line names (each title, or its start when long)."""
    line = next((line for line in prompt.splitlines() if line.startswith(GIVEN)), "")
    return [name.removesuffix(" …") for name in line.removeprefix(GIVEN).split("; ")] if line else []


def names_titles(named: list[str], titles: list[str]) -> bool:
    """Whether `named` are `titles` (most recent first), each whole or cut at a word."""
    return len(named) == len(titles) and all(t.startswith(n) for n, t in zip(named, titles, strict=True))


async def test_the_model_is_told_what_it_gave_before_most_recent_first(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai) as (_, improviser, _):
        first = await improviser.panic(request())
        second = await improviser.panic(request())  # e.g. a reroll: the same request again
        third = await improviser.panic(request())
        other_kind = await improviser.panic(request("loot"))
    prompts = [r.prompt for r in fake_openai.chat_requests()]
    assert given(prompts[0]) == []
    assert names_titles(given(prompts[1]), [first.improv.title])
    assert prompts[1] != prompts[0]
    assert names_titles(given(prompts[2]), [second.improv.title, first.improv.title])
    assert given(prompts[3]) == []  # per kind
    assert third.engine == other_kind.engine == "openai"


async def test_answers_given_before_a_restart_still_count(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai) as (_, improviser, _):
        before = [await improviser.panic(request()) for _ in range(2)]
    async with env(make_settings, fake_openai) as (_, improviser, _):  # a new process on the same database
        await improviser.panic(request())
    titles = [r.improv.title for r in reversed(before)]
    assert names_titles(given(fake_openai.chat_requests()[-1].prompt), titles)


async def test_the_offline_tables_are_given_the_recent_answers(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.improv import engine

    rolls: list[list[Improv]] = []
    real_roll = engine.roll

    def noting_roll(*args: Any, recent: Sequence[Improv] = (), **kwargs: Any) -> Improv:
        rolls.append(list(recent))
        return real_roll(*args, recent=recent, **kwargs)

    monkeypatch.setattr(engine, "roll", noting_roll)
    async with env(make_settings, None) as (_, improviser, _):
        results = [await improviser.panic(request("encounter")) for _ in range(3)]
        await improviser.panic(request("rumor"))
    made = [r.improv for r in results]
    assert rolls == [[], [made[0]], [made[1], made[0]], []]


async def test_a_slow_memory_is_reported_not_silent(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None, notes=True) as (_, improviser, memory):
        grounded = await improviser.panic(request())
        assert memory is not None
        memory.gate = asyncio.Event()  # memory answers only when the gate opens: never, here
        slow = await improviser.panic(request(), policy=PanicPolicy(retrieve_seconds=0.05))
        memory.gate.set()
    assert grounded.grounding_note is None
    assert grounded.sources
    assert slow.grounding_note == "timeout"
    assert slow.sources == ()
    assert slow.as_json()["grounding_note"] == "timeout"


async def test_a_failing_memory_is_reported_not_silent(make_settings: Callable[..., Settings]) -> None:
    async with env(make_settings, None, notes=True) as (_, improviser, memory):
        assert memory is not None

        async def broken(*args: Any, **kwargs: Any) -> list[Passage]:
            raise ConnectionRefusedError("memory is down")

        memory.search = broken  # type: ignore[method-assign]
        result = await improviser.panic(request())
    assert (result.engine, result.grounding_note, result.sources) == ("tables", "unavailable", ())


def _warming(
    services: Services, improviser: Improviser, memory: Retriever, warm: Callable[[], Awaitable[None]]
) -> Improviser:
    """A tables-only improviser over `memory` whose embedder warms up with `warm`."""
    return Improviser(
        improviser.config,
        kv=services.kv,
        tasks=services.tasks,
        recorder=improviser.recorder,
        generator=None,
        retriever=memory,
        warm=warm,
    )


async def test_a_panic_during_the_warm_up_waits_for_it_and_is_grounded(
    make_settings: Callable[..., Settings],
) -> None:
    loaded = asyncio.Event()

    async def warm() -> None:
        await loaded.wait()

    async with env(make_settings, None, notes=True) as (services, improviser, memory):
        assert memory is not None
        warming = _warming(services, improviser, memory, warm)
        assert not await warming.warm_up(0)  # the bot started loading the model; not loaded yet
        asyncio.get_running_loop().call_soon(loaded.set)  # it loads while the panic waits
        grounded = await warming.panic(request())
        assert warming.warmed
    assert grounded.sources
    assert grounded.grounding_note is None


async def test_a_panic_whose_budget_ends_before_the_warm_up_says_so(make_settings: Callable[..., Settings]) -> None:
    never = asyncio.Event()

    async def warm() -> None:
        await never.wait()

    async with env(make_settings, None, notes=True) as (services, improviser, memory):
        assert memory is not None
        warming = _warming(services, improviser, memory, warm)
        assert not await warming.warm_up(0)
        result = await warming.panic(request(), policy=PanicPolicy(deadline_seconds=0.1))
        never.set()
    assert (result.engine, result.grounding_note, result.sources) == ("tables", "warming", ())


async def test_a_players_prompt_names_only_answers_made_for_players(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    async with env(make_settings, fake_openai, notes=True) as (_, improviser, _):
        gm = await improviser.panic(request())  # from every note, the GM's secrets included
        player = await improviser.panic(request(player_safe_only=True))
        again = await improviser.panic(request(player_safe_only=True))
        gm_again = await improviser.panic(request())
    prompts = [r.prompt for r in fake_openai.chat_requests()]
    assert given(prompts[1]) == []  # the GM's answer is not named to a player's model call
    assert names_titles(given(prompts[2]), [player.improv.title])
    assert names_titles(given(prompts[3]), [again.improv.title, player.improv.title, gm.improv.title])
    assert gm_again.engine == "openai"
