"""All SQL on a campaign's documents, chunks, index record and party roster (one `CampaignScope` at a time).

`CampaignRepository` reads (each read its own short session). Writes exist only on `CampaignWrites`, one
transaction of one campaign, which only `Mutation.transaction()` opens (bot/memory/mutation.py): a write that
changes what search or the roster read marks the transaction `visible`, and the mutation bumps the notes
version once it commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.guilds import ensure_guild
from bot.memory.chunking import HEADING_SEPARATOR, Chunk
from bot.memory.errors import DocumentNotFound
from bot.memory.roster import canon_to_json, name_key
from bot.memory.scope import CampaignScope, ScopeLike, as_scope
from bot.memory.types import Canon, DocumentInfo
from db.base import utcnow
from db.models.campaign import (
    CampaignChunk,
    CampaignDocument,
    CampaignMemoryRecord,
    CampaignPartyMember,
    DocumentStatus,
)

__all__ = ["CampaignRepository", "CampaignWrites", "PendingImport", "Row", "heading_path"]

# What search reads of a visible chunk: chunk id, text, heading, page, document id, file name, player-safe (the
# document's flag, False for a GM-only passage of it).
Row = tuple[str, str, str, int | None, str, str, bool]


@dataclass(slots=True)
class PendingImport:
    """A document row marked as importing a new version (`new_id`); `old_id` is the visible version, if any.
    `visible` becomes True once the swap to the new version has committed (from then on it must not be abandoned)."""

    row_id: int
    new_id: str
    old_id: str | None
    visible: bool = False

    @property
    def was_ready(self) -> bool:
        """True when the file already had a visible version (the import replaces it)."""
        return self.old_id is not None


_Scoped = type[CampaignDocument] | type[CampaignChunk] | type[CampaignMemoryRecord] | type[CampaignPartyMember]


def _in(model: _Scoped, scope: ScopeLike) -> ColumnElement[bool]:
    """The rows of `model` that belong to `scope` (every query here is filtered by one)."""
    scope = as_scope(scope)
    return and_(model.guild_id == scope.guild_id, model.campaign_id == scope.campaign_id)


def _key(scope: ScopeLike) -> tuple[int, int]:
    """The primary key of a campaign's index record."""
    scope = as_scope(scope)
    return scope.guild_id, scope.campaign_id


