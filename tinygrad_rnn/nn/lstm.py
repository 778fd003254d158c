"""Long short-term memory: LSTMCell (one step) and LSTM (a whole sequence, any number of layers).

One step, with PyTorch's gate order (i, f, g, o) stacked in the weights:

    i  = sigmoid(x @ W_ii^T + b_ii + h @ W_hi^T + b_hi)      input gate
    f  = sigmoid(x @ W_if^T + b_if + h @ W_hf^T + b_hf)      forget gate
    g  = tanh   (x @ W_ig^T + b_ig + h @ W_hg^T + b_hg)      candidate cell
    o  = sigmoid(x @ W_io^T + b_io + h @ W_ho^T + b_ho)      output gate
    c' = f * c + i * g
    h' = o * tanh(c')

No backward is written here: the step is ordinary Tensor code and backward() walks what it records.
The additive path c -> f * c -> c' is why the cell state carries gradients further back in time
than an Elman RNN's h does.
"""

from __future__ import annotations

from ..tensors import Tensor, linear
from .recurrent import RecurrentCell, RecurrentLayers, gate_block

INPUT_GATE, FORGET_GATE, CANDIDATE, OUTPUT_GATE = range(4)


def lstm_step(projected_x: Tensor, h: Tensor, c: Tensor, w_hh: Tensor) -> tuple[Tensor, Tensor]:
    """(h', c') from p = x @ W_ih^T + b_ih + b_hh (..., 4H) and the state h, c (..., H);
    w_hh (4H, H) is the recurrent weight. Equations in the module docstring."""
    pre_activation = linear(h, w_hh, projected_x)  # x @ W_i*^T + b_i* + h @ W_h*^T + b_h*, all four gates
    size = w_hh.shape[1]
    i = gate_block(pre_activation, INPUT_GATE, size).sigmoid()
    f = gate_block(pre_activation, FORGET_GATE, size).sigmoid()
    g = gate_block(pre_activation, CANDIDATE, size).tanh()
    o = gate_block(pre_activation, OUTPUT_GATE, size).sigmoid()
    c_next = f * c + i * g
    h_next = o * c_next.tanh()
    return h_next, c_next


def _state_pair(hx, owner: str, expected: str) -> tuple:
    """hx as a 2-tuple, or a TypeError naming what was given instead."""
    if isinstance(hx, (tuple, list)) and len(hx) == 2:
        return tuple(hx)
    given = f"a {type(hx).__name__}" + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else "")
    raise TypeError(f"{owner}: hx must be a pair {expected}, got {given}")


class LSTMCell(RecurrentCell):
    """One LSTM step: (h', c') = cell(x, (h, c)), equations in the module docstring.

    weight_ih (4H, I), weight_hh (4H, H), bias_ih and bias_hh (4H,), each the four gates'
    blocks stacked in the order i, f, g, o. x is (batch, I) or (I,); h and c are the same with
    H, zeros when hx is None. Parameters are drawn U(-k, k), k = 1/sqrt(hidden_size).
    """

    gate_count = 4

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        x = self._checked_input(input)
        h, c = (None, None) if hx is None else _state_pair(hx, "LSTMCell", "(h, c)")
        h = self._checked_state(h, "h", x.shape[:-1])
        c = self._checked_state(c, "c", x.shape[:-1])
        projected = linear(x, self.weight_ih, self._summed_bias())
        return lstm_step(projected, h, c, self.weight_hh)


class LSTM(RecurrentLayers):
    """A multi-layer LSTM with PyTorch's signature, parameter names and shapes.

    Layer l runs the step of the module docstring with weight_ih_l{l} (4H, I_l), weight_hh_l{l}
    (4H, H), bias_ih_l{l} and bias_hh_l{l} (4H,), gates stacked i, f, g, o; its input is x_t
    for l = 0 and layer l - 1's h_t above it.

    forward(input, hx=None) -> (output, (h_n, c_n)), with D = 2 when bidirectional, else 1:
      input   (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched, or a list of T
              per-step inputs of shape (B, I) or (I,), or a PackedSequence;
      hx      (h0, c0), each (D * num_layers, B, H) or (D * num_layers, H); zeros when None;
      output  (T, B, D * H) (or (B, T, D * H); packed when the input was): the last layer's
              h_t at every step, the forward direction first;
      h_n, c_n  (D * num_layers, B, H): each layer's and direction's last h_t and c_t.
    dropout=p multiplies every layer's output but the last by a random mask in training mode.
    With `retain_hidden = True`, every h_t and c_t keeps its gradient after backward;
    `hidden_states[k][t]` is h_t of layer k // D in direction k % D and `cell_states[k][t]` its c_t.
    """

    gate_count = 4
    state_names = ("h", "c")

    @property
    def cell_states(self) -> list[list[Tensor]]:
        """cell_states[l][t]: layer l's c_t from the last forward (empty unless retain_hidden)."""
        return [[state[1] for state in layer] for layer in self.step_states]

    def step(self, projected_x: Tensor, state: tuple, weights: tuple) -> tuple[Tensor, Tensor]:
        h, c = state
        return lstm_step(projected_x, h, c, weights[0])

    def forward(self, input, hx=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        initial = None if hx is None else _state_pair(hx, "LSTM", "(h0, c0)")
        output, (h_n, c_n) = self._unroll(input, initial)
        return output, (h_n, c_n)
