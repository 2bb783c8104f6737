"""Logging configured once, at the entry point."""

from __future__ import annotations

import logging
import os

__all__ = ["configure_logging"]


def _no_voice_warning(record: logging.LogRecord) -> bool:
    """The bot never joins voice: drop discord.py's start-up notes about missing voice libraries."""
    return not (record.name == "discord.client" and "voice will NOT be supported" in record.getMessage())


def configure_logging(level: str = "INFO") -> None:
    """Plain one-line records on stderr; discord.py's chatty HTTP logger and SQL logging kept at WARNING."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
        force=True,
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_no_voice_warning)
    logging.getLogger("discord.http").setLevel(logging.WARNING)
    logging.getLogger("discord.gateway").setLevel(logging.WARNING)
    # SQLAlchemy logs statements at INFO and result rows at DEBUG: rows hold GM-only note text, so never below
    # WARNING whatever the level (statement parameters are hidden by the engine, `db.engine`)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # onnxruntime must never phone home; the variable only works when set before it is imported.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