class CampaignRepository:
    """Reads of campaign memory; every query is scoped to one campaign of one guild."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    @asynccontextmanager
    async def begin(self, scope: ScopeLike) -> AsyncIterator[CampaignWrites]:
        """One write transaction of one campaign, committed on exit (for `Mutation.transaction` only)."""
        async with self.sessionmaker.begin() as session:
            writes = CampaignWrites(session, scope)
            yield writes
        writes.committed = True

    # --- documents ------------------------------------------------------------------------------------------
    async def ready_document(self, scope: ScopeLike, document_id: str) -> CampaignDocument | None:
        """The visible document whose current version has this content hash."""
        async with self.sessionmaker() as session:
            result = await session.execute(
                select(CampaignDocument).where(
                    _in(CampaignDocument, scope),
                    CampaignDocument.document_id == document_id,
                    CampaignDocument.status == DocumentStatus.READY,
                )
            )
            return result.scalar_one_or_none()

    async def list_documents(self, scope: ScopeLike) -> list[DocumentInfo]:
        """The guild's visible documents, by file name (case-insensitive)."""
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CampaignDocument)
                    .where(_in(CampaignDocument, scope), CampaignDocument.status == DocumentStatus.READY)
                    .order_by(func.lower(CampaignDocument.file_name))
                )
            ).scalars()
            return [document_info(r) for r in rows]

    async def find_document(self, scope: ScopeLike, key: str) -> DocumentInfo:
        """A visible document by content hash (or a prefix of 6+ characters) or by file name."""
        key = key.strip()
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(CampaignDocument).where(
                        _in(CampaignDocument, scope), CampaignDocument.status == DocumentStatus.READY
                    )
                )
            ).scalars()
            docs = list(rows)
        for exact in (
            [d for d in docs if d.document_id == key],
            [d for d in docs if d.file_name == key],
            [d for d in docs if d.file_name.lower() == key.lower()],
            [d for d in docs if len(key) >= 6 and d.document_id.startswith(key)],
        ):
            if len(exact) == 1:
                return document_info(exact[0])
        raise DocumentNotFound(key or "(empty)")

    async def usage(self, scope: ScopeLike) -> tuple[int, int, int]:
        """Visible documents, chunks and bytes of the guild."""
        async with self.sessionmaker() as session:
            docs, chunks, size = (
                await session.execute(
                    select(
                        func.count(CampaignDocument.id),
                        func.coalesce(func.sum(CampaignDocument.chunk_count), 0),
                        func.coalesce(func.sum(CampaignDocument.size_bytes), 0),
                    ).where(_in(CampaignDocument, scope), CampaignDocument.status == DocumentStatus.READY)
                )
            ).one()
        return int(docs), int(chunks), int(size)

    async def stored_bytes(self, scope: ScopeLike, *, except_file: str) -> int:
        """Bytes of the visible documents of every campaign of the guild but `except_file` of this campaign
        (which an import would replace): a plan's memory cap counts the whole guild."""
        scope = as_scope(scope)
        replaced = and_(CampaignDocument.campaign_id == scope.campaign_id, CampaignDocument.file_name == except_file)
        async with self.sessionmaker() as session:
            total = (
                await session.execute(
                    select(func.coalesce(func.sum(CampaignDocument.size_bytes), 0)).where(
                        CampaignDocument.guild_id == scope.guild_id,
                        CampaignDocument.status == DocumentStatus.READY,
                        ~replaced,
                    )
                )
            ).scalar_one()
        return int(total)

    async def interrupted_imports(self, scope: ScopeLike) -> list[CampaignDocument]:
        """Documents an import left marked (first import still importing, or a pending new version)."""
        async with self.sessionmaker() as session:
            return list(
                (
                    await session.execute(
                        select(CampaignDocument).where(
                            _in(CampaignDocument, scope),
                            (CampaignDocument.status == DocumentStatus.IMPORTING)
                            | CampaignDocument.pending_document_id.is_not(None),
                        )
                    )
                ).scalars()
            )

    async def campaign_ids(self, guild_id: int) -> list[int]:
        """Every campaign of the guild that holds notes, an index record or a party (0: the default one)."""
        async with self.sessionmaker() as session:
            found: set[int] = set()
            for model in (CampaignDocument, CampaignMemoryRecord, CampaignPartyMember):
                query = select(model.campaign_id).where(model.guild_id == guild_id).distinct()
                found.update((await session.execute(query)).scalars())
        return sorted(found)

    # --- index record ---------------------------------------------------------------------------------------
    async def record(self, scope: ScopeLike) -> CampaignMemoryRecord | None:
        """The guild's index record (embedder, vector location, roster), if it has one."""
        async with self.sessionmaker() as session:
            return await session.get(CampaignMemoryRecord, _key(scope))

    async def record_and_party(self, scope: ScopeLike) -> tuple[CampaignMemoryRecord | None, list[str]]:
        """The guild's index record and its party roster, in one session (what retrieval caches per version)."""
        async with self.sessionmaker() as session:
            record = await session.get(CampaignMemoryRecord, _key(scope))
            return record, await _party(session, scope)

    async def party(self, scope: ScopeLike) -> list[str]:
        """The player characters the GM named, in the order they were added."""
        async with self.sessionmaker() as session:
            return await _party(session, scope)

    # --- chunks ---------------------------------------------------------------------------------------------
    async def visible_chunks(self, scope: ScopeLike, document_id: str | None = None) -> list[Chunk]:
        """Chunks of the visible versions (of one document, or all), in document and reading order."""
        async with self.sessionmaker() as session:
            query = (
                select(CampaignChunk)
                .join(CampaignDocument, CampaignDocument.id == CampaignChunk.document_row_id)
                .where(
                    _in(CampaignChunk, scope),
                    _in(CampaignDocument, scope),
                    CampaignDocument.status == DocumentStatus.READY,
                    CampaignChunk.document_id == CampaignDocument.document_id,
                )
                .order_by(CampaignChunk.document_row_id, CampaignChunk.index)
            )
            if document_id is not None:
                query = query.where(CampaignChunk.document_id == document_id)
            rows = (await session.execute(query)).scalars().all()
        return [_chunk_from_row(r) for r in rows]

    async def visible_rows(
        self, scope: ScopeLike, chunk_ids: list[str] | None, *, limit: int | None = None
    ) -> list[Row]:
        """Search rows of the guild's chunks of *visible* versions: those of `chunk_ids`, or all (at most `limit`)."""
        query = (
            select(
                CampaignChunk.chunk_id,
                CampaignChunk.text,
                CampaignChunk.heading,
                CampaignChunk.page,
                CampaignChunk.document_id,
                CampaignDocument.file_name,
                CampaignDocument.player_safe,
                CampaignChunk.gm_only,
            )
            .join(CampaignDocument, CampaignDocument.id == CampaignChunk.document_row_id)
            .where(
                _in(CampaignChunk, scope),
                _in(CampaignDocument, scope),
                CampaignDocument.status == DocumentStatus.READY,
                CampaignChunk.document_id == CampaignDocument.document_id,
            )
        )
        if chunk_ids is not None:
            query = query.where(CampaignChunk.chunk_id.in_(chunk_ids))
        if limit is not None:
            query = query.limit(limit)
        async with self.sessionmaker() as session:
            result = await session.execute(query)
            return [
                (chunk_id, text, heading, page, document_id, file_name, bool(safe) and not gm_only)
                for chunk_id, text, heading, page, document_id, file_name, safe, gm_only in result
            ]


