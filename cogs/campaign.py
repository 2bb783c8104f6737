"""`/campaign`: import, list, search, forget and inspect the guild's campaign notes, and keep its party roster
(thin glue over `bot.memory.CampaignMemory`)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.campaigns import CAMPAIGN_ITEMS, campaign_commands, channel_scope
from bot.discord.checks import SettingsUnavailable, gm_only, is_gm
from bot.discord.client import PanicBot
from bot.discord.recap import RECAP_ITEMS, recap_commands
from bot.discord.render import EmbedField, Limits, error_embed, fit_choice, fit_embed, fit_lines, truncate
from bot.discord.views import ConfirmButton, PanicView
from bot.errors import UserFacingError
from bot.memory import (
    CampaignMemory,
    DocumentInfo,
    ImportProgress,
    ImportReport,
    MemoryStatus,
    Passage,
    Upload,
)
from bot.memory.names import clean_file_name
from bot.memory.scope import CampaignScope
from bot.sizes import format_bytes

__all__ = ["Campaign", "ForgetEverythingButton", "setup"]

log = logging.getLogger(__name__)

Interaction = discord.Interaction[PanicBot]

COLOUR = discord.Colour.dark_teal()
TOKEN_BUDGET = 14 * 60.0  # interaction tokens live 15 minutes; past this the result goes to the importer privately
TOKEN_LIFETIME = 14.5 * 60.0  # a private followup is still safe before this; later the importer gets a DM
PROGRESS_INTERVAL = 1.0  # seconds between progress edits
REPLY_WAIT = 1.5  # longest a read before the initial response (after the GM check's 0.5 s) may take
UNAVAILABLE = "Campaign memory isn't answering right now. Try again in a moment."


def _pages(pages: int | None) -> str:
    return "" if not pages else f", {pages} page{'s' if pages != 1 else ''}"


class ProgressThrottle:
    """Lets a progress edit through at most once per `interval` seconds (the last state is always shown)."""

    def __init__(self, interval: float = PROGRESS_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            return False
        self._last = now
        return True


def progress_embed(update: ImportProgress) -> discord.Embed:
    """The progress message of an import."""
    lines = [f"**{discord.utils.escape_markdown(update.file_name)}** ({update.file_number}/{update.file_count})"]
    if update.pages_total:
        lines.append(f"Pages parsed: {update.pages_parsed}/{update.pages_total}")
    elif update.stage == "parsing":
        lines.append("Reading the file…")
    if update.chunks_total:
        lines.append(f"Chunks embedded: {update.chunks_embedded}/{update.chunks_total}")
    if update.stage == "saving":
        lines.append("Saving…")
    return fit_embed(title="Importing campaign notes", description="\n".join(lines), colour=COLOUR)


def report_embed(results: Sequence[tuple[str, ImportReport | UserFacingError]]) -> discord.Embed:
    """The final summary of an import: one line per file."""
    lines: list[str] = []
    for name, result in results:
        shown = discord.utils.escape_markdown(name)
        if isinstance(result, UserFacingError):
            lines.append(f"⚠️ {result.message}")
            continue
        safe = " · player-safe" if result.player_safe else ""
        if result.outcome == "unchanged":
            lines.append(f"♻️ **{shown}** is already imported with the same content: nothing re-embedded{safe}.")
        elif result.outcome == "duplicate":
            other = discord.utils.escape_markdown(result.duplicate_of or "another file")
            lines.append(f"♻️ **{shown}** has the same content as **{other}**, already imported: skipped.")
        else:
            verb = "Replaced" if result.outcome == "replaced" else "Imported"
            lines.append(
                f"✅ {verb} **{shown}**: {result.chunks} passages{_pages(result.pages)}, "
                f"{format_bytes(result.size_bytes)} in {result.seconds:.1f} s{safe}."
            )
    ok = sum(1 for _, r in results if isinstance(r, ImportReport))
    title = "Import finished" if ok == len(results) else ("Import finished with problems" if ok else "Nothing imported")
    colour = COLOUR if ok == len(results) else discord.Colour.orange()
    footer = "Try /campaign search to see what the panic button will draw on." if ok else ""
    description = fit_lines(lines, keep=lambda line: line.startswith("⚠️"))  # every problem, however many notes
    return fit_embed(title=title, description=description, footer=footer, colour=colour)


async def _tell_cancelled(interaction: Interaction) -> None:
    """Tell the GM their import was cancelled by a shutdown (best effort, briefly)."""
    embed = error_embed(
        "Import cancelled",
        "The bot is restarting, so this import was cancelled and your notes are unchanged. Import again in a minute.",
    )
    try:
        async with asyncio.timeout(2):
            await interaction.edit_original_response(embed=embed)
    except (TimeoutError, discord.HTTPException):
        log.warning("could not tell guild %s that its import was cancelled", interaction.guild_id)


class ForgetEverythingButton(ConfirmButton, template=r"campaign:forget-all:(?P<action>yes|no)"):
    """Confirm (or cancel) forgetting every document of the channel's campaign."""

    confirm_label = "Forget everything"
    cancelled = ("Nothing forgotten", "Your notes are untouched.")

    def __init__(self, action: str) -> None:
        super().__init__(f"campaign:forget-all:{action}", action)

    async def confirmed(self, interaction: Interaction) -> None:
        count = await interaction.client.services.memory.forget_all(await channel_scope(interaction))
        embed = fit_embed(
            title="Campaign memory cleared",
            description=f"Forgot {count} document{'s' if count != 1 else ''} and all their passages.",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed, view=None)


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
class Campaign(
    commands.GroupCog, group_name="campaign", group_description="Your campaign notes, searchable by the panic button"
):
    """The campaign-memory commands (GM only)."""

    def __init__(self, bot: PanicBot) -> None:
        self.bot = bot
        self.token_budget = TOKEN_BUDGET
        self.token_lifetime = TOKEN_LIFETIME
        self.long_imports: dict[CampaignScope, str] = {}  # the last long import's outcome, for /campaign status
        self.throttle_factory: Callable[[], ProgressThrottle] = ProgressThrottle
        assert self.app_command is not None
        for command in (*campaign_commands(), *recap_commands()):  # bot/discord/campaigns.py, recap.py
            self.app_command.add_command(command)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ForgetEverythingButton, *CAMPAIGN_ITEMS, *RECAP_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ForgetEverythingButton, *CAMPAIGN_ITEMS, *RECAP_ITEMS)

    @property
    def memory(self) -> CampaignMemory:
        return self.bot.services.memory

    # --- import -------------------------------------------------------------------------------------------
    @app_commands.command(name="import", description="Import notes (.md, .txt, .pdf, .docx, .zip) into campaign memory")
    @app_commands.describe(
        file="A .md, .txt, .pdf or .docx file, or a .zip of Markdown notes (Obsidian vault, Notion export)",
        file2="Another file",
        file3="Another file",
        file4="Another file",
        file5="Another file",
        player_safe="Players may see passages from these files (default: GM only)",
    )
    @gm_only()
    async def import_(
        self,
        interaction: Interaction,
        file: discord.Attachment,
        file2: discord.Attachment | None = None,
        file3: discord.Attachment | None = None,
        file4: discord.Attachment | None = None,
        file5: discord.Attachment | None = None,
        player_safe: bool = False,
    ) -> None:
        """Check every attachment from its metadata, download the good ones, import them with progress."""
        started = time.monotonic()
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = await channel_scope(interaction)  # the channel's campaign
        attachments = [a for a in (file, file2, file3, file4, file5) if a is not None]

        # one entry per attachment, in order (two attachments may share a name): a problem, or the upload
        outcomes: list[UserFacingError | Upload] = []
        for attachment in attachments:  # before any download: name, type and declared size only
            try:
                await self.memory.check_upload(scope, attachment.filename, attachment.content_type, attachment.size)
            except UserFacingError as exc:
                outcomes.append(exc)
                continue
            try:
                data = await attachment.read()
            except discord.HTTPException:
                outcomes.append(
                    UserFacingError(
                        f"I couldn't download **{discord.utils.escape_markdown(clean_file_name(attachment.filename))}**"
                        " from Discord. Try attaching it again."
                    )
                )
                continue
            outcomes += await self.memory.unpack(scope, Upload(attachment.filename, attachment.content_type, data))

        uploads = [o for o in outcomes if isinstance(o, Upload)]
        reports: list[ImportReport | UserFacingError] = []
        if uploads:
            finished = await self._run_import(interaction, scope, uploads, player_safe, started)
            if finished is None:  # reported to the importer privately instead
                return
            reports = finished
        done = iter(reports)
        ordered = [(clean_file_name(u.file_name), next(done)) if isinstance(u, Upload) else ("", u) for u in outcomes]
        await interaction.edit_original_response(embed=report_embed(ordered))

    async def _run_import(
        self,
        interaction: Interaction,
        scope: CampaignScope,
        uploads: list[Upload],
        player_safe: bool,
        started: float,
    ) -> list[ImportReport | UserFacingError] | None:
        """The result of each upload in order, or None when the import outlived the interaction token's budget
        (the result then goes to the importer privately, and to `/campaign status`)."""
        throttle = self.throttle_factory()
        deadline = started + self.token_budget
        token_alive = True

        async def progress(update: ImportProgress) -> None:
            if not token_alive or update.stage == "done" or not throttle.ready():
                return
            await interaction.edit_original_response(embed=progress_embed(update))

        task = asyncio.create_task(self.memory.import_files(scope, uploads, player_safe=player_safe, progress=progress))
        try:
            done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        except asyncio.CancelledError:  # the bot is shutting down: the import rolls back and frees the guild
            task.cancel()
            await asyncio.wait({task})
            await _tell_cancelled(interaction)
            raise
        if task in done:
            return task.result()

        token_alive = False
        await interaction.edit_original_response(
            embed=fit_embed(
                title="Still importing",
                description="This is a big one. I'll send you the result privately when it's done; "
                "`/campaign status` will show it too.",
                colour=COLOUR,
            )
        )
        try:
            results = await task
            embed = report_embed([(clean_file_name(u.file_name), r) for u, r in zip(uploads, results, strict=True)])
        except UserFacingError as exc:
            embed = error_embed(exc.title, exc.message)
        except Exception:
            log.exception("guild %s: long import failed", scope)
            embed = error_embed("Import failed", "Sorry, the import failed; your earlier notes are unchanged.")
        self.long_imports[scope] = f"**{embed.title}**\n{embed.description or ''}"
        await self._tell_importer(interaction, embed, started)
        return None

    async def _tell_importer(self, interaction: Interaction, embed: discord.Embed, started: float) -> None:
        """A long import's result for the importer alone: a private followup while the interaction token lives,
        else a direct message (never the channel: file names of GM-only notes stay private)."""
        if time.monotonic() - started < self.token_lifetime:
            try:
                await interaction.followup.send(embed=embed, ephemeral=True)
                return
            except discord.HTTPException as exc:
                log.info("guild %s: the import's followup failed (%s); sending a DM", interaction.guild_id, exc)
        try:
            await interaction.user.send(embed=embed)
        except discord.HTTPException as exc:  # DMs closed: /campaign status still shows the result
            log.info("guild %s: could not DM the importer (%s)", interaction.guild_id, exc)

    # --- list, search, status ------------------------------------------------------------------------------
    @app_commands.command(name="list", description="The documents in this server's campaign memory")
    @gm_only()
    async def list_(self, interaction: Interaction) -> None:
        """Documents with passages, size and import time."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        docs = await self.memory.list_documents(await channel_scope(interaction))
        await interaction.edit_original_response(embed=list_embed(docs))

    @app_commands.command(name="search", description="See which passages of your notes match a question")
    @app_commands.describe(query="What to look for", results="How many passages (1-10)")
    @gm_only()
    async def search(
        self,
        interaction: Interaction,
        query: app_commands.Range[str, 1, 300],
        results: app_commands.Range[int, 1, 10] = 5,
    ) -> None:
        """Top passages with file and heading or page."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        passages = await self.memory.search(await channel_scope(interaction), query, k=results)
        await interaction.edit_original_response(embed=search_embed(query, passages))

    @app_commands.command(name="status", description="Embedder, vector store and usage of campaign memory")
    @gm_only()
    async def status(self, interaction: Interaction) -> None:
        """Configuration and usage."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = await channel_scope(interaction)
        status = await self.memory.status(scope)
        last_import, model = self.long_imports.get(scope), self.bot.services.improv.model_status
        await interaction.edit_original_response(embed=status_embed(status, last_import, model(scope.guild_id)))

    # --- forgetting and visibility ---------------------------------------------------------------------------
    @app_commands.command(name="forget", description="Forget one document")
    @app_commands.describe(document="The document to forget")
    @gm_only()
    async def forget(self, interaction: Interaction, document: str) -> None:
        """Delete one document with its passages."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        info = await self.memory.forget_document(await channel_scope(interaction), document)
        embed = fit_embed(
            title="Forgotten",
            description=f"**{discord.utils.escape_markdown(info.file_name)}** and its {info.chunk_count} passages "
            "are gone from campaign memory.",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed)

    @app_commands.command(name="forget-everything", description="Forget every document (asks for confirmation)")
    @gm_only()
    async def forget_everything(self, interaction: Interaction) -> None:
        """Ask before deleting all of the guild's notes."""
        try:
            async with asyncio.timeout(REPLY_WAIT):  # Discord's 3 s for the reply include the GM check's wait
                docs = await self.memory.list_documents(await channel_scope(interaction))
        except TimeoutError:
            raise UserFacingError(UNAVAILABLE, title="Try again in a moment") from None
        if not docs:
            raise UserFacingError("There is nothing to forget: campaign memory is empty.", title="Nothing to forget")
        view = PanicView(timeout=None)
        view.add_item(ForgetEverythingButton("yes"))
        view.add_item(ForgetEverythingButton("no"))
        embed = fit_embed(
            title="Forget everything?",
            description=f"This deletes all {len(docs)} documents and their passages from this server's campaign "
            "memory. It can't be undone.",
            colour=discord.Colour.red(),
        )
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @app_commands.command(name="visibility", description="Let players see a document's passages, or hide them again")
    @app_commands.describe(document="The document", player_safe="True: players may see it; False: GM only")
    @gm_only()
    async def visibility(self, interaction: Interaction, document: str, player_safe: bool) -> None:
        """Mark a document player-safe or GM-only."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        info = await self.memory.set_player_safe(await channel_scope(interaction), document, player_safe)
        who = "players and the GM" if player_safe else "the GM only"
        embed = fit_embed(
            title="Visibility changed",
            description=f"Passages of **{discord.utils.escape_markdown(info.file_name)}** are now for {who}.",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed)

    # --- the party -----------------------------------------------------------------------------------------
    party = app_commands.Group(name="party", description="Your player characters: never used as NPCs")

    @party.command(name="add", description="Add a player character (the panic button never uses them as an NPC)")
    @app_commands.describe(name="The player character's name, as the notes write it")
    @gm_only()
    async def party_add(self, interaction: Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        """Put a PC on the party roster."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        added = await self.memory.add_party_member(await channel_scope(interaction), name)
        embed = fit_embed(
            title="Added to the party",
            description=f"**{discord.utils.escape_markdown(added)}** is a player character: answers never use them "
            "as an NPC, and no new NPC takes their name.",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed)

    @party.command(name="remove", description="Remove a player character from the party")
    @app_commands.describe(name="The player character's name")
    @gm_only()
    async def party_remove(self, interaction: Interaction, name: app_commands.Range[str, 1, 100]) -> None:
        """Take a PC off the party roster."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        removed = await self.memory.remove_party_member(await channel_scope(interaction), name)
        embed = fit_embed(
            title="Removed from the party",
            description=f"**{discord.utils.escape_markdown(removed)}** is no longer on the party roster.",
            colour=COLOUR,
        )
        await interaction.edit_original_response(embed=embed)

    @party.command(name="list", description="The player characters the panic button never uses as NPCs")
    @gm_only()
    async def party_list(self, interaction: Interaction) -> None:
        """The party roster: names added with /campaign party add, and those under a party heading in the notes."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        scope = await channel_scope(interaction)
        added, canon = await self.memory.party(scope), await self.memory.canon(scope)
        await interaction.edit_original_response(embed=party_embed(added, canon.party))

    async def _gm_may_complete(self, interaction: Interaction) -> bool:
        """Whether to offer a GM's choices (none outside a guild, for players, or while settings are unreadable)."""
        try:
            return interaction.guild_id is not None and await is_gm(interaction)
        except SettingsUnavailable:
            return False

    @party_remove.autocomplete("name")
    async def _party_choices(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        if not await self._gm_may_complete(interaction):
            return []
        needle = current.lower().strip()
        try:
            async with asyncio.timeout(REPLY_WAIT):  # an autocomplete answers within 3 s, even with no choices
                members = await self.memory.party(await channel_scope(interaction))
        except (TimeoutError, SettingsUnavailable):
            return []
        return [app_commands.Choice(name=fit_choice(m), value=m) for m in members if needle in m.lower()][:25]

    @forget.autocomplete("document")
    @visibility.autocomplete("document")
    async def _document_choices(self, interaction: Interaction, current: str) -> list[app_commands.Choice[str]]:
        if not await self._gm_may_complete(interaction):
            return []
        try:
            async with asyncio.timeout(REPLY_WAIT):
                docs = await self.memory.list_documents(await channel_scope(interaction))
        except (TimeoutError, SettingsUnavailable):
            return []
        needle = current.lower().strip()
        matching = [d for d in docs if needle in d.file_name.lower()] if needle else docs
        return [
            app_commands.Choice(name=fit_choice(f"{d.file_name} ({d.chunk_count} passages)"), value=d.document_id)
            for d in matching[:25]
        ]

    # --- lifecycle --------------------------------------------------------------------------------------------
    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """The bot left (or was removed from) a guild: its notes go with it, in the background."""
        self.bot.services.tasks.spawn(self._forget_guild(guild.id), name=f"forget-guild-{guild.id}")

    async def _forget_guild(self, guild_id: int) -> None:
        try:
            await self.memory.delete_guild(guild_id)
            log.info("guild %s removed: campaign memory deleted", guild_id)
        except Exception:
            log.exception("guild %s removed: could not delete campaign memory", guild_id)


def list_embed(docs: Sequence[DocumentInfo]) -> discord.Embed:
    """`/campaign list`."""
    if not docs:
        return fit_embed(
            title="Campaign memory", description="No notes yet. Upload some with `/campaign import`.", colour=COLOUR
        )
    lines = []
    for doc in docs:
        when = discord.utils.format_dt(doc.imported_at, "R")
        safe = " · 👁 player-safe" if doc.player_safe else ""
        lines.append(
            f"**{discord.utils.escape_markdown(doc.file_name)}** — {doc.kind}{_pages(doc.pages)}, "
            f"{doc.chunk_count} passages, {format_bytes(doc.size_bytes)}, imported {when}{safe}"
        )
    shown: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        tail = f"\n…and {len(lines) - index} more" if index < len(lines) else ""
        if used + len(line) + 1 + len(tail) > Limits.DESCRIPTION - 40:
            shown.append(f"…and {len(lines) - index} more")
            break
        shown.append(line)
        used += len(line) + 1
    total = sum(d.chunk_count for d in docs)
    size = format_bytes(sum(d.size_bytes for d in docs))
    return fit_embed(
        title="Campaign memory",
        description="\n".join(shown),
        footer=f"{len(docs)} documents · {total} passages · {size}",
        colour=COLOUR,
    )


def party_embed(added: Sequence[str], party: Sequence[str]) -> discord.Embed:
    """`/campaign party list`: the names added by command, then those found under a party heading in the notes."""
    from_notes = [p for p in party if p not in added]
    fields = []
    if added:
        fields.append(EmbedField("Added with /campaign party add", _bullets(added)))
    if from_notes:
        fields.append(EmbedField("Found in your notes (under a party heading)", _bullets(from_notes)))
    empty = (
        "No player characters yet. Add them with `/campaign party add`, or put them under a "
        '"Player characters" or "The party" heading in your notes.'
    )
    return fit_embed(
        title="The party",
        description="" if fields else empty,
        fields=fields,
        footer="Player characters are never used as NPCs." if fields else "",
        colour=COLOUR,
    )


def _bullets(names: Sequence[str]) -> str:
    return truncate("\n".join(f"• {discord.utils.escape_markdown(n)}" for n in names), Limits.FIELD_VALUE)


def status_embed(status: MemoryStatus, last_import: str | None = None, model: str = "") -> discord.Embed:
    """`/campaign status`, with the outcome of the last import that outlived its interaction and the model's."""
    vectors = "unknown" if status.vectors < 0 else str(status.vectors)
    usage = (
        f"{status.documents} documents · {status.chunks} passages · {format_bytes(status.bytes)} · {vectors} vectors"
    )
    fields = [
        EmbedField("Embedder", f"`{status.embedder}` ({status.dimension} dimensions)"),
        EmbedField("Vector store", status.store, inline=True),
        EmbedField("Usage", usage),
        EmbedField("Largest upload", format_bytes(status.upload_limit_bytes), inline=True),
        *([EmbedField("Model", model)] if model else []),
    ]
    if status.reindex_needed:
        fields.append(
            EmbedField(
                "Re-indexing needed",
                f"Notes were indexed with `{status.indexed_with}`; the next import re-embeds them "
                "(or run `improv campaign reindex`).",
            )
        )
    if last_import:
        fields.append(EmbedField("Last long import", last_import))
    return fit_embed(title="Campaign memory status", fields=fields, colour=COLOUR)


_LIST_ITEM = re.compile(r"(?:[-*+•]|\d+[.)]|\|)\s")


def as_prose(text: str) -> str:
    """A passage as it reads: the source's line breaks within a paragraph joined, runs of whitespace collapsed;
    paragraphs and list items keep a line of their own."""
    lines: list[str] = []
    joinable = False  # whether the next source line continues the last one
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            joinable = False
        elif joinable and not _LIST_ITEM.match(line):
            lines[-1] += " " + line
        else:
            lines.append(line)
            joinable = True
    return "\n".join(lines)


def search_embed(query: str, passages: Sequence[Passage]) -> discord.Embed:
    """`/campaign search`: the passages best first, each with its citation and the score the order follows."""
    empty = "Nothing found. Import notes with `/campaign import` first, or try other words."
    fields = [
        EmbedField(
            f"{number}. {passage.citation()}",
            f"{truncate(as_prose(passage.text), Limits.FIELD_VALUE - 20)}\n-# score {passage.score:.2f}",
        )
        for number, passage in enumerate(passages, start=1)
    ]
    return fit_embed(title=f"Search: {query}", description="" if passages else empty, fields=fields, colour=COLOUR)


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Campaign(bot))
