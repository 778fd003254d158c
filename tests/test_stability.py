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
        weights = np.arange(1.0, out.size + 1.0).reshape(out.shape)  # every output element matters
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
        np.testing.assert_allclose(x.logsumexp(axis=1).numpy(),
                                   [1000.0, -999.0 + np.log1p(2 * np.exp(-1.0)), 1000.0 + np.log(2 + np.exp(-1.0))],
                                   rtol=1e-15)


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
