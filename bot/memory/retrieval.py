"""Search over a campaign's visible notes, and the caches that keep it off the database on the panic path.

Per process, keyed on the guild's notes version (bumped by every committed change, see bot/memory/mutation.py):
the index record as search reads it (embedder, location, the canon with the party roster), and the visible chunk rows that the store's
hits are joined to. Query vectors are remembered by text (a later panic's context is an earlier panic's
query). The re-rank (dense + BM25) runs inline: ~1 ms of pure Python over the candidates.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from bot.kv import KV_ERRORS
from bot.memory import ranking
from bot.memory.config import MemoryContext
from bot.memory.repository import Row, heading_path
from bot.memory.roster import canon_from_json, with_party
from bot.memory.scope import CampaignScope
from bot.memory.types import Canon, Passage, memory_version_key

log = logging.getLogger(__name__)

__all__ = ["RecordView", "Retrieval", "rank"]


@dataclass(frozen=True, slots=True)
class RecordView:
    """What retrieval reads of a guild's `CampaignMemoryRecord`, cached per process for the same notes version."""

    embedder_id: str
    store_location: str


class Retrieval:
    """Search and roster of campaign memory. `on_mismatch(scope, indexed_with)` is told when a guild's notes
    were indexed by another embedder or at another location (search then answers with no passages)."""

    def __init__(self, ctx: MemoryContext, on_mismatch: Callable[[CampaignScope, str], None]) -> None:
        self._ctx = ctx
        self._on_mismatch = on_mismatch
        # guild -> (notes version, expiry, record view, canon with the party): search and canon skip a database
        # read per panic (party changes bump the notes version too)
        self._records: dict[CampaignScope, tuple[int, float, RecordView | None, Canon]] = {}
        # guild -> (notes version, chunk id -> row) of the visible chunks, least recently used first: search joins
        # the store's hits to these rows without a database read. Every change to visible rows bumps the version
        # after its transaction commits, so rows cached for a version are never older than that version's data.
        # None: the guild is too big to cache at that version.
        self._rows: OrderedDict[CampaignScope, tuple[int, dict[str, Row] | None]] = OrderedDict()
        # query text -> its vector, least recently used first (cleared when the embedder changes)
        self._query_vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()

    def invalidate(self, guild_id: int) -> None:
        """Drop this process's cached records and rows of every campaign of the guild (its notes changed)."""
        for cache in (self._records, self._rows):
            for key in [key for key in cache if key.guild_id == guild_id]:
                del cache[key]

    def forget_query_vectors(self) -> None:
        """Drop remembered query vectors (they belong to the previous embedder)."""
        self._query_vectors.clear()

    async def version(self, scope: CampaignScope) -> int:
        """The guild's notes version (bumped after every committed change to any of its campaigns); -1 when
        unreadable (the caches then live for `record_ttl` at most)."""
        try:
            raw = await self._ctx.kv.get(memory_version_key(scope.guild_id))
        except KV_ERRORS as exc:
            log.warning("notes version unreadable (%s); reading without it", type(exc).__name__)
            return -1
        try:
            return int(raw) if raw else 0
        except ValueError:
            return -1

    async def _view(self, scope: CampaignScope, version: int | None) -> tuple[RecordView | None, Canon]:
        """The guild's index record and canon (the party roster merged in), reused while the notes version is
        unchanged (and for at most `record_ttl` seconds, which bounds staleness should a version bump be lost)."""
        if version is None:
            version = await self.version(scope)
        now = time.monotonic()
        cached = self._records.get(scope)
        if cached is not None and cached[0] == version and cached[1] > now:
            return cached[2], cached[3]
        record, party = await self._ctx.repo.record_and_party(scope)
        view = RecordView(record.embedder_id, record.store_location) if record is not None else None
        notes = canon_from_json(record.canon, record.canon_names or ()) if record is not None else Canon()
        canon = with_party(notes, party)
        self._records[scope] = (version, now + self._ctx.config.record_ttl, view, canon)
        return view, canon

    async def record_view(self, scope: CampaignScope, version: int | None = None) -> RecordView | None:
        """The guild's index record as retrieval needs it (cached per notes version)."""
        return (await self._view(scope, version))[0]

    async def roster(self, scope: CampaignScope) -> list[str]:
        """Canon names of this guild's campaign but the party's: `canon(scope).names()`."""
        return (await self.canon(scope)).names()

    async def canon(self, scope: CampaignScope) -> Canon:
        """Canon names by category, with the GM's party roster (cached per notes version: no database read)."""
        return (await self._view(scope, None))[1]

    async def search(
        self,
        scope: CampaignScope,
        query: str,
        k: int = 5,
        *,
        player_safe_only: bool = False,
        context: Sequence[str] = (),
    ) -> list[Passage]:
        """The best `k` passages of this guild's visible notes for `query`, best first.

        `context` (e.g. the guild's recent requests) steers the dense search a little: the query vector is
        pulled towards their mean by `context_weight`. Query vectors are remembered, so context that was an
        earlier query costs no embedding, and the query itself stays short (embedding cost grows with length).

        No database read per search: the index record and the guild's visible chunk rows are cached per notes
        version (a guild too big for the row cache reads its candidates' rows, plain columns, per search). The
        heavy CPU work releases the GIL and runs off the event loop: the query embedding (onnxruntime) in the
        embedder's thread, the vector scoring (numpy) in the store's. The lexical re-rank is ~1 ms of pure
        Python over the candidates and runs inline: in a thread it would hold the GIL all the same and add a
        hand-off (measured: acknowledgement p99 no better, sometimes worse).
        """
        query = query.strip()
        if not query or k <= 0:
            return []
        ctx = self._ctx
        version = await self.version(scope)
        record = await self.record_view(scope, version)
        if record is None:
            return []
        if record.embedder_id != ctx.embedder.id or record.store_location != ctx.store.location(scope):
            # never mix vector spaces: answer without notes this once, and re-embed them in the background
            self._on_mismatch(scope, record.embedder_id)
            return []
        vector = await self._query_vector(query, context)
        hits = await ctx.store.query(scope, vector, max(ctx.config.candidates, k), player_safe_only=player_safe_only)
        if not hits:
            return []
        scores = {h.chunk_id: h.score for h in hits}
        cached = await self._visible_rows(scope, version)
        if cached is not None:
            rows: Sequence[Row] = [row for row in map(cached.get, scores) if row is not None]
        else:
            rows = await ctx.repo.visible_rows(scope, list(scores))
        if not rows:
            return []
        return rank(query, rows, scores, k, player_safe_only)

    async def _query_vector(self, query: str, context: Sequence[str]) -> npt.NDArray[np.float32]:
        """The unit vector searched for `query` steered by `context`; texts not remembered are embedded in one
        batch (one text alone goes through `embed_query`, which hosted embedders may treat as a query). Remembered
        vectors are read before any embedding awaits, so another search cannot evict them in between."""
        extra = [c for c in dict.fromkeys(c.strip() for c in context) if c and c != query]
        texts = [query, *extra]
        known = {t: self._query_vectors[t] for t in texts if t in self._query_vectors}
        for text in known:
            self._query_vectors.move_to_end(text)
        missing = [t for t in texts if t not in known]
        embedder = self._ctx.embedder
        if len(missing) == 1:
            known[missing[0]] = self._remember_query(missing[0], await embedder.embed_query(missing[0]))
        elif missing:
            for text, row in zip(missing, await embedder.embed(missing), strict=True):
                known[text] = self._remember_query(text, row)
        vectors = [known[t] for t in texts]
        vector = np.asarray(vectors[0], dtype=np.float32)
        if len(vectors) > 1:
            vector = vector + self._ctx.config.context_weight * np.mean(vectors[1:], axis=0, dtype=np.float32)
            vector /= max(float(np.linalg.norm(vector)), 1e-9)
        return vector

    def _remember_query(self, text: str, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        remembered = self._query_vectors[text] = np.asarray(vector, dtype=np.float32)
        while len(self._query_vectors) > self._ctx.config.query_cache:
            self._query_vectors.popitem(last=False)
        return remembered

    async def _visible_rows(self, scope: CampaignScope, version: int) -> dict[str, Row] | None:
        """The guild's visible chunk rows for notes `version` (read once per version), or None if not cached."""
        if version < 0:
            return None
        cached = self._rows.get(scope)
        if cached is not None and cached[0] == version:
            self._rows.move_to_end(scope)
            return cached[1]
        per_guild = self._ctx.config.row_cache_guild_chunks
        found = await self._ctx.repo.visible_rows(scope, None, limit=per_guild + 1)
        rows = {row[0]: row for row in found} if len(found) <= per_guild else None
        self._rows.pop(scope, None)
        self._rows[scope] = (version, rows)
        total = sum(len(r) for _, r in self._rows.values() if r is not None)
        while total > self._ctx.config.row_cache_chunks and len(self._rows) > 1:
            _, (_, evicted) = self._rows.popitem(last=False)
            total -= len(evicted) if evicted is not None else 0
        return rows


def rank(query: str, rows: Sequence[Row], scores: dict[str, float], k: int, player_safe_only: bool) -> list[Passage]:
    """Passages from the candidates' rows, re-ranked (dense + BM25), best first, each scored as it was ranked."""
    candidates = []
    for chunk_id, text, heading, page, document_id, file_name, safe in rows:
        if player_safe_only and not safe:
            continue
        passage = Passage(
            text=text,
            file=file_name,
            heading=heading,
            page=page,
            score=scores[chunk_id],
            document_id=document_id,
            chunk_id=chunk_id,
            player_safe=bool(safe),
        )
        candidates.append(
            ranking.Candidate(
                text=text,
                heading_path=heading_path(heading),
                score=scores[chunk_id],
                chunk_id=chunk_id,
                payload=passage,
            )
        )
    candidates.sort(key=lambda c: -c.score)
    out: list[Passage] = []
    if not candidates:
        return out
    # each passage's score is the fused score the order follows, in the dense score's units (the best dense score
    # plus the spread times the fused score: the dense score plus the lexical and heading bonus), so a score shown
    # is never below one shown after it
    best = candidates[0].score
    spread = max(best - candidates[-1].score, ranking.MIN_SPREAD) / ranking.DENSE_WEIGHT
    for candidate in ranking.rerank(query, candidates, k):
        passage = candidate.payload
        assert isinstance(passage, Passage)
        out.append(replace(passage, score=best + spread * candidate.fused))
    return out
