"""A multi-file import imports every good file and reports each bad one with its reason; Pinecone failing in the
middle of a file leaves nothing of that file behind (no vectors, no rows) and the next files go on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.errors import UserFacingError
from bot.kv import MemoryKeyValue
from bot.memory import CampaignMemory, MemoryConfig
from bot.memory.chunking import document_id_for
from bot.memory.errors import EmptyDocument, UnsupportedFile, VectorsNotStored
from bot.memory.stores import PineconeVectorStore, namespace_for
from bot.memory.types import ImportReport, Upload
from db.engine import create_sessionmaker
from tests.fakes.pinecone import API_KEY, running_indexes
from tests.memory.memory_support import DIM, HashingEmbedder, many_sections, new_guild


async def test_pinecone_failing_mid_file_skips_that_file_whole_and_imports_the_rest(
    sqlite_engine: AsyncEngine,
) -> None:
    first, broken, last = many_sections("alder", 3), many_sections("brine", 12), many_sections("cinder", 3)
    broken_id = document_id_for(broken)
    seen_of_broken: list[int] = []

    def fail_after_first_batch(body: dict[str, Any]) -> int | None:
        if not any(v["id"].startswith(broken_id) for v in body.get("vectors", [])):
            return None
        seen_of_broken.append(len(body["vectors"]))
        return 400 if len(seen_of_broken) > 1 else None  # the first batch lands, every later one is refused

    async with running_indexes(1, DIM) as (index,):
        index.fail_upsert = fail_after_first_batch
        store = PineconeVectorStore(API_KEY, [index.host])
        memory = CampaignMemory(
            create_sessionmaker(sqlite_engine),
            MemoryKeyValue(),
            store,
            HashingEmbedder(DIM),
            MemoryConfig(embed_batch=2),
        )
        guild = new_guild()
        try:
            results = await memory.import_files(
                guild,
                [
                    Upload("alder.md", "text/markdown", first),
                    Upload("tools.exe", None, b"MZ\x90\x00"),
                    Upload("brine.md", "text/markdown", broken),
                    Upload("empty.md", "text/markdown", b""),
                    Upload("cinder.md", "text/markdown", last),
                ],
            )
            documents = {d.file_name for d in await memory.list_documents(guild)}
            hits = await memory.search(guild, "brine place number 7 has a well", k=10)
        finally:
            await memory.aclose()
        stored = index.vectors(namespace_for(guild))

    alder, exe, brine, empty, cinder = results
    assert isinstance(alder, ImportReport)
    assert alder.outcome == "imported"
    assert isinstance(exe, UnsupportedFile)
    assert isinstance(brine, VectorsNotStored)
    assert "**brine.md** wasn't imported" in brine.message
    assert "injected failure" in brine.message  # Pinecone's own reason
    assert isinstance(empty, EmptyDocument)
    assert isinstance(cinder, ImportReport)
    assert cinder.outcome == "imported"
    assert all(isinstance(r, ImportReport | UserFacingError) for r in results)

    assert len(seen_of_broken) > 1  # it did fail in the middle: one batch of brine.md had landed
    assert not [vid for vid in stored if vid.startswith(broken_id)]  # ... and went again
    assert len(stored) == alder.chunks + cinder.chunks
    assert documents == {"alder.md", "cinder.md"}
    assert all("brine" not in hit.file for hit in hits)
