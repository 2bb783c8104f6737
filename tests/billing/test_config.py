"""Billing's configuration: built from the settings in the composition root, never read from them in billing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from bot.billing.config import BillingConfig, PaddleApiConfig
from bot.billing.plans import Plan, PlanCatalog
from bot.services import billing_config
from bot.settings import Settings

PLANS = PlanCatalog(paid={"pri_01gm": Plan(name="Game Master", monthly_panics=5)})


def test_self_hosted_settings_give_a_disabled_config(tmp_path: Path) -> None:
    config = billing_config(Settings.embedded(tmp_path))
    assert config == BillingConfig(plans=PlanCatalog())
    assert not config.enabled


def test_every_billing_setting_reaches_the_config(tmp_path: Path) -> None:
    settings = Settings.embedded(
        tmp_path,
        paddle_webhook_secret=["pdl_ntfset_old", "pdl_ntfset_new"],
        paddle_api_key="pdl_sdbx_apikey_01test",
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
    assert config.paddle_api.api_key.get_secret_value() == "pdl_sdbx_apikey_01test"
    assert (config.paddle_api.environment, config.paddle_api.base_url) == ("production", "http://127.0.0.1:9999")
    assert (config.signature_tolerance_seconds, config.entitlement_cache_seconds) == (7, 4)
    assert config.past_due_grace == timedelta(days=2.5)
    assert config.plans == PLANS


def test_either_a_webhook_secret_or_an_api_key_enables_billing() -> None:
    assert BillingConfig(webhook_secrets=(SecretStr("pdl_ntfset_x"),)).enabled
    assert BillingConfig(paddle_api=PaddleApiConfig(SecretStr("pdl_sdbx_apikey_x"))).enabled
    assert not BillingConfig().enabled
