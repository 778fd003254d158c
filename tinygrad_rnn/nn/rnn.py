"""Elman recurrent layers: RNNCell (one step) and RNN (a whole sequence, any number of layers).

    h_t = act(x_t @ W_ih^T + b_ih + h_{t-1} @ W_hh^T + b_hh),   act = tanh or relu

No backward is written here. The input terms x_t @ W_ih^T + b of all steps are one matrix
product in scope("layer<l>"); each time step is ordinary Tensor code run inside
scope("layer<l>/t=<i>"). The unrolled graph they record is what backward() walks, so
backpropagation through time is just reverse mode over that graph.
"""

from __future__ import annotations

from .. import ops
from ..tensors import DEFAULT_DTYPE, Tensor, apply, linear
from .recurrent import RecurrentCell, RecurrentLayers

ACTIVATIONS = {"tanh": ops.Tanh, "relu": ops.Relu}


def _activation(nonlinearity: str):
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose 'tanh' or 'relu'")
    return ACTIVATIONS[nonlinearity]


def elman_step(projected_x: Tensor, h: Tensor, w_hh: Tensor, activation) -> Tensor:
    """h_t = act(h_{t-1} @ W_hh^T + p_t) with p_t = x_t @ W_ih^T + b_ih + b_hh; `activation` is
    the op (Tanh or Relu)."""
    return apply(activation, linear(h, w_hh, projected_x))


class RNNCell(RecurrentCell):
    """One Elman step: h' = act(x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh).

    x is (batch, input_size) or (input_size,); h the same with hidden_size (zeros when None).
    Parameters are drawn U(-k, k), k = 1/sqrt(hidden_size), as PyTorch does.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype=DEFAULT_DTYPE,
        rng=None,
    ):
        super().__init__(input_size, hidden_size, bias=bias, dtype=dtype, rng=rng)
        self.nonlinearity = nonlinearity
        self._activation = _activation(nonlinearity)

    def forward(self, input, hx=None) -> Tensor:
        x = self._checked_input(input)
        h = self._checked_state(hx, "h", x.shape[:-1])
        projected = linear(x, self.weight_ih, self._summed_bias())
        return elman_step(projected, h, self.weight_hh, self._activation)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class RNN(RecurrentLayers):
    """A multi-layer Elman RNN with PyTorch's signature, parameter names and shapes.

    For layer l: h_t = act(x_t @ weight_ih_l{l}.T + bias_ih_l{l} + h_{t-1} @ weight_hh_l{l}.T + bias_hh_l{l}),
    where x_t is the input for l = 0 and the previous layer's h_t above it.

    forward(input, hx=None) -> (output, h_n), with D = 2 when bidirectional, else 1:
      input  (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched, or a list of T
             per-step inputs of shape (B, I) or (I,), or a PackedSequence;
      hx     the initial h_0: (D * num_layers, B, H) or (D * num_layers, H); zeros when None;
      output (T, B, D * H) (or (B, T, D * H); packed when the input was) holding the last
             layer's h_t at every step (many-to-many), the forward direction first;
      h_n    (D * num_layers, B, H): each layer's and direction's last h_t (index layer * D + d).
    dropout=p multiplies every layer's output but the last by a random mask in training mode.
    With `retain_hidden = True`, every h_t keeps its gradient and `hidden_states[k][t]` holds it.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=DEFAULT_DTYPE,
        rng=None,
    ):
        activation = _activation(nonlinearity)
        super().__init__(
            input_size,
            hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            dtype=dtype,
            rng=rng,
        )
        self.nonlinearity = nonlinearity
        self._activation = activation

    def step(self, projected_x: Tensor, state: tuple, weights: tuple) -> tuple[Tensor]:
        return (elman_step(projected_x, state[0], weights[0], self._activation),)

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._unroll(input, None if hx is None else (hx,))
        return output, h_n

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else text + f", nonlinearity={self.nonlinearity!r}"
