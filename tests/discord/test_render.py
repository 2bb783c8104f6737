"""The one embed builder keeps every embed within Discord's limits, dropping the least important content first."""

from __future__ import annotations

import discord

from bot.discord.render import ERROR_COLOUR, EmbedField, Limits, error_embed, fit_embed, truncate


def test_truncate_cuts_at_a_word_with_an_ellipsis() -> None:
    assert truncate("the quick brown fox", 12) == "the quick…"
    assert truncate("  short  ", 12) == "short"


def test_every_part_is_cut_to_its_own_limit() -> None:
    embed = fit_embed(
        title="t" * 300,
        description="d " * 3000,
        fields=[EmbedField("n" * 300, "v " * 1000)],
        footer="f" * 100,
        author="a" * 300,
    )
    assert len(embed.title or "") == Limits.TITLE
    assert len(embed.author.name or "") == Limits.AUTHOR
    assert len(embed.description or "") <= Limits.DESCRIPTION
    [field] = embed.fields
    assert len(field.name or "") <= Limits.FIELD_NAME
    assert len(field.value or "") <= Limits.FIELD_VALUE
    assert len(embed) <= Limits.TOTAL


def test_fields_past_the_total_are_dropped_and_counted() -> None:
    fields = [EmbedField(f"Field {i}", "word " * 200) for i in range(40)]
    embed = fit_embed(title="Many", description="x " * 1000, fields=fields)
    assert len(embed) <= Limits.TOTAL
    assert len(embed.fields) <= Limits.FIELDS
    last = embed.fields[-1]
    assert last.name == "…"
    assert last.value == f"{40 - (len(embed.fields) - 1)} more not shown"


def test_more_than_25_short_fields_keep_24_and_say_how_many_more() -> None:
    embed = fit_embed(fields=[EmbedField(f"F{i}", "v") for i in range(30)])
    assert len(embed.fields) == Limits.FIELDS
    assert embed.fields[-1].value == "6 more not shown"


def test_empty_fields_are_left_out() -> None:
    embed = fit_embed(title="T", fields=[EmbedField("", "value"), EmbedField("name", " "), EmbedField("kept", "yes")])
    assert [(f.name, f.value) for f in embed.fields] == [("kept", "yes")]


def test_an_error_embed_is_orange_and_fits() -> None:
    embed = error_embed("Nope", "m" * 5000)
    assert embed.colour == ERROR_COLOUR == discord.Colour.orange()
    assert embed.title == "Nope"
    assert len(embed.description or "") <= Limits.DESCRIPTION
