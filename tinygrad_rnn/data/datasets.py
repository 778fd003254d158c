"""Loaders and the source documents' tasks, as small dataclasses of NumPy arrays.

Every task splits rows in time order first, fits its scaler on the training rows only, and
cuts windows inside each split, so no window mixes rows of two splits. Each set of windows
carries `persistence`, the prediction "the next value equals the latest known one", to report
beside any model's score.
"""

from __future__ import annotations

import csv
import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, MissingValueError
from .scalers import MinMaxScaler, StandardScaler
from .splits import chronological_split
from .windows import _check_count, lagged_features, sliding_windows


@dataclass(frozen=True, eq=False)
class SeattleWeather:
    """Seattle daily weather, 2012-01-01 .. 2015-12-31 (1461 days).

    `dates` is datetime64[D]; the other fields are float64 arrays of the same length:
    daily precipitation, temp_max and temp_min (degrees C), and wind speed. The file's
    sixth column, a weather label such as "rain", is not read.
    """

    dates: np.ndarray
    precipitation: np.ndarray
    temp_max: np.ndarray
    temp_min: np.ndarray
    wind: np.ndarray


@dataclass(frozen=True, eq=False)
class DailySeries:
    """A dated table: features (N, F) named by `feature_names`, and a target column (N,)."""

    dates: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...]
    target: np.ndarray
    target_name: str


@dataclass(frozen=True, eq=False)
class Windows:
    """Model inputs, targets, and the persistence prediction, which has the targets' shape."""

    inputs: np.ndarray
    targets: np.ndarray
    persistence: np.ndarray


@dataclass(frozen=True, eq=False)
class TemperatureTask:
    """Document 000's setup: scaled windows of one series, and the scaler fitted on train."""

    train: Windows
    test: Windows
    scaler: MinMaxScaler


@dataclass(frozen=True, eq=False)
class WeatherTask:
    """Document 001's setup: scaled feature windows, targets in their own units, the scaler."""

    train: Windows
    valid: Windows
    test: Windows
    scaler: StandardScaler
    feature_names: tuple[str, ...]
    target_name: str


@dataclass(frozen=True, eq=False)
class SineTask:
    """Document 004's setup: the sampled curve (x, y) and its train and validation windows."""

    x: np.ndarray
    y: np.ndarray
    train: Windows
    validation: Windows
    validation_offset: int


TEMPERATURE_TRAIN_FRACTION = 0.67  # document 000's split: 67 % train, the rest test
WEATHER_FRACTIONS = (0.7, 0.15)  # document 001's split: 70 % train, 15 % valid, the rest test
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null"})
FILL_MISSING = ("error", "previous")


def _parse_date(text: str, line: int, column: str, path) -> np.datetime64:
    try:
        return np.datetime64(text.strip().replace("/", "-"))
    except ValueError:
        raise DataError(
            f"{path}: line {line}, column {column!r}: cannot read {text!r} as a date "
            "(expected YYYY-MM-DD or YYYY/MM/DD)"
        ) from None


def _parse_number(text: str, line: int, column: str, path) -> float:
    try:
        number = float(text)
    except ValueError:
        raise DataError(f"{path}: line {line}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(number):
        raise DataError(f"{path}: line {line}, column {column!r}: {text!r} is not a finite number")
    return number


def _missing_value(path, line: int, column: str, text: str, previous_line: int | None, fill_missing: str) -> None:
    """Raise MissingValueError for a gap that cannot (or may not) be filled."""
    shown = "empty" if not text.strip() else f"{text.strip()!r}, a missing-value marker"
    if fill_missing == "error":
        raise MissingValueError(
            f"{path}: line {line}, column {column!r}: the value is missing ({shown}); "
            "fill_missing='previous' would fill it with the value above it"
        )
    if previous_line is None:
        raise MissingValueError(
            f"{path}: line {line}, column {column!r}: the value is missing ({shown}) and no "
            "earlier row has a value to carry forward"
        )


def _rows(path, reader, date_column: str, value_columns: Sequence[str], fill_missing: str):
    """(dates, line numbers, {name: values}) of the CSV rows `reader` yields, each value checked."""
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path} is empty: expected a header row naming the columns")
    header = [name.strip() for name in header]
    positions = {}
    for name in [date_column, *value_columns]:
        if name not in header:
            raise DataError(f"{path} has no column {name!r}; available columns: {', '.join(header)}")
        if header.count(name) > 1:
            raise DataError(f"{path}: the header names column {name!r} more than once, so which one to read is unclear")
        positions[name] = header.index(name)
    dates: list[np.datetime64] = []
    lines: list[int] = []
    values: dict[str, list[float]] = {name: [] for name in value_columns}
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields but the header has {len(header)}")
        dates.append(_parse_date(row[positions[date_column]], line, date_column, path))
        for name in value_columns:
            text = row[positions[name]]
            if text.strip().lower() in MISSING_MARKERS:
                _missing_value(path, line, name, text, lines[-1] if lines else None, fill_missing)
                values[name].append(values[name][-1])
            else:
                values[name].append(_parse_number(text, line, name, path))
        lines.append(line)
    return dates, lines, values


