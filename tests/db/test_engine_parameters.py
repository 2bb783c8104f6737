"""SQL parameters (GM-only note text among them) never appear in a database error's message, which is what a log
line would show."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

SECRET = "Zanthrax hides the obsidian key"


async def test_failed_statement_hides_its_parameters(db_session: AsyncSession) -> None:
    with pytest.raises(DBAPIError) as raised:
        await db_session.execute(text("INSERT INTO no_such_table (note) VALUES (:note)"), {"note": SECRET})
    message = str(raised.value)
    assert "no_such_table" in message  # the statement is still there for the host …
    assert SECRET not in message  # … its parameters are not
    assert "parameters hidden" in message
