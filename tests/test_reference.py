"""The reference BPTT formulas against central finite differences, and the documents' own numbers."""

import numpy as np
import pytest

from tinygrad_rnn.reference import sentiment, sine, timeseries, weather

LENGTHS = [1, 2, 7, 50]
RTOL = 1e-7
TEMPS = np.array([66.0, 70.0, 62.0])
TARGETS = np.array([70.0, 62.0, 65.0])


def finite_difference_grads(loss_of, params, step=1e-5):
    """(L(p + step e_i) - L(p - step e_i)) / (2 step) for every entry of every parameter."""
    probe = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
    grads = {}
    for name, value in probe.items():
        grads[name] = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + step
            above = loss_of(probe)
            value[index] = original - step
            below = loss_of(probe)
            value[index] = original
            grads[name][index] = (above - below) / (2 * step)
    return grads


def tolerance(numeric):
    """Absolute tolerance: RTOL times the largest finite-difference entry over all parameters."""
    return RTOL * max(np.abs(grad).max() for grad in numeric.values())


def assert_agree(analytic, numeric, names=None):
    atol = tolerance(numeric)
    for name in names or numeric:
        assert analytic[name].shape == numeric[name].shape, name
        np.testing.assert_allclose(analytic[name], numeric[name], rtol=RTOL, atol=atol, err_msg=name)


def assert_disagree(analytic, numeric, names):
    atol = tolerance(numeric)
    for name in names:
        assert not np.allclose(analytic[name], numeric[name], rtol=1e-3, atol=1e3 * atol), name


def normal(rng, shape, scale=0.5):
    return rng.standard_normal(shape) * scale


def weather_params(rng, inputs, hidden, outputs):
    return {
        "i_weight": normal(rng, (inputs, hidden)),
        "h_weight": normal(rng, (hidden, hidden)),
        "h_bias": normal(rng, (1, hidden)),
        "o_weight": normal(rng, (hidden, outputs)),
        "o_bias": normal(rng, (1, outputs)),
    }


# Document 001: the walk-through's exact numbers


def test_relu_walkthrough_outputs_match_document():
    params = weather.walkthrough_params(0, "relu")
    outputs = weather.walkthrough_forward(TEMPS, params, "relu").outputs
    np.testing.assert_allclose(outputs, [57.94406231, 124.54916092, 190.94853131], rtol=1e-9)


def test_tanh_walkthrough_outputs_and_hiddens_match_document():
    hiddens, outputs = weather.walkthrough_forward(TEMPS, weather.walkthrough_params())
    np.testing.assert_allclose(outputs, [74.31470595, 80.66149404, 77.67852446], rtol=1e-9)
    np.testing.assert_allclose(
        hiddens,
        [
            [0.56784618, 0.99320288, 0.87557333, 0.53166114, -0.76483255],
            [0.58366756, 0.99568651, 0.90034879, 0.69338529, -0.84149203],
            [0.5383306, 0.99164251, 0.86287584, 0.66091071, -0.80543591],
        ],
        rtol=0,
        atol=5e-9,
    )


@pytest.mark.parametrize("bptt", [weather.walkthrough_bptt, weather.walkthrough_bptt_as_published])
def test_walkthrough_i_weight_gradient_matches_document(bptt):
    result = bptt(TEMPS, TARGETS, weather.walkthrough_params())
    np.testing.assert_allclose(result.outputs - TARGETS, [4.31470595, 18.66149404, 12.67852446], rtol=1e-9)
    expected = [[54498.71460476, 926.96931526, 16257.75098388, 66153.99689818, 27292.28884188]]
    np.testing.assert_allclose(result.grads["i_weight"], expected, rtol=1e-9)


def test_walkthrough_params_leave_global_random_state_alone():
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    weather.walkthrough_params(0, "tanh")
    weather.walkthrough_params(0, "relu")
    np.testing.assert_array_equal(np.random.rand(3), expected)