def _read_columns(path, date_column: str, value_columns: Sequence[str], fill_missing: str = "error"):
    """Read a CSV file into (dates, {name: float64 column}), checking every value.

    Lines are numbered as in the file (the header is line 1); blank lines are skipped; dates
    must increase strictly from row to row. A UTF-8 byte-order mark and CRLF line endings are
    accepted. A missing value (an empty field, or NA, N/A, NaN, null in any case) is an error
    naming its line and column, unless `fill_missing` is "previous": then it takes the last
    value above it in its column (a forward fill, as pandas' `ffill`).
    """
    if fill_missing not in FILL_MISSING:
        raise ValueError(f"fill_missing must be one of {FILL_MISSING}, got {fill_missing!r}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            dates, lines, values = _rows(path, csv.reader(handle), date_column, value_columns, fill_missing)
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: is not UTF-8 text (byte {error.start} of a line cannot be decoded)") from None
    except csv.Error as error:
        raise DataError(f"{path}: is not a readable CSV file ({error})") from None
    date_array = np.array(dates) if dates else np.array([], dtype="datetime64[D]")
    steps = np.diff(date_array)
    if np.any(steps <= np.timedelta64(0)):
        bad = int(np.argmax(steps <= np.timedelta64(0))) + 1
        raise DataError(
            f"{path}: line {lines[bad]}, column {date_column!r}: date {date_array[bad]} does not "
            f"come after {date_array[bad - 1]}; rows must be in increasing date order"
        )
    return date_array, {name: np.array(column, dtype=np.float64) for name, column in values.items()}


def _bundled_seattle_csv() -> Path:
    spec = importlib.util.find_spec("vega_datasets")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "seattle_weather() reads the CSV bundled with the vega_datasets package; "
            "install it with `pip install vega_datasets`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "_data" / "seattle-weather.csv"


def seattle_weather() -> SeattleWeather:
    """Seattle daily weather 2012-2015 from the CSV inside the vega_datasets package, offline."""
    dates, columns = _read_columns(_bundled_seattle_csv(), "date", ("precipitation", "temp_max", "temp_min", "wind"))
    return SeattleWeather(dates=dates, **columns)


def load_csv(
    path,
    date_column: str,
    feature_columns: Sequence[str],
    target_column: str,
    min_rows: int = 2,
    fill_missing: str = "error",
) -> DailySeries:
    """Read a user's CSV file (header row, one row per time step, rows in date order).

    Raises DataError (a ValueError) naming the column and listing the available ones when a
    column is missing, naming the line and column for a non-numeric or infinite value or an
    unreadable or out-of-order date, and when there are fewer than `min_rows` data rows. A
    missing value raises MissingValueError (a DataError) naming its line and column, unless
    `fill_missing="previous"` fills it forward from the row above.
    """
    if isinstance(feature_columns, str):
        raise TypeError(f"feature_columns must be a list of column names, got the string {feature_columns!r}")
    feature_names = tuple(feature_columns)
    if not feature_names:
        raise ValueError("feature_columns must name at least one column")
    wanted = list(dict.fromkeys([*feature_names, target_column]))
    dates, columns = _read_columns(path, date_column, wanted, fill_missing)
    if len(dates) < min_rows:
        raise DataError(f"{path} has {len(dates)} data rows; at least {min_rows} are needed")
    return DailySeries(
        dates=dates,
        features=np.column_stack([columns[name] for name in feature_names]),
        feature_names=feature_names,
        target=columns[target_column],
        target_name=target_column,
    )


def _check_finite(values: np.ndarray, name: str) -> None:
    """Raise DataError naming the first row of `values` holding a NaN or an infinity."""
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad.reshape(len(values), -1).any(axis=1)))
        raise DataError(f"{name} holds {values[row]} at row {row}; every value must be a finite number")


