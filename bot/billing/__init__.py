"""Billing: Paddle webhook verification and events, plans, entitlements and quotas per guild (no discord)."""
