"""tbptt_step against full BPTT and against chunks run by hand from detached states."""

import numpy as np
import pytest

from tinygrad_rnn import nn
from tinygrad_rnn.nn.functional import mse_loss
from tinygrad_rnn.optim import SGD, Adam
from tinygrad_rnn.tbptt import detach_state, tbptt_step

T, B, N_IN, H, N_OUT = 7, 3, 2, 4, 2
CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def sum_loss(prediction, target):
    return mse_loss(prediction, target, reduction="sum")


def build(cell, seed=0):
    rnn = CELLS[cell](N_IN, H, rng=seed)
    head = nn.Linear(H, N_OUT, rng=seed + 1)
    return rnn, head


def problem(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(T, B, N_IN)), rng.normal(size=(T, B, N_OUT))


def parameters(rnn, head):
    return list(rnn.parameters()) + list(head.parameters())


def gradients(rnn, head):
    """Copies of every gradient; zeros for a parameter a chunk never used (weight_hh at t = 0)."""
    return [np.zeros_like(p.data) if p.grad is None else np.array(p.grad, copy=True) for p in parameters(rnn, head)]


def zero(rnn, head):
    for p in parameters(rnn, head):
        p.grad = None


def full_bptt(rnn, head, x, y):
    """Gradients and final state of one forward and one backward over all T steps."""
    zero(rnn, head)
    output, state = rnn(x)
    sum_loss(head(output), y).backward()
    return gradients(rnn, head), state


def chunks_by_hand(rnn, head, x, y, k):
    """sum_c dL_c/dtheta, each chunk run from the previous chunk's detached state."""
    total = [np.zeros_like(p.data) for p in parameters(rnn, head)]
    carry = None
    for start in range(0, T, k):
        zero(rnn, head)
        output, carry = rnn(x[start : start + k], carry)
        sum_loss(head(output), y[start : start + k]).backward()
        total = [t + g for t, g in zip(total, gradients(rnn, head))]
        carry = detach_state(carry)
    return total


def states(state):
    return [s.data for s in (state if isinstance(state, tuple) else (state,))]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [T, T + 5])
def test_one_chunk_is_full_bptt(cell, k):
    rnn, head = build(cell)
    x, y = problem()
    expected, full_state = full_bptt(rnn, head, x, y)
    zero(rnn, head)
    _, state = tbptt_step(rnn, head, sum_loss, x, y, k)
    for got, want in zip(gradients(rnn, head), expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    for got, want in zip(states(state), states(full_state)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("k", [1, 2, 3])
def test_short_chunks_sum_the_per_chunk_gradients(cell, k):
    rnn, head = build(cell)
    x, y = problem()
    expected = chunks_by_hand(rnn, head, x, y, k)
    full, full_state = full_bptt(rnn, head, x, y)
    zero(rnn, head)
    _, state = tbptt_step(rnn, head, sum_loss, x, y, k)
    got = gradients(rnn, head)
    for g, want in zip(got, expected):
        np.testing.assert_allclose(g, want, rtol=0, atol=1e-12)
    assert max(np.abs(g - f).max() for g, f in zip(got, full)) > 1e-6
    for s, want in zip(states(state), states(full_state)):
        np.testing.assert_allclose(s, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_mean_loss_is_the_full_sequence_mean_and_the_state_is_detached(cell):
    rnn, head = build(cell)
    x, y = problem()
    output, _ = rnn(x)
    full = mse_loss(head(output), y).item()
    mean_loss, state = tbptt_step(rnn, head, mse_loss, x, y, 3)
    assert mean_loss == pytest.approx(full, rel=1e-12)
    assert all(s._ctx is None and not s.requires_grad for s in (state if isinstance(state, tuple) else (state,)))


@pytest.mark.parametrize("cell", CELLS)
def test_stateful_calls_continue_the_stream(cell):
    rnn, head = build(cell)
    x, y = problem()
    _, full_state = rnn(x)
    _, state = tbptt_step(rnn, head, sum_loss, x[:4], y[:4], 2)
    _, state = tbptt_step(rnn, head, sum_loss, x[4:], y[4:], 2, state=state)
    for got, want in zip(states(state), states(full_state)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_optimizer_steps_after_every_chunk():
    rnn, head = build("lstm")
    x, y = problem()
    lr = 0.1
    gradient, _ = full_bptt(rnn, head, x, y)
    before = [p.data.copy() for p in parameters(rnn, head)]
    tbptt_step(rnn, head, sum_loss, x, y, T, optimizer=SGD(parameters(rnn, head), lr=lr))
    for p, start, g in zip(parameters(rnn, head), before, gradient):
        np.testing.assert_allclose(p.data, start - lr * g, rtol=0, atol=1e-12)

    rnn, head = build("gru")
    optimizer = Adam(parameters(rnn, head), lr=lr)
    tbptt_step(rnn, head, sum_loss, x, y, 3, optimizer=optimizer)
    params = optimizer.param_groups[0]["params"]
    assert [optimizer.state[p]["step"] for p in params] == [3] * len(params)


@pytest.mark.parametrize("k", [0, -2, 2.5])
def test_bad_k_is_rejected(k):
    rnn, head = build("rnn")
    x, y = problem()
    with pytest.raises(ValueError, match=r"k=") as error:
        tbptt_step(rnn, head, sum_loss, x, y, k)
    assert repr(k) in str(error.value)
