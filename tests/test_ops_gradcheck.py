"""Every op's backward agrees with central finite differences (float64, relative error < 1e-6).

Shapes and values come from hypothesis. Values stay away from the points where an op has no
derivative (relu at 0, clip at its bounds, ties in max) and from where log and division blow up.
Set TINYGRAD_RNN_EXAMPLES=500 to search harder than the default 25 examples per test.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_rnn import Tensor, concatenate, gradcheck, stack
from tinygrad_rnn.nn.functional import linear

EXAMPLES = int(os.environ.get("TINYGRAD_RNN_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
RTOL = 1e-6
ATOL = 1e-8


def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


SMOOTH = floats(-2.0, 2.0)
POSITIVE = floats(0.5, 3.0)
NONZERO = st.one_of(floats(-3.0, -0.5), floats(0.5, 3.0))
OFF_KINK = st.one_of(floats(-2.0, -0.05), floats(0.05, 2.0))
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONSCALAR_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def arrays(shape, elements=SMOOTH, unique=False):
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def check(fn, *values):
    """gradcheck fn at float64 leaves made from `values`; every leaf requires grad."""
    inputs = [Tensor(v, requires_grad=True) for v in values]
    for t in inputs:
        assert t.dtype == np.float64
    report = gradcheck(fn, inputs, rtol=RTOL, atol=ATOL)
    assert report.ok
    return report


@st.composite
def axis_argument(draw, ndim):
    """None, an int or a tuple of distinct axes, each possibly written as a negative number."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none" or ndim == 0:
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(draw(st.sampled_from([a, a - ndim])) for a in chosen)


# ------------------------------------------------------------------ binary, with broadcasting

BINARY = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_ops_with_broadcasting(name, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    x = data.draw(arrays(shapes.input_shapes[0]))
    y = data.draw(arrays(shapes.input_shapes[1], NONZERO if name == "div" else SMOOTH))
    out = BINARY[name](Tensor(x), Tensor(y))
    assert out.shape == shapes.result_shape
    check(BINARY[name], x, y)


# Python operators with a constant on either side: the constant is a number or a NumPy array.
WITH_CONSTANTS = {
    "2 + x": lambda x, c: 2 + x,
    "x + c": lambda x, c: x + c,
    "c + x": lambda x, c: c + x,
    "2 - x": lambda x, c: 2 - x,
    "x - 2.5": lambda x, c: x - 2.5,
    "c - x": lambda x, c: c - x,
    "3 * x": lambda x, c: 3 * x,
    "c * x": lambda x, c: c * x,
    "x * c": lambda x, c: x * c,
    "1 / x": lambda x, c: 1 / x,
    "x / 4": lambda x, c: x / 4,
    "c / x": lambda x, c: c / x,
    "x / c": lambda x, c: x / c,
    "-x": lambda x, c: -x,
    "2 ** x": lambda x, c: 2**x,
    "np.float64(3) - x": lambda x, c: np.float64(3) - x,
}


@pytest.mark.parametrize("name", list(WITH_CONSTANTS))
@SETTINGS
@given(data=st.data())
def test_operators_with_numbers_and_arrays_on_either_side(name, data):
    shape = data.draw(NONSCALAR_SHAPES)
    x = data.draw(arrays(shape, NONZERO))
    c = data.draw(arrays(shape[data.draw(st.integers(0, len(shape))) :], NONZERO))
    fn = WITH_CONSTANTS[name]
    out = fn(Tensor(x), c)
    assert isinstance(out, Tensor) and out.shape == x.shape
    np.testing.assert_allclose(out.numpy(), fn(x, c), rtol=1e-14)
    check(lambda t: fn(t, c), x)


@SETTINGS
@given(data=st.data())
def test_array_matmul_tensor_on_either_side(data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    a = data.draw(arrays((n, k)))
    x = data.draw(arrays((k, m)))
    b = data.draw(arrays((m, n)))
    assert isinstance(a @ Tensor(x), Tensor)
    check(lambda t: a @ t, x)
    check(lambda t: t @ b, x)


# ------------------------------------------------------------------ matmul

MATMUL_KINDS = ["1d@1d", "1d@2d", "2d@1d", "2d@2d", "nd@nd", "nd@1d", "1d@nd", "nd@2d", "2d@nd"]


@pytest.mark.parametrize("kind", MATMUL_KINDS)
@SETTINGS
@given(data=st.data())
def test_matmul_1d_2d_and_batched_with_broadcast_batch_dims(kind, data):
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=2, max_side=3))
    left, right = kind.split("@")
    x_shape = {"1d": (k,), "2d": (n, k), "nd": batch.input_shapes[0] + (n, k)}[left]
    y_shape = {"1d": (k,), "2d": (k, m), "nd": batch.input_shapes[1] + (k, m)}[right]
    x = data.draw(arrays(x_shape))
    y = data.draw(arrays(y_shape))
    assert (Tensor(x) @ Tensor(y)).shape == np.matmul(x, y).shape
    check(lambda a, b: a @ b, x, y)
    check(lambda a, b: a.matmul(b), x, y)


