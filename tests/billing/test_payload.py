"""`parse_payload`: the raw body as a JSON object, with a depth limit that every real Paddle payload is far under."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.billing.events import MAX_JSON_DEPTH, Envelope, parse_payload


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def test_every_official_example_parses_well_under_the_limit(test_data: Path) -> None:
    paddle = test_data / "paddle"
    files = sorted((paddle / "openapi-webhook-examples").glob("*.json")) + sorted((paddle / "node-sdk").glob("*.json"))
    assert len(files) >= 20
    for path in files:
        payload = parse_payload(path.read_bytes())
        Envelope.model_validate(payload)
        assert _depth(payload) <= MAX_JSON_DEPTH // 4, path.name


def nested(depth: int, *, kind: str) -> bytes:
    """A JSON object whose innermost container is `depth` levels down."""
    if kind == "object":
        return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)
    return b'{"a":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize("kind", ["object", "array"])
def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused(kind: str) -> None:
    assert isinstance(parse_payload(nested(MAX_JSON_DEPTH, kind=kind)), dict)
    with pytest.raises(ValueError, match="nested too deep"):
        parse_payload(nested(MAX_JSON_DEPTH + 1, kind=kind))


def test_brackets_inside_strings_do_not_count() -> None:
    body = b'{"note": "' + b"[{" * 1000 + b'"}'
    assert parse_payload(body) == {"note": "[{" * 1000}


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000],
    ids=["arrays", "objects"],
)
def test_absurd_depth_is_refused_without_recursion_error(body: bytes) -> None:
    with pytest.raises(ValueError, match="nested too deep"):
        parse_payload(body)


@pytest.mark.parametrize("body", [b"", b"[]", b"1", b"\xff", b'{"a": 1', b"1" * 5000])
def test_anything_but_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message differs by cause
        parse_payload(body)
