"""Vectors for chunks: embedding in batches and upserting them (imports use it too), the guild's index record
(which embedder, which vector location), and re-embedding a guild's notes after either changed.

A guild whose record names another embedder or location is re-embedded from its chunk rows (no file is parsed
again): under its lock by the next import or `reindex`, or in the background after a search found the
mismatch (search answers without notes meanwhile: vector spaces are never mixed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bot.memory.chunking import Chunk
from bot.memory.config import MemoryContext
from bot.memory.errors import ImportBusy
from bot.memory.mutation import Mutation, MutationOpener
from bot.memory.scope import CampaignScope
from bot.memory.stores import VectorRecord
from bot.memory.types import ImportProgress, ProgressFn
from bot.tasks import BackgroundTasks
from db.models.campaign import CampaignMemoryRecord

__all__ = ["Indexer", "embed_and_upsert", "notify", "vector_record"]

log = logging.getLogger(__name__)


async def notify(progress: ProgressFn | None, update: ImportProgress) -> None:
    """Send a progress update; a failed progress message never fails the work it reports on."""
    if progress is None:
        return
    try:
        await progress(update)
    except Exception:
        log.warning("progress callback failed", exc_info=True)


def vector_record(chunk: Chunk, vector: npt.NDArray[np.float32], player_safe: bool) -> VectorRecord:
    """A chunk's vector with what stores filter on (its text and citation stay in the database); a GM-only passage
    is never player-safe."""
    return VectorRecord(
        chunk_id=chunk.chunk_id,
        document_id=chunk.document_id,
        vector=np.asarray(vector, dtype=np.float32),
        player_safe=player_safe and not chunk.gm_only,
        gm_only=chunk.gm_only,
    )


async def embed_and_upsert(
    ctx: MemoryContext,
    scope: CampaignScope,
    chunks: Sequence[Chunk],
    file_name: str,
    player_safe: bool,
    progress: ProgressFn | None,
    number: int,
    count: int,
    pages: int | None,
) -> None:
    """Embed `chunks` in batches and upsert their vectors, reporting progress after each batch."""
    done = 0
    batch_size = ctx.config.embed_batch
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        vectors = await ctx.embedder.embed([c.embed_text for c in batch])
        await ctx.store.upsert(scope, [vector_record(c, v, player_safe) for c, v in zip(batch, vectors, strict=True)])
        done += len(batch)
        await notify(
            progress, ImportProgress(file_name, number, count, "embedding", pages or 0, pages, done, len(chunks))
        )


class Indexer:
    """Keeps each guild's vectors in the current embedder's space at the current store location."""

    def __init__(self, ctx: MemoryContext, open_mutation: MutationOpener, background: BackgroundTasks | None) -> None:
        self._ctx = ctx
        self._open_mutation = open_mutation
        # where a guild found indexed by another embedder (or stored elsewhere) gets re-embedded after a search
        self.background = background
        self._reindexing: set[CampaignScope] = set()

    def matches(self, embedder_id: str, store_location: str, scope: CampaignScope) -> bool:
        """True when vectors recorded as (`embedder_id`, `store_location`) are searchable as configured now."""
        return embedder_id == self._ctx.embedder.id and store_location == self._ctx.store.location(scope)

    async def ensure_index(self, m: Mutation, *, progress: ProgressFn | None) -> None:
        """Record embedder and location for the campaign. When either changed: write the new vectors, switch the
        record to them, then delete the old ones (never the other way round: a deletion may lag, and until the
        switch searches and other processes still use the old vectors)."""
        record = await self._ctx.repo.record(m.scope)
        if record is not None and self.matches(record.embedder_id, record.store_location, m.scope):
            return
        if record is None:
            await m.save_record(())
            return
        keep = await self._reembed(m, record, progress)
        await m.save_record(record.canon_names)
        await self._drop_old(m.scope, record, keep)

    async def _reembed(
        self, m: Mutation, record: CampaignMemoryRecord, progress: ProgressFn | None
    ) -> dict[str, list[str]]:
        """Embed every visible chunk with the current embedder into the current location (same ids: in place
        where the location did not change); the chunk ids written, by document."""
        ctx, scope = self._ctx, m.scope
        log.info(
            "guild %s: re-embedding (was %s at %s, now %s at %s)",
            scope,
            record.embedder_id,
            record.store_location,
            ctx.embedder.id,
            ctx.store.location(scope),
        )
        keep: dict[str, list[str]] = {}
        docs = await ctx.repo.list_documents(scope)
        for number, doc in enumerate(docs, start=1):
            chunks = await ctx.repo.visible_chunks(scope, doc.document_id)
            await embed_and_upsert(
                ctx, scope, chunks, doc.file_name, doc.player_safe, progress, number, len(docs), doc.pages
            )
            keep[doc.document_id] = [c.chunk_id for c in chunks]
        return keep

    async def _drop_old(self, scope: CampaignScope, record: CampaignMemoryRecord, keep: dict[str, list[str]]) -> None:
        """After the switch: delete the vectors the re-embedding replaced (a failure leaves them unused)."""
        store = self._ctx.store
        try:
            if record.store_location != store.location(scope):
                await store.delete_guild_at(scope, record.store_location)
            else:
                await store.prune(scope, keep)
        except Exception:
            log.exception("guild %s: could not delete its old vectors at %s", scope, record.store_location)

    def schedule(self, scope: CampaignScope, indexed_with: str) -> None:
        """Re-embed the guild in the background (once at a time), if this memory has somewhere to run it."""
        if scope in self._reindexing:
            return
        log.warning(
            "guild %s: notes embedded with %s; re-embedding with %s", scope, indexed_with, self._ctx.embedder.id
        )
        if self.background is None:
            return
        self._reindexing.add(scope)
        self.background.spawn(self._reindex_in_background(scope), name=f"reindex-{scope}")

    async def _reindex_in_background(self, scope: CampaignScope) -> None:
        try:
            await self.reindex(scope)
            log.info("guild %s: notes re-embedded with %s", scope, self._ctx.embedder.id)
        except ImportBusy:
            pass  # an import is running: it re-embeds the guild's notes itself
        except Exception:
            log.warning("guild %s: re-embedding failed; the next search tries again", scope, exc_info=True)
        finally:
            self._reindexing.discard(scope)

    async def reindex(self, scope: CampaignScope, *, progress: ProgressFn | None = None) -> None:
        """Re-embed this guild's notes now if the embedder or the store location changed."""
        async with self._open_mutation(scope) as m:
            await self.ensure_index(m, progress=progress)
