"""no_grad / enable_grad as contexts and decorators, scope tags on every tensor made inside, and
the pause of the cycle collector."""

import gc

import numpy as np
import pytest

from tinygrad_rnn import Tensor, enable_grad, is_grad_enabled, no_grad, scope
from tinygrad_rnn.autograd import STATE, collector_paused, current_scope


def test_no_grad_context_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).tanh().sum()
    assert is_grad_enabled()
    assert not y.requires_grad and y.op is None
    np.testing.assert_allclose(y.item(), np.tanh(2.0) + np.tanh(4.0), rtol=1e-15)


def test_no_grad_as_a_decorator():
    x = Tensor([1.0, 2.0], requires_grad=True)

    @no_grad()
    def predict(t):
        assert not is_grad_enabled()
        return t * 3

    out = predict(x)
    assert not out.requires_grad and out.op is None
    assert is_grad_enabled()
    assert (x * 3).requires_grad


def test_a_recursive_no_grad_function_restores_grad_mode():
    @no_grad()
    def depth(n):
        return 0 if n == 0 else 1 + depth(n - 1)

    try:
        assert depth(3) == 3
        assert is_grad_enabled()
    finally:
        STATE.grad_enabled = True  # a failure here must not switch the graph off for later tests


def test_no_grad_restores_grad_mode_after_an_exception():
    try:
        with no_grad():
            raise KeyError("boom")
    except KeyError:
        pass
    assert is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        with enable_grad():
            y = x * 2
        z = x * 2
        assert not is_grad_enabled()
    assert y.requires_grad and not z.requires_grad
    y.sum().backward()
    assert x.grad[0] == 2.0


def test_scope_tags_every_tensor_made_inside_and_nests_with_a_slash():
    w = Tensor([[0.5]], requires_grad=True)
    assert w.scope == "" and current_scope() == ""
    with scope("layer0") as outer:
        assert outer == "layer0"
        a = w * 2
        with scope("t=3") as inner:
            assert inner == "layer0/t=3" and current_scope() == "layer0/t=3"
            leaf = Tensor([1.0])
            b = a @ w
        c = b + 1
    d = c.relu()
    assert (a.scope, leaf.scope, b.scope, c.scope, d.scope) == ("layer0", "layer0/t=3", "layer0/t=3", "layer0", "")
    assert current_scope() == ""


def test_scope_is_restored_after_an_exception():
    try:
        with scope("t=0"):
            raise KeyError("boom")
    except KeyError:
        pass
    assert current_scope() == "" and Tensor(1.0).scope == ""


def test_scope_tags_outputs_made_under_no_grad_too():
    with no_grad(), scope("t=5"):
        y = Tensor([1.0], requires_grad=True) * 2
    assert y.scope == "t=5" and not y.requires_grad


def test_the_cycle_collector_is_paused_only_inside_and_restored_after_an_error():
    assert gc.isenabled()
    with pytest.raises(KeyError):
        with collector_paused():
            assert not gc.isenabled()
            raise KeyError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # it was off before, so it stays off
    finally:
        gc.enable()
