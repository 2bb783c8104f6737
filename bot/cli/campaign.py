"""`improv campaign import|search|list|forget|status|reindex|party --guild ID [--campaign NAME]`: campaign memory
from the terminal, through the same `CampaignMemory` the bot uses (default: the guild's default campaign)."""

from __future__ import annotations

import argparse
import json
import mimetypes
import sys
from pathlib import Path

from bot.campaigns import DEFAULT_NAME
from bot.errors import UserFacingError
from bot.improv.prompts import Style
from bot.memory import ImportProgress, ImportReport, Upload
from bot.memory.scope import CampaignScope
from bot.prefs import load_prefs
from bot.services import Services

__all__ = ["campaign_target", "register"]


async def campaign_target(services: Services, guild_id: int, name: str | None) -> tuple[CampaignScope, Style]:
    """The campaign `--campaign NAME` names (none: the guild's default campaign) and the style its panics use;
    `UserFacingError` when the guild has no campaign of that name."""
    prefs = await load_prefs(services.sessionmaker, guild_id)
    info = prefs.campaigns.named(name or DEFAULT_NAME)
    if info is None:
        known = ", ".join(c.name for c in prefs.campaigns.campaigns) or "only the default one"
        raise UserFacingError(f"Guild {guild_id} has no campaign {name!r} (it has {known}).")
    return CampaignScope(guild_id, info.campaign_id), prefs.style_for(info)


async def _scope(args: argparse.Namespace, services: Services) -> CampaignScope:
    return (await campaign_target(services, args.guild, args.campaign))[0]


def _plain(message: str) -> str:
    return message.replace("**", "")


async def campaign_import(args: argparse.Namespace, services: Services) -> int:
    """Import files (a .zip of notes as its notes); prints one line per document. Exit 1 when any failed."""
    scope = await _scope(args, services)
    memory = services.memory
    uploads: list[Upload] = []
    failures = 0
    for path in args.files:
        try:
            size = path.stat().st_size
            await memory.check_upload(scope, path.name, _content_type(path), size)
        except FileNotFoundError:
            print(f"{path}: no such file", file=sys.stderr)
            failures += 1
            continue
        except UserFacingError as exc:
            print(f"{path}: {_plain(exc.message)}", file=sys.stderr)
            failures += 1
            continue
        for item in await memory.unpack(scope, Upload(path.name, _content_type(path), path.read_bytes())):
            if isinstance(item, Upload):
                uploads.append(item)
            else:  # a .zip of notes that is refused, or one of its notes
                print(f"{path}: {_plain(item.message)}", file=sys.stderr)
                failures += 1
    if not uploads:
        return 1

    async def progress(update: ImportProgress) -> None:
        if args.quiet or update.stage not in ("embedding", "done"):
            return
        print(
            f"\r{update.file_name}: {update.chunks_embedded}/{update.chunks_total} chunks embedded",
            end="\n" if update.stage == "done" else "",
            file=sys.stderr,
            flush=True,
        )

    results = await memory.import_files(scope, uploads, player_safe=args.player_safe, progress=progress)
    for upload, result in zip(uploads, results, strict=True):
        if isinstance(result, ImportReport):
            print(_describe(result))
        else:
            print(f"{upload.file_name}: {_plain(result.message)}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


def _describe(report: ImportReport) -> str:
    if report.outcome == "unchanged":
        return f"{report.file_name}: unchanged (same content already imported, nothing re-embedded)"
    if report.outcome == "duplicate":
        return f"{report.file_name}: skipped, same content as {report.duplicate_of}"
    pages = f", {report.pages} pages" if report.pages else ""
    return (
        f"{report.file_name}: {report.outcome}, {report.chunks} chunks{pages}, {report.seconds:.1f} s "
        f"(document {report.document_id[:12]})"
    )


def _content_type(path: Path) -> str | None:
    if path.suffix.lower() in {".md", ".markdown"}:
        return "text/markdown"
    return mimetypes.guess_type(path.name)[0]


async def campaign_search(args: argparse.Namespace, services: Services) -> int:
    """Print the best passages (a JSON array with `--json`)."""
    scope = await _scope(args, services)
    passages = await services.memory.search(scope, args.query, k=args.k, player_safe_only=args.player_safe)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "text": p.text,
                        "file": p.file,
                        "heading": p.heading,
                        "page": p.page,
                        "score": round(p.score, 4),
                        "document_id": p.document_id,
                        "chunk_id": p.chunk_id,
                        "player_safe": p.player_safe,
                    }
                    for p in passages
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    if not passages:
        print("no passages found")
    for number, p in enumerate(passages, start=1):
        print(f"{number}. {p.citation()}  (score {p.score:.3f})")
        print("   " + p.text.replace("\n", "\n   "))
    return 0


