"""Gradient clipping between backward() and step(), in place, as torch.nn.utils does it."""

from __future__ import annotations

import math

import numpy as np

from ..nn.module import Module
from ..tensors import Tensor


def _gradients(parameters) -> list[np.ndarray]:
    """The grads that exist, from a Module, one Tensor or an iterable of Tensors."""
    if isinstance(parameters, Module):
        parameters = parameters.parameters()
    elif isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clip every gradient element to [-clip_value, clip_value], in place (the documents' clipping).
    A NaN stays NaN. `foreach` is taken for torch's signature and changes nothing here."""
    if not clip_value >= 0:  # NaN too
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for grad in _gradients(parameters):
        np.clip(grad, -clip_value, clip_value, out=grad)


def _norm_order(norm_type) -> float:
    """norm_type as a float: a number, or a string float() reads ('inf', '2'), as torch takes it."""
    try:
        order = float(norm_type)
    except (TypeError, ValueError):
        raise ValueError(f"clip_grad_norm_: norm_type must be a number or 'inf', got {norm_type!r}") from None
    if math.isnan(order):
        raise ValueError("clip_grad_norm_: norm_type must be a number or 'inf', got nan")
    return order


def _vector_norm(values: np.ndarray, order: float) -> np.ndarray:
    """torch.linalg.vector_norm of every element at once, in the values' dtype (0-d):
    (sum |x|**p) ** (1/p); p = inf: max |x|; p = -inf: min |x|; p = 0: the count of nonzeros.
    One element is its |x| (never squared, so it cannot overflow), as in torch."""
    magnitudes = np.abs(values.reshape(-1))
    if order == 0:
        return np.asarray(np.count_nonzero(magnitudes), dtype=values.dtype)
    if magnitudes.size == 1:
        return magnitudes.reshape(())
    if magnitudes.size == 0 and (order < 0 or math.isinf(order)):
        raise RuntimeError(
            f"clip_grad_norm_: the {order:g}-norm of a size-0 gradient is undefined (no identity), as in torch"
        )
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.asarray(np.linalg.norm(magnitudes, ord=order), dtype=values.dtype)


def clip_grad_norm_(
    parameters, max_norm: float, norm_type=2.0, error_if_nonfinite: bool = False, foreach: bool | None = None
) -> Tensor:
    """Rescale all gradients together so their joint norm is at most `max_norm`; returns that
    norm as a 0-d Tensor (before clipping), as torch.nn.utils.clip_grad_norm_ does.

    total = || (||g_1||_p, ||g_2||_p, ...) ||_p, the p-norm of every grad element at once
    (p = inf, or the string 'inf': the largest |element|), in the grads' promoted dtype.
    Every grad is multiplied, in place, by min(max_norm / (total + 1e-6), 1): a NaN total
    makes every grad NaN, an infinite one makes finite grads 0. With error_if_nonfinite=True
    a NaN or infinite total raises RuntimeError instead, leaving the grads as they were.
    No grads: the total is 0. `foreach` is taken for torch's signature and changes nothing here.
    """
    order = _norm_order(norm_type)
    if not max_norm >= 0:  # NaN too
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    grads = _gradients(parameters)
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*grads)
    norms = np.stack([_vector_norm(g, order).astype(dtype) for g in grads])
    total = _vector_norm(norms, order)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {order:g} of the gradients is {float(total)}, "
            "not finite, so they cannot be clipped; pass error_if_nonfinite=False to scale them by it anyway"
        )
    with np.errstate(invalid="ignore"):
        scale = np.minimum(dtype.type(max_norm) / (total + dtype.type(1e-6)), dtype.type(1.0))
        for grad in grads:
            grad *= scale.astype(grad.dtype)
    return Tensor(total)
