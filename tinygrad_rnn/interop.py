"""The way to PyTorch and back: to_torch(module) and from_torch(torch_module).

Parameter names here are PyTorch's (weight_ih_l0, bias, ...), so moving a model is building
the module of the same kind and options on the other side and copying every parameter by
name, strictly. Covered: Linear, RNN, LSTM, GRU and their cells, Embedding, LayerNorm,
Dropout, Sequential, ModuleList and ModuleDict of those, and the tasks' SequenceModel
(a recurrent layer and a Linear head; on the torch side a small torch.nn.Module with the
same forward). Parameters keep their dtype (float64 stays float64) and the training flag
carries over. A module held in two places (Sequential(lin, lin)) becomes one module held in the
same two places, its parameters shared as they were. torch is imported only when one of these
functions is called.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import nn
from .models import SequenceModel


def _torch():
    try:
        import torch
    except ImportError as error:
        raise ImportError("to_torch/from_torch need PyTorch, which is not installed: pip install torch") from error
    return torch


_TORCH_SEQUENCE_MODEL = None


def torch_sequence_model_class():
    """torch.nn.Module twin of SequenceModel: y = head(rnn(x) at the last step, or at every step)."""
    global _TORCH_SEQUENCE_MODEL
    if _TORCH_SEQUENCE_MODEL is None:
        torch = _torch()

        class TorchSequenceModel(torch.nn.Module):
            """A recurrent layer (batch_first) and a Linear read-out, as tinygrad_rnn's SequenceModel."""

            def __init__(self, rnn, head, cell: str, many_to_many: bool):
                super().__init__()
                self.rnn, self.head, self.cell, self.many_to_many = rnn, head, cell, many_to_many

            def forward(self, x):
                output, _ = self.rnn(x)
                if self.many_to_many:
                    return self.head(output)
                return self.head(output[:, -1] if output.dim() == 3 else output[-1])

        TorchSequenceModel.__qualname__ = "TorchSequenceModel"  # pickled as interop.TorchSequenceModel
        _TORCH_SEQUENCE_MODEL = TorchSequenceModel
    return _TORCH_SEQUENCE_MODEL


def __getattr__(name: str):
    """tinygrad_rnn.interop.TorchSequenceModel, made (importing torch) on first use."""
    if name == "TorchSequenceModel":
        return torch_sequence_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


RECURRENT = ("RNN", "LSTM", "GRU")
CELLS = ("RNNCell", "LSTMCell", "GRUCell")


def _numpy_dtype_of(torch_module):
    """The NumPy dtype of the torch module's parameters (float64 when it has none)."""
    first = next(iter(torch_module.parameters()), None)
    return np.float64 if first is None else first.detach().cpu().numpy().dtype


def _recurrent_options(module) -> dict:
    """The constructor options a recurrent layer shares with its counterpart."""
    options = dict(
        num_layers=module.num_layers,
        bias=module.bias,
        batch_first=module.batch_first,
        dropout=module.dropout,
        bidirectional=module.bidirectional,
    )
    if type(module).__name__ == "RNN":
        options["nonlinearity"] = module.nonlinearity
    return options


def to_torch(module):
    """A torch.nn module equivalent to `module`, holding copies of its parameters."""
    torch = _torch()
    converted = _to_torch(module, torch, {})
    converted.train(module.training)
    return converted


def _torch_dtype_of(module, torch):
    """The torch dtype of the module's parameters (float64 when it has none)."""
    first = next(module.parameters(), None)
    return torch.float32 if first is not None and first.dtype == np.float32 else torch.float64


def _to_torch(module, torch, done: dict):
    """The counterpart of `module`, made once: `done` maps id(module) to what it became, so a
    module held in two places is one module (its parameters shared) on the other side too."""
    if id(module) not in done:
        done[id(module)] = _new_torch_module(module, torch, done)
    return done[id(module)]


def _new_torch_module(module, torch, done: dict):
    kind = type(module).__name__
    dtype = _torch_dtype_of(module, torch)
    if isinstance(module, SequenceModel):
        rnn, head = _to_torch(module.rnn, torch, done), _to_torch(module.head, torch, done)
        return torch_sequence_model_class()(rnn, head, module.cell, module.many_to_many)
    if isinstance(module, nn.Sequential):
        return torch.nn.Sequential(
            OrderedDict((name, _to_torch(m, torch, done)) for name, m in module._modules.items())
        )
    if isinstance(module, nn.ModuleList):
        return torch.nn.ModuleList([_to_torch(m, torch, done) for m in module])
    if isinstance(module, nn.ModuleDict):
        return torch.nn.ModuleDict({k: _to_torch(m, torch, done) for k, m in module.items()})
    if isinstance(module, nn.Dropout):
        return torch.nn.Dropout(module.p)
    if isinstance(module, nn.Linear):
        theirs = torch.nn.Linear(module.in_features, module.out_features, bias=module.bias is not None, dtype=dtype)
    elif kind in RECURRENT and isinstance(module, getattr(nn, kind)):
        theirs = getattr(torch.nn, kind)(
            module.input_size, module.hidden_size, **_recurrent_options(module), dtype=dtype
        )
    elif kind in CELLS and isinstance(module, getattr(nn, kind)):
        options = dict(bias=module.bias_ih is not None)
        if kind == "RNNCell":
            options["nonlinearity"] = module.nonlinearity
        theirs = getattr(torch.nn, kind)(module.input_size, module.hidden_size, **options, dtype=dtype)
    elif isinstance(module, nn.Embedding):
        theirs = torch.nn.Embedding(
            module.num_embeddings, module.embedding_dim, padding_idx=module.padding_idx, dtype=dtype
        )
    elif isinstance(module, nn.LayerNorm):
        theirs = torch.nn.LayerNorm(
            module.normalized_shape,
            eps=module.eps,
            elementwise_affine=module.elementwise_affine,
            bias=module.bias is not None,
            dtype=dtype,
        )
    else:
        raise TypeError(
            f"to_torch: no torch.nn counterpart known for {kind}; supported: Linear, RNN, LSTM, "
            "GRU and their cells, Embedding, LayerNorm, Dropout, Sequential, ModuleList, ModuleDict, "
            "SequenceModel"
        )
    with torch.no_grad():
        theirs.load_state_dict({name: torch.from_numpy(value) for name, value in module.state_dict().items()})
    return theirs


