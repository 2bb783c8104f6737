"""The billing service handed to the bot, the web app and the CLI (`services.billing`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.billing.checkout import PaddleGateway
from bot.billing.config import BillingConfig
from bot.billing.entitlements import BillingEntitlements, GuildPlan
from bot.billing.plans import Plan, PlanCatalog
from bot.billing.types import QuotaDecision
from bot.billing.webhook import DB_TIMEOUT_SECONDS, WebhookReply, process_webhook
from bot.errors import UserFacingError
from bot.kv import KeyValue
from db.models.billing import BillingCheckout

__all__ = ["BillingService", "BillingStatus", "build_billing"]

log = logging.getLogger(__name__)

SELF_HOSTED_MESSAGE = (
    "This bot is self-hosted: every server is unlimited and there is nothing to buy. Enjoy your panics!"
)


@dataclass(frozen=True, slots=True)
class BillingStatus:
    """What `/billing status` and `improv billing status` show."""

    plan: GuildPlan
    panics_used: int

    @property
    def panics_limit(self) -> int | None:
        """Panics allowed this period; None when unlimited."""
        return self.plan.plan.monthly_panics

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (the CLI prints this)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        p = self.plan
        return {
            "guild_id": str(p.guild_id),
            "plan": p.plan.name,
            "plan_key": p.plan_key,
            "status": p.status,
            "period_start": iso(p.period_start),
            "period_end": iso(p.period_end),
            "renews": p.renews,
            "access_until": iso(p.access_until),
            "subscription_id": p.subscription_id,
            "panics_used": self.panics_used,
            "panics_limit": self.panics_limit,
            "memory_limit_bytes": p.plan.memory_bytes,
            "upload_limit_bytes": p.plan.upload_bytes,
        }


class BillingService:
    """Entitlements (implements `bot.billing.types.Entitlements`), checkouts, the portal and the webhook."""

    def __init__(
        self,
        config: BillingConfig,
        sessionmaker: async_sessionmaker[AsyncSession],
        kv: KeyValue,
        gateway: PaddleGateway | None = None,
        webhook_engine: AsyncEngine | None = None,
    ) -> None:
        self.config = config
        self.plans: PlanCatalog = config.plans
        self._sessionmaker = sessionmaker
        if webhook_engine is None:
            bind = sessionmaker.kw.get("bind")
            if not isinstance(bind, AsyncEngine):
                raise TypeError("BillingService needs a sessionmaker bound to an AsyncEngine, or a webhook_engine")
            webhook_engine = bind
        # the engine webhooks are applied through: the sessionmaker's, or the web process's own pool
        self.webhook_engine = webhook_engine
        self.gateway = gateway
        self.entitlements = BillingEntitlements(
            plans=self.plans,
            sessionmaker=sessionmaker,
            kv=kv,
            billing_enabled=config.enabled,
            grace=config.past_due_grace,
            cache_seconds=config.entitlement_cache_seconds,
        )

    @property
    def enabled(self) -> bool:
        """False when self-hosted (no Paddle configured): everyone is unlimited."""
        return self.config.enabled

    async def aclose(self) -> None:
        """Save queued usage and release the Paddle client's connections."""
        await self.entitlements.aclose()
        if self.gateway is not None:
            self.gateway.close()

    # --- Entitlements protocol -----------------------------------------------------------------------
    async def consume_panic(self, guild_id: int) -> QuotaDecision:
        """Atomically count one panic against the guild's quota."""
        return await self.entitlements.consume_panic(guild_id)

    async def memory_limit_bytes(self, guild_id: int) -> int | None:
        """Bytes of notes the guild may keep; None when unlimited."""
        return await self.entitlements.memory_limit_bytes(guild_id)

    async def upload_limit_bytes(self, guild_id: int) -> int:
        """Largest single file the guild may import."""
        return await self.entitlements.upload_limit_bytes(guild_id)

    # --- status and purchases ------------------------------------------------------------------------
    async def status(self, guild_id: int) -> BillingStatus:
        """The guild's plan (fresh from the database) and usage this period."""
        plan = await self.entitlements.plan_for(guild_id, fresh=True)
        return BillingStatus(plan=plan, panics_used=await self.entitlements.panics_used(plan))

    def offers(self) -> list[tuple[str, Plan]]:
        """Paid plans a guild can buy, as (price id, plan), in configuration order."""
        return list(self.plans.paid.items())

    def _require_paddle(self) -> PaddleGateway:
        if not self.enabled:
            raise UserFacingError(SELF_HOSTED_MESSAGE, title="Nothing to buy")
        if self.gateway is None:
            raise UserFacingError(
                "Purchases aren't set up on this bot yet (no Paddle API key). Your current plan keeps working.",
                title="Billing unavailable",
            )
        return self.gateway

    async def start_checkout(self, guild_id: int, price_id: str, user_id: int | None = None) -> str:
        """Create a Paddle checkout for `price_id`, record `transaction → guild`, and return the payment URL."""
        gateway = self._require_paddle()
        if price_id not in self.plans.paid:
            raise UserFacingError("That plan isn't offered here. Pick one from `/billing upgrade`.")
        created = await gateway.create_checkout(guild_id, price_id)
        async with self._sessionmaker.begin() as session:
            session.add(
                BillingCheckout(
                    transaction_id=created.transaction_id, guild_id=guild_id, price_id=price_id, user_id=user_id
                )
            )
        log.info("checkout %s created for guild %s (%s)", created.transaction_id, guild_id, price_id)
        return created.url

    async def portal_url(self, guild_id: int) -> str:
        """A fresh customer-portal link for the guild's subscription."""
        gateway = self._require_paddle()
        plan = await self.entitlements.plan_for(guild_id, fresh=True)
        if plan.customer_id is None:
            raise UserFacingError(
                "This server has no subscription to manage yet. `/billing upgrade` starts one.",
                title="Nothing to manage",
            )
        return await gateway.portal_url(plan.customer_id, plan.subscription_id)

    # --- web -----------------------------------------------------------------------------------------
    async def handle_webhook(
        self,
        body: bytes,
        signature: str | None,
        *,
        received_at: float | None = None,
        db_timeout_seconds: float = DB_TIMEOUT_SECONDS,
    ) -> WebhookReply:
        """Verify (against the arrival time), parse and apply one Paddle delivery (see `bot.billing.webhook`)."""
        reply = await process_webhook(
            body,
            signature,
            secrets=self.config.webhook_secrets,
            tolerance_seconds=self.config.signature_tolerance_seconds,
            engine=self.webhook_engine,
            plans=self.plans,
            now=received_at,
            db_timeout_seconds=db_timeout_seconds,
        )
        if reply.applied is not None and reply.applied.guild_id is not None:
            self.entitlements.invalidate(reply.applied.guild_id)
        return reply


def build_billing(
    config: BillingConfig,
    sessionmaker: async_sessionmaker[AsyncSession],
    kv: KeyValue,
    *,
    webhook_engine: AsyncEngine | None = None,
) -> BillingService:
    """The billing service for `config` (a Paddle API client only when the API is configured); webhooks go
    through `webhook_engine` when given, else through the sessionmaker's engine."""
    api = config.paddle_api
    gateway = None
    if api is not None:
        gateway = PaddleGateway(api.api_key.get_secret_value(), environment=api.environment, base_url=api.base_url)
    return BillingService(config, sessionmaker, kv, gateway, webhook_engine)
