"""PyTorch as the oracle at the edges the other parity tests leave: square roots of -0.0 and
-inf, a bool tensor raised to a power, the target's gradient of binary cross-entropy at p = 0
or 1, a 0-d tensor's transpose, argmax of nothing, gradcheck of size-0 inputs, plus the
corners found to hold (reuse of one 0-d tensor across two backward calls, one tensor as both
operands, size-0 axes) so that they keep holding; a tensor to a tensor power, a bool exponent,
and subtraction with a bool refused as PyTorch refuses it."""

import math
import re
import warnings

import numpy as np
import pytest
from torch_checks import assert_same

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, ops
from tinygrad_rnn.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
TF = torch.nn.functional

NAN, INF = math.nan, math.inf


def both(values, dtype=np.float64):
    """The same values as a leaf on each side, requiring grad when floating."""
    values = np.asarray(values, dtype=dtype)
    floating = values.dtype.kind == "f"
    return Tensor(values.copy(), requires_grad=floating), torch.tensor(values.copy(), requires_grad=floating)


def backward_both(ours, theirs, seed=0):
    g = np.random.default_rng(seed).standard_normal(theirs.shape).astype(ours.data.dtype)
    ours.backward(g)
    theirs.backward(torch.tensor(g))


# ================================================================ found and fixed

SQRT_EDGES = [-INF, -1.0, -0.0, 0.0, 1e-320, 4.0, INF, NAN]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "make",
    [lambda x: x.sqrt(), lambda x: x**0.5, lambda x: x**-0.5, lambda x: x**1.5],
    ids=["sqrt", "**0.5", "**-0.5", "**1.5"],
)
def test_square_roots_at_minus_zero_and_minus_inf(make, dtype):
    """torch: x ** -0.5 is 1 / sqrt(x), so (-0.0) ** -0.5 = -inf and (-inf) ** -0.5 = NaN, and
    sqrt's gradient at -0.0 is -inf, at -inf NaN (here before: inf, 0 and inf, 0, from C's pow)."""
    values = [v for v in SQRT_EDGES if dtype == np.float64 or v != 1e-320]
    x, xt = both(values, dtype)
    y, yt = make(x), make(xt)
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.relu().sqrt(),
        lambda x: x.relu().log(),
        lambda x: x.clip(0, 1).log(),
        lambda x: x.clamp(min=0).sqrt(),
        lambda x: (F.relu(x) if isinstance(x, Tensor) else TF.relu(x)) ** -1,
    ],
    ids=["relu.sqrt", "relu.log", "clip.log", "clamp(min).sqrt", "F.relu**-1"],
)
def test_relu_and_clip_give_exact_zeros_where_off_even_for_an_infinite_gradient(make, dtype):
    """torch: relu(x).sqrt() at x = -1 has gradient 0: relu's backward selects g where x > 0
    (here before: 0 * inf = NaN)."""
    x, xt = both([-1.0, 0.0, 0.25, 4.0], dtype)
    y, yt = make(x), make(xt)
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("make", [lambda x: x.relu(), lambda x: x.clip(0, 1)], ids=["relu", "clip"])
@pytest.mark.parametrize("g", [NAN, INF, -INF])
def test_relu_and_clip_pass_a_nan_or_inf_gradient_only_where_on(make, g):
    x, xt = both([-1.0, 0.0, 0.5, 2.0])
    make(x).backward(np.full(4, g))
    make(xt).backward(torch.full((4,), g, dtype=torch.float64))
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("exponent", [2, 3, 0])
def test_a_bool_tensor_to_an_int_power_is_int64(exponent):
    """torch: tensor([True, False]) ** 2 is int64 [1, 0] (here before: NumPy's int8)."""
    assert_same(tg.tensor([True, False]) ** exponent, torch.tensor([True, False]) ** exponent)


@pytest.mark.parametrize("exponent", [2, -1, 0.5])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32])
def test_powers_of_integer_and_float32_tensors_keep_torchs_dtype(dtype, exponent):
    torch.set_default_dtype(torch.float64)  # this library's default float is float64
    try:
        x, xt = both([1, 2, 4], dtype)
        if dtype != np.float32 and exponent == -1:
            with pytest.raises(RuntimeError):
                xt**exponent  # torch: integers to negative integer powers are not allowed
            return
        assert_same(x**exponent, xt**exponent)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid", "sin", "cos", "sqrt"])
