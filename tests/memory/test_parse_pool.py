"""The parsing worker pool: each pattern's worst case at 100 KB finishes well within a generous limit (a
super-linear pattern would run into it), and a worker over its time or memory limit, cancelled or dead is
replaced."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from bot.memory.errors import CorruptDocument
from bot.memory.parsing.pool import ParsePool, TookTooLong, TooLargeUnpacked
from tests.memory.hostile_files import WORST_LINES, docx_of_paragraphs, pdf_of_pages, slow_notes

N = 100_000

GENEROUS = 20.0  # seconds; each case takes well under 0.2 s when linear, minutes when super-linear


@pytest.fixture(scope="module")
def pool() -> Iterator[ParsePool]:
    opened = ParsePool(1)
    yield opened
    opened.close()


def _docx(text: str) -> bytes:
    document = docx.Document()
    document.add_heading("Hostile", level=1)
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(WORST_LINES))
async def test_worst_case_of_each_pattern_finishes_in_markdown_and_text(pool: ParsePool, case: str) -> None:
    data = ("# Notes\n\n" + WORST_LINES[case] + "\n\nThe end.\n").encode()
    assert len(data) >= N
    for name in ("hostile.md", "hostile.txt"):
        result = await pool.parse(name, data, "d", seconds=GENEROUS)
        assert result.chunks


@pytest.mark.parametrize("case", ["html tag", "liquid tag", "link", "sentence end"])
async def test_worst_case_in_a_docx_paragraph_finishes(pool: ParsePool, case: str) -> None:
    result = await pool.parse("hostile.docx", _docx(WORST_LINES[case]), "d", seconds=GENEROUS)
    assert result.kind == "docx"


async def test_the_issues_docx_and_pdf_bombs_are_refused_in_the_worker(pool: ParsePool) -> None:
    with pytest.raises(TooLargeUnpacked, match=r"\*\*tiny\.docx\*\*"):
        await pool.parse("tiny.docx", docx_of_paragraphs(193, block=720), "d")
    with pytest.raises(TooLargeUnpacked, match=r"\*\*bomb\.pdf\*\*"):
        await pool.parse("bomb.pdf", pdf_of_pages(["The Salty Eel is a tavern."], padding=600 * 1024 * 1024), "d")


async def test_pdf_progress_comes_from_the_worker(pool: ParsePool, test_data: Path) -> None:
    seen: list[tuple[int, int]] = []
    data = (test_data / "cairn/derived/vald.pdf").read_bytes()
    result = await pool.parse("vald.pdf", data, "d", on_page=lambda done, total: seen.append((done, total)))
    assert result.pages == 13
    assert seen == [(n, 13) for n in range(1, 14)]
    assert {chunk.document_id for chunk in result.chunks} == {"d"}


async def test_the_parsers_own_problems_keep_their_class_and_message(pool: ParsePool) -> None:
    with pytest.raises(CorruptDocument, match=r"\*\*broken\.pdf\*\* looks damaged"):
        await pool.parse("broken.pdf", b"%PDF-1.7 not really", "d")


async def test_a_file_over_the_time_limit_kills_the_worker_and_the_next_file_gets_a_new_one(
    pool: ParsePool, test_data: Path
) -> None:
    started = pool.started
    with pytest.raises(TookTooLong, match=r"\*\*slow\.md\*\* took too long to read \(over the 0\.3-second limit\)"):
        await pool.parse("slow.md", slow_notes(19), "d", seconds=0.3)
    vald = (test_data / "cairn/players-guide/vald.md").read_bytes()
    assert (await pool.parse("vald.md", vald, "d")).chunks
    assert pool.started == started + 1


async def test_a_file_over_the_memory_limit_is_refused_with_the_limit(pool: ParsePool) -> None:
    with pytest.raises(TooLargeUnpacked, match=r"\*\*big\.md\*\* is too large once unpacked .*128\.0 MB"):
        await pool.parse("big.md", slow_notes(19), "d", memory_bytes=128 * 1024 * 1024)
    assert (await pool.parse("small.md", b"# Small\n\nA tavern.", "d")).chunks


async def test_a_cancelled_parse_stops_its_worker(pool: ParsePool) -> None:
    task = asyncio.create_task(pool.parse("slow.md", slow_notes(19), "d"))
    await asyncio.sleep(0.3)
    pids = {worker.process.pid for worker in pool._workers}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await pool.parse("small.md", b"# Small\n\nA tavern.", "d")).chunks
    assert not pids & {worker.process.pid for worker in pool._workers}  # the busy worker is gone


async def test_a_worker_that_dies_mid_file_gives_a_damaged_file_message_and_is_replaced(pool: ParsePool) -> None:
    task = asyncio.create_task(pool.parse("slow.md", slow_notes(19), "d"))
    await asyncio.sleep(0.3)
    for worker in pool._workers:
        os.kill(worker.process.pid, 9)
    with pytest.raises(CorruptDocument, match=r"slow\.md"):
        await task
    assert (await pool.parse("small.md", b"# Small\n\nA tavern.", "d")).chunks
