"""`Paddle-Signature` verification: Paddle's own signed vectors, and every way a signature can be wrong."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from paddle_billing.Notifications.PaddleSignature import PaddleSignature
from pydantic import SecretStr

from bot.billing.signature import SignatureError, parse_header, sign, verify

PADDLE_SECRET = "pdl_ntfset_01hs0t3tw21j988db1pam5xg8m_GrOWLNef+vmtjJYq4mSnHNzvc8uWoJ1I"
VECTORS = [
    ("standard_payload.json", "ts=1710498758;h1=558bf93944dbeb4790c7a8af6cb2ea435c8ca9c8396aafc1a4e37424ac132744"),
    ("webhook_payload.json", "ts=1710498758;h1=558bf93944dbeb4790c7a8af6cb2ea435c8ca9c8396aafc1a4e37424ac132744"),
    ("special_chars_payload.json", "ts=1710498288;h1=38219b3ba1578184e625c29d201a27cd25bd69e2ec9c3ab87dcb90d87ff73a41"),
]
NO_CLOCK = float("inf")
SECRET = "pdl_ntfset_test_secret_for_improv"


def _body(test_data: Path, name: str) -> bytes:
    # the README: the signed body is the file without its trailing newline
    return (test_data / "paddle" / "python-sdk" / "signed" / name).read_bytes().rstrip(b"\n")


@pytest.mark.parametrize(("name", "header"), VECTORS)
def test_paddle_signed_vectors_verify(test_data: Path, name: str, header: str) -> None:
    parsed = verify(header, _body(test_data, name), [SecretStr(PADDLE_SECRET)], tolerance_seconds=NO_CLOCK)
    assert parsed.timestamp == int(header.split(";")[0].removeprefix("ts="))


def test_node_sdk_inline_vector_verifies() -> None:
    header = "ts=1698796800;h1=a300428748dce5c70e4da19bffd60769591ea969c99dea3105d0ec9612cf43f9"
    verify(header, b'{"data": ["1", "2"]}', ["VALID_SECRET"], tolerance_seconds=NO_CLOCK)


@pytest.mark.parametrize(("name", "header"), VECTORS)
def test_paddle_vectors_are_stale_under_the_default_tolerance(test_data: Path, name: str, header: str) -> None:
    with pytest.raises(SignatureError, match="tolerance") as info:
        verify(header, _body(test_data, name), [PADDLE_SECRET])
    assert not info.value.malformed


def test_reserialised_body_is_rejected(test_data: Path) -> None:
    import json

    body = _body(test_data, "special_chars_payload.json")
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert reserialised != body
    with pytest.raises(SignatureError, match="does not match"):
        verify(VECTORS[2][1], reserialised, [PADDLE_SECRET], tolerance_seconds=NO_CLOCK)


def test_sign_matches_the_sdk_hmac() -> None:
    body, ts = b'{"event_id":"evt_1"}', 1_700_000_000
    expected = PaddleSignature.calculate_hmac(SECRET, f"{ts}:".encode() + body).hexdigest()
    assert sign(SECRET, body, ts) == expected


def _fresh(body: bytes, secret: str = SECRET, offset: float = 0) -> str:
    ts = int(time.time() + offset)
    return f"ts={ts};h1={sign(secret, body, ts)}"


def test_fresh_signature_verifies() -> None:
    body = b'{"ok":true}'
    verify(_fresh(body), body, [SecretStr(SECRET)])


def test_forged_signature_is_rejected() -> None:
    body = b'{"ok":true}'
    with pytest.raises(SignatureError, match="does not match") as info:
        verify(_fresh(body, secret="someone-else"), body, [SECRET])
    assert not info.value.malformed


def test_tampered_body_is_rejected() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(_fresh(b'{"amount":1}'), b'{"amount":9}', [SECRET])


def test_stale_timestamp_is_rejected() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="tolerance"):
        verify(_fresh(body, offset=-30), body, [SECRET], tolerance_seconds=5)


def test_future_timestamp_is_rejected() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="tolerance"):
        verify(_fresh(body, offset=30), body, [SECRET], tolerance_seconds=5)


def test_timestamp_inside_tolerance_is_accepted() -> None:
    body = b"{}"
    verify(_fresh(body, offset=-3), body, [SECRET], tolerance_seconds=5)


def test_unknown_header_key_is_ignored() -> None:
    body = b"{}"
    header = _fresh(body) + ";h2=deadbeef;v=2"
    assert verify(header, body, [SECRET]).h1


def test_any_of_several_h1_may_match() -> None:
    body = b"{}"
    ts = int(time.time())
    header = f"ts={ts};h1={'0' * 64};h1={sign(SECRET, body, ts)}"
    assert len(verify(header, body, [SECRET]).h1) == 2


def test_any_of_several_secrets_may_match() -> None:
    body = b"{}"
    verify(_fresh(body, secret="new-secret"), body, [SecretStr("old-secret"), SecretStr("new-secret")])


def test_no_secret_matches_among_several() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="does not match"):
        verify(_fresh(body, secret="third"), body, ["first", "second"])


def test_no_configured_secret_rejects() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="no notification secret"):
        verify(_fresh(body), body, [])


def test_empty_body_with_its_own_signature_verifies_but_a_wrong_one_does_not() -> None:
    verify(_fresh(b""), b"", [SECRET])
    with pytest.raises(SignatureError):
        verify(_fresh(b"{}"), b"", [SECRET])


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "   ",
        "garbage",
        "ts=;h1=",
        "h1=abc",
        "ts=123",
        "ts=abc;h1=00",
        "ts=-5;h1=00",
        "ts=１２３;h1=00",
        "x" * 5000,
    ],
)
def test_malformed_header_is_a_rejection_not_a_crash(header: str | None) -> None:
    with pytest.raises(SignatureError) as info:
        verify(header, b"{}", [SECRET])
    assert info.value.malformed


def test_non_ascii_h1_does_not_crash() -> None:
    ts = int(time.time())
    with pytest.raises(SignatureError, match="does not match"):
        verify(f"ts={ts};h1=ünïcödé", b"{}", [SECRET])


def test_parse_header_keeps_order_and_lowercases() -> None:
    parsed = parse_header("ts=1;h1=AB;foo=bar;h1=cd")
    assert parsed.timestamp == 1
    assert parsed.h1 == ("ab", "cd")
