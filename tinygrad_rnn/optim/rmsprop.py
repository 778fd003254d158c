"""RMSprop (torch.optim.RMSprop): steps divided by a running root mean square of the gradient."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    """For each parameter, with its group's options:

    g = grad + weight_decay * p   (maximize=True: -grad in place of grad, to ascend it)
    s = alpha * s + (1 - alpha) * g**2
    a = sqrt(s) + eps;  centered: a = sqrt(s - m**2) + eps with m = alpha * m + (1 - alpha) * g
    p = p - lr * g / a;  with momentum: b = momentum * b + g / a,  p = p - lr * b
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
                maximize=maximize,
            ),
        )

    def check_options(self, group: dict) -> None:
        check_non_negative("RMSprop", group, ("lr", "alpha", "eps", "weight_decay", "momentum"))

    def update(self, param, grad, state, group) -> None:
        if not state:
            state.update(step=0, square_avg=np.zeros_like(param.data))
            if group["momentum"]:
                state["momentum_buffer"] = np.zeros_like(param.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param.data)
        state["step"] += 1
        alpha = group["alpha"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1.0 - alpha) * grad
            average = np.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            average = np.sqrt(square_avg) + group["eps"]
        if group["momentum"]:
            buffer = state["momentum_buffer"]
            buffer *= group["momentum"]
            buffer += grad / average
            param.data -= group["lr"] * buffer
        else:
            param.data -= group["lr"] * grad / average
