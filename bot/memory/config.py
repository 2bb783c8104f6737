"""What campaign memory is configured with (`MemoryConfig`) and works with (`MemoryContext`); no settings here:
the composition root (`bot.services`) reads the environment and builds these."""

from __future__ import annotations

from dataclasses import dataclass

from bot.kv import KeyValue
from bot.memory.embedders import Embedder
from bot.memory.repository import CampaignRepository
from bot.memory.stores import VectorStore

__all__ = ["MemoryConfig", "MemoryContext"]


@dataclass(frozen=True, slots=True)
class MemoryConfig:
    """Limits and tuning of campaign memory (defaults suit the embedded setup and the tests)."""

    max_upload_bytes: int = 20 * 1024 * 1024  # MAX_UPLOAD_MB; a plan's hook may lower it per guild
    parse_seconds: float = 60.0  # PARSE_TIMEOUT_SECONDS: wall-clock limit of reading one file in the worker
    parse_memory_bytes: int = 1024 * 1024 * 1024  # PARSE_MEMORY_MB: the worker's address-space limit per file
    embed_batch: int = 32  # chunks per embedding call (and per progress report)
    candidates: int = 30  # dense candidates fetched from the store before re-ranking
    import_lock_ttl: float = 60.0  # the lock's lease, renewed while its holder lives; a dead one frees it after this
    lock_wait: float = 15.0  # a note, forget or player-safe change waits this long for a running import
    record_ttl: float = 5.0  # seconds a guild's index record (embedder, location, roster) is reused per version
    row_cache_guild_chunks: int = 20_000  # a guild with more visible chunks is not cached (search reads rows)
    row_cache_chunks: int = 40_000  # visible chunk rows kept in process memory over all guilds (LRU)
    query_cache: int = 1024  # query vectors remembered (a later panic's context is an earlier panic's query)
    context_weight: float = 0.5  # how far the context texts, averaged, pull the query vector


@dataclass(slots=True)
class MemoryContext:
    """What every part of campaign memory works with. One shared instance: swapping the embedder (as tests do)
    reaches the importer, the indexer and retrieval at once."""

    repo: CampaignRepository
    kv: KeyValue
    store: VectorStore
    embedder: Embedder
    config: MemoryConfig
