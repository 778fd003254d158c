"""Bad input, tried on purpose: every op, backward, module, state load and checkpoint given
something wrong says what was wrong (op, module, shapes, dtype, key) and loses nothing (the
model unchanged). The command line's bad input is in test_bad_input_cli.py."""

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, checkpoint, nn
from tinygrad_rnn.autograd import detect_anomaly

# ------------------------------------------------------------------------------- helpers


def _values(module):
    return {name: value.copy() for name, value in module.state_dict().items()}


def _unchanged(module, before):
    after = module.state_dict()
    return after.keys() == before.keys() and all(
        np.array_equal(after[name], before[name], equal_nan=True) and after[name].dtype == before[name].dtype
        for name in before
    )


# ------------------------------------------------------------------------------- ops and backward


def test_cat_with_an_out_of_range_dim_names_the_dim():
    """cat(dim=5) of 2-D tensors says dim 5 is out of range, as transpose and stack do."""
    a = Tensor(np.ones((2, 3)))
    with pytest.raises((IndexError, ValueError)) as error:
        tg.cat([a, a], dim=5)
    assert "5" in str(error.value) and "out of" in str(error.value), str(error.value)


def test_backward_with_a_gradient_that_is_not_numbers_names_backward():
    """backward(gradient='x') names backward and the gradient, not just NumPy's conversion."""
    y = (Tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    with pytest.raises((TypeError, ValueError), match=r"backward"):
        y.backward(gradient="x")


def test_a_leaf_changed_in_place_and_counted_is_detected_by_backward():
    """The documented protocol for a leaf: write in place, count it, and backward refuses."""
    w = nn.Parameter(np.ones(3))
    y = (Tensor(np.ones(3)) * w).tanh().sum()
    w.data[...] = 5.0
    w._version += 1
    with pytest.raises(RuntimeError, match=r"\(input 1 of Mul\) was changed after the op saved it"):
        y.backward()


def test_backward_twice_and_on_a_non_scalar_are_named():
    """A second backward through a released graph, and backward on a non-scalar, each say so."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already released.*retain_graph=True"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\); a non-scalar needs `gradient`"):
        (x * 2).backward()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda a, b: a + b, r"^Add: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: a @ b, r"^MatMul: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: tg.stack([a, b]), r"^Stack: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: tg.cat([a, b], dim=0), r"^Concatenate: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: a.reshape(4, 2), r"^Reshape: .*\(input shapes: \(2, 3\)\)$"),
    ],
    ids=["add", "matmul", "stack", "cat", "reshape"],
)
def test_mismatched_shapes_name_the_op_and_both_shapes(make, message):
    """A shape mismatch in an op names the op and every input shape."""
    a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=message):
        make(a, b)


# ------------------------------------------------------------------------------- modules


@pytest.mark.parametrize(
    "layer_class, hidden_size",
    [(layer, size) for layer in (nn.RNN, nn.LSTM, nn.GRU) for size in (0, -2)]
    + [(cell, -2) for cell in (nn.RNNCell, nn.LSTMCell, nn.GRUCell)],
)
def test_a_recurrent_layer_with_a_hidden_size_below_one_names_it(layer_class, hidden_size):
    """RNN(3, 0) and RNN(3, -2) raise a ValueError naming hidden_size, not ZeroDivisionError or a
    math domain error; a cell, which PyTorch builds with 0 units, refuses a negative size."""
    with pytest.raises(ValueError, match=r"hidden_size"):
        layer_class(3, hidden_size)


def test_linear_with_no_input_features_works_as_in_pytorch():
    """Linear(0, 3) exists in PyTorch (a (3, 0) weight); here it must not die on a division by zero."""
    layer = nn.Linear(0, 3)
    assert layer.weight.shape == (3, 0)
    out = layer(np.ones((2, 0)))
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(layer.bias.numpy(), (2, 3)))


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize(
    "make_input, kind",
    [(lambda: np.ones((5, 2, 3), dtype=complex), "complex"), (lambda: "abc", "str|<U3|string")],
    ids=["complex", "string"],
)
def test_a_recurrent_layer_refuses_non_real_input_naming_itself_and_the_dtype(layer_class, make_input, kind):
    """Complex input is not cast silently (dropping the imaginary part), and a string is not a NumPy
    conversion error: both name the layer and what it was given."""
    layer = layer_class(3, 4)
    with warnings.catch_warnings(action="error"):  # a ComplexWarning is not an answer
        with pytest.raises((TypeError, ValueError), match=rf"{layer_class.__name__}.*({kind})"):
            layer(make_input())


@pytest.mark.parametrize(
    "hx, message",
    [
        ((np.zeros((1, 2, 5)), np.zeros((1, 2, 4))), r"^LSTM: h0 has shape \(1, 2, 5\), expected \(1, 2, 4\)$"),
        ((np.zeros((1, 2, 4)), np.zeros((1, 3, 4))), r"^LSTM: c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)$"),
        (np.zeros((1, 2, 4)), r"^LSTM: hx must be a pair \(h0, c0\)"),
    ],
)
def test_an_lstm_state_of_the_wrong_shape_or_kind_names_it(hx, message):
    """A wrong h0, c0, or an h0 alone given to an LSTM names the state, the shape expected and got."""
    with pytest.raises((ValueError, TypeError), match=message):
        nn.LSTM(3, 4)(np.ones((5, 2, 3)), hx)


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
def test_a_recurrent_layer_given_the_wrong_feature_size_names_layer_and_shapes(layer_class):
    """Input (5, 2, 7) to a layer of input_size 3 names the layer, the shape got and expected."""
    with pytest.raises(
        ValueError, match=rf"^{layer_class.__name__}: input has shape \(5, 2, 7\); expected \(T, B, 3\)"
    ):
        layer_class(3, 4)(np.ones((5, 2, 7)))


def test_detect_anomaly_names_the_op_scope_and_step_of_a_nan_in_a_gru_weight():
    """A NaN in a GRU weight is reported under detect_anomaly at the first step's op, with its scope."""
    gru = nn.GRU(2, 3, rng=0)
    gru.weight_hh_l0.data = np.full((9, 3), np.nan)
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"Linear in scope 'layer0/t=0'.*NaN"):
        gru(np.ones((5, 1, 2)))


