"""`improv panic KIND --guild ID [--campaign NAME] [--details TEXT] [--json]`: one panic from the terminal, like the button."""

from __future__ import annotations

import argparse
import json

from bot.cli.campaign import campaign_target
from bot.errors import UserFacingError
from bot.improv.config import PATIENT_POLICY
from bot.improv.kinds import KINDS, parse_kind
from bot.improv.types import PanicRequest, PanicResult
from bot.services import Services

__all__ = ["register"]

CLI_USER_ID = 0  # panics from the terminal are recorded with user 0


def _print_text(result: PanicResult) -> None:
    print(result.improv.title)
    for name, value in result.improv.fields():
        print(f"\n{name}:\n{value}")
    if result.sources:
        print("\nSources:")
        for source in result.sources:
            print(f"  • {source.label()}")
    reason = f", {result.fallback_reason}" if result.fallback_reason else ""
    print(f"\n[{result.engine}{reason} · {result.latency_ms} ms · id {result.improv_id}]")


async def panic(args: argparse.Namespace, services: Services) -> int:
    """Run one panic for a guild and print it (JSON with `--json`)."""
    try:
        kind = parse_kind(args.kind)
    except ValueError as exc:
        print(f"improv panic: {exc}")
        return 2
    scope, style = await campaign_target(services, args.guild, args.campaign)
    request = PanicRequest(
        guild_id=args.guild,
        campaign_id=scope.campaign_id,
        user_id=CLI_USER_ID,
        kind=kind,
        details=args.details or "",
        player_safe_only=args.player_safe,
        style=style,
        check_cooldown=False,
    )
    try:
        # a person at a terminal waits for a grounded answer (the embedder warms up in a fresh process)
        result = await services.improv.panic(request, policy=PATIENT_POLICY)
    except UserFacingError as exc:
        print(f"improv panic: {exc.message}")
        return 1
    await services.tasks.drain(timeout=services.settings.openai_timeout_seconds * 4)
    if args.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_text(result)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `improv panic`."""
    from bot.cli.commands import add_command

    parser = add_command(sub, "panic", panic, help="improvise one answer for a guild, as the panic button would")
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument("--guild", type=int, required=True, help="Discord guild (server) id")
    parser.add_argument("--campaign", metavar="NAME", help="one of its campaigns (default: its default one)")
    parser.add_argument("--details", default="", help="what you need, e.g. 'the blacksmith in Emberfall'")
    parser.add_argument("--player-safe", action="store_true", help="use only notes marked player-safe")
    parser.add_argument("--json", action="store_true", help="print JSON")