def test_walkthrough_on_document_params_corrected_agrees_published_does_not():
    params = weather.walkthrough_params()
    # Inputs near 66 curve the loss sharply in i_weight, so the step is small.
    numeric = finite_difference_grads(lambda p: weather.walkthrough_bptt(TEMPS, TARGETS, p).loss, params, step=1e-7)
    assert_agree(weather.walkthrough_bptt(TEMPS, TARGETS, params).grads, numeric)
    published = weather.walkthrough_bptt_as_published(TEMPS, TARGETS, params).grads
    assert_agree(published, numeric, ["i_weight", "o_weight", "o_bias"])
    assert_disagree(published, numeric, ["h_weight", "h_bias"])


# Document 001: any length


@pytest.mark.parametrize("length", LENGTHS)
def test_walkthrough_bptt_matches_finite_differences(length):
    rng = np.random.default_rng(length)
    temps, targets = rng.standard_normal(length), rng.standard_normal(length)
    params = weather_params(rng, 1, 4, 1)
    numeric = finite_difference_grads(lambda p: weather.walkthrough_bptt(temps, targets, p).loss, params)
    assert_agree(weather.walkthrough_bptt(temps, targets, params).grads, numeric)


@pytest.mark.parametrize("length", LENGTHS)
def test_walkthrough_as_published_wrong_only_in_h_weight_and_h_bias(length):
    rng = np.random.default_rng(100 + length)
    temps, targets = rng.standard_normal(length), rng.standard_normal(length)
    params = weather_params(rng, 1, 4, 1)
    numeric = finite_difference_grads(lambda p: weather.walkthrough_bptt(temps, targets, p).loss, params)
    published = weather.walkthrough_bptt_as_published(temps, targets, params).grads
    assert_agree(published, numeric, ["i_weight", "o_weight", "o_bias"])
    if length == 1:
        assert_agree(published, numeric, ["h_weight", "h_bias"])
    else:
        assert_disagree(published, numeric, ["h_weight", "h_bias"])


def test_walkthrough_relu_forward_matches_direct_unrolling():
    params = weather.walkthrough_params(3, "relu")
    hidden = np.maximum(0.0, TEMPS[0] * params["i_weight"])
    expected = [(hidden @ params["o_weight"]).item()]
    for temp in TEMPS[1:]:
        hidden = np.maximum(0.0, temp * params["i_weight"] + hidden @ params["h_weight"])
        expected.append((hidden @ params["o_weight"]).item())
    outputs = weather.walkthrough_forward(TEMPS, params, "relu").outputs
    np.testing.assert_allclose(outputs, expected, rtol=1e-15)


@pytest.mark.parametrize("length", LENGTHS)
def test_sequence_bptt_matches_finite_differences(length):
    rng = np.random.default_rng(200 + length)
    x, targets = rng.standard_normal((length, 3)), rng.standard_normal((length, 2))
    params = weather_params(rng, 3, 4, 2)
    numeric = finite_difference_grads(lambda p: weather.sequence_bptt(x, targets, p).loss, params)
    result = weather.sequence_bptt(x, targets, params)
    assert_agree(result.grads, numeric)
    np.testing.assert_allclose(result.outputs, weather.sequence_forward(x, params).outputs, rtol=1e-15)


def test_sequence_and_walkthrough_differ_only_in_step_zero_bias_when_h_bias_is_zero():
    rng = np.random.default_rng(7)
    temps, targets = rng.standard_normal(6), rng.standard_normal(6)
    params = {**weather_params(rng, 1, 4, 1), "h_bias": np.zeros((1, 4))}
    walkthrough = weather.walkthrough_bptt(temps, targets, params)
    sequence = weather.sequence_bptt(temps[:, None], targets[:, None], params)
    np.testing.assert_allclose(sequence.outputs[:, 0], walkthrough.outputs, rtol=1e-14)
    for name in ["i_weight", "h_weight", "o_weight", "o_bias"]:
        np.testing.assert_allclose(sequence.grads[name], walkthrough.grads[name], rtol=1e-12, atol=1e-14)
    assert not np.allclose(sequence.grads["h_bias"], walkthrough.grads["h_bias"])


# Document 000


def timeseries_params(rng, inputs, hidden, outputs):
    return {
        "weights_ih": normal(rng, (inputs, hidden)),
        "weights_hh": normal(rng, (hidden, hidden)),
        "weights_ho": normal(rng, (hidden, outputs)),
        "bias_h": normal(rng, (1, hidden)),
        "bias_o": normal(rng, (1, outputs)),
    }


