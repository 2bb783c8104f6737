"""The site's settings: `PUBLIC_BASE_URL` must be an https origin, `PADDLE_CLIENT_TOKEN` a client-side token of
`PADDLE_ENVIRONMENT`'s kind (never an API key), `SITE_PRICES` only for plans of `PADDLE_PLANS`, `SITE_PAGES_DIR`
a folder; each refusal is one line naming the variable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.settings import ConfigError, load_settings
from tests.test_settings import settings_env_names
from tests.web.browser import PLANS


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    names = settings_env_names()
    for key in list(os.environ):
        if key.upper() in names:
            monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://improv.example.com", "https://improv.example.com"),
        ("https://improv.example.com/", "https://improv.example.com"),
        ("https://Improv.Example.com:8443", "https://improv.example.com:8443"),
        ("http://localhost:8080", "http://localhost:8080"),  # local trials only
        ("  ", None),
    ],
)
def test_public_base_url_is_kept_as_an_origin(monkeypatch: pytest.MonkeyPatch, given: str, kept: str | None) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", given)
    assert load_settings().public_base_url == kept


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ("http://improv.example.com", "must use https"),
        ("https://improv.example.com/pay", "origin only"),
        ("https://improv.example.com?x=1", "origin only"),
        ("https://user:pw@improv.example.com", "origin only"),
        ("improv.example.com", "must be an https URL"),
        ("ftp://improv.example.com", "must be an https URL"),
    ],
)
def test_public_base_url_refusals_name_the_variable(monkeypatch: pytest.MonkeyPatch, given: str, says: str) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", given)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("PUBLIC_BASE_URL: ")
    assert says in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("environment", "token", "says"),
    [
        ("sandbox", "live_0b1c2d3e4f5a6b7c8d9e0f1a2b3", "must start with test_ for PADDLE_ENVIRONMENT=sandbox"),
        ("production", "test_0b1c2d3e4f5a6b7c8d9e0f1a2b3", "must start with live_ for PADDLE_ENVIRONMENT=production"),
        ("sandbox", "pdl_sdbx_apikey_01abc", "is an API key, which must never reach a web page"),
    ],
)
def test_the_client_token_must_fit_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: str, token: str, says: str
) -> None:
    monkeypatch.setenv("PADDLE_ENVIRONMENT", environment)
    monkeypatch.setenv("PADDLE_CLIENT_TOKEN", token)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("PADDLE_CLIENT_TOKEN: ")
    assert says in str(caught.value)


def test_a_matching_client_token_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PADDLE_ENVIRONMENT", "production")
    monkeypatch.setenv("PADDLE_CLIENT_TOKEN", " live_0b1c2d3e4f5a6b7c8d9e0f1a2b3 ")
    assert load_settings().paddle_client_token == "live_0b1c2d3e4f5a6b7c8d9e0f1a2b3"


def test_site_prices_are_for_configured_plans_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PADDLE_PLANS", json.dumps(PLANS))
    monkeypatch.setenv("SITE_PRICES", json.dumps({"pri_01gamemaster0000000000000": " $5 a month "}))
    assert load_settings().site_prices == {"pri_01gamemaster0000000000000": "$5 a month"}
    monkeypatch.setenv("SITE_PRICES", json.dumps({"pri_01typo": "$5 a month"}))
    with pytest.raises(ConfigError, match=r"^SITE_PRICES: names pri_01typo, not a paid plan of PADDLE_PLANS$"):
        load_settings()
    monkeypatch.setenv("SITE_PRICES", json.dumps({"pri_01gamemaster0000000000000": ""}))
    with pytest.raises(ConfigError, match=r"^SITE_PRICES: "):
        load_settings()


def test_site_pages_dir_must_be_a_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SITE_PAGES_DIR", str(tmp_path))
    assert load_settings().site_pages_dir == tmp_path
    monkeypatch.setenv("SITE_PAGES_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match=r"^SITE_PAGES_DIR: .*is not a folder"):
        load_settings()


def test_discord_application_id_is_a_snowflake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_APPLICATION_ID", "1187654321098765432")
    assert load_settings().discord_application_id == 1187654321098765432
    monkeypatch.setenv("DISCORD_APPLICATION_ID", "my-bot")
    with pytest.raises(ConfigError, match=r"^DISCORD_APPLICATION_ID: "):
        load_settings()
