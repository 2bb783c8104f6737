"""Migrations on PostgreSQL and SQLite: upgrade, `alembic check` (models and migrations agree), downgrade, upgrade."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command
from db.engine import create_engine
from db.migrate import alembic_config, upgrade
from db.models import Base
from tests.fixtures_services import create_database, drop_database


async def _run(engine: AsyncEngine, action: str, revision: str) -> None:
    """`alembic upgrade|downgrade <revision>` on the database behind `engine`, through the project's env.py."""
    cfg = alembic_config()
    async with engine.begin() as conn:

        def go(sync_conn: Connection) -> None:
            cfg.attributes["connection"] = sync_conn
            getattr(command, action)(cfg, revision)

        await conn.run_sync(go)


async def _diffs(engine: AsyncEngine) -> list[object]:
    """What autogenerate would still emit: empty when the models and the migrated schema agree."""
    async with engine.connect() as conn:

        def go(sync_conn: Connection) -> list[object]:
            context = MigrationContext.configure(
                sync_conn,
                opts={
                    "target_metadata": Base.metadata,
                    "compare_type": True,
                    "render_as_batch": sync_conn.dialect.name == "sqlite",
                },
            )
            return list(compare_metadata(context, Base.metadata))

        return await conn.run_sync(go)


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names()))


async def _current_heads(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync_conn: MigrationContext.configure(sync_conn).get_current_heads()))


@pytest_asyncio.fixture(loop_scope="session")
async def scratch_pg(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """A PostgreSQL database of its own, created for the test and dropped after it."""
    parsed = make_url(pg_url)
    url = parsed.set(database=f"improv_test_migrations_{secrets.token_hex(4)}").render_as_string(hide_password=False)
    await create_database(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()
        await drop_database(url)


@pytest_asyncio.fixture(loop_scope="session")
async def scratch_sqlite(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty SQLite file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'migrations.sqlite3'}")
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def scratch_engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Each migration test runs on an empty SQLite file and on an empty PostgreSQL database."""
    engine: AsyncEngine = request.getfixturevalue({"sqlite": "scratch_sqlite", "postgres": "scratch_pg"}[request.param])
    return engine


def script_heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def test_upgrade_reaches_every_head_and_creates_every_model_table(scratch_engine: AsyncEngine) -> None:
    await upgrade(scratch_engine)
    assert await _current_heads(scratch_engine) == script_heads()
    assert set(Base.metadata.tables) <= await _tables(scratch_engine)


async def test_models_and_migrations_agree(scratch_engine: AsyncEngine) -> None:
    await upgrade(scratch_engine)
    assert await _diffs(scratch_engine) == []


async def test_downgrade_to_base_removes_everything_then_upgrade_again(scratch_engine: AsyncEngine) -> None:
    await upgrade(scratch_engine)
    await _run(scratch_engine, "downgrade", "base")
    assert await _tables(scratch_engine) <= {"alembic_version"}
    assert await _current_heads(scratch_engine) == set()

    await _run(scratch_engine, "upgrade", "head")
    assert await _current_heads(scratch_engine) == script_heads()
    assert await _diffs(scratch_engine) == []


async def test_upgrade_is_idempotent(scratch_engine: AsyncEngine) -> None:
    await upgrade(scratch_engine)
    await upgrade(scratch_engine)
    assert await _current_heads(scratch_engine) == script_heads()


def test_every_revision_descends_from_the_initial_schema() -> None:
    assert ScriptDirectory.from_config(alembic_config()).get_bases() == ["0001"]


def test_history_is_one_line_so_release_can_upgrade_to_head() -> None:
    assert len(script_heads()) == 1
