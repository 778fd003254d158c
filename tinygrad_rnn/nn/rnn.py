"""Elman recurrent layers: RNNCell (one step) and RNN (a whole sequence, any number of layers).

No backward is written here. Each time step is ordinary Tensor code run inside
scope("layer<l>/t=<i>"); the unrolled graph it records is what backward() walks,
so backpropagation through time is just reverse mode over that graph.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import scope
from ..random import as_generator
from ..tensor import DEFAULT_DTYPE, Tensor, stack
from .module import Module, Parameter

ACTIVATIONS = {"tanh": Tensor.tanh, "relu": Tensor.relu}


def as_input(x, dtype) -> Tensor:
    """`x` as a Tensor; arrays and lists become constants of the layer's dtype (no copy if possible)."""
    if isinstance(x, Tensor):
        return x
    return Tensor._from_op(np.asarray(x, dtype=dtype), None)


def _activation(nonlinearity: str):
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
    return ACTIVATIONS[nonlinearity]


def _uniform_parameter(rng, k: float, shape: tuple, dtype) -> Parameter:
    return Parameter(rng.uniform(-k, k, shape), dtype=dtype)


def elman_step(x: Tensor, h: Tensor | None, w_ih_t: Tensor, w_hh_t: Tensor, bias: Tensor | None,
               activation) -> Tensor:
    """h_t = act(x_t @ W_ih^T + h_{t-1} @ W_hh^T + b); with no h_{t-1} (h_0 = 0) the middle term is left out."""
    pre = x @ w_ih_t
    if h is not None:
        pre = pre + h @ w_hh_t
    if bias is not None:
        pre = pre + bias
    return activation(pre)


