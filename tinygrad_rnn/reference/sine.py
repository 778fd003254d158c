"""Document 004 (next value of a sine curve, 004_9bb702629ad3582a): its Elman RNN, BPTT derived afresh.

Column vectors, 1 -> H -> 1, many-to-one, no biases:
    h_t = tanh(Whh h_{t-1} + Wih x_t),   h_0 = 0,   t = 1..T
    y_t = Who h_t                        (computed at every step; the loss uses y_T only)
    L   = (y_T - Y)^2 / 2                (per example; the document reports sum / 2N)

Parameters keep the document's names. Against PyTorch's nn.RNN(1, H, bias=False) followed by
nn.Linear(H, 1, bias=False), applied to the last hidden state:
    Wih (H, 1) == rnn.weight_ih_l0
    Whh (H, H) == rnn.weight_hh_l0
    Who (1, H) == linear.weight
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._shapes import checked_arrays as _checked_arrays


class SineForward(NamedTuple):
    """hiddens: (T, H), row t-1 is h_t (h_0 = 0 is not stored). outputs: (T,), y_t at every step."""

    hiddens: np.ndarray
    outputs: np.ndarray


class SineBPTT(NamedTuple):
    """The loss, its gradient for every parameter (keyed like params), and the forward values."""

    loss: float
    grads: dict[str, np.ndarray]
    hiddens: np.ndarray
    outputs: np.ndarray


def _arrays(function: str, x, params: dict, y_target=None) -> dict:
    """Checked arrays: x (T,), one value per step; y_target a scalar."""
    expected = {"x": ("T",)}
    data = {"x": x}
    if y_target is not None:
        expected["y_target"] = ()
        data["y_target"] = y_target
    expected.update(Wih=("H", 1), Whh=("H", "H"), Who=(1, "H"))
    return _checked_arrays(function, data, params, expected)


def _forward_pass(arrays: dict) -> SineForward:
    """h_t = tanh(Whh h_{t-1} + Wih x_t) from h_0 = 0; y_t = Who h_t."""
    Whh = arrays["Whh"]
    hiddens = np.zeros((len(arrays["x"]), Whh.shape[0]))
    previous = np.zeros(Whh.shape[0])
    for t, x in enumerate(arrays["x"]):
        hiddens[t] = np.tanh(Whh @ previous + arrays["Wih"][:, 0] * x)
        previous = hiddens[t]
    return SineForward(hiddens, hiddens @ arrays["Who"][0])


def sine_forward(x, params: dict) -> SineForward:
    """Document 004's RNN.forward: h_t = tanh(Whh h_{t-1} + Wih x_t), h_0 = 0; y_t = Who h_t.

    x: (T,), one sine value per step (the document uses T = 4 cells). Returns hiddens (T, H)
    and outputs (T,); the prediction is outputs[-1]. The forward pass needed no correction.
    """
    return _forward_pass(_arrays("sine_forward", x, params))


def sine_bptt(x, y_target: float, params: dict) -> SineBPTT:
    """BPTT of document 004's RNN (see sine_forward) for L = (y_T - Y)^2 / 2, derived afresh.

    e = dL/dy_T = y_T - Y. Who: e h_T^T. Then backwards in t,
        dh_T = Who^T e,   da_t = (1 - h_t^2) * dh_t,   dh_{t-1} = Whh^T da_t
        Wih: sum_t da_t x_t      Whh: sum_t da_t h_{t-1}^T (h_0 = 0)
    The document's backward cannot be corrected line by line: it does not run (undefined
    names, an index past the end of X, a sum that is never accumulated), and its update
    assigns lr * gradient to the weights instead of subtracting it, so its reported losses
    cannot come from that code. Returns the loss, grads keyed like params, hiddens, outputs.
    """
    arrays = _arrays("sine_bptt", x, params, y_target)
    hiddens, outputs = _forward_pass(arrays)
    error = outputs[-1] - arrays["y_target"]
    deltas = np.zeros_like(hiddens)
    hidden_grad = arrays["Who"][0] * error
    for t in reversed(range(len(hiddens))):
        deltas[t] = (1.0 - hiddens[t] ** 2) * hidden_grad
        hidden_grad = arrays["Whh"].T @ deltas[t]
    previous_hiddens = np.vstack([np.zeros((1, hiddens.shape[1])), hiddens[:-1]])
    grads = {
        "Wih": (deltas.T @ arrays["x"])[:, None],
        "Whh": deltas.T @ previous_hiddens,
        "Who": error * hiddens[-1][None, :],
    }
    return SineBPTT(float(0.5 * error**2), grads, hiddens, outputs)