def from_torch(torch_module):
    """A tinygrad_rnn module equivalent to the torch.nn module `torch_module`, holding copies
    of its parameters (in their dtype)."""
    torch = _torch()
    if not isinstance(torch_module, torch.nn.Module):
        raise TypeError(f"from_torch: expects a torch.nn.Module, got {type(torch_module).__name__}")
    converted = _from_torch(torch_module, torch, {})
    converted.train(torch_module.training)
    return converted


def _from_torch(theirs, torch, done: dict):
    """The counterpart of `theirs`, made once (`done` maps id(theirs) to it), so a torch module
    held in two places, as in Sequential(lin, lin), is one module here too."""
    if id(theirs) not in done:
        done[id(theirs)] = _new_module(theirs, torch, done)
    return done[id(theirs)]


def _new_module(theirs, torch, done: dict):
    kind = type(theirs).__name__
    dtype = _numpy_dtype_of(theirs)
    unused = np.random.default_rng(0)  # the values are overwritten: keep the library's generator untouched
    if isinstance(theirs, torch_sequence_model_class()):
        head = theirs.head
        rnn = theirs.rnn
        if type(rnn).__name__ not in RECURRENT or not rnn.batch_first:
            raise ValueError("from_torch: a sequence model needs a batch_first RNN, LSTM or GRU")
        options = dict(
            cell=theirs.cell,
            num_layers=rnn.num_layers,
            many_to_many=theirs.many_to_many,
            bias=rnn.bias and head.bias is not None,
            dtype=dtype,
            rng=unused,
        )
        if theirs.cell == "rnn":
            options["nonlinearity"] = rnn.nonlinearity
        ours = SequenceModel(rnn.input_size, rnn.hidden_size, head.out_features, **options)
    elif isinstance(theirs, torch.nn.Sequential):
        # _modules, not named_children(), which gives a module held at two positions once
        return nn.Sequential(OrderedDict((name, _from_torch(m, torch, done)) for name, m in theirs._modules.items()))
    elif isinstance(theirs, torch.nn.ModuleList):
        return nn.ModuleList([_from_torch(m, torch, done) for m in theirs])
    elif isinstance(theirs, torch.nn.ModuleDict):
        return nn.ModuleDict({k: _from_torch(m, torch, done) for k, m in theirs.items()})
    elif isinstance(theirs, torch.nn.Dropout):
        return nn.Dropout(theirs.p)
    elif isinstance(theirs, torch.nn.Linear):
        ours = nn.Linear(theirs.in_features, theirs.out_features, bias=theirs.bias is not None, dtype=dtype, rng=unused)
    elif kind in RECURRENT and isinstance(theirs, getattr(torch.nn, kind)):
        if getattr(theirs, "proj_size", 0):
            raise ValueError(f"from_torch: {kind} with proj_size={theirs.proj_size} has no counterpart here")
        ours = getattr(nn, kind)(
            theirs.input_size, theirs.hidden_size, **_recurrent_options(theirs), dtype=dtype, rng=unused
        )
    elif kind in CELLS and isinstance(theirs, getattr(torch.nn, kind)):
        options = dict(bias=theirs.bias)
        if kind == "RNNCell":
            options["nonlinearity"] = theirs.nonlinearity
        ours = getattr(nn, kind)(theirs.input_size, theirs.hidden_size, **options, dtype=dtype, rng=unused)
    elif isinstance(theirs, torch.nn.Embedding):
        if theirs.max_norm is not None or theirs.scale_grad_by_freq or theirs.sparse:
            raise ValueError(
                "from_torch: Embedding with max_norm, scale_grad_by_freq or sparse=True has no counterpart here"
            )
        ours = nn.Embedding(
            theirs.num_embeddings, theirs.embedding_dim, padding_idx=theirs.padding_idx, dtype=dtype, rng=unused
        )
    elif isinstance(theirs, torch.nn.LayerNorm):
        ours = nn.LayerNorm(
            theirs.normalized_shape,
            eps=theirs.eps,
            elementwise_affine=theirs.elementwise_affine,
            bias=theirs.bias is not None,
            dtype=dtype,
        )
    else:
        raise TypeError(
            f"from_torch: no tinygrad_rnn counterpart known for torch.nn.{kind}; supported: Linear, "
            "RNN, LSTM, GRU and their cells, Embedding, LayerNorm, Dropout, Sequential, ModuleList, "
            "ModuleDict, and modules made by to_torch"
        )
    ours.load_state_dict({name: value.detach().cpu().numpy().copy() for name, value in theirs.state_dict().items()})
    return ours
