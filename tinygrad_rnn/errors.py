"""The library's own error classes, and the wording of a mismatch of keys that several of them use.

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


def key_problems(missing: list, unexpected: list) -> list[str]:
    """The parts of a message about a mapping's keys: "missing keys: a, b" for the keys it
    lacks and "unexpected keys: c" for those it should not have (none for an empty list)."""
    return [
        f"{label}: {', '.join(map(str, keys))}"
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected))
        if keys
    ]
