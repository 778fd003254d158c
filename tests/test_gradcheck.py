"""gradcheck itself: it passes correct ops, catches a wrong backward and points at the worst element;
directional_gradcheck does the same for inputs too large to check element by element."""

import numpy as np
import pytest

from tinygrad_rnn import GradcheckError, Tensor, directional_gradcheck, gradcheck
from tinygrad_rnn.ops import Function, unbroadcast
from tinygrad_rnn.tensors import apply


class SquareMissingTwo(Function):
    """z = x**2 with the factor 2 forgotten in backward: dz/dx reported as x."""

    def forward(self, x):
        self.saved = (x,)
        return x * x

    def backward(self, g):
        return (g * self.saved[0],)


class MulWrongAtOneElement(Function):
    """z = x * y, correct except that dL/dy is off by 0.1 at one position."""

    __slots__ = ("where",)

    def forward(self, x, y, where):
        self.saved = (x, y)
        self.where = where
        return x * y

    def backward(self, g):
        x, y = self.saved
        dy = unbroadcast(g * x, y.shape).copy()
        dy[self.where] += 0.1
        return unbroadcast(g * y, x.shape), dy


def test_a_correct_composition_passes_with_a_tiny_error():
    rng = np.random.RandomState(0)
    x = Tensor(rng.randn(3, 4), requires_grad=True)
    w = Tensor(rng.randn(4, 2), requires_grad=True)
    report = gradcheck(lambda a, b: (a @ b).tanh().log_softmax(axis=0), [x, w], rtol=1e-6, atol=1e-9)
    assert report.ok and report.rel_error < 1e-6
    assert "gradcheck passed" in str(report)


def test_gradcheck_catches_a_wrong_backward():
    x = Tensor([[0.5, -1.5, 2.0]], requires_grad=True)
    with pytest.raises(GradcheckError, match=r"gradcheck FAILED: worst at input 0"):
        gradcheck(lambda t: apply(SquareMissingTwo, t), [x])
    report = gradcheck(lambda t: apply(SquareMissingTwo, t), [x], raise_exception=False)
    assert not report.ok
    assert report.rel_error == pytest.approx(0.5, abs=1e-6)  # reported x against the true 2x
    assert report.analytic == pytest.approx(report.numeric / 2, rel=1e-6)


def test_gradcheck_reports_the_input_and_element_that_is_wrong():
    rng = np.random.RandomState(1)
    x = Tensor(rng.randn(3, 4), requires_grad=True)
    y = Tensor(rng.randn(3, 4), requires_grad=True)
    fn = lambda a, b: apply(MulWrongAtOneElement, a, b, where=(2, 1))  # noqa: E731
    report = gradcheck(fn, [x, y], raise_exception=False)
    assert (report.ok, report.input_index, report.element) == (False, 1, (2, 1))
    assert report.abs_error == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(GradcheckError, match=r"worst at input 1, element \(2, 1\)"):
        gradcheck(fn, [x, y])
    # the same op, correct everywhere gradcheck looks, passes
    assert gradcheck(lambda a, b: a * b, [x, y]).ok


def test_gradcheck_leaves_the_inputs_as_they_were():
    values = np.array([[0.3, -0.7], [1.1, 2.0]])
    x = Tensor(values, requires_grad=True)
    gradcheck(lambda t: (t * t).exp(), [x])
    np.testing.assert_array_equal(x.numpy(), values)


def test_inputs_without_requires_grad_are_held_fixed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, -1.0])
    report = gradcheck(lambda a, b: a * b, [x, c])
    assert report.ok and report.input_index == 0


def test_directional_gradcheck_passes_a_200_by_200_matmul():
    rng = np.random.RandomState(2)
    a = Tensor(rng.randn(200, 200), requires_grad=True)
    b = Tensor(rng.randn(200, 200), requires_grad=True)
    before = a.numpy().copy()
    report = directional_gradcheck(lambda x, y: x @ y, [a, b], rtol=1e-6, atol=1e-8)
    assert report.ok and report.rel_error < 1e-6
    np.testing.assert_array_equal(a.numpy(), before)


def test_directional_gradcheck_fails_on_the_broken_ops():
    rng = np.random.RandomState(3)
    x = Tensor(rng.randn(50, 40), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"gradcheck FAILED"):
        directional_gradcheck(lambda t: apply(SquareMissingTwo, t), [x])
    y = Tensor(rng.randn(50, 40), requires_grad=True)
    report = directional_gradcheck(
        lambda a, b: apply(MulWrongAtOneElement, a, b, where=(7, 9)), [x, y], raise_exception=False
    )
    assert not report.ok


def test_gradcheck_refuses_what_it_cannot_check():
    x = Tensor([1.0])
    with pytest.raises(ValueError, match=r"no input has requires_grad=True"):
        gradcheck(lambda t: t * 2, [x])
    with pytest.raises(TypeError, match=r"fn must return a Tensor"):
        gradcheck(lambda t: 2.0, [Tensor([1.0], requires_grad=True)])
    with pytest.raises(TypeError, match=r"input 0 is a ndarray"):
        gradcheck(lambda t: t, [np.ones(1)])
