"""`improv campaign …` handlers over the embedded services (argument parsing through the real parser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.services import Services
from tests.memory.memory_support import HashingEmbedder


async def run(services: Services, *argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return int(await args.handler(args, services) or 0)


async def test_import_search_json_list_and_forget(
    services: Services, test_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services.memory.embedder = HashingEmbedder(384)
    md = test_data / "cairn/players-guide/vald.md"
    txt = test_data / "cairn/derived/vald.txt"
    assert await run(services, "campaign", "import", "--guild", "7", "-q", str(md), str(txt)) == 0
    out = capsys.readouterr().out
    assert "vald.md: imported" in out
    assert "vald.txt: imported" in out

    assert await run(services, "campaign", "search", "--guild", "7", "--k", "3", "--json", "Tideborn Rivulus") == 0
    results = json.loads(capsys.readouterr().out)
    assert 1 <= len(results) <= 3
    assert {"text", "file", "heading", "page", "score"} <= set(results[0])
    assert results[0]["file"] == "vald.txt"
    assert "Rivulus" in results[0]["text"]

    assert await run(services, "campaign", "search", "--guild", "8", "--json", "Tideborn") == 0
    assert json.loads(capsys.readouterr().out) == []  # another guild has nothing

    assert await run(services, "campaign", "list", "--guild", "7", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(d["file"] for d in listed) == ["vald.md", "vald.txt"]

    assert await run(services, "campaign", "forget", "--guild", "7", "--document", "vald.txt") == 0
    assert await run(services, "campaign", "forget", "--guild", "7", "--document", "vald.txt") == 1
    assert await run(services, "campaign", "forget", "--guild", "7", "--all") == 0
    capsys.readouterr()
    assert await run(services, "campaign", "list", "--guild", "7") == 0
    assert "no documents" in capsys.readouterr().out


async def test_import_refuses_bad_files_without_reading_them(
    services: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services.memory.embedder = HashingEmbedder(384)
    png = tmp_path / "map.png"
    png.write_bytes(b"\x89PNG")
    assert await run(services, "campaign", "import", "--guild", "7", str(png), str(tmp_path / "missing.md")) == 1
    err = capsys.readouterr().err
    assert "isn't a file type I can read" in err
    assert "missing.md: no such file" in err
