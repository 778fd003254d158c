"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD)."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    """For each parameter, with its group's options:

    g = grad + weight_decay * p   (maximize=True: -grad in place of grad, to ascend it)
    b = g on the parameter's first step, then b = momentum * b + (1 - dampening) * g
    p = p - lr * d,   d = g (momentum 0), b (momentum), g + momentum * b (nesterov)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
                maximize=maximize,
            ),
        )

    def check_options(self, group: dict) -> None:
        check_non_negative("SGD", group, ("lr", "momentum", "dampening", "weight_decay"))
        if group["nesterov"] and (group["momentum"] == 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")

    def update(self, param, grad, state, group) -> None:
        direction = grad + group["weight_decay"] * param.data if group["weight_decay"] else grad
        momentum = group["momentum"]
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                buffer = state["momentum_buffer"] = np.array(direction, copy=True)
            else:
                buffer *= momentum
                buffer += (1.0 - group["dampening"]) * direction
            direction = direction + momentum * buffer if group["nesterov"] else buffer
        param.data -= group["lr"] * direction
