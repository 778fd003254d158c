"""Document 000, Cristian Leo's "RNN From Scratch in Python" (April 2024): daily minimum
temperature (Seattle temp_min, or a CSV column), MinMax-scaled, 67/33 time-ordered split.

Unlike the document's sequences of length 1, windows here are `seq_len` days of one value each,
so the recurrent weights learn something. The document's per-example SGD at lr 1e-3 does not
beat the baselines (its output layer never learns, and its recurrent weights see sequences of
length 1), so this task trains with Adam on mini-batches,
clipping per value to [-1, 1] and stopping early (patience 10) as the document does. Scores are MSE on the scaled
test windows, beside persistence and a least-squares linear model on the same windows.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from ..data import TemperatureTask, load_csv, temperature_task
from ..data.datasets import TEMPERATURE_TRAIN_FRACTION
from ..data.scalers import MinMaxScaler, scaler_from_dict
from ..data.splits import fewest_rows
from ..errors import DataError
from ..nn import functional as F
from ..optim import Adam
from ..random import as_generator
from ..train import EarlyStopping, Trainer
from .common import (
    TaskResult,
    build_model,
    config_from_metadata,
    mse,
    outputs,
    task_metadata,
)

NAME = "temperature"


@dataclass
class TemperatureConfig:
    """Defaults: 7-day windows, hidden 16, Adam lr 3e-3, batches of 32."""

    epochs: int = 100
    hidden: int = 16
    lr: float = 3e-3
    seq_len: int = 7
    batch_size: int = 32
    init: str | None = None
    seed: int = 0
    cell: str = "rnn"
    csv: str | None = None
    date_column: str = "date"
    target_column: str = "temp_min"
    fill_missing: str = "error"


def data(config: TemperatureConfig, scaler: MinMaxScaler | None = None) -> TemperatureTask:
    """Train and test windows from Seattle temp_min or the CSV's target column (the one series
    that is both input and target), scaled by `scaler` or by one fitted on the training rows."""
    series = None
    if config.csv is not None:
        table = load_csv(
            config.csv,
            config.date_column,
            [config.target_column],
            config.target_column,
            min_rows=fewest_rows((TEMPERATURE_TRAIN_FRACTION,), config.seq_len + 1),  # a window and its target
            fill_missing=config.fill_missing,
        )
        series = table.target
    return temperature_task(look_back=1, seq_len=config.seq_len, series=series, scaler=scaler)


def evaluate(model, task: TemperatureTask) -> dict:
    """MSE on the scaled test windows (reported as validation) of the model and of persistence."""
    test = task.test
    return {
        "validation_mse": mse(outputs(model, test.inputs), test.targets),
        "persistence_mse": mse(test.persistence, test.targets),
    }


def metadata(config: TemperatureConfig, task: TemperatureTask) -> dict:
    """What a checkpoint needs to rebuild the model and to scale new data as in training."""
    return task_metadata(NAME, config, input_size=1, scaler=task.scaler.to_dict())


def from_metadata(values: dict, **data_options):
    """(config, untrained model, scaler) rebuilt from `metadata`'s output; `data_options` (csv,
    date_column, target_column, fill_missing) replace the saved ones."""
    config = dataclasses.replace(config_from_metadata(TemperatureConfig, values), **data_options)
    scaler = scaler_from_dict(values.get("scaler"))
    if not isinstance(scaler, MinMaxScaler) or scaler.num_features != 1:
        raise DataError("checkpoint metadata: the temperature task needs a one-column MinMaxScaler")
    return config, make_model(config), scaler


def linear_baseline(train, test) -> float:
    """Test MSE of a least-squares linear model (with intercept) on the flattened windows."""

    def design(windows):
        flat = windows.inputs.reshape(len(windows.inputs), -1)
        return np.hstack([flat, np.ones((len(flat), 1))])

    coefficients, *_ = np.linalg.lstsq(design(train), train.targets, rcond=None)
    return mse(design(test) @ coefficients, test.targets)


def make_model(config: TemperatureConfig, rng=None):
    """RNN 1 -> hidden -> 1, many-to-one."""
    rng = as_generator(rng if rng is not None else config.seed)
    return build_model(1, config.hidden, 1, cell=config.cell, init_scheme=config.init, rng=rng)


def run(config: TemperatureConfig | None = None, progress: bool = False) -> TaskResult:
    """Train; metrics: train/validation MSE (scaled), persistence and linear baselines."""
    config = config or TemperatureConfig()
    start = time.perf_counter()
    task = data(config)
    train, test = task.train, task.test
    rng = as_generator(config.seed)
    model = make_model(config, rng)
    trainer = Trainer(
        model,
        F.mse_loss,
        Adam(model.parameters(), lr=config.lr),
        batch_size=config.batch_size,
        clip_value=1.0,
        rng=rng,
        progress=progress,
    )
    history = trainer.fit(
        train.inputs,
        train.targets,
        epochs=config.epochs,
        validation=(test.inputs, test.targets),
        early_stopping=EarlyStopping(patience=10),
    )
    metrics = {
        "train_mse": trainer.evaluate(train.inputs, train.targets),
        **evaluate(model, task),
        "linear_mse": linear_baseline(train, test),
        "epochs": history.epochs,
    }
    return TaskResult(metrics, history, model, time.perf_counter() - start, metadata(config, task))


Config = TemperatureConfig
