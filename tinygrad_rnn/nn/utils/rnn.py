"""Batches of sequences of different lengths: pad_sequence, as torch.nn.utils.rnn."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor, concatenate, stack


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
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
        raise ValueError(f"pad_sequence: sequences must have shapes (L_i, *) with the same trailing "
                         f"dimensions, got {shapes}")
    longest = max(len(t) for t in tensors)
    padded = []
    for t in tensors:
        missing = longest - len(t)
        if missing:
            fill = Tensor(np.full((missing, *t.shape[1:]), padding_value, dtype=t.dtype), dtype=t.dtype)
            t = concatenate([t, fill] if padding_side == "right" else [fill, t], axis=0)
        padded.append(t)
    return stack(padded, axis=0 if batch_first else 1)
