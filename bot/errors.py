"""Errors the user is meant to read."""

from __future__ import annotations

__all__ = ["UserFacingError"]


class UserFacingError(Exception):
    """An expected problem with a friendly message, shown to the user as it is (ephemeral)."""

    def __init__(self, message: str, *, title: str = "Can't do that") -> None:
        super().__init__(message)
        self.message = message
        self.title = title
