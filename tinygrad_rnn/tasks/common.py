"""What every task shares: its result, model construction and initialisation, and the metadata
a checkpoint carries so that predicting can rebuild the task's model and data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..errors import DataError
from ..models import SequenceModel
from ..nn import init
from ..tensors import Tensor
from ..train import History

CELLS = ("rnn", "lstm", "gru")
INIT_SCHEMES = ("uniform", "random", "xavier", "he")
MAX_HIDDEN = 4096  # the largest hidden size a task builds: its (4 H, H) LSTM weight is 512 MiB of float64


@dataclass
class TaskResult:
    """Measured metrics, the loss history, the trained model, the wall time in seconds, and the
    metadata a checkpoint of the model needs (see `task_metadata`)."""

    metrics: dict
    history: History
    model: SequenceModel
    seconds: float
    metadata: dict = field(default_factory=dict)


def build_model(
    input_size: int,
    hidden: int,
    output_size: int,
    *,
    cell: str = "rnn",
    init_scheme: str | None = None,
    rng=None,
    **options,
) -> SequenceModel:
    """A SequenceModel, re-initialised with `init_scheme` (uniform, random, xavier, he) when given."""
    model = SequenceModel(input_size, hidden, output_size, cell=cell, rng=rng, **options)
    if init_scheme is not None:
        init.init_module_(model, init_scheme, rng=rng, hidden_size=hidden)
    return model


def mse(prediction, target) -> float:
    """Mean squared error of two arrays."""
    return float(np.mean((np.asarray(prediction) - np.asarray(target)) ** 2))


@no_grad()
def outputs(model, inputs: np.ndarray) -> np.ndarray:
    """The model's outputs for a batch of windows, in evaluation mode, without a graph."""
    model.eval()
    return model(Tensor(inputs)).data


def task_metadata(task: str, config, input_size: int, **extra) -> dict:
    """What predicting needs, as plain JSON values: the task's name, its config (a dataclass),
    the model's input size, and task-specific entries such as the scaler or the vocabulary."""
    values = {
        name: list(value) if isinstance(value, tuple) else value for name, value in dataclasses.asdict(config).items()
    }
    return {"task": task, "config": values, "input_size": int(input_size), **extra}


def config_from_metadata(config_class, metadata: dict):
    """The task's config rebuilt from `task_metadata`'s "config" entry, after checking it: integers
    where the defaults are (hidden at most MAX_HIDDEN, so nothing huge is allocated), strings where
    the fields hold text, a known cell and init."""
    values = metadata.get("config")
    if not isinstance(values, dict):
        raise DataError(f"checkpoint metadata: 'config' must be a mapping, got {type(values).__name__}")
    fields = {item.name: item for item in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise DataError(f"checkpoint metadata: config has unknown entries {', '.join(unknown)}")
    converted = {name: tuple(value) if isinstance(value, list) else value for name, value in values.items()}
    for name, value in converted.items():
        default = fields[name].default
        if isinstance(default, int) and not isinstance(default, bool):
            least = 0 if name == "seed" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise DataError(f"checkpoint metadata: config {name} must be an integer >= {least}, got {value!r}")
        elif (isinstance(default, str) or "str" in str(fields[name].type)) and not (
            isinstance(value, str) or (value is None and default is None)
        ):
            allowed = "a string or null" if default is None else "a string"
            raise DataError(f"checkpoint metadata: config {name} must be {allowed}, got {values[name]!r}")
    if values.get("hidden", 1) > MAX_HIDDEN:
        raise DataError(f"checkpoint metadata: config hidden must be at most {MAX_HIDDEN}, got {values['hidden']}")
    if converted.get("cell", "rnn") not in CELLS:
        raise DataError(
            f"checkpoint metadata: config cell must be one of {', '.join(CELLS)}, got {converted['cell']!r}"
        )
    if converted.get("init") not in (None, *INIT_SCHEMES):
        raise DataError(
            f"checkpoint metadata: config init must be one of {', '.join(INIT_SCHEMES)}, got {converted['init']!r}"
        )
    return config_class(**converted)


def input_size_from_metadata(metadata: dict) -> int:
    """The model's input size recorded in a checkpoint's metadata, checked to be >= 1."""
    size = metadata.get("input_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise DataError(f"checkpoint metadata: input_size must be an integer >= 1, got {size!r}")
    return size
