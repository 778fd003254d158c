"""The eager core against PyTorch on what a PyTorch user writes without thinking: a number
raised to a tensor, reductions over dim=(), dtype inference of full, a second backward through
a graph that saved nothing, IEEE results without NumPy warnings, IndexError for a dim out of
range, clamp with tensor bounds, and argmin, abs(t), pow, clone and tolist. Values and
gradients, with 0-d, size-0, float32, NaN and inf inputs; finite differences where the
function is smooth; and each new op inside a compiled step."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.jit import jit
from tinygrad_rnn.jit.function import JitFallbackWarning

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch")

NAN, INF = math.nan, math.inf
TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def both(values, dtype=np.float64):
    """The same values as a leaf requiring grad on each side."""
    values = np.asarray(values, dtype=dtype)
    return Tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def assert_same(ours, theirs, rtol=1e-12):
    """Same shape, dtype and values (NaN where torch has NaN, inf of the same sign)."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = ours.data if isinstance(ours, Tensor) else np.asarray(ours)
    assert ours.shape == theirs.shape, f"shape {ours.shape}, torch {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype}, torch {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0, equal_nan=True)


def g_of(theirs, seed=0) -> np.ndarray:
    """The random cotangent backward_both uses for an output of theirs' shape."""
    return np.random.default_rng(seed).standard_normal(theirs.shape)


def backward_both(ours, theirs, seed=0):
    """One random cotangent through both outputs."""
    g = g_of(theirs, seed).astype(ours.dtype)
    ours.backward(g)
    theirs.backward(torch.tensor(g))


def compiled_matches_eager(fn, values, calls=2):
    """jit(step) of loss = sum(fn(x) * 1.5) gives eager's loss and gradient, call after call,
    from one trace, without falling back to eager."""

    def step(x):
        loss = (fn(x) * 1.5).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(3)
    x = Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # the program does not repeat the ops' np.errstate
        for _ in range(calls):
            x.data[...] = x.data + rng.standard_normal(x.shape) * 0.1
            x._version += 1
            x.grad = None
            eager = step(x).item()
            expected = x.grad.copy()
            x.grad = None
            np.testing.assert_allclose(compiled(x).item(), eager, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-12)
    assert compiled.traces == 1 and compiled.fallback_reason is None


# ---------------------------------------------------------------- a number raised to a tensor

EXPONENTS = [0.0, 1.0, 2.0, -1.0, 0.5, -2.5, INF, -INF, NAN]


@pytest.mark.parametrize("base", [0.0, -0.0, -2.0, 1.0, 2.0, 10.0, 0.5, INF, -INF, NAN])
def test_a_number_to_a_tensor_power_value_and_gradient(base):
    """torch: c ** x by pow (exact integer powers, overflow to inf); dz/dx = z log c, with 0
    where c = 0 and x >= 0, NaN for a negative c, 0 for c = 1 even at x = inf."""
    x, xt = both(EXPONENTS)
    y, yt = base**x, base**xt
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


def test_a_number_to_a_tensor_power_is_exact_and_overflows():
    assert (10.0 ** tg.tensor([2.0, 3.0])).data.tolist() == [100.0, 1000.0]
    assert (2.0 ** tg.tensor([1024.0])).data.tolist() == [INF]
    assert_same(1.0 ** tg.tensor([INF]), 1.0 ** torch.tensor([INF], dtype=torch.float64))


@pytest.mark.parametrize(
    "base, values, dtype",
    [
        (2, [3, 10], np.int64),
        (2.0, [3, 10], np.int64),
        (2, [1.5, 3.0], np.float32),
        (2.5, [1.5, 3.0], np.float32),
        (True, [1, 2], np.int64),
        (np.float64(3.0), [1.0, 2.0], np.float64),
    ],
)
def test_a_number_to_a_tensor_power_has_torchs_dtype(base, values, dtype):
    """torch: 2 ** an int tensor stays int64; a float base makes an int tensor floating (float64
    here, the library's default); a float32 tensor stays float32."""
    ours = base ** tg.tensor(np.array(values, dtype=dtype))
    theirs = torch.tensor(np.array(values, dtype=dtype))
    theirs = (base.item() if isinstance(base, np.generic) else base) ** theirs
    expected = str(theirs.dtype).replace("torch.", "")
    if expected == "float32" and dtype != np.float32:
        expected = "float64"  # torch's default float dtype is float32, this library's float64
    assert str(ours.dtype) == expected
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_a_number_to_a_tensor_power_at_0_d_size_0_and_float32():
    x, xt = both(1.5)
    y, yt = 3.0**x, 3.0**xt
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)
    x, xt = both(np.zeros((0, 2)))
    y, yt = 3.0**x, 3.0**xt
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)
    x, xt = both([0.5, -1.0, 30.0], dtype=np.float32)
    y, yt = 3.0**x, 3.0**xt
    backward_both(y, yt)
    assert_same(y, yt, rtol=1e-6)
    assert_same(x.grad, xt.grad, rtol=1e-6)


