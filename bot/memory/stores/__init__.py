"""Vector stores behind one protocol (`VectorStore`, in base.py): exact cosine over local numpy files
(local.py), or Pinecone with one namespace per guild (pinecone_store.py)."""

from bot.memory.stores.base import Vector, VectorHit, VectorRecord, VectorStore, VectorStoreError
from bot.memory.stores.local import LocalVectorStore
from bot.memory.stores.pinecone_store import PineconeVectorStore, jump_hash, namespace_for

__all__ = [
    "LocalVectorStore",
    "PineconeVectorStore",
    "Vector",
    "VectorHit",
    "VectorRecord",
    "VectorStore",
    "VectorStoreError",
    "jump_hash",
    "namespace_for",
]
