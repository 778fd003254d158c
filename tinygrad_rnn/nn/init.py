"""Parameter initialisation, in place, from a seeded generator.

Fan-in is the number of inputs a unit sums over: `weight.shape[-1]` for PyTorch's
(out, in) layout. The names `random`, `xavier` and `he` follow document 000, which
defines them as randn * 0.01, randn / sqrt(fan_in / 2) and randn * sqrt(2 / fan_in)
(so its "xavier" and "he" are the same distribution).
"""
from __future__ import annotations

import math

import numpy as np

from ..random import as_generator
from ..tensor import Tensor

SCHEMES = ("uniform", "random", "xavier", "he")


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.dtype, copy=False)
    return tensor


def fan_in(tensor: Tensor) -> int:
    """Inputs per unit: the last dimension of a weight (1 for a bias)."""
    return tensor.shape[-1] if tensor.ndim >= 2 else 1


def zeros_(tensor: Tensor) -> Tensor:
    """All zeros."""
    return _fill(tensor, np.zeros(tensor.shape))


def uniform_(tensor: Tensor, low: float, high: float, rng=None) -> Tensor:
    """U(low, high) per element."""
    return _fill(tensor, as_generator(rng).uniform(low, high, tensor.shape))


def normal_(tensor: Tensor, std: float = 1.0, rng=None) -> Tensor:
    """N(0, std**2) per element."""
    return _fill(tensor, std * as_generator(rng).standard_normal(tensor.shape))


def random_(tensor: Tensor, rng=None) -> Tensor:
    """Document 000's "random": randn * 0.01."""
    return normal_(tensor, 0.01, rng)


def xavier_(tensor: Tensor, rng=None) -> Tensor:
    """Document 000's "xavier": randn / sqrt(fan_in / 2)."""
    return normal_(tensor, 1.0 / math.sqrt(fan_in(tensor) / 2), rng)


def he_(tensor: Tensor, rng=None) -> Tensor:
    """Document 000's "he": randn * sqrt(2 / fan_in)."""
    return normal_(tensor, math.sqrt(2.0 / fan_in(tensor)), rng)


def init_module_(module, scheme: str = "uniform", rng=None, hidden_size: int | None = None):
    """Re-initialise every parameter of `module` with one scheme, drawing in parameter order.

    "uniform": U(-k, k), k = 1/sqrt(hidden_size) for weights and biases (PyTorch's RNN default
    and document 001's). "random", "xavier", "he": document 000's, with biases set to zero.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"init: unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    rng = as_generator(rng)
    for name, param in module.named_parameters():
        is_bias = name.rsplit(".", 1)[-1].startswith("bias")
        if scheme == "uniform":
            size = hidden_size or getattr(module, "hidden_size", None) or fan_in(param)
            k = 1.0 / math.sqrt(size)
            uniform_(param, -k, k, rng)
        elif is_bias:
            zeros_(param)
        else:
            {"random": random_, "xavier": xavier_, "he": he_}[scheme](param, rng)
    return module
