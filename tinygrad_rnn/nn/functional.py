"""Activations and losses as plain functions, named and shaped as in torch.nn.functional.

Every loss is composed from Tensor ops, so its gradient comes from backward(); each
docstring states the loss and that gradient. `reduction` is "mean" (the average of the
unreduced losses: per element, or per row for the class losses), "sum" or "none" (the
unreduced losses themselves).

A float target is converted to the prediction's dtype and must have the prediction's
shape exactly: a (N, 1) prediction against a (N,) target is an error, never a silent
(N, N) broadcast. Class targets are integers (whole-valued floats are accepted).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops, tensors
from ..tensors import Tensor, stack

REDUCTIONS = ("mean", "sum", "none")


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ---------------------------------------------------------------- layers


def linear(input, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight^T + bias, one op;  d/dinput = g @ weight, d/dweight = g^T @ input, d/dbias = sum of g."""
    return tensors.linear(_as_tensor(input), _as_tensor(weight), None if bias is None else _as_tensor(bias))


# ---------------------------------------------------------------- activations


def tanh(input) -> Tensor:
    """tanh(x);  derivative 1 - tanh(x)**2."""
    return _as_tensor(input).tanh()


def relu(input) -> Tensor:
    """max(x, 0);  derivative 1 where x > 0, else 0."""
    return _as_tensor(input).relu()


def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x));  derivative s (1 - s)."""
    return _as_tensor(input).sigmoid()


def softmax(input, dim: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `dim` (max-subtracted, so it never overflows)."""
    return _as_tensor(input).softmax(axis=dim)


def log_softmax(input, dim: int = -1) -> Tensor:
    """x_i - logsumexp(x) along `dim`, computed in one stable step."""
    return _as_tensor(input).log_softmax(axis=dim)


# ---------------------------------------------------------------- shared checks