@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int16, np.uint8, np.int32, np.int64])
def test_float_functions_of_bool_and_small_int_tensors_are_the_default_float(op, dtype):
    """torch: tensor([True, False]).exp() is of the default float dtype, float64 here (before:
    NumPy's float16 for bool and int8, float32 for int16; sigmoid of a bool a TypeError)."""
    torch.set_default_dtype(torch.float64)  # this library's default float is float64
    try:
        values = np.array([1, 0, 1], dtype=dtype)
        assert_same(getattr(tg.tensor(values), op)(), getattr(torch.tensor(values), op)())
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_target_gradient_is_minus_logit_unclamped(reduction):
    """torch: d bce / d target = log(1 - p) - log(p), +-inf at p = 0 or 1 and 690.8 at p = 1e-300
    (here before: the clamped logs, a finite +-100)."""
    p = [0.0, 1.0, 0.5, 1e-300, 0.25]
    y, yt = both([0.0, 1.0, 0.3, 1.0, 0.5])
    loss = F.binary_cross_entropy(tg.tensor(p), y, reduction=reduction)
    loss_t = TF.binary_cross_entropy(torch.tensor(p, dtype=torch.float64), yt, reduction=reduction)
    backward_both(loss, loss_t)
    assert_same(loss, loss_t)
    assert_same(y.grad, yt.grad)


def test_bce_target_gradient_in_float32():
    p = np.array([0.0, 1.0, 0.5], dtype=np.float32)
    y, yt = both([0.0, 1.0, 0.0], np.float32)
    F.binary_cross_entropy(Tensor(p), y).backward()
    TF.binary_cross_entropy(torch.tensor(p), yt).backward()
    assert_same(y.grad, yt.grad)


@pytest.mark.parametrize("dims", [(0, -1), (-1, 0), (0, 0), (-1, -1)])
def test_a_0d_tensor_transposes_over_dims_0_and_minus_1(dims):
    """torch: tensor(3.).transpose(-1, 0) is itself, gradient 1 (here before: an IndexError)."""
    x, xt = both(3.0)
    y, yt = x.transpose(*dims), xt.transpose(*dims)
    y.backward()
    yt.backward()
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


def test_a_0d_tensor_transpose_refuses_dim_1():
    with pytest.raises(IndexError, match=r"transpose: dim 1 is out of range \[-1, 0\]"):
        tg.tensor(3.0).transpose(1, 0)
    with pytest.raises(IndexError):
        torch.tensor(3.0).transpose(1, 0)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("shape, dim", [((0,), None), ((0, 3), 0), ((2, 0), 1), ((2, 0), -1)])
def test_argmax_over_no_values_is_an_index_error_naming_op_and_shape(name, shape, dim):
    """torch: an IndexError (here before: NumPy's "attempt to get argmax of an empty sequence")."""
    with pytest.raises(IndexError):
        getattr(torch.zeros(shape), name)(dim)
    with pytest.raises(IndexError, match=rf"{name}: cannot reduce over .*\(shape {re.escape(str(shape))}\)"):
        getattr(tg.tensor(np.zeros(shape)), name)(dim)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("shape, dim", [((), 1), ((2, 3), 2), ((2, 3), -3)])
def test_argmax_along_a_dim_out_of_range_names_the_op_and_the_range(name, shape, dim):
    """torch: an IndexError (here before: NumPy's AxisError, naming neither the op nor, for a
    0-d tensor, the right number of dimensions)."""
    with pytest.raises(IndexError):
        getattr(torch.zeros(shape), name)(dim)
    with pytest.raises(IndexError, match=rf"{name}: dim {dim} is out of range"):
        getattr(tg.tensor(np.zeros(shape)), name)(dim)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [0, -1])
def test_argmax_of_a_0d_tensor_along_dim_0_or_minus_1(name, dim):
    assert_same(getattr(tg.tensor(5.0), name)(dim), getattr(torch.tensor(5.0), name)(dim))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_along_a_full_axis_of_an_empty_tensor_is_empty(name):
    ours = getattr(tg.tensor(np.zeros((0, 3))), name)(1)
    assert_same(ours, getattr(torch.zeros((0, 3), dtype=torch.float64), name)(1))


