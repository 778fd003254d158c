"""Helpers around the layers, as torch.nn.utils: rnn.pad_sequence for batches of sequences."""
from . import rnn

__all__ = ["rnn"]