async def campaign_list(args: argparse.Namespace, services: Services) -> int:
    """Print the guild's documents."""
    scope = await _scope(args, services)
    docs = await services.memory.list_documents(scope)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "document_id": d.document_id,
                        "file": d.file_name,
                        "kind": d.kind,
                        "size_bytes": d.size_bytes,
                        "pages": d.pages,
                        "chunks": d.chunk_count,
                        "player_safe": d.player_safe,
                        "imported_at": d.imported_at.isoformat(),
                    }
                    for d in docs
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
        return 0
    if not docs:
        print("no documents")
    for d in docs:
        safe = "  player-safe" if d.player_safe else ""
        print(
            f"{d.document_id[:12]}  {d.file_name}  {d.kind}  {d.chunk_count} chunks  {d.size_bytes} bytes  "
            f"{d.imported_at:%Y-%m-%d %H:%M}{safe}"
        )
    return 0


async def campaign_forget(args: argparse.Namespace, services: Services) -> int:
    """Forget one document (by id, id prefix or file name) or all of them."""
    scope = await _scope(args, services)
    try:
        if args.all:
            count = await services.memory.forget_all(scope)
            print(f"forgot {count} documents")
        else:
            info = await services.memory.forget_document(scope, args.document)
            print(f"forgot {info.file_name} ({info.chunk_count} chunks)")
    except UserFacingError as exc:
        print(_plain(exc.message), file=sys.stderr)
        return 1
    return 0


async def campaign_status(args: argparse.Namespace, services: Services) -> int:
    """Print embedder, store and usage."""
    scope = await _scope(args, services)
    status = await services.memory.status(scope)
    print(json.dumps({k: getattr(status, k) for k in status.__slots__}, indent=2))
    return 0


async def campaign_reindex(args: argparse.Namespace, services: Services) -> int:
    """Re-embed the guild's notes after a change of embedder or vector store."""
    scope = await _scope(args, services)
    await services.memory.reindex(scope)
    print("index is current")
    return 0


async def campaign_party(args: argparse.Namespace, services: Services) -> int:
    """`party add|remove NAME` changes the party roster; `party list` prints it (a JSON object with `--json`).
    Each prints the roster afterwards: names added by command, and names under a party heading in the notes."""
    scope = await _scope(args, services)
    memory = services.memory
    try:
        if args.party_command == "add":
            print(f"added {await memory.add_party_member(scope, args.name)}", file=sys.stderr)
        elif args.party_command == "remove":
            print(f"removed {await memory.remove_party_member(scope, args.name)}", file=sys.stderr)
    except UserFacingError as exc:
        print(_plain(exc.message), file=sys.stderr)
        return 1
    added = await memory.party(scope)
    from_notes = [p for p in (await memory.canon(scope)).party if p not in added]
    if args.json:
        print(json.dumps({"added": added, "from_notes": from_notes}, indent=2, ensure_ascii=False))
        return 0
    if not added and not from_notes:
        print("no player characters")
    for name in added:
        print(name)
    for name in from_notes:
        print(f"{name}  (from the notes)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `improv campaign …`."""
    from bot.cli.commands import add_command

    campaign = sub.add_parser("campaign", help="import and search a guild's campaign notes")
    campaign_sub = campaign.add_subparsers(dest="campaign_command", required=True, metavar="COMMAND")

    def guild(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("--guild", type=int, required=True, help="Discord guild (server) id")
        parser.add_argument("--campaign", metavar="NAME", help="one of its campaigns (default: its default one)")
        return parser

    imp = guild(add_command(campaign_sub, "import", campaign_import, help="import .md/.txt/.pdf/.docx files"))
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--player-safe", action="store_true", help="players may see these documents")
    imp.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    search = guild(add_command(campaign_sub, "search", campaign_search, help="best passages for a query"))
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--k", type=int, default=5, help="number of passages (default 5)")
    search.add_argument("--json", action="store_true", help="print a JSON array, best first")
    search.add_argument("--player-safe", action="store_true", help="only player-safe documents")

    lst = guild(add_command(campaign_sub, "list", campaign_list, help="the guild's documents"))
    lst.add_argument("--json", action="store_true", help="print JSON")

    forget = guild(add_command(campaign_sub, "forget", campaign_forget, help="forget a document or everything"))
    which = forget.add_mutually_exclusive_group(required=True)
    which.add_argument("--document", help="document id (or its first 6+ characters) or file name")
    which.add_argument("--all", action="store_true", help="forget every document of the guild")

    guild(add_command(campaign_sub, "status", campaign_status, help="embedder, store and usage"))
    guild(add_command(campaign_sub, "reindex", campaign_reindex, help="re-embed after changing embedder or store"))

    party = add_command(campaign_sub, "party", campaign_party, help="the player characters (never used as NPCs)")
    party_sub = party.add_subparsers(dest="party_command", required=True, metavar="ACTION")
    for action, text in (("add", "add a player character"), ("remove", "remove a player character")):
        changed = guild(party_sub.add_parser(action, help=text))
        changed.add_argument("name", metavar="NAME", help="the player character's name")
        changed.add_argument("--json", action="store_true", help="print the roster as JSON afterwards")
    listed = guild(party_sub.add_parser("list", help="the party roster"))
    listed.add_argument("--json", action="store_true", help="print JSON: {added, from_notes}")