class CampaignWrites:
    """The writes of one transaction of one guild. `visible` becomes True once a write changes what search or
    the roster read (a swap, a deletion, a player-safe flag, the index record); `committed` once it committed."""

    def __init__(self, session: AsyncSession, scope: ScopeLike) -> None:
        self.session = session
        self.scope: CampaignScope = as_scope(scope)
        self.visible = False
        self.committed = False

    async def start_import(
        self, new_id: str, file_name: str, kind: str, size: int, pages: int | None, player_safe: bool
    ) -> PendingImport:
        """Mark `new_id` in flight for `file_name` (a new row, or the pending version of an existing one), so a
        crash can be cleaned up by the next import. Invisible: search still sees the previous version only."""
        session, scope = self.session, self.scope
        row = (
            await session.execute(
                select(CampaignDocument).where(_in(CampaignDocument, scope), CampaignDocument.file_name == file_name)
            )
        ).scalar_one_or_none()
        if row is None:
            await ensure_guild(session, scope.guild_id)
            row = CampaignDocument(
                guild_id=scope.guild_id,
                campaign_id=scope.campaign_id,
                document_id=new_id,
                file_name=file_name,
                kind=kind,
                size_bytes=size,
                pages=pages,
                chunk_count=0,
                player_safe=player_safe,
                status=DocumentStatus.IMPORTING,
            )
            session.add(row)
            await session.flush()
        else:
            row.pending_document_id = new_id
        return PendingImport(row.id, new_id, row.document_id if row.status == DocumentStatus.READY else None)

    async def swap(
        self, pending: PendingImport, chunks: Sequence[Chunk], kind: str, size: int, pages: int | None, safe: bool
    ) -> list[str]:
        """Make the pending version the visible one (chunk rows in, document row flipped, old chunk rows out);
        returns the old version's chunk ids, whose vectors go after the commit."""
        session, scope, old_id, new_id = self.session, self.scope, pending.old_id, pending.new_id
        old_chunk_ids: list[str] = []
        if old_id is not None and old_id != new_id:
            old_chunk_ids = await self._chunk_ids(old_id)
        # rows of this content left by an interrupted attempt are replaced
        await session.execute(
            delete(CampaignChunk).where(_in(CampaignChunk, scope), CampaignChunk.document_id == new_id)
        )
        if old_id is not None:
            await session.execute(
                delete(CampaignChunk).where(_in(CampaignChunk, scope), CampaignChunk.document_id == old_id)
            )
        session.add_all(
            CampaignChunk(
                guild_id=scope.guild_id,
                campaign_id=scope.campaign_id,
                document_row_id=pending.row_id,
                document_id=new_id,
                chunk_id=c.chunk_id,
                index=c.index,
                text=c.text,
                heading=c.heading,
                page=c.page,
                gm_only=c.gm_only,
            )
            for c in chunks
        )
        await session.execute(
            update(CampaignDocument)
            .where(CampaignDocument.id == pending.row_id, _in(CampaignDocument, scope))
            .values(
                document_id=new_id,
                pending_document_id=None,
                status=DocumentStatus.READY,
                kind=kind,
                size_bytes=size,
                pages=pages,
                chunk_count=len(chunks),
                player_safe=safe,
                imported_at=utcnow(),
            )
        )
        self.visible = True
        return old_chunk_ids

    async def drop_pending(self, row_id: int, *, was_ready: bool) -> None:
        """Forget an abandoned version: clear the marker of a replaced file, or delete a first import's row."""
        if was_ready:
            await self.session.execute(
                update(CampaignDocument)
                .where(CampaignDocument.id == row_id, _in(CampaignDocument, self.scope))
                .values(pending_document_id=None)
            )
        else:
            await self.session.execute(
                delete(CampaignDocument).where(
                    CampaignDocument.id == row_id,
                    _in(CampaignDocument, self.scope),
                    CampaignDocument.status == DocumentStatus.IMPORTING,
                )
            )

    async def delete_document(self, document_id: str) -> list[str]:
        """Delete a visible document with its chunk rows; returns their chunk ids (for the store)."""
        chunk_ids = await self._chunk_ids(document_id)
        await self.session.execute(
            delete(CampaignDocument).where(
                _in(CampaignDocument, self.scope), CampaignDocument.document_id == document_id
            )
        )
        self.visible = True
        return chunk_ids

    async def delete_all(self) -> int:
        """Delete every document, chunk and the index record of the guild; returns how many documents were visible."""
        count = (
            await self.session.execute(
                select(func.count(CampaignDocument.id)).where(
                    _in(CampaignDocument, self.scope), CampaignDocument.status == DocumentStatus.READY
                )
            )
        ).scalar_one()
        await self.session.execute(delete(CampaignDocument).where(_in(CampaignDocument, self.scope)))
        await self.session.execute(delete(CampaignMemoryRecord).where(_in(CampaignMemoryRecord, self.scope)))
        self.visible = True
        return int(count)

    async def set_player_safe(self, document_id: str, player_safe: bool) -> list[str]:
        """Set a document's player-safe flag; returns the chunk ids of its GM-only passages, which stay hidden."""
        await self.session.execute(
            update(CampaignDocument)
            .where(_in(CampaignDocument, self.scope), CampaignDocument.document_id == document_id)
            .values(player_safe=player_safe)
        )
        self.visible = True
        hidden = await self.session.execute(
            select(CampaignChunk.chunk_id).where(
                _in(CampaignChunk, self.scope),
                CampaignChunk.document_id == document_id,
                CampaignChunk.gm_only.is_(True),
            )
        )
        return list(hidden.scalars())

    async def save_record(
        self, embedder_id: str, dimension: int, location: str, canon_names: Sequence[str] = ()
    ) -> None:
        """Record which embedder indexed the guild and where its vectors live (`canon_names` for a new record)."""
        await ensure_guild(self.session, self.scope.guild_id)
        current = await self.session.get(CampaignMemoryRecord, _key(self.scope))
        if current is None:
            self.session.add(
                CampaignMemoryRecord(
                    guild_id=self.scope.guild_id,
                    campaign_id=self.scope.campaign_id,
                    embedder_id=embedder_id,
                    dimension=dimension,
                    store_location=location,
                    canon_names=list(canon_names),
                )
            )
        else:
            current.embedder_id = embedder_id
            current.dimension = dimension
            current.store_location = location
        self.visible = True

    async def set_canon(self, canon: Canon) -> None:
        """Replace the guild's roster by category (kept on its index record; nothing happens without one)."""
        record = await self.session.get(CampaignMemoryRecord, _key(self.scope))
        if record is not None:
            record.canon_names = canon.names()
            record.canon = canon_to_json(canon)
            self.visible = True

    # --- the party ------------------------------------------------------------------------------------------
    async def add_party_member(self, name: str) -> str | None:
        """Add a player character; returns the name already on the roster that is the same one (compared
        without case or honorifics), else None (added)."""
        for existing in await _party(self.session, self.scope):
            if name_key(existing) == name_key(name):
                return existing
        await ensure_guild(self.session, self.scope.guild_id)
        self.session.add(
            CampaignPartyMember(guild_id=self.scope.guild_id, campaign_id=self.scope.campaign_id, name=name)
        )
        self.visible = True
        return None

    async def remove_party_member(self, name: str) -> str | None:
        """Remove the player character of that name (compared without case or honorifics); returns the name
        removed, or None when there is none."""
        for existing in await _party(self.session, self.scope):
            if name_key(existing) == name_key(name):
                await self.session.execute(
                    delete(CampaignPartyMember).where(
                        _in(CampaignPartyMember, self.scope), CampaignPartyMember.name == existing
                    )
                )
                self.visible = True
                return existing
        return None

    async def clear_party(self) -> None:
        """Remove every player character of the guild."""
        await self.session.execute(delete(CampaignPartyMember).where(_in(CampaignPartyMember, self.scope)))
        self.visible = True

    async def _chunk_ids(self, document_id: str) -> list[str]:
        return list(
            (
                await self.session.execute(
                    select(CampaignChunk.chunk_id).where(
                        _in(CampaignChunk, self.scope), CampaignChunk.document_id == document_id
                    )
                )
            ).scalars()
        )


async def _party(session: AsyncSession, scope: ScopeLike) -> list[str]:
    rows = await session.execute(
        select(CampaignPartyMember.name)
        .where(_in(CampaignPartyMember, scope))
        .order_by(CampaignPartyMember.added_at, CampaignPartyMember.id)
    )
    return list(rows.scalars())


def document_info(row: CampaignDocument) -> DocumentInfo:
    """The plain view of a document row."""
    return DocumentInfo(
        document_id=row.document_id,
        file_name=row.file_name,
        kind=row.kind,
        size_bytes=row.size_bytes,
        pages=row.pages,
        chunk_count=row.chunk_count,
        player_safe=row.player_safe,
        imported_at=row.imported_at,
        updated_at=row.updated_at,
    )


def heading_path(heading: str) -> tuple[str, ...]:
    """A stored heading ("A › B") as its path of headings."""
    return tuple(part for part in heading.split(HEADING_SEPARATOR) if part) if heading else ()


def _chunk_from_row(row: CampaignChunk) -> Chunk:
    return Chunk(
        chunk_id=row.chunk_id,
        document_id=row.document_id,
        index=row.index,
        text=row.text,
        heading_path=heading_path(row.heading),
        page=row.page,
        gm_only=row.gm_only,
    )
