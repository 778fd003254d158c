"""Saturating ops at |x| = 1000: finite values and gradients, and not a single floating-point warning."""

import warnings

import numpy as np
import pytest

from tinygrad_rnn import Tensor

BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -999.0, -1000.0], [1000.0, 1000.0, 999.0]])


def softmax_reference(x, axis):
    """Softmax by hand at a safe point: shift by the max, in exact arithmetic terms."""
    shifted = x - x.max(axis=axis, keepdims=True)
    with np.errstate(under="ignore"):
        e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


OPS = {
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "softmax": lambda t: t.softmax(axis=1),
    "softmax axis 0": lambda t: t.softmax(axis=0),
    "log_softmax": lambda t: t.log_softmax(axis=-1),
    "log_softmax axis 0": lambda t: t.log_softmax(axis=0),
    "logsumexp": lambda t: t.logsumexp(axis=1),
    "logsumexp all": lambda t: t.logsumexp(),
    "logsumexp keepdims": lambda t: t.logsumexp(axis=0, keepdims=True),
}


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_values_and_gradients_are_finite_with_every_fp_error_raised(name, sign):
    x = Tensor(sign * BIG, requires_grad=True)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        out = OPS[name](x)
        weights = np.arange(1.0, out.numel() + 1.0).reshape(out.shape)  # every output element matters
        (out * weights).sum().backward()
    assert np.all(np.isfinite(out.numpy()))
    assert np.all(np.isfinite(x.grad))


def test_saturated_values_are_the_exact_limits():
    x = Tensor(BIG, requires_grad=True)
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(x.tanh().numpy(), np.sign(BIG))
        np.testing.assert_array_equal(x.sigmoid().numpy()[0], [1.0, 0.0, 0.5])
        np.testing.assert_allclose(x.softmax(axis=1).numpy(), softmax_reference(BIG, 1), rtol=1e-15)
        np.testing.assert_allclose(x.log_softmax(axis=1).numpy()[0], [0.0, -2000.0, -1000.0], rtol=1e-15)
        np.testing.assert_allclose(
            x.logsumexp(axis=1).numpy(),
            [1000.0, -999.0 + np.log1p(2 * np.exp(-1.0)), 1000.0 + np.log(2 + np.exp(-1.0))],
            rtol=1e-15,
        )


def test_saturated_gradients_have_the_right_limits():
    with np.errstate(all="raise"):
        x = Tensor([1000.0, -1000.0], requires_grad=True)
        x.tanh().sum().backward()
        np.testing.assert_array_equal(x.grad, [0.0, 0.0])

        x = Tensor([1000.0, -1000.0, 0.0], requires_grad=True)
        x.log_softmax()[1].backward()  # d log p_1 / dx = e_1 - softmax(x)
        np.testing.assert_array_equal(x.grad, [-1.0, 1.0, 0.0])

        x = Tensor([1000.0, -1000.0, 1000.0], requires_grad=True)
        x.logsumexp().backward()
        np.testing.assert_array_equal(x.grad, [0.5, 0.0, 0.5])