MASKS = [
    (lambda T: ~(T([1.0, -1.0]) > 0), "~mask"),
    (lambda T: ~T([1, 2]), "~int"),
    (lambda T: T([True, False]) & T([True, True]), "mask & mask"),
    (lambda T: T([True, False]) | True, "mask | True"),
    (lambda T: True ^ T([True, False]), "True ^ mask"),
    (lambda T: T([True, False]) & 1, "mask & 1"),
    (lambda T: T([6, 3]) & T([3, 3]), "int & int"),
    (lambda T: T(np.array([[True], [False]])) | T([True, False]), "broadcast"),
    (lambda T: T(np.zeros(0, bool)) | T(True), "size 0 | 0-d"),
]


@pytest.mark.parametrize("make", [m for m, _ in MASKS], ids=[name for _, name in MASKS])
def test_masks_combine_with_invert_and_or_xor(make):
    """torch: ~, &, | and ^ on bool and integer tensors, the everyday way to combine masks
    (here before: a TypeError, "unsupported operand type(s)")."""
    assert_same(make(tg.tensor), make(torch.tensor))


@pytest.mark.parametrize("make", [lambda x: ~x, lambda x: x & x, lambda x: x | 1], ids=["~", "&", "|"])
def test_bitwise_ops_on_floats_are_a_type_error_naming_the_op(make):
    with pytest.raises((TypeError, NotImplementedError)):
        make(torch.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"needs bool or integer tensors, got shapes \(2,\)"):
        make(tg.tensor([1.0, 2.0]))


def test_unary_plus_and_dim():
    """torch: +x is x itself; x.dim() is the number of axes."""
    x, xt = both([1.0, 2.0])
    assert (+x) is x and (+xt) is xt
    for shape in [(), (0,), (2, 0, 1)]:
        assert tg.tensor(np.zeros(shape)).dim() == torch.zeros(shape).dim()


@pytest.mark.parametrize(
    "make",
    [lambda x, b: x.clamp(min=b), lambda x, b: x.clamp(max=b)],
    ids=["min", "max"],
)
def test_a_bool_tensor_clamps_between_bool_bounds(make):
    """torch: tensor([True, False]).clamp(min=tensor([False, True])) is a bool tensor (here
    before: "Invalid integer data type 'b'", from the missing bound's filler)."""
    x, b = [True, False, True], [False, True, True]
    assert_same(make(tg.tensor(x), tg.tensor(b)), make(torch.tensor(x), torch.tensor(b)))


@pytest.mark.parametrize("index", [[], (slice(None), []), ([], 0), ([],)], ids=["[]", "[:, []]", "[[], 0]", "[([],)]"])
def test_an_empty_list_index_picks_nothing(index):
    """torch: x[[]] is empty with a zero gradient (here before: NumPy's IndexError, since it
    reads [] as a float array)."""
    x, xt = both(np.arange(6.0).reshape(3, 2))
    y, yt = x[index], xt[index]
    (y.sum() + x.sum()).backward()
    (yt.sum() + xt.sum()).backward()
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("check", [tg.gradcheck, tg.directional_gradcheck], ids=["gradcheck", "directional"])
def test_gradcheck_of_size_0_inputs_passes_as_torch(check):
    """torch.autograd.gradcheck of a size-0 input is True (here before: an AssertionError)."""
    assert torch.autograd.gradcheck(lambda x: x * 2, (torch.zeros(0, dtype=torch.float64, requires_grad=True),))
    report = check(lambda x: x * 2, [Tensor(np.zeros((0, 3)), requires_grad=True)])
    assert report.ok and report.abs_error == 0


def test_gradcheck_still_fails_a_wrong_gradient_beside_a_size_0_input():
    """A size-0 input must not hide the other inputs' elements."""

    class WrongSquare(ops.Function):
        def forward(self, x):
            self.saved = (x,)
            return x * x

        def backward(self, g):
            return (g * self.saved[0],)  # should be 2 x g

    def fn(empty, x):
        return empty.sum() + tg.tensors.apply(WrongSquare, x)

    inputs = [Tensor(np.zeros(0), requires_grad=True), Tensor(np.array([1.0, 2.0]), requires_grad=True)]
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(fn, inputs)


# ================================================================ corners that hold: keep them


