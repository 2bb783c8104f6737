"""Campaign memory: import GM notes, chunk, embed, store per guild, retrieve with citations (no discord).

`CampaignMemory` (bot/memory/campaign.py) is the facade the doors use; its parts: repository (SQL), mutation
(every write), importer, retrieval, indexing; stores and embedders behind their protocols.
"""

from bot.memory.campaign import CampaignMemory
from bot.memory.config import MemoryConfig
from bot.memory.errors import DocumentNotFound, ImportBusy, ImportProblem, MemoryFull
from bot.memory.types import Canon, DocumentInfo, ImportProgress, ImportReport, MemoryStatus, Passage, Upload

__all__ = [
    "CampaignMemory",
    "Canon",
    "DocumentInfo",
    "DocumentNotFound",
    "ImportBusy",
    "ImportProblem",
    "ImportProgress",
    "ImportReport",
    "MemoryConfig",
    "MemoryFull",
    "MemoryStatus",
    "Passage",
    "Upload",
]
