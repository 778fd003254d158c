"""Helpers around the layers, as torch.nn.utils: rnn.pad_sequence and packing for batches of sequences."""

from . import rnn

__all__ = ["rnn"]
