"""The library's own error classes.

Each is also a standard Python error (ValueError, KeyError, FloatingPointError), so code that
catches those keeps working, while the command line can catch exactly these, report them in
one line, and let any other exception (a bug) show its traceback.
"""

from __future__ import annotations


class TinygradRNNError(Exception):
    """Base of every error the library raises on purpose about its input."""


class DataError(TinygradRNNError, ValueError):
    """A data file or data set that cannot be used: the message names the file, line and column."""


class MissingValueError(DataError):
    """An empty (or NaN-marked) value in a CSV column that the reader was not asked to fill."""


class UnknownWordError(TinygradRNNError, KeyError):
    """A word that is not in the vocabulary."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class NonFiniteLossError(TinygradRNNError, FloatingPointError):
    """Training produced a NaN or infinite loss; the message names the epoch and the batch."""
