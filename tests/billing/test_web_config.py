"""The web process refuses to start without a notification secret; `improv billing status --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.settings import ConfigError
from bot.web import serve
from tests.conftest import embedded_settings


async def test_web_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^PADDLE_WEBHOOK_SECRET is not set$"):
        await serve(embedded_settings(tmp_path / "data"))


def test_improv_web_exits_with_one_line_naming_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMPROV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PADDLE_WEBHOOK_SECRET", raising=False)
    assert cli_main(["web"]) == 2
    assert capsys.readouterr().err.strip() == "improv: PADDLE_WEBHOOK_SECRET is not set"


def test_billing_status_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMPROV_DATA_DIR", str(tmp_path / "data"))
    for name in ("DATABASE_URL", "REDIS_URL", "PADDLE_API_KEY", "PADDLE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert cli_main(["billing", "status", "--guild", "290926798626357999", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {"plan", "status", "period_end", "panics_used", "panics_limit"} <= set(status)
    assert (status["plan"], status["panics_used"], status["panics_limit"]) == ("Self-hosted", 0, None)
