"""Linear: y = x @ W^T + b, with PyTorch's (out, in) weight layout."""

from __future__ import annotations

import math

from ..random import as_generator
from ..tensors import DEFAULT_DTYPE, Tensor, linear
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weight.T + bias;  weight (out_features, in_features), bias (out_features,).

    Initialised U(-k, k) with k = 1/sqrt(in_features), as PyTorch does (k = 0 for a layer with
    no inputs: its weight is empty and its bias, its whole output, starts at zeros). The layer
    computes in its weight's dtype: an input of another dtype is converted first (a Tensor by a
    recorded Cast, so its gradient comes back in its own dtype).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=DEFAULT_DTYPE, rng=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = Parameter(rng.uniform(-k, k, (out_features, in_features)), dtype=dtype)
        self.bias = Parameter(rng.uniform(-k, k, out_features), dtype=dtype) if bias else None

    def forward(self, x) -> Tensor:
        x = x.to(self.weight.dtype) if isinstance(x, Tensor) else Tensor(x, dtype=self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): input has shape {x.shape}, "
                f"its last dimension must be {self.in_features}"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