@pytest.mark.parametrize("bias", ["none", "vector", "full"])
@SETTINGS
@given(data=st.data())
def test_linear_on_rows_of_any_rank_with_a_vector_or_full_bias(bias, data):
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    k, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x, w = data.draw(arrays(lead + (k,))), data.draw(arrays((m, k)))
    bias_shape = {"none": None, "vector": (m,), "full": lead + (m,)}[bias]
    values = (x, w) if bias_shape is None else (x, w, data.draw(arrays(bias_shape)))
    expected = x @ w.T + (0.0 if bias_shape is None else values[2])
    assert np.allclose(linear(*[Tensor(v) for v in values]).data, expected, rtol=1e-14, atol=1e-14)
    check(linear, *values)


# ------------------------------------------------------------------ elementwise unary

UNARY = {
    "neg": (lambda x: -x, SMOOTH),
    "exp": (lambda x: x.exp(), SMOOTH),
    "log": (lambda x: x.log(), POSITIVE),
    "tanh": (lambda x: x.tanh(), SMOOTH),
    "sigmoid": (lambda x: x.sigmoid(), floats(-6.0, 6.0)),
    "relu": (lambda x: x.relu(), OFF_KINK),
    "sqrt": (lambda x: x.sqrt(), POSITIVE),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(data=st.data())
def test_elementwise_unary_ops(name, data):
    fn, elements = UNARY[name]
    check(fn, data.draw(arrays(data.draw(SHAPES), elements)))


@SETTINGS
@given(data=st.data(), exponent=st.sampled_from([2, 3, 1, 0.5, -1, -2.5, 1.7, np.float64(2.2)]))
def test_pow_with_a_number_exponent(data, exponent):
    integral = float(exponent).is_integer()
    x = data.draw(arrays(data.draw(SHAPES), NONZERO if integral else POSITIVE))
    check(lambda t: t**exponent, x)


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (-1.0, None), (None, 1.0)])
@SETTINGS
@given(data=st.data())
def test_clip_away_from_its_bounds(low, high, data):
    off_bounds = st.one_of(floats(-2.0, -1.05), floats(-0.95, 0.95), floats(1.05, 2.0))
    x = data.draw(arrays(data.draw(SHAPES), off_bounds))
    check(lambda t: t.clip(low, high), x)


# ------------------------------------------------------------------ along an axis


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(data=st.data())
def test_softmax_and_log_softmax_along_any_axis(name, data):
    x = data.draw(arrays(data.draw(NONSCALAR_SHAPES), floats(-4.0, 4.0)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda t: getattr(t, name)(axis=axis), x)


REDUCTIONS = ["sum", "mean", "logsumexp", "amax"]


@pytest.mark.parametrize("name", REDUCTIONS)
@SETTINGS
@given(data=st.data(), keepdims=st.booleans())
def test_reductions_with_any_axis_and_keepdims(name, data, keepdims):
    shape = data.draw(SHAPES)
    if name == "amax":
        # distinct values a step of 1/8 apart: no ties, and eps never crosses from one maximum to another
        x = data.draw(arrays(shape, st.integers(-40, 40).map(lambda i: i / 8), unique=True))
    else:
        x = data.draw(arrays(shape))
    axis = data.draw(axis_argument(x.ndim))
    out = getattr(Tensor(x), name)(axis=axis, keepdims=keepdims)
    reference = {
        "sum": np.sum,
        "mean": np.mean,
        "amax": np.max,
        "logsumexp": lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)),
    }
    np.testing.assert_allclose(out.numpy(), reference[name](x, axis=axis, keepdims=keepdims), rtol=1e-13, atol=1e-13)
    check(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), x)


