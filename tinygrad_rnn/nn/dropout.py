"""Dropout: in training, zero each element with probability p and scale the rest by 1 / (1 - p)."""

from __future__ import annotations

import numpy as np

from ..random import as_generator
from ..tensors import Tensor
from .module import Module


class Dropout(Module):
    """y = x * m / (1 - p) with m_i ~ Bernoulli(1 - p) in training mode; y = x in eval mode or at p = 0.

    The mask is a constant, so dy/dx = m / (1 - p): the kept elements pass the gradient scaled
    and the dropped ones pass none (p = 1 drops everything). Masks are drawn from `rng`, or from
    the library's generator (seeded by manual_seed) when rng is None.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.generator = None if rng is None else as_generator(rng)

    def forward(self, x) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not self.training or self.p == 0.0:
            return x
        if x.dtype.kind != "f":
            raise TypeError(f"Dropout: needs a floating-point input, got dtype {x.dtype} (shape {x.shape})")
        keep = as_generator(self.generator).random(x.shape) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        return x * Tensor(keep * np.asarray(scale, dtype=x.dtype), dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"
