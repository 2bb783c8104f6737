"""Byte sizes as people read them: one format for every door (Discord, CLI, error messages)."""

from __future__ import annotations

__all__ = ["format_bytes"]

KB = 1024
MB = 1024 * 1024


def format_bytes(size: int) -> str:
    """`size` in MB with one decimal, in whole KB, or in bytes (1024 bytes to a KB)."""
    if size >= MB:
        return f"{size / MB:.1f} MB"
    if size >= KB:
        return f"{size / KB:.0f} KB"
    return f"{size} bytes"
