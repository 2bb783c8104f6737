"""Settings: defaults, normalisation, refusals, one-line errors and secrets kept out of reprs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import AliasChoices

from bot.settings import ConfigError, Settings, env_name, load_settings

REPO_ROOT = Path(__file__).resolve().parent.parent


def settings_env_names() -> set[str]:
    """Every environment variable name pydantic-settings could read for a field."""
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        names.add(field.upper())
        names.add(env_name(field))
        if isinstance(info.validation_alias, AliasChoices):
            names.update(str(choice).upper() for choice in info.validation_alias.choices)
    return names


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's or CI's environment must not leak into these tests."""
    names = settings_env_names()
    for key in list(os.environ):
        if key.upper() in names:
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings()
    assert settings.discord_token is None
    assert settings.database_url is None
    assert settings.redis_url is None
    assert settings.openai_api_key is None
    assert settings.pinecone_api_key is None
    assert settings.paddle_webhook_secret == []
    assert settings.data_dir == Path(".improv")
    assert settings.shard_count is None
    assert settings.shard_ids is None
    assert settings.sync_commands is False
    assert settings.port == 8080
    assert settings.openai_model == "gpt-4o-mini"
    assert settings.paddle_environment == "sandbox"


def test_default_database_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMPROV_DATA_DIR", str(tmp_path))
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.is_sqlite
    assert settings.sqlalchemy_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'improv.sqlite3'}"


@pytest.mark.parametrize(
    "given",
    [
        "postgres://user:pw@db.example:5432/improv",
        "postgresql://user:pw@db.example:5432/improv",
        "postgresql+psycopg2://user:pw@db.example:5432/improv",
    ],
)
def test_postgres_urls_are_normalised_to_asyncpg(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    settings = Settings()
    assert settings.database_url == "postgresql+asyncpg://user:pw@db.example:5432/improv"
    assert settings.sqlalchemy_url == settings.database_url
    assert not settings.is_sqlite


def test_blank_database_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert Settings().database_url is None


def test_shard_ids_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARD_COUNT", "4")
    monkeypatch.setenv("SHARD_IDS", "0, 2,3")
    assert Settings().shard_ids == [0, 2, 3]


def test_shard_ids_need_a_shard_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARD_IDS", "0,1")
    with pytest.raises(ConfigError, match="SHARD_IDS needs SHARD_COUNT"):
        load_settings()


def test_shard_ids_must_be_below_the_shard_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHARD_COUNT", "2")
    monkeypatch.setenv("SHARD_IDS", "1,2")
    with pytest.raises(ConfigError, match="SHARD_IDS"):
        load_settings()


def test_paddle_webhook_secrets_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PADDLE_WEBHOOK_SECRET", "pdl_ntfset_old, pdl_ntfset_new")
    secrets = Settings().paddle_webhook_secret
    assert [s.get_secret_value() for s in secrets] == ["pdl_ntfset_old", "pdl_ntfset_new"]


@pytest.mark.parametrize(
    "variable", ["DISCORD_TOKEN", "OPENAI_API_KEY", "PINECONE_API_KEY", "PADDLE_API_KEY", "PADDLE_WEBHOOK_SECRET"]
)
@pytest.mark.parametrize("placeholder", ["changeme", "CHANGE-ME", "your-token-here"])
def test_placeholder_secrets_are_refused(monkeypatch: pytest.MonkeyPatch, variable: str, placeholder: str) -> None:
    monkeypatch.setenv(variable, placeholder)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{variable}:")
    assert "placeholder" in str(caught.value)


def test_blank_secret_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "   ")
    assert Settings().openai_api_key is None


def test_load_settings_error_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("PORT:")
    assert "\n" not in message


def test_load_settings_names_aliased_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPROV_WEB_HOST", "")
    monkeypatch.setenv("PORT", "0")
    with pytest.raises(ConfigError, match=r"^PORT:"):
        load_settings()


def test_env_name_follows_aliases() -> None:
    assert env_name("discord_token") == "DISCORD_TOKEN"
    assert env_name("data_dir") == "IMPROV_DATA_DIR"
    assert env_name("log_level") == "IMPROV_LOG_LEVEL"


def test_require_names_the_missing_variable() -> None:
    with pytest.raises(ConfigError, match=r"^DISCORD_TOKEN is not set$"):
        Settings().require("discord_token")


def test_secrets_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "DISCORD_TOKEN": "discord-s3cr3t-value",
        "OPENAI_API_KEY": "sk-openai-s3cr3t",
        "PINECONE_API_KEY": "pc-s3cr3t-key",
        "PADDLE_API_KEY": "pdl_live_apikey_s3cr3t",
        "PADDLE_WEBHOOK_SECRET": "pdl_ntfset_s3cr3t_a,pdl_ntfset_s3cr3t_b",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PADDLE_ENVIRONMENT", "production")  # a live key
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for value in values.values():
        for part in value.split(","):
            assert part not in shown
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "discord-s3cr3t-value"


def test_service_url_passwords_never_appear_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://bot:pg-pa55word@db.internal:5432/improv")
    monkeypatch.setenv("REDIS_URL", "redis://:redis-pa55word@cache.internal:6379/0")
    settings = load_settings()
    shown = repr(settings) + str(settings)
    assert "pg-pa55word" not in shown
    assert "redis-pa55word" not in shown
    assert settings.database_url == "postgresql+asyncpg://bot:pg-pa55word@db.internal:5432/improv"


def test_python_m_bot_without_token_fails_with_one_line(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key.upper() not in settings_env_names()}
    env["IMPROV_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    assert "DISCORD_TOKEN" in lines[0]
    assert "improv console" in lines[0]
