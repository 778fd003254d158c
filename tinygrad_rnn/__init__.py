"""tinygrad_rnn: reverse-mode autodiff over NumPy, and recurrent networks trained by it.

Backpropagation through time is not written by hand here: an RNN is ordinary code over
Tensor ops, its unrolled graph is recorded as it runs, and backward() walks it.

`import tinygrad_rnn as tg` reaches the whole library as torch's users expect: tg.nn,
tg.nn.functional, tg.optim, tg.optim.lr_scheduler, tg.data, tg.checkpoint, tg.viz (imported
on first use, since it pulls in plotting), the tensor factories and tg.to_torch/tg.from_torch.
"""

import importlib

from . import checkpoint, data, nn, optim
from .autograd import detect_anomaly, enable_grad, is_grad_enabled, no_grad, retain_grads, scope
from .factories import arange, cat, concatenate, full, ones, ones_like, rand, randn, stack, tensor, zeros, zeros_like
from .gradcheck import GradcheckError, GradcheckReport, directional_gradcheck, gradcheck
from .interop import from_torch, to_torch
from .jit import jit
from .random import manual_seed
from .tensors import Tensor, maximum, minimum, where

LAZY_SUBMODULES = ("viz",)

__all__ = [
    "Tensor",
    "tensor",
    "stack",
    "cat",
    "concatenate",
    "zeros",
    "ones",
    "zeros_like",
    "ones_like",
    "full",
    "arange",
    "where",
    "maximum",
    "minimum",
    "randn",
    "rand",
    "manual_seed",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "scope",
    "detect_anomaly",
    "retain_grads",
    "gradcheck",
    "directional_gradcheck",
    "GradcheckError",
    "GradcheckReport",
    "nn",
    "optim",
    "data",
    "checkpoint",
    "viz",
    "to_torch",
    "from_torch",
    "jit",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """tg.viz on first use: importing it loads graphviz and matplotlib."""
    if name in LAZY_SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