def test_logsumexp_of_all_minus_infinity_is_minus_infinity_not_nan():
    x = Tensor([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) and 0/0 are expected here
        np.testing.assert_array_equal(x.logsumexp(axis=1).numpy(), [-np.inf, 0.0])


def test_float32_does_not_overflow_either():
    x = Tensor(np.array([100.0, -100.0, 0.0], dtype=np.float32), requires_grad=True)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = x.softmax().sum() + x.log_softmax().sum() + x.logsumexp() + x.sigmoid().sum() + x.tanh().sum()
        loss.backward()
    assert loss.dtype == np.float32 and np.all(np.isfinite(x.grad))


# ---------------------------------------------------------------- edge values, against PyTorch


def test_sigmoid_keeps_its_relative_accuracy_in_the_left_tail():
    for x in (-40.0, -100.0, -700.0):
        value = Tensor(x).sigmoid().item()
        assert value > 0 and abs(value - np.exp(x) / (1 + np.exp(x))) <= 1e-15 * value
    assert Tensor(np.float32(-40.0)).sigmoid().dtype == np.float32
    np.testing.assert_allclose(Tensor(np.float32(-40.0)).sigmoid().item(), 4.248354e-18, rtol=1e-6)
    with np.errstate(all="raise"):
        assert Tensor(-1000.0).sigmoid().item() == 0.0 and Tensor(1000.0).sigmoid().item() == 1.0


def test_pow_zero_has_gradient_zero_even_at_zero():
    x = Tensor([0.0, 2.0, -3.0], requires_grad=True)
    with np.errstate(all="raise"):
        (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("axis", [0, 1])
def test_the_softmax_family_over_an_empty_axis_gives_an_empty_result(axis):
    x = Tensor(np.zeros((3, 0)), requires_grad=True)
    with np.errstate(all="raise"):
        assert x.softmax(axis).shape == (3, 0) and x.log_softmax(axis).shape == (3, 0)
        total = x.logsumexp(axis=1)
        total.sum().backward()
    np.testing.assert_array_equal(total.numpy(), [-np.inf, -np.inf, -np.inf])  # log of an empty sum
    assert x.logsumexp(axis=0).shape == (0,) and x.grad.shape == (3, 0)


def test_softmax_of_opposite_extremes_is_exact_with_every_fp_error_raised():
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(Tensor([1e308, -1e308]).softmax(0).numpy(), [1.0, 0.0])
        np.testing.assert_array_equal(Tensor([1e308, -1e308]).log_softmax(0).numpy(), [0.0, -np.inf])
        assert Tensor([1e308, -1e308]).logsumexp().item() == 1e308


def test_nan_flows_through_max_and_relu_as_in_pytorch():
    x = Tensor([1.0, np.nan, 3.0], requires_grad=True)
    with np.errstate(all="raise"):
        top = x.max()
        top.backward()
        assert np.isnan(top.item())
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0])  # the NaN takes the gradient
    y = Tensor([-1.0, np.nan, 3.0], requires_grad=True)
    y.relu().sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 1.0, 1.0])  # PyTorch passes g where relu(x) is NaN
    assert np.isnan(Tensor([1.0, np.nan]).logsumexp().item())


def test_edge_values_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
    from tinygrad_rnn.nn import functional as F

    cases = {
        "sigmoid(-40)": (lambda t: t.sigmoid(), lambda t: t.sigmoid(), [-40.0]),
        "max with NaN": (lambda t: t.max(), lambda t: t.max(), [1.0, np.nan, 3.0]),
        "relu at NaN": (lambda t: t.relu(), lambda t: t.relu(), [-1.0, np.nan, 3.0]),
        "x ** 0 at 0": (lambda t: t**0, lambda t: t**0, [0.0, 1.5]),
        "softmax of extremes": (lambda t: t.softmax(0), lambda t: t.softmax(0), [1e308, -1e308]),
    }
    for name, (ours, theirs, values) in cases.items():
        x = Tensor(np.array(values), requires_grad=True)
        x_torch = torch.tensor(values, dtype=torch.float64, requires_grad=True)
        out, out_torch = ours(x), theirs(x_torch)
        np.testing.assert_array_equal(out.numpy(), out_torch.detach().numpy(), err_msg=name)
        out.sum().backward()
        out_torch.sum().backward()
        np.testing.assert_array_equal(x.grad, x_torch.grad.numpy(), err_msg=name)
    p = Tensor([-40.0]).sigmoid()
    loss = F.binary_cross_entropy(p, np.ones(1))
    expected = torch.nn.functional.binary_cross_entropy(
        torch.tensor([-40.0], dtype=torch.float64).sigmoid(), torch.ones(1, dtype=torch.float64)
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12) and loss.item() == pytest.approx(40.0)
    empty = torch.logsumexp(torch.zeros(3, 0, dtype=torch.float64), 1).numpy()
    np.testing.assert_array_equal(Tensor(np.zeros((3, 0))).logsumexp(axis=1).numpy(), empty)
