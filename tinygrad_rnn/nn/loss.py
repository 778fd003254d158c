"""Losses as Modules, as in torch.nn: construct with the options, call with (input, target).

Each forwards to the function of the same loss in `functional`, where its formula and
gradient are written down. Options are checked when the module is built as far as they can
be without an input; a class weight's length is checked against the input's classes on the call.
"""

from __future__ import annotations

import numpy as np

from ..tensors import Tensor
from . import functional as F
from .module import Module


def _numbers(values, loss: str, option: str) -> Tensor | None:
    """None, or a weight option as a float64 Tensor of its own (later changes to `values` change
    nothing). It is a Tensor, not a Parameter: never trained, yet read afresh by a jit program."""
    return None if values is None else Tensor(F._option_array(values, np.float64, loss, option))


def _class_weight(values, loss: str) -> Tensor | None:
    """A per-class weight option: None or one number per class (a 1-D array)."""
    weight = _numbers(values, loss, "weight")
    if weight is not None and weight.ndim != 1:
        raise ValueError(f"{loss}: weight must be 1-D, one number per class, got shape {weight.shape}")
    return weight


class _Loss(Module):
    """A loss Module: keeps the reduction ("mean", "sum" or "none"), checked when built."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        F.check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error: (x - y)**2 per element (see functional.mse_loss)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, optionally weighted per element (see
    functional.binary_cross_entropy)."""

    def __init__(self, weight=None, *, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = _numbers(weight, "BCELoss", "weight")

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on raw scores, stable at any size, optionally weighted per element
    and on the positive term (see functional.binary_cross_entropy_with_logits)."""

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.weight = _numbers(weight, "BCEWithLogitsLoss", "weight")
        self.pos_weight = _numbers(pos_weight, "BCEWithLogitsLoss", "pos_weight")

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """Cross-entropy from logits, class indices or probability targets, with PyTorch's weight,
    ignore_index and label_smoothing (see functional.cross_entropy)."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        F.check_ignore_index(ignore_index, "CrossEntropyLoss")
        F.check_label_smoothing(label_smoothing, "CrossEntropyLoss")
        self.weight = _class_weight(weight, "CrossEntropyLoss")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.ignore_index != -100:
            text += f", ignore_index={self.ignore_index}"
        return text + (f", label_smoothing={self.label_smoothing}" if self.label_smoothing else "")


class NLLLoss(_Loss):
    """Negative log-likelihood from log-probabilities, with PyTorch's weight and ignore_index
    (see functional.nll_loss)."""

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        F.check_ignore_index(ignore_index, "NLLLoss")
        self.weight = _class_weight(weight, "NLLLoss")
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.ignore_index == -100 else text + f", ignore_index={self.ignore_index}"
