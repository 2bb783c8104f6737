"""The services container: every long-lived resource, built once at startup and handed to the bot, the web
app and the CLI. Production services switch on by configuration alone; otherwise the embedded defaults run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.billing.config import BillingConfig, PaddleApiConfig
from bot.billing.service import BillingService, build_billing
from bot.improv.config import ImprovConfig, ModelConfig, PanicPolicy
from bot.improv.engine import Improviser
from bot.improv.llm import build_client, build_generator
from bot.improv.modelcheck import check_model
from bot.improv.recorder import Recorder
from bot.kv import KeyValue, MemoryKeyValue, RedisKeyValue
from bot.memory import CampaignMemory, MemoryConfig
from bot.memory.stores import LocalVectorStore, PineconeVectorStore, VectorStore
from bot.settings import ConfigError, Settings
from bot.tasks import BackgroundTasks
from db.engine import create_engine, create_sessionmaker, create_webhook_engine

__all__ = [
    "Services",
    "billing_config",
    "check_vector_store",
    "discord_policy",
    "embedder_kind",
    "improv_config",
    "model_config",
    "open_services",
]

log = logging.getLogger(__name__)

MODEL_CHECK_SECONDS = 3.0  # the most the startup check of the model may delay a start


@dataclass(slots=True)
class Services:
    """What the doors (bot, web, CLI) need from the outside world, already opened."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    kv: KeyValue
    tasks: BackgroundTasks
    exit_stack: AsyncExitStack = field(repr=False)
    billing: BillingService = field(repr=False)
    memory: CampaignMemory = field(repr=False)
    improv: Improviser = field(repr=False)

    def describe(self) -> dict[str, str]:
        """Which implementation backs each service (for logs and `/campaign status`)."""
        return {
            "database": self.engine.dialect.name,
            "kv": "redis" if isinstance(self.kv, RedisKeyValue) else "in-process",
            "embedder": self.memory.embedder.id,
            "vectors": self.memory.store.name,
            "billing": "paddle" if self.billing.enabled else "self-hosted (unlimited)",
        }


def billing_config(settings: Settings) -> BillingConfig:
    """Billing's part of the settings."""
    api = None
    if settings.paddle_api_key is not None:
        api = PaddleApiConfig(settings.paddle_api_key, settings.paddle_environment, settings.paddle_api_base_url)
    return BillingConfig(
        plans=settings.paddle_plans,
        webhook_secrets=tuple(settings.paddle_webhook_secret),
        signature_tolerance_seconds=settings.paddle_signature_tolerance_seconds,
        past_due_grace=timedelta(days=settings.paddle_past_due_grace_days),
        entitlement_cache_seconds=settings.entitlement_cache_seconds,
        paddle_api=api,
    )


@asynccontextmanager
async def open_services(settings: Settings, *, webhook_pool: bool = False) -> AsyncIterator[Services]:
    """Open every service named by `settings` and close them all on exit.

    `webhook_pool` (the web process): Paddle webhooks get their own connection pool (`db.engine`)."""
    async with AsyncExitStack() as stack:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.sqlalchemy_url)
        stack.push_async_callback(engine.dispose)

        kv: KeyValue = RedisKeyValue.from_url(settings.redis_url) if settings.redis_url else MemoryKeyValue()
        stack.push_async_callback(kv.aclose)

        tasks = BackgroundTasks()

        sessionmaker = create_sessionmaker(engine)
        webhook_engine = create_webhook_engine(settings.sqlalchemy_url) if webhook_pool else None
        if webhook_engine is not None:
            stack.push_async_callback(webhook_engine.dispose)
        billing = build_billing(billing_config(settings), sessionmaker, kv, webhook_engine=webhook_engine)
        stack.push_async_callback(billing.aclose)
        # campaign memory: the plan's limits apply when billing is on, else MAX_UPLOAD_MB and no memory cap
        memory = _build_memory(settings, sessionmaker, kv, billing, tasks)
        stack.push_async_callback(memory.aclose)
        await check_vector_store(memory)
        # improvisation over memory and billing; Discord's policy is its default (other doors pass their own)
        model = model_config(settings)
        client = build_client(model)
        if client is not None:
            stack.push_async_callback(client.close)
        # answers the database refuses are spilled to Redis (when configured) for any process to write later
        recorder = Recorder(sessionmaker, tasks, spill=kv if isinstance(kv, RedisKeyValue) else None)
        improv = Improviser(
            improv_config(settings),
            kv=kv,
            tasks=tasks,
            recorder=recorder,
            generator=build_generator(model, client),
            retriever=memory,
            entitlements=billing,
            policy=discord_policy(settings),
            warm=memory.embedder.warm,
        )
        services = Services(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            kv=kv,
            tasks=tasks,
            exit_stack=stack,
            billing=billing,
            memory=memory,
            improv=improv,
        )
        stack.callback(recorder.close)  # after the tasks' grace: no more retries of unwritten answers
        # closed first: background work (refills, recordings) finishes before the services it uses close
        stack.push_async_callback(tasks.aclose)
        log.info("services: %s", services.describe())
        if client is not None:  # one bounded look at the configured model: missing or shutting down is logged
            checked = await check_model(client, model.model, timeout=model.check_seconds, secret=model.api_key)
            if checked is not None:
                improv.model.last = checked
        yield services


