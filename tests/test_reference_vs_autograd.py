"""The hand-derived BPTT of the four documents (tinygrad_rnn.reference) against autograd.

Each reference network is rebuilt as nn.RNN + nn.Linear with the reference parameters loaded
through load_state_dict (bias_hh_l0 = 0, since the documents have one hidden bias), the same
loss is written with Tensor ops, backward() runs, and compare_gradients checks every gradient
to a relative 1e-10 in float64. The documents' own formulas (`*_as_published`) are then shown
to disagree with autograd exactly where their docstrings say they are wrong.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, concatenate, nn
from tinygrad_rnn.compare import compare_gradients
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.reference import (
    sentiment_bptt,
    sentiment_bptt_as_published,
    sequence_bptt,
    sine_bptt,
    timeseries_bptt,
    timeseries_bptt_as_published,
    walkthrough_bptt,
    walkthrough_bptt_as_published,
)

LENGTHS = [1, 2, 7, 50]
RTOL = 1e-10
WRONG = 1e-3  # a published gradient counts as wrong when some entry is off by more than this, relatively


class RNNWithHead(nn.Module):
    """nn.RNN followed by nn.Linear, on every step (many-to-many) or on the last one (many-to-one)."""

    def __init__(self, input_size, hidden_size, output_size, bias=True):
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, bias=bias, rng=0)
        self.linear = nn.Linear(hidden_size, output_size, bias=bias, rng=0)

    def forward(self, x, many_to_many):
        output, h_n = self.rnn(x)  # unbatched: output (T, H), h_n (1, H)
        return self.linear(output if many_to_many else h_n[0])


def rng_for(*key):
    return np.random.default_rng([20261123, *key])


def weights(rng, *shape, scale=None):
    """Standard normal scaled by 1/sqrt(last dimension): tanh neither saturates nor dies over 50 steps."""
    scale = 1.0 / np.sqrt(shape[-1]) if scale is None else scale
    return rng.standard_normal(shape) * scale


def model_from_state(state, input_size, hidden_size, output_size, bias=True):
    model = RNNWithHead(input_size, hidden_size, output_size, bias=bias)
    model.load_state_dict(state)
    for name, value in state.items():
        np.testing.assert_array_equal(dict(model.named_parameters())[name].data, value)
    return model


def autograd_grads(model, length):
    """name -> gradient array of every parameter, for compare_gradients.

    Every parameter must have received a gradient; for T = 1, weight_hh_l0 only meets
    h_0 = 0, so its gradient is a zero array (as PyTorch's), which the reference must give too.
    """
    grads = {name: param.grad for name, param in model.named_parameters()}
    assert all(grad is not None for grad in grads.values())
    if length == 1:
        np.testing.assert_array_equal(grads["rnn.weight_hh_l0"], 0.0)
    return grads


def assert_agrees(result, names=None):
    names = result if names is None else names
    bad = {name: result[name]["max_rel_diff"] for name in names if not result[name]["max_rel_diff"] <= RTOL}
    assert not bad, f"autograd and the reference differ (max relative difference): {bad}"


def assert_disagrees(result, names):
    agreeing = {name: result[name]["max_rel_diff"] for name in names if not result[name]["max_rel_diff"] > WRONG}
    assert not agreeing, f"expected these published gradients to be wrong, but they agree: {agreeing}"


def assert_close_loss(autograd_loss, reference_loss):
    assert autograd_loss.shape == ()
    np.testing.assert_allclose(autograd_loss.item(), reference_loss, rtol=RTOL, atol=0)


# ------------------------------------------------------------------ 001: the complete implementation

SEQUENCE_MAPPING = {
    "i_weight": ("rnn.weight_ih_l0", "T"),
    "h_weight": ("rnn.weight_hh_l0", "T"),
    "h_bias": ("rnn.bias_ih_l0", "flatten"),
    "o_weight": ("linear.weight", "T"),
    "o_bias": ("linear.bias", "flatten"),
}


def sequence_case(length, n_in=3, H=5, n_out=2):
    rng = rng_for(1, length)
    params = {
        "i_weight": weights(rng, n_in, H, scale=1 / np.sqrt(n_in)),
        "h_weight": weights(rng, H, H),
        "h_bias": weights(rng, 1, H, scale=0.3),
        "o_weight": weights(rng, H, n_out, scale=1 / np.sqrt(H)),
        "o_bias": weights(rng, 1, n_out, scale=0.3),
    }
    return rng.standard_normal((length, n_in)), rng.standard_normal((length, n_out)), params


@pytest.mark.parametrize("length", LENGTHS)
def test_001_sequence_bptt_matches_autograd(length):
    x, targets, params = sequence_case(length)
    reference = sequence_bptt(x, targets, params)
    n_in, H = params["i_weight"].shape
    model = model_from_state(
        {
            "rnn.weight_ih_l0": params["i_weight"].T,
            "rnn.weight_hh_l0": params["h_weight"].T,
            "rnn.bias_ih_l0": params["h_bias"][0],
            "rnn.bias_hh_l0": np.zeros(H),
            "linear.weight": params["o_weight"].T,
            "linear.bias": params["o_bias"][0],
        },
        n_in,
        H,
        params["o_weight"].shape[1],
    )
    outputs = model(x, many_to_many=True)
    difference = outputs - targets
    loss = 0.5 * (difference * difference).sum()
    loss.backward()

    assert_close_loss(loss, reference.loss)
    np.testing.assert_allclose(outputs.numpy(), reference.outputs, rtol=RTOL)
    assert_agrees(compare_gradients(reference.grads, autograd_grads(model, length), SEQUENCE_MAPPING))
    # the one bias of the document is the sum of PyTorch's two: both get its gradient
    np.testing.assert_array_equal(model.rnn.bias_hh_l0.grad, model.rnn.bias_ih_l0.grad)


# ------------------------------------------------------------------ 001: the walk-through and its two mistakes


def walkthrough_case(length, H=5):
    rng = rng_for(11, length)
    params = {
        "i_weight": weights(rng, 1, H, scale=0.5),
        "h_weight": weights(rng, H, H),
        "h_bias": weights(rng, 1, H, scale=0.3),
        "o_weight": weights(rng, H, 1, scale=1 / np.sqrt(H)),
        "o_bias": weights(rng, 1, 1, scale=0.3),
    }
    return rng.standard_normal(length), rng.standard_normal(length), params


def walkthrough_autograd(temps, targets, params):
    """The walk-through's graph from Tensor ops: step 0 has neither h_weight nor h_bias."""
    tensors = {name: Tensor(value, requires_grad=True, name=name) for name, value in params.items()}
    hidden, outputs = None, []
    for temp in temps:
        xi = Tensor([[temp]]) @ tensors["i_weight"]
        hidden = (xi if hidden is None else xi + hidden @ tensors["h_weight"] + tensors["h_bias"]).tanh()
        outputs.append(hidden @ tensors["o_weight"] + tensors["o_bias"])
    difference = concatenate(outputs, axis=0).reshape(-1) - np.asarray(targets)
    loss = 0.5 * (difference * difference).sum()
    loss.backward()
    return loss, tensors


@pytest.mark.parametrize("length", [2, 3, 7, 50])  # with T = 1, h_weight and h_bias are not in the graph
def test_001_walkthrough_bptt_matches_autograd_and_the_published_one_does_not(length):
    temps, targets, params = walkthrough_case(length)
    loss, tensors = walkthrough_autograd(temps, targets, params)
    corrected = walkthrough_bptt(temps, targets, params)
    published = walkthrough_bptt_as_published(temps, targets, params)

    assert_close_loss(loss, corrected.loss)
    assert published.loss == corrected.loss
    assert_agrees(compare_gradients(corrected.grads, tensors))
    published_result = compare_gradients(published.grads, tensors)
    assert_agrees(published_result, ["i_weight", "o_weight", "o_bias"])
    # h_1 where h_0 belongs in h_weight's step-1 term; mean over the units for h_bias
    assert_disagrees(published_result, ["h_weight", "h_bias"])


# ------------------------------------------------------------------ 000: many-to-one, mean squared error

TIMESERIES_MAPPING = {
    "weights_ih": ("rnn.weight_ih_l0", "T"),
    "weights_hh": ("rnn.weight_hh_l0", "T"),
    "bias_h": ("rnn.bias_ih_l0", "flatten"),
    "weights_ho": ("linear.weight", "T"),
    "bias_o": ("linear.bias", "flatten"),
}


def timeseries_case(length, n_in=4, H=6, n_out=3):
    rng = rng_for(0, length)
    params = {
        "weights_ih": weights(rng, n_in, H, scale=1 / np.sqrt(n_in)),
        "weights_hh": weights(rng, H, H),
        "weights_ho": weights(rng, H, n_out, scale=1 / np.sqrt(H)),
        "bias_h": weights(rng, 1, H, scale=0.3),
        "bias_o": weights(rng, 1, n_out, scale=0.3),
    }
    return rng.standard_normal((length, n_in)), rng.standard_normal(n_out), params


def timeseries_autograd(xs, target, params):
    n_in, H = params["weights_ih"].shape
    model = model_from_state(
        {
            "rnn.weight_ih_l0": params["weights_ih"].T,
            "rnn.weight_hh_l0": params["weights_hh"].T,
            "rnn.bias_ih_l0": params["bias_h"][0],
            "rnn.bias_hh_l0": np.zeros(H),
            "linear.weight": params["weights_ho"].T,
            "linear.bias": params["bias_o"][0],
        },
        n_in,
        H,
        params["weights_ho"].shape[1],
    )
    output = model(xs, many_to_many=False)
    difference = output - target
    loss = (difference * difference).mean()
    np.testing.assert_allclose(F.mse_loss(output, target).item(), loss.item(), rtol=1e-15)
    loss.backward()
    return model, output, loss


@pytest.mark.parametrize("length", LENGTHS)
def test_000_timeseries_bptt_matches_autograd(length):
    xs, target, params = timeseries_case(length)
    reference = timeseries_bptt(xs, target, params)
    model, output, loss = timeseries_autograd(xs, target, params)

    assert_close_loss(loss, reference.loss)
    np.testing.assert_allclose(output.numpy(), reference.output, rtol=RTOL)
    assert_agrees(compare_gradients(reference.grads, autograd_grads(model, length), TIMESERIES_MAPPING))


@pytest.mark.parametrize("length", LENGTHS)
def test_000_published_bptt_misses_the_output_layer_and_halves_the_rest(length):
    xs, target, params = timeseries_case(length)
    published = timeseries_bptt_as_published(xs, target, params)
    model, _, loss = timeseries_autograd(xs, target, params)

    assert_close_loss(loss, published.loss)
    for name in ["weights_ho", "bias_o"]:
        assert not published.grads[name].any()
        assert np.all(dict(model.named_parameters())[TIMESERIES_MAPPING[name][0]].grad != 0)
    result = compare_gradients(published.grads, autograd_grads(model, length), TIMESERIES_MAPPING)
    recurrent = ["weights_ih", "bias_h"] + (["weights_hh"] if length > 1 else [])  # T = 1: both zero
    assert_disagrees(result, ["weights_ho", "bias_o"] + recurrent)
    doubled = {name: 2 * published.grads[name] for name in ["weights_ih", "weights_hh", "bias_h"]}
    assert_agrees(compare_gradients(doubled, autograd_grads(model, length), TIMESERIES_MAPPING))


# ------------------------------------------------------------------ 003: column vectors, cross-entropy

SENTIMENT_MAPPING = {
    "Wxh": "rnn.weight_ih_l0",
    "Whh": "rnn.weight_hh_l0",
    "bh": ("rnn.bias_ih_l0", "flatten"),
    "Why": "linear.weight",
    "by": ("linear.bias", "flatten"),
}


def sentiment_case(length, n_in=5, H=6, n_out=3, symmetric=False):
    rng = rng_for(3, length, symmetric)
    Whh = weights(rng, H, H)
    if symmetric:
        Whh = (Whh + Whh.T) / np.sqrt(2)
    params = {
        "Wxh": weights(rng, H, n_in, scale=1.0),
        "Whh": Whh,
        "Why": weights(rng, n_out, H),
        "bh": weights(rng, H, 1, scale=0.3),
        "by": weights(rng, n_out, 1, scale=0.3),
    }
    inputs = np.eye(n_in)[rng.integers(0, n_in, length)]  # the document's one-hot words, as rows
    return inputs, int(rng.integers(0, n_out)), params


def sentiment_autograd(inputs, target_index, params):
    H, n_in = params["Wxh"].shape
    model = model_from_state(
        {
            "rnn.weight_ih_l0": params["Wxh"],
            "rnn.weight_hh_l0": params["Whh"],
            "rnn.bias_ih_l0": params["bh"][:, 0],
            "rnn.bias_hh_l0": np.zeros(H),
            "linear.weight": params["Why"],
            "linear.bias": params["by"][:, 0],
        },
        n_in,
        H,
        params["Why"].shape[0],
    )
    logits = model(inputs, many_to_many=False)
    loss = -logits.log_softmax(axis=-1)[target_index]
    np.testing.assert_allclose(F.cross_entropy(logits, target_index).item(), loss.item(), rtol=1e-15)
    loss.backward()
    return model, logits, loss


@pytest.mark.parametrize("length", LENGTHS)
def test_003_sentiment_bptt_matches_autograd(length):
    inputs, target_index, params = sentiment_case(length)
    reference = sentiment_bptt(inputs, target_index, params)
    model, logits, loss = sentiment_autograd(inputs, target_index, params)

    assert_close_loss(loss, reference.loss)
    np.testing.assert_allclose(logits.numpy(), reference.logits, rtol=RTOL)
    assert_agrees(compare_gradients(reference.grads, autograd_grads(model, length), SENTIMENT_MAPPING))


@pytest.mark.parametrize("length", [3, 7, 50])
def test_003_published_bptt_misses_the_transpose(length):
    inputs, target_index, params = sentiment_case(length)
    assert not np.allclose(params["Whh"], params["Whh"].T)
    published = sentiment_bptt_as_published(inputs, target_index, params)
    model, _, loss = sentiment_autograd(inputs, target_index, params)

    assert_close_loss(loss, published.loss)
    result = compare_gradients(published.grads, autograd_grads(model, length), SENTIMENT_MAPPING)
    assert_agrees(result, ["Why", "by"])
    assert_disagrees(result, ["Wxh", "Whh", "bh"])


@pytest.mark.parametrize("length, symmetric", [(1, False), (2, False), (7, True)])
def test_003_published_bptt_is_right_when_the_transpose_cannot_matter(length, symmetric):
    """T = 1 or a symmetric Whh: all right. T = 2: Whh still right (h_0 = 0 hides the wrong da_1)."""
    inputs, target_index, params = sentiment_case(length, symmetric=symmetric)
    published = sentiment_bptt_as_published(inputs, target_index, params)
    model, _, _ = sentiment_autograd(inputs, target_index, params)
    result = compare_gradients(published.grads, autograd_grads(model, length), SENTIMENT_MAPPING)
    if length == 2:
        assert_agrees(result, ["Whh", "Why", "by"])
        assert_disagrees(result, ["Wxh", "bh"])
    else:
        assert_agrees(result)


# ------------------------------------------------------------------ 004: no biases, (y - Y)^2 / 2

SINE_MAPPING = {"Wih": "rnn.weight_ih_l0", "Whh": "rnn.weight_hh_l0", "Who": "linear.weight"}


@pytest.mark.parametrize("length", LENGTHS)
def test_004_sine_bptt_matches_autograd(length, H=6):
    rng = rng_for(4, length)
    params = {"Wih": weights(rng, H, 1, scale=1.0), "Whh": weights(rng, H, H), "Who": weights(rng, 1, H)}
    x = np.sin(np.linspace(0, 4, length) + rng.uniform(0, 2 * np.pi))
    y_target = float(rng.standard_normal())
    reference = sine_bptt(x, y_target, params)

    model = model_from_state(
        {"rnn.weight_ih_l0": params["Wih"], "rnn.weight_hh_l0": params["Whh"], "linear.weight": params["Who"]},
        1,
        H,
        1,
        bias=False,
    )
    assert len(dict(model.named_parameters())) == 3
    y = model(x[:, None], many_to_many=False)
    loss = ((y - y_target) ** 2).sum() / 2
    loss.backward()

    assert_close_loss(loss, reference.loss)
    np.testing.assert_allclose(y.numpy(), reference.outputs[-1:], rtol=RTOL)
    assert_agrees(compare_gradients(reference.grads, autograd_grads(model, length), SINE_MAPPING))