# ------------------------------------------------------------------ shape


@SETTINGS
@given(data=st.data())
def test_reshape(data):
    x = data.draw(arrays(data.draw(SHAPES)))
    shape = data.draw(st.sampled_from([(-1,), x.shape[::-1], (1,) + x.shape, (x.size, 1), (1, -1)]))
    check(lambda t: t.reshape(shape), x)
    check(lambda t: t.reshape(*shape), x)


@SETTINGS
@given(data=st.data())
def test_transpose_with_any_permutation_and_T(data):
    x = data.draw(arrays(data.draw(SHAPES)))
    axes = data.draw(st.permutations(range(x.ndim)))
    axes = tuple(data.draw(st.sampled_from([a, a - x.ndim])) for a in axes)
    assert Tensor(x).transpose(axes).shape == np.transpose(x, axes).shape
    check(lambda t: t.transpose(axes), x)  # spread out, two axes would mean PyTorch's swap
    check(lambda t: t.T, x)
    check(lambda t: t.transpose(), x)


@pytest.mark.parametrize("axes", [(-1, 0, -2), (2, -3, 1), (0, -1, 1)])
def test_transpose_with_negative_axes(axes):
    x = np.random.RandomState(0).randn(2, 3, 4)
    assert Tensor(x).transpose(*axes).shape == np.transpose(x, axes).shape
    check(lambda t: t.transpose(axes), x)


@SETTINGS
@given(data=st.data())
def test_getitem_basic_indices(data):
    x = data.draw(arrays(data.draw(NONSCALAR_SHAPES)))
    index = data.draw(hnp.basic_indices(x.shape, allow_newaxis=True, allow_ellipsis=True))
    np.testing.assert_array_equal(Tensor(x)[index].numpy(), x[index])
    check(lambda t: t[index], x)


@st.composite
def index_with_one_integer_array(draw, shape):
    """A tuple over the leading axes: ints, slices, and one integer array (repeats and negatives)."""
    count = draw(st.integers(1, len(shape)))
    array_at = draw(st.integers(0, count - 1))
    parts = []
    for axis in range(count):
        n = shape[axis]
        if axis == array_at:
            picks = draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6))
            parts.append(np.array(picks))
        else:
            parts.append(draw(st.one_of(st.integers(-n, n - 1), st.slices(n))))
    return tuple(parts)


@SETTINGS
@given(data=st.data())
def test_getitem_integer_arrays_with_repeats(data):
    x = data.draw(arrays(data.draw(NONSCALAR_SHAPES)))
    index = data.draw(index_with_one_integer_array(x.shape))
    np.testing.assert_array_equal(Tensor(x)[index].numpy(), x[index])
    check(lambda t: t[index], x)
    if len(index) == 1:
        as_list = list(index[0])
        check(lambda t: t[as_list], x)


@SETTINGS
@given(data=st.data())
def test_getitem_boolean_mask(data):
    x = data.draw(arrays(data.draw(NONSCALAR_SHAPES)))
    mask = data.draw(hnp.arrays(bool, x.shape))
    check(lambda t: t[mask], x)


@pytest.mark.parametrize("join", ["concatenate", "stack"])
@SETTINGS
@given(data=st.data())
def test_concatenate_and_stack(join, data):
    base = data.draw(NONSCALAR_SHAPES)
    count = data.draw(st.integers(1, 3))
    if join == "concatenate":
        axis = data.draw(st.integers(-len(base), len(base) - 1))
        shapes = []
        for _ in range(count):
            shape = list(base)
            shape[axis] = data.draw(st.integers(1, 3))
            shapes.append(tuple(shape))
        fn = lambda *ts: concatenate(ts, axis=axis)  # noqa: E731
        reference = lambda xs: np.concatenate(xs, axis=axis)  # noqa: E731
    else:
        axis = data.draw(st.integers(-len(base) - 1, len(base)))
        shapes = [base] * count
        fn = lambda *ts: stack(ts, axis=axis)  # noqa: E731
        reference = lambda xs: np.stack(xs, axis=axis)  # noqa: E731
    xs = [data.draw(arrays(s)) for s in shapes]
    np.testing.assert_array_equal(fn(*[Tensor(x) for x in xs]).numpy(), reference(xs))
    check(fn, *xs)
