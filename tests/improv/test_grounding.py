"""Grounding under each door's policy: the retrieval budget, waiting for the embedder, failing to ungrounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.improv.config import DISCORD_POLICY, PATIENT_POLICY, PanicPolicy
from bot.improv.grounding import Grounder
from bot.improv.types import PanicRequest
from bot.kv import MemoryKeyValue
from bot.memory.types import Canon, Passage
from tests.improv.conftest import passage

GUILD = 77
NOTE = passage("Mira Voss is the blacksmith of Emberfall and hides a crown.")


@dataclass
class ColdMemory:
    """A `Retriever` that answers only once its embedding model is warm (`warm`), like a fresh process's."""

    warm_calls: int = 0
    searches: int = 0
    events: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def warm(self) -> None:
        self.warm_calls += 1
        self.events.append("warm")
        await asyncio.sleep(0)
        self.ready.set()

    async def search(
        self, guild_id: int, query: str, k: int = 5, *, player_safe_only: bool = False, context: Sequence[str] = ()
    ) -> list[Passage]:
        self.searches += 1
        self.events.append("search")
        await self.ready.wait()
        return [NOTE]

    async def roster(self, guild_id: int) -> list[str]:
        return ["Mira Voss"]

    async def canon(self, guild_id: int) -> Canon:
        return Canon(people=("Mira Voss",))


def request() -> PanicRequest:
    return PanicRequest(guild_id=GUILD, user_id=1, kind="npc", details="the blacksmith")


async def ground(memory: ColdMemory, policy: PanicPolicy) -> list[Passage]:
    grounder = Grounder(memory, MemoryKeyValue(), warm=memory.warm)
    deadline = asyncio.get_running_loop().time() + policy.deadline_seconds
    return (await grounder.ground(request(), policy, deadline)).passages


async def test_a_patient_door_warms_the_embedder_before_retrieving() -> None:
    memory = ColdMemory()
    assert await ground(memory, PATIENT_POLICY) == [NOTE]
    assert memory.events == ["warm", "search"]


async def test_discords_policy_does_not_wait_for_the_embedder() -> None:
    memory = ColdMemory()
    short = PanicPolicy(deadline_seconds=DISCORD_POLICY.deadline_seconds, retrieve_seconds=0.05)
    assert await ground(memory, short) == []  # the cold search outlasted the budget: ungrounded
    assert memory.warm_calls == 0
    assert memory.searches == 1


async def test_retrieval_gets_the_policys_budget() -> None:
    memory = ColdMemory()
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, memory.ready.set)  # the model becomes ready while a patient search still waits
    patient_without_warm = PanicPolicy(deadline_seconds=60.0, retrieve_seconds=20.0)
    assert await ground(memory, patient_without_warm) == [NOTE]
    assert memory.warm_calls == 0


async def test_a_failing_warm_up_still_retrieves() -> None:
    memory = ColdMemory()

    async def broken() -> None:
        memory.ready.set()
        raise RuntimeError("model file missing")

    grounder = Grounder(memory, MemoryKeyValue(), warm=broken)
    deadline = asyncio.get_running_loop().time() + 5
    assert (await grounder.ground(request(), PATIENT_POLICY, deadline)).passages == [NOTE]


async def test_without_memory_nothing_is_retrieved() -> None:
    grounding = await Grounder(None, MemoryKeyValue()).ground(request(), PATIENT_POLICY, 0.0)
    assert (grounding.passages, grounding.roster, bool(grounding.canon)) == ([], [], False)


@dataclass
class TypedMemory(ColdMemory):
    """A warm memory whose canon tells people, places, groups and the party apart."""

    def __post_init__(self) -> None:
        self.ready.set()

    async def canon(self, guild_id: int) -> Canon:
        return Canon(people=("Mira Voss",), places=("Emberfall",), groups=("the Ash Guild",), party=("Brother Osric",))


async def test_grounding_carries_the_typed_canon_and_checks_clashes_with_the_party_too() -> None:
    grounder = Grounder(TypedMemory(), MemoryKeyValue())
    grounding = await grounder.ground(request(), PATIENT_POLICY, asyncio.get_running_loop().time() + 5)
    assert grounding.names.places == ("Emberfall",)
    assert grounding.roster == ["Mira Voss", "Emberfall", "the Ash Guild"]  # player characters are never reused
    assert grounding.canon.check("Brother Osrik") is not None  # nor imitated by a fresh name
