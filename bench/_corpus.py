"""Synthetic campaign material shared by the benchmarks that need a big guild fast (no model in the loop)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

WORDS = [
    "ash",
    "barrow",
    "cairn",
    "dusk",
    "ember",
    "fen",
    "gate",
    "hollow",
    "iron",
    "jarl",
    "keep",
    "lantern",
    "moor",
    "oath",
    "rill",
    "shrine",
    "thorn",
    "vale",
]


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> npt.NDArray[np.float32]:
    """`n` random unit vectors of `dim` floats (stand-ins for chunk embeddings)."""
    m = rng.standard_normal((n, dim)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m