class RNNCell(Module):
    """One Elman step: h' = act(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).

    x is (batch, input_size) or (input_size,); h the same with hidden_size (zeros when None).
    Parameters are drawn U(-k, k), k = 1/sqrt(hidden_size), as PyTorch does.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype=DEFAULT_DTYPE, rng=None):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity = nonlinearity
        self._activation = _activation(nonlinearity)
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _uniform_parameter(rng, k, (hidden_size, input_size), dtype)
        self.weight_hh = _uniform_parameter(rng, k, (hidden_size, hidden_size), dtype)
        self.bias_ih = _uniform_parameter(rng, k, (hidden_size,), dtype) if bias else None
        self.bias_hh = _uniform_parameter(rng, k, (hidden_size,), dtype) if bias else None

    def forward(self, input, hx=None) -> Tensor:
        x = as_input(input, self.weight_ih.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"RNNCell: input has shape {x.shape}; expected (batch, {self.input_size}) or ({self.input_size},)"
            )
        h = None if hx is None else as_input(hx, self.weight_ih.dtype)
        if h is not None and h.shape != x.shape[:-1] + (self.hidden_size,):
            raise ValueError(f"RNNCell: hidden state has shape {h.shape}, expected {x.shape[:-1] + (self.hidden_size,)}")
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return elman_step(x, h, self.weight_ih.T, self.weight_hh.T, bias, self._activation)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class RNN(Module):
    """A multi-layer Elman RNN with PyTorch's signature, parameter names and shapes.

    For layer l: h_t = act(x_t @ weight_ih_l{l}.T + bias_ih_l{l} + h_{t-1} @ weight_hh_l{l}.T + bias_hh_l{l}),
    where x_t is the input for l = 0 and the previous layer's h_t above it.

    forward(input, h0=None) -> (output, h_n):
      input  (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched, or a list of T
             per-step inputs of shape (B, I) or (I,);
      h0     (num_layers, B, H) or (num_layers, H); zeros when None;
      output (T, B, H) (or (B, T, H)) holding the last layer's h_t at every step (many-to-many);
      h_n    (num_layers, B, H): each layer's last h_t (h_n[-1] == output[-1]: many-to-one).
    With `retain_hidden = True`, every h_t keeps its gradient and `hidden_states[l][t]` holds it.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dtype=DEFAULT_DTYPE, rng=None):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"RNN: num_layers must be at least 1, got {num_layers}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.batch_first = nonlinearity, bias, batch_first
        self._activation = _activation(nonlinearity)
        self.retain_hidden = False
        self.hidden_states: list[list[Tensor]] = []
        rng = as_generator(rng)
        k = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size
            setattr(self, f"weight_ih_l{layer}", _uniform_parameter(rng, k, (hidden_size, layer_input), dtype))
            setattr(self, f"weight_hh_l{layer}", _uniform_parameter(rng, k, (hidden_size, hidden_size), dtype))
            if bias:
                setattr(self, f"bias_ih_l{layer}", _uniform_parameter(rng, k, (hidden_size,), dtype))
                setattr(self, f"bias_hh_l{layer}", _uniform_parameter(rng, k, (hidden_size,), dtype))

    def _split_steps(self, input) -> tuple[list[Tensor], bool]:
        """The input as a list of per-step tensors, and whether it is batched."""
        dtype = self.weight_ih_l0.dtype
        if isinstance(input, (list, tuple)):
            if not input:
                raise ValueError("RNN: the input sequence is empty")
            steps = [as_input(x, dtype) for x in input]
        else:
            x = as_input(input, dtype)
            if x.ndim not in (2, 3):
                raise ValueError(
                    f"RNN: input has shape {x.shape}; expected (T, B, {self.input_size}), "
                    f"(B, T, {self.input_size}) with batch_first, (T, {self.input_size}) or a list of steps"
                )
            if x.shape[0 if x.ndim == 2 or not self.batch_first else 1] == 0:
                raise ValueError(f"RNN: the input sequence is empty (shape {x.shape})")
            if x.ndim == 3 and self.batch_first:
                steps = [x[:, t] for t in range(x.shape[1])]
            else:
                steps = [x[t] for t in range(x.shape[0])]
        first = steps[0].shape
        for t, step in enumerate(steps):
            if step.ndim not in (1, 2) or step.shape[-1] != self.input_size or step.shape != first:
                raise ValueError(
                    f"RNN: input at t={t} has shape {step.shape}; expected (batch, {self.input_size}) "
                    f"or ({self.input_size},), the same at every step (t=0 had {first})"
                )
        return steps, steps[0].ndim == 2

    def _initial_states(self, h0, batch_shape: tuple) -> list:
        if h0 is None:
            return [None] * self.num_layers
        h0 = as_input(h0, self.weight_ih_l0.dtype)
        expected = (self.num_layers,) + batch_shape + (self.hidden_size,)
        if h0.shape != expected:
            raise ValueError(f"RNN: h0 has shape {h0.shape}, expected {expected}")
        return [h0[layer] for layer in range(self.num_layers)]

    def forward(self, input, h0=None) -> tuple[Tensor, Tensor]:
        steps, batched = self._split_steps(input)
        states = self._initial_states(h0, steps[0].shape[:-1])
        self.hidden_states = []
        last_states = []
        for layer in range(self.num_layers):
            with scope(f"layer{layer}"):
                w_ih_t = getattr(self, f"weight_ih_l{layer}").T
                w_hh_t = getattr(self, f"weight_hh_l{layer}").T
                bias = getattr(self, f"bias_ih_l{layer}") + getattr(self, f"bias_hh_l{layer}") if self.bias else None
                h = states[layer]
                outputs = []
                for t, x in enumerate(steps):
                    with scope(f"t={t}"):
                        h = elman_step(x, h, w_ih_t, w_hh_t, bias, self._activation)
                        if self.retain_hidden and h.requires_grad:
                            h.retain_grad()
                    outputs.append(h)
            if self.retain_hidden:
                self.hidden_states.append(outputs)
            last_states.append(h)
            steps = outputs
        time_axis = 1 if (self.batch_first and batched) else 0
        return stack(steps, axis=time_axis), stack(last_states, axis=0)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        return text
