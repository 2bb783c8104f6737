"""`improv billing status --guild ID [--json]`: a guild's plan, status, period and usage."""

from __future__ import annotations

import argparse
import json

from bot.services import Services

__all__ = ["register"]


async def billing_status(args: argparse.Namespace, services: Services) -> int:
    """Print the guild's billing status (JSON with `--json`)."""
    status = (await services.billing.status(args.guild)).as_dict()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    limit = "unlimited" if status["panics_limit"] is None else status["panics_limit"]
    print(f"guild {status['guild_id']}: {status['plan']} ({status['status']})")
    print(f"period: {status['period_start']} → {status['period_end'] or 'open'}")
    print(f"panics: {status['panics_used']} / {limit}")
    if status["next_plan"]:
        print(f"changes to {status['next_plan']} at {status['next_plan_at']}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `improv billing …`."""
    from bot.cli.commands import add_command

    billing = sub.add_parser("billing", help="plans, subscriptions and usage per guild")
    billing_sub = billing.add_subparsers(dest="billing_command", required=True, metavar="COMMAND")
    status = add_command(billing_sub, "status", billing_status, help="show a guild's plan, status and usage")
    status.add_argument("--guild", type=int, required=True, help="Discord guild (server) id")
    status.add_argument("--json", action="store_true", help="print JSON")
