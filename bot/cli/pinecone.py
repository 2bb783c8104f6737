"""`improv pinecone init NAME` and `improv pinecone check`: the Pinecone index campaign memory needs, created or
checked through the SDK: serverless, dense (the vectors API), cosine, and the configured embedder's dimension."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bot.memory.embedders import embedder_dimension
from bot.memory.stores.pinecone_admin import bare_host, check_hosts, describe_error, init_index
from bot.services import embedder_kind
from bot.settings import Settings

__all__ = ["register"]


def _client(settings: Settings) -> Any:
    from pinecone import AsyncPinecone

    settings.require("pinecone_api_key")
    assert settings.pinecone_api_key is not None
    return AsyncPinecone(
        api_key=settings.pinecone_api_key.get_secret_value(), host=settings.pinecone_controller_host, timeout=30
    )


def _embedder(settings: Settings) -> tuple[str, int]:
    kind = embedder_kind(settings)
    return kind, embedder_dimension(kind)


def _refused(exc: BaseException) -> int:
    """Print a Pinecone SDK error in one line (exit status 1); anything else is a bug and is raised."""
    from pinecone.errors import PineconeError

    if not isinstance(exc, PineconeError):
        raise exc
    print(f"improv: Pinecone: {describe_error(exc)}", file=sys.stderr)
    return 1


async def pinecone_init(args: argparse.Namespace, settings: Settings) -> int:
    """Create the index (or check the one of that name) and say what to put in PINECONE_INDEX_HOSTS."""
    kind, dimension = _embedder(settings)
    print(f"embedder: {kind} ({dimension} dimensions, EMBEDDER={settings.embedder})")
    try:
        async with _client(settings) as client:
            result = await init_index(client, args.name, dimension, cloud=args.cloud, region=args.region)
    except Exception as exc:  # a refused key or name, no connection: one line
        return _refused(exc)
    if result.problem is not None:
        print(f"improv: {result.problem}", file=sys.stderr)
        return 1
    what = "created" if result.created else "exists and fits:"
    print(f"index {result.name} {what} serverless, dense, cosine, {dimension} dimensions")
    configured = [h for h in settings.pinecone_index_hosts if h.strip()]
    if any(bare_host(h) == bare_host(result.host) for h in configured):
        print(f"host {result.host} is already in PINECONE_INDEX_HOSTS")
    else:
        # appended at the end: guilds already placed stay on their index (jump hash)
        print(f"host: {result.host}\nset PINECONE_INDEX_HOSTS={','.join([*configured, result.host])}")
    return 0


async def pinecone_check(args: argparse.Namespace, settings: Settings) -> int:
    """Check every index in PINECONE_INDEX_HOSTS the way the bot does at startup."""
    settings.require("pinecone_index_hosts")
    kind, dimension = _embedder(settings)
    try:
        async with _client(settings) as client:
            problems = await check_hosts(client, settings.pinecone_index_hosts, dimension)
    except Exception as exc:
        return _refused(exc)
    for problem in problems:
        print(f"improv: {problem}", file=sys.stderr)
    if problems:
        return 1
    count = len(settings.pinecone_index_hosts)
    print(f"{count} Pinecone index{'es' if count != 1 else ''} fit the {kind} embedder: dense, cosine, {dimension}-d")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `improv pinecone …`."""
    from bot.cli.commands import add_command

    pinecone = sub.add_parser("pinecone", help="create or check the Pinecone indexes campaign memory uses")
    pinecone_sub = pinecone.add_subparsers(dest="pinecone_command", required=True, metavar="COMMAND")
    init = add_command(
        pinecone_sub,
        "init",
        pinecone_init,
        help="create a serverless dense index for the configured embedder (or check the one of that name)",
        needs_services=False,
        quiet=True,
    )
    init.add_argument("name", help="index name: lower-case letters, digits and '-', at most 45 characters")
    init.add_argument("--cloud", default="aws", help="cloud of the serverless index (default: aws)")
    init.add_argument("--region", default="us-east-1", help="region of the serverless index (default: us-east-1)")
    add_command(
        pinecone_sub,
        "check",
        pinecone_check,
        help="check every index in PINECONE_INDEX_HOSTS (dimension, metric, vector API), as startup does",
        needs_services=False,
        quiet=True,
    )
