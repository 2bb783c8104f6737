"""Run Alembic migrations from the application (the CLI and the tests use this; the app never calls create_all)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

__all__ = ["alembic_config", "upgrade"]

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for this repository's migrations, optionally pinned to `url`."""
    cfg = Config(toml_file=str(ROOT / "pyproject.toml"))
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision`."""
    cfg = alembic_config()
    async with engine.begin() as conn:
        cfg.attributes["connection"] = None

        def _run(sync_conn: object) -> None:
            cfg.attributes["connection"] = sync_conn
            command.upgrade(cfg, revision)

        await conn.run_sync(_run)
