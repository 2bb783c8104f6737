"""What billing needs to know from the configuration, as small frozen values (built by `bot.services`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from pydantic import SecretStr

from bot.billing.plans import PlanCatalog

__all__ = ["BillingConfig", "PaddleApiConfig"]


@dataclass(frozen=True, slots=True)
class PaddleApiConfig:
    """How to reach Paddle's API (checkouts and the customer portal)."""

    api_key: SecretStr
    environment: Literal["sandbox", "production"] = "sandbox"
    base_url: str | None = None  # a local fake or proxy; None uses the environment's


@dataclass(frozen=True, slots=True)
class BillingConfig:
    """Plans, the webhook's secrets and tolerance, entitlement timings, and the Paddle API (if any)."""

    plans: PlanCatalog = field(default_factory=PlanCatalog)
    webhook_secrets: tuple[SecretStr, ...] = ()  # several during a rotation
    signature_tolerance_seconds: float = 5
    past_due_grace: timedelta = timedelta(days=7)
    entitlement_cache_seconds: float = 30
    paddle_api: PaddleApiConfig | None = None

    @property
    def enabled(self) -> bool:
        """Whether Paddle is configured; when it is not (self-hosting) every guild is unlimited."""
        return self.paddle_api is not None or bool(self.webhook_secrets)
