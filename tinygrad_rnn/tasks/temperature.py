"""Document 000: daily minimum temperature (Seattle temp_min, or a CSV column), MinMax-scaled,
67/33 time-ordered split.

Unlike the document's sequences of length 1, windows here are `seq_len` days of one value each,
so the recurrent weights learn something. The document's per-example SGD at lr 1e-3 does not
beat the baselines (see the seeds README), so this task trains with Adam on mini-batches,
clipping per value to [-1, 1] and stopping early (patience 10) as the document does. Scores are MSE on the scaled
test windows, beside persistence and a least-squares linear model on the same windows.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..data import load_csv, temperature_task
from ..nn import functional as F
from ..optim import Adam
from ..random import as_generator
from ..train import EarlyStopping, Trainer
from .common import TaskResult, build_model, mse


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


def data(config: TemperatureConfig):
    """Train and test windows from Seattle temp_min or the CSV's target column."""
    series = None
    if config.csv is not None:
        table = load_csv(config.csv, config.date_column, [config.target_column], config.target_column,
                         min_rows=2 * (config.seq_len + 1))
        series = table.target
    task = temperature_task(look_back=1, seq_len=config.seq_len, series=series)
    return task.train, task.test


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
    train, test = data(config)
    rng = as_generator(config.seed)
    model = make_model(config, rng)
    trainer = Trainer(model, F.mse_loss, Adam(model.parameters(), lr=config.lr),
                      batch_size=config.batch_size, clip_value=1.0, rng=rng, progress=progress)
    history = trainer.fit(train.inputs, train.targets, epochs=config.epochs,
                          validation=(test.inputs, test.targets), early_stopping=EarlyStopping(patience=10))
    metrics = {
        "train_mse": trainer.evaluate(train.inputs, train.targets),
        "validation_mse": trainer.evaluate(test.inputs, test.targets),
        "persistence_mse": mse(test.persistence, test.targets),
        "linear_mse": linear_baseline(train, test),
        "epochs": history.epochs,
    }
    return TaskResult(metrics, history, model, time.perf_counter() - start)


Config = TemperatureConfig