def embedder_kind(settings: Settings) -> Literal["local", "openai"]:
    """Which embedder the settings choose (`EMBEDDER`, and with `auto` which keys are set)."""
    from bot.memory.embedders import choose_embedder

    return choose_embedder(
        settings.embedder,
        openai_key=settings.openai_api_key is not None,
        pinecone_key=settings.pinecone_api_key is not None,
    )


async def check_vector_store(memory: CampaignMemory) -> None:
    """Stop with one line when a configured Pinecone index cannot take this embedder's vectors (wrong dimension or
    metric, a sparse or Documents-API index, or no answer)."""
    store = memory.store
    if isinstance(store, PineconeVectorStore):
        problems = await store.check(memory.embedder.dimension)
        if problems:
            raise ConfigError("; ".join(problems))


def _build_memory(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    billing: BillingService,
    tasks: BackgroundTasks,
) -> CampaignMemory:
    """Campaign memory with the configured vector store (Pinecone when chosen or, with `auto`, when key and hosts
    are set; else local files) and embedder. The plan's limits apply when billing is on, else MAX_UPLOAD_MB and
    no memory cap."""
    from bot.memory.embedders import MAX_INPUTS, build_embedder

    store: VectorStore
    have_pinecone = settings.pinecone_api_key is not None and bool(settings.pinecone_index_hosts)
    if settings.vector_store == "pinecone" or (settings.vector_store == "auto" and have_pinecone):
        if settings.pinecone_api_key is None:
            raise ConfigError("PINECONE_API_KEY is not set (VECTOR_STORE=pinecone)")
        if not settings.pinecone_index_hosts:
            raise ConfigError("PINECONE_INDEX_HOSTS is not set (VECTOR_STORE=pinecone)")
        store = PineconeVectorStore(
            settings.pinecone_api_key.get_secret_value(),
            settings.pinecone_index_hosts,
            controller_host=settings.pinecone_controller_host,
        )
    else:
        store = LocalVectorStore(settings.data_dir / "vectors")
    openai_key = settings.openai_api_key
    kind = embedder_kind(settings)
    api_key = openai_key.get_secret_value() if openai_key is not None else None
    return CampaignMemory(
        sessionmaker,
        kv,
        store,
        build_embedder(kind, api_key=api_key, base_url=settings.openai_base_url),
        MemoryConfig(
            max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
            parse_seconds=settings.parse_timeout_seconds,
            parse_memory_bytes=settings.parse_memory_mb * 1024 * 1024,
            # OpenAI: up to a full request's inputs per call (the embedder splits them by real tokens)
            embed_batch=MAX_INPUTS if kind == "openai" else MemoryConfig().embed_batch,
        ),
        upload_limit=billing.upload_limit_bytes if billing.enabled else None,
        memory_limit=billing.memory_limit_bytes if billing.enabled else None,
        background=tasks,
    )


def improv_config(settings: Settings) -> ImprovConfig:
    """The improviser's configuration from the settings."""
    return ImprovConfig(
        cooldown_seconds=settings.panic_cooldown_seconds,
        pool_size=settings.pool_size,
        prompt_token_budget=settings.prompt_token_budget,
        breaker_threshold=settings.breaker_threshold,
        breaker_reset_seconds=settings.breaker_reset_seconds,
        max_inflight=settings.panic_max_inflight,
        model_timeout_seconds=settings.openai_timeout_seconds,
    )


def model_config(settings: Settings) -> ModelConfig:
    """The chat model's configuration from the settings (no key: the offline tables answer)."""
    key = settings.openai_api_key
    return ModelConfig(
        api_key=key.get_secret_value() if key is not None else None,
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        timeout_seconds=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
        max_output_tokens=settings.openai_max_output_tokens,
        temperature=settings.openai_temperature,
        reasoning_effort=settings.openai_reasoning_effort,
        deadline_seconds=settings.panic_deadline_seconds,
        check_seconds=min(settings.openai_timeout_seconds, MODEL_CHECK_SECONDS),
    )


def discord_policy(settings: Settings) -> PanicPolicy:
    """The Discord door's panic policy: the configured first-answer deadline and model timeout."""
    return PanicPolicy(deadline_seconds=settings.panic_deadline_seconds, answer_seconds=settings.openai_timeout_seconds)
