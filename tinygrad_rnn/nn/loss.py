"""Losses as Modules, as in torch.nn: construct with a reduction, call with (input, target).

Each forwards to the function of the same loss in `functional`, where its formula and
gradient are written down.
"""

from __future__ import annotations

from . import functional as F
from .module import Module


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
    """Binary cross-entropy on probabilities (see functional.binary_cross_entropy)."""

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on raw scores, stable at any size (see functional.binary_cross_entropy_with_logits)."""

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy from logits, class indices or probability targets (see functional.cross_entropy)."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, reduction=self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood from log-probabilities (see functional.nll_loss)."""

    def forward(self, input, target):
        return F.nll_loss(input, target, reduction=self.reduction)