def check_reduction(reduction: str, loss: str) -> None:
    """Raise ValueError naming `loss` unless `reduction` is "mean", "sum" or "none"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{loss}: unknown reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")


def _reduce(per_example: Tensor, reduction: str) -> Tensor:
    """mean(l), sum(l) or l itself."""
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example


def _target_array(target) -> np.ndarray:
    return np.asarray(target.data if isinstance(target, Tensor) else target)


def _float_target(target, input: Tensor, loss: str) -> Tensor:
    """`target` as a Tensor of the input's dtype and exactly the input's shape.

    A target Tensor that requires grad is used as it is, so its gradient flows.
    """
    if isinstance(target, Tensor) and (target.requires_grad or target.dtype == input.dtype):
        converted = target
    else:
        try:
            converted = Tensor._from_op(np.asarray(_target_array(target), dtype=input.dtype), None)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{loss}: the target must be numeric ({error})") from None
    if converted.shape != input.shape:
        raise ValueError(
            f"{loss}: input has shape {input.shape} but target has shape {converted.shape}; "
            "they must be the same (a target is never broadcast)"
        )
    return converted


def _check_class_axis(input: Tensor, loss: str) -> None:
    if input.ndim not in (1, 2):
        raise ValueError(
            f"{loss}: input has shape {input.shape}; expected (N, C) or (C,) with the classes on the "
            "last axis (reshape a (B, T, C) sequence output to (B*T, C))"
        )


def _class_targets(target, input: Tensor, loss: str, probabilities_allowed: bool) -> np.ndarray:
    """Class indices of shape input.shape[:-1], each in [0, C), as an int64 array."""
    classes = _target_array(target)
    expected = input.shape[:-1]
    if classes.shape != expected:
        also = f" or {input.shape} (class probabilities)" if probabilities_allowed else ""
        raise ValueError(
            f"{loss}: input has shape {input.shape}, so the target must have shape {expected} "
            f"(class indices){also}; got {classes.shape}"
        )
    if classes.dtype.kind == "f":
        not_whole = ~np.isfinite(classes) | (classes != np.round(classes))
        if not_whole.any():
            raise ValueError(f"{loss}: class targets must be whole numbers, got {classes[not_whole].flat[0]}")
    elif classes.dtype.kind not in "iu":
        raise TypeError(f"{loss}: class targets must be integers, got dtype {classes.dtype}")
    classes = classes.astype(np.int64)
    count = input.shape[-1]
    outside = (classes < 0) | (classes >= count)
    if outside.any():
        raise ValueError(
            f"{loss}: target class {classes[outside].flat[0]} is out of range for {count} classes "
            f"(valid: 0 to {count - 1})"
        )
    return classes


def _negative_picked(log_probs: Tensor, classes: np.ndarray) -> Tensor:
    """-log_probs[n, classes[n]] for every row n (or -log_probs[classes] for one row)."""
    if log_probs.ndim == 1:
        return -log_probs[int(classes)]
    return -log_probs[np.arange(len(classes)), classes]


# ---------------------------------------------------------------- losses


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """l_i = (x_i - y_i)**2;  dl_i/dx_i = 2 (x_i - y_i), divided by the element count for "mean"."""
    check_reduction(reduction, "mse_loss")
    input = _as_tensor(input)
    difference = input - _float_target(target, input, "mse_loss")
    return _reduce(difference * difference, reduction)


def binary_cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """l_i = -(y_i log p_i + (1 - y_i) log(1 - p_i)) for probabilities p in [0, 1];
    dl_i/dp_i = (p_i - y_i) / max(p_i (1 - p_i), 1e-12), as PyTorch's backward computes it
    (its 1e-12 is a float32 number).

    As in PyTorch, each log is clamped below at -100, so p = 0 or 1 gives a finite loss:
    p and 1 - p are clipped to at least exp(-100) (for float32, to its smallest normal
    number, a clamp near -87) before the log; the gradient is PyTorch's formula above,
    which stays finite there too (one op, ops.BinaryCrossEntropy).
    Prefer binary_cross_entropy_with_logits on raw scores: it needs no clamp.
    """
    check_reduction(reduction, "binary_cross_entropy")
    p = _as_tensor(input)
    y = _float_target(target, p, "binary_cross_entropy")
    outside = ~((p.data >= 0) & (p.data <= 1))  # NaN is outside too, as in PyTorch
    if outside.any():
        raise ValueError(
            f"binary_cross_entropy: the input must be probabilities in [0, 1], got {p.data[outside].flat[0]} "
            "(for raw scores use binary_cross_entropy_with_logits)"
        )
    floor = max(math.exp(-100.0), float(np.finfo(p.dtype).tiny))
    return _reduce(tensors.apply(ops.BinaryCrossEntropy, p, y, floor=floor), reduction)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean") -> Tensor:
    """binary_cross_entropy(sigmoid(x), y) without forming sigmoid(x):

    l_i = log(1 + exp(x_i)) - x_i y_i = logsumexp([0, x_i]) - x_i y_i;  dl_i/dx_i = sigmoid(x_i) - y_i.
    The max-subtracted logsumexp keeps it exact and warning-free at |x| = 1000.
    """
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    x = _as_tensor(input)
    y = _float_target(target, x, "binary_cross_entropy_with_logits")
    zeros = Tensor._from_op(np.zeros_like(x.data), None)
    softplus = stack([zeros, x], axis=0).logsumexp(axis=0)
    return _reduce(softplus - x * y, reduction)


def nll_loss(input, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target classes, given log-probabilities (N, C) or (C,):

    l_n = -input[n, k_n];  dl_n/dinput[n, c] = -1 where c = k_n, else 0.
    """
    check_reduction(reduction, "nll_loss")
    log_probs = _as_tensor(input)
    _check_class_axis(log_probs, "nll_loss")
    classes = _class_targets(target, log_probs, "nll_loss", probabilities_allowed=False)
    return _reduce(_negative_picked(log_probs, classes), reduction)


def cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """Cross-entropy from logits z (N, C) or (C,), classes on the last axis:

    l_n = -sum_c y_nc log_softmax(z_n)_c;  dl_n/dz_n = softmax(z_n) sum_c y_nc - y_n
    (= softmax(z_n) - y_n when the row of y sums to 1).
    The target is either class indices, shape (N,) (a scalar for (C,) logits), standing for
    one-hot rows y, or one-hot / probability rows y of the logits' own shape.
    "mean" averages over the N rows.
    """
    check_reduction(reduction, "cross_entropy")
    logits = _as_tensor(input)
    _check_class_axis(logits, "cross_entropy")
    log_probs = logits.log_softmax(axis=-1)
    if _target_array(target).shape == logits.shape:
        probabilities = _float_target(target, logits, "cross_entropy")
        return _reduce(-(probabilities * log_probs).sum(axis=-1), reduction)
    classes = _class_targets(target, logits, "cross_entropy", probabilities_allowed=True)
    return _reduce(_negative_picked(log_probs, classes), reduction)
