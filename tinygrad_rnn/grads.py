"""The gradient kinds the backward walk keeps unevaluated, and the one function that adds gradients.

A gradient is a NumPy array of its tensor's shape, or one of two lazy kinds that stand for one:

    IndexedGrad   zero except at an index: what x[index] sends back to x
    ZeroGrad      zero everywhere: what stack() sends to the inputs whose rows were not used

Both offer `dense()` (the array, freshly made) and `add_to(total)` (total + self, written into
`total`, an array the caller owns). Slicing a sequence step by step so costs O(T) in backward:
every step's slice is added into one buffer, never T full-size arrays.
"""

from __future__ import annotations

import numpy as np


class IndexedGrad:
    """A gradient that is zero except at `index`, where it is `values` (of x[index]'s shape)."""

    __slots__ = ("index", "values", "shape")

    def __init__(self, index, values: np.ndarray, shape: tuple):
        self.index, self.values, self.shape = index, values, shape

    def add_to(self, total: np.ndarray) -> np.ndarray:
        """total[index] += values, repeated positions adding up; returns total."""
        if is_basic_index(self.index):  # a view: no position is selected twice
            view = total[self.index]
            if isinstance(view, np.ndarray):
                view += self.values  # into the buffer itself, no read-modify-write copy
            else:
                total[self.index] += self.values
        else:
            np.add.at(total, self.index, self.values)
        return total

    def dense(self) -> np.ndarray:
        return self.add_to(np.zeros(self.shape, dtype=np.result_type(self.values)))

    def position_along(self, axis: int) -> int | None:
        """i when the index picks exactly position i along `axis` and everything on the other
        axes (z[i] for axis 0, z[:, i] for axis 1); None for any other index."""
        parts = self.index if isinstance(self.index, tuple) else (self.index,)
        axis %= len(self.shape)
        whole = slice(None)
        if len(parts) <= axis or not is_integer(parts[axis]):
            return None
        if any(not (type(p) is slice and p == whole) for i, p in enumerate(parts) if i != axis):
            return None
        return int(parts[axis]) % self.shape[axis]


class ZeroGrad:
    """A gradient known to be zero everywhere: adds nothing; an array only if nothing else arrives."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: tuple, dtype):
        self.shape, self.dtype = shape, dtype

    def add_to(self, total: np.ndarray) -> np.ndarray:
        return total

    def dense(self) -> np.ndarray:
        return np.zeros(self.shape, dtype=self.dtype)


LAZY = (IndexedGrad, ZeroGrad)


def dense(g) -> np.ndarray:
    """g as an array (an array as it is)."""
    return g.dense() if type(g) in LAZY else g


def add(total, g, owned: bool) -> tuple:
    """(total + g, whether that sum is an array the caller owns), for gradients of any kind.

    An array the caller does not own (`owned` False) may be another tensor's gradient too, so
    it is copied before anything is added into it; the sum is always an ndarray, 0-d included
    (NumPy arithmetic on 0-d arrays gives scalars, which += would rebind instead of update).
    """
    if type(g) is ZeroGrad:
        return total, owned
    if type(total) is ZeroGrad:
        return g, False
    if not owned:
        total = total.dense() if type(total) is IndexedGrad else np.array(total)
    if type(g) is IndexedGrad:
        return g.add_to(total), True
    total += g
    return total, True


def is_integer(part) -> bool:
    """A Python or NumPy integer: an int position, a count (True and False are not: to NumPy
    they are masks)."""
    return isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_))


def is_basic_index(index) -> bool:
    """True for ints, slices, None and Ellipsis: an index that makes a view of distinct positions."""
    if type(index) is int:
        return True
    parts = index if isinstance(index, tuple) else (index,)
    return all(is_integer(p) or isinstance(p, slice) or p is None or p is Ellipsis for p in parts)
