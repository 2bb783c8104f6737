"""Every write to a campaign's memory goes through one `Mutation`.

`open_mutation` takes the guild's lock (one per guild, whichever of its campaigns is written) (one import, forget or change at a time, across processes) and yields
a `Mutation`. Its verbs each do a whole write, in this order: commit one transaction, then (when the
transaction changed what search or the roster read) drop this process's cached rows and bump the guild's notes
version so every other process drops them too, then update the vector store. Asked with `rebuild_roster()`,
the roster is rebuilt from the visible chunks when the mutation ends without error. New verbs write through
`transaction()`, so none can skip the version bump.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from bot.kv import KeyValue
from bot.memory.chunking import Chunk
from bot.memory.config import MemoryContext
from bot.memory.errors import ImportBusy, LockUnavailable
from bot.memory.repository import CampaignWrites, PendingImport
from bot.memory.roster import build_canon
from bot.memory.scope import CampaignScope, ScopeLike, as_scope
from bot.memory.types import Canon, memory_version_key

__all__ = ["Mutation", "MutationOpener", "guild_lock", "lock_key", "open_mutation"]

log = logging.getLogger(__name__)

Invalidate = Callable[[int], None]  # drops this process's cached rows of a guild


def lock_key(guild_id: int) -> str:
    """Key-value key of a guild's write lock."""
    return f"campaign:{int(guild_id)}:import-lock"


@asynccontextmanager
async def guild_lock(kv: KeyValue, guild_id: int, *, ttl: float, wait: float = 0.0) -> AsyncIterator[str]:
    """Hold the guild's write lock, waiting up to `wait` seconds for it; `ImportBusy` when it stays taken.

    The lock is a lease of `ttl` seconds renewed every `ttl / 3` while the holder lives, so a killed holder
    frees the guild within `ttl`. `LockUnavailable` when the key-value store does not answer."""
    deadline = time.monotonic() + wait
    while True:
        try:
            token = await kv.acquire(lock_key(guild_id), ttl)
        except Exception as exc:
            log.info("guild %s: the lock service is unreachable: %s", guild_id, exc)
            raise LockUnavailable() from exc
        if token is not None:
            break
        if time.monotonic() >= deadline:
            raise ImportBusy()
        await asyncio.sleep(0.25)
    heartbeat = asyncio.create_task(_keep_lease(kv, lock_key(guild_id), token, ttl), name=f"lease:{guild_id}")
    try:
        yield token
    finally:
        heartbeat.cancel()
        try:
            await asyncio.shield(kv.release(lock_key(guild_id), token))
        except Exception:  # the lease then expires by itself within `ttl`
            log.warning("guild %s: could not release the lock", guild_id, exc_info=True)


async def _keep_lease(kv: KeyValue, key: str, token: str, ttl: float) -> None:
    """Renew the lease every third of its TTL; a failed renewal is retried at the next beat."""
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            if not await kv.renew(key, token, ttl):
                log.error("lost the lease %s: another holder may write meanwhile", key)
                return
        except Exception:
            log.warning("could not renew the lease %s", key, exc_info=True)


@asynccontextmanager
async def open_mutation(
    ctx: MemoryContext, scope: ScopeLike, invalidate: Invalidate, *, wait: float = 0.0, lock: bool = True
) -> AsyncIterator[Mutation]:
    """A mutation of one campaign's notes under its guild's lock (`lock=False`: without it, for removing a guild
    the bot left while an import may still run). The roster, when asked for, is rebuilt on a clean exit."""
    scope = as_scope(scope)
    async with AsyncExitStack() as stack:
        if lock:
            await stack.enter_async_context(
                guild_lock(ctx.kv, scope.guild_id, ttl=ctx.config.import_lock_ttl, wait=wait)
            )
        mutation = Mutation(ctx, scope, invalidate)
        yield mutation
        await mutation.finish()


MutationOpener = Callable[[CampaignScope], AbstractAsyncContextManager["Mutation"]]


