"""The one typed configuration model, read from the environment at startup (never at import)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.billing.plans import PlanCatalog

__all__ = ["ConfigError", "Settings", "load_settings"]

# Paddle's API keys say which environment they belong to (keys made before the prefixes have none: not checked)
PADDLE_KEY_PREFIXES = {"pdl_sdbx_apikey_": "sandbox", "pdl_live_apikey_": "production"}
PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "your-token-here", "xxx", "todo", "secret"})


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message is one line that names the variable."""


def _secret_not_placeholder(value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value().strip()
    if not raw:
        return None
    if raw.lower() in PLACEHOLDER_SECRETS:
        raise ValueError("is a placeholder, not a real secret")
    return SecretStr(raw)


class Settings(BaseSettings):
    """Every setting of the bot, the web endpoint and the CLI.

    Each field's environment variable is its upper-case name unless an alias says otherwise; the README's
    configuration table lists them all (a test keeps the two in sync).
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    # --- Discord -------------------------------------------------------------------------------------
    discord_token: SecretStr | None = Field(
        default=None, description="Bot token from the Discord developer portal; required by `python -m bot`."
    )
    shard_count: int | None = Field(
        default=None, ge=1, description="Total number of shards; unset lets Discord recommend a count."
    )
    shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        default=None,
        description="Comma-separated shard ids this process runs (needs SHARD_COUNT); unset runs them all.",
    )
    sync_commands: bool = Field(default=False, description="Sync the slash-command tree with Discord once at startup.")
    dev_guild_id: int | None = Field(
        default=None, description="Sync commands to this one guild only (instant, for development)."
    )

    # --- storage -------------------------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".improv"),
        validation_alias=AliasChoices("IMPROV_DATA_DIR", "data_dir"),
        description="Directory for all local state (SQLite database, local vectors, console state).",
    )
    database_url: str | None = Field(
        default=None,
        repr=False,  # may hold a password
        description="PostgreSQL URL (`postgres://…` is accepted); unset uses SQLite in the data directory.",
    )
    redis_url: str | None = Field(
        default=None,
        repr=False,  # may hold a password
        description="Redis URL for cooldowns, quotas, locks and pools; unset keeps them in-process.",
    )

    # --- generation ----------------------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        default=None, description="OpenAI API key; unset answers from the offline random tables."
    )
    openai_base_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible server (vLLM, Ollama, LM Studio …)."
    )
    openai_model: str = Field(default="gpt-4o-mini", description="Chat model used for improvisation.")
    openai_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest a whole model answer may take (streaming included)."
    )
    openai_max_retries: int = Field(default=1, ge=0, le=3, description="Client retries on 429/5xx/timeouts.")
    openai_max_output_tokens: int = Field(
        default=600,
        ge=100,
        description="Output token cap per improvisation (reasoning models get room to reason on top of it).",
    )
    openai_temperature: float | None = Field(
        default=None,
        ge=0,
        le=2,
        description="Sampling temperature; unset: 0.9 where the model takes one. Reasoning models take only their "
        "default (1): a set value is then ignored with a log line.",
    )
    openai_reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"] | None = Field(
        default=None,
        description="Reasoning effort of reasoning models (gpt-5.x, gpt-6, o-series); unset: the lowest the "
        "model accepts (fastest). Ignored, with a log line, for other models.",
    )

    # --- panic path ----------------------------------------------------------------------------------
    panic_deadline_seconds: float = Field(
        default=3.5,
        gt=0,
        description="If the model has not started a valid answer this long after the click, answer from the tables.",
    )
    panic_cooldown_seconds: float = Field(
        default=3.0, ge=0, description="Per-user pause between panics in a guild (0 disables)."
    )
    pool_size: int = Field(
        default=3, ge=0, le=10, description="Pre-generated answers kept per guild and kind (0 disables the pool)."
    )
    prompt_token_budget: int = Field(
        default=1500, ge=400, description="Input tokens allowed per panic prompt (estimated offline)."
    )
    breaker_threshold: int = Field(
        default=5,
        ge=1,
        description="Consecutive failures of the model service (5xx, timeouts, connection errors, 429) that open "
        "the circuit breaker; as many refused or unusable answers in a row rest the model for that server alone.",
    )
    breaker_reset_seconds: float = Field(
        default=30.0, gt=0, description="How long an open circuit skips the model before one probe."
    )
    panic_max_inflight: int = Field(
        default=256,
        ge=1,
        description="Panics one process works on at once; beyond that, answers come from the tables at once.",
    )

    # --- retrieval -----------------------------------------------------------------------------------
    pinecone_api_key: SecretStr | None = Field(
        default=None, description="Pinecone API key; unset keeps vectors in the local store."
    )
    embedder: Literal["auto", "local", "openai"] = Field(
        default="auto",
        description="Embedding model: `local` (bundled MiniLM, offline), `openai` (text-embedding-3-small, needs "
        "OPENAI_API_KEY), or `auto` (OpenAI when both OPENAI_API_KEY and PINECONE_API_KEY are set, else local).",
    )
    vector_store: Literal["auto", "local", "pinecone"] = Field(
        default="auto",
        description="Where vectors live: `local` (numpy files in the data directory), `pinecone`, or `auto` "
        "(Pinecone when PINECONE_API_KEY and PINECONE_INDEX_HOSTS are set, else local).",
    )
    pinecone_index_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated Pinecone index hosts (one namespace per guild; each guild is jump-hashed "
        "to one index, so append new hosts at the end when an index fills up).",
    )
    pinecone_controller_host: str | None = Field(
        default=None,
        description="Pinecone's control-plane URL, for `improv pinecone init` and the startup check of the "
        "indexes; unset: Pinecone's own (`https://api.pinecone.io`).",
    )
    max_upload_mb: int = Field(
        default=20, ge=1, le=500, description="Largest file `/campaign import` accepts, in MB (a plan may set less)."
    )
    parse_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest one file may take to read (parse and chunk) before it is refused.",
    )
    parse_memory_mb: int = Field(
        default=1024,
        ge=128,
        le=65536,
        description="Memory the worker reading one file may use, in MB (more is refused).",
    )

    # --- billing -------------------------------------------------------------------------------------
    paddle_webhook_secret: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Paddle notification secret(s), comma-separated during a rotation; required by the web process.",
    )
    paddle_api_key: SecretStr | None = Field(
        default=None,
        description="Paddle API key for checkouts and the customer portal; unset means self-hosted.",
    )
    paddle_environment: Literal["sandbox", "production"] = Field(
        default="sandbox",
        description="Which Paddle environment the API key belongs to (checked against the key's "
        "pdl_sdbx_apikey_/pdl_live_apikey_ prefix at startup).",
    )
    paddle_api_base_url: str | None = Field(
        default=None,
        description="Override of the Paddle API base URL (a local fake or proxy); unset uses the environment's.",
    )
    paddle_signature_tolerance_seconds: float = Field(
        default=5, gt=0, description="How far a webhook's signed timestamp may be from now, either way, in seconds."
    )
    paddle_plans: PlanCatalog = Field(
        default_factory=PlanCatalog,
        description="Plans as JSON: a free plan and paid plans by Paddle price id with their limits (see bot/billing/plans.py).",
    )
    paddle_past_due_grace_days: float = Field(
        default=7, ge=0, description="Days a past-due subscription keeps its plan while Paddle retries the payment."
    )
    webhook_max_body_bytes: int = Field(
        default=512 * 1024, ge=1024, description="Largest webhook body accepted (larger gets 413)."
    )
    entitlement_cache_seconds: float = Field(
        default=30, ge=0, description="How long the bot process caches a guild's plan and limits."
    )

    # --- web -----------------------------------------------------------------------------------------
    port: int = Field(default=8080, ge=1, le=65535, description="Port the web endpoint listens on.")
    host: str = Field(
        default="0.0.0.0",
        validation_alias=AliasChoices("IMPROV_WEB_HOST", "host"),
        description="Address the web endpoint binds to.",
    )
    web_header_timeout_seconds: float = Field(
        default=5,
        gt=0,
        le=300,
        description="Longest a client may take to send a request's headers (from connecting, or from the previous "
        "answer on a kept-alive connection); slower or silent connections are dropped.",
    )
    web_body_timeout_seconds: float = Field(
        default=5,
        gt=0,
        le=300,
        description="Longest a client may take to send a webhook's body (slower gets 408 and the connection closes).",
    )
    web_max_connections: int = Field(
        default=2048,
        ge=1,
        le=100_000,
        description="Connections the web endpoint holds at once; beyond that a new connection gets 503 at once.",
    )
    webhook_db_timeout_seconds: float = Field(
        default=2,
        gt=0,
        le=60,
        description="Longest a webhook waits for the database (a pooled connection and its transaction) before "
        "answering 503 so Paddle retries.",
    )

    # --- site (served by the web process) -------------------------------------------------------------
    public_base_url: str | None = Field(
        default=None,
        description="The https origin the site is served at (e.g. `https://improv.example.com`); Paddle's default "
        "payment link is this + `/pay`.",
    )
    discord_application_id: int | None = Field(
        default=None, ge=1, description="Application id from the Discord developer portal; the site's invite link."
    )
    paddle_client_token: str | None = Field(
        default=None,
        description="Paddle client-side token (`test_…` sandbox, `live_…` live; public by design) for the site's "
        "`/pay` page.",
    )
    site_prices: dict[str, str] = Field(
        default_factory=dict,
        description="Prices shown on `/pricing` as JSON, by Paddle price id of `PADDLE_PLANS` "
        '(`{"pri_…": "$5 a month"}`); keep them equal to the prices in Paddle.',
    )
    site_pages_dir: Path | None = Field(
        default=None,
        description="Folder of the operator's `terms.html`, `privacy.html` and `refunds.html` (HTML fragments); "
        "a missing file shows the built-in default, which says it is one.",
    )

    # --- operations ----------------------------------------------------------------------------------
    log_level: str = Field(
        default="INFO",
        validation_alias=AliasChoices("IMPROV_LOG_LEVEL", "log_level"),
        description="Logging level (DEBUG, INFO, WARNING …).",
    )

    @field_validator("discord_token", "openai_api_key", "pinecone_api_key", "paddle_api_key", mode="after")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_not_placeholder(value)

    @field_validator("paddle_environment", mode="after")
    @classmethod
    def _environment_matches_key(cls, value: str, info: ValidationInfo) -> str:
        key = info.data.get("paddle_api_key")
        if isinstance(key, SecretStr):
            raw = key.get_secret_value()
            for prefix, environment in PADDLE_KEY_PREFIXES.items():
                if raw.startswith(prefix) and environment != value:
                    kind = "a sandbox" if environment == "sandbox" else "a live"
                    raise ValueError(
                        f"is {value} but PADDLE_API_KEY is {kind} key ({prefix}…): set PADDLE_ENVIRONMENT="
                        f"{environment} or use a {value} key"
                    )
        return value

    @field_validator("pinecone_index_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator("paddle_webhook_secret", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("paddle_webhook_secret", mode="after")
    @classmethod
    def _check_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        return [s for s in (_secret_not_placeholder(v) for v in value) if s is not None]

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return None
            if text.startswith("["):
                return json.loads(text)
            return [int(part) for part in text.split(",") if part.strip()]
        return value

    @field_validator("database_url", "redis_url", "openai_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if value.startswith("sqlite://") and not value.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + value[len("sqlite://") :]
        return value

    @field_validator("public_base_url", "paddle_client_token", mode="before")
    @classmethod
    def _blank_site_value_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("public_base_url", mode="after")
    @classmethod
    def _https_origin(cls, value: str | None) -> str | None:
        return None if value is None else public_origin(value)

    @field_validator("paddle_client_token", mode="after")
    @classmethod
    def _client_token_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if value.startswith("pdl_"):
            raise ValueError("is an API key, which must never reach a web page (use a client-side token)")
        environment = info.data.get("paddle_environment", "sandbox")
        expected = "test_" if environment == "sandbox" else "live_"
        if not value.startswith(expected):
            raise ValueError(f"must start with {expected} for PADDLE_ENVIRONMENT={environment}")
        return value

    @field_validator("site_prices", mode="after")
    @classmethod
    def _known_prices(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        prices = {key.strip(): text.strip() for key, text in value.items()}
        for key, text in prices.items():
            if not 1 <= len(text) <= 60:
                raise ValueError(f"the price of {key} must be 1 to 60 characters")
        plans = info.data.get("paddle_plans")
        unknown = sorted(set(prices) - set(plans.paid)) if isinstance(plans, PlanCatalog) else []
        if unknown:
            raise ValueError(f"names {', '.join(unknown)}, not a paid plan of PADDLE_PLANS")
        return prices

    @field_validator("site_pages_dir", mode="after")
    @classmethod
    def _pages_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @field_validator("log_level", mode="after")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _shards_consistent(self) -> Settings:
        if self.shard_ids is not None:
            if self.shard_count is None:
                raise ValueError("SHARD_IDS needs SHARD_COUNT")
            bad = [i for i in self.shard_ids if not 0 <= i < self.shard_count]
            if bad:
                raise ValueError(f"SHARD_IDS {bad} out of range for SHARD_COUNT={self.shard_count}")
        return self

    @classmethod
    def embedded(cls, data_dir: Path, **overrides: object) -> Settings:
        """The embedded defaults on `data_dir` whatever the environment says (no database, Redis, OpenAI,
        Pinecone, Paddle or Discord token), with `overrides` on top: for tests, benchmarks and demos."""
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": None,
            "redis_url": None,
            "openai_api_key": None,
            "pinecone_api_key": None,
            "paddle_api_key": None,
            "paddle_webhook_secret": [],
            "discord_token": None,
        }
        values.update(overrides)
        return cls.model_validate(values)

    # --- derived -------------------------------------------------------------------------------------
    @property
    def sqlalchemy_url(self) -> str:
        """The database URL to connect to: `DATABASE_URL`, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'improv.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.sqlalchemy_url.startswith("sqlite")

    def require(self, *names: str) -> None:
        """Fail with one line naming the first unset setting among `names` (field names)."""
        for name in names:
            value = getattr(self, name)
            if value is None or value == []:
                raise ConfigError(f"{env_name(name)} is not set")


def public_origin(url: str) -> str:
    """`url` as an origin (`https://host[:port]`, no path): https, or http on a loopback host for local trials."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https URL such as https://improv.example.com")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError("must use https (Paddle opens checkouts only on https pages)")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            "must be an origin only, without a path, query or credentials (e.g. https://improv.example.com)"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        first = alias.choices[0]
        if isinstance(first, str):
            return first
    return field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings, turning the first error into a one-line `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err["loc"][0] if err["loc"] else ""
        name = env_name(str(loc)) if str(loc) in Settings.model_fields else str(loc).upper() or "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None
