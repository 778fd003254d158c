"""Each bad input gets an error that says what was wrong: the op, the shapes and the time step."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, checkpoint, concatenate, detect_anomaly, nn, scope, stack
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn.functional import linear


def test_integer_data_cannot_require_grad():
    with pytest.raises(TypeError, match=r"only floating-point data can require a gradient.*int64"):
        Tensor(np.array([1, 2, 3]), requires_grad=True)
    with pytest.raises(TypeError, match=r"int32"):
        Tensor([1, 2], dtype=np.int32, requires_grad=True)
    with pytest.raises(TypeError, match=r"requires_grad_\(\).*int64"):
        Tensor(np.arange(3)).requires_grad_()


@pytest.mark.parametrize("data", ["abc", ["1.0", 2.0], None, {"a": 1}, [1 + 2j]])
def test_non_numeric_data_is_refused(data):
    with pytest.raises(TypeError, match=r"Tensor: cannot hold data of dtype"):
        Tensor(data)


def test_backward_on_a_non_scalar_needs_a_gradient():
    y = Tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*non-scalar needs `gradient`"):
        y.backward()


def test_gradient_of_the_wrong_shape():
    y = Tensor([[1.0, 2.0]], requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\) but the tensor has shape \(1, 2\)"):
        y.backward(np.ones(2))


def test_second_backward_through_a_released_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with scope("t=7"):
        y = x.exp()
    loss = y.sum()
    loss.backward()
    # the sum saved nothing and runs again; the exp needs the values it saved
    released_exp = r"already released \(at Exp in scope 't=7', input shapes: \(2,\)\)"
    with pytest.raises(RuntimeError, match=released_exp + ".*retain_graph=True"):
        loss.backward()
    # a new output that reuses the released part of the graph is refused too, naming where
    with pytest.raises(RuntimeError, match=r"already released \(at Exp in scope 't=7', input shapes: \(2,\)\)"):
        (y * 2).sum().backward()


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match=r"does not require grad"):
        (Tensor([1.0, 2.0]) * 3).sum().backward()


def test_retain_grad_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match=r"retain_grad\(\): the tensor does not require grad"):
        Tensor([1.0]).retain_grad()


def test_matmul_shape_mismatch_names_the_op_shapes_and_scope():
    a, b = Tensor(np.ones((2, 4)), requires_grad=True), Tensor(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"^MatMul: .*\(input shapes: \(2, 4\), \(3, 5\)\)$"):
        a @ b
    with scope("layer0"), scope("t=3"):
        with pytest.raises(ValueError, match=r"^MatMul in scope 'layer0/t=3': .*\(input shapes: \(2, 4\), \(3, 5\)\)"):
            a @ b


def test_linear_shape_mismatches_name_the_op_and_shapes():
    x, w = Tensor(np.ones((2, 4)), requires_grad=True), Tensor(np.ones((3, 5)))
    with pytest.raises(
        ValueError,
        match=r"^Linear: .*weight's 5 columns, got x \(2, 4\) \(input shapes: \(2, 4\), \(3, 5\)\)$",
    ):
        linear(x, w)
    with pytest.raises(ValueError, match=r"^Linear: the weight must be a matrix \(out, in\), got shape \(4,\)"):
        linear(x, Tensor(np.ones(4)))
    with pytest.raises(
        ValueError,
        match=r"^Linear: the bias of shape \(5, 2, 3\) does not broadcast to the "
        r"output's shape \(2, 3\) \(input shapes: \(2, 4\), \(3, 4\), \(5, 2, 3\)\)$",
    ):
        linear(x, Tensor(np.ones((3, 4))), Tensor(np.ones((5, 2, 3))))  # a bias may not enlarge the output


def test_functional_linear_takes_arrays_for_every_argument():
    y = F.linear(np.ones((2, 4)), np.ones((3, 4)), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(y.data, [[5.0, 6.0, 7.0], [5.0, 6.0, 7.0]])


def test_linear_with_a_float64_bias_on_float32_rows_gives_float64():
    x, w = Tensor(np.ones((2, 4), dtype=np.float32)), Tensor(np.ones((3, 4), dtype=np.float32))
    assert linear(x, w).dtype == np.float32
    assert linear(x, w, Tensor(np.ones(3))).dtype == np.float64


def test_add_shape_mismatch_names_the_op_shapes_and_scope():
    with scope("t=3"):
        with pytest.raises(ValueError, match=r"^Add in scope 't=3': .*broadcast.*\(input shapes: \(2, 3\), \(4,\)\)"):
            Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
        with pytest.raises(ValueError, match=r"^Mul in scope 't=3'.*\(input shapes: \(2, 3\), \(2,\)\)"):
            Tensor(np.ones((2, 3))) * np.ones(2)


def test_pow_names_an_exponent_it_cannot_take():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"pow: the exponent must be a number or a tensor, got str"):
        x ** "2"
    with pytest.raises(ValueError, match=r"^PowTensor: .*\(input shapes: \(2,\), \(3,\)\)"):
        x ** Tensor(np.ones(3))
    with pytest.raises(TypeError, match=r"pow: the base must be a number, got str"):
        "2" ** x


def test_detect_anomaly_names_the_op_that_made_a_nan():
    x = Tensor([1.0, -1.0, 2.0], requires_grad=True)
    with detect_anomaly(), scope("t=3"), np.errstate(invalid="ignore"):
        with pytest.raises(
            FloatingPointError,
            match=r"^forward of Log produced NaN in scope 't=3'; input shapes: \(3,\)$",
        ):
            x.log()


def test_detect_anomaly_names_the_op_that_made_an_inf():
    x = Tensor(np.array([[0.0, 1.0]]), requires_grad=True)
    with detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError, match=r"^forward of Log produced inf; input shapes: \(1, 2\)$"):
            x.log()


def test_detect_anomaly_catches_an_inf_made_by_a_backward():
    x = Tensor([0.0, 4.0], requires_grad=True)
    with scope("t=1"):
        root = x.sqrt()  # forward is finite; d sqrt / dx at 0 is inf
    with detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(
            FloatingPointError,
            match=r"^backward of Pow produced inf in scope 't=1'; input shapes: \(2,\)$",
        ):
            root.sum().backward()


def test_without_detect_anomaly_nothing_is_checked():
    with np.errstate(invalid="ignore"):
        assert np.isnan(Tensor([-1.0]).log().item())


def test_item_on_a_non_scalar():
    with pytest.raises(ValueError, match=r"item\(\): needs a one-element tensor, got shape \(2, 2\)"):
        Tensor(np.ones((2, 2))).item()


def test_stack_and_concatenate_of_nothing_or_not_tensors():
    with pytest.raises(ValueError, match=r"stack: needs at least one tensor"):
        stack([])
    with pytest.raises(ValueError, match=r"concatenate: needs at least one tensor"):
        concatenate([])
    with pytest.raises(TypeError, match=r"stack: expects Tensors, got ndarray"):
        stack([Tensor([1.0]), np.ones(1)])


def test_stack_of_different_shapes_names_them():
    with pytest.raises(ValueError, match=r"^Stack: .*\(input shapes: \(2,\), \(3,\)\)"):
        stack([Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0])])


def test_axis_out_of_range_is_refused_not_wrapped_around():
    x = Tensor(np.ones((2, 3)))
    for reduce in ("sum", "mean", "amax", "logsumexp"):
        with pytest.raises(
            IndexError,
            match=r"axis 2 is out of bounds for an array of dimension 2.*input shapes: \(2, 3\)",
        ):
            getattr(x, reduce)(axis=2)
        with pytest.raises(IndexError, match=r"axis -3 is out of bounds"):
            getattr(x, reduce)(axis=(0, -3))
    with pytest.raises(ValueError, match=r"^Softmax: .*axis 2"):
        x.softmax(axis=2)
    with pytest.raises(IndexError, match=r"^transpose: dim 2 is out of range \[-2, 1\]"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match=r"^Transpose: "):
        x.transpose(0, 2, 1)


def test_index_out_of_range_names_getitem():
    with pytest.raises(IndexError, match=r"^GetItem: .*\(input shapes: \(2, 3\)\)"):
        Tensor(np.ones((2, 3)))[5]


def test_clip_needs_a_bound_and_scope_a_name():
    with pytest.raises(ValueError, match=r"clip: give min, max or both"):
        Tensor([1.0]).clip()
    with pytest.raises(ValueError, match=r"scope: name must be a non-empty string without '/'"):
        with scope("a/b"):
            pass


def test_tensors_cannot_be_assigned_into_or_combined_with_strings():
    x = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"does not support item assignment"):
        x[0] = 3.0
    with pytest.raises(TypeError, match=r"cannot combine a Tensor with str"):
        x + "1"


def test_requires_grad_can_only_be_set_on_leaves():
    y = Tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"only leaf tensors"):
        y.requires_grad_()


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first", [False, True])
def test_detect_anomaly_says_a_nan_was_already_in_a_recurrent_layers_input_and_where(layer_class, batch_first):
    layer = layer_class(3, 4, num_layers=2, batch_first=batch_first, rng=0)
    x = np.ones((5, 2, 3))
    x[3, 1, 2] = np.nan  # step 3, batch row 1, feature 2
    if batch_first:
        x = x.transpose(1, 0, 2).copy()
    with detect_anomaly():
        with pytest.raises(
            FloatingPointError,
            match=rf"^{layer_class.__name__}: the input already holds NaN at t=3, "
            r"element \(1, 2\) of x_t \(shape \(2, 3\)\), before layer0 ran$",
        ):
            layer(x)
    steps = list(np.moveaxis(x, 1, 0)) if batch_first else list(x)
    with detect_anomaly():  # given as a list of steps, the same
        with pytest.raises(FloatingPointError, match=r"the input already holds NaN at t=3, element \(1, 2\)"):
            layer_class(3, 4, rng=0)(steps)
    with np.errstate(invalid="ignore"):
        output, _ = layer(x)  # without detect_anomaly the NaN just flows
    assert np.isnan(output.numpy()).any()


def test_detect_anomaly_names_the_step_whose_op_made_the_first_inf():
    rnn = nn.RNN(1, 1, nonlinearity="relu", bias=False, rng=0)
    rnn.weight_ih_l0.data = np.array([[1.0]])
    rnn.weight_hh_l0.data = np.array([[1e200]])
    with detect_anomaly(), np.errstate(over="ignore"):  # h_1 = 1e200, h_2 = 1e400 = inf
        with pytest.raises(FloatingPointError, match=r"^forward of Linear produced inf in scope 'layer0/t=2'"):
            rnn(np.ones((4, 1, 1)))


def test_detect_anomaly_blames_the_input_that_already_held_the_nan_not_the_op():
    x = Tensor([1.0, np.nan, 2.0])
    w = Tensor([1.0, 1.0, 1.0], requires_grad=True)
    with detect_anomaly(), scope("t=4"):
        with pytest.raises(
            FloatingPointError,
            match=r"^forward of Mul in scope 't=4': its input 0 \(shape \(3,\)\) "
            r"already holds NaN, first at element \(1,\)$",
        ):
            x * w


@pytest.mark.parametrize("hook, shown", [(5, "int 5"), ("grad", "str 'grad'"), (None, "NoneType None")])
def test_register_hook_refuses_what_is_not_callable_at_registration(hook, shown):
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=rf"^register_hook: the hook must be callable as hook\(grad\), got {shown}$"):
        x.register_hook(hook)
    (x * x).sum().backward()  # nothing was registered: backward runs as before
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_checkpoint_load_with_swapped_arguments_names_the_order(tmp_path):
    model = nn.Linear(2, 3)
    path = tmp_path / "model.npz"
    checkpoint.save(model, path)
    before = {name: value.copy() for name, value in model.state_dict().items()}
    with pytest.raises(
        TypeError,
        match=r"^checkpoint\.load\(path, module\): expected a Module as the second "
        r"argument, got str \(the arguments are swapped\)$",
    ):
        checkpoint.load(model, str(path))
    with pytest.raises(
        TypeError,
        match=r"^checkpoint\.load\(path, module\): expected a Module as the second "
        r"argument, got int$",
    ):
        checkpoint.load(path, 5)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