@pytest.mark.parametrize("length", LENGTHS)
def test_timeseries_bptt_matches_finite_differences(length):
    rng = np.random.default_rng(300 + length)
    xs, target = rng.standard_normal((length, 3)), rng.standard_normal(2)
    params = timeseries_params(rng, 3, 4, 2)
    numeric = finite_difference_grads(lambda p: timeseries.timeseries_bptt(xs, target, p).loss, params)
    result = timeseries.timeseries_bptt(xs, target, params)
    assert_agree(result.grads, numeric)
    np.testing.assert_allclose(result.loss, np.mean((result.output - target) ** 2), rtol=1e-15)


@pytest.mark.parametrize("length", LENGTHS)
def test_timeseries_as_published_halves_recurrent_grads_and_drops_output_layer(length):
    rng = np.random.default_rng(400 + length)
    xs, target = rng.standard_normal((length, 1)), rng.standard_normal()
    params = timeseries_params(rng, 1, 4, 1)
    numeric = finite_difference_grads(lambda p: timeseries.timeseries_bptt(xs, target, p).loss, params)
    corrected = timeseries.timeseries_bptt(xs, target, params).grads
    published = timeseries.timeseries_bptt_as_published(xs, target, params).grads
    for name in ["weights_ih", "weights_hh", "bias_h"]:
        np.testing.assert_allclose(published[name], corrected[name] / 2, rtol=1e-14, atol=1e-300)
    for name in ["weights_ho", "bias_o"]:
        np.testing.assert_array_equal(published[name], 0.0)
    wrong = ["weights_ih", "bias_h", "weights_ho", "bias_o"] + (["weights_hh"] if length > 1 else [])
    assert_disagree(published, numeric, wrong)
    if length == 1:
        assert_agree(published, numeric, ["weights_hh"])


def test_init_weights_follows_document_definitions():
    params = timeseries.init_weights(2, 256, 3, "random", rng=0)
    assert {name: value.shape for name, value in params.items()} == {
        "weights_ih": (2, 256),
        "weights_hh": (256, 256),
        "weights_ho": (256, 3),
        "bias_h": (1, 256),
        "bias_o": (1, 3),
    }
    assert np.std(params["weights_hh"]) == pytest.approx(0.01, rel=0.02)
    np.testing.assert_array_equal(params["bias_h"], 0.0)
    he = timeseries.init_weights(2, 256, 3, "he", rng=np.random.default_rng(5))
    xavier = timeseries.init_weights(2, 256, 3, "xavier", rng=np.random.default_rng(5))
    for name in he:
        np.testing.assert_allclose(xavier[name], he[name], rtol=1e-14)
    assert np.std(he["weights_hh"]) == pytest.approx(np.sqrt(2 / 256), rel=0.02)
    assert np.std(he["weights_ih"][0]) == pytest.approx(1.0, rel=0.2)


def test_init_weights_rejects_unknown_method_and_bad_sizes():
    with pytest.raises(ValueError, match="init_weights"):
        timeseries.init_weights(1, 4, 1, "glorot", rng=0)
    with pytest.raises(ValueError, match="init_weights"):
        timeseries.init_weights(1, 0, 1, "he", rng=0)


# Document 003


def sentiment_params(rng, inputs, hidden, outputs):
    return {
        "Wxh": normal(rng, (hidden, inputs)),
        "Whh": normal(rng, (hidden, hidden)),
        "Why": normal(rng, (outputs, hidden)),
        "bh": normal(rng, (hidden, 1)),
        "by": normal(rng, (outputs, 1)),
    }


def one_hot_words(rng, length, vocabulary):
    return np.eye(vocabulary)[rng.integers(vocabulary, size=length)]


@pytest.mark.parametrize("length", LENGTHS)
def test_sentiment_bptt_matches_finite_differences(length):
    rng = np.random.default_rng(500 + length)
    inputs = one_hot_words(rng, length, 5)
    params = sentiment_params(rng, 5, 4, 3)
    numeric = finite_difference_grads(lambda p: sentiment.sentiment_bptt(inputs, 2, p).loss, params)
    result = sentiment.sentiment_bptt(inputs, 2, params)
    assert_agree(result.grads, numeric)
    assert result.loss == pytest.approx(-np.log(result.probabilities[2]), rel=1e-12)


