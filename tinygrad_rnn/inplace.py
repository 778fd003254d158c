"""Counting in-place writes to a tensor's values, so a graph that saved the old values can tell.

Every write into `t.data` that keeps the same array (an optimizer's step, an init function)
is followed by `mark_written(t)`, which adds one to `t._version`, the counter the backward
walk compares with the value it saw when the array was saved.
"""
from __future__ import annotations


def mark_written(tensor) -> None:
    """Record one in-place write of `tensor.data` (tensor._version += 1)."""
    if hasattr(tensor, "_version"):
        tensor._version += 1
