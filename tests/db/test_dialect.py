"""`db.dialect`: one switch between the PostgreSQL and SQLite upserts, from any bound object or a name."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from db.dialect import dialect_name, greatest_for, insert_for
from db.engine import create_engine, create_sessionmaker
from db.migrate import upgrade
from db.models import Guild


def test_names_pick_their_dialects_insert() -> None:
    assert insert_for("postgresql") is postgresql.insert
    assert insert_for("sqlite") is sqlite.insert


def test_other_dialects_are_refused_by_name() -> None:
    with pytest.raises(RuntimeError, match=r"unsupported database dialect 'mysql'"):
        insert_for("mysql")


async def test_engine_connection_and_session_all_give_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        async with engine.connect() as conn, create_sessionmaker(engine)() as session:
            assert [dialect_name(s) for s in (engine, conn, session, engine.dialect)] == ["sqlite"] * 4
            assert insert_for(session) is sqlite.insert
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_postgres_engine_gives_postgresql(pg_engine: AsyncEngine) -> None:
    assert insert_for(pg_engine) is postgresql.insert


async def test_the_upsert_ignores_a_conflict_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            for name in ("first", "second"):
                await conn.execute(insert_for(conn)(Guild).values(id=7, name=name).on_conflict_do_nothing())
            assert (await conn.execute(select(Guild.name).where(Guild.id == 7))).scalars().all() == ["first"]
    finally:
        await engine.dispose()


async def test_greatest_picks_the_larger_value_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.sqlite3'}")
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(greatest_for(conn)(literal(3), literal(8), literal(5)))) == 8
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_greatest_picks_the_larger_value_on_postgres(pg_engine: AsyncEngine) -> None:
    async with pg_engine.connect() as conn:
        assert await conn.scalar(select(greatest_for(conn)(literal(3), literal(8), literal(5)))) == 8
