"""Layers, losses and initialisation, named as in PyTorch's torch.nn."""

from . import functional, init, utils
from .dropout import Dropout
from .embedding import Embedding
from .gru import GRU, GRUCell
from .layernorm import LayerNorm
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .lstm import LSTM, LSTMCell
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .rnn import RNN, RNNCell

__all__ = [
    "Module",
    "Parameter",
    "Sequential",
    "Linear",
    "RNNCell",
    "RNN",
    "LSTMCell",
    "LSTM",
    "GRUCell",
    "GRU",
    "MSELoss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "functional",
    "init",
    "utils",
    "ModuleList",
    "ModuleDict",
    "Dropout",
    "Embedding",
    "LayerNorm",
]
