"""What every task shares: its result, model construction and initialisation."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models import SequenceModel
from ..nn import init
from ..train import History


@dataclass
class TaskResult:
    """Measured metrics, the loss history, the trained model and the wall time in seconds."""

    metrics: dict
    history: History
    model: SequenceModel
    seconds: float


def build_model(input_size: int, hidden: int, output_size: int, *, cell: str = "rnn",
                init_scheme: str | None = None, rng=None, **options) -> SequenceModel:
    """A SequenceModel, re-initialised with `init_scheme` (uniform, random, xavier, he) when given."""
    model = SequenceModel(input_size, hidden, output_size, cell=cell, rng=rng, **options)
    if init_scheme is not None:
        init.init_module_(model, init_scheme, rng=rng, hidden_size=hidden)
    return model


def mse(prediction, target) -> float:
    """Mean squared error of two arrays."""
    return float(np.mean((np.asarray(prediction) - np.asarray(target)) ** 2))


def model_sizes(state: dict) -> dict:
    """Input and hidden sizes and the cell type read from a SequenceModel's state dict."""
    weight_ih = state["rnn.weight_ih_l0"]
    hidden = state["rnn.weight_hh_l0"].shape[1]
    cell = {1: "rnn", 3: "gru", 4: "lstm"}[weight_ih.shape[0] // hidden]
    return {"input_size": weight_ih.shape[1], "hidden": hidden, "cell": cell}
