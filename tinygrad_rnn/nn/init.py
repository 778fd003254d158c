"""Parameter initialisation, in place, from the library's seeded generator (tinygrad_rnn.random).

PyTorch's functions, with torch.nn.init's names, arguments and meanings:

    uniform_(t, a=0, b=1)      U(a, b)
    normal_(t, mean=0, std=1)  N(mean, std**2)
    constant_(t, val), zeros_(t), ones_(t)
    xavier_uniform_(t, gain)   U(-a, a),  a = gain * sqrt(6 / (fan_in + fan_out))    (Glorot and Bengio)
    xavier_normal_(t, gain)    N(0, s**2), s = gain * sqrt(2 / (fan_in + fan_out))
    kaiming_uniform_(t, a, mode, nonlinearity)   U(-b, b), b = gain * sqrt(3 / fan)  (He et al.)
    kaiming_normal_(t, a, mode, nonlinearity)    N(0, s**2), s = gain / sqrt(fan)
    orthogonal_(t, gain)       gain * Q, Q from the QR decomposition of a normal matrix

with fan_in = shape[1] * r and fan_out = shape[0] * r for a weight of shape (out, in, *rest),
r = prod(rest), `fan` = fan_in or fan_out as `mode` says, and gain = calculate_gain(nonlinearity, a).
Each takes `generator`: None (the library's generator, seeded by manual_seed), an int seed or
a NumPy Generator.

Document 000's schemes keep the document's names, which do not mean what the names usually do:

    random_(t)   N(0, 0.01**2)
    xavier_(t)   randn / sqrt(fan_in / 2), i.e. N(0, 2 / fan_in)
    he_(t)       randn * sqrt(2 / fan_in), i.e. N(0, 2 / fan_in): the same distribution as xavier_

Both are He's normal initialisation (kaiming_normal_ with nonlinearity="relu"); neither is
Glorot's, whose variance 2 / (fan_in + fan_out) also counts the outputs. Here fan_in is the last
dimension of a weight (1 for a bias).
"""

from __future__ import annotations

import math

import numpy as np

from ..random import as_generator
from ..tensors import Tensor

SCHEMES = ("uniform", "random", "xavier", "he")
GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3.0, "relu": math.sqrt(2.0), "selu": 3.0 / 4.0}


def _fill(tensor: Tensor, values) -> Tensor:
    """Write `values` into tensor.data, in place (counted as an in-place write)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expects a Tensor (a Parameter), got {type(tensor).__name__}")
    tensor.data[...] = np.asarray(values).astype(tensor.dtype, copy=False)
    tensor._version += 1
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance steady through `nonlinearity`: 1 for linear and
    sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for leaky_relu (slope
    `param`, 0.01 by default), 3/4 for selu."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity not in GAINS:
        raise ValueError(
            f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; choose one of "
            f"{', '.join([*GAINS, 'leaky_relu', 'conv1d', 'conv2d', 'conv3d'])}"
        )
    return GAINS[nonlinearity]


def fans(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape (out, in, *rest): (in * r, out * r), r = prod(rest)."""
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor of 2 or more dimensions, got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in_, fan_out = fans(tensor)
    return fan_in_ if mode == "fan_in" else fan_out


# ---------------------------------------------------------------- torch.nn.init's functions


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """U(a, b) per element."""
    return _fill(tensor, as_generator(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """N(mean, std**2) per element."""
    return _fill(tensor, mean + std * as_generator(generator).standard_normal(tensor.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """`val` everywhere."""
    return _fill(tensor, np.full(tensor.shape, val))


def zeros_(tensor: Tensor) -> Tensor:
    """All zeros."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """All ones."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot's uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in_, fan_out = fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in_ + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot's normal: N(0, s**2), s = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in_, fan_out = fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in_ + fan_out)), generator)


def kaiming_uniform_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """He's uniform: U(-b, b), b = calculate_gain(nonlinearity, a) * sqrt(3 / fan)."""
    fan = _fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None
) -> Tensor:
    """He's normal: N(0, s**2), s = calculate_gain(nonlinearity, a) / sqrt(fan)."""
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """gain * Q with orthonormal rows or columns (whichever are fewer): Q from the QR
    decomposition of a standard normal (rows, cols) matrix, rows = shape[0], signs fixed by
    diag(R) so that Q is uniform over orthogonal matrices; other shapes are flattened to 2-D."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor of 2 or more dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows if rows else 0
    if tensor.numel() == 0:
        return tensor
    flat = as_generator(generator).standard_normal((rows, cols))
    tall = flat.T if rows < cols else flat
    q, r = np.linalg.qr(tall)
    q = q * np.sign(np.diag(r))
    q = q.T if rows < cols else q
    return _fill(tensor, gain * q.reshape(tensor.shape))


# ---------------------------------------------------------------- document 000's schemes


def fan_in(tensor: Tensor) -> int:
    """Document 000's fan-in: the last dimension of a weight (1 for a bias)."""
    return tensor.shape[-1] if tensor.ndim >= 2 else 1


def random_(tensor: Tensor, rng=None) -> Tensor:
    """Document 000's "random": randn * 0.01."""
    return normal_(tensor, 0.0, 0.01, rng)


def xavier_(tensor: Tensor, rng=None) -> Tensor:
    """Document 000's "xavier": randn / sqrt(fan_in / 2), which is N(0, 2 / fan_in): He's
    normal, not Glorot's (that is xavier_normal_)."""
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in(tensor) / 2), rng)


def he_(tensor: Tensor, rng=None) -> Tensor:
    """Document 000's "he": randn * sqrt(2 / fan_in), N(0, 2 / fan_in) (the same as its "xavier")."""
    return normal_(tensor, 0.0, math.sqrt(2.0 / fan_in(tensor)), rng)


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