@pytest.mark.parametrize("length", LENGTHS)
def test_sentiment_as_published_wrong_without_transpose(length):
    rng = np.random.default_rng(600 + length)
    inputs = rng.standard_normal((length, 5))
    params = sentiment_params(rng, 5, 4, 2)
    numeric = finite_difference_grads(lambda p: sentiment.sentiment_bptt(inputs, 0, p).loss, params)
    published = sentiment.sentiment_bptt_as_published(inputs, 0, params).grads
    assert_agree(published, numeric, ["Why", "by"])
    if length == 1:
        assert_agree(published, numeric)
    else:
        assert_disagree(published, numeric, ["Wxh", "bh"])
    if length == 2:
        assert_agree(published, numeric, ["Whh"])
    if length > 2:
        assert_disagree(published, numeric, ["Whh"])


def test_sentiment_as_published_right_when_whh_is_symmetric():
    rng = np.random.default_rng(8)
    inputs = one_hot_words(rng, 7, 5)
    params = sentiment_params(rng, 5, 4, 2)
    params["Whh"] = params["Whh"] + params["Whh"].T
    corrected = sentiment.sentiment_bptt(inputs, 1, params).grads
    published = sentiment.sentiment_bptt_as_published(inputs, 1, params).grads
    for name in params:
        np.testing.assert_allclose(published[name], corrected[name], rtol=1e-12, atol=1e-15)


def test_sentiment_accepts_document_column_inputs():
    rng = np.random.default_rng(9)
    inputs = one_hot_words(rng, 4, 5)
    params = sentiment_params(rng, 5, 4, 2)
    columns = [row[:, None] for row in inputs]
    np.testing.assert_array_equal(
        sentiment.sentiment_forward(columns, params).logits, sentiment.sentiment_forward(inputs, params).logits
    )


def test_sgd_step_clips_then_applies_once():
    params = {"a": np.array([1.0, 1.0, 1.0]), "b": np.array([[2.0]])}
    grads = {"a": np.array([3.0, -0.5, -3.0]), "b": np.array([[0.25]])}
    stepped = sentiment.sgd_step(params, grads, lr=0.1, clip=1.0)
    np.testing.assert_allclose(stepped["a"], [0.9, 1.05, 1.1], rtol=1e-15)
    np.testing.assert_allclose(stepped["b"], [[1.975]], rtol=1e-15)
    np.testing.assert_array_equal(params["a"], 1.0)
    np.testing.assert_array_equal(grads["a"], [3.0, -0.5, -3.0])


def test_sgd_step_as_published_applies_five_progressively_clipped_updates():
    params = {name: np.zeros((2, 2)) for name in sentiment.PARAMS}
    grads = {name: np.full((2, 2), 3.0) for name in sentiment.PARAMS}
    stepped = sentiment.sgd_step_as_published(params, grads, lr=1.0, clip=1.0)
    moved = {name: -stepped[name][0, 0] for name in sentiment.PARAMS}
    assert moved == {"Wxh": 5.0, "Whh": 3.0 + 4.0, "Why": 6.0 + 3.0, "bh": 9.0 + 2.0, "by": 12.0 + 1.0}
    np.testing.assert_array_equal(grads["Wxh"], 3.0)
    once = sentiment.sgd_step(params, grads, lr=1.0, clip=1.0)
    assert all(once[name][0, 0] == -1.0 for name in sentiment.PARAMS)


def test_sgd_step_as_published_is_five_steps_when_nothing_is_clipped():
    rng = np.random.default_rng(10)
    params = sentiment_params(rng, 5, 4, 2)
    grads = {name: rng.uniform(-1, 1, value.shape) for name, value in params.items()}
    published = sentiment.sgd_step_as_published(params, grads, lr=0.02)
    for name, value in params.items():
        np.testing.assert_allclose(published[name], value - 5 * 0.02 * grads[name], rtol=1e-13)


# Document 004


