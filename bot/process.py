"""Process-wide tuning shared by the bot and web processes (no discord)."""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> None:
    """Move everything alive after startup (libraries, settings, services, cogs) out of the cyclic garbage
    collector's reach. They live as long as the process; scanning them made every full collection take ~190 ms
    on the 2-core host, stalling every request or acknowledgement that fell inside it (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
