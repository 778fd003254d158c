"""Document 001: tomorrow's temp_max from today's (temp_max, temp_min, precipitation), windows
of 7 days, RNN 3 -> 4 -> 1 at every step (many-to-many), StandardScaler on the features,
70/15/15 time-ordered split, targets and losses in degrees C (squared for MSE).

The document's plain SGD on unscaled degree targets is slow to move the read-out's bias to
their mean, so this task starts that bias at the training targets' mean, trains with Adam on
mini-batches and stops early on the validation split. Scores sit beside persistence
(tomorrow = today).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..data import load_csv, weather_task
from ..nn import functional as F
from ..optim import Adam
from ..random import as_generator
from ..train import EarlyStopping, Trainer
from .common import TaskResult, build_model, mse


@dataclass
class WeatherConfig:
    """Defaults: windows of 7, hidden 4, Adam lr 1e-2, batches of 32."""

    epochs: int = 150
    hidden: int = 4
    lr: float = 1e-2
    window: int = 7
    batch_size: int = 32
    patience: int = 15
    init: str | None = None
    seed: int = 0
    cell: str = "rnn"
    csv: str | None = None
    date_column: str = "date"
    feature_columns: tuple = ("temp_max", "temp_min", "precipitation")
    target_column: str = "temp_max"


def data(config: WeatherConfig):
    """The WeatherTask (train, valid, test windows) from Seattle or the CSV."""
    table = None
    if config.csv is not None:
        table = load_csv(config.csv, config.date_column, list(config.feature_columns), config.target_column,
                         min_rows=3 * config.window + 1)
    return weather_task(window=config.window, data=table)


def make_model(config: WeatherConfig, input_size: int | None = None, rng=None):
    """RNN input -> hidden -> 1 at every step."""
    rng = as_generator(rng if rng is not None else config.seed)
    size = input_size or len(config.feature_columns)
    return build_model(size, config.hidden, 1, cell=config.cell, init_scheme=config.init, rng=rng,
                       many_to_many=True)


def run(config: WeatherConfig | None = None, progress: bool = False) -> TaskResult:
    """Train; metrics: train/validation/test MSE in degrees^2 and persistence's."""
    config = config or WeatherConfig()
    start = time.perf_counter()
    task = data(config)
    rng = as_generator(config.seed)
    model = make_model(config, task.train.inputs.shape[-1], rng)
    if model.head.bias is not None:
        model.head.bias.data[...] = task.train.targets.mean()
    trainer = Trainer(model, F.mse_loss, Adam(model.parameters(), lr=config.lr),
                      batch_size=config.batch_size, rng=rng, progress=progress)
    history = trainer.fit(task.train.inputs, task.train.targets, epochs=config.epochs,
                          validation=(task.valid.inputs, task.valid.targets),
                          early_stopping=EarlyStopping(patience=config.patience))
    metrics = {
        "train_mse": trainer.evaluate(task.train.inputs, task.train.targets),
        "validation_mse": trainer.evaluate(task.valid.inputs, task.valid.targets),
        "test_mse": trainer.evaluate(task.test.inputs, task.test.targets),
        "persistence_validation_mse": mse(task.valid.persistence, task.valid.targets),
        "persistence_test_mse": mse(task.test.persistence, task.test.targets),
        "epochs": history.epochs,
    }
    return TaskResult(metrics, history, model, time.perf_counter() - start)


Config = WeatherConfig