@pytest.mark.parametrize("length", LENGTHS)
def test_sine_bptt_matches_finite_differences(length):
    rng = np.random.default_rng(700 + length)
    x = np.sin(np.arange(length) / 20 + rng.uniform(0, 10))
    params = {"Wih": normal(rng, (6, 1)), "Whh": normal(rng, (6, 6), 0.3), "Who": normal(rng, (1, 6))}
    numeric = finite_difference_grads(lambda p: sine.sine_bptt(x, 0.7, p).loss, params)
    result = sine.sine_bptt(x, 0.7, params)
    assert_agree(result.grads, numeric)
    assert result.loss == pytest.approx(0.5 * (result.outputs[-1] - 0.7) ** 2, rel=1e-14)


def test_sine_forward_matches_direct_unrolling():
    rng = np.random.default_rng(11)
    params = {
        "Wih": rng.uniform(0, 0.99, (5, 1)),
        "Whh": rng.uniform(0, 0.99, (5, 5)),
        "Who": rng.uniform(0, 0.99, (1, 5)),
    }
    x = np.sin(np.arange(4) / 20)
    hidden = np.zeros((5, 1))
    expected = []
    for value in x:
        hidden = np.tanh(params["Whh"] @ hidden + params["Wih"] * value)
        expected.append((params["Who"] @ hidden).item())
    np.testing.assert_allclose(sine.sine_forward(x, params).outputs, expected, rtol=1e-14)


# Bad input


def test_wrong_shapes_raise_value_error_naming_function_and_shapes():
    tanh_params = weather.walkthrough_params()
    with pytest.raises(ValueError, match=r"walkthrough_bptt: targets .*got \(2,\)"):
        weather.walkthrough_bptt(TEMPS, TARGETS[:2], tanh_params)
    with pytest.raises(ValueError, match=r"sequence_bptt: x must have shape \(T=4, I=1\).*got \(4, 3\)"):
        weather.sequence_bptt(np.zeros((4, 3)), np.zeros((4, 1)), tanh_params)
    with pytest.raises(ValueError, match="walkthrough_forward: params must have the keys"):
        weather.walkthrough_forward(TEMPS, tanh_params, "relu")
    with pytest.raises(ValueError, match="walkthrough_forward: activation"):
        weather.walkthrough_forward(TEMPS, tanh_params, "sigmoid")
    with pytest.raises(ValueError, match=r"sequence_forward: x .*got \(0, 1\)"):
        weather.sequence_forward(np.zeros((0, 1)), tanh_params)
    rng = np.random.default_rng(12)
    with pytest.raises(ValueError, match=r"timeseries_bptt: target must have shape \(O=2\).*got \(3,\)"):
        timeseries.timeseries_bptt(np.zeros((2, 3)), np.zeros(3), timeseries_params(rng, 3, 4, 2))
    params = sentiment_params(rng, 5, 4, 2)
    with pytest.raises(ValueError, match=r"sentiment_forward: inputs .*got \(3, 6\)"):
        sentiment.sentiment_forward(np.zeros((3, 6)), params)
    with pytest.raises(ValueError, match="sentiment_bptt: target_index"):
        sentiment.sentiment_bptt(np.zeros((3, 5)), 2, params)
    with pytest.raises(ValueError, match=r"sgd_step: grads\['Whh'\] has shape \(3, 3\)"):
        sentiment.sgd_step(params, {**params, "Whh": np.zeros((3, 3))}, lr=0.1)
    with pytest.raises(ValueError, match="sine_bptt: Who"):
        sine.sine_bptt(np.zeros(4), 0.0, {"Wih": np.zeros((3, 1)), "Whh": np.zeros((3, 3)), "Who": np.zeros((3, 1))})


# PyTorch parity: the parameter mapping stated in each module docstring


def torch_rnn_and_linear(torch, weight_ih, weight_hh, weight_out, bias_ih=None, bias_out=None):
    """nn.RNN + nn.Linear in float64 holding the given PyTorch-layout arrays (no biases when None)."""
    has_bias = bias_ih is not None
    hidden, inputs = weight_ih.shape
    rnn = torch.nn.RNN(inputs, hidden, bias=has_bias, batch_first=True).double()
    linear = torch.nn.Linear(hidden, weight_out.shape[0], bias=has_bias).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(weight_ih))
        rnn.weight_hh_l0.copy_(torch.from_numpy(weight_hh))
        linear.weight.copy_(torch.from_numpy(weight_out))
        if has_bias:
            rnn.bias_ih_l0.copy_(torch.from_numpy(bias_ih))
            rnn.bias_hh_l0.zero_()
            linear.bias.copy_(torch.from_numpy(bias_out))
    return rnn, linear


