"""Batches of sequences of different lengths, as torch.nn.utils.rnn: pad_sequence, and packing.

A padded batch (T, B, *) holds sequence b in rows 0 .. lengths[b] - 1 and padding after.
Packing keeps only the real rows, time-major: at step t the batch_sizes[t] sequences
longer than t, longest first. That is PyTorch's PackedSequence, and a recurrent layer given
one runs each sequence over its own length only, so its last state is the state after the
sequence's own last element (and, run in reverse, its first state starts there).

Packing and padding are gathers of rows (GetItem ops), so gradients flow back through both
to the padded input.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...tensors import Tensor, concatenate, stack


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
) -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (L_max, B, *) tensor, or (B, L_max, *) with
    batch_first, filling each one's missing steps with padding_value (after its steps, or
    before them with padding_side="left"). Gradients flow back to every sequence's steps;
    the padding is constant."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    tensors = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
    if not tensors:
        raise ValueError("pad_sequence: got no sequences")
    rest = {t.shape[1:] for t in tensors if t.ndim}
    if any(t.ndim == 0 for t in tensors) or len(rest) > 1:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(
            f"pad_sequence: sequences must have shapes (L_i, *) with the same trailing dimensions, got {shapes}"
        )
    longest = max(len(t) for t in tensors)
    padded = []
    for t in tensors:
        missing = longest - len(t)
        if missing:
            fill = Tensor(np.full((missing, *t.shape[1:]), padding_value, dtype=t.dtype), dtype=t.dtype)
            t = concatenate([t, fill] if padding_side == "right" else [fill, t], axis=0)
        padded.append(t)
    return stack(padded, axis=0 if batch_first else 1)


class PackedSequence(NamedTuple):
    """PyTorch's packed batch: `data` (sum of lengths, *) time-major, `batch_sizes[t]` the
    number of sequences longer than t, `sorted_indices` the batch order by decreasing
    length (None when the batch came sorted) and `unsorted_indices` its inverse."""

    data: Tensor
    batch_sizes: np.ndarray
    sorted_indices: np.ndarray | None = None
    unsorted_indices: np.ndarray | None = None

    def lengths(self) -> np.ndarray:
        """Each sequence's length, in the batch's original order."""
        sorted_lengths = (self.batch_sizes[None, :] > np.arange(self.batch_sizes[0])[:, None]).sum(axis=1)
        if self.unsorted_indices is None:
            return sorted_lengths
        return sorted_lengths[self.unsorted_indices]


def _checked_lengths(lengths, batch: int, steps: int, enforce_sorted: bool) -> np.ndarray:
    array = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if array.ndim != 1 or array.shape[0] != batch:
        raise ValueError(f"pack_padded_sequence: lengths must be one per sequence ({batch}), got shape {array.shape}")
    if array.dtype.kind not in "iu" and not (array.dtype.kind == "f" and np.all(array == np.round(array))):
        raise TypeError(f"pack_padded_sequence: lengths must be integers, got {array.tolist()}")
    array = array.astype(np.int64)
    if array.size == 0:
        raise ValueError("pack_padded_sequence: the batch holds no sequence")
    if array.min() < 1 or array.max() > steps:
        raise ValueError(
            f"pack_padded_sequence: every length must be between 1 and the padded length {steps}, got {array.tolist()}"
        )
    if enforce_sorted and np.any(np.diff(array) > 0):
        raise ValueError(
            f"pack_padded_sequence: lengths {array.tolist()} are not in decreasing order; sort the "
            "batch or pass enforce_sorted=False"
        )
    return array


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """The real rows of a padded batch, packed: input (T, B, *) or (B, T, *) with batch_first,
    lengths[b] the length of sequence b (1 <= lengths[b] <= T). With enforce_sorted the
    lengths must already decrease; otherwise the batch is sorted here and the order kept."""
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must be (T, B, *) or (B, T, *), got shape {input.shape}")
    steps, batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    lengths = _checked_lengths(lengths, batch, steps, enforce_sorted)
    if enforce_sorted:
        order, sorted_indices, unsorted_indices = np.arange(batch), None, None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices, unsorted_indices = order, np.argsort(order)
    batch_sizes = (lengths[None, :] > np.arange(lengths.max())[:, None]).sum(axis=1).astype(np.int64)
    times = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    sequences = np.concatenate([order[:size] for size in batch_sizes])
    rows = (sequences, times) if batch_first else (times, sequences)
    return PackedSequence(input[rows], batch_sizes, sorted_indices, unsorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0, total_length: int | None = None
) -> tuple[Tensor, Tensor]:
    """The padded batch (T, B, *) (or (B, T, *)) and the lengths (int64) of a PackedSequence,
    in the batch's original order; T is the longest length, or total_length when given."""
    data, batch_sizes = sequence.data, np.asarray(sequence.batch_sizes)
    steps = len(batch_sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                f"pad_packed_sequence: total_length {total_length} is shorter than the longest sequence ({steps})"
            )
        steps = total_length
    batch = int(batch_sizes[0])
    # row[t, j]: where step t of the j-th longest sequence sits in data, or the padding row after it
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    row = np.full((steps, batch), data.shape[0], dtype=np.int64)
    for t, (start, size) in enumerate(zip(starts, batch_sizes)):
        row[t, :size] = start + np.arange(size)
    if sequence.unsorted_indices is not None:
        row = row[:, sequence.unsorted_indices]
    padding = Tensor(np.full((1,) + data.shape[1:], padding_value, dtype=data.dtype))
    padded = concatenate([data, padding], axis=0)[row.T if batch_first else row]
    return padded, Tensor(sequence.lengths(), dtype=np.int64)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Sequences of shapes (L_i, *) packed: pack_padded_sequence of their pad_sequence."""
    tensors = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
    lengths = [len(t) if t.ndim else 0 for t in tensors]
    return pack_padded_sequence(pad_sequence(tensors), lengths, enforce_sorted=enforce_sorted)
