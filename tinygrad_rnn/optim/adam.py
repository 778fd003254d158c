"""Adam and AdamW (torch.optim.Adam, torch.optim.AdamW): bias-corrected moment estimates."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    """For each parameter at its step t = 1, 2, ..., with its group's options:

    g = grad + weight_decay * p                  (AdamW instead: p = p * (1 - lr * weight_decay))
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    v_max = max(v_max, v) with amsgrad, and v_max replaces v below
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    maximize=True puts -grad in place of grad, to ascend it.
    """

    decoupled_weight_decay = False

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize),
        )

    def check_options(self, group: dict) -> None:
        owner = type(self).__name__
        check_non_negative(owner, group, ("lr", "eps", "weight_decay"))
        beta1, beta2 = group["betas"]
        outside = [f"{name}={value}" for name, value in (("beta1", beta1), ("beta2", beta2)) if not 0.0 <= value < 1.0]
        if outside:
            raise ValueError(f"{owner}: betas must be in [0, 1), got {', '.join(outside)}")

    def update(self, param, grad, state, group) -> None:
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(param.data), exp_avg_sq=np.zeros_like(param.data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(param.data)
        state["step"] += 1
        t, lr, weight_decay = state["step"], group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if weight_decay and self.decoupled_weight_decay:
            param.data *= 1.0 - lr * weight_decay
        elif weight_decay:
            grad = grad + weight_decay * param.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * grad
        v *= beta2
        v += (1.0 - beta2) * grad * grad
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denominator = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + group["eps"]
        param.data -= lr / (1.0 - beta1**t) * m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): the parameter shrinks by
    lr * weight_decay * p before the Adam step, instead of weight decay entering the gradient.
    weight_decay defaults to 1e-2, as in torch.optim.AdamW."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize
        )
