"""`improv campaign import` as a user or a deploy runs it: SIGTERM mid-import, a busy or unreachable lock, and
debug logging (real processes; the lock in the real Redis, the notes in SQLite in the data directory)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import redis

IMPROV = Path(sys.executable).with_name("improv")
OLD_NOTES = "# Harrowgate\n\n## Old Mira\n\nOld Mira keeps the ferry at Harrowgate and counts every coin twice.\n"
WORDS = [
    "ember",
    "vault",
    "crown",
    "river",
    "mill",
    "tanner",
    "ferry",
    "warden",
    "smith",
    "lantern",
    "bell",
    "tower",
    "gate",
    "toll",
    "marsh",
    "salt",
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    env.update(extra)
    return env


def improv(data_dir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(IMPROV), "--data-dir", str(data_dir), "campaign", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180, check=False)


def _big_notes(sections: int) -> str:
    """Enough text that embedding it takes seconds (hundreds of passages)."""
    rng = random.Random(5)
    body = "\n".join(
        f"## Part {i}\n\n" + " ".join(rng.choice(WORDS) for _ in range(120)) + ".\n" for i in range(sections)
    )
    return "# Harrowgate, the long version\n\n" + body


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _lock_key(guild: int) -> str:
    return f"improv:campaign:{guild}:import-lock"  # RedisKeyValue's prefix + bot.memory.mutation.lock_key


class _Collector(threading.Thread):
    """Reads a process's stderr as it comes (progress lines end in a carriage return, not a newline)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.text = ""

    def run(self) -> None:
        while chunk := self.stream.read1(4096):
            self.text += chunk.decode(errors="replace")


def test_sigterm_mid_import_rolls_back_releases_the_lock_and_exits_0(tmp_path: Path, redis_url: str) -> None:
    guild = random.randrange(10**12, 10**13)
    env = _env(REDIS_URL=redis_url)
    data = tmp_path / "d"
    notes = tmp_path / "harrowgate.md"
    notes.write_text(OLD_NOTES)
    first = improv(data, "import", "--guild", str(guild), str(notes), env=env)
    assert first.returncode == 0, first.stderr
    [before] = json.loads(improv(data, "list", "--guild", str(guild), "--json", env=env).stdout)

    notes.write_text(_big_notes(600))  # a new version of the same file, slow to embed
    command = [str(IMPROV), "--data-dir", str(data), "campaign", "import", "--guild", str(guild), str(notes)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stderr is not None
    collector = _Collector(process.stderr)
    collector.start()
    deadline = time.monotonic() + 150
    while not re.search(r": [1-9]\d*/\d+ chunks embedded", collector.text):
        assert process.poll() is None, collector.text
        assert time.monotonic() < deadline, collector.text
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    collector.join(timeout=10)
    assert "stopped by SIGTERM" in collector.text
    assert "Traceback" not in collector.text

    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get(_lock_key(guild)) is None  # released, not left to expire
    finally:
        client.close()
    assert json.loads(improv(data, "list", "--guild", str(guild), "--json", env=env).stdout) == [before]
    status = json.loads(improv(data, "status", "--guild", str(guild), env=env).stdout)
    assert status["vectors"] == status["chunks"] == before["chunks"]  # the cancelled version's vectors are gone
    found = json.loads(improv(data, "search", "--guild", str(guild), "ferry coin", "--json", env=env).stdout)
    assert "Old Mira" in found[0]["text"]

    other = tmp_path / "other.md"
    other.write_text("# The Salt Kings\n\nThe Salt Kings rule the marsh beyond the toll gate.\n")
    again = improv(data, "import", "--guild", str(guild), "-q", str(other), env=env)
    assert again.returncode == 0, again.stderr  # the guild is free at once


def test_busy_lock_is_one_line(tmp_path: Path, redis_url: str) -> None:
    guild = random.randrange(10**12, 10**13)
    notes = tmp_path / "harrowgate.md"
    notes.write_text(OLD_NOTES)
    client = redis.Redis.from_url(redis_url)
    client.set(_lock_key(guild), b"another-importer", px=60_000)
    try:
        result = improv(
            tmp_path / "d", "import", "--guild", str(guild), "-q", str(notes), env=_env(REDIS_URL=redis_url)
        )
    finally:
        client.delete(_lock_key(guild))
        client.close()
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "improv: Another import is still running for this server. Wait for it to finish, then try again."
    ]


def test_unreachable_lock_service_is_one_line(tmp_path: Path) -> None:
    notes = tmp_path / "harrowgate.md"
    notes.write_text(OLD_NOTES)
    env = _env(REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0")
    result = improv(tmp_path / "d", "import", "--guild", "5", "-q", str(notes), env=env)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("improv: The lock service (Redis) isn't answering")
    assert "Try again" in line
    verbose = improv(tmp_path / "d", "import", "--guild", "5", str(notes), env=env)  # with the usual INFO logs
    assert "Traceback" not in verbose.stderr
    assert verbose.stderr.splitlines()[-1] == line


def test_debug_logging_never_shows_note_text(tmp_path: Path) -> None:
    notes = tmp_path / "secrets.md"
    notes.write_text("# Secrets\n\nZanthrax the Unseen hides the obsidian key under the ninth bell.\n")
    result = improv(tmp_path / "d", "import", "--guild", "5", str(notes), env=_env(IMPROV_LOG_LEVEL="DEBUG"))
    assert result.returncode == 0, result.stderr
    assert " DEBUG " in result.stderr  # debug logging was on
    assert "obsidian key" not in result.stderr + result.stdout
    assert "Zanthrax" not in result.stderr + result.stdout
