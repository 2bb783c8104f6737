"""The engine's table fallback: the request's style and the guild's typed canon reach the offline tables."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.improv.kinds import KINDS, Kind
from bot.improv.prompts import Style
from bot.improv.types import PanicRequest
from bot.memory.types import Canon
from bot.settings import Settings
from tests.improv.conftest import open_improviser, passage

GUILD = 515
CRUCIBLE = passage(
    "A tavern built inside a cold smelter. Owner Old Hesk, a one-eyed former caravan guard, pours slag ale.",
    heading="Emberfall › The Gilded Crucible",
)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_science_fiction_guild_with_a_short_length_gets_short_science_fiction_tables(
    make_settings: Callable[..., Settings], kind: Kind
) -> None:
    style = Style(game_system="Mothership", tone="horror", max_words=40)
    async with open_improviser(make_settings()) as (_, improviser, _):
        for _ in range(4):
            result = await improviser.panic(PanicRequest(guild_id=GUILD, user_id=1, kind=kind, style=style))
            assert result.engine == "tables"
            assert result.improv.word_count() <= 40
            text = result.improv.text().lower()
            assert not [w for w in ("torch", "tavern", " gp", " cp", "goblin") if w in text], text


async def test_the_guilds_typed_canon_fills_only_its_own_slots(make_settings: Callable[..., Settings]) -> None:
    async with open_improviser(make_settings(), memory=True) as (_, improviser, memory):
        assert memory is not None
        memory.passages = [CRUCIBLE]
        memory.typed = Canon(people=("Old Hesk",), places=("Gilded Crucible",), party=("Brother Osric",))
        memory.names = ["Old Hesk", "Gilded Crucible", "Brother Osric"]
        for _ in range(12):
            result = await improviser.panic(PanicRequest(guild_id=GUILD, user_id=1, kind="rumor", details="gossip"))
            assert "They say Gilded Crucible" not in result.improv.text()
            assert "Brother Osric" not in result.improv.text()
        tavern = await improviser.panic(
            PanicRequest(guild_id=GUILD, user_id=1, kind="tavern", details="the Gilded Crucible")
        )
    assert tavern.improv.title == "The Gilded Crucible"
    assert "Old Hesk, a one-eyed former caravan guard" in tavern.improv.text()
    assert tavern.sources[0].heading == "Emberfall › The Gilded Crucible"
