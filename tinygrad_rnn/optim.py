"""Optimizers and gradient clipping, with torch.optim's names and exact update rules.

An optimizer holds a list of Parameters; `step()` updates each one's `.data` in place
from its `.grad` (a parameter whose grad is None is skipped, its state untouched), and
`zero_grad()` sets every grad to None. The clipping functions change the grads in place
between backward() and step().
"""
from __future__ import annotations

import math

import numpy as np

from .nn.module import Module
from .tensor import Tensor


def _check_hyperparameters(owner: str, **values) -> None:
    """Raise ValueError naming every hyperparameter that is negative."""
    negative = [f"{name}={value}" for name, value in values.items() if value < 0]
    if negative:
        raise ValueError(f"{owner}: hyperparameters must be >= 0, got {', '.join(negative)}")


class Optimizer:
    """Base class: `params` is a Module or an iterable of Parameters (leaf Tensors), each once."""

    def __init__(self, params):
        owner = type(self).__name__
        if isinstance(params, Module):
            params = params.parameters()
        elif isinstance(params, Tensor):
            raise TypeError(f"{owner}: params must be an iterable of Parameters or a Module, got one Tensor; "
                            "wrap it in a list")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{owner}: got an empty parameter list")
        seen = set()
        for index, param in enumerate(self.params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{owner}: parameter {index} is a {type(param).__name__}, not a Tensor")
            if not param.is_leaf:
                raise ValueError(f"{owner}: parameter {index} is not a leaf tensor (it was computed by an op)")
            if id(param) in seen:
                raise ValueError(f"{owner}: parameter {index} ({param.name or 'unnamed'}) appears more than once")
            seen.add(id(param))

    def zero_grad(self) -> None:
        """Set every parameter's grad to None (the next backward starts from nothing)."""
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum and weight decay as torch.optim.SGD:

        g = grad + weight_decay * p
        b = g on a parameter's first step, then b = momentum * b + g
        p = p - lr * d,  d = g (no momentum), b (momentum), g + momentum * b (nesterov)
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        _check_hyperparameters("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(params)
        self.lr, self.momentum, self.weight_decay, self.nesterov = lr, momentum, weight_decay, nesterov
        self.momentum_buffers: list[np.ndarray | None] = [None] * len(self.params)

    def step(self) -> None:
        for index, param in enumerate(self.params):
            if param.grad is None:
                continue
            direction = param.grad
            if self.weight_decay:
                direction = direction + self.weight_decay * param.data
            if self.momentum:
                buffer = self.momentum_buffers[index]
                if buffer is None:
                    buffer = self.momentum_buffers[index] = np.array(direction, copy=True)
                else:
                    buffer *= self.momentum
                    buffer += direction
                direction = direction + self.momentum * buffer if self.nesterov else buffer
            param.data -= self.lr * direction


class Adam(Optimizer):
    """Adam with bias correction, as torch.optim.Adam; for each parameter at its step t = 1, 2, ...:

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        _check_hyperparameters("Adam", lr=lr, eps=eps, weight_decay=weight_decay)
        beta1, beta2 = betas
        outside = [f"{name}={value}" for name, value in (("beta1", beta1), ("beta2", beta2))
                   if not 0.0 <= value < 1.0]
        if outside:
            raise ValueError(f"Adam: betas must be in [0, 1), got {', '.join(outside)}")
        super().__init__(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, (beta1, beta2), eps, weight_decay
        self.steps = [0] * len(self.params)
        self.first_moments = [np.zeros_like(p.data) for p in self.params]
        self.second_moments = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        beta1, beta2 = self.betas
        for index, param in enumerate(self.params):
            if param.grad is None:
                continue
            self.steps[index] += 1
            t = self.steps[index]
            g = param.grad
            if self.weight_decay:
                g = g + self.weight_decay * param.data
            m, v = self.first_moments[index], self.second_moments[index]
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * g * g
            step_size = self.lr / (1.0 - beta1 ** t)
            denominator = np.sqrt(v) / math.sqrt(1.0 - beta2 ** t) + self.eps
            param.data -= step_size * m / denominator


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
