"""Tensor factories and joins with torch's names and signatures: tensor, zeros, ones, full, arange, randn,
rand, the *_like forms, cat/concatenate and stack with `dim=`.

Floating values are float64 unless `dtype` says otherwise (the library's default, where torch's
is float32); integer fills and integer ranges stay integers, as in torch. randn and rand draw
from the library's generator (seeded by manual_seed) or the `generator` given.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import tensors as _tensors
from .random import as_generator
from .tensors import DEFAULT_DTYPE, Tensor


def _size(size: tuple, owner: str) -> tuple:
    """A shape given spread out, f(2, 3), or as one sequence, f((2, 3))."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    bad = [s for s in size if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0]
    if bad:
        raise ValueError(f"{owner}: sizes must be non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def _tensor(array: np.ndarray, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad, dtype=array.dtype)


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of `data`, as torch.tensor: Python floats become float64
    (the library's default), Python ints int64 and bools bool; arrays and tensors keep their dtype."""
    if dtype is None and not isinstance(data, (Tensor, np.ndarray, np.generic)):
        dtype = np.asarray(data).dtype
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape `size`."""
    return _tensor(np.zeros(_size(size, "zeros"), dtype=dtype or DEFAULT_DTYPE), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape `size`."""
    return _tensor(np.ones(_size(size, "ones"), dtype=dtype or DEFAULT_DTYPE), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape `size` holding `fill_value` everywhere; the dtype, unless given, as
    torch infers it: bool for a bool fill, int64 for an int, else floating (the default dtype)."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = np.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = np.int64
        else:
            dtype = DEFAULT_DTYPE
    shape = _size((size,) if isinstance(size, (int, np.integer)) else tuple(size), "full")
    return _tensor(np.full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of the shape (and, unless given, the dtype) of `input`."""
    return _tensor(np.zeros(np.shape(input), dtype=dtype or _dtype_of(input)), requires_grad)


def ones_like(input: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of the shape (and, unless given, the dtype) of `input`."""
    return _tensor(np.ones(np.shape(input), dtype=dtype or _dtype_of(input)), requires_grad)


def _dtype_of(input) -> np.dtype:
    return input.dtype if isinstance(input, (Tensor, np.ndarray)) else np.asarray(input).dtype


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """start, start + step, ... up to but excluding end (arange(n): 0 .. n-1); ints stay int64."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        all_int = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (start, end, step))
        dtype = np.int64 if all_int else DEFAULT_DTYPE
    return _tensor(np.arange(start, end, step, dtype=dtype), requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal samples of shape `size`."""
    values = as_generator(generator).standard_normal(_size(size, "randn"))
    return _tensor(values.astype(dtype or DEFAULT_DTYPE, copy=False), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Samples uniform on [0, 1) of shape `size`."""
    values = as_generator(generator).random(_size(size, "rand"))
    return _tensor(values.astype(dtype or DEFAULT_DTYPE, copy=False), requires_grad)


def _dim(owner: str, dim, axis) -> int:
    """`dim`, also spelled `axis` (NumPy's name for the same thing); giving both is an error."""
    if axis is not None and dim is not None:
        raise TypeError(f"{owner}: give dim or axis, not both")
    return axis if axis is not None else (dim if dim is not None else 0)


def cat(tensors, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dimension `dim` (default 0)."""
    return _tensors.concatenate(tensors, axis=_dim("cat", dim, axis))


def stack(tensors, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dimension `dim` (default 0)."""
    return _tensors.stack(tensors, axis=_dim("stack", dim, axis))


concatenate = cat