def test_one_0d_tensor_reused_in_one_graph_and_over_two_backward_calls():
    """Gradients add up over every use and over both calls, 0-d and in the input's dtype."""
    for dtype, tdtype in [(np.float64, torch.float64), (np.float32, torch.float32)]:
        x = Tensor(np.array(2.0, dtype), requires_grad=True)
        xt = torch.tensor(2.0, dtype=tdtype, requires_grad=True)
        for _ in range(2):
            (x * x + x.exp() * x - x / x + x.sum() + x[()]).backward()
            (xt * xt + xt.exp() * xt - xt / xt + xt.sum() + xt[()]).backward()
        y, yt = (x * 3) ** 2, (xt * 3) ** 2
        y.backward(retain_graph=True)
        y.backward()
        yt.backward(retain_graph=True)
        yt.backward()
        assert x.grad.shape == () and x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "make, values",
    [
        (lambda x: x * x * x, 3.0),
        (lambda x: x / x, [1.0, 0.0, INF, -2.0]),
        (lambda x: x @ x.T, np.arange(6.0).reshape(2, 3)),
        (lambda x: x.T @ x, np.zeros((0, 3))),
        (lambda x: x @ x, [1.0, 2.0, 3.0]),
        (lambda x: x @ x, np.zeros(0)),
        (lambda x: tg.maximum(x, x) if isinstance(x, Tensor) else torch.maximum(x, x), [0.0, 1.0, -2.0]),
        (lambda x: tg.stack([x, x, x]) if isinstance(x, Tensor) else torch.stack([x, x, x]), [1.0, 2.0]),
        (lambda x: tg.cat([x, x]) if isinstance(x, Tensor) else torch.cat([x, x]), [1.0, 2.0]),
        (lambda x: x[[0, 0, -1]] * x[0], [1.0, 2.0, 3.0]),
    ],
    ids=["x*x*x 0-d", "x/x", "x@x.T", "x.T@x size 0", "x@x", "x@x size 0", "maximum(x,x)", "stack", "cat", "index"],
)
def test_one_tensor_as_several_operands(make, values):
    x, xt = both(values)
    y, yt = make(x), make(xt)
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize(
    "shapes",
    [((0, 1), (1, 3)), ((2, 0, 1), (3,)), ((0,), (2, 1)), ((2, 0), (0, 3))],
    ids=["(0,1)+(1,3)", "(2,0,1)+(3,)", "(0,)+(2,1)", "matmul k=0"],
)
def test_broadcasting_and_products_with_size_0_axes(shapes):
    a, at = both(np.zeros(shapes[0]))
    b, bt = both(np.ones(shapes[1]))
    matmul = shapes == ((2, 0), (0, 3))
    y, yt = (a @ b, at @ bt) if matmul else (a * b + a, at * bt + at)
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(a.grad, at.grad)
    assert_same(b.grad, bt.grad)


@pytest.mark.parametrize("correction", [0, 1, 2, 0.5])
@pytest.mark.parametrize(
    "values", [[3.0], 3.0, [3.0, 3.0, 3.0], [3.0, 1.0]], ids=["1 element", "0-d", "constant", "two"]
)
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_and_std_with_few_elements(name, values, correction):
    """torch: a divisor n - correction <= 0 gives inf or NaN, and so does the gradient.
    (An infinite input with such a divisor is left out: torch's gradient there is NaN at the
    inf and inf elsewhere, a by-product of how it orders its operations.)"""
    x, xt = both(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns of the divisor
        yt = getattr(xt, name)(correction=correction)
    y = getattr(x, name)(correction=correction)
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "target", [[0, 1, 2, 0], [0, -100, 2, 1], [-100] * 4], ids=["plain", "one ignored", "all ignored"]
)
def test_cross_entropy_and_nll_with_nan_and_inf_logits(target, reduction):
    logits = [[1.0, 2.0, 0.5], [NAN, 0.0, 1.0], [INF, 0.0, 1.0], [-INF, 0.0, 1.0]]
    for ours_loss, torch_loss in [(F.cross_entropy, TF.cross_entropy), (F.nll_loss, TF.nll_loss)]:
        x, xt = both(logits)
        y = ours_loss(x, tg.tensor(target), reduction=reduction)
        yt = torch_loss(xt, torch.tensor(target), reduction=reduction)
        backward_both(y, yt)
        assert_same(y, yt)
        assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_of_an_empty_batch(reduction):
    for ours, theirs, target in [
        (F.cross_entropy, TF.cross_entropy, np.zeros(0, np.int64)),
        (F.nll_loss, TF.nll_loss, np.zeros(0, np.int64)),
        (F.cross_entropy, TF.cross_entropy, np.zeros((0, 3))),
    ]:
        x, xt = both(np.zeros((0, 3)))
        y, yt = ours(x, tg.tensor(target), reduction=reduction), theirs(xt, torch.tensor(target), reduction=reduction)
        backward_both(y, yt)
        assert_same(y, yt)
        assert_same(x.grad, xt.grad)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch, hidden, dtype", [(0, 3, np.float64), (2, 1, np.float64), (0, 1, np.float32)])
