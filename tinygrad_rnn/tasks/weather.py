"""Document 001, the "RNN from scratch" walk-through of Vik Paruchuri's zero_to_gpt course:
tomorrow's temp_max from today's (temp_max, temp_min, precipitation), windows of 7 days,
RNN 3 -> 4 -> 1 at every step (many-to-many), StandardScaler on the features, 70/15/15
time-ordered split, targets and losses in degrees C (squared for MSE). Gaps in a CSV file are
an error unless filled forward (`fill_missing="previous"`), as the walk-through fills its
weather file's gaps with pandas' `ffill`.

The document's plain SGD on unscaled degree targets is slow to move the read-out's bias to
their mean, so this task starts that bias at the training targets' mean, trains with Adam on
mini-batches and stops early on the validation split. Scores sit beside persistence
(tomorrow = today).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from ..data import WeatherTask, load_csv, weather_task
from ..data.datasets import WEATHER_FRACTIONS
from ..data.scalers import StandardScaler, scaler_from_dict
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
    input_size_from_metadata,
    mse,
    outputs,
    task_metadata,
)

NAME = "weather"


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
    fill_missing: str = "error"


def data(config: WeatherConfig, scaler: StandardScaler | None = None) -> WeatherTask:
    """The WeatherTask (train, valid, test windows) from Seattle or the CSV, its features scaled
    by `scaler` or by one fitted on the training rows."""
    table = None
    if config.csv is not None:
        table = load_csv(
            config.csv,
            config.date_column,
            list(config.feature_columns),
            config.target_column,
            min_rows=fewest_rows(WEATHER_FRACTIONS, config.window) + 1,  # day d pairs with day d + 1
            fill_missing=config.fill_missing,
        )
    return weather_task(window=config.window, data=table, scaler=scaler)


def evaluate(model, task: WeatherTask) -> dict:
    """Validation and test MSE in the target's units squared, of the model and of persistence."""
    return {
        "validation_mse": mse(outputs(model, task.valid.inputs), task.valid.targets),
        "test_mse": mse(outputs(model, task.test.inputs), task.test.targets),
        "persistence_validation_mse": mse(task.valid.persistence, task.valid.targets),
        "persistence_test_mse": mse(task.test.persistence, task.test.targets),
    }


def metadata(config: WeatherConfig, task: WeatherTask) -> dict:
    """What a checkpoint needs to rebuild the model and to scale new data as in training."""
    return task_metadata(
        NAME,
        config,
        input_size=task.train.inputs.shape[-1],
        scaler=task.scaler.to_dict(),
        feature_names=list(task.feature_names),
    )


def from_metadata(values: dict, **data_options):
    """(config, untrained model, scaler) rebuilt from `metadata`'s output; `data_options` (csv,
    date_column, feature_columns, target_column, fill_missing) replace the saved ones."""
    config = dataclasses.replace(config_from_metadata(WeatherConfig, values), **data_options)
    size = input_size_from_metadata(values)
    scaler = scaler_from_dict(values.get("scaler"))
    if not isinstance(scaler, StandardScaler) or scaler.num_features != size:
        raise DataError(f"checkpoint metadata: the weather task needs a StandardScaler of {size} columns")
    return config, make_model(config, size), scaler


def make_model(config: WeatherConfig, input_size: int | None = None, rng=None):
    """RNN input -> hidden -> 1 at every step."""
    rng = as_generator(rng if rng is not None else config.seed)
    size = input_size or len(config.feature_columns)
    return build_model(size, config.hidden, 1, cell=config.cell, init_scheme=config.init, rng=rng, many_to_many=True)


def run(config: WeatherConfig | None = None, progress: bool = False) -> TaskResult:
    """Train; metrics: train/validation/test MSE in degrees^2 and persistence's."""
    config = config or WeatherConfig()
    start = time.perf_counter()
    task = data(config)
    rng = as_generator(config.seed)
    model = make_model(config, task.train.inputs.shape[-1], rng)
    if model.head.bias is not None:
        model.head.bias.data[...] = task.train.targets.mean()
    trainer = Trainer(
        model,
        F.mse_loss,
        Adam(model.parameters(), lr=config.lr),
        batch_size=config.batch_size,
        rng=rng,
        progress=progress,
    )
    history = trainer.fit(
        task.train.inputs,
        task.train.targets,
        epochs=config.epochs,
        validation=(task.valid.inputs, task.valid.targets),
        early_stopping=EarlyStopping(patience=config.patience),
    )
    metrics = {
        "train_mse": trainer.evaluate(task.train.inputs, task.train.targets),
        **evaluate(model, task),
        "epochs": history.epochs,
    }
    return TaskResult(metrics, history, model, time.perf_counter() - start, metadata(config, task))


Config = WeatherConfig
