"""The fake Discord enforces the documented rules the way Discord answers them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.discord.offline.fake_discord import FakeDiscord, FakeHTTPError

CHANNEL = 10


def _interaction(fake: FakeDiscord, *, source: int | None = None) -> tuple[int, str]:
    iid = fake.snowflake()
    fake.register_interaction(iid, f"tok{iid}", 2, CHANNEL, source)
    return iid, f"tok{iid}"


def _callback(fake: FakeDiscord, iid: int, token: str, body: dict[str, Any]) -> Any:
    return fake.webhook("POST", f"/interactions/{iid}/{token}/callback", body)


def _code(call: Any) -> int:
    with pytest.raises(FakeHTTPError) as info:
        call()
    return info.value.code


def test_second_acknowledgement_is_refused() -> None:
    fake = FakeDiscord()
    iid, token = _interaction(fake)
    _callback(fake, iid, token, {"type": 5})
    assert _code(lambda: _callback(fake, iid, token, {"type": 4, "data": {"content": "x"}})) == 40060


def test_acknowledgement_after_three_seconds_is_unknown() -> None:
    fake = FakeDiscord()
    iid, token = _interaction(fake)
    fake.advance(3.5)
    assert _code(lambda: _callback(fake, iid, token, {"type": 5})) == 10062


def test_followup_before_acknowledgement_is_refused() -> None:
    fake = FakeDiscord()
    _iid, token = _interaction(fake)
    assert _code(lambda: fake.webhook("POST", f"/webhooks/{fake.application_id}/{token}", {"content": "hi"})) == 10015


def test_token_expires_after_fifteen_minutes() -> None:
    fake = FakeDiscord()
    iid, token = _interaction(fake)
    _callback(fake, iid, token, {"type": 5})
    fake.advance(15 * 60 + 1)
    assert _code(lambda: fake.webhook("POST", f"/webhooks/{fake.application_id}/{token}", {"content": "late"})) == 50027


def test_followup_in_place_of_the_deferred_edit_is_refused_and_the_edit_keeps_the_privacy() -> None:
    fake = FakeDiscord()
    iid, token = _interaction(fake)
    _callback(fake, iid, token, {"type": 5, "data": {"flags": 64}})
    # Discord's deprecated "the first followup edits the loading message": refused
    assert (
        _code(lambda: fake.webhook("POST", f"/webhooks/{fake.application_id}/{token}", {"content": "done", "flags": 0}))
        == 50035
    )
    assert [v.code for v in fake.violations] == [50035]
    fake.webhook("PATCH", f"/webhooks/{fake.application_id}/{token}/messages/@original", {"content": "done"})
    fake.webhook("POST", f"/webhooks/{fake.application_id}/{token}", {"content": "more", "flags": 64})
    first, second = fake.interaction_messages(iid)
    assert (first.content, first.ephemeral, second.content, second.ephemeral) == ("done", True, "more", True)
    assert len(fake.violations) == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"content": "x" * 2001},
        {"embeds": [{"title": "t" * 257}]},
        {"embeds": [{"description": "d" * 4097}]},
        {"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]},
        {"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]},
        {"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]},
        {"embeds": [{"title": "x"}] * 11},
        {"components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": "c" * 101}]}]},
    ],
)
def test_limits_are_enforced_with_invalid_form_body(payload: dict[str, Any]) -> None:
    fake = FakeDiscord()
    assert _code(lambda: fake.rest("POST", f"/channels/{CHANNEL}/messages", payload)) == 50035
    assert [v.code for v in fake.violations] == [50035]


def test_public_messages_survive_a_dump_and_load() -> None:
    fake = FakeDiscord()
    fake.rest("POST", f"/channels/{CHANNEL}/messages", {"content": "button here"})
    again = FakeDiscord()
    again.load(fake.dump())
    assert [m.content for m in again.channel_messages(CHANNEL)] == ["button here"]
    assert again.snowflake() > max(again.messages)
