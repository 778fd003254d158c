"""Edge cases, one per cause of failure the fuzz test (tests/test_fuzz.py) found, each asserting
what PyTorch does (its values are written next to each case; the PyTorch tests at the end
compare with it directly where it is installed).

A case that fails only because of a known engine bug not yet fixed is marked
xfail(strict=True), so the mark must go as soon as the fix lands; the generator of the fuzz
test leaves the same constructs out while fuzz_graphs.KNOWN_ENGINE_BUGS lists the bug.
Where this library documents a behaviour different from PyTorch's, the case asserts the
library's and says why.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, stack
from tinygrad_rnn.nn import functional as F


def leaf(value, dtype=np.float64) -> Tensor:
    return Tensor(np.array(value, dtype=dtype), requires_grad=True)


def gradient(fn, value, dtype=np.float64) -> np.ndarray:
    x = leaf(value, dtype)
    fn(x).backward()
    return x.grad


# ---------------------------------------------------------------- gradient accumulation


def test_zero_d_tensor_used_twice_gets_both_gradients():
    assert gradient(lambda a: a + a, 2.0) == 2.0
    assert gradient(lambda a: a * a, 2.0) == 4.0


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda a: a + a + a, 3.0),  # PyTorch: 3
        (lambda a: a * a * a, 12.0),  # 3 a**2 at a = 2
        (lambda a: stack([a, a, a]).sum(), 3.0),
        (lambda a: (a * 1.0) + (a * 1.0) + (a * 1.0) + (a * 1.0), 4.0),
        (lambda a: a.sum() + a.sum() + a.sum(), 3.0),  # 0-d outputs of an op, not only leaves
    ],
    ids=["a+a+a", "a*a*a", "stack", "four products", "three sums"],
)
def test_zero_d_tensor_used_three_or_more_times(fn, expected):
    assert gradient(fn, 2.0) == expected


def test_zero_d_tensor_indexed_and_reused():
    # x[True] has shape (1,); its sparse gradient meets two dense 0-d ones. PyTorch: 3, no error.
    assert gradient(lambda x: x[True].sum() + x * 1.0 + x * 1.0, 2.0) == 3.0


def test_scalar_weight_used_at_five_steps():
    # h_t = w * h_{t-1} + 1 from h_0 = 0, as a recurrent layer with a scalar weight unrolls:
    # h_5 = 1 + w + w^2 + w^3 + w^4, so dh_5/dw = 1 + 2w + 3w^2 + 4w^3 (PyTorch: 3.25 at w = 0.5).
    w_value = 0.5

    def unrolled(w):
        h = Tensor(0.0)
        for _ in range(5):
            h = w * h + 1.0
        return h

    expected = 1 + 2 * w_value + 3 * w_value**2 + 4 * w_value**3
    assert np.isclose(gradient(unrolled, w_value), expected, rtol=1e-15, atol=0)


def test_one_element_tensor_used_three_times():
    # Shape (1,) is an array, not a NumPy scalar: this already sums every contribution.
    assert gradient(lambda a: (a + a + a).sum(), [2.0]) == 3.0


# ---------------------------------------------------------------- pow


def test_power_zero_has_zero_gradient_at_zero():
    x = leaf([0.0, 2.0])
    y = x**0
    assert np.array_equal(y.data, [1.0, 1.0])  # 0 ** 0 = 1, as in PyTorch
    y.sum().backward()
    assert np.array_equal(x.grad, [0.0, 0.0])  # PyTorch: [0., 0.]


def test_power_at_zero_for_positive_exponents():
    assert np.array_equal(gradient(lambda x: (x**2).sum(), [0.0]), [0.0])
    assert np.array_equal(gradient(lambda x: (x**1).sum(), [0.0]), [1.0])


# ---------------------------------------------------------------- sigmoid tails


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_is_accurate_in_relative_terms_far_left(dtype):
    exact = 4.248354255291589e-18  # 1 / (1 + e^40); PyTorch: 4.2484e-18 in both dtypes
    value = Tensor(np.array(-40.0, dtype=dtype)).sigmoid()
    assert value.dtype == dtype
    assert np.isclose(float(value.data), exact, rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)


def test_sigmoid_gradient_far_left_is_relative_accurate():
    # d sigmoid/dx = s (1 - s) = 4.2484e-18 at x = -40 (PyTorch), not 0.
    assert np.isclose(gradient(lambda x: x.sigmoid(), -40.0), 4.248354255291589e-18, rtol=1e-14, atol=0)


def test_binary_cross_entropy_on_a_far_left_sigmoid():
    # -log(sigmoid(-40)) = log(1 + e^40) = 40 + log(1 + e^-40); PyTorch: 40.0, not the clamp's 100.
    loss = F.binary_cross_entropy(Tensor(-40.0).sigmoid(), 1.0)
    assert np.isclose(loss.item(), 40.0, rtol=1e-14, atol=0)


def test_sigmoid_far_right_is_one_and_both_tails_are_warning_free():
    with np.errstate(all="raise"):
        x = leaf([1000.0, -1000.0, 40.0])
        y = x.sigmoid()
        y.sum().backward()
    assert y.data[0] == 1.0 and y.data[1] == 0.0 and y.data[2] == 1.0
    assert np.array_equal(x.grad[:2], [0.0, 0.0])


# ---------------------------------------------------------------- the softmax family


@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_softmax_over_a_size_0_axis_is_empty(method):
    x = leaf(np.zeros((2, 0)))
    y = getattr(x, method)(axis=1)  # PyTorch: an empty (2, 0) result
    assert y.shape == (2, 0)
    y.sum().backward()
    assert x.grad.shape == (2, 0)


def test_softmax_along_a_non_empty_axis_of_an_empty_tensor():
    x = leaf(np.zeros((0, 3)))
    y = x.softmax(axis=1)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 3)


def test_logsumexp_of_nothing_is_minus_infinity():
    x = leaf(np.zeros((2, 0)))
    y = x.logsumexp(axis=1)  # PyTorch: tensor([-inf, -inf])
    assert np.array_equal(y.data, [-np.inf, -np.inf])
    y.sum().backward()
    assert x.grad.shape == (2, 0)


def test_logsumexp_of_minus_infinities_is_minus_infinity_without_errors():
    with np.errstate(all="raise"):
        y = Tensor([-np.inf, -np.inf]).logsumexp()  # PyTorch: -inf
    assert y.item() == -np.inf


@pytest.mark.parametrize("method, expected", [("softmax", [1.0, 0.0]), ("log_softmax", [0.0, -np.inf])])
def test_softmax_of_the_largest_floats(method, expected):
    with np.errstate(all="raise"):  # PyTorch: [1., 0.] and [0., -inf], no overflow
        y = getattr(Tensor([1e308, -1e308]), method)()
    assert np.array_equal(y.data, expected)


@pytest.mark.parametrize("method, expected", [("softmax", 1.0), ("log_softmax", 0.0)])
@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_of_a_0d_tensor(method, expected, axis):
    x = leaf(2.0)
    y = getattr(x, method)(axis=axis)  # PyTorch: tensor(1.) and tensor(0.), shape ()
    assert y.shape == () and y.item() == expected
    y.backward()
    assert x.grad == 0.0


# ---------------------------------------------------------------- reductions


@pytest.mark.parametrize("method", ["sum", "mean", "amax", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reducing_a_0d_tensor_over_its_only_axis(method, axis, keepdims):
    # PyTorch: torch.tensor(2.).sum(0, keepdim=True) is tensor(2.), shape (); the same for
    # mean, amax and logsumexp (logsumexp of one value is that value).
    x = leaf(2.0)
    y = getattr(x, method)(axis=axis, keepdims=keepdims)
    assert y.shape == () and y.item() == 2.0
    y.backward()
    assert x.grad == 1.0


def test_max_over_a_size_0_axis_is_a_clear_error():
    # NumPy and PyTorch refuse it too ("max(): Expected reduction dim 1 to have non-zero size").
    with pytest.raises(ValueError, match=r"Max.*zero-size.*\(2, 0\)"):
        Tensor(np.zeros((2, 0))).max(axis=1)


def test_max_over_a_non_empty_axis_of_an_empty_tensor():
    x = leaf(np.zeros((0, 3)))
    y = x.amax(axis=1, keepdims=True)
    assert y.shape == (0, 1)
    y.sum().backward()
    assert x.grad.shape == (0, 3)


def test_max_shares_the_gradient_between_ties():
    # As torch.amax and torch.max() without dim do; the fuzz test compares with torch.amax.
    # max(dim=d), as torch.max(x, dim), gives all of it to the returned index instead.
    assert np.array_equal(gradient(lambda x: x.max(), [1.0, 1.0, 0.0]), [0.5, 0.5, 0.0])
    assert np.array_equal(gradient(lambda x: x.amax(axis=0).sum(), [[2.0, 1.0], [2.0, 3.0]]), [[0.5, 0.0], [0.5, 1.0]])


def test_mean_over_a_size_0_axis_is_nan_without_errors():
    with np.errstate(all="raise"):
        x = leaf(np.zeros((0, 3)))
        y = x.mean(axis=0)  # PyTorch: tensor([nan, nan, nan]), silently
        y.sum().backward()
    assert np.isnan(y.data).all() and y.shape == (3,)
    assert x.grad.shape == (0, 3)


# ---------------------------------------------------------------- NaN


def test_max_of_an_array_holding_nan_is_nan_without_errors():
    with np.errstate(all="raise"):
        x = leaf([1.0, np.nan, 3.0])
        y = x.max()  # PyTorch: nan
        y.backward()
    assert np.isnan(y.item())


def test_relu_passes_the_gradient_at_nan_as_pytorch_does():
    # PyTorch's relu backward masks by the output (result <= 0 gets 0): NaN > 0 is false and
    # NaN <= 0 is false too, so the gradient at NaN passes: grad [1., 0., 1.].
    assert np.array_equal(gradient(lambda x: x.relu().sum(), [np.nan, -1.0, 1.0]), [1.0, 0.0, 1.0])


def test_min_sends_a_nan_gradient_only_to_the_minimum():
    # min() without dim is documented as PyTorch's min: its backward puts the incoming gradient
    # at the minimum and exact zeros elsewhere, so a NaN gradient (from a std of one element
    # further on, say) stays there. PyTorch: x.min().backward(nan) gives [nan, 0.].
    x = leaf([1.0, 2.0])
    x.min().backward(np.array(np.nan))
    assert np.isnan(x.grad[0]) and x.grad[1] == 0.0


def test_variance_with_a_divisor_of_zero_or_less_is_infinite_as_in_pytorch():
    # n - correction <= 0: PyTorch's var is inf (its divisor is clamped at 0), and so is its gradient.
    x = leaf([1.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x.var(correction=2)
        y.backward()
    assert y.item() == np.inf and np.isinf(x.grad).all()


def test_nan_flows_through_elementwise_ops_and_sums():
    x = leaf([np.nan, 1.0])
    y = (x.exp() * 2.0 + x.tanh()).sum()
    y.backward()
    assert np.isnan(y.item())
    assert np.isnan(x.grad[0]) and np.isfinite(x.grad[1])


# ---------------------------------------------------------------- dtypes

FLOAT32_PARTNERS = {
    "python float": 2.5,
    "python int": 2,
    "numpy float32 scalar": np.float32(2.5),
    "float32 array": np.full(3, 2.5, dtype=np.float32),
    "float32 tensor": Tensor(np.full(3, 2.5, dtype=np.float32)),
}
FLOAT32_PARTNERS_PROMOTED_TODAY = {
    "int array": np.array([1, 2, 3]),  # PyTorch: float32 + int64 tensor is float32
    "0-d float64 tensor": Tensor(np.float64(2.5)),  # 0-d tensors do not decide the dtype
    "0-d float64 array": np.array(2.5),
}


@pytest.mark.parametrize("partner", FLOAT32_PARTNERS.values(), ids=FLOAT32_PARTNERS.keys())
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "r+", "r*"])
def test_float32_stays_float32(op, partner):
    x = leaf([1.0, 2.0, 3.0], dtype=np.float32)
    y = {
        "+": lambda: x + partner,
        "-": lambda: x - partner,
        "*": lambda: x * partner,
        "/": lambda: x / partner,
        "r+": lambda: partner + x,
        "r*": lambda: partner * x,
    }[op]()
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "partner", FLOAT32_PARTNERS_PROMOTED_TODAY.values(), ids=FLOAT32_PARTNERS_PROMOTED_TODAY.keys()
)
def test_float32_with_int_arrays_and_0d_float64_stays_float32(partner):
    x = leaf([1.0, 2.0, 3.0], dtype=np.float32)
    assert (x * partner).dtype == np.float32
    assert (partner + x).dtype == np.float32


def test_clip_with_numpy_float64_bounds_stays_float32():
    y = leaf([-1.0, 0.5, 2.0], dtype=np.float32).clip(np.float64(0.0), np.float64(1.0))
    assert y.dtype == np.float32  # PyTorch: torch.clamp(x32, np.float64(0), np.float64(1)) is float32


def test_float32_with_a_float64_array_of_dimensions_promotes_as_pytorch_does():
    # A float64 tensor with dimensions does decide: PyTorch gives float64 here too.
    y = leaf(np.ones((2, 2)), dtype=np.float32) @ Tensor(np.ones((2, 2)))
    assert y.dtype == np.float64


def test_integer_tensors_divide_into_the_default_float64():
    # PyTorch's true division of integers gives its default float32; this library's default
    # float dtype is float64 (documented), so the fuzz test never compares integer division.
    y = Tensor(np.array([3, 4])) / 2
    assert y.dtype == np.float64 and np.array_equal(y.data, [1.5, 2.0])


# ---------------------------------------------------------------- losses


def test_binary_cross_entropy_at_a_clamped_probability_has_pytorchs_gradient():
    # The log is clamped at -100; the gradient is PyTorch's (p - y) / max(p (1 - p), 1e-12)
    # with its float32 1e-12, so about 1e12 at p = 1, y = 0.
    p = leaf(1.0)
    loss = F.binary_cross_entropy(p, 0.0)
    loss.backward()
    assert loss.item() == 100.0 and p.grad == 1.0 / float(np.float32(1e-12))


def test_binary_cross_entropy_in_float32_clamps_at_100_as_in_float64():
    # As PyTorch: the log is clamped at -100 in every dtype, so a float32 p = 1, y = 0 costs 100.
    loss = F.binary_cross_entropy(Tensor(np.array([1.0], dtype=np.float32)), np.array([0.0], dtype=np.float32))
    assert loss.dtype == np.float32
    assert loss.item() == 100.0


def test_binary_cross_entropy_refuses_a_nan_probability():
    # PyTorch: RuntimeError "all elements of input should be between 0 and 1"; NaN is no probability.
    with pytest.raises(ValueError, match="binary_cross_entropy"):
        F.binary_cross_entropy(Tensor([np.nan, 0.5]), np.array([1.0, 0.0]))


def test_binary_cross_entropy_with_logits_at_minus_infinity_is_pytorchs_nan():
    # PyTorch's formula (1 - y) x - log sigmoid(x) is inf - inf = NaN at x = -inf with y = 0.5
    # (the limit is +inf); the value here is PyTorch's, its gradient sigmoid(x) - y = -0.5.
    x = leaf([-np.inf])
    loss = F.binary_cross_entropy_with_logits(x, np.array([0.5]), reduction="none")
    loss.backward(np.ones(1))
    assert np.isnan(loss.data).all() and x.grad.tolist() == [-0.5]


def test_masked_fill_keeps_the_tensor_s_dtype():
    # PyTorch: masked_fill's result has self's dtype whatever the value's (here both are 0-d,
    # so where()'s promotion would give float64).
    x = leaf(1.0, dtype=np.float32)
    assert x.masked_fill(np.array(True), Tensor(np.float64(2.0))).dtype == np.float32


def test_masked_fill_value_converted_to_the_tensor_s_dtype_keeps_its_gradient():
    # PyTorch: the value's gradient comes back in the value's own dtype; an integer tensor
    # filled with 2.7 holds 2 (the value converted to int64, so truncated).
    x, value = leaf(1.0, dtype=np.float32), leaf(2.0)
    y = x.masked_fill(np.array(True), value)
    y.backward()
    assert y.dtype == np.float32 and value.grad.dtype == np.float64 and value.grad == 1.0 and x.grad == 0.0
    filled = Tensor(np.array([1, 2])).masked_fill(np.array([True, False]), 2.7)
    assert filled.dtype == np.int64 and np.array_equal(filled.data, [2, 2])


# ---------------------------------------------------------------- 0-d results


@pytest.mark.parametrize("op", ["sub", "mul", "exp", "tanh", "max", "index", "greater", "argmax"])
def test_a_0d_result_holds_a_0d_array(op):
    # .data stays a NumPy array for every shape (as DESIGN.md says), so writes like
    # t.data[...] = v and the in-place updates of optimizers work on 0-d tensors too.
    a = leaf(1.5)
    y = {
        "sub": lambda: a - 1.0,
        "mul": lambda: a * a,
        "exp": lambda: a.exp(),
        "tanh": lambda: a.tanh(),
        "max": lambda: a.max(),
        "index": lambda: leaf([1.0, 2.0])[0],
        "greater": lambda: a > 1.0,
        "argmax": lambda: leaf([1.0, 2.0]).argmax(),
    }[op]()
    assert isinstance(y.data, np.ndarray) and y.data.shape == ()


def test_a_0d_gradient_is_a_0d_array_and_so_is_what_a_hook_sees():
    a = leaf(1.5)
    seen = []
    square = a * a
    square.register_hook(lambda g: seen.append(g.data))
    (square * a).backward()
    assert isinstance(a.grad, np.ndarray) and a.grad.shape == () and a.grad == 3 * 1.5**2
    assert len(seen) == 1 and isinstance(seen[0], np.ndarray) and seen[0].shape == ()


# ---------------------------------------------------------------- shapes


def test_view_of_a_transposed_tensor_is_a_reshape():
    # Documented: view() is reshape() here. PyTorch's view refuses a non-contiguous input
    # ("use .reshape(...) instead"), so the fuzz test compares view with PyTorch's reshape.
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = x.T.view(6)
    assert np.array_equal(y.data, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0])
    (y * np.arange(6.0)).sum().backward()
    assert np.array_equal(x.grad, [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]])


# ---------------------------------------------------------------- indexing


def test_integer_array_indices_follow_numpy_placement():
    # Two advanced indices apart (here a 0-d array and a 1-d one around a slice): NumPy puts
    # the broadcast index axes first, and so does this library. PyTorch treats a 0-d index
    # tensor as an int and keeps the axes in place, so the fuzz test puts index arrays on
    # neighbouring axes only.
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    y = x[np.array(1), :, np.array([0, 3])]
    assert y.shape == (2, 3)
    y.sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[1, :, [0, 3]] = 1.0
    assert np.array_equal(x.grad, expected)


def test_repeated_integer_indices_add_their_gradients():
    assert np.array_equal(gradient(lambda x: x[[0, 0, 2, 0]].sum(), [1.0, 2.0, 3.0]), [3.0, 0.0, 1.0])


def test_an_empty_index_gives_an_empty_result_and_a_zero_gradient():
    x = leaf([1.0, 2.0])
    y = x[np.zeros(0, dtype=np.int64)]
    assert y.shape == (0,)
    (y.sum() + x.sum()).backward()
    assert np.array_equal(x.grad, [1.0, 1.0])


# ---------------------------------------------------------------- against PyTorch itself


def test_the_documented_values_are_pytorch_s():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
    assert torch.sigmoid(torch.tensor(-40.0, dtype=torch.float64)).item() == pytest.approx(
        4.248354255291589e-18, rel=1e-14
    )
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (a * a * a).backward()
    assert a.grad.item() == 12.0
    x = torch.tensor([0.0, 2.0], dtype=torch.float64, requires_grad=True)
    (x**0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
    assert torch.logsumexp(torch.zeros(2, 0), dim=1).tolist() == [-np.inf, -np.inf]
    assert torch.softmax(torch.tensor([1e308, -1e308], dtype=torch.float64), 0).tolist() == [1.0, 0.0]
    assert (torch.ones(3) * torch.tensor([1, 2, 3])).dtype == torch.float32
    assert (torch.ones(3) + torch.tensor(2.5, dtype=torch.float64)).dtype == torch.float32
    assert torch.clamp(torch.ones(3), np.float64(0.0), np.float64(1.0)).dtype == torch.float32
    r = torch.tensor([float("nan"), -1.0, 1.0], requires_grad=True)
    r.relu().sum().backward()
    assert r.grad.tolist() == [1.0, 0.0, 1.0]
    assert torch.tensor(2.0).sum(0, keepdim=True).shape == ()
    assert (
        torch.tensor(1.0).masked_fill(torch.tensor(True), torch.tensor(2.0, dtype=torch.float64)).dtype == torch.float32
    )
    assert torch.zeros(0, 3).mean(0).isnan().all()
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        torch.nn.functional.binary_cross_entropy(torch.tensor([float("nan")]), torch.tensor([1.0]))
    t = torch.tensor([1.0, 1.0, 0.0], requires_grad=True)
    torch.amax(t, dim=0).backward()
    assert t.grad.tolist() == [0.5, 0.5, 0.0]