def test_a_number_to_a_tensor_power_against_finite_differences():
    x = Tensor(np.array([[-1.3, 0.2, 2.0], [0.7, 1.1, -0.4]]), requires_grad=True)
    for base in (0.3, 2.0, 7.5):
        gradcheck(lambda t: base**t, [x])
    gradcheck(lambda t: t.pow(3), [x])


def test_a_number_to_a_tensor_power_names_a_bad_base():
    with pytest.raises(TypeError, match="pow: the base must be a number, got str"):
        "2" ** tg.tensor([1.0])


def test_pow_is_the_operator():
    x, xt = both([-1.5, 0.0, 2.0, NAN, INF])
    y, yt = x.pow(2), xt.pow(2)
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


# ---------------------------------------------------------------- dim=()


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var", "std"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("values", [np.arange(6.0).reshape(2, 3), [[1.0, NAN], [INF, 2.0]], 2.5])
def test_an_empty_dim_tuple_reduces_every_axis(name, keepdim, values):
    """torch: dim=() reduces every axis (0-d, or all ones with keepdim), values and gradients.
    torch's var and std take their gradient's divisor from the empty dim list (n = 1: inf), not
    from the axes they reduced; here their gradient is that of dim=None, as for every other reduction."""
    x, xt = both(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # var of 0-d: a 0 divisor
        y, yt = getattr(x, name)((), keepdim=keepdim), getattr(xt, name)((), keepdim=keepdim)
        backward_both(y, yt)
        if name in ("var", "std"):
            xt = torch.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)
            getattr(xt, name)(None, keepdim=keepdim).backward(torch.tensor(g_of(yt)))
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


def test_an_empty_axis_tuple_keeps_numpys_meaning():
    """NumPy's spelling axis=() reduces no axis, as np.sum(a, axis=())."""
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(x).sum(axis=()).data, np.sum(x, axis=()))


