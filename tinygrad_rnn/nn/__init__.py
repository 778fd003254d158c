"""Layers, losses and initialisation, named as in PyTorch's torch.nn."""
from . import init
from .linear import Linear
from .module import Module, Parameter, Sequential
from .rnn import RNN, RNNCell

__all__ = ["Module", "Parameter", "Sequential", "Linear", "RNNCell", "RNN", "init"]