# ------------------------------------------------------------------------------- load_state_dict


@pytest.mark.parametrize("state", [[1, 2], None, "weights"], ids=["list", "None", "str"])
def test_load_state_dict_of_something_that_is_not_a_mapping_names_the_problem(state):
    """load_state_dict([1, 2]) / (None) says a mapping of names to arrays was expected."""
    model = nn.RNN(2, 3)
    before = _values(model)
    with pytest.raises(TypeError, match=r"load_state_dict"):
        model.load_state_dict(state)
    assert _unchanged(model, before)


def test_load_state_dict_of_a_ragged_value_names_the_key_and_changes_nothing():
    """A value NumPy cannot make an array of names its key."""
    model = nn.RNN(2, 3)
    before = _values(model)
    state = dict(before, bias_ih_l0=[[1.0, 2.0], [3.0]])
    with pytest.raises(RuntimeError, match=r"bias_ih_l0"):
        model.load_state_dict(state)
    assert _unchanged(model, before)


def test_load_state_dict_errors_read_plainly_without_quotes():
    """str(error) is the message itself (a bare KeyError would wrap it in quotes, as on the command line)."""
    model = nn.RNN(2, 3)
    with pytest.raises(Exception) as error:
        model.load_state_dict({})
    assert str(error.value).startswith("load_state_dict"), str(error.value)


