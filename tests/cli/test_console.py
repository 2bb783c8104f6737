"""`improv console` as a user runs it: a real process, a script, embedded defaults, no keys, no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

IMPROV = Path(sys.executable).with_name("improv")


def run_console(data_dir: Path, lines: list[str], *, as_json: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the console over a script in a clean environment (no service URLs, no keys)."""
    script = data_dir.parent / f"script-{len(list(data_dir.parent.glob('script-*')))}.txt"
    script.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    args = [str(IMPROV), "--data-dir", str(data_dir), "console", "--script", str(script)]
    if as_json:
        args.append("--json")
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


def events(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The JSON lines the console printed."""
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_console_runs_panic_help_and_prints_discord_json(tmp_path: Path) -> None:
    [event] = events(run_console(tmp_path / "data", ["/panic help"]))
    assert event["event"] == "message"
    assert event["ephemeral"] is True
    assert event["embeds"][0]["title"] == "Improv Panic Button"


def test_console_reports_a_mistyped_line_and_goes_on(tmp_path: Path) -> None:
    out = events(run_console(tmp_path / "data", ["/panic nope", "click Nothing", "/panic help"]))
    assert [e["event"] for e in out] == ["error", "error", "message"]
    assert "needs a subcommand" in out[0]["message"]


def test_console_renders_embeds_for_people(tmp_path: Path) -> None:
    result = run_console(tmp_path / "data", ["/panic help"], as_json=False)
    assert result.returncode == 0, result.stderr
    assert "only you can see this" in result.stdout
    assert "** Improv Panic Button **" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_button_posted_in_one_run_works_in_the_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    [posted] = events(run_console(data, ["/panic button"]))
    assert posted["ephemeral"] is False
    custom_ids = [c["custom_id"] for row in posted["components"] for c in row["components"]]
    assert "panic:button:default" in custom_ids

    answer = events(run_console(data, ["click PANIC!"]))  # a new process: the bot restarted
    assert [e["event"] for e in answer if e["event"] == "error"] == []
    mine = [e for e in answer if e["event"] == "message"]
    assert mine
    assert all(e["ephemeral"] for e in mine)  # the answer is for the clicker only
    assert mine[-1]["embeds"][0]["fields"]


def test_the_readme_demo_imports_the_example_and_panics_every_kind(tmp_path: Path) -> None:
    demo = (Path(__file__).resolve().parents[2] / "examples" / "demo.txt").read_text().splitlines()
    out = events(run_console(tmp_path / "data", demo))
    assert [e for e in out if e["event"] == "error"] == []
    text = json.dumps(out)
    assert "Imported **emberfall.md**" in text
    footers = [e["embeds"][0].get("footer", {}).get("text", "") for e in out if e["embeds"]]
    assert sum("offline tables" in f for f in footers) >= 8 + 2  # every kind, then the button and the picker
    assert any("emberfall.md" in json.dumps(e["embeds"]) and "Sources" in json.dumps(e["embeds"]) for e in out)
