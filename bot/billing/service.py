"""The billing service handed to the bot, the web app and the CLI (`services.billing`)."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.billing.checkout import DOWNGRADE_MODE, UPGRADE_MODE, ChangePreview, PaddleGateway
from bot.billing.config import BillingConfig
from bot.billing.entitlements import BillingEntitlements, GuildPlan
from bot.billing.plans import Plan, PlanCatalog
from bot.billing.types import QuotaDecision
from bot.billing.webhook import DB_TIMEOUT_SECONDS, WebhookReply, process_webhook
from bot.errors import UserFacingError
from bot.kv import KeyValue
from db.models.billing import BillingCheckout, BillingSubscription

__all__ = ["BillingService", "BillingStatus", "NotThePayer", "Payer", "PlanChange", "build_billing", "price_tag"]

log = logging.getLogger(__name__)

# statuses of a subscription Paddle can still change (a paused one must be resumed first; canceled is final)
LIVE = ("active", "trialing", "past_due")
MANAGERS = "a member with **Manage Server**"


def price_tag(price_id: str) -> str:
    """A short stable tag of a price id (fits a button's custom id next to a subscription id)."""
    return hashlib.sha256(price_id.encode()).hexdigest()[:10]


def _plain_name(name: str | None) -> str | None:
    """A display name reduced to plain text (no markdown, mentions or line breaks), or None when nothing is left."""
    if not name:
        return None
    text = re.sub(r"[^\w .'-]", "", name, flags=re.UNICODE).strip()[:32]
    return text or None


class NotThePayer(UserFacingError):
    """Only the member who paid, or a member with Manage Server, may spend or manage the subscription."""

    def __init__(self, payer_name: str | None, action: str) -> None:
        who = f"**{payer_name}** (who pays for this plan) or {MANAGERS}" if payer_name else MANAGERS
        super().__init__(f"Only {who} can {action} here.", title="Not your subscription")


@dataclass(frozen=True, slots=True)
class Payer:
    """Who pays for a guild's subscription (from the checkout the bot created)."""

    user_id: int | None
    name: str | None


@dataclass(frozen=True, slots=True)
class PlanChange:
    """What `/billing upgrade` leads to: a checkout link (no live subscription) or a previewed change of the
    existing subscription's items, to be confirmed."""

    kind: Literal["checkout", "change"]
    price_id: str
    url: str | None = None
    subscription_id: str | None = None
    from_price_id: str | None = None
    downgrade: bool = False
    preview: ChangePreview | None = None


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
            "next_plan": p.next_plan.name if p.next_plan is not None else None,
            "next_plan_at": iso(p.next_plan_at),
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

    async def start_checkout(
        self, guild_id: int, price_id: str, user_id: int | None = None, user_name: str | None = None
    ) -> str:
        """Create a Paddle checkout for `price_id`, record `transaction → guild` and who is paying, and return the
        payment URL."""
        gateway = self._require_paddle()
        self._require_offered(price_id)
        created = await gateway.create_checkout(guild_id, price_id)
        async with self._sessionmaker.begin() as session:
            session.add(
                BillingCheckout(
                    transaction_id=created.transaction_id,
                    guild_id=guild_id,
                    price_id=price_id,
                    user_id=user_id,
                    user_name=_plain_name(user_name),
                )
            )
        log.info("checkout %s created for guild %s (%s)", created.transaction_id, guild_id, price_id)
        return created.url

    def _require_offered(self, price_id: str) -> None:
        if price_id not in self.plans.paid:
            raise UserFacingError("That plan isn't offered here. Pick one from `/billing upgrade`.")

    async def _subscriptions(self, guild_id: int) -> list[BillingSubscription]:
        """The guild's subscriptions, newest snapshot first."""
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(BillingSubscription)
                    .where(BillingSubscription.guild_id == guild_id)
                    .order_by(BillingSubscription.snapshot_at.desc())
                )
            ).scalars()
            return [row for row in rows if row.snapshot_at is not None]

    async def payer(self, subscription: BillingSubscription) -> Payer:
        """Who paid for `subscription`: the member who ran the checkout it was created from."""
        if subscription.transaction_id is None:
            return Payer(None, None)
        async with self._sessionmaker() as session:
            checkout = await session.get(BillingCheckout, subscription.transaction_id)
        return Payer(None, None) if checkout is None else Payer(checkout.user_id, checkout.user_name)

    async def _authorise(
        self, subscription: BillingSubscription, user_id: int, can_manage_server: bool, action: str
    ) -> None:
        """Only the payer or a member with Manage Server may spend or manage the payer's subscription."""
        if can_manage_server:
            return
        payer = await self.payer(subscription)
        if payer.user_id is None or payer.user_id != user_id:
            raise NotThePayer(payer.name, action)

    async def plan_change(
        self, guild_id: int, price_id: str, *, user_id: int, user_name: str | None, can_manage_server: bool
    ) -> PlanChange:
        """What `/billing upgrade plan:<price_id>` does: a checkout when the guild has no live subscription,
        else a preview (Paddle's own figures) of replacing the live subscription's items; never a second
        subscription. The plan itself changes when Paddle's webhook says so, not here."""
        gateway = self._require_paddle()
        self._require_offered(price_id)
        rows = await self._subscriptions(guild_id)
        if any(row.status == "paused" for row in rows) and not any(row.status in LIVE for row in rows):
            raise UserFacingError(
                "This server's subscription is paused. Resume it from `/billing manage` first; its plan can "
                "change after that.",
                title="Subscription paused",
            )
        live = next((row for row in rows if row.status in LIVE), None)
        if live is None:
            url = await self.start_checkout(guild_id, price_id, user_id, user_name)
            return PlanChange("checkout", price_id, url=url)
        if live.price_id == price_id:
            name = self.plans.paid[price_id].name
            raise UserFacingError(
                f"This server is already on **{name}**. `/billing status` shows its usage and renewal date.",
                title="Already on it",
            )
        await self._authorise(live, user_id, can_manage_server, "change its plan")
        downgrade = self.plans.is_downgrade(live.price_id, price_id)
        preview = await gateway.preview_change(live.id, price_id, DOWNGRADE_MODE if downgrade else UPGRADE_MODE)
        return PlanChange(
            "change",
            price_id,
            subscription_id=live.id,
            from_price_id=live.price_id,
            downgrade=downgrade,
            preview=preview,
        )

    async def confirm_change(
        self,
        guild_id: int,
        subscription_id: str,
        from_tag: str,
        to_tag: str,
        *,
        user_id: int,
        can_manage_server: bool,
    ) -> str:
        """Apply a previewed change (its button carries the subscription and price tags), after checking that
        nothing moved since the preview; returns the new plan's price id. The webhook updates the plan."""
        gateway = self._require_paddle()
        rows = await self._subscriptions(guild_id)
        live = next((row for row in rows if row.id == subscription_id and row.status in LIVE), None)
        price_id = next((p for p in self.plans.paid if price_tag(p) == to_tag), None)
        if live is None or price_id is None:
            raise UserFacingError(
                "That offer is out of date: the subscription or the plan changed since. Nothing was charged; "
                "run `/billing upgrade` again.",
                title="Offer expired",
            )
        if live.price_id == price_id:
            raise UserFacingError(f"This server is already on **{self.plans.paid[price_id].name}**.", title="Done")
        if price_tag(live.price_id or "") != from_tag:
            raise UserFacingError(
                "The plan changed since this offer was made. Nothing was charged; run `/billing upgrade` again.",
                title="Offer expired",
            )
        await self._authorise(live, user_id, can_manage_server, "change its plan")
        mode = DOWNGRADE_MODE if self.plans.is_downgrade(live.price_id, price_id) else UPGRADE_MODE
        await gateway.change_plan(live.id, price_id, mode)
        log.info("subscription %s of guild %s: items → %s (%s)", live.id, guild_id, price_id, mode)
        return price_id

    async def portal_url(self, guild_id: int, *, user_id: int, can_manage_server: bool) -> str:
        """A fresh customer-portal link for the guild's subscription, for its payer or a server manager only."""
        gateway = self._require_paddle()
        rows = [row for row in await self._subscriptions(guild_id) if row.customer_id is not None]
        if not rows:
            raise UserFacingError(
                "This server has no subscription to manage yet. `/billing upgrade` starts one.",
                title="Nothing to manage",
            )
        subscription = next((row for row in rows if row.status != "canceled"), rows[0])
        await self._authorise(subscription, user_id, can_manage_server, "open its billing portal")
        assert subscription.customer_id is not None
        return await gateway.portal_url(subscription.customer_id, subscription.id)

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
