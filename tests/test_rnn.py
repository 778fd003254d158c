"""nn.RNN and nn.RNNCell: shapes, PyTorch names, gradients through the unrolled graph, errors."""

import sys

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck, nn


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_rnn_gradients_pass_gradcheck(nonlinearity, num_layers, bias):
    rng = np.random.default_rng(1)
    rnn = nn.RNN(3, 4, num_layers=num_layers, nonlinearity=nonlinearity, bias=bias, rng=rng)
    x = Tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((num_layers, 2, 4)) * 0.5, requires_grad=True)

    def run(x, h0, *params):
        output, h_n = rnn(x, h0)
        return output.sum(axis=0) + h_n.sum(axis=0) * 0.5

    report = gradcheck(run, [x, h0, *rnn.parameters()], rtol=1e-6, atol=1e-9)
    assert report.ok


def test_parameter_names_and_shapes_follow_pytorch():
    rnn = nn.RNN(3, 5, num_layers=2)
    shapes = {name: p.shape for name, p in rnn.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (5, 3),
        "weight_hh_l0": (5, 5),
        "bias_ih_l0": (5,),
        "bias_hh_l0": (5,),
        "weight_ih_l1": (5, 5),
        "weight_hh_l1": (5, 5),
        "bias_ih_l1": (5,),
        "bias_hh_l1": (5,),
    }
    assert [n for n, _ in nn.RNN(3, 5, bias=False).named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    assert all(abs(p.data).max() <= 1 / np.sqrt(5) for p in rnn.parameters())


def test_input_layouts_give_the_same_result():
    rng = np.random.default_rng(2)
    rnn = nn.RNN(3, 4, num_layers=2, rng=rng)
    x = rng.standard_normal((6, 2, 3))
    out, h_n = rnn(x)
    assert out.shape == (6, 2, 4) and h_n.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data[-1], h_n.data[-1])

    out_list, h_list = rnn([x[t] for t in range(6)])
    np.testing.assert_array_equal(out_list.data, out.data)

    rnn.batch_first = True
    out_bf, h_bf = rnn(np.swapaxes(x, 0, 1))
    assert out_bf.shape == (2, 6, 4)
    np.testing.assert_array_equal(np.swapaxes(out_bf.data, 0, 1), out.data)
    np.testing.assert_array_equal(h_bf.data, h_n.data)

    out_single, h_single = rnn(x[:, 0])
    assert out_single.shape == (6, 4) and h_single.shape == (2, 4)
    np.testing.assert_allclose(out_single.data, out.data[:, 0], rtol=1e-14)


def test_cell_matches_one_step_of_the_layer():
    rng = np.random.default_rng(3)
    rnn = nn.RNN(3, 4, rng=rng)
    cell = nn.RNNCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in rnn.state_dict().items()})
    x = rng.standard_normal((2, 2, 3))
    out, _ = rnn(x)
    h1 = cell(x[0])
    h2 = cell(x[1], h1)
    np.testing.assert_allclose(h2.data, out.data[1], rtol=1e-14)


def test_each_step_runs_in_its_own_scope():
    rnn = nn.RNN(2, 3, num_layers=2)
    rnn.retain_hidden = True
    out, _ = rnn(np.ones((4, 1, 2)))
    scopes = [[h.scope for h in layer] for layer in rnn.hidden_states]
    assert scopes == [[f"layer{layer_index}/t={t}" for t in range(4)] for layer_index in range(2)]


def test_retained_hidden_states_hold_dloss_dh():
    rng = np.random.default_rng(4)
    rnn = nn.RNN(2, 3, rng=rng)
    rnn.retain_hidden = True
    out, h_n = rnn(rng.standard_normal((5, 1, 2)))
    h_n.sum().backward()
    states = rnn.hidden_states[0]
    w_hh = rnn.weight_hh_l0.data
    expected = np.ones((1, 3))
    for t in range(4, -1, -1):
        np.testing.assert_allclose(states[t].grad, expected, rtol=1e-12)
        expected = ((1 - states[t].data ** 2) * expected) @ w_hh


def test_ten_thousand_steps_run_forward_and_backward():
    limit = sys.getrecursionlimit()
    rnn = nn.RNN(1, 4, rng=np.random.default_rng(5))
    out, h_n = rnn(np.sin(np.arange(10_000) / 50.0).reshape(-1, 1, 1))
    h_n.sum().backward()
    assert sys.getrecursionlimit() == limit
    assert np.isfinite(rnn.weight_hh_l0.grad).all()
    assert np.abs(rnn.weight_hh_l0.grad).sum() > 0


def test_many_to_one_and_many_to_many_are_one_line_each():
    rng = np.random.default_rng(6)
    rnn, head = nn.RNN(3, 4, rng=rng), nn.Linear(4, 1, rng=rng)
    x = rng.standard_normal((7, 2, 3))
    assert head(rnn(x)[0][-1]).shape == (2, 1)
    assert head(rnn(x)[0]).shape == (7, 2, 1)


@pytest.mark.parametrize(
    "bad_input, message",
    [
        (np.ones((4, 2, 5)), r"input has shape \(4, 2, 5\); expected \(T, B, 3\)"),
        (np.ones(3), r"input has shape \(3,\)"),
        ([np.ones((2, 3)), np.ones((2, 4))], r"input at t=1 has shape \(2, 4\)"),
        ([], "empty"),
    ],
)
def test_bad_inputs_name_the_time_step_and_shapes(bad_input, message):
    with pytest.raises(ValueError, match=message):
        nn.RNN(3, 4)(bad_input)


