"""nn.LSTM, nn.GRU and their cells: the equations, gradients through the unrolled graph, shapes, errors."""

import sys

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.nn.gru import GRU, GRUCell
from tinygrad_rnn.nn.lstm import LSTM, LSTMCell


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_lstm_step(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """The LSTM equations written out per gate in plain NumPy, as an independent witness."""
    size = h.shape[-1]
    w_i, w_f, w_g, w_o = (w_ih[k * size : (k + 1) * size] for k in range(4))
    u_i, u_f, u_g, u_o = (w_hh[k * size : (k + 1) * size] for k in range(4))
    b = b_ih + b_hh
    b_i, b_f, b_g, b_o = (b[k * size : (k + 1) * size] for k in range(4))
    i = sigmoid(x @ w_i.T + h @ u_i.T + b_i)
    f = sigmoid(x @ w_f.T + h @ u_f.T + b_f)
    g = np.tanh(x @ w_g.T + h @ u_g.T + b_g)
    o = sigmoid(x @ w_o.T + h @ u_o.T + b_o)
    c_next = f * c + i * g
    return o * np.tanh(c_next), c_next


def numpy_gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """The GRU equations written out per gate in plain NumPy, as an independent witness."""
    size = h.shape[-1]
    w_r, w_z, w_n = (w_ih[k * size : (k + 1) * size] for k in range(3))
    u_r, u_z, u_n = (w_hh[k * size : (k + 1) * size] for k in range(3))
    r = sigmoid(x @ w_r.T + b_ih[:size] + h @ u_r.T + b_hh[:size])
    z = sigmoid(x @ w_z.T + b_ih[size : 2 * size] + h @ u_z.T + b_hh[size : 2 * size])
    n = np.tanh(x @ w_n.T + b_ih[2 * size :] + r * (h @ u_n.T + b_hh[2 * size :]))
    return (1 - z) * n + z * h


# ---------------------------------------------------------------- the equations


def test_lstm_layers_follow_the_equations_step_by_step():
    rng = np.random.default_rng(0)
    lstm = LSTM(3, 4, num_layers=2, rng=rng)
    p = {name: param.data for name, param in lstm.named_parameters()}
    x = rng.standard_normal((5, 2, 3))
    h0, c0 = rng.standard_normal((2, 2, 2, 4))
    output, (h_n, c_n) = lstm(x, (h0, c0))
    layer_input = x
    for layer in range(2):
        h, c = h0[layer], c0[layer]
        outputs = []
        for t in range(5):
            h, c = numpy_lstm_step(
                layer_input[t], h, c, *(p[f"{k}_l{layer}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            )
            outputs.append(h)
        np.testing.assert_allclose(h_n.data[layer], h, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(c_n.data[layer], c, rtol=1e-13, atol=1e-15)
        layer_input = np.stack(outputs)
    np.testing.assert_allclose(output.data, layer_input, rtol=1e-13, atol=1e-15)


def test_gru_layers_follow_the_equations_step_by_step():
    rng = np.random.default_rng(1)
    gru = GRU(3, 4, num_layers=2, rng=rng)
    p = {name: param.data for name, param in gru.named_parameters()}
    x = rng.standard_normal((5, 2, 3))
    h0 = rng.standard_normal((2, 2, 4))
    output, h_n = gru(x, h0)
    layer_input = x
    for layer in range(2):
        h = h0[layer]
        outputs = []
        for t in range(5):
            h = numpy_gru_step(
                layer_input[t], h, *(p[f"{k}_l{layer}"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            )
            outputs.append(h)
        np.testing.assert_allclose(h_n.data[layer], h, rtol=1e-13, atol=1e-15)
        layer_input = np.stack(outputs)
    np.testing.assert_allclose(output.data, layer_input, rtol=1e-13, atol=1e-15)


def test_cells_follow_the_equations_and_start_from_zeros():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3))
    lstm_cell = LSTMCell(3, 4, rng=rng)
    p = [param.data for param in lstm_cell.parameters()]
    h, c = lstm_cell(x)
    expected_h, expected_c = numpy_lstm_step(x, np.zeros((2, 4)), np.zeros((2, 4)), *p)
    np.testing.assert_allclose(h.data, expected_h, rtol=1e-13)
    np.testing.assert_allclose(c.data, expected_c, rtol=1e-13)

    gru_cell = GRUCell(3, 4, rng=rng)
    h = gru_cell(x)
    p = [param.data for param in gru_cell.parameters()]
    np.testing.assert_allclose(h.data, numpy_gru_step(x, np.zeros((2, 4)), *p), rtol=1e-13)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_passes_gradcheck(bias):
    rng = np.random.default_rng(3)
    cell = LSTMCell(3, 4, bias=bias, rng=rng)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = Tensor(rng.standard_normal((2, 4)) * 0.5, requires_grad=True)
    c = Tensor(rng.standard_normal((2, 4)) * 0.5, requires_grad=True)

    def run(x, h, c, *params):
        h_next, c_next = cell(x, (h, c))
        return h_next + c_next * 0.5

    assert gradcheck(run, [x, h, c, *cell.parameters()], atol=1e-9).ok


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell_passes_gradcheck(bias):
    rng = np.random.default_rng(4)
    cell = GRUCell(3, 4, bias=bias, rng=rng)
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = Tensor(rng.standard_normal((2, 4)) * 0.5, requires_grad=True)
    assert gradcheck(lambda x, h, *params: cell(x, h), [x, h, *cell.parameters()], atol=1e-9).ok


@pytest.mark.parametrize("bias", [True, False])
def test_two_layer_lstm_passes_gradcheck(bias):
    rng = np.random.default_rng(5)
    lstm = LSTM(3, 2, num_layers=2, bias=bias, rng=rng)
    x = Tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((2, 2, 2)) * 0.5, requires_grad=True)
    c0 = Tensor(rng.standard_normal((2, 2, 2)) * 0.5, requires_grad=True)

    def run(x, h0, c0, *params):
        output, (h_n, c_n) = lstm(x, (h0, c0))
        return output.sum(axis=0) + h_n.sum(axis=0) * 0.5 + c_n.sum(axis=0) * 0.25

    assert gradcheck(run, [x, h0, c0, *lstm.parameters()], atol=1e-9).ok


@pytest.mark.parametrize("bias", [True, False])
def test_two_layer_gru_passes_gradcheck(bias):
    rng = np.random.default_rng(6)
    gru = GRU(3, 2, num_layers=2, bias=bias, rng=rng)
    x = Tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((2, 2, 2)) * 0.5, requires_grad=True)

    def run(x, h0, *params):
        output, h_n = gru(x, h0)
        return output.sum(axis=0) + h_n.sum(axis=0) * 0.5

    assert gradcheck(run, [x, h0, *gru.parameters()], atol=1e-9).ok


def test_retained_states_carry_their_gradients_and_scopes():
    rng = np.random.default_rng(7)
    lstm = LSTM(2, 3, num_layers=2, rng=rng)
    lstm.retain_hidden = True
    output, (h_n, c_n) = lstm(rng.standard_normal((4, 1, 2)))
    h_n[0].sum().backward()
    assert [[h.scope for h in layer] for layer in lstm.hidden_states] == [
        [f"layer{layer_index}/t={t}" for t in range(4)] for layer_index in range(2)
    ]
    assert [[c.scope for c in layer] for layer in lstm.cell_states] == [
        [f"layer{layer_index}/t={t}" for t in range(4)] for layer_index in range(2)
    ]
    h_last, c_last = lstm.hidden_states[0][-1], lstm.cell_states[0][-1]
    np.testing.assert_array_equal(h_last.grad, np.ones((1, 3)))
    # the last c feeds only h = o * tanh(c), so dL/dc = o * (1 - tanh(c)**2) with o = h / tanh(c)
    output_gate = h_last.data / np.tanh(c_last.data)
    np.testing.assert_allclose(c_last.grad, output_gate * (1 - np.tanh(c_last.data) ** 2), rtol=1e-12)
    assert all(np.abs(c.grad).sum() > 0 for c in lstm.cell_states[0][:-1])
    assert all(not np.any(h.grad) for h in lstm.hidden_states[1])

    gru = GRU(2, 3, rng=rng)
    gru.retain_hidden = True
    _, h_n = gru(rng.standard_normal((4, 1, 2)))
    h_n.sum().backward()
    assert [h.scope for h in gru.hidden_states[0]] == [f"layer0/t={t}" for t in range(4)]
    assert all(h.grad is not None for h in gru.hidden_states[0])


def test_a_long_sequence_runs_forward_and_backward_without_recursion():
    limit = sys.getrecursionlimit()
    lstm = LSTM(1, 3, rng=np.random.default_rng(8))
    gru = GRU(1, 3, rng=np.random.default_rng(8))
    x = np.sin(np.arange(3000) / 50.0).reshape(-1, 1, 1)
    lstm(x)[1][1].sum().backward()
    gru(x)[1].sum().backward()
    assert sys.getrecursionlimit() == limit
    assert np.all(np.isfinite(lstm.weight_hh_l0.grad)) and np.abs(lstm.weight_hh_l0.grad).sum() > 0
    assert np.all(np.isfinite(gru.weight_hh_l0.grad)) and np.abs(gru.weight_hh_l0.grad).sum() > 0


# ---------------------------------------------------------------- names, shapes, layouts


def test_parameter_names_and_shapes_follow_pytorch():
    lstm = LSTM(3, 5, num_layers=2)
    assert {name: p.shape for name, p in lstm.named_parameters()} == {
        "weight_ih_l0": (20, 3),
        "weight_hh_l0": (20, 5),
        "bias_ih_l0": (20,),
        "bias_hh_l0": (20,),
        "weight_ih_l1": (20, 5),
        "weight_hh_l1": (20, 5),
        "bias_ih_l1": (20,),
        "bias_hh_l1": (20,),
    }
    gru = GRU(3, 5, num_layers=2, bias=False)
    assert {name: p.shape for name, p in gru.named_parameters()} == {
        "weight_ih_l0": (15, 3),
        "weight_hh_l0": (15, 5),
        "weight_ih_l1": (15, 5),
        "weight_hh_l1": (15, 5),
    }
    assert {name: p.shape for name, p in LSTMCell(3, 5).named_parameters()} == {
        "weight_ih": (20, 3),
        "weight_hh": (20, 5),
        "bias_ih": (20,),
        "bias_hh": (20,),
    }
    assert [name for name, _ in GRUCell(3, 5, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]


@pytest.mark.parametrize("model_class", [LSTM, GRU, LSTMCell, GRUCell])
def test_initialisation_is_uniform_within_one_over_sqrt_hidden_and_seeded(model_class):
    a, b = model_class(3, 16, rng=9), model_class(3, 16, rng=9)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert np.abs(p.data).max() <= 0.25, name
        assert np.abs(p.data).max() > 0.2, name


@pytest.mark.parametrize("model_class", [LSTM, GRU])
def test_input_layouts_give_the_same_result(model_class):
    rng = np.random.default_rng(10)
    model = model_class(3, 4, num_layers=2, rng=rng)
    x = rng.standard_normal((6, 2, 3))
    output, final = model(x)
    h_n = final[0] if model_class is LSTM else final
    assert output.shape == (6, 2, 4) and h_n.shape == (2, 2, 4)
    np.testing.assert_array_equal(output.data[-1], h_n.data[-1])

    output_list, _ = model([x[t] for t in range(6)])
    np.testing.assert_array_equal(output_list.data, output.data)

    model.batch_first = True
    output_bf, final_bf = model(np.swapaxes(x, 0, 1))
    assert output_bf.shape == (2, 6, 4)
    np.testing.assert_array_equal(np.swapaxes(output_bf.data, 0, 1), output.data)
    h_n_bf = final_bf[0] if model_class is LSTM else final_bf
    np.testing.assert_array_equal(h_n_bf.data, h_n.data)

    output_single, final_single = model(x[:, 1])
    h_single = final_single[0] if model_class is LSTM else final_single
    assert output_single.shape == (6, 4) and h_single.shape == (2, 4)
    np.testing.assert_allclose(output_single.data, output.data[:, 1], rtol=1e-13, atol=1e-15)


def test_lstm_returns_both_final_states_for_every_layer():
    lstm = LSTM(3, 4, num_layers=3)
    output, (h_n, c_n) = lstm(np.ones((5, 2, 3)))
    assert h_n.shape == c_n.shape == (3, 2, 4)
    output, (h_n, c_n) = lstm(np.ones((5, 3)), (np.zeros((3, 4)), np.zeros((3, 4))))
    assert output.shape == (5, 4) and h_n.shape == c_n.shape == (3, 4)


@pytest.mark.parametrize("layer_class, cell_class", [(LSTM, LSTMCell), (GRU, GRUCell)])
def test_cell_matches_one_step_of_the_layer(layer_class, cell_class):
    rng = np.random.default_rng(11)
    layer = layer_class(3, 4, rng=rng)
    cell = cell_class(3, 4)
    cell.load_state_dict({name[: -len("_l0")]: value for name, value in layer.state_dict().items()})
    x = rng.standard_normal((2, 2, 3))
    output, _ = layer(x)
    state = cell(x[0])
    state = cell(x[1], state)
    h = state[0] if cell_class is LSTMCell else state
    np.testing.assert_allclose(h.data, output.data[1], rtol=1e-14)


def test_float32_models_stay_float32():
    lstm = LSTM(3, 4, dtype=np.float32)
    output, (h_n, c_n) = lstm(np.ones((2, 1, 3)))
    assert output.dtype == c_n.dtype == np.float32
    output.sum().backward()
    assert lstm.weight_hh_l0.grad.dtype == np.float32
    gru = GRU(3, 4, dtype=np.float32)
    assert gru(np.ones((2, 1, 3)))[0].dtype == np.float32


def test_repr_names_the_configuration():
    assert repr(LSTM(3, 4, num_layers=2, batch_first=True)) == "LSTM(3, 4, num_layers=2, batch_first=True)"
    assert repr(GRU(3, 4, bias=False)) == "GRU(3, 4, bias=False)"
    assert repr(GRUCell(3, 4)) == "GRUCell(3, 4)"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("model_class", [LSTM, GRU])
@pytest.mark.parametrize(
    "bad_input, message",
    [
        (np.ones((4, 2, 5)), r"input has shape \(4, 2, 5\); expected \(T, B, 3\)"),
        (np.ones(3), r"input has shape \(3,\)"),
        ([np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 4))], r"input at t=2 has shape \(2, 4\)"),
        ([np.ones((2, 3)), np.ones((1, 3))], r"input at t=1 has shape \(1, 3\).*t=0 had \(2, 3\)"),
        ([], "the input sequence is empty"),
    ],
)
def test_bad_inputs_name_the_model_time_step_and_shapes(model_class, bad_input, message):
    with pytest.raises(ValueError, match=f"{model_class.__name__}: {message}"):
        model_class(3, 4)(bad_input)


def test_bad_initial_states_are_clear_errors():
    x = np.ones((5, 2, 3))
    with pytest.raises(ValueError, match=r"GRU: h0 has shape \(2, 4\), expected \(1, 2, 4\)"):
        GRU(3, 4)(x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"LSTM: c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)"):
        LSTM(3, 4)(x, (np.zeros((1, 2, 4)), np.zeros((1, 3, 4))))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a pair \(h0, c0\), got a ndarray"):
        LSTM(3, 4)(x, np.zeros((1, 2, 4)))
    with pytest.raises(TypeError, match=r"LSTMCell: hx must be a pair \(h, c\), got a tuple of length 3"):
        LSTMCell(3, 4)(x[0], (np.zeros((2, 4)),) * 3)
    with pytest.raises(ValueError, match=r"GRUCell: input has shape \(2, 5\); expected \(batch, 3\)"):
        GRUCell(3, 4)(np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell: c has shape \(4,\), expected \(2, 4\)"):
        LSTMCell(3, 4)(x[0], (np.zeros((2, 4)), np.zeros(4)))
    with pytest.raises(ValueError, match="LSTM: num_layers must be at least 1, got 0"):
        LSTM(3, 4, num_layers=0)
