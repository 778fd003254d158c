"""Adagrad (torch.optim.Adagrad): steps divided by the root of every squared gradient so far."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    """For each parameter at its step t = 1, 2, ..., with its group's options:

    g = grad + weight_decay * p   (maximize=True: -grad in place of grad, to ascend it)
    s = s + g**2                  (s starts at initial_accumulator_value)
    p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ):
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
                maximize=maximize,
            ),
        )

    def check_options(self, group: dict) -> None:
        check_non_negative("Adagrad", group, ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"))

    def update(self, param, grad, state, group) -> None:
        if not state:
            state.update(step=0, sum=np.full_like(param.data, group["initial_accumulator_value"]))
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param.data
        step_size = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        param.data -= step_size * grad / (np.sqrt(state["sum"]) + group["eps"])
