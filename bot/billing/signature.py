"""Verify Paddle Billing's `Paddle-Signature` header on the raw request body (before anything parses it).

`Paddle-Signature: ts=<unix seconds>;h1=<hex>[;h1=<hex>…]` where each `h1` is HMAC-SHA256 keyed with a
notification secret over `ts + ":" + body`. Any `h1` may match any configured secret (rotation); unknown keys
are ignored; the timestamp must be within the tolerance in both directions.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import SecretStr

__all__ = ["SignatureError", "SignatureHeader", "parse_header", "sign", "verify"]

MAX_HEADER_LENGTH = 2048


class SignatureError(Exception):
    """The request is not provably from Paddle; `malformed` tells a bad header (400) from a bad signature (401)."""

    def __init__(self, reason: str, *, malformed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.malformed = malformed


@dataclass(frozen=True, slots=True)
class SignatureHeader:
    """The parts of a `Paddle-Signature` header that matter."""

    timestamp: int
    h1: tuple[str, ...] = field(default=())


def parse_header(header: str | None) -> SignatureHeader:
    """Parse the header; unknown keys are skipped, anything unusable raises `SignatureError(malformed=True)`."""
    if not header or not header.strip():
        raise SignatureError("missing Paddle-Signature header", malformed=True)
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("Paddle-Signature header too long", malformed=True)
    timestamp: int | None = None
    hashes: list[str] = []
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "ts":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError("Paddle-Signature timestamp is not a number", malformed=True)
            timestamp = int(value)
        elif key == "h1":
            hashes.append(value.lower())
    if timestamp is None:
        raise SignatureError("Paddle-Signature has no ts", malformed=True)
    if not hashes:
        raise SignatureError("Paddle-Signature has no h1", malformed=True)
    return SignatureHeader(timestamp=timestamp, h1=tuple(hashes))


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `h1` Paddle would send for `body` at `timestamp` (tests, benchmarks and the console use this)."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b":" + body, hashlib.sha256).hexdigest()


def verify(
    header: str | None,
    body: bytes,
    secrets: Sequence[SecretStr | str],
    *,
    tolerance_seconds: float = 5,
    now: float | None = None,
) -> SignatureHeader:
    """Return the parsed header when some `h1` matches some secret within the tolerance, else raise.

    `tolerance_seconds` ≤ 0 would reject everything; pass `float("inf")` to lift the clock check (fixed
    test vectors). Every secret/hash pair is compared in constant time.
    """
    parsed = parse_header(header)
    if not secrets:
        raise SignatureError("no notification secret configured")
    current = time.time() if now is None else now
    if abs(current - parsed.timestamp) > tolerance_seconds:
        raise SignatureError("Paddle-Signature timestamp outside tolerance")
    matched = False
    for secret in secrets:
        raw = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        expected = sign(raw, body, parsed.timestamp)
        for candidate in parsed.h1:
            # no short-circuit: every pair is compared, and compare_digest is constant-time per pair
            matched |= hmac.compare_digest(expected.encode(), candidate.encode("ascii", "replace"))
    if not matched:
        raise SignatureError("Paddle-Signature does not match")
    return parsed
