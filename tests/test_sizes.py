"""Byte sizes as people read them."""

from __future__ import annotations

import pytest

from bot.sizes import format_bytes


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1 KB"),
        (512 * 1024, "512 KB"),
        (1024 * 1024 - 1, "1024 KB"),
        (1024 * 1024, "1.0 MB"),
        (int(2.5 * 1024 * 1024), "2.5 MB"),
        (200 * 1024 * 1024, "200.0 MB"),
    ],
)
def test_sizes_use_the_largest_unit_that_fits(size: int, shown: str) -> None:
    assert format_bytes(size) == shown
