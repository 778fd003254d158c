"""Chronological train / validation / test splits: earlier rows train, later rows evaluate."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def chronological_split(array, fractions: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Split `array` along its first axis into consecutive pieces, in time order, unshuffled.

    `fractions` gives the share of every piece but the last, which takes the rest:
    (0.67,) -> (train, test); (0.7, 0.15) -> (train, valid, test). With N rows and cumulative
    shares c_1 < c_2 < ..., piece k holds rows floor(c_{k-1} N) .. floor(c_k N) - 1
    (c_0 = 0, last boundary N). Every fraction must lie in (0, 1), their sum below 1, and
    no piece may be empty. Returns the pieces as views of `array`.
    """
    values = np.asarray(array)
    if values.ndim == 0:
        raise ValueError("chronological_split needs an array with a time axis, got a scalar")
    if isinstance(fractions, (int, float)):
        raise TypeError(f"fractions must be a sequence such as (0.67,) or (0.7, 0.15), got the number {fractions}")
    shares = list(fractions)
    if not shares:
        raise ValueError("fractions must hold at least one share, e.g. (0.67,)")
    for share in shares:
        if not 0 < share < 1:
            raise ValueError(f"each fraction must lie strictly between 0 and 1, got {share}")
    total = math.fsum(shares)
    if total >= 1:
        raise ValueError(
            f"fractions {tuple(shares)} sum to {total:g}; they give every piece but the last, "
            "so their sum must be below 1 (e.g. (0.7, 0.15) for 70/15/15)"
        )
    num_rows = len(values)
    edges = _edges(shares, num_rows)
    pieces = tuple(values[start:stop] for start, stop in zip(edges[:-1], edges[1:]))
    for index, piece in enumerate(pieces):
        if len(piece) == 0:
            raise ValueError(
                f"piece {index} of the split {tuple(shares)} would be empty with {num_rows} rows; "
                "use more rows or larger fractions"
            )
    return pieces


def _edges(shares: list, num_rows: int) -> list[int]:
    """Where the pieces of `num_rows` rows start, and the end: 0, floor(c_1 N), ..., N."""
    boundaries = [math.floor(round(math.fsum(shares[: k + 1]) * num_rows, 9)) for k in range(len(shares))]
    return [0, *boundaries, num_rows]


def fewest_rows(fractions: Sequence[float], least: int) -> int:
    """The fewest rows N such that `chronological_split` of N rows, or of any number above N,
    gives every piece at least `least` rows."""
    shares = list(fractions)

    def enough(num_rows: int) -> bool:
        edges = _edges(shares, num_rows)
        return all(stop - start >= least for start, stop in zip(edges[:-1], edges[1:]))

    # a piece of share p holds more than p N - 1 rows, so from this N on every piece is large enough
    num_rows = max(math.ceil((least + 1) / share) for share in [*shares, 1 - math.fsum(shares)])
    while num_rows > 1 and enough(num_rows - 1):
        num_rows -= 1
    return num_rows
