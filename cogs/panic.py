"""`/panic`: the GM's panic button — a command per kind, the persistent red button, follow-ups, settings.

Thin glue: parse the interaction, check who may panic, acknowledge at once, call the improviser, render.
Every custom id is namespaced (`panic:<action>:<arg>`) and parsed by a `DynamicItem`, so buttons keep working
after a restart; their state comes from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
from typing import Any, Self

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.campaigns import campaign_of, scope_of
from bot.discord.checks import (
    GM_ONLY_MESSAGE,
    NotGM,
    SettingsUnavailable,
    ensure_owner_or_gm,
    gm_only,
    has_gm_rights,
)
from bot.discord.client import PanicBot
from bot.discord.recap import note_reveal, save_to_canon
from bot.discord.render import card, fit_content, fit_embed, gm_part_card, secret_card
from bot.discord.streaming import StreamingEditor
from bot.discord.views import PanicView, PersistentItem
from bot.errors import UserFacingError
from bot.improv.engine import Improviser
from bot.improv.kinds import KIND_INFO, Kind, parse_kind
from bot.improv.kinds.base import Audience
from bot.improv.types import PanicRequest, PanicResult
from bot.prefs import DEFAULT_PREFS, RATINGS, TONES, GuildPrefs, change_prefs

Interaction = discord.Interaction[PanicBot]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()


def help_text() -> str:
    """`/panic help`: every kind with its description, then the other commands."""
    kinds = "\n".join(f"• `/panic {kind}` — {info.description}" for kind, info in KIND_INFO.items())
    return (
        "**Caught off guard?** Each of these answers in a second or two with something table-ready, grounded in "
        f"your own campaign notes and citing them:\n{kinds}\n\n"
        "• `/campaign import` — upload your notes (Markdown, text, PDF, DOCX)\n"
        "• `/panic button` — post the big red button in this channel\n"
        "• `/panic settings` — GM role, tone, length, who may panic\n"
        "• `/billing status` — your plan and this month's usage\n\n"
        "Answers are shown only to you until you press **Reveal to table**; secrets, rumors' truth and sources "
        "stay with you (**Reveal secret…** shares a secret only once you confirm)."
    )


FALLBACK_TEXT = {
    "no_key": "no model configured",
    "timeout": "the model took too long",
    "rate_limited": "the model is busy",
    "error": "the model had an error",
    "invalid": "the model's answer didn't fit",
    "refusal": "the model declined",
    "circuit_open": "the model is resting after errors",
    "quota": "this month's panics are used up",
    "cancelled": "the answer was cancelled",
    "busy": "the bot is very busy right now",
}
COLOURS = {"openai": discord.Colour.red(), "pool": discord.Colour.dark_red(), "tables": discord.Colour.light_grey()}


# --- helpers ---------------------------------------------------------------------------------------------------
def _cog(interaction: Interaction) -> Panic:
    cog = interaction.client.get_cog("Panic")
    if not isinstance(cog, Panic):
        raise UserFacingError("The panic button is not loaded right now. Try again in a moment.")
    return cog


def _improviser(interaction: Interaction) -> Improviser:
    return interaction.client.services.improv


# --- rendering -----------------------------------------------------------------------------------------------
NOT_CONSULTED_TEXT = {  # why the notes were skipped (`PanicResult.grounding_note`)
    "timeout": "searching them took too long",
    "unavailable": "campaign memory is unavailable",
    "warming": "the search was still starting up",
    "busy": "too busy",
}


def footer_for(result: PanicResult) -> str:
    """Where the answer came from, what is left of the quota, and why the notes were skipped if they were."""
    if result.engine == "openai":
        source = f"Source: {result.model or 'model'}"
    elif result.engine == "pool":
        source = f"Source: instant pool ({result.model or 'model'})"
    else:
        why = FALLBACK_TEXT.get(result.fallback_reason or "", result.fallback_reason or "")
        source = f"Source: offline tables ({why})" if why else "Source: offline tables"
    if result.quota is not None and result.quota.limit is not None:
        source += f" · {result.quota.remaining} of {result.quota.limit} panics left this month"
    if result.player_safe_only:
        source += " · player-safe notes only"
    if result.grounding_note:
        why = NOT_CONSULTED_TEXT.get(result.grounding_note, result.grounding_note)
        source += f" · notes not consulted ({why})"
    return source


def render_result(result: PanicResult, audience: Audience = "gm") -> discord.Embed:
    """The final answer embed, as `audience` may see it."""
    return card(
        result.improv,
        footer=footer_for(result),
        sources=[s.label() for s in result.sources],
        colour=COLOURS.get(result.engine),
        audience=audience,
    )


# --- persistent components -----------------------------------------------------------------------------------
class FollowUps(PanicView):
    """Reveal, Reroll and Save under an answer; "Reveal secret…" only under the GM's private card of an answer
    with a GM-only part, never under one the table or a player sees."""

    def __init__(self, improv_id: int, *, reveal: bool = True, secret: bool = False) -> None:
        super().__init__(timeout=None)
        if reveal:
            self.add_item(RevealButton(improv_id))
        self.add_item(RerollButton(improv_id))
        self.add_item(SaveButton(improv_id))
        if secret:
            self.add_item(SecretButton(improv_id))


class OneButton(PanicView):
    """A single persistent button (the secret's reveal and its confirmation)."""

    def __init__(self, item: PersistentItem[Any]) -> None:
        super().__init__(timeout=None)
        self.add_item(item)


class ButtonPanel(PanicView):
    """The big red button and the kind picker."""

    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.add_item(PanicButton())
        self.add_item(KindPicker())


class PanicButton(PersistentItem[discord.ui.Button[Any]], template=r"panic:button:(?P<kind>[a-z]+)"):
    """The big red button: answers the clicker privately with the guild's default kind (or a fixed one)."""

    def __init__(self, kind: str = "default") -> None:
        super().__init__(
            discord.ui.Button(
                label="PANIC!", emoji="🚨", style=discord.ButtonStyle.danger, custom_id=f"panic:button:{kind}", row=0
            )
        )
        self.kind = kind

    async def run(self, interaction: Interaction) -> None:
        cog = _cog(interaction)
        kind: Kind | None = None
        if self.kind != "default":
            with contextlib.suppress(ValueError):
                kind = parse_kind(self.kind)
        await cog.run_panic(interaction, kind, "", from_component=True)


class KindPicker(PersistentItem[discord.ui.Select[Any]], template=r"panic:pick"):
    """Pick a kind: answers the picker privately with that kind."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id="panic:pick",
                placeholder="…or pick what you need",
                options=[discord.SelectOption(label=info.label, value=kind) for kind, info in KIND_INFO.items()],
                row=1,
            )
        )

    async def run(self, interaction: Interaction) -> None:
        data: dict[str, Any] = dict(interaction.data or {})
        values = data.get("values") or []
        try:
            kind = parse_kind(str(values[0]))
        except (IndexError, ValueError):
            raise UserFacingError("Pick one of the kinds in the menu.") from None
        await _cog(interaction).run_panic(interaction, kind, "", from_component=True)


class _ResultButton(PersistentItem[discord.ui.Button[Any]]):
    """Base of the follow-up buttons: carries the stored result's id."""

    action = ""
    label = ""
    style = discord.ButtonStyle.secondary

    def __init__(self, improv_id: int) -> None:
        super().__init__(
            discord.ui.Button(label=self.label, style=self.style, custom_id=f"panic:{self.action}:{improv_id}")
        )
        self.improv_id = improv_id

    @classmethod
    def from_match(cls, match: re.Match[str]) -> Self:
        return cls(int(match["id"]))


class RevealButton(_ResultButton, template=r"panic:reveal:(?P<id>\d+)"):
    """Post the answer publicly in the channel."""

    action = "reveal"
    label = "Reveal to table"
    style = discord.ButtonStyle.primary

    async def run(self, interaction: Interaction) -> None:
        await _cog(interaction).reveal(interaction, self.improv_id)


class RerollButton(_ResultButton, template=r"panic:reroll:(?P<id>\d+)"):
    """A new answer of the same kind and details."""

    action = "reroll"
    label = "Reroll"

    async def run(self, interaction: Interaction) -> None:
        await _cog(interaction).reroll(interaction, self.improv_id)


class SaveButton(_ResultButton, template=r"panic:save:(?P<id>\d+)"):
    """Save the answer as a campaign note (GM only)."""

    action = "save"
    label = "Save to campaign"
    style = discord.ButtonStyle.success

    async def run(self, interaction: Interaction) -> None:
        await _cog(interaction).save(interaction, self.improv_id)


class SecretButton(_ResultButton, template=r"panic:secret:(?P<id>\d+)"):
    """Step one of revealing the GM-only part on purpose: asks the GM to confirm (GM only)."""

    action = "secret"
    label = "Reveal secret…"
    style = discord.ButtonStyle.danger

    async def run(self, interaction: Interaction) -> None:
        await _cog(interaction).secret(interaction, self.improv_id, confirmed=False)


class SecretConfirmButton(_ResultButton, template=r"panic:secretok:(?P<id>\d+)"):
    """Step two: post the GM-only part in the channel (GM only)."""

    action = "secretok"
    label = "Yes, show the table the secret"
    style = discord.ButtonStyle.danger

    async def run(self, interaction: Interaction) -> None:
        await _cog(interaction).secret(interaction, self.improv_id, confirmed=True)


DYNAMIC_ITEMS: tuple[type[PersistentItem[Any]], ...] = (
    PanicButton,
    KindPicker,
    RevealButton,
    RerollButton,
    SaveButton,
    SecretButton,
    SecretConfirmButton,
)


# --- the cog -------------------------------------------------------------------------------------------------
Details = app_commands.Range[str, 1, 300]

# The defaults a Manage Server GM panics with while the guild's prefs cannot be read (a distinct object, so the
# answer can say it went private only because of that).
UNREAD_PREFS = dataclasses.replace(DEFAULT_PREFS)
UNREAD_NOTE = (
    "This server's settings can't be read right now, so this answer went to you only, whatever the server's "
    "choice. Try again in a moment to answer the table."
)


@app_commands.guild_only()
@app_commands.allowed_installs(guilds=True, users=False)
class Panic(commands.GroupCog, group_name="panic", group_description="Instant improvisation for the GM"):
    """The panic commands."""

    edit_interval: float = 1.0  # seconds between streamed edits

    def __init__(self, bot: PanicBot) -> None:
        self.bot = bot
        self._add_kind_commands()

    def _add_kind_commands(self) -> None:
        """One `/panic <kind>` per kind of the registry, after `help` and before the other commands (the order
        Discord lists them in)."""
        group = self.__cog_app_commands_group__
        assert group is not None
        later = [command for command in group.commands if command.name != "help"]
        for command in later:
            group.remove_command(command.name)
        for kind, info in KIND_INFO.items():
            group.add_command(self._kind_command(kind, info.description, info.details_hint))
        for command in later:
            group.add_command(command)

    def _kind_command(self, kind: Kind, description: str, details_hint: str) -> app_commands.Command[Any, ..., None]:
        """`/panic <kind> [details]`."""

        @app_commands.describe(details=details_hint)
        async def panic_kind(interaction: Interaction, details: Details | None = None) -> None:
            await self.run_panic(interaction, kind, details or "")

        return app_commands.Command(name=kind, description=description, callback=panic_kind)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)

    # --- the flow every door into a panic shares ------------------------------------------------------------
    async def _audience(self, interaction: Interaction) -> tuple[GuildPrefs, bool]:
        """The guild's prefs and whether answers must be player-safe; `NotGM` when the user may not panic."""
        if interaction.guild_id is None:
            raise NotGM("The panic button only works inside a server.")
        prefs = await self.bot.prefs.lookup(interaction.guild_id)
        if prefs is None:  # unreadable and never read: Manage Server still decides, nobody else is refused wrongly
            if has_gm_rights(interaction, DEFAULT_PREFS):
                return UNREAD_PREFS, False
            raise SettingsUnavailable()
        if has_gm_rights(interaction, prefs):
            return prefs, False
        if prefs.players_may_panic:
            return prefs, True
        raise NotGM(GM_ONLY_MESSAGE)

    async def run_panic(
        self, interaction: Interaction, kind: Kind | None, details: str, *, from_component: bool = False
    ) -> None:
        """Check, acknowledge, answer (streaming), and attach the follow-up buttons."""
        started = asyncio.get_running_loop().time()  # the deadline counts from here (the checks' waits within it)
        prefs, player_safe_only = await self._audience(interaction)
        public = not from_component and prefs.public_by_default
        note = UNREAD_NOTE if prefs is UNREAD_PREFS and not from_component else None
        await self._admit_and_answer(
            interaction, prefs, player_safe_only, kind, details, public=public, started=started, note=note
        )

    async def _admit_and_answer(
        self,
        interaction: Interaction,
        prefs: GuildPrefs,
        player_safe_only: bool,
        kind: Kind | None,
        details: str,
        *,
        public: bool,
        started: float,
        note: str | None = None,
    ) -> None:
        """Admit (cooldown, and the quota when the answer would be public), then acknowledge and answer within
        the deadline counted from `started` (when the interaction arrived); `note` goes above the answer.

        Ephemerality is fixed at acknowledgement, so refusals are decided first: a cooldown is raised before
        any acknowledgement (the error handler then answers privately), and a spent quota turns a public
        acknowledgement private (its offline-tables answer says the quota is used up, to the GM only).
        """
        improviser = _improviser(interaction)
        scope = scope_of(interaction, None if prefs is UNREAD_PREFS else prefs)  # the channel's campaign
        request = PanicRequest(
            guild_id=scope.guild_id,
            user_id=interaction.user.id,
            kind=kind or prefs.button_kind,
            details=details.strip(),
            player_safe_only=player_safe_only,
            style=prefs.style_for(campaign_of(interaction, prefs)),
            campaign_id=scope.campaign_id,
        )
        admission = await improviser.admit(request, count_quota=public)
        public = public and not admission.refused
        # the channel and players see the table's card only, while streaming too; the GM alone sees the whole
        audience: Audience = "table" if public or player_safe_only else "gm"
        editor = StreamingEditor(interaction, improviser.model_name, self.edit_interval, audience)
        # the answer starts alongside the acknowledgement: Discord's round trip for the defer does not delay it
        answering = asyncio.ensure_future(improviser.panic(request, editor.push, admission, started=started))
        try:
            if not interaction.response.is_done():
                await interaction.response.defer(ephemeral=not public, thinking=True)
            result = await answering
        except BaseException:
            answering.cancel()  # e.g. the acknowledgement failed: nobody would see the answer
            await asyncio.gather(answering, return_exceptions=True)
            raise
        finally:
            await editor.finish()
        secret = audience == "gm" and bool(result.improv.gm_fields())
        await interaction.edit_original_response(
            content=note or discord.utils.MISSING,
            embed=render_result(result, audience),
            view=FollowUps(result.improv_id, reveal=not public, secret=secret),
            allowed_mentions=NO_MENTIONS,
        )
        if public and not player_safe_only:  # after the edit, so this followup is a new (private) message
            note_reveal(interaction, result.improv_id)  # the GM showed the table: tonight's improvisations list it
            await self._send_gm_part(interaction, result)

    async def _send_gm_part(self, interaction: Interaction, result: PanicResult) -> None:
        """The GM's private rest of a public answer: its GM-only fields and Sources, and "Reveal secret…"."""
        embed = gm_part_card(result.improv, [s.label() for s in result.sources])
        if embed is None:
            return
        extra: dict[str, Any] = {"view": OneButton(SecretButton(result.improv_id))} if result.improv.gm_fields() else {}
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS, **extra)

    async def reveal(self, interaction: Interaction, improv_id: int) -> None:
        """Post a stored answer's table card (no GM-only field, no Sources) in the channel, as a public followup:
        for a GM, or for the answer's owner when it was made from player-safe notes (else a private refusal)."""
        prefs, player_safe_only = await self._audience(interaction)
        await interaction.response.defer()  # a component's silent acknowledgement: no placeholder to fill
        assert interaction.guild_id is not None
        stored = await _improviser(interaction).load(improv_id, interaction.guild_id)
        ensure_owner_or_gm(interaction, prefs, stored.user_id, player_safe=stored.player_safe_only)
        result = stored.result()
        embed = card(
            result.improv,
            footer=f"Revealed by {interaction.user.display_name}",
            colour=COLOURS.get(result.engine),
            audience="table",
        )
        await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)
        note_reveal(interaction, improv_id)
        kept = " Its GM-only part stays with you." if result.improv.gm_fields() and not player_safe_only else ""
        await interaction.followup.send(f"Shared with the table.{kept}", ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def secret(self, interaction: Interaction, improv_id: int, *, confirmed: bool) -> None:
        """Reveal an answer's GM-only part on purpose (GM only): ask privately first; once confirmed, post it in
        the channel and retire the question."""
        _, player_safe_only = await self._audience(interaction)
        if player_safe_only:
            raise NotGM(GM_ONLY_MESSAGE)
        # asking: a private placeholder the question fills; confirmed: a silent ack, then a new public message
        await interaction.response.defer(ephemeral=True, thinking=not confirmed)
        assert interaction.guild_id is not None
        stored = await _improviser(interaction).load(improv_id, interaction.guild_id)
        if not stored.improv.gm_fields():
            raise UserFacingError("This answer has no secret to reveal.", title="Nothing to reveal")
        title = stored.improv.title or KIND_INFO[stored.kind].label
        if not confirmed:
            footer = "Everyone in the channel will see this. Dismiss this message to keep it secret."
            embed = secret_card(stored.improv, title=f"Show the table the secret of {title}?", footer=footer)
            view = OneButton(SecretConfirmButton(improv_id))
            await interaction.edit_original_response(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
            return
        footer = f"Secret revealed by {interaction.user.display_name}"
        await interaction.followup.send(
            embed=secret_card(stored.improv, title=f"🔓 {title}", footer=footer), allowed_mentions=NO_MENTIONS
        )
        note_reveal(interaction, improv_id)
        await interaction.edit_original_response(content="Revealed to the table.", view=None)

    async def reroll(self, interaction: Interaction, improv_id: int) -> None:
        """A fresh answer of the same kind, for the answer's owner or a GM; only the owner's reroll reuses the
        details they typed (nobody else's prompt ever gets them)."""
        started = asyncio.get_running_loop().time()
        prefs, player_safe_only = await self._audience(interaction)
        # private either way, so acknowledge before loading the stored answer (a refusal stays private too)
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        stored = await _improviser(interaction).load(improv_id, interaction.guild_id)
        ensure_owner_or_gm(interaction, prefs, stored.user_id)
        details = stored.details if interaction.user.id == stored.user_id else ""
        await self._admit_and_answer(
            interaction, prefs, player_safe_only, stored.kind, details, public=False, started=started
        )

    async def save(self, interaction: Interaction, improv_id: int) -> None:
        """Keep an answer as a campaign note (GM only)."""
        _, player_safe_only = await self._audience(interaction)
        if player_safe_only:
            raise NotGM(GM_ONLY_MESSAGE)
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        stored = await _improviser(interaction).load(improv_id, interaction.guild_id)
        improv = stored.improv
        if stored.saved:
            raise UserFacingError(f"**{improv.title}** is already in your campaign notes.", title="Already saved")
        await save_to_canon(interaction, stored)  # a note of the campaign it was made in
        await interaction.edit_original_response(
            content=fit_content(
                f"Saved **{improv.title}** to your campaign notes; later panics and searches will find it."
            ),
            allowed_mentions=NO_MENTIONS,
        )

    # --- commands -------------------------------------------------------------------------------------------
    @app_commands.command(name="help", description="What the panic button does and how to use it")
    async def help(self, interaction: Interaction) -> None:
        """Explain the bot, privately."""
        embed = fit_embed(title="Improv Panic Button", description=help_text(), colour=discord.Colour.red())
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="button", description="Post the big red panic button in this channel (GM only)")
    @gm_only()
    async def button(self, interaction: Interaction) -> None:
        """A public message whose button and picker answer whoever clicks, privately."""
        embed = fit_embed(
            title="🚨 Improv Panic Button",
            description="Caught off guard? Press the button for the default kind, or pick what you need. "
            "Only you will see the answer.",
            colour=discord.Colour.red(),
        )
        await interaction.response.send_message(embed=embed, view=ButtonPanel(), allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="settings", description="GM role, visibility, tone, rating, system, length (GM only)")
    @app_commands.describe(
        gm_role="Members with this role count as GMs",
        players_may_panic="Let players use /panic (answers then use only player-safe notes)",
        public_by_default="Show /panic answers to the whole channel instead of only to you",
        tone="Tone of the answers",
        content_rating="How dark answers may get",
        game_system="Game system, e.g. D&D 5e, Dungeon World",
        length="Most words per answer",
        button_kind="What the red button makes",
    )
    @app_commands.choices(
        tone=[app_commands.Choice(name=t, value=t) for t in TONES],
        content_rating=[app_commands.Choice(name=r.upper(), value=r) for r in RATINGS],
        button_kind=[app_commands.Choice(name=info.label, value=kind) for kind, info in KIND_INFO.items()],
    )
    @gm_only()
    async def settings(
        self,
        interaction: Interaction,
        gm_role: discord.Role | None = None,
        players_may_panic: bool | None = None,
        public_by_default: bool | None = None,
        tone: app_commands.Choice[str] | None = None,
        content_rating: app_commands.Choice[str] | None = None,
        game_system: app_commands.Range[str, 0, 64] | None = None,
        length: app_commands.Range[int, 40, 400] | None = None,
        button_kind: app_commands.Choice[str] | None = None,
    ) -> None:
        """Change the given settings (none given: show them)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        assert interaction.guild_id is not None
        changes: dict[str, Any] = {}
        if gm_role is not None:
            changes["gm_role_id"] = gm_role.id
        if players_may_panic is not None:
            changes["players_may_panic"] = players_may_panic
        if public_by_default is not None:
            changes["public_by_default"] = public_by_default
        if tone is not None:
            changes["tone"] = tone.value
        if content_rating is not None:
            changes["content_rating"] = content_rating.value
        if game_system is not None:
            changes["game_system"] = game_system.strip()
        if length is not None:
            changes["max_words"] = length
        if button_kind is not None:
            changes["button_kind"] = button_kind.value
        prefs = await change_prefs(self.bot.services.sessionmaker, interaction.guild_id, **changes)
        self.bot.prefs.put(interaction.guild_id, prefs)
        style = prefs.style
        lines = [
            f"**GM role:** {f'<@&{prefs.gm_role_id}>' if prefs.gm_role_id else 'anyone with Manage Server'}",
            f"**Players may panic:** {'yes (player-safe notes only)' if prefs.players_may_panic else 'no'}",
            f"**Answers:** {'public' if prefs.public_by_default else 'only to you'}",
            f"**Tone:** {style.tone} · **Rating:** {style.content_rating.upper()} · "
            f"**System:** {style.game_system or 'any'} · **Length:** {style.max_words} words",
            f"**Button makes:** {KIND_INFO[prefs.button_kind].label}",
        ]
        embed = fit_embed(
            title="Panic settings updated" if changes else "Panic settings",
            description="\n".join(lines),
            colour=discord.Colour.red(),
        )
        await interaction.edit_original_response(embed=embed, allowed_mentions=NO_MENTIONS)


async def setup(bot: PanicBot) -> None:
    """Extension entry point."""
    await bot.add_cog(Panic(bot))