def test_a_sum_over_an_empty_dim_tuple_of_a_size_0_tensor():
    x, xt = both(np.zeros((2, 0)))
    for name in ("sum", "mean"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = getattr(x, name)(())
        assert_same(y, getattr(xt, name)(()))


# ---------------------------------------------------------------- full


@pytest.mark.parametrize("fill", [True, False, np.bool_(True), 7, np.int32(7), 2**40, 7.0, -0.5, NAN, INF])
def test_full_infers_torchs_dtype(fill):
    ours = tg.full((2,), fill)
    theirs = torch.full((2,), fill.item() if isinstance(fill, np.generic) else fill)
    expected = {torch.bool: np.bool_, torch.int64: np.int64, torch.float32: np.float64}[theirs.dtype]
    assert ours.dtype == expected
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert tg.full((), True).shape == () and tg.full((0, 3), 1).shape == (0, 3)


# ---------------------------------------------------------------- backward twice


def test_backward_twice_through_ops_that_saved_nothing():
    """torch: (x + 1).sum() (and reshapes, sums, negation) can be walked twice."""
    x, xt = both([[1.0, 2.0], [3.0, -1.0]])
    y = (-(x + 1).reshape(4)[1:] - 2.0).sum()
    yt = (-(xt + 1).reshape(4)[1:] - 2.0).sum()
    for _ in range(3):
        y.backward()
        yt.backward()
    assert_same(x.grad, xt.grad)


def test_backward_twice_through_an_op_that_saved_values_names_it():
    """torch refuses when the values are gone: so does this library, naming the first op that needs them."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() + 1).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"already released \(at Exp, input shapes: \(2,\)\).*retain_graph=True"):
        loss.backward()
    np.testing.assert_allclose(x.grad, np.exp([1.0, 2.0]))  # the failed walk added nothing


# ---------------------------------------------------------------- IEEE results, no warnings


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.log(),
        lambda x: (x - 1.0).log(),
        lambda x: x / 0.0,
        lambda x: 0.0 / x,
        lambda x: 1.0 / x,
        lambda x: x / x,
        lambda x: (x + 1000.0).exp(),
        lambda x: (x - INF).exp(),
        lambda x: x**-1,
        lambda x: x**-2.5,
        lambda x: (x - 1.0) ** 0.5,
        lambda x: (x + 1e200) ** 2,
        lambda x: 0.0**-x,
        lambda x: (-2.0) ** x,
        lambda x: 2.0 ** (x * 1000.0),
        lambda x: (x + INF).log_softmax(0),
        lambda x: (x + INF).softmax(0),
    ],
    ids=[
        "log(0)",
        "log(-1)",
        "x / 0",
        "0 / x",
        "1 / x",
        "0 / 0",
        "exp(1000)",
        "exp(-inf)",
        "x ** -1 at 0",
        "x ** -2.5 at 0",
        "sqrt(-1)",
        "overflowing square",
        "0 ** -x",
        "(-2) ** x",
        "2 ** 2000",
        "log_softmax(inf)",
        "softmax(inf)",
    ],
)
def test_ieee_results_come_without_numpy_warnings_and_as_torch(make):
    """torch: log(0) = -inf, x / 0 = inf, exp(1000) = inf, and their gradients, come silently;
    the values and gradients are torch's."""
    x, xt = both([0.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = make(x)
        y.sum().backward()
    yt = make(xt)
    yt.sum().backward()
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)


# ---------------------------------------------------------------- dim out of range


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp", "var", "std", "max", "min"])
@pytest.mark.parametrize("shape, dim", [((2, 3), 2), ((2, 3), -3), ((), 1), ((4,), (0, 1))])
def test_a_dim_out_of_range_is_an_index_error_naming_op_dim_and_ndim(name, shape, dim):
    if name in ("max", "min") and isinstance(dim, tuple):
        return  # max(dim) and min(dim) take one int
    with pytest.raises(IndexError):
        getattr(torch.zeros(shape), name)(dim)
    with pytest.raises(IndexError) as caught:
        getattr(tg.zeros(shape), name)(dim)
    message = str(caught.value)
    bad = dim[1] if isinstance(dim, tuple) else dim
    assert str(bad) in message and str(len(shape)) in message
    op = {"amax": "Max", "amin": "Amin", "max": "MaxAlong", "min": "MinAlong", "logsumexp": "LogSumExp"}
    assert message.startswith(op.get(name, name.capitalize())), message


# ---------------------------------------------------------------- clamp with tensor bounds

X = [-2.0, 0.5, 0.7, 3.0, NAN, 1.0, 0.0, 2.0, 0.3, 0.0, 2.0, 1.0]
LOW = [-1.0, 0.5, 0.0, 0.0, 0.0, NAN, 0.0, 3.0, 0.6, 1.0, 1.0, -INF]
HIGH = [1.0, 1.0, 0.7, 1.0, 1.0, 2.0, NAN, 1.0, 0.4, 1.0, 1.0, INF]


@pytest.mark.parametrize("given", ["both", "min", "max"])
def test_clamp_with_tensor_bounds_gives_torchs_values_and_gradients(given):
    """Inside, at a bound, outside, NaN in x or a bound, low > high, low == high, infinite bounds."""
    x, xt = both(X)
    low, low_t = both(LOW)
    high, high_t = both(HIGH)
    bounds = {
        "both": ((low, high), (low_t, high_t)),
        "min": ((low, None), (low_t, None)),
        "max": ((None, high), (None, high_t)),
    }
    (lo, hi), (lo_t, hi_t) = bounds[given]
    y, yt = x.clamp(lo, hi), xt.clamp(lo_t, hi_t)
    backward_both(y, yt)
    assert_same(y, yt)
    for ours, theirs in [(x, xt), (low, low_t), (high, high_t)]:
        if theirs.grad is None:
            assert ours.grad is None
        else:
            np.testing.assert_array_equal(ours.grad, theirs.grad.numpy())


@pytest.mark.parametrize(
    "low, high",
    [
        (np.array(0.0), np.array(1.0)),
        (np.array([[0.0], [0.5]]), 1.0),
        (-0.5, np.array([0.1, 0.2, 0.3, 0.4])),
    ],
    ids=["0-d", "broadcast column", "number and row"],
)
def test_clamp_with_broadcast_and_0_d_bounds(low, high):
    x, xt = both([-2.0, 0.2, 0.7, 3.0])
    # torch takes two Tensors or two numbers: a number beside a Tensor is a 0-d tensor there
    lo, lo_t = both(low) if isinstance(low, np.ndarray) else (low, torch.tensor(low, dtype=torch.float64))
    hi, hi_t = both(high) if isinstance(high, np.ndarray) else (high, torch.tensor(high, dtype=torch.float64))
    y, yt = x.clamp(lo, hi), xt.clamp(lo_t, hi_t)
    backward_both(y, yt)
    assert_same(y, yt)
    for ours, theirs in [(x, xt), (lo, lo_t), (hi, hi_t)]:
        if isinstance(ours, Tensor):
            assert_same(ours.grad, theirs.grad)


def test_clamp_with_tensor_bounds_dtypes_size_0_and_finite_differences():
    x32 = Tensor(np.array([1.0, 5.0], dtype=np.float32))
    assert x32.clamp(Tensor(np.array(2.5))).dtype == np.float32  # a 0-d bound does not promote
    assert x32.clamp(Tensor(np.array([2.5, 1.0]))).dtype == np.float64
    assert tg.tensor([1, 5]).clamp(tg.tensor(2), tg.tensor(4)).dtype == np.int64
    np.testing.assert_array_equal(tg.tensor([1, 5]).clamp(tg.tensor(2), tg.tensor(4)).data, [2, 4])
    empty, empty_t = both(np.zeros((0, 3)))
    y, yt = (
        empty.clamp(Tensor(np.zeros(3)), Tensor(np.ones(3))),
        empty_t.clamp(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)),
    )
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(empty.grad, empty_t.grad)
    x = Tensor(np.array([-1.3, 0.2, 0.9, 2.0]), requires_grad=True)
    low = Tensor(np.array([-1.0, 0.0, 0.5, 0.0]), requires_grad=True)
    high = Tensor(np.array([1.0, 0.5, 1.5, 1.0]), requires_grad=True)
    gradcheck(lambda a, b, c: a.clamp(b, c), [x, low, high])


def test_clamp_with_a_bound_that_does_not_broadcast_names_the_shapes():
    with pytest.raises(ValueError, match=r"ClampBetween.*\(2,\), \(3,\)"):
        tg.tensor([1.0, 2.0]).clamp(tg.tensor([0.0, 0.0, 0.0]))


# ---------------------------------------------------------------- argmin, abs(), pow, clone, tolist


@pytest.mark.parametrize(
    "values",
    [[3.0, -1.0, 2.0, -1.0], [[1.0, NAN, 0.0], [2.0, -INF, -INF]], 4.0, [[2.0, 1.0], [1.0, 2.0]]],
    ids=["ties", "nan and inf", "0-d", "2-d"],
)
def test_argmin_as_torch(values):
    x, xt = Tensor(values), torch.tensor(values, dtype=torch.float64)
    assert_same(x.argmin(), xt.argmin())
    if x.ndim:
        assert_same(x.argmin(0), xt.argmin(0))
        assert_same(x.argmin(-1, keepdim=True), xt.argmin(-1, keepdim=True))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_builtin_abs_clone_and_tolist(dtype):
    values = [3.0, -1.0, 0.0, -0.0, NAN, -INF]
    x, xt = both(values, dtype)
    y, yt = abs(x) * 2 + x.clone() * 3, abs(xt) * 2 + xt.clone() * 3
    backward_both(y, yt)
    assert_same(y, yt)
    assert_same(x.grad, xt.grad)
    np.testing.assert_equal(x.tolist(), xt.tolist())
    assert Tensor(2.5).tolist() == torch.tensor(2.5).tolist() == 2.5
    assert Tensor(np.zeros((2, 0))).tolist() == [[], []]
    assert tg.tensor([1, 2]).tolist() == [1, 2] and type(tg.tensor([1, 2]).tolist()[0]) is int


def test_clone_owns_its_array_and_keeps_dtype():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.clone()
    assert y.dtype == np.float32 and not np.shares_memory(x.data, y.data) and y.op is not None
    assert tg.tensor([1, 2]).clone().dtype == np.int64
    z = Tensor(3.0, requires_grad=True)
    z.clone().backward()
    assert z.grad == 1.0


# ---------------------------------------------------------------- under jit

COMPILED = {
    "number ** x": (lambda x: 2.0**x, [[0.5, -1.0], [2.0, 0.0]]),
    "0 ** x": (lambda x: 0.0 ** (x * x), [[0.5, -1.0], [2.0, 0.3]]),
    "pow": (lambda x: x.pow(3), [[0.5, -1.0], [2.0, 0.0]]),
    "sum(())": (lambda x: x.sum(()) * x, [[0.5, -1.0], [2.0, 0.0]]),
    "amax(())": (lambda x: x.amax((), keepdim=True) * x, [[0.5, -1.0], [2.0, 0.0]]),
    "clamp between tensors": (lambda x: x.clamp(x * 0.5 - 0.2, x.detach() * 0.0 + 0.6), [[0.5, -1.0], [2.0, 0.1]]),
    "clamp to a 0-d max": (lambda x: x.clamp(max=Tensor(np.array(0.4))), [[0.5, -1.0], [2.0, 0.1]]),
    "clone": (lambda x: x.clone() * x, [[0.5, -1.0], [2.0, 0.0]]),
    "abs()": (lambda x: abs(x), [[0.5, -1.0], [2.0, 0.3]]),
    "log and division": (lambda x: (x * x + 1.0).log() / (x + 3.0), [[0.5, -1.0], [2.0, 0.0]]),
}


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_each_changed_op_compiles(name):
    fn, values = COMPILED[name]
    compiled_matches_eager(fn, values)
