"""Gated recurrent unit: GRUCell (one step) and GRU (a whole sequence, any number of layers).

One step, with PyTorch's gate order (r, z, n) stacked in the weights:

    r  = sigmoid(x @ W_ir^T + b_ir + h @ W_hr^T + b_hr)          reset gate
    z  = sigmoid(x @ W_iz^T + b_iz + h @ W_hz^T + b_hz)          update gate
    n  = tanh   (x @ W_in^T + b_in + r * (h @ W_hn^T + b_hn))    candidate state
    h' = (1 - z) * n + z * h

The reset gate multiplies the whole hidden term of n, b_hn included, which is why the two
biases cannot be merged into one as they can for the other gates (and for an LSTM).
No backward is written here: the step is ordinary Tensor code and backward() walks what it records.
"""

from __future__ import annotations

from ..tensors import Tensor, linear
from .recurrent import RecurrentCell, RecurrentLayers, gate_block

RESET_GATE, UPDATE_GATE, CANDIDATE = range(3)


def gru_step(projected_x: Tensor, h: Tensor, w_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """h' from p = x @ W_ih^T + b_ih (..., 3H) and h (..., H); w_hh (3H, H) is the recurrent
    weight and bias_hh (3H,) or None. Equations in the module docstring."""
    size = w_hh.shape[1]
    from_hidden = linear(h, w_hh, bias_hh)  # h @ W_h*^T + b_h*, all three gates
    r = (gate_block(projected_x, RESET_GATE, size) + gate_block(from_hidden, RESET_GATE, size)).sigmoid()
    z = (gate_block(projected_x, UPDATE_GATE, size) + gate_block(from_hidden, UPDATE_GATE, size)).sigmoid()
    n = (gate_block(projected_x, CANDIDATE, size) + r * gate_block(from_hidden, CANDIDATE, size)).tanh()
    return (1 - z) * n + z * h


class GRUCell(RecurrentCell):
    """One GRU step: h' = cell(x, h), equations in the module docstring.

    weight_ih (3H, I), weight_hh (3H, H), bias_ih and bias_hh (3H,), each the three gates'
    blocks stacked in the order r, z, n. x is (batch, I) or (I,); h is the same with H,
    zeros when hx is None. Parameters are drawn U(-k, k), k = 1/sqrt(hidden_size).
    """

    gate_count = 3

    def forward(self, input, hx=None) -> Tensor:
        x = self._checked_input(input)
        h = self._checked_state(hx, "h", x.shape[:-1])
        return gru_step(linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)


class GRU(RecurrentLayers):
    """A multi-layer GRU with PyTorch's signature, parameter names and shapes.

    Layer l runs the step of the module docstring with weight_ih_l{l} (3H, I_l), weight_hh_l{l}
    (3H, H), bias_ih_l{l} and bias_hh_l{l} (3H,), gates stacked r, z, n; its input is x_t for
    l = 0 and layer l - 1's h_t above it.

    forward(input, hx=None) -> (output, h_n), with D = 2 when bidirectional, else 1:
      input   (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched, or a list of T
              per-step inputs of shape (B, I) or (I,), or a PackedSequence;
      hx      (D * num_layers, B, H) or (D * num_layers, H); zeros when None;
      output  (T, B, D * H) (or (B, T, D * H); packed when the input was): the last layer's
              h_t at every step, the forward direction first;
      h_n     (D * num_layers, B, H): each layer's and direction's last h_t.
    dropout=p multiplies every layer's output but the last by a random mask in training mode.
    With `retain_hidden = True`, every h_t keeps its gradient and `hidden_states[k][t]` holds it.
    """

    gate_count = 3

    def layer_weights(self, layer: int, suffix: str = "") -> tuple:
        """The input projection's bias b_ih, and (W_hh, b_hh) for every step."""
        names = f"l{layer}{suffix}"
        w_hh = getattr(self, f"weight_hh_{names}")
        if not self.bias:
            return None, (w_hh, None)
        return getattr(self, f"bias_ih_{names}"), (w_hh, getattr(self, f"bias_hh_{names}"))

    def step(self, projected_x: Tensor, state: tuple, weights: tuple) -> tuple[Tensor]:
        return (gru_step(projected_x, state[0], *weights),)

    def forward(self, input, hx=None) -> tuple[Tensor, Tensor]:
        output, (h_n,) = self._unroll(input, None if hx is None else (hx,))
        return output, h_n