def test_recurrent_layers_with_batch_0_or_hidden_1(kind, batch, hidden, dtype):
    tg.manual_seed(0)
    ours = getattr(tg.nn, kind)(2, hidden)
    ours = ours.float() if dtype == np.float32 else ours
    theirs = tg.to_torch(ours)
    xs = np.random.default_rng(0).standard_normal((4, batch, 2)).astype(dtype)
    x, xt = Tensor(xs, requires_grad=True), torch.tensor(xs, requires_grad=True)
    (out, h), (out_t, h_t) = ours(x), theirs(xt)
    last, last_t = (h[0], h_t[0]) if kind == "LSTM" else (h, h_t)
    (out.sum() + last.sum()).backward()
    (out_t.sum() + last_t.sum()).backward()
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert out.data.dtype == out_t.detach().numpy().dtype
    assert x.grad.dtype == dtype and x.grad.shape == xs.shape
    their_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, their_grads[name].grad.numpy(), rtol=1e-5, atol=1e-6)
        assert p.grad.dtype == dtype


# ================================================================ tensor exponents, bool operands


POW_BASES = [-INF, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 3.0, INF, NAN]
POW_EXPONENTS = [-INF, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, INF, NAN]


def test_a_tensor_to_a_tensor_power_at_every_edge_with_both_gradients():
    """torch: x ** y elementwise, dx = y x**(y-1) (0 where y = 0), dy = x**y log x (0 where
    x = 0 and y >= 0), for every pair of bases and exponents above."""
    bases, exponents = np.meshgrid(POW_BASES, POW_EXPONENTS)
    x, xt = both(bases)
    y, yt = both(exponents)
    z, zt = x**y, xt**yt
    assert_same(z, zt)
    backward_both(z, zt)
    assert_same(x.grad, xt.grad.numpy())
    assert_same(y.grad, yt.grad.numpy())


def test_a_tensor_power_broadcasts_and_sums_each_gradient_back():
    x, xt = both(np.linspace(0.5, 2.0, 3).reshape(3, 1))
    y, yt = both([-1.0, 0.0, 0.5, 2.0])
    z, zt = x**y, xt**yt
    backward_both(z, zt)
    assert_same(z, zt)
    assert_same(x.grad, xt.grad.numpy())
    assert_same(y.grad, yt.grad.numpy())


@pytest.mark.parametrize(
    "base, exponent",
    [(np.float32, np.float32), (np.float32, np.float64), (np.int64, np.float32), (np.int64, np.int64)],
    ids=["f32**f32", "f32**f64", "int**f32", "int**int"],
)
def test_a_tensor_power_takes_the_dtype_torch_gives(base, exponent):
    x, xt = both([1, 2, 3], base)
    y, yt = both([2, 3, 1], exponent)
    z, zt = x**y, xt**yt
    assert z.dtype == zt.detach().numpy().dtype
    np.testing.assert_allclose(z.data, zt.detach().numpy(), rtol=1e-6)


def test_a_bool_exponent():
    """torch: tensor([1., 2.]) ** True is [1., 2.]."""
    assert_same(tg.tensor([1.0, 2.0]) ** True, torch.tensor([1.0, 2.0], dtype=torch.float64) ** True)


def test_subtracting_with_a_bool_tensor_is_an_error():
    """torch: tensor([True]) - 1 raises RuntimeError (use ~ or logical_not to invert a mask)."""
    with pytest.raises(RuntimeError):
        torch.tensor([True]) - 1
    mask = tg.tensor([True, False])
    for subtract in (
        lambda: mask - 1,
        lambda: 1 - mask,
        lambda: tg.tensor([1.0, 2.0]) - True,
        lambda: tg.tensor([1.0, 2.0]) - np.array([True, False]),
        lambda: -mask,
        lambda: mask - mask,
    ):
        with pytest.raises(TypeError, match=r"(subtraction|negation) with a bool operand is not supported"):
            subtract()
