"""`CampaignMemory`: the one object the doors (cogs, CLI, panic path) use for a guild's campaign notes.

A thin facade over the parts, each with one responsibility: `CampaignRepository` (all SQL), `Mutation` (every
write: lock, commit, version bump, store, roster), `Importer` (the import pipeline), `Retrieval` (search and
its caches) and `Indexer` (re-embedding after an embedder or store switch).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.errors import UserFacingError
from bot.kv import KeyValue
from bot.memory import parsing
from bot.memory.chunking import document_id_for
from bot.memory.config import MemoryConfig, MemoryContext
from bot.memory.embedders import Embedder
from bot.memory.errors import EmptyDocument
from bot.memory.importer import Importer
from bot.memory.indexing import Indexer
from bot.memory.mutation import Mutation, lock_key, open_mutation
from bot.memory.names import clean_file_name
from bot.memory.repository import CampaignRepository
from bot.memory.retrieval import Retrieval
from bot.memory.scope import DEFAULT_CAMPAIGN, CampaignScope, ScopeLike, as_scope
from bot.memory.stores import VectorStore
from bot.memory.types import (
    Canon,
    DocumentInfo,
    ImportReport,
    MemoryLimit,
    MemoryStatus,
    Passage,
    ProgressFn,
    Upload,
    UploadLimit,
)
from bot.tasks import BackgroundTasks

__all__ = ["CampaignMemory"]

log = logging.getLogger(__name__)


class CampaignMemory:
    """Campaign memory: every method takes a campaign's scope (a `CampaignScope`, or a bare guild id for the
    guild's default campaign) and touches nothing of any other campaign, let alone another guild."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        kv: KeyValue,
        store: VectorStore,
        embedder: Embedder,
        config: MemoryConfig | None = None,
        *,
        upload_limit: UploadLimit | None = None,
        memory_limit: MemoryLimit | None = None,
        background: BackgroundTasks | None = None,
    ) -> None:
        self._ctx = MemoryContext(CampaignRepository(sessionmaker), kv, store, embedder, config or MemoryConfig())
        self._indexer = Indexer(self._ctx, self.mutation, background)
        self._retrieval = Retrieval(self._ctx, self._indexer.schedule)
        self._importer = Importer(self._ctx, self._indexer, upload_limit=upload_limit, memory_limit=memory_limit)

    # --- what it runs on ----------------------------------------------------------------------------------
    @property
    def kv(self) -> KeyValue:
        """The key-value store holding the guild locks and notes versions."""
        return self._ctx.kv

    @property
    def store(self) -> VectorStore:
        """The vector store."""
        return self._ctx.store

    @property
    def embedder(self) -> Embedder:
        """The embedder of notes and queries."""
        return self._ctx.embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        self._ctx.embedder = embedder
        self._retrieval.forget_query_vectors()

    @property
    def config(self) -> MemoryConfig:
        """Limits and tuning."""
        return self._ctx.config

    @property
    def embed_batch(self) -> int:
        """Chunks per embedding call."""
        return self._ctx.config.embed_batch

    @embed_batch.setter
    def embed_batch(self, size: int) -> None:
        self._ctx.config = dataclasses.replace(self._ctx.config, embed_batch=size)

    @staticmethod
    def _lock_key(guild_id: int) -> str:
        """Key of the guild's write lock (tests hold it to stand for a running import)."""
        return lock_key(guild_id)

    def mutation(
        self, scope: ScopeLike, *, wait: float = 0.0, lock: bool = True
    ) -> AbstractAsyncContextManager[Mutation]:
        """The one way to change a campaign's notes: `async with memory.mutation(scope) as m:` holds the guild's
        lock (waiting up to `wait` seconds, else `ImportBusy`), and each of `m`'s writes commits, bumps the notes
        version and updates the store; `m.rebuild_roster()` rebuilds the roster on a clean exit."""
        return open_mutation(self._ctx, as_scope(scope), self._retrieval.invalidate, wait=wait, lock=lock)

    # --- import ---------------------------------------------------------------------------------------------
    async def upload_limit_bytes(self, scope: ScopeLike) -> int:
        """The largest file this guild may import (into any of its campaigns)."""
        return await self._importer.upload_limit_bytes(as_scope(scope).guild_id)

    async def check_upload(self, scope: ScopeLike, file_name: str, content_type: str | None, size: int) -> None:
        """Refuse a file from its name, type and size alone (before anything is downloaded)."""
        await self._importer.check_upload(as_scope(scope).guild_id, file_name, content_type, size)

    async def unpack(self, scope: ScopeLike, upload: Upload) -> list[Upload | UserFacingError]:
        """An upload as the files to import: a .zip of notes opened into its notes (each its own document and
        line of the result, see `parsing.archive`), any other file as it is; a problem in place of an archive
        or a note that cannot be taken. The archive's limits are those of a DOCX; each note's, the upload's."""
        if not parsing.is_archive(upload.file_name):
            return [upload]
        limit = await self.upload_limit_bytes(scope)
        name = clean_file_name(upload.file_name)
        found = await asyncio.to_thread(parsing.unpack_notes, name, upload.data, max_note_bytes=limit)
        return [item if isinstance(item, UserFacingError) else Upload(item[0], None, item[1]) for item in found]

    async def import_file(
        self,
        scope: ScopeLike,
        file_name: str,
        content_type: str | None,
        data: bytes,
        *,
        player_safe: bool = False,
        progress: ProgressFn | None = None,
    ) -> ImportReport:
        """Import one file (see bot/memory/importer.py); raises an `ImportProblem` for bad input."""
        reports = await self.import_files(
            scope, [Upload(file_name, content_type, data)], player_safe=player_safe, progress=progress
        )
        outcome = reports[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def import_files(
        self,
        scope: ScopeLike,
        uploads: Sequence[Upload],
        *,
        player_safe: bool = False,
        progress: ProgressFn | None = None,
    ) -> list[ImportReport | UserFacingError]:
        """Import several files under one lock, in order; a bad file gives its error and the rest go on."""
        limit = await self.upload_limit_bytes(scope)
        async with self.mutation(scope) as m:
            return await self._importer.import_files(
                m, uploads, limit=limit, player_safe=player_safe, progress=progress
            )

    async def save_note(
        self,
        scope: ScopeLike,
        title: str,
        text: str,
        *,
        player_safe: bool = False,
        author: str | None = None,
    ) -> ImportReport:
        """Keep an improvisation the GM approved as a Markdown note, searchable like any import."""
        title = " ".join(title.split())[:120] or "Saved improvisation"
        body = text.strip()
        if not body:
            raise EmptyDocument(title)
        byline = f"\n\n*Saved by {author}.*" if author else ""
        data = f"# {title}\n\n{body}{byline}\n".encode()
        upload = Upload(f"note-{_slug(title)}-{document_id_for(data)[:8]}.md", "text/markdown", data)
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            return await self._importer.import_note(m, upload, player_safe=player_safe)

    async def reindex(self, scope: ScopeLike, *, progress: ProgressFn | None = None) -> None:
        """Re-embed this campaign's notes now if the embedder or the store location changed."""
        await self._indexer.reindex(as_scope(scope), progress=progress)

    # --- retrieval ------------------------------------------------------------------------------------------
    async def search(
        self,
        scope: ScopeLike,
        query: str,
        k: int = 5,
        *,
        player_safe_only: bool = False,
        context: Sequence[str] = (),
    ) -> list[Passage]:
        """The best `k` passages of this campaign's visible notes for `query` (steered by `context`), best first."""
        return await self._retrieval.search(
            as_scope(scope), query, k, player_safe_only=player_safe_only, context=context
        )

    async def roster(self, scope: ScopeLike) -> list[str]:
        """Canon names of this campaign's campaign (rebuilt after every change)."""
        return await self._retrieval.roster(as_scope(scope))

    async def canon(self, scope: ScopeLike) -> Canon:
        """This guild's canon names by category (people, places, groups, the party)."""
        return await self._retrieval.canon(as_scope(scope))

    async def list_documents(self, scope: ScopeLike) -> list[DocumentInfo]:
        """The campaign's visible documents, by file name."""
        return await self._ctx.repo.list_documents(as_scope(scope))

    async def find_document(self, scope: ScopeLike, key: str) -> DocumentInfo:
        """A visible document by content hash (or its prefix) or by file name."""
        return await self._ctx.repo.find_document(as_scope(scope), key)

    async def status(self, scope: ScopeLike) -> MemoryStatus:
        """Embedder, store and usage of this campaign's memory."""
        scope = as_scope(scope)
        docs, chunks, size = await self._ctx.repo.usage(scope)
        record = await self._ctx.repo.record(scope)
        store, embedder = self._ctx.store, self._ctx.embedder
        try:
            vectors = await store.count(scope)
        except Exception:
            log.exception("guild %s: could not count vectors", scope)
            vectors = -1
        stale = record is not None and not self._indexer.matches(record.embedder_id, record.store_location, scope)
        return MemoryStatus(
            embedder=embedder.id,
            dimension=embedder.dimension,
            store=store.name,
            location=store.location(scope),
            documents=docs,
            chunks=chunks,
            bytes=size,
            vectors=vectors,
            reindex_needed=docs > 0 and stale,
            upload_limit_bytes=await self.upload_limit_bytes(scope),
            indexed_with=record.embedder_id if record is not None else None,
        )

    # --- changes --------------------------------------------------------------------------------------------
    async def forget_document(self, scope: ScopeLike, document_id: str) -> DocumentInfo:
        """Delete one document (by content hash or file name) with its chunks and vectors."""
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            info = await self.find_document(scope, document_id)
            await m.forget_document(info.document_id)
            m.rebuild_roster()
        return info

    async def forget_all(self, scope: ScopeLike) -> int:
        """Delete every document of the campaign; returns how many there were."""
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            return await m.forget_all()

    async def delete_campaign(self, scope: ScopeLike) -> int:
        """Remove a campaign's notes, vectors, index record and party (`/campaign delete`); returns how many
        documents it had."""
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            count = await m.forget_all()
            await m.clear_party()
        return count

    async def delete_guild(self, guild_id: int) -> None:
        """Remove everything of every campaign of a guild the bot left (does not wait for a running import)."""
        for campaign_id in await self._ctx.repo.campaign_ids(guild_id) or [DEFAULT_CAMPAIGN]:
            async with self.mutation(CampaignScope(guild_id, campaign_id), lock=False) as m:
                await m.forget_all()
                await m.clear_party()

    async def set_player_safe(self, scope: ScopeLike, document_id: str, player_safe: bool) -> DocumentInfo:
        """Mark a document player-safe (or GM-only again); retrieval for players filters on it."""
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            info = await self.find_document(scope, document_id)
            await m.set_player_safe(info.document_id, player_safe)
        return dataclasses.replace(info, player_safe=player_safe)

    # --- the party --------------------------------------------------------------------------------------------
    async def party(self, scope: ScopeLike) -> list[str]:
        """The player characters the GM named (`canon(scope).party` adds those under a party heading)."""
        return await self._ctx.repo.party(as_scope(scope))

    async def add_party_member(self, scope: ScopeLike, name: str) -> str:
        """Put a player character on the campaign's party roster (never used as an NPC); returns the name kept.
        `UserFacingError` when the name is empty, too long or already there (without case or honorifics)."""
        name = _party_name(name)
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            existing = await m.add_party_member(name)
        if existing is not None:
            raise UserFacingError(f"**{existing}** is already in the party.", title="Already in the party")
        return name

    async def remove_party_member(self, scope: ScopeLike, name: str) -> str:
        """Take a player character off the party roster; returns the name removed (`UserFacingError` when the
        roster has no such name)."""
        name = " ".join(name.split())
        async with self.mutation(scope, wait=self.config.lock_wait) as m:
            removed = await m.remove_party_member(name)
        if removed is None:
            members = await self.party(scope)
            known = f" The party: {', '.join(f'**{p}**' for p in members)}." if members else ""
            raise UserFacingError(f"**{name}** isn't in the party.{known}", title="Not in the party")
        return removed

    async def aclose(self) -> None:
        """Close the store and the embedder."""
        await self._ctx.store.aclose()
        await self._ctx.embedder.aclose()


PARTY_NAME_MAX = 100


def _party_name(name: str) -> str:
    """A player character's name as kept: whitespace collapsed, markup characters refused."""
    name = " ".join(name.split())
    if not name or len(name) > PARTY_NAME_MAX or any(ch in name for ch in "*_`|<>@#"):
        raise UserFacingError(
            f"A party member's name is 1 to {PARTY_NAME_MAX} characters of plain text.", title="Can't add that name"
        )
    return name


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "note"
