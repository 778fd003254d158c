"""Per-feature scaling of tables, fitted on the training split only.

No-leakage rule: call `fit` on the training rows alone, then `transform` the training,
validation and test rows with those same statistics. Fitting on all rows lets the minimum,
maximum, mean or spread of the future leak into the inputs the model trains on, and makes
validation scores look better than they will be on new data. Values outside the training
range are therefore expected after transform (below 0 or above 1 for MinMaxScaler).

Data is a 1-D array (one feature column) or a table whose last axis holds the features:
`fit` takes (N,) or (N, F). After a fit on F > 1 columns, `transform` and
`inverse_transform` take any (..., F) array, such as windows of shape (num_windows, length, F).
After a one-column fit they apply elementwise to an array of any shape (for example lag
features, whose every entry is a value of the same series).
A constant column (all training values equal) has no spread; it is shifted by its value and
divided by 1 instead, so it maps to exactly 0.

Any finite data scales, up to the float64 limit: the statistics are computed on each column
multiplied by a power of two that brings its largest magnitude into [0.5, 1) (exact, so the
results are those of the plain formulas whenever those do not overflow or underflow), and a
column whose magnitude reaches LARGE keeps its offset and scale in units of that power of two
(`exponent_`), so that x - offset cannot overflow either.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError

if TYPE_CHECKING:
    from typing import Self  # Python 3.11; annotations here are never evaluated

LARGE = 2.0**1020  # a column reaching this magnitude is scaled in units of a power of two
MAX_EXPONENT = 1100  # |exponent_| beyond this is no float64's


class _ColumnScaler:
    """Affine map per column, x' = (x 2^-e - offset) / scale, with offset, scale and the integer e
    (`exponent_`, 0 unless the column's magnitude reaches LARGE) set by `fit`."""

    STATISTICS: tuple[str, ...] = ()  # the attributes `fit` sets besides offset_, scale_, exponent_

    def __init__(self):
        self.offset_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.exponent_: np.ndarray | None = None

    def _statistics(
        self, table: np.ndarray, exponent: np.ndarray, low: np.ndarray, high: np.ndarray, magnitude: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(offset, spread) of `table`'s columns in units of 2^exponent, given each column's
        minimum, maximum and largest |x|; sets STATISTICS in the data's own units."""
        raise NotImplementedError

    @property
    def num_features(self) -> int:
        """Number of feature columns seen by `fit`."""
        return len(self._fitted_offset())

    def fit(self, data) -> Self:
        """Compute the per-column statistics of `data` (the training split only); returns self."""
        table = np.asarray(data, dtype=np.float64)
        if table.ndim == 1:
            table = table[:, None]
        if table.ndim != 2:
            raise ValueError(f"{type(self).__name__}.fit takes (N,) or (N, F) data, got shape {table.shape}")
        if len(table) == 0:
            raise ValueError(f"{type(self).__name__}.fit needs at least one row, got none")
        if not np.all(np.isfinite(table)):
            raise ValueError(f"{type(self).__name__}.fit got NaN or infinite values")
        low, high = table.min(axis=0), table.max(axis=0)
        magnitude = np.maximum(-low, high)  # the largest |x| of each column
        normalising = np.frexp(magnitude)[1]  # magnitude * 2^-normalising lies in [0.5, 1)
        offset, spread = self._statistics(table, normalising, low, high, magnitude)
        self.exponent_ = np.where(magnitude < LARGE, 0, normalising)
        shift = normalising - self.exponent_
        constant = low == high
        self.offset_ = np.where(constant, np.ldexp(table[0], -self.exponent_), np.ldexp(offset, shift))
        self.scale_ = np.where(constant, 1.0, np.ldexp(spread, shift))
        return self

    def _fitted_offset(self) -> np.ndarray:
        if self.offset_ is None:
            raise RuntimeError(
                f"{type(self).__name__} is not fitted yet: call fit(training_data) before "
                "transform or inverse_transform"
            )
        return self.offset_

    def _checked(self, data) -> np.ndarray:
        """Return `data` as float64 after checking its last axis matches a multi-column fit."""
        num_features = len(self._fitted_offset())
        values = np.asarray(data, dtype=np.float64)
        if values.ndim == 0:
            raise ValueError(f"{type(self).__name__} needs an array, got a scalar")
        if values.ndim == 1 and num_features != 1:
            raise ValueError(
                f"{type(self).__name__} was fitted on {num_features} feature columns; a 1-D array "
                "is a single column, so pass data whose last axis has "
                f"{num_features} entries"
            )
        if num_features > 1 and values.ndim > 1 and values.shape[-1] != num_features:
            raise ValueError(
                f"{type(self).__name__} was fitted on {num_features} feature columns, got data "
                f"of shape {values.shape} whose last axis has {values.shape[-1]}"
            )
        return values

    def transform(self, data) -> np.ndarray:
        """Scale with the fitted statistics: (x 2^-e - offset) / scale, column by column."""
        values = self._checked(data)
        return (np.ldexp(values, -np.asarray(self.exponent_)) - self.offset_) / self.scale_

    def fit_transform(self, data) -> np.ndarray:
        """fit(data) then transform(data); use on the training split only."""
        return self.fit(data).transform(data)

    def inverse_transform(self, data) -> np.ndarray:
        """Undo transform: x = (x' scale + offset) 2^e, column by column."""
        values = self._checked(data)
        return np.ldexp(values * self.scale_ + self.offset_, np.asarray(self.exponent_))

    def to_dict(self) -> dict:
        """The fitted statistics as lists of floats (ready for JSON); `scaler_from_dict` inverts it."""
        self._fitted_offset()
        names = ("offset_", "scale_", "exponent_", *self.STATISTICS)
        return {"type": type(self).__name__, **{name: getattr(self, name).tolist() for name in names}}


class MinMaxScaler(_ColumnScaler):
    """x' = (x - min) / (max - min) per column, mapping the training range onto [0, 1].

    Attributes after fit: `min_`, `max_` (shape (F,)). Unlike document 000, which adds 1e-7 to
    every denominator, only a constant column gets a changed denominator (1).
    """

    STATISTICS = ("min_", "max_")

    def _statistics(self, table, exponent, low, high, magnitude):
        self.min_, self.max_ = low, high
        low, high = np.ldexp(low, -exponent), np.ldexp(high, -exponent)
        return low, high - low


class StandardScaler(_ColumnScaler):
    """z = (x - mean) / std per column, std the population standard deviation (ddof = 0).

    Attributes after fit: `mean_`, `std_` (shape (F,)); a constant column is divided by 1.
    """

    STATISTICS = ("mean_", "std_")

    def _statistics(self, table, exponent, low, high, magnitude):
        normalised = np.ldexp(table, -exponent)
        mean, std = normalised.mean(axis=0), normalised.std(axis=0)
        # a mean lies within the column's range and a spread within its magnitude, also when rounded
        self.mean_ = np.clip(np.ldexp(mean, exponent), low, high)
        self.std_ = np.minimum(np.ldexp(std, exponent), magnitude)
        return mean, std


SCALERS = {"MinMaxScaler": MinMaxScaler, "StandardScaler": StandardScaler}


def scaler_from_dict(values: object) -> _ColumnScaler:
    """A fitted scaler rebuilt from `to_dict()`'s output, after checking every entry.

    Raises DataError naming the entry that is missing, of another length, not finite, or (for
    scale_) zero.
    """
    if not isinstance(values, dict) or values.get("type") not in SCALERS:
        kind = values.get("type") if isinstance(values, dict) else type(values).__name__
        raise DataError(f"scaler: unknown type {kind!r}; expected one of {', '.join(SCALERS)}")
    scaler = SCALERS[values["type"]]()
    length = None
    for name in ("offset_", "scale_", *scaler.STATISTICS):
        entry = values.get(name)
        if (
            not isinstance(entry, list)
            or not entry
            or not all(isinstance(number, (int, float)) and math.isfinite(number) for number in entry)
        ):
            raise DataError(f"scaler: {name} must be a non-empty list of finite numbers, got {entry!r}")
        if length is not None and len(entry) != length:
            raise DataError(f"scaler: {name} has {len(entry)} entries, offset_ has {length}")
        length = len(entry)
        setattr(scaler, name, np.array(entry, dtype=np.float64))
    if np.any(scaler.scale_ == 0):
        raise DataError("scaler: scale_ holds a zero, which would divide by zero")
    exponent = values.get("exponent_", [0] * length)  # absent from files written before it existed
    if (
        not isinstance(exponent, list)
        or len(exponent) != length
        or not all(isinstance(number, int) and not isinstance(number, bool) for number in exponent)
        or not all(abs(number) <= MAX_EXPONENT for number in exponent)
    ):
        raise DataError(
            f"scaler: exponent_ must be a list of {length} integers within +-{MAX_EXPONENT}, got {exponent!r}"
        )
    scaler.exponent_ = np.array(exponent, dtype=np.int64)
    return scaler