def test_bad_h0_and_nonlinearity_are_clear_errors():
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 4\), expected \(1, 2, 4\)"):
        nn.RNN(3, 4)(np.ones((5, 2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_float32_model_stays_float32():
    rnn = nn.RNN(3, 4, dtype=np.float32)
    head = nn.Linear(4, 1, dtype=np.float32)
    out, _ = rnn(np.ones((2, 1, 3)))
    y = head(out[-1])
    assert y.dtype == np.float32
    y.sum().backward()
    assert rnn.weight_hh_l0.grad.dtype == np.float32


def test_init_schemes_are_seeded_and_follow_document_000():
    a = nn.init.init_module_(nn.RNN(1, 256), "xavier", rng=7)
    b = nn.init.init_module_(nn.RNN(1, 256), "xavier", rng=7)
    np.testing.assert_array_equal(a.weight_hh_l0.data, b.weight_hh_l0.data)
    assert np.all(a.bias_ih_l0.data == 0)
    assert abs(a.weight_hh_l0.data.std() - np.sqrt(2 / 256)) < 0.005
    small = nn.init.init_module_(nn.RNN(1, 256), "random", rng=7)
    assert abs(small.weight_hh_l0.data.std() - 0.01) < 0.001
    with pytest.raises(ValueError, match="unknown scheme 'glorot'"):
        nn.init.init_module_(nn.RNN(1, 4), "glorot")


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
def test_the_output_holds_the_last_layers_hidden_states_stacked(layer_class, batch_first):
    layer = layer_class(3, 4, num_layers=2, batch_first=batch_first, rng=0)
    layer.retain_hidden = True
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    output, _ = layer(x)
    last_layer = layer.hidden_states[-1]
    by_time = np.moveaxis(output.data, 1, 0) if batch_first else output.data
    assert len(last_layer) == len(by_time) == x.shape[1 if batch_first else 0]
    for t, h in enumerate(last_layer):
        assert np.array_equal(by_time[t], h.data)
    output.sum().backward()
    assert np.array_equal(last_layer[-1].grad, np.ones_like(last_layer[-1].data))  # nothing comes after T


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
def test_a_float32_layer_casts_float64_input_and_state_and_sends_their_gradients_back_as_float64(layer_class):
    layer = layer_class(3, 4, dtype=np.float32, rng=0)
    x = Tensor(np.random.default_rng(0).normal(size=(5, 2, 3)), requires_grad=True)
    h0 = Tensor(np.full((1, 2, 4), 0.1), requires_grad=True)
    state = (h0, Tensor(np.zeros((1, 2, 4)))) if layer_class is nn.LSTM else h0
    output, _ = layer(x, state)
    assert output.dtype == np.float32
    output.sum().backward()
    assert x.grad.dtype == h0.grad.dtype == np.float64
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())
    wide = layer_class(3, 4, dtype=np.float64, rng=0)
    wide_x = Tensor(x.numpy(), requires_grad=True)
    wide_h0 = Tensor(h0.numpy(), requires_grad=True)
    wide_output, _ = wide(wide_x, (wide_h0, Tensor(np.zeros((1, 2, 4)))) if layer_class is nn.LSTM else wide_h0)
    wide_output.sum().backward()
    np.testing.assert_allclose(output.numpy(), wide_output.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x.grad, wide_x.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
def test_after_a_one_step_sequence_weight_hh_has_a_zero_gradient_not_none(layer_class):
    layer = layer_class(3, 4, num_layers=2, rng=0)
    output, _ = layer(np.ones((1, 2, 3)))
    output.sum().backward()
    for layer_index in range(2):
        grad = getattr(layer, f"weight_hh_l{layer_index}").grad
        assert grad is not None and grad.shape == (layer.gate_count * 4, 4)
        np.testing.assert_array_equal(grad, 0.0)  # it met h_0 = 0 only, as in PyTorch
    assert all(p.grad is not None for p in layer.parameters())


@pytest.mark.parametrize("cell_class", [nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_a_cell_without_hx_gives_weight_hh_a_zero_gradient(cell_class):
    cell = cell_class(3, 4, rng=0)
    out = cell(np.ones((2, 3)))
    (out[0] if isinstance(out, tuple) else out).sum().backward()
    np.testing.assert_array_equal(cell.weight_hh.grad, np.zeros((cell.gate_count * 4, 4)))


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
def test_every_step_from_t0_records_the_same_ops_in_its_scope(layer_class):
    from tinygrad_rnn.autograd import graph_nodes
    from tinygrad_rnn.ops import Function

    layer = layer_class(3, 4, num_layers=2, rng=0)
    output, _ = layer(np.ones((4, 2, 3)))
    by_scope = {}
    for node in graph_nodes(output.sum()):
        if isinstance(node, Function):
            by_scope.setdefault(node.scope, []).append(type(node).__name__)
    for layer_index in range(2):
        steps = [by_scope[f"layer{layer_index}/t={t}"] for t in range(4)]
        assert all(step == steps[0] for step in steps) and "Linear" in steps[0]
        layer_ops = ["Linear", "Stack"] if layer_class is nn.GRU else ["Add", "Linear", "Stack"]  # GRU: b_ih only
        assert sorted(by_scope[f"layer{layer_index}"]) == layer_ops
