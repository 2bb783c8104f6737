"""Fixtures for the panic path: the fake OpenAI server, small in-test memory and billing, an improviser."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.billing.types import QuotaDecision
from bot.improv.engine import Improviser
from bot.improv.llm import build_client, build_generator
from bot.improv.recorder import Recorder
from bot.memory.types import Canon, Passage, memory_version_key
from bot.services import Services, discord_policy, improv_config, model_config, open_services
from bot.settings import Settings
from db.migrate import upgrade
from tests.fakes.openai import FakeOpenAI, running_openai


@dataclass
class NotesMemory:
    """A tiny `Retriever` over fixed passages (word-overlap ranking), with `save_note` like the real one."""

    kv: Any
    passages: list[Passage] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    typed: Canon | None = None  # the canon by type; None: every name counts as a person (as the roster does today)
    saved: list[tuple[int, str, str, bool]] = field(default_factory=list)
    searches: list[tuple[int, str, bool, tuple[str, ...]]] = field(default_factory=list)
    gate: asyncio.Event | None = None  # when set, searches wait for it (a cold or busy memory)

    async def search(
        self,
        guild_id: int,
        query: str,
        k: int = 5,
        *,
        player_safe_only: bool = False,
        context: Sequence[str] = (),
    ) -> list[Passage]:
        self.searches.append((guild_id, query, player_safe_only, tuple(context)))
        if self.gate is not None:
            await self.gate.wait()
        words = set(" ".join([query, *context]).lower().split())
        pool = [p for p in self.passages if p.player_safe or not player_safe_only]
        ranked = sorted(pool, key=lambda p: -len(words & set(p.text.lower().split())))
        return ranked[:k]

    async def roster(self, guild_id: int) -> list[str]:
        return list(self.names)

    async def canon(self, guild_id: int) -> Canon:
        return self.typed if self.typed is not None else Canon(people=tuple(self.names))

    async def save_note(self, guild_id: int, title: str, text: str, player_safe: bool = False) -> str:
        self.saved.append((guild_id, title, text, player_safe))
        await self.kv.incr(memory_version_key(guild_id))
        return f"note-{len(self.saved)}"


@dataclass
class CountingBilling:
    """An `Entitlements` with a fixed monthly limit (None: unlimited)."""

    limit: int | None
    used: int = 0

    async def consume_panic(self, guild_id: int) -> QuotaDecision:
        if self.limit is not None and self.used >= self.limit:
            return QuotaDecision(allowed=False, used=self.used, limit=self.limit, plan="free")
        self.used += 1
        return QuotaDecision(allowed=True, used=self.used, limit=self.limit, plan="free")

    async def memory_limit_bytes(self, guild_id: int) -> int | None:
        return None

    async def upload_limit_bytes(self, guild_id: int) -> int:
        return 10 * 1024 * 1024


def passage(
    text: str, heading: str = "NPCs › Mira Voss", *, player_safe: bool = False, file: str = "notes.md"
) -> Passage:
    """A passage for tests."""
    return Passage(
        text=text,
        file=file,
        heading=heading,
        page=None,
        score=1.0,
        document_id="doc",
        chunk_id=f"c{abs(hash(text)) % 10_000}",
        player_safe=player_safe,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    """A fresh fake OpenAI server for one test."""
    async with running_openai() as fake:
        yield fake


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Embedded settings on a fresh directory, with overrides."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"panic_cooldown_seconds": 0, "openai_max_retries": 0}
        values.update(overrides)
        return Settings.embedded(tmp_path / "data", **values)

    return make


@asynccontextmanager
async def open_improviser(
    settings: Settings, *, memory: bool = False, billing: CountingBilling | None = None
) -> AsyncIterator[tuple[Services, Improviser, NotesMemory | None]]:
    """Migrated embedded services with an improviser over in-test memory and billing (each optional)."""
    async with open_services(settings) as services:
        await upgrade(services.engine)
        notes = NotesMemory(services.kv) if memory else None
        client = build_client(model_config(settings))
        improviser = Improviser(
            improv_config(settings),
            kv=services.kv,
            tasks=services.tasks,
            recorder=Recorder(services.sessionmaker, services.tasks),
            generator=build_generator(model_config(settings), client),
            retriever=notes,
            entitlements=billing,
            policy=discord_policy(settings),
        )
        try:
            yield services, improviser, notes
        finally:
            await services.tasks.drain(timeout=30)
            if client is not None:
                await client.close()
