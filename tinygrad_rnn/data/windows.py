"""Cutting a time series into fixed-length windows for a recurrent network.

A series is a 1-D array of N values (one feature) or an (N, F) table (F features per
time step). Window `i` covers rows i .. i+length-1; its targets come `horizon` rows later.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _as_table(values, name: str) -> np.ndarray:
    """Return `values` as a float64 (N, F) table; a 1-D array becomes one column."""
    table = np.asarray(values, dtype=np.float64)
    if table.ndim == 1:
        return table[:, None]
    if table.ndim == 2:
        return table
    raise ValueError(f"{name} must be 1-D (N,) or 2-D (N, F), got shape {table.shape}")


def _check_count(value, name: str, minimum: int) -> int:
    """Return `value` as an int after checking it is an integer >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _column_indices(target_columns, num_columns: int) -> list[int]:
    """Normalise an int or a sequence of ints into a list of valid column indices."""
    if target_columns is None:
        return list(range(num_columns))
    if isinstance(target_columns, (int, np.integer)):
        chosen = [target_columns]
    else:
        chosen = list(target_columns)
    if not chosen:
        raise ValueError("target_columns must name at least one column")
    for column in chosen:
        if not -num_columns <= column < num_columns:
            raise IndexError(f"target column {column} is out of range for a table with {num_columns} columns")
    return [int(column) for column in chosen]


def sliding_windows(
    series,
    length: int,
    horizon: int = 1,
    many_to_many: bool = False,
    target_columns: int | Sequence[int] | None = None,
    targets=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut `series` into every window of `length` consecutive rows, stride 1.

    With rows x_0 .. x_{N-1} and target rows y_0 .. y_{N-1}, window i (i = 0 .. N-length-horizon)
    has inputs x_i .. x_{i+length-1}, shape (length, F), and targets:

    - many-to-one: y_{i+length-1+horizon}, the value `horizon` steps after the window's last row;
      all targets have shape (num_windows, T).
    - many-to-many: y_{i+t+horizon} at every step t = 0 .. length-1;
      shape (num_windows, length, T).

    The target rows y are `series[:, target_columns]` (all columns when None), or the separate
    array `targets` aligned row by row with `series` (for example unscaled values), in which case
    `target_columns` must be None. horizon=0 reads each target from the same row as its input,
    for target rows that already hold a future value. Returns (inputs, targets) as float64
    copies; inputs have shape (num_windows, length, F) with num_windows = N - length - horizon + 1.
    """
    table = _as_table(series, "series")
    length = _check_count(length, "length", 1)
    horizon = _check_count(horizon, "horizon", 0)
    if targets is None:
        target_table = table[:, _column_indices(target_columns, table.shape[1])]
    else:
        if target_columns is not None:
            raise ValueError("give either target_columns or a separate targets array, not both")
        target_table = _as_table(targets, "targets")
        if len(target_table) != len(table):
            raise ValueError(
                f"targets has {len(target_table)} rows but series has {len(table)}; they must be aligned row by row"
            )
    rows_needed = length + horizon
    if len(table) < rows_needed:
        raise ValueError(
            f"too few rows for a window: got {len(table)} rows, need at least {rows_needed} "
            f"(length {length} + horizon {horizon})"
        )
    num_windows = len(table) - rows_needed + 1
    step_rows = np.arange(num_windows)[:, None] + np.arange(length)[None, :]
    inputs = table[step_rows]
    if many_to_many:
        window_targets = target_table[step_rows + horizon]
    else:
        window_targets = target_table[step_rows[:, -1] + horizon]
    return inputs, window_targets


def lagged_features(series, look_back: int) -> np.ndarray:
    """Lag table of a 1-D series s: row j is s_j .. s_{j+look_back-1}.

    Returns shape (N - look_back + 1, look_back).
    """
    values = np.asarray(series, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"series must be 1-D, got shape {values.shape}")
    look_back = _check_count(look_back, "look_back", 1)
    if len(values) < look_back:
        raise ValueError(f"too few rows for look_back {look_back}: got {len(values)} rows, need at least {look_back}")
    starts = np.arange(len(values) - look_back + 1)
    return values[starts[:, None] + np.arange(look_back)[None, :]]


def lookback_pairs_dropping_last(dataset, look_back: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Document 000's `create_dataset`, reproduced exactly, off-by-one included.

    Reads column 0 of `dataset` (a 1-D series is its own column 0), s_0 .. s_{N-1}, and for
    i = 0 .. N-look_back-2 pairs the features s_i .. s_{i+look_back-1} with the target
    s_{i+look_back}. Its loop runs to N-look_back-1 rather than N-look_back, so the last
    available pair is dropped. Returns X of shape (N-look_back-1, look_back) and y of shape
    (N-look_back-1,). Document 000 then reshapes X to (n, 1, look_back): sequences of length 1
    whose single step carries all look_back values.
    """
    column = _as_table(dataset, "dataset")[:, 0]
    look_back = _check_count(look_back, "look_back", 1)
    rows_needed = look_back + 2
    if len(column) < rows_needed:
        raise ValueError(
            f"too few rows for look_back {look_back}: got {len(column)} rows, need at least "
            f"{rows_needed} (look_back + 2, since the last available pair is dropped)"
        )
    features = lagged_features(column, look_back)
    num_pairs = len(column) - look_back - 1
    return features[:num_pairs], column[look_back : look_back + num_pairs].copy()
