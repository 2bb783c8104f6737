"""The web process: its own webhook pool, refusing to start without a notification secret; `improv billing
status --json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.pool import QueuePool

from bot.cli import main as cli_main
from bot.services import open_services
from bot.settings import ConfigError, Settings
from bot.web import WebLimits, serve
from bot.web import main as web_main
from db.engine import WEBHOOK_POOL_SIZE


@pytest.mark.postgres
async def test_the_web_process_applies_webhooks_through_its_own_small_pool(tmp_path: Path, pg_url: str) -> None:
    settings = Settings.embedded(tmp_path / "data", database_url=pg_url)
    async with open_services(settings, webhook_pool=True) as services:
        engine = services.billing.webhook_engine
        assert engine is not services.engine
        assert engine.url == services.engine.url
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.size() == WEBHOOK_POOL_SIZE == 8
        assert (pool._max_overflow, pool._pre_ping) == (0, False)  # no overflow, no pre-ping (pinned SQLAlchemy)


@pytest.mark.postgres
async def test_other_processes_apply_webhooks_through_the_main_engine(tmp_path: Path, pg_url: str) -> None:
    async with open_services(Settings.embedded(tmp_path / "data", database_url=pg_url)) as services:
        assert services.billing.webhook_engine is services.engine


async def test_on_sqlite_the_web_process_shares_the_main_engine(tmp_path: Path) -> None:
    async with open_services(Settings.embedded(tmp_path / "data"), webhook_pool=True) as services:
        assert services.billing.webhook_engine is services.engine


async def test_web_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^PADDLE_WEBHOOK_SECRET is not set$"):
        await serve(Settings.embedded(tmp_path / "data"))


def test_improv_web_exits_with_one_line_naming_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMPROV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PADDLE_WEBHOOK_SECRET", raising=False)
    assert cli_main(["web"]) == 2
    assert capsys.readouterr().err.strip() == "improv: PADDLE_WEBHOOK_SECRET is not set"


def test_python_m_bot_web_exits_with_one_line_naming_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMPROV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PADDLE_WEBHOOK_SECRET", raising=False)
    assert web_main() == 2
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


def test_the_web_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = Settings.embedded(
        tmp_path / "data",
        web_header_timeout_seconds=1.5,
        web_body_timeout_seconds=2.5,
        web_max_connections=64,
        webhook_db_timeout_seconds=0.75,
    )
    assert WebLimits.from_settings(settings) == WebLimits(
        header_seconds=1.5, body_seconds=2.5, max_connections=64, database_seconds=0.75
    )
    defaults = WebLimits.from_settings(Settings.embedded(tmp_path / "data"))
    assert defaults == WebLimits()  # the settings' defaults and the dataclass's agree
    assert defaults.database_seconds + defaults.health_seconds < 5  # inside Paddle's 5 s
