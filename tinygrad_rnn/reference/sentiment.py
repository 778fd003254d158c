"""Document 003 (sentence sentiment, 003_3fb2b44c34cd4aa6): its Elman RNN and BPTT, corrected.

Column vectors, many-to-one, softmax cross-entropy on the output of the last hidden state:
    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),   h_0 = 0,   t = 1..T
    y   = Why h_T + by,   p = softmax(y),   L = -log p[target]   (natural log)

Parameters keep the document's names. Against PyTorch's nn.RNN(I, H) followed by nn.Linear(H, O),
applied to the last hidden state:
    Wxh (H, I) == rnn.weight_ih_l0
    Whh (H, H) == rnn.weight_hh_l0
    bh  (H, 1) == rnn.bias_ih_l0[:, None], with rnn.bias_hh_l0 = 0
    Why (O, H) == linear.weight
    by  (O, 1) == linear.bias[:, None]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._shapes import checked_arrays as _checked_arrays

PARAMS = ("Wxh", "Whh", "Why", "bh", "by")  # the order of the document's clipping loop


class SentimentForward(NamedTuple):
    """hiddens: (T, H), row t-1 is h_t (h_0 = 0 is not stored). logits: y, (O,).
    probabilities: softmax(y), (O,)."""

    hiddens: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray


class SentimentBPTT(NamedTuple):
    """The loss, its gradient for every parameter (keyed like params), and the forward values."""

    loss: float
    grads: dict[str, np.ndarray]
    hiddens: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray


def _arrays(function: str, inputs, params: dict) -> dict:
    """Checked arrays: inputs (T, I), or the document's T one-hot columns stacked as (T, I, 1)."""
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim == 3 and inputs.shape[2] == 1:
        inputs = inputs[:, :, 0]
    expected = {
        "inputs": ("T", "I"),
        "Wxh": ("H", "I"),
        "Whh": ("H", "H"),
        "Why": ("O", "H"),
        "bh": ("H", 1),
        "by": ("O", 1),
    }
    return _checked_arrays(function, {"inputs": inputs}, params, expected)


def _forward_pass(arrays: dict) -> SentimentForward:
    """h_t = tanh(Wxh x_t + Whh h_{t-1} + bh) from h_0 = 0; y = Why h_T + by; p = softmax(y)."""
    Whh = arrays["Whh"]
    hiddens = np.zeros((len(arrays["inputs"]), Whh.shape[0]))
    previous = np.zeros(Whh.shape[0])
    for t, x in enumerate(arrays["inputs"]):
        hiddens[t] = np.tanh(arrays["Wxh"] @ x + Whh @ previous + arrays["bh"][:, 0])
        previous = hiddens[t]
    logits = arrays["Why"] @ hiddens[-1] + arrays["by"][:, 0]
    exponentials = np.exp(logits - logits.max())
    return SentimentForward(hiddens, logits, exponentials / exponentials.sum())


def _bptt(function: str, inputs, target_index, params: dict, transpose_carry: bool) -> SentimentBPTT:
    """Loss and gradients. The step-to-step carry is dh_{t-1} = Whh^T da_t, or Whh da_t
    (the document's) when transpose_carry is False."""
    arrays = _arrays(function, inputs, params)
    hiddens, logits, probabilities = _forward_pass(arrays)
    if not isinstance(target_index, (int, np.integer)) or not 0 <= target_index < len(logits):
        raise ValueError(f"{function}: target_index must be an integer in [0, {len(logits)}), got {target_index!r}")
    logits_grad = probabilities.copy()
    logits_grad[target_index] -= 1.0
    carry = arrays["Whh"].T if transpose_carry else arrays["Whh"]
    deltas = np.zeros_like(hiddens)
    hidden_grad = arrays["Why"].T @ logits_grad
    for t in reversed(range(len(hiddens))):
        deltas[t] = (1.0 - hiddens[t] ** 2) * hidden_grad
        hidden_grad = carry @ deltas[t]
    previous_hiddens = np.vstack([np.zeros((1, hiddens.shape[1])), hiddens[:-1]])
    grads = {
        "Wxh": deltas.T @ arrays["inputs"],
        "Whh": deltas.T @ previous_hiddens,
        "Why": np.outer(logits_grad, hiddens[-1]),
        "bh": deltas.sum(axis=0)[:, None],
        "by": logits_grad[:, None],
    }
    shift = logits.max()
    loss = float(shift + np.log(np.sum(np.exp(logits - shift))) - logits[target_index])
    return SentimentBPTT(loss, grads, hiddens, logits, probabilities)