def test_load_state_dict_non_strict_returns_the_missing_and_unexpected_keys():
    """As in PyTorch, load_state_dict returns (missing_keys, unexpected_keys)."""
    model = nn.RNN(2, 3)
    result = model.load_state_dict({"weight_ih_l0": np.ones((3, 2)), "extra": np.ones(2)}, strict=False)
    assert result is not None
    assert list(result.missing_keys) == ["weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert list(result.unexpected_keys) == ["extra"]


def test_a_load_that_fails_while_casting_leaves_the_model_unchanged():
    """An overflow raised while casting the last value (under np.errstate(over='raise')) leaves the
    values before it unwritten too."""
    model = nn.RNN(2, 2).float()
    before = _values(model)
    state = {name: np.ones(value.shape) for name, value in before.items()}
    state["bias_hh_l0"] = np.array([1e300, 0.0])
    with np.errstate(over="raise"), pytest.raises(RuntimeError, match="bias_hh_l0"):
        model.load_state_dict(state)
    assert _unchanged(model, before), [n for n in before if not np.array_equal(before[n], model.state_dict()[n])]


def test_load_state_dict_non_strict_still_refuses_a_wrong_shape_and_changes_nothing():
    """strict=False forgives missing and unexpected keys, not a wrong shape (as PyTorch), and nothing is written."""
    model = nn.LSTM(3, 4)
    before = _values(model)
    state = dict(before, weight_ih_l0=np.zeros((5, 5)), bias_ih_l0=np.ones(16))
    with pytest.raises(Exception, match=r"weight_ih_l0: shape \(5, 5\) in the state, \(16, 3\) in the model"):
        model.load_state_dict(state, strict=False)
    assert _unchanged(model, before)


def test_load_state_dict_non_strict_loads_exactly_the_keys_given():
    """A partial load under strict=False writes the keys present, leaves the others, ignores extras."""
    model = nn.LSTM(3, 4)
    before = _values(model)
    model.load_state_dict({"weight_ih_l0": np.ones((16, 3)), "unknown": np.ones(7)}, strict=False)
    after = model.state_dict()
    np.testing.assert_array_equal(after["weight_ih_l0"], np.ones((16, 3)))
    for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        np.testing.assert_array_equal(after[name], before[name])
    assert "unknown" not in after


@pytest.mark.parametrize(
    "value", [np.array(["a"] * 12), np.ones(12, dtype=complex), np.array([None] * 12)], ids=["str", "complex", "object"]
)
def test_load_state_dict_refuses_a_non_real_dtype_naming_key_and_dtype(value):
    """A string, complex or object value names its key and dtype and changes nothing."""
    model = nn.GRU(2, 4)
    before = _values(model)
    with pytest.raises(Exception, match=rf"bias_ih_l0: dtype {value.dtype} is not numeric"):
        model.load_state_dict(dict(before, bias_ih_l0=value))
    assert _unchanged(model, before)


def test_load_state_dict_names_an_unexpected_key_that_is_not_a_string():
    """A key such as 1 is listed as unexpected (the message is built from it, not broken by it)."""
    layer = nn.Linear(2, 3)
    before = _values(layer)
    with pytest.raises(RuntimeError, match=r"unexpected keys: 1$"):
        layer.load_state_dict({**before, 1: np.ones(2)})
    assert _unchanged(layer, before)


def test_load_state_dict_names_a_string_value_by_its_dtype_not_its_shape():
    layer = nn.Linear(2, 3)
    before = _values(layer)
    with pytest.raises(RuntimeError, match=r"weight: dtype <U3 is not numeric"):
        layer.load_state_dict(dict(before, weight="abc"))
    assert _unchanged(layer, before)


def test_load_state_dict_of_torch_parameters_names_the_key():
    """torch refuses numpy() of a tensor that requires grad: the error names the key, and nothing is written."""
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    layer = nn.Linear(2, 3)
    before = _values(layer)
    with pytest.raises(RuntimeError, match=r"load_state_dict into Linear failed: weight: not an array"):
        layer.load_state_dict(dict(torch.nn.Linear(2, 3).named_parameters()))
    assert _unchanged(layer, before)


def test_load_state_dict_counts_as_a_change_for_a_graph_recorded_before():
    """A backward through a graph recorded before a load refuses, as after an optimizer step."""
    layer = nn.Linear(2, 1)
    loss = layer(Tensor(np.ones((1, 2)))).sum()
    layer.load_state_dict(layer.state_dict())
    with pytest.raises(RuntimeError, match=r"'weight'.*changed after the op saved it"):
        loss.backward()


# ------------------------------------------------------------------------------- scalers (extreme finite data)


# ------------------------------------------------------------------------------- command line: CSV files


# ------------------------------------------------------------------------------- command line: outputs


# ------------------------------------------------------------------------------- command line: predict


# ------------------------------------------------------------------------------- long file names


# ------------------------------------------------------------------------------- training and optimizers


def test_detect_anomaly_names_the_step_of_a_recurrent_backward_that_makes_an_inf():
    """An inf first made by the backward of step 2 of a relu RNN names that op, its scope and step."""
    rnn = nn.RNN(1, 1, nonlinearity="relu", bias=False, rng=0)
    rnn.weight_ih_l0.data = np.array([[1.0]])
    rnn.weight_hh_l0.data = np.array([[1e200]])
    with detect_anomaly(), np.errstate(over="ignore"):
        output, _ = rnn(np.full((3, 1, 1), 1e-300))  # every h_t finite
        with pytest.raises(FloatingPointError, match=r"^backward of Linear produced inf in scope 'layer0/t=2'"):
            (output.sum() * 1e200).backward()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"\x93NUMPY" + data[6:],
        lambda data: data.replace(b"<f8", b"|O1", 1),
    ],
    ids=["truncated", "npy bytes", "object dtype"],
)
def test_a_damaged_checkpoint_leaves_the_model_unchanged(tmp_path, damage):
    """Loading a truncated, foreign or object-holding file is one CheckpointError; the model keeps its values."""
    model = nn.GRU(2, 3, rng=0)
    path = tmp_path / "m.npz"
    checkpoint.save(nn.GRU(2, 3, rng=1), path)
    path.write_bytes(damage(path.read_bytes()))
    before = _values(model)
    with pytest.raises(checkpoint.CheckpointError, match=str(path)):
        checkpoint.load(path, model)
    assert _unchanged(model, before)
