"""Document 000 (daily minimum temperatures, 000_77a4d51a0b6c6842): its Elman RNN and BPTT, corrected.

Row vectors, many-to-one: for xs of shape (T, I),
    h_t = tanh(x_t W_ih + h_{t-1} W_hh + b_h),   h_0 = 0,   t = 1..T
    y   = h_T W_ho + b_o                          (1, O)
    L   = mean_k (y_k - target_k)^2

Parameters keep the document's names. Against PyTorch's nn.RNN(I, H) followed by nn.Linear(H, O),
applied to the last hidden state:
    weights_ih (I, H) == rnn.weight_ih_l0.T
    weights_hh (H, H) == rnn.weight_hh_l0.T
    bias_h     (1, H) == rnn.bias_ih_l0, with rnn.bias_hh_l0 = 0
    weights_ho (H, O) == linear.weight.T
    bias_o     (1, O) == linear.bias
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._shapes import checked_arrays as _checked_arrays


class TimeseriesForward(NamedTuple):
    """hiddens: (T, H), row t-1 is h_t (h_0 = 0 is not stored). output: y, (O,)."""

    hiddens: np.ndarray
    output: np.ndarray


class TimeseriesBPTT(NamedTuple):
    """The loss, its gradient for every parameter (keyed like params), and the forward values."""

    loss: float
    grads: dict[str, np.ndarray]
    hiddens: np.ndarray
    output: np.ndarray


def _arrays(function: str, xs, params: dict, target=None) -> dict:
    """Checked arrays: xs (T, I); target (O,), or a scalar when O = 1."""
    expected = {"xs": ("T", "I")}
    data = {"xs": xs}
    if target is not None:
        expected["target"] = ("O",)
        data["target"] = np.atleast_1d(np.asarray(target, dtype=np.float64))
    expected.update(
        weights_ih=("I", "H"), weights_hh=("H", "H"), weights_ho=("H", "O"), bias_h=(1, "H"), bias_o=(1, "O")
    )
    return _checked_arrays(function, data, params, expected)


def _forward_pass(arrays: dict) -> TimeseriesForward:
    """h_t = tanh(x_t W_ih + h_{t-1} W_hh + b_h) from h_0 = 0; y = h_T W_ho + b_o."""
    weights_hh = arrays["weights_hh"]
    hiddens = np.zeros((len(arrays["xs"]), weights_hh.shape[0]))
    previous = np.zeros(weights_hh.shape[0])
    for t, x in enumerate(arrays["xs"]):
        hiddens[t] = np.tanh(x @ arrays["weights_ih"] + previous @ weights_hh + arrays["bias_h"][0])
        previous = hiddens[t]
    return TimeseriesForward(hiddens, hiddens[-1] @ arrays["weights_ho"] + arrays["bias_o"][0])


def _recurrent_grads(arrays: dict, hiddens: np.ndarray, output_grad: np.ndarray) -> dict:
    """Gradients of weights_ih, weights_hh and bias_h given g = dL/dy, by the recursion

    dh_T = g W_ho^T,   da_t = dh_t * (1 - h_t^2),   dh_{t-1} = da_t W_hh^T
    W_ih: sum_t x_t^T da_t     W_hh: sum_t h_{t-1}^T da_t     b_h: sum_t da_t
    """
    deltas = np.zeros_like(hiddens)
    hidden_grad = output_grad @ arrays["weights_ho"].T
    for t in reversed(range(len(hiddens))):
        deltas[t] = hidden_grad * (1.0 - hiddens[t] ** 2)
        hidden_grad = deltas[t] @ arrays["weights_hh"].T
    previous_hiddens = np.vstack([np.zeros((1, hiddens.shape[1])), hiddens[:-1]])
    return {
        "weights_ih": arrays["xs"].T @ deltas,
        "weights_hh": previous_hiddens.T @ deltas,
        "bias_h": deltas.sum(axis=0, keepdims=True),
    }


def timeseries_forward(xs, params: dict) -> TimeseriesForward:
    """Document 000's RNN.forward: h_t = tanh(x_t W_ih + h_{t-1} W_hh + b_h), h_0 = 0; y = h_T W_ho + b_o.

    xs: (T, I), one row per step (the document feeds windows as T = 1, I = look_back).
    Returns hiddens (T, H) and output (O,). The forward pass needed no correction.
    """
    return _forward_pass(_arrays("timeseries_forward", xs, params))


def timeseries_bptt(xs, target, params: dict) -> TimeseriesBPTT:
    """Corrected BPTT of document 000's RNN (see timeseries_forward) for L = mean_k (y_k - target_k)^2.

    g = dL/dy = 2 (y - target) / O. Output layer: W_ho = h_T^T g, b_o = g. Recurrent part by
        dh_T = g W_ho^T,   da_t = dh_t * (1 - h_t^2),   dh_{t-1} = da_t W_hh^T
        W_ih: sum_t x_t^T da_t     W_hh: sum_t h_{t-1}^T da_t (h_0 = 0)     b_h: sum_t da_t
    Corrected from the document: the output-layer gradients are computed (it left d_Why and
    d_by at zero) and g keeps the factor 2 of the MSE (it used the gradient of half the MSE).
    xs: (T, I); target: (O,), or a scalar when O = 1. Returns loss, grads keyed like params,
    hiddens (T, H), output (O,).
    """
    arrays = _arrays("timeseries_bptt", xs, params, target)
    hiddens, output = _forward_pass(arrays)
    error = output - arrays["target"]
    output_grad = 2.0 * error / error.size
    grads = {
        **_recurrent_grads(arrays, hiddens, output_grad),
        "weights_ho": np.outer(hiddens[-1], output_grad),
        "bias_o": output_grad[None, :],
    }
    return TimeseriesBPTT(float(np.mean(error**2)), grads, hiddens, output)


def timeseries_bptt_as_published(xs, target, params: dict) -> TimeseriesBPTT:
    """Document 000's RNN.backprop gradients exactly as printed (before its clipping and update).

    It starts from g = (y - target) / O, the gradient of half the MSE, so weights_ih,
    weights_hh and bias_h come out as exactly half the true gradient of the loss it reports,
    L = mean_k (y_k - target_k)^2. It never accumulates d_Why and d_by: weights_ho and bias_o
    get zero gradients, so the output layer never learns. The recursion itself is right.
    """
    arrays = _arrays("timeseries_bptt_as_published", xs, params, target)
    hiddens, output = _forward_pass(arrays)
    error = output - arrays["target"]
    grads = {
        **_recurrent_grads(arrays, hiddens, error / error.size),
        "weights_ho": np.zeros_like(arrays["weights_ho"]),
        "bias_o": np.zeros_like(arrays["bias_o"]),
    }
    return TimeseriesBPTT(float(np.mean(error**2)), grads, hiddens, output)


def init_weights(
    input_size: int, hidden_size: int, output_size: int, method: str = "random", rng=None
) -> dict[str, np.ndarray]:
    """Document 000's initialize_weights, plus its zero biases: a full params dict.

    Each weight is standard normal times a scale set by its fan-in (I for weights_ih, H for
    weights_hh and weights_ho), with the document's definitions:
        "random": 0.01        "xavier": 1 / sqrt(fan_in / 2)        "he": sqrt(2 / fan_in)
    Whatever the names suggest, "xavier" and "he" are the same distribution, N(0, 2 / fan_in),
    which is He's; Glorot's would use 2 / (fan_in + fan_out). bias_h and bias_o are zeros.
    Draws weights_ih, weights_hh, weights_ho in that order from rng (a numpy Generator or an
    int seed); NumPy's global random state is not used.
    """
    scales = {
        "random": lambda fan_in: 0.01,
        "xavier": lambda fan_in: 1.0 / np.sqrt(fan_in / 2),
        "he": lambda fan_in: np.sqrt(2.0 / fan_in),
    }
    if method not in scales:
        raise ValueError(f"init_weights: method must be 'random', 'xavier' or 'he', got {method!r}")
    sizes = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size}
    if any(not isinstance(size, (int, np.integer)) or size < 1 for size in sizes.values()):
        raise ValueError(f"init_weights: sizes must be positive integers, got {sizes}")
    rng = np.random.default_rng(rng)
    scale = scales[method]
    return {
        "weights_ih": rng.standard_normal((input_size, hidden_size)) * scale(input_size),
        "weights_hh": rng.standard_normal((hidden_size, hidden_size)) * scale(hidden_size),
        "weights_ho": rng.standard_normal((hidden_size, output_size)) * scale(hidden_size),
        "bias_h": np.zeros((1, hidden_size)),
        "bias_o": np.zeros((1, output_size)),
    }