def sentiment_forward(inputs, params: dict) -> SentimentForward:
    """Document 003's RNN.forward followed by its softmax.

        h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),  h_0 = 0;   y = Why h_T + by;   p = softmax(y)
    inputs: (T, I), row t-1 is x_t (one-hot in the document; any values work), or the document's
    list of (I, 1) columns. Returns hiddens (T, H), logits (O,), probabilities (O,).
    The forward pass needed no correction.
    """
    return _forward_pass(_arrays("sentiment_forward", inputs, params))


def sentiment_bptt(inputs, target_index: int, params: dict) -> SentimentBPTT:
    """Corrected BPTT of document 003's RNN (see sentiment_forward) for L = -log softmax(y)[target].

    dL/dy = p - onehot(target). Why: dL/dy h_T^T, by: dL/dy. Then backwards in t,
        dh_T = Why^T dL/dy,   da_t = (1 - h_t^2) * dh_t,   dh_{t-1} = Whh^T da_t
        Wxh: sum_t da_t x_t^T     Whh: sum_t da_t h_{t-1}^T (h_0 = 0)     bh: sum_t da_t
    Corrected from the document: it carried Whh da_t back a step, without the transpose.
    Returns the loss (natural log), grads keyed like params, and the forward values.
    """
    return _bptt("sentiment_bptt", inputs, target_index, params, transpose_carry=True)


def sentiment_bptt_as_published(inputs, target_index: int, params: dict) -> SentimentBPTT:
    """Document 003's RNN.backprop gradients exactly as printed (before its clipping and update).

    Identical to sentiment_bptt except dh_{t-1} = Whh da_t: the transpose is missing, so every
    da_t before the last is wrong. Why and by are right, and so is everything when T = 1 or Whh
    is symmetric; otherwise Wxh and bh are wrong, and Whh too once T >= 3 (with h_0 = 0 the
    first wrong da_t it would use is multiplied by zero when T = 2).
    """
    return _bptt("sentiment_bptt_as_published", inputs, target_index, params, transpose_carry=False)


def _checked_update(function: str, params: dict, grads: dict, clip: float) -> None:
    """Raise a ValueError naming `function` unless grads match params key for key and shape
    for shape and clip is positive."""
    if set(params) != set(grads):
        raise ValueError(f"{function}: params and grads need the same keys, got {list(params)} and {list(grads)}")
    for name in params:
        if np.shape(params[name]) != np.shape(grads[name]):
            raise ValueError(
                f"{function}: grads[{name!r}] has shape {np.shape(grads[name])}, "
                f"params[{name!r}] has shape {np.shape(params[name])}"
            )
    if not clip > 0:
        raise ValueError(f"{function}: clip must be positive, got {clip!r}")


def sgd_step(params: dict, grads: dict, lr: float, clip: float = 1.0) -> dict[str, np.ndarray]:
    """One plain SGD step with per-value clipping, as document 003 intends it.

        p <- p - lr * clip(g, -clip, clip)   for every parameter, once
    Returns new arrays; params and grads are not modified.
    """
    _checked_update("sgd_step", params, grads, clip)
    return {
        name: np.asarray(value, dtype=np.float64) - lr * np.clip(grads[name], -clip, clip)
        for name, value in params.items()
    }


def sgd_step_as_published(params: dict, grads: dict, lr: float, clip: float = 1.0) -> dict[str, np.ndarray]:
    """Document 003's update as printed: inside the clipping loop, so it runs five times.

    The loop goes over the gradients in the order Wxh, Whh, Why, bh, by; each pass clips one more
    of them and then subtracts lr * g from every parameter. So Wxh moves by 5 lr clip(g), Whh by
    lr (g + 4 clip(g)), Why by lr (2 g + 3 clip(g)), bh by lr (3 g + 2 clip(g)) and by by
    lr (4 g + clip(g)). Returns new arrays; params and grads are not modified.
    """
    if set(params) != set(PARAMS):
        raise ValueError(f"sgd_step_as_published: params must have the keys {list(PARAMS)}, got {list(params)}")
    _checked_update("sgd_step_as_published", params, grads, clip)
    updated = {name: np.array(params[name], dtype=np.float64) for name in PARAMS}
    current_grads = {name: np.array(grads[name], dtype=np.float64) for name in PARAMS}
    for clipped_name in PARAMS:
        np.clip(current_grads[clipped_name], -clip, clip, out=current_grads[clipped_name])
        for name in PARAMS:
            updated[name] -= lr * current_grads[name]
    return updated
