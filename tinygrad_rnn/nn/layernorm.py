"""LayerNorm: normalise each sample over its last dimensions, then scale and shift."""

from __future__ import annotations

import numpy as np

from ..tensors import DEFAULT_DTYPE, Tensor
from .module import Module, Parameter


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims.

    mean and var are that sample's, var the biased one (mean of squared deviations); weight
    starts at ones and bias at zeros, both of shape normalized_shape. Built from Tensor ops
    (mean, subtraction, a power), so its gradient is theirs composed. With parameters, the layer
    computes in their dtype, as Linear does: an input of another dtype is converted first (a
    Tensor by a recorded Cast, so its gradient comes back in its own dtype); without them it
    computes in the input's dtype.
    """

    def __init__(
        self,
        normalized_shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype=DEFAULT_DTYPE,
    ):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape or any(int(n) <= 0 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.normalized_shape, self.eps, self.elementwise_affine = tuple(int(n) for n in shape), eps, elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape), dtype=dtype) if elementwise_affine and bias else None

    def forward(self, x) -> Tensor:
        own = self.weight if self.weight is not None else self.bias
        if own is None:
            x = x if isinstance(x, Tensor) else Tensor(x)
        else:
            x = x.to(own.dtype) if isinstance(x, Tensor) else Tensor(x, dtype=own.dtype)
        count = len(self.normalized_shape)
        if x.ndim < count or x.shape[x.ndim - count :] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm{self.normalized_shape}: input has shape {x.shape}; its last "
                f"{count} dimension(s) must be {self.normalized_shape}"
            )
        axes = tuple(range(x.ndim - count, x.ndim))
        centered = x - x.mean(axis=axes, keepdims=True)
        variance = (centered * centered).mean(axis=axes, keepdims=True)
        y = centered * (variance + self.eps) ** -0.5
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
