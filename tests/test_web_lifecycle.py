"""The web process as the Procfile runs it (`python -m bot.web`, and `improv web`): SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

IMPROV = Path(sys.executable).with_name("improv")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("command", [[sys.executable, "-m", "bot.web"], [str(IMPROV), "web"]], ids=["module", "cli"])
def test_sigterm_stops_the_web_process_with_exit_0(tmp_path: Path, command: list[str]) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_TOKEN", "_SECRET"))}
    env.update(
        IMPROV_DATA_DIR=str(tmp_path / "d"),
        PADDLE_WEBHOOK_SECRET="pdl_ntfset_lifecycle_test_secret",
        PORT=str(port),
        IMPROV_WEB_HOST="127.0.0.1",
    )
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not _healthy(port):
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not _healthy(port)