class Mutation:
    """The writes to one campaign's notes while its guild's lock is held (see the module docstring)."""

    def __init__(self, ctx: MemoryContext, scope: CampaignScope, invalidate: Invalidate) -> None:
        self.scope = scope
        self._ctx = ctx
        self._invalidate = invalidate
        self._roster_wanted = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[CampaignWrites]:
        """One database transaction; once it commits a visible change, caches drop and the version is bumped."""
        async with self._ctx.repo.begin(self.scope) as writes:
            yield writes
        if writes.visible:
            self._invalidate(self.guild_id)
            await self._ctx.kv.incr(memory_version_key(self.guild_id))

    @property
    def guild_id(self) -> int:
        """The guild whose lock is held."""
        return self.scope.guild_id

    def rebuild_roster(self) -> None:
        """Rebuild the guild's roster of canon names when this mutation ends without error."""
        self._roster_wanted = True

    async def finish(self) -> None:
        """End of the mutation: the roster, if asked for (called by `open_mutation`)."""
        if not self._roster_wanted:
            return
        self._roster_wanted = False
        chunks = await self._ctx.repo.visible_chunks(self.scope)
        canon = await asyncio.to_thread(build_canon, chunks) if chunks else Canon()
        async with self.transaction() as tx:
            await tx.set_canon(canon)

    # --- imports ----------------------------------------------------------------------------------------------
    async def start_import(
        self, new_id: str, file_name: str, kind: str, size: int, pages: int | None, player_safe: bool
    ) -> PendingImport:
        """Mark a new version of `file_name` in flight (invisible until `swap_in`)."""
        async with self.transaction() as tx:
            return await tx.start_import(new_id, file_name, kind, size, pages, player_safe)

    async def swap_in(
        self, pending: PendingImport, chunks: Sequence[Chunk], kind: str, size: int, pages: int | None, safe: bool
    ) -> None:
        """Make the pending version visible in one transaction (`pending.visible` tells whether that committed,
        should anything fail), then delete the old version's vectors."""
        tx: CampaignWrites | None = None
        try:
            async with self.transaction() as tx:
                old_chunk_ids = await tx.swap(pending, chunks, kind, size, pages, safe)
        finally:
            pending.visible = tx is not None and tx.committed
        old_id = pending.old_id
        if old_id is not None and old_id != pending.new_id:
            try:
                await self._ctx.store.delete_document(self.scope, old_id, old_chunk_ids)
            except Exception:  # invisible already (search joins to visible rows); the space is reclaimed later
                log.exception("guild %s: could not delete old vectors of %s", self.scope, old_id)

    async def abandon(self, row_id: int, new_id: str, chunk_ids: list[str], *, was_ready: bool) -> None:
        """Undo an import that failed before its swap: its vectors go, the previous version stays."""
        try:
            await self._ctx.store.delete_document(self.scope, new_id, chunk_ids)
        except Exception:
            log.exception("guild %s: could not delete vectors of the failed import %s", self.scope, new_id)
            return  # the marker stays, so the next import retries the clean-up
        async with self.transaction() as tx:
            await tx.drop_pending(row_id, was_ready=was_ready)

    # --- changes ----------------------------------------------------------------------------------------------
    async def forget_document(self, document_id: str) -> None:
        """Delete one document's rows, then its vectors (a store failure is logged: they are invisible)."""
        async with self.transaction() as tx:
            chunk_ids = await tx.delete_document(document_id)
        try:
            await self._ctx.store.delete_document(self.scope, document_id, chunk_ids)
        except Exception:
            log.exception("guild %s: could not delete vectors of %s", self.scope, document_id)

    async def forget_all(self) -> int:
        """Delete every document and the index record, then all the campaign's vectors; returns how many documents."""
        async with self.transaction() as tx:
            count = await tx.delete_all()
        await self._ctx.store.delete_guild(self.scope)
        return count

    async def set_player_safe(self, document_id: str, player_safe: bool) -> None:
        """Set a document's player-safe flag on its rows, then on its vectors (its GM-only passages stay hidden)."""
        async with self.transaction() as tx:
            hidden = await tx.set_player_safe(document_id, player_safe)
        await self._ctx.store.set_player_safe(self.scope, document_id, player_safe, gm_only=hidden)

    # --- the party --------------------------------------------------------------------------------------------
    async def add_party_member(self, name: str) -> str | None:
        """Put a player character on the party roster; the name already there for the same one, else None."""
        async with self.transaction() as tx:
            return await tx.add_party_member(name)

    async def remove_party_member(self, name: str) -> str | None:
        """Take a player character off the party roster; the name removed, or None when it was not there."""
        async with self.transaction() as tx:
            return await tx.remove_party_member(name)

    async def clear_party(self) -> None:
        """Empty the party roster (the guild is going)."""
        async with self.transaction() as tx:
            await tx.clear_party()

    async def save_record(self, canon_names: Sequence[str] = ()) -> None:
        """Record the current embedder and vector location as the guild's index (after re-embedding into them)."""
        embedder, store = self._ctx.embedder, self._ctx.store
        async with self.transaction() as tx:
            await tx.save_record(embedder.id, embedder.dimension, store.location(self.scope), canon_names)
