"""A logarithmic colour scale for gradient norms: pale for vanishing, deep red for exploding."""

from __future__ import annotations

import math

import numpy as np

PALETTE = ("#f1f6fc", "#c6dbef", "#fdd49e", "#fc8d59", "#d7301f")
ZERO_COLOR = "#d9d9d9"


def _mix(start: str, end: str, fraction: float) -> str:
    a = [int(start[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(end[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * fraction):02x}" for x, y in zip(a, b))


class GradientScale:
    """Maps a norm to a fill colour, log10-linearly between the smallest and largest non-zero norm."""

    def __init__(self, norms):
        positive = [n for n in norms if n > 0 and math.isfinite(n)]
        self.low = math.log10(min(positive)) if positive else 0.0
        self.high = math.log10(max(positive)) if positive else 0.0

    def color(self, norm: float) -> str:
        if not norm > 0:
            return ZERO_COLOR
        if not math.isfinite(norm):
            return PALETTE[-1]
        span = self.high - self.low
        position = 0.5 if span == 0 else (math.log10(norm) - self.low) / span
        position = min(max(position, 0.0), 1.0) * (len(PALETTE) - 1)
        index = min(int(position), len(PALETTE) - 2)
        return _mix(PALETTE[index], PALETTE[index + 1], position - index)

    def ticks(self, count: int = 5) -> list[float]:
        """Norms spread evenly (in log10) across the scale, for the legend."""
        if self.high == self.low:
            return [10**self.low]
        return [float(10**e) for e in np.linspace(self.low, self.high, count)]
