"""Billing's configuration: built from the settings in the composition root, never read from them in billing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.billing.config import BillingConfig, PaddleApiConfig
from bot.billing.plans import Plan, PlanCatalog
from bot.services import billing_config
from bot.settings import ConfigError, Settings, load_settings

PLANS = PlanCatalog(paid={"pri_01gm": Plan(name="Game Master", monthly_panics=5)})


def test_self_hosted_settings_give_a_disabled_config(tmp_path: Path) -> None:
    config = billing_config(Settings.embedded(tmp_path))
    assert config == BillingConfig(plans=PlanCatalog())
    assert not config.enabled


def test_every_billing_setting_reaches_the_config(tmp_path: Path) -> None:
    settings = Settings.embedded(
        tmp_path,
        paddle_webhook_secret=["pdl_ntfset_old", "pdl_ntfset_new"],
        paddle_api_key="pdl_live_apikey_01test",
        paddle_environment="production",
        paddle_api_base_url="http://127.0.0.1:9999",
        paddle_signature_tolerance_seconds=7,
        paddle_plans=PLANS.model_dump(),
        paddle_past_due_grace_days=2.5,
        entitlement_cache_seconds=4,
    )
    config = billing_config(settings)
    assert [s.get_secret_value() for s in config.webhook_secrets] == ["pdl_ntfset_old", "pdl_ntfset_new"]
    assert config.paddle_api is not None
    assert config.paddle_api.api_key.get_secret_value() == "pdl_live_apikey_01test"
    assert (config.paddle_api.environment, config.paddle_api.base_url) == ("production", "http://127.0.0.1:9999")
    assert (config.signature_tolerance_seconds, config.entitlement_cache_seconds) == (7, 4)
    assert config.past_due_grace == timedelta(days=2.5)
    assert config.plans == PLANS


def test_either_a_webhook_secret_or_an_api_key_enables_billing() -> None:
    assert BillingConfig(webhook_secrets=(SecretStr("pdl_ntfset_x"),)).enabled
    assert BillingConfig(paddle_api=PaddleApiConfig(SecretStr("pdl_sdbx_apikey_x"))).enabled
    assert not BillingConfig().enabled


@pytest.mark.parametrize(
    ("key", "environment", "wanted"),
    [("pdl_live_apikey_01s3cr3t", "sandbox", "production"), ("pdl_sdbx_apikey_01s3cr3t", "production", "sandbox")],
)
def test_an_api_key_of_the_other_environment_fails_in_one_line(
    monkeypatch: pytest.MonkeyPatch, key: str, environment: str, wanted: str
) -> None:
    monkeypatch.setenv("PADDLE_API_KEY", key)
    monkeypatch.setenv("PADDLE_ENVIRONMENT", environment)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"PADDLE_ENVIRONMENT: is {environment} but PADDLE_API_KEY is")
    assert f"PADDLE_ENVIRONMENT={wanted}" in message
    assert "\n" not in message
    assert "s3cr3t" not in message


def test_the_default_sandbox_refuses_a_live_key_and_matching_keys_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PADDLE_API_KEY", "pdl_live_apikey_01s3cr3t")
    with pytest.raises(ConfigError, match=r"^PADDLE_ENVIRONMENT: is sandbox but PADDLE_API_KEY is a live key"):
        load_settings()
    monkeypatch.setenv("PADDLE_ENVIRONMENT", "production")
    assert load_settings().paddle_environment == "production"
    monkeypatch.setenv("PADDLE_API_KEY", "pdl_sdbx_apikey_01s3cr3t")
    monkeypatch.setenv("PADDLE_ENVIRONMENT", "sandbox")
    assert load_settings().paddle_environment == "sandbox"
    monkeypatch.setenv(
        "PADDLE_API_KEY", "0123456789abcdef0123456789abcdef0123456789abcdef01"
    )  # a key made before prefixes
    assert load_settings().paddle_environment == "sandbox"


def test_the_web_process_stops_at_startup_with_that_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PADDLE_", "DATABASE_URL", "REDIS_URL"))}
    env |= {
        "IMPROV_DATA_DIR": str(tmp_path),
        "PADDLE_API_KEY": "pdl_live_apikey_01s3cr3t",
        "PADDLE_WEBHOOK_SECRET": "pdl_ntfset_01test",
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.web"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("improv: PADDLE_ENVIRONMENT: is sandbox but PADDLE_API_KEY is a live key")
    assert "s3cr3t" not in result.stderr
