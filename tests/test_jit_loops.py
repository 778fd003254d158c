"""The program jit writes: time steps rolled into loops, a size that does not grow with T, and
exact gradients through NaN and inf."""

import numpy as np
import pytest

from tinygrad_rnn import nn
from tinygrad_rnn.jit import jit
from tinygrad_rnn.nn import functional as F


def elman_step(hidden=8, inputs=2):
    rnn, head = nn.RNN(inputs, hidden, rng=0), nn.Linear(hidden, 1, rng=1)

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss

    return step, rnn, head


def program_for(steps: int, kind=nn.RNN, layers=1) -> str:
    rnn, head = kind(2, 6, num_layers=layers, rng=0), nn.Linear(6, 1, rng=1)

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    compiled(np.ones((steps, 1, 2)), np.zeros((1, 1)))
    return compiled.source


def test_the_program_has_the_same_length_at_200_and_2000_steps_and_under_200_lines():
    short, long = program_for(200), program_for(2000)
    assert len(short.splitlines()) == len(long.splitlines()) < 200
    assert "for t in range(" in long


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
def test_gated_layers_loop_too(kind):
    assert len(program_for(20, kind, layers=2).splitlines()) == len(program_for(60, kind, layers=2).splitlines())


def test_the_backward_loop_runs_backward_and_names_its_scope():
    source = program_for(30)
    assert "# forward: layer0/t=t for t = " in source
    assert "# backward: layer0/t=t for t = " in source and ", -1):" in source
    assert "d_tanh" in source and "weight_hh_l0" in source


def test_loop_false_writes_every_step_out():
    step, _, _ = elman_step()
    compiled = jit(step, loop=False)
    compiled(np.ones((12, 1, 2)), np.zeros((1, 1)))
    assert "for t in range(" not in compiled.source
    assert "# backward: layer0/t=11" in compiled.source


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("steps", [1, 12])
def test_nan_and_inf_reach_the_gradients_as_they_do_eagerly(bad, steps):
    """hidden=64: weight_hh's gradient is large enough that a step's zero product is skipped."""
    eager_step, eager_rnn, eager_head = elman_step(hidden=64)
    jit_step, jit_rnn, jit_head = elman_step(hidden=64)
    compiled = jit(jit_step)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((steps, 1, 2)), np.zeros((1, 1))
    compiled(x, y)  # trace with finite values
    x_bad = x.copy()
    x_bad[0, 0, 0] = bad
    for module in (eager_rnn, eager_head, jit_rnn, jit_head):
        module.zero_grad()
    with np.errstate(all="ignore"):
        expected = eager_step(x_bad, y).item()
        got = compiled(x_bad, y).item()
    np.testing.assert_array_equal(got, expected)
    for (name, p), q in zip(eager_rnn.named_parameters(), jit_rnn.parameters()):
        assert np.array_equal(np.isnan(q.grad), np.isnan(p.grad)), name  # NaN exactly where eager has it
        np.testing.assert_allclose(q.grad, p.grad, rtol=0, atol=1e-12, err_msg=name)


def test_a_float32_model_stays_float32():
    rnn, head = nn.RNN(2, 4, rng=0, dtype=np.float32), nn.Linear(4, 1, rng=1, dtype=np.float32)

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    x, y = np.ones((9, 3, 2), dtype=np.float32), np.zeros((3, 1), dtype=np.float32)
    compiled(x, y)
    rnn.zero_grad()
    loss = compiled(x, y)
    assert loss.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in rnn.parameters())