def _lag_sequence_windows(scaled: np.ndarray, look_back: int, seq_len: int, split: str) -> Windows:
    rows_needed = look_back + seq_len
    if len(scaled) < rows_needed:
        raise DataError(
            f"the {split} split has {len(scaled)} rows; look_back {look_back} and seq_len "
            f"{seq_len} need at least {rows_needed}"
        )
    inputs, targets = sliding_windows(
        lagged_features(scaled, look_back), seq_len, horizon=1, target_columns=look_back - 1
    )
    return Windows(inputs=inputs, targets=targets, persistence=inputs[:, -1, -1:].copy())


def temperature_task(
    look_back: int = 1,
    seq_len: int = 1,
    train_fraction: float = TEMPERATURE_TRAIN_FRACTION,
    series=None,
    scaler: MinMaxScaler | None = None,
) -> TemperatureTask:
    """Document 000's setup on Seattle's daily temp_min (or on the 1-D `series` given).

    Rows split in time order, `train_fraction` for training and the rest for testing; a
    MinMaxScaler fitted on the training rows scales both. Each time step carries the last
    `look_back` values and a window holds `seq_len` steps: inputs[i, t] = s_{i+t} ..
    s_{i+t+look_back-1}, shape (n, seq_len, look_back), and the target is the next value,
    s_{i+seq_len+look_back-1}, shape (n, 1). The defaults give document 000's windows
    (sequence length 1, look_back features), with one more window per split than its
    `create_dataset` (see `lookback_pairs_dropping_last`); seq_len > 1 with look_back = 1 gives
    real sequences. Document 000 fits its scaler on all rows; here it sees the training rows only.
    A fitted `scaler` given (for example a checkpoint's) is used as it is instead.
    """
    if series is None:
        values = seattle_weather().temp_min
    else:
        values = np.asarray(series, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"series must be 1-D, got shape {values.shape}")
        _check_finite(values, "series")
    train_rows, test_rows = chronological_split(values, (train_fraction,))
    if scaler is None:
        scaler = MinMaxScaler().fit(train_rows)
    elif scaler.num_features != 1:
        raise DataError(f"the scaler was fitted on {scaler.num_features} columns; a series is one")
    return TemperatureTask(
        train=_lag_sequence_windows(scaler.transform(train_rows), look_back, seq_len, "train"),
        test=_lag_sequence_windows(scaler.transform(test_rows), look_back, seq_len, "test"),
        scaler=scaler,
    )


def _seattle_daily_series() -> DailySeries:
    weather = seattle_weather()
    names = ("temp_max", "temp_min", "precipitation")
    return DailySeries(
        dates=weather.dates,
        features=np.column_stack([getattr(weather, name) for name in names]),
        feature_names=names,
        target=weather.temp_max,
        target_name="temp_max",
    )