def test_sequence_and_timeseries_match_pytorch_with_row_vector_mapping():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    x, targets = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
    params = weather_params(rng, 3, 4, 2)
    rnn, linear = torch_rnn_and_linear(
        torch,
        params["i_weight"].T.copy(),
        params["h_weight"].T.copy(),
        params["o_weight"].T.copy(),
        params["h_bias"][0],
        params["o_bias"][0],
    )
    hiddens, _ = rnn(torch.from_numpy(x)[None])
    outputs = linear(hiddens[0])
    (0.5 * ((outputs - torch.from_numpy(targets)) ** 2).sum()).backward()
    grads = weather.sequence_bptt(x, targets, params).grads
    np.testing.assert_allclose(grads["i_weight"], rnn.weight_ih_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(grads["h_weight"], rnn.weight_hh_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(grads["h_bias"][0], rnn.bias_ih_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["o_weight"], linear.weight.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(grads["o_bias"][0], linear.bias.grad.numpy(), rtol=1e-10)

    series_params = {
        "weights_ih": params["i_weight"],
        "weights_hh": params["h_weight"],
        "weights_ho": params["o_weight"],
        "bias_h": params["h_bias"],
        "bias_o": params["o_bias"],
    }
    for parameter in [*rnn.parameters(), *linear.parameters()]:
        parameter.grad = None
    hiddens, _ = rnn(torch.from_numpy(x)[None])
    torch.mean((linear(hiddens[0, -1]) - torch.from_numpy(targets[-1])) ** 2).backward()
    grads = timeseries.timeseries_bptt(x, targets[-1], series_params).grads
    np.testing.assert_allclose(grads["weights_ih"], rnn.weight_ih_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(grads["weights_hh"], rnn.weight_hh_l0.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(grads["bias_h"][0], rnn.bias_ih_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["weights_ho"], linear.weight.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(grads["bias_o"][0], linear.bias.grad.numpy(), rtol=1e-10)


def test_sentiment_matches_pytorch_with_column_vector_mapping():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    inputs = one_hot_words(rng, 6, 5)
    params = sentiment_params(rng, 5, 4, 2)
    rnn, linear = torch_rnn_and_linear(
        torch, params["Wxh"], params["Whh"], params["Why"], params["bh"][:, 0], params["by"][:, 0]
    )
    hiddens, _ = rnn(torch.from_numpy(inputs)[None])
    logits = linear(hiddens[0, -1])
    torch.nn.functional.cross_entropy(logits[None], torch.tensor([1])).backward()
    grads = sentiment.sentiment_bptt(inputs, 1, params).grads
    np.testing.assert_allclose(grads["Wxh"], rnn.weight_ih_l0.grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(grads["Whh"], rnn.weight_hh_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["bh"][:, 0], rnn.bias_ih_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["Why"], linear.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["by"][:, 0], linear.bias.grad.numpy(), rtol=1e-10)


def test_sine_matches_pytorch_without_biases():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(15)
    x = np.sin(np.arange(4) / 20)
    params = {"Wih": rng.uniform(0, 0.99, (5, 1)), "Whh": normal(rng, (5, 5), 0.3), "Who": rng.uniform(0, 0.99, (1, 5))}
    rnn, linear = torch_rnn_and_linear(torch, params["Wih"], params["Whh"], params["Who"])
    hiddens, _ = rnn(torch.from_numpy(x)[None, :, None])
    (0.5 * (linear(hiddens[0, -1]) - 0.3) ** 2).sum().backward()
    grads = sine.sine_bptt(x, 0.3, params).grads
    np.testing.assert_allclose(grads["Wih"], rnn.weight_ih_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["Whh"], rnn.weight_hh_l0.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(grads["Who"], linear.weight.grad.numpy(), rtol=1e-10)
