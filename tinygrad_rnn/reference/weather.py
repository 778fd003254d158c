"""Document 001 (daily weather, 001_6ee11c3ccec34edd): its Elman RNN and hand-derived BPTT, corrected.

Row vectors throughout: x_t is (1, I), h_t is (1, H), a layer is `x @ W`, and the loss is
L = 0.5 * sum_t (y_t - target_t)^2, whose gradient with respect to y_t is `y_t - target_t`:
the document's `mse_grad`, the gradient it backpropagates (its `mse` prints the mean instead).

Parameters keep the document's names. Against PyTorch's nn.RNN(I, H) followed by nn.Linear(H, O):
    i_weight (I, H) == rnn.weight_ih_l0.T
    h_weight (H, H) == rnn.weight_hh_l0.T
    h_bias   (1, H) == rnn.bias_ih_l0, with rnn.bias_hh_l0 = 0
    o_weight (H, O) == linear.weight.T
    o_bias   (1, O) == linear.bias
The complete implementation (`sequence_*`) is exactly that stack. The walk-through
(`walkthrough_*`) is not: it leaves both h_weight and h_bias out of step 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._shapes import checked_arrays as _checked_arrays


class WeatherForward(NamedTuple):
    """hiddens: (T, H), row t is h_t. outputs: (T,) for the walk-through, (T, O) for a sequence."""

    hiddens: np.ndarray
    outputs: np.ndarray


class WeatherBPTT(NamedTuple):
    """The loss, its gradient for every parameter (keyed like params), and the forward values."""

    loss: float
    grads: dict[str, np.ndarray]
    hiddens: np.ndarray
    outputs: np.ndarray


def _walkthrough_arrays(function: str, temps, params: dict, activation: str, targets=None) -> dict:
    """Checked arrays for the walk-through: temps (T,), one input and one output per step."""
    expected = {"temps": ("T",)}
    data = {"temps": temps}
    if targets is not None:
        expected["targets"] = ("T",)
        data["targets"] = targets
    if activation == "tanh":
        expected.update(i_weight=(1, "H"), h_weight=("H", "H"), h_bias=(1, "H"), o_weight=("H", 1), o_bias=(1, 1))
    elif activation == "relu":
        expected.update(i_weight=(1, "H"), h_weight=("H", "H"), o_weight=("H", 1))
    else:
        raise ValueError(f"{function}: activation must be 'tanh' or 'relu', got {activation!r}")
    return _checked_arrays(function, data, params, expected)


def _walkthrough_pass(arrays: dict, activation: str) -> WeatherForward:
    """h_0 = act(x_0 i_weight); h_t = act(x_t i_weight + h_{t-1} h_weight [+ h_bias]);
    y_t = h_t o_weight [+ o_bias]. The bracketed biases are tanh-only."""
    temps, i_weight, h_weight = arrays["temps"], arrays["i_weight"], arrays["h_weight"]
    if activation == "tanh":
        activate, h_bias, o_bias = np.tanh, arrays["h_bias"][0], arrays["o_bias"][0, 0]
    else:
        activate, h_bias, o_bias = (lambda pre: np.maximum(0.0, pre)), 0.0, 0.0
    hiddens = np.zeros((len(temps), h_weight.shape[0]))
    for t, temp in enumerate(temps):
        pre_activation = temp * i_weight[0]
        if t > 0:
            pre_activation = pre_activation + hiddens[t - 1] @ h_weight + h_bias
        hiddens[t] = activate(pre_activation)
    outputs = hiddens @ arrays["o_weight"][:, 0] + o_bias
    return WeatherForward(hiddens, outputs)


def _pre_activation_grads(
    hiddens: np.ndarray, output_grads: np.ndarray, h_weight: np.ndarray, o_weight: np.ndarray
) -> np.ndarray:
    """dL/da_t for every step (T, H), where h_t = tanh(a_t), from the recursion run backwards in t:

        dL/dh_t = g_t o_weight^T + dL/da_{t+1} h_weight^T   (no second term at the last step)
        dL/da_t = dL/dh_t * (1 - h_t^2)
    with g_t = dL/dy_t, the rows of output_grads (T, O).
    """
    deltas = np.zeros_like(hiddens)
    from_next_step = np.zeros(hiddens.shape[1])
    for t in reversed(range(len(hiddens))):
        hidden_grad = output_grads[t] @ o_weight.T + from_next_step
        deltas[t] = hidden_grad * (1.0 - hiddens[t] ** 2)
        from_next_step = deltas[t] @ h_weight.T
    return deltas


def walkthrough_params(seed: int = 0, activation: str = "tanh") -> dict[str, np.ndarray]:
    """The walk-through's parameters as document 001 draws them after `np.random.seed(seed)`.

    tanh: i_weight = rand(1,5)/5 - .1, h_weight = rand(5,5)/5 - .1, h_bias = rand(1,5)/5 - .1,
          o_weight = rand(5,1)*50, o_bias = rand(1,1), drawn in that order.
    relu: i_weight = rand(1,2), h_weight = rand(2,2), o_weight = rand(2,1); no biases.
    A private np.random.RandomState(seed) yields the same legacy stream, so NumPy's global
    random state is left untouched.
    """
    rand = np.random.RandomState(seed).rand
    if activation == "tanh":
        return {
            "i_weight": rand(1, 5) / 5 - 0.1,
            "h_weight": rand(5, 5) / 5 - 0.1,
            "h_bias": rand(1, 5) / 5 - 0.1,
            "o_weight": rand(5, 1) * 50,
            "o_bias": rand(1, 1),
        }
    if activation == "relu":
        return {"i_weight": rand(1, 2), "h_weight": rand(2, 2), "o_weight": rand(2, 1)}
    raise ValueError(f"walkthrough_params: activation must be 'tanh' or 'relu', got {activation!r}")


def walkthrough_forward(temps, params: dict, activation: str = "tanh") -> WeatherForward:
    """Document 001's unrolled walk-through (three days there, any T >= 1 here).

    temps: (T,), one input value per step; i_weight is (1, H) and o_weight (H, 1).
        tanh: h_0 = tanh(x_0 i_weight)                       (no recurrent term, no h_bias)
              h_t = tanh(x_t i_weight + h_{t-1} h_weight + h_bias),   t >= 1
              y_t = h_t o_weight + o_bias
        relu: h_t = max(0, x_t i_weight + h_{t-1} h_weight) with h_{-1} = 0,   y_t = h_t o_weight
    params: i_weight, h_weight, h_bias, o_weight, o_bias for tanh; i_weight, h_weight, o_weight
    for relu (PyTorch names in the module docstring).
    Returns hiddens (T, H) and outputs (T,). The forward pass needed no correction.
    """
    arrays = _walkthrough_arrays("walkthrough_forward", temps, params, activation)
    return _walkthrough_pass(arrays, activation)


def _walkthrough_gradients(function: str, temps, targets, params: dict) -> tuple[WeatherBPTT, np.ndarray]:
    """The corrected walk-through BPTT, and dL/da_t (T, H) for every step."""
    arrays = _walkthrough_arrays(function, temps, params, "tanh", targets)
    hiddens, outputs = _walkthrough_pass(arrays, "tanh")
    output_grads = outputs - arrays["targets"]
    deltas = _pre_activation_grads(hiddens, output_grads[:, None], arrays["h_weight"], arrays["o_weight"])
    grads = {
        "i_weight": arrays["temps"][None, :] @ deltas,
        "h_weight": hiddens[:-1].T @ deltas[1:],
        "h_bias": deltas[1:].sum(axis=0, keepdims=True),
        "o_weight": hiddens.T @ output_grads[:, None],
        "o_bias": output_grads.sum().reshape(1, 1),
    }
    return WeatherBPTT(0.5 * float(output_grads @ output_grads), grads, hiddens, outputs), deltas


def walkthrough_bptt(temps, targets, params: dict) -> WeatherBPTT:
    """Corrected BPTT of document 001's tanh walk-through (see walkthrough_forward).

    Loss L = 0.5 * sum_t (y_t - target_t)^2, so g_t = dL/dy_t = y_t - target_t. With
    da_t = dL/da_t from the backward recursion (dh_t = g_t o_weight^T + da_{t+1} h_weight^T,
    da_t = dh_t * (1 - h_t^2)):
        i_weight: sum_t x_t da_t            h_weight: sum_{t>=1} h_{t-1}^T da_t
        h_bias:   sum_{t>=1} da_t           o_weight: sum_t h_t^T g_t      o_bias: sum_t g_t
    The sums start at t = 1 for h_weight and h_bias because step 0 uses neither.
    Corrected from the document: step 1 pairs da_1 with h_0 (it printed hiddens[1]), and
    h_bias sums da_t per unit (it took np.mean over the units).
    temps, targets: (T,). Returns the loss, grads keyed like params, hiddens (T, H), outputs (T,).
    """
    result, _ = _walkthrough_gradients("walkthrough_bptt", temps, targets, params)
    return result


def walkthrough_bptt_as_published(temps, targets, params: dict) -> WeatherBPTT:
    """Document 001's walk-through gradients exactly as printed, mistakes included.

    Same forward, loss and backward recursion as walkthrough_bptt (those are right), but:
        h_weight: at step 1 it adds hiddens[1]^T da_1 where h_0 belongs (h_1 instead of h_0);
        h_bias:   it adds np.mean(da_t) over the units, one number for the whole bias.
    For three steps this is the document's cells, term for term; for other lengths every step
    t >= 2 uses h_{t-1} (as its loop version does) and only step 1 keeps the wrong index.
    The document's h_bias gradient is a scalar; it is returned broadcast to h_bias's (1, H).
    i_weight, o_weight and o_bias are right and equal walkthrough_bptt's.
    """
    result, deltas = _walkthrough_gradients("walkthrough_bptt_as_published", temps, targets, params)
    hiddens = result.hiddens
    h_weight_grad = np.zeros((hiddens.shape[1], hiddens.shape[1]))
    h_bias_grad = 0.0
    for t in range(1, len(hiddens)):
        paired_hidden = hiddens[1] if t == 1 else hiddens[t - 1]
        h_weight_grad += np.outer(paired_hidden, deltas[t])
        h_bias_grad += deltas[t].mean()
    grads = {**result.grads, "h_weight": h_weight_grad, "h_bias": np.full((1, hiddens.shape[1]), h_bias_grad)}
    return result._replace(grads=grads)


def _sequence_arrays(function: str, x, params: dict, targets=None) -> dict:
    """Checked arrays for the complete implementation: x (T, I), targets (T, O)."""
    expected = {"x": ("T", "I")}
    data = {"x": x}
    if targets is not None:
        expected["targets"] = ("T", "O")
        data["targets"] = targets
    expected.update(i_weight=("I", "H"), h_weight=("H", "H"), h_bias=(1, "H"), o_weight=("H", "O"), o_bias=(1, "O"))
    return _checked_arrays(function, data, params, expected)


def _sequence_pass(arrays: dict) -> WeatherForward:
    """h_t = tanh(x_t i_weight + h_{t-1} h_weight + h_bias), h_{-1} = 0; y_t = h_t o_weight + o_bias."""
    x, h_weight = arrays["x"], arrays["h_weight"]
    hiddens = np.zeros((len(x), h_weight.shape[0]))
    previous = np.zeros(h_weight.shape[0])
    for t in range(len(x)):
        hiddens[t] = np.tanh(x[t] @ arrays["i_weight"] + previous @ h_weight + arrays["h_bias"][0])
        previous = hiddens[t]
    return WeatherForward(hiddens, hiddens @ arrays["o_weight"] + arrays["o_bias"])


def sequence_forward(x, params: dict) -> WeatherForward:
    """Document 001's "complete implementation" (one layer), many-to-many.

        h_t = tanh(x_t i_weight + h_{t-1} h_weight + h_bias),   h_{-1} = 0, bias at every step
        y_t = h_t o_weight + o_bias
    x: (T, I); params: i_weight, h_weight, h_bias, o_weight, o_bias, which are nn.RNN + nn.Linear
    as in the module docstring.
    Returns hiddens (T, H) and outputs (T, O). The forward pass needed no correction.
    """
    return _sequence_pass(_sequence_arrays("sequence_forward", x, params))


def sequence_bptt(x, targets, params: dict) -> WeatherBPTT:
    """Corrected BPTT of document 001's complete implementation (see sequence_forward).

    Loss L = 0.5 * sum_t |y_t - target_t|^2, g_t = y_t - target_t. With the recursion
    dh_t = g_t o_weight^T + da_{t+1} h_weight^T, da_t = dh_t * (1 - h_t^2):
        i_weight: sum_t x_t^T da_t        h_weight: sum_t h_{t-1}^T da_t  (h_{-1} = 0)
        h_bias:   sum_t da_t              o_weight: sum_t h_t^T g_t       o_bias: sum_t g_t
    Corrected from the document: its loop skips the h_bias gradient at step 0
    (`if j > 0`), although the forward pass adds h_bias at step 0 too; here it is included.
    x: (T, I); targets: (T, O). Returns the loss, grads keyed like params, hiddens, outputs.
    """
    arrays = _sequence_arrays("sequence_bptt", x, params, targets)
    hiddens, outputs = _sequence_pass(arrays)
    output_grads = outputs - arrays["targets"]
    deltas = _pre_activation_grads(hiddens, output_grads, arrays["h_weight"], arrays["o_weight"])
    previous_hiddens = np.vstack([np.zeros((1, hiddens.shape[1])), hiddens[:-1]])
    grads = {
        "i_weight": arrays["x"].T @ deltas,
        "h_weight": previous_hiddens.T @ deltas,
        "h_bias": deltas.sum(axis=0, keepdims=True),
        "o_weight": hiddens.T @ output_grads,
        "o_bias": output_grads.sum(axis=0, keepdims=True),
    }
    return WeatherBPTT(0.5 * float(np.sum(output_grads**2)), grads, hiddens, outputs)
