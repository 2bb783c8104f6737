"""Table quality: how often an offline answer is about what the GM's details name, in the notes' own terms.

Run: `.venv/bin/python -m bench table_quality [--show]`. Imports the example campaign (`examples/campaign/`) into
a fresh embedded data directory, then asks each prompt below through the real panic path (`Improviser.panic`
with the CLI's patient policy, no model key: the offline tables answer, grounded by the real retrieval and
roster). A prompt is met when the answer's text contains every `must` string (case-insensitive: a name, a
keeper, a foe, a place feature from the notes, or the name the details give) and none of its `never` strings.
Prints the share met; `--show` prints every answer. Goal: >= 90 %.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.improv.config import PATIENT_POLICY
from bot.improv.kinds import Kind
from bot.improv.types import PanicRequest
from bot.memory.types import Upload
from bot.services import open_services
from bot.settings import Settings
from db.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
CAMPAIGN = REPO / "examples" / "campaign"
GUILD = 4242


@dataclass(frozen=True)
class Case:
    """One detail prompt and what its answer must (and must never) contain."""

    kind: Kind
    details: str
    must: tuple[str, ...]
    never: tuple[str, ...] = field(default_factory=tuple)


CASES: tuple[Case, ...] = (
    # people the notes describe: name, role, look, voice and wants from their passage
    Case("npc", "Brenna Coalhand", ("Brenna Coalhand", "master smith", "taps the table twice")),
    Case("npc", "the master smith of the Anvil Quarter", ("Brenna Coalhand", "Lantern Society")),
    Case("npc", "Tobin Marsh", ("Tobin Marsh", "apprentice", "hums work songs")),
    Case("npc", "the apprentice with the burned hand", ("Tobin Marsh",)),
    Case("npc", "Old Hesk, the tavern owner", ("Old Hesk", "one-eyed former caravan guard")),
    Case("npc", "Ysolde Pell the apothecary", ("Ysolde Pell", "Corvane")),
    Case("npc", "Sir Edric Vale", ("Sir Edric Vale", "abacus")),
    Case("npc", "Mira Corvane", ("Mira Corvane", "sharp-tongued niece")),
    Case("npc", "Aldric Corvane", ("Aldric Corvane",)),
    Case("npc", "a guard of House Corvane", ("House Corvane", "sealed galleries")),
    Case("npc", "a member of the Lantern Society", ("Lantern Society", "Deepvein collapse investigated")),
    # a name the details give is the name used, with the role they describe
    Case("npc", "a nervous excise officer named Tolliver Gant", ("Tolliver Gant", "nervous excise officer")),
    Case("npc", "Hettie Brask, a charcoal burner", ("Hettie Brask", "charcoal burner")),
    # taverns: the keeper, the drink and the crowd from the notes
    Case("tavern", "the Gilded Crucible", ("The Gilded Crucible", "Old Hesk", "slag ale")),
    Case("tavern", "where the miners drink", ("Gilded Crucible", "Old Hesk")),
    Case("tavern", "the smugglers' chimney room", ("Gilded Crucible", "smugglers rent the old chimney room")),
    Case("tavern", "a dockside dive called The Salted Eel", ("The Salted Eel",)),
    # places: features from their passage
    Case("location", "the Deepvein Mine", ("The Deepvein Mine", "gallery nine")),
    Case("location", "the pit head", ("Deepvein", "pit head")),
    Case("location", "Widow Pell's apothecary", ("apothecary", "burn salve")),
    Case("location", "the Anvil Quarter", ("The Anvil Quarter", "Brenna Coalhand")),
    Case("location", "Emberfall", ("Emberfall", "smelting town")),
    # encounters against a group of the notes draw their foes from it; a named place is the ground
    Case("encounter", "Corvane's guards at the pit head", ("rust-red cloaks", "pit head"), ("spider", "wolves")),
    Case("encounter", "House Corvane", ("House Corvane", "Mira Corvane", "rust-red cloaks")),
    Case("encounter", "the Lantern Society moving ingots", ("Lantern Society", "Brenna Coalhand")),
    Case("encounter", "the Knockers in gallery nine", ("Knockers", "knocks behind the wall")),
    Case("encounter", "the Duchess's assessor", ("Sir Edric Vale",)),
    Case("encounter", "a brawl in the Gilded Crucible", ("Gilded Crucible", "smelter")),
    # rumors about a subject: one of them from its notes
    Case("rumor", "Brenna Coalhand", ("Brenna", "tithe ingots")),
    Case("rumor", "the Deepvein Mine", ("Deepvein", "knocking")),
    Case("rumor", "the Lantern Society", ("Lantern Society", "tithe")),
    # twists, loot and names about the subject the details name
    Case("twist", "Tobin Marsh", ("Tobin Marsh",)),
    Case("twist", "House Corvane", ("House Corvane",)),
    Case("loot", "the Lantern Society's hidden ingots", ("lantern scratched on a doorframe",)),
    Case("names", "House Corvane's guards", ("a guard, ",), ("a corvane",)),
)


def met(case: Case, text: str) -> bool:
    """Whether an answer's text meets the case."""
    low = text.lower()
    return all(m.lower() in low for m in case.must) and not any(n.lower() in low for n in case.never)


async def run(show: bool) -> tuple[int, int, float]:
    """Import the example campaign, answer every case offline; (met, total, seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.embedded(Path(tmp), panic_cooldown_seconds=0)
        async with open_services(settings) as services:
            await upgrade(services.engine)
            assert services.memory is not None
            uploads = [Upload(p.name, "text/markdown", p.read_bytes()) for p in sorted(CAMPAIGN.glob("*.md"))]
            await services.memory.import_files(GUILD, uploads)
            started = time.perf_counter()
            hits = 0
            for case in CASES:
                request = PanicRequest(
                    guild_id=GUILD, user_id=1, kind=case.kind, details=case.details, check_cooldown=False
                )
                result = await services.improv.panic(request, policy=PATIENT_POLICY)
                ok = met(case, result.improv.text())
                hits += ok
                if show or not ok:
                    print(f"{'ok  ' if ok else 'MISS'} {case.kind} {case.details!r} must {case.must}")
                    print("    " + result.improv.text().replace("\n", "\n    "))
            seconds = time.perf_counter() - started
            await services.tasks.drain(timeout=30)
    return hits, len(CASES), seconds


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench table_quality", description=__doc__)
    parser.add_argument("--show", action="store_true", help="print every answer, not only the misses")
    args = parser.parse_args(argv)
    hits, total, seconds = asyncio.run(run(args.show))
    print(f"table quality: {hits}/{total} prompts met offline ({hits / total:.0%}); goal >= 90 %")
    print(f"{total} panics in {seconds:.1f} s (real retrieval over the example campaign, offline tables)")
    return 0
