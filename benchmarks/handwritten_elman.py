"""Forward pass and backpropagation through time for an Elman RNN, written out by hand in NumPy.

The model is PyTorch's nn.RNN(I, H) (tanh, one layer, h_0 = 0) followed by nn.Linear(H, O) on
the last hidden state, with parameters under PyTorch's names:

    rnn.weight_ih_l0 (H, I)   rnn.weight_hh_l0 (H, H)   rnn.bias_ih_l0 (H,)   rnn.bias_hh_l0 (H,)
    head.weight      (O, H)   head.bias        (O,)

For x of shape (T, B, I):
    h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),   y = h_T W_o^T + b_o
    "mse":           L = mean over B*O of (y - target)^2
    "cross_entropy": L = -mean over B of sum_k target_k log softmax(y)_k   (target one-hot, (B, O))

Backward, with a_t the pre-activation and d_t = dL/da_t:
    dL/dh_T = dL/dy W_o,   d_t = (1 - h_t^2) * dL/dh_t,   dL/dh_{t-1} = d_t W_hh
    dW_ih = sum_t d_t^T x_t,   dW_hh = sum_t d_t^T h_{t-1},   db_ih = db_hh = sum_t d_t

The first step computes h_0 W_hh^T with h_0 = 0, as PyTorch's nn.RNN, the documents' code and
every other contender do: it is zero unless W_hh holds an inf or a NaN, which then reaches the
loss as it does in theirs. Its term of dW_hh, d_1^T h_0, is zero unless d_1 holds an inf or a
NaN, so it is added only then.

This is the baseline the autograd engine is measured against, so it is written to be fast:
the input projection of every step is one matmul, the recurrence does one np.dot, one add and
one tanh per step in place, the deltas reuse the pre-activations' buffer, and the weight
gradients are single matmuls over all steps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PARAMETER_NAMES = (
    "rnn.weight_ih_l0",
    "rnn.weight_hh_l0",
    "rnn.bias_ih_l0",
    "rnn.bias_hh_l0",
    "head.weight",
    "head.bias",
)
LOSSES = ("mse", "cross_entropy")


class ElmanResult(NamedTuple):
    """The loss and dL/dparameter for every parameter, keyed by PyTorch's names."""

    loss: float
    grads: dict[str, np.ndarray]


def init_parameters(rng: np.random.Generator, input_size: int, hidden_size: int, output_size: int) -> dict:
    """Parameters drawn as PyTorch initialises them: U(-k, k) with k = 1/sqrt(H), float64."""
    k = 1.0 / np.sqrt(hidden_size)  # the fan-in of both weight_hh and the head is H
    shapes = {
        "rnn.weight_ih_l0": (hidden_size, input_size),
        "rnn.weight_hh_l0": (hidden_size, hidden_size),
        "rnn.bias_ih_l0": (hidden_size,),
        "rnn.bias_hh_l0": (hidden_size,),
        "head.weight": (output_size, hidden_size),
        "head.bias": (output_size,),
    }
    return {name: rng.uniform(-k, k, shape) for name, shape in shapes.items()}


def _loss_and_output_grad(y: np.ndarray, target: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """The loss of the head's output y (B, O) and dL/dy."""
    if loss == "mse":
        diff = y - target
        return float(np.dot(diff.ravel(), diff.ravel())) / diff.size, diff * (2.0 / diff.size)
    shifted = y - y.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    totals = exponentials.sum(axis=1, keepdims=True)
    batch = y.shape[0]
    log_probabilities = shifted - np.log(totals)
    value = -float(np.dot(log_probabilities.ravel(), target.ravel())) / batch
    return value, (exponentials / totals - target) / batch


def elman_bptt(params: dict, x: np.ndarray, target: np.ndarray, loss: str = "mse") -> ElmanResult:
    """One training step's numbers: the loss and every parameter's gradient (see the module doc).

    x: (T, B, I); target: (B, O), one-hot for "cross_entropy".
    """
    if loss not in LOSSES:
        raise ValueError(f"elman_bptt: loss must be one of {LOSSES}, got {loss!r}")
    w_ih, w_hh = params["rnn.weight_ih_l0"], params["rnn.weight_hh_l0"]
    w_out = params["head.weight"]
    steps, batch, inputs = x.shape
    hidden = w_hh.shape[0]
    flat_x = x.reshape(steps * batch, inputs)

    pre_activations = np.dot(flat_x, w_ih.T)
    pre_activations += params["rnn.bias_ih_l0"] + params["rnn.bias_hh_l0"]
    pre_activations = pre_activations.reshape(steps, batch, hidden)
    hiddens = np.empty_like(pre_activations)
    first = np.zeros((batch, hidden), dtype=pre_activations.dtype)  # h_0
    previous = first
    w_hh_t = w_hh.T
    for pre_activation, current in zip(pre_activations, hiddens):
        pre_activation += np.dot(previous, w_hh_t)
        previous = np.tanh(pre_activation, out=current)

    last = hiddens[-1]
    y = np.dot(last, w_out.T)
    y += params["head.bias"]
    value, y_grad = _loss_and_output_grad(y, target, loss)

    deltas = np.multiply(hiddens, hiddens, out=pre_activations)  # the pre-activations are no longer needed
    np.subtract(1.0, deltas, out=deltas)
    h_grad = np.dot(y_grad, w_out)
    for delta in deltas[:0:-1]:  # t = T .. 2; deltas holds 1 - h_t^2 until it is scaled by dL/dh_t
        delta *= h_grad
        h_grad = np.dot(delta, w_hh)
    deltas[0] *= h_grad

    flat_deltas = deltas.reshape(steps * batch, hidden)
    bias_grad = flat_deltas.sum(axis=0)
    w_hh_grad = np.dot(flat_deltas[batch:].T, hiddens[:-1].reshape((steps - 1) * batch, hidden))
    if not np.isfinite(deltas[0]).all():
        w_hh_grad += np.dot(deltas[0].T, first)  # d_1^T h_0: zero for a finite d_1
    grads = {
        "rnn.weight_ih_l0": np.dot(flat_deltas.T, flat_x),
        "rnn.weight_hh_l0": w_hh_grad,
        "rnn.bias_ih_l0": bias_grad,
        "rnn.bias_hh_l0": bias_grad.copy(),
        "head.weight": np.dot(y_grad.T, last),
        "head.bias": y_grad.sum(axis=0),
    }
    return ElmanResult(value, grads)