def weather_task(
    window: int = 7,
    fractions: Sequence[float] = WEATHER_FRACTIONS,
    data: DailySeries | None = None,
    scaler: StandardScaler | None = None,
) -> WeatherTask:
    """Document 001's setup: predict tomorrow's target from today's features, at every step.

    Default data: Seattle, features (temp_max, temp_min, precipitation), target temp_max.
    Day d pairs features x_d with the target value of day d+1, giving N-1 pairs; the pairs split
    in time order by `fractions` (70/15/15) into train, valid and test. A StandardScaler fitted
    on the training features scales all features. Windows are many-to-many, stride 1:
    inputs (n, window, F), scaled; targets (n, window, 1) with targets[i, t] = target_{i+t+1}
    kept in the target's own units (degrees C for Seattle), as document 001 does, so losses and
    errors read in those units. persistence[i, t] = target_{i+t}, today's value as the
    prediction of tomorrow's, same shape and units. Document 001 fits its scaler on all rows and
    its loop leaves out each split's last window; neither is copied here. A fitted `scaler`
    given (for example a checkpoint's) is used as it is instead.
    """
    fractions = tuple(fractions)
    if len(fractions) != 2:
        raise ValueError(f"weather_task needs two fractions (train, valid), the rest being test; got {fractions}")
    series = _seattle_daily_series() if data is None else data
    _check_finite(series.features, "data.features")
    _check_finite(series.target, "data.target")
    today_features = chronological_split(series.features[:-1], fractions)
    tomorrow_targets = chronological_split(series.target[1:], fractions)
    today_targets = chronological_split(series.target[:-1], fractions)
    if scaler is None:
        scaler = StandardScaler().fit(today_features[0])
    elif scaler.num_features != len(series.feature_names):
        raise DataError(
            f"the scaler was fitted on {scaler.num_features} feature columns; the data has "
            f"{len(series.feature_names)} ({', '.join(series.feature_names)})"
        )
    splits = []
    for name, features, tomorrow, today in zip(
        ("train", "valid", "test"), today_features, tomorrow_targets, today_targets
    ):
        if len(features) < window:
            raise DataError(f"the {name} split has {len(features)} days, fewer than the window of {window}")
        inputs, targets = sliding_windows(features, window, horizon=0, many_to_many=True, targets=tomorrow)
        _, persistence = sliding_windows(today, window, horizon=0, many_to_many=True)
        splits.append(Windows(inputs=scaler.transform(inputs), targets=targets, persistence=persistence))
    train, valid, test = splits
    return WeatherTask(
        train=train,
        valid=valid,
        test=test,
        scaler=scaler,
        feature_names=series.feature_names,
        target_name=series.target_name,
    )


def _next_value_windows(values: np.ndarray, window: int) -> Windows:
    inputs, targets = sliding_windows(values, window, horizon=1)
    return Windows(inputs=inputs, targets=targets, persistence=inputs[:, -1, :].copy())


def sine_task(num_points: int = 1000, window: int = 4) -> SineTask:
    """Document 004's setup: y = sin(x / 20) at x_i = i (10 pi) / num_points, i = 0 .. num_points-1.

    Both sets are many-to-one windows of `window` consecutive values y_s .. y_{s+window-1}
    with target y_{s+window}, shapes (n, window, 1) and (n, 1), as the document builds them:
    it allocates num_points // 4 rows and fills rows for window ends at indices
    window-1 .. num_points//4 - 1, so training windows start at s = 0 .. num_points//4 - window,
    and validation windows are the same construction shifted by offset = 3 * (num_points // 8),
    starting at s = offset .. offset + num_points//4 - window. For 1000 points: 247 windows each,
    offset 375, training targets y_4 .. y_250, validation targets y_379 .. y_625. The document's
    arrays keep window - 1 trailing all-zero rows (inputs 0, target 0) that it never fills; they
    are left out here. A network without biases predicts 0 for them, so they add nothing to its
    summed loss but enlarge its divisor (the document's loss is sum / (2 * 250), not / (2 * 247)).
    Note that x / 20 spans [0, pi / 2): the curve is a quarter period, rising from 0 towards 1.
    """
    num_points = _check_count(num_points, "num_points", 1)
    window = _check_count(window, "window", 1)
    rows = num_points // 4
    if rows < window:
        raise ValueError(
            f"num_points {num_points} gives {rows} rows (num_points // 4), fewer than the window of {window}"
        )
    x = np.arange(num_points) * (10 * math.pi) / num_points
    y = np.array([math.sin(point / 20) for point in x])
    offset = 3 * (num_points // 8)
    return SineTask(
        x=x,
        y=y,
        train=_next_value_windows(y[: rows + 1], window),
        validation=_next_value_windows(y[offset : offset + rows + 1], window),
        validation_offset=offset,
    )
