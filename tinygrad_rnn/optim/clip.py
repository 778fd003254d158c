"""Gradient clipping between backward() and step(), in place, as torch.nn.utils does it."""

from __future__ import annotations

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


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value], in place (the documents' clipping)."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for grad in _gradients(parameters):
        np.clip(grad, -clip_value, clip_value, out=grad)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0) -> float:
    """Rescale all gradients together so their joint norm is at most `max_norm`; returns that norm.

    total = || (||g_1||_p, ||g_2||_p, ...) ||_p, the p-norm of every grad element at once
    (p = inf: the largest |element|). Only when total > max_norm is every grad multiplied,
    in place, by max_norm / (total + 1e-6). The returned norm is the one before clipping.
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive (or inf), got {norm_type}")
    grads = _gradients(parameters)
    if not grads:
        return 0.0
    norms = [np.linalg.norm(g.reshape(-1).astype(np.float64), ord=norm_type) for g in grads]
    total = float(np.linalg.norm(np.array(norms), ord=norm_type))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for grad in grads:
            grad *= scale
    return total
