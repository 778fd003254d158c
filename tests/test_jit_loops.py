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


def program_for(steps: int, kind=nn.RNN, layers=1, bidirectional=False) -> str:
    rnn = kind(2, 6, num_layers=layers, bidirectional=bidirectional, rng=0)
    head = nn.Linear(12 if bidirectional else 6, 1, rng=1)

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


@pytest.mark.parametrize("steps", [4, 7, 50])
def test_every_step_is_in_the_loops_and_the_first_one_ends_the_backward_loop(steps):
    source = program_for(steps)
    assert f"for t in range(0, {steps}):" in source  # h_0 is the forward loop's starting value
    assert f"for t in range({steps - 1}, 0, -1):" in source  # the head's gradient, the backward one's
    assert source.count("# backward: layer0/t=") == 2  # the loop, and the step t = 0 after it
    first_step = source.split("# backward: layer0/t=0, the loop's last step")[1].split("\n", 1)[1].split("#")[0]
    assert "d_tanh_l0_t = d_tanh_l0_t_all_2[0]\n    d_tanh_l0_t *= d_linear_l0_t\n" in first_step
    assert "np.dot" not in first_step  # no gradient for h_0; its share of dW_hh is in the sum over steps


def test_h0_is_the_row_before_the_first_step_and_w_hh_gets_one_product_over_every_step():
    source = program_for(50)
    assert "stack_l0_from_start = np.empty((51, 1, 6), _float64)" in source
    assert "stack_l0_from_start[0] = v" in source and "stack_l0 = stack_l0_from_start[1:]" in source
    assert "tanh_rows = stack_l0_from_start[0:50].reshape(-1, 6)" in source  # h_0, ..., h_48
    assert "d_linear_l0 = np.dot(d_tanh_rows.T, tanh_rows)" in source
    assert "a factor is zero" not in source  # the zero product h_0 is one row of that product, not checked apart


def test_a_last_step_that_joins_no_loop_is_written_without_the_product_added_to_match(monkeypatch):
    from tinygrad_rnn.jit import rolling

    monkeypatch.setattr(rolling, "MIN_LOOP", 100)  # no loop at all: every step is written out
    source = program_for(7)
    last = source.split("# backward: layer0/t=0\n")[1].split("# backward")[0]
    assert "weight_hh_l0" not in last  # no gradient for h_0 is made there
    assert "for t in" not in source


def test_the_carried_gradient_is_a_local_not_a_buffer_of_every_step():
    source = program_for(50)
    assert "d_linear_l0_t = np.dot(d_tanh_l0_t, weight_hh_l0)" in source
    assert "_steps[t + 1]" not in source  # no value of the iteration before is read from a buffer


def test_the_loss_chain_of_a_mean_folds_to_one_product():
    source = program_for(7)
    assert "np.ones_like" not in source and "np.full(" not in source


def test_no_list_keeps_every_step_the_outputs_are_rows_of_their_stack():
    source = program_for(50)
    assert "[None] *" not in source  # no per-step buffer at all
    assert "np.tanh(linear_l0_t_2, out=stack_l0[t])" in source
    assert "np.array(tuple(" not in source  # the stack is not copied from the steps


def test_the_deltas_are_computed_in_the_rows_that_gather_the_input_gradient():
    source = program_for(50)
    assert "out=d_getitem_l0[0:50])" in source
    assert "d_getitem_l0[0:50] += 0.0" in source


def test_without_rows_the_starting_value_is_slot_0_of_the_buffer_of_every_step(monkeypatch):
    from tinygrad_rnn.jit import body

    monkeypatch.setattr(body.Renderer, "_plan_rows", lambda self: None)  # no stacked rows at all
    step, rnn, head = elman_step()
    x, y = np.linspace(-1, 1, 7 * 2 * 2).reshape(7, 2, 2), np.ones((2, 1))
    eager_loss = step(x, y).item()
    eager = [p.grad.copy() for p in (*rnn.parameters(), *head.parameters())]
    for p in (*rnn.parameters(), *head.parameters()):
        p.grad = None
    compiled = jit(step)
    compiled(x, y)
    for p in (*rnn.parameters(), *head.parameters()):
        p.grad = None
    assert compiled(x, y).item() == pytest.approx(eager_loss, rel=1e-12)
    for ours, theirs in zip((p.grad for p in (*rnn.parameters(), *head.parameters())), eager):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)  # the fused sums add in another order
    assert "for t in range(6, 0, -1):" in compiled.source and "_from_start" not in compiled.source
    assert "tanh_l0_steps[0] = v" in compiled.source and "tanh_l0_steps[t + 1] = tanh_l0_t" in compiled.source


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
def test_the_forward_loop_of_lstm_and_gru_starts_at_the_first_step(kind):
    source = program_for(7, kind=kind)  # c_0 = 0 and h_0 = 0 stay arrays: the loop's starting values
    assert "for t in range(0, 7):" in source
    assert "# forward: layer0/t=0" not in source


def test_the_first_backward_step_of_a_gru_follows_its_loop():
    source = program_for(7, kind=nn.GRU)  # its gradient for h_0 would be a sum of two terms
    assert "for t in range(6, 0, -1):" in source
    assert "# backward: layer0/t=0, the loop's last step" in source and "stack_l0_from_start[0:7]" in source


def test_a_batch_first_layer_writes_its_steps_into_the_second_axis_of_its_stack():
    rnn, head = nn.RNN(2, 6, batch_first=True, rng=0), nn.Linear(6, 1, rng=1)

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[:, -1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    x, y = np.linspace(-1, 1, 3 * 9 * 2).reshape(3, 9, 2), np.ones((3, 1))
    compiled(x, y)
    source = compiled.source
    assert "stack_l0_from_start = np.empty((3, 10, 6), _float64)" in source
    assert "stack_l0_from_start[:, 0] = v" in source and "out=stack_l0[:, t])" in source
    assert "tanh_by_step_2 = stack_l0_from_start[:, 0:9].swapaxes(0, 1)" in source  # the steps first
    assert "tanh_rows = tanh_by_step_2.reshape(-1, 6)" in source
    assert "[None] *" not in source  # no per-step list


def test_the_backward_loop_of_an_lstm_starts_with_its_first_step():
    source = program_for(8, kind=nn.LSTM)  # t = 7 has no cell-state gradient from a later step
    assert "for t in range(7, 0, -1):" in source  # so its sum of two starts from -0.0
    assert "d_tanh_start_l0 = np.full((1, 6), (-0.0), dtype=_float64)" in source
    assert "# backward: layer0/t=7" not in source


@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -0.0])
def test_the_first_backward_step_of_an_lstm_gives_eager_gradients_in_its_loop(bad):
    """The sum the first step gains adds -0.0: the gradients stay eager's, NaN, inf and zero signs included."""
    models = []
    for _ in range(2):
        lstm, head = nn.LSTM(2, 3, rng=0), nn.Linear(3, 1, rng=1)
        if bad is not None:
            head.weight.data[0, 1] = bad  # reaches dL/dh and dL/dc of the last step first
        models.append((lstm, head))

    def step_of(lstm, head):
        def step(x, y):
            out, _ = lstm(x)
            loss = F.mse_loss(head(out[-1]), y)
            loss.backward()
            return loss

        return step

    x, y = np.linspace(-1, 1, 5 * 2 * 2).reshape(5, 2, 2), np.full((2, 1), -3.0)
    with np.errstate(all="ignore"):
        step_of(*models[0])(x, y)
        compiled = jit(step_of(*models[1]))
        for _ in range(2):
            for module in models[1]:
                module.zero_grad()
            compiled(x, y)
    assert "for t in range(4, 0, -1):" in compiled.source
    eager, traced = (dict(lstm.named_parameters()) for lstm, _ in models)
    for name, p in eager.items():
        zero = p.grad == 0
        np.testing.assert_allclose(traced[name].grad, p.grad, rtol=1e-12, atol=0, err_msg=name)
        assert np.array_equal(np.signbit(traced[name].grad[zero]), np.signbit(p.grad[zero])), name


@pytest.mark.parametrize("kind", [nn.RNN, nn.LSTM])
def test_the_backward_loop_of_a_lower_layer_starts_with_its_first_step(kind):
    source = program_for(6, kind=kind, layers=2)  # its h_5 gradient is a row of what the layer above sent
    assert "# backward: layer0/t=5" not in source and "for t in range(5, 0, -1):" in source
    assert "d_stack_l0_2 = d_stack_l0[5]" in source  # that row, made before the loop as its starting value
    assert "d_linear_l0_t = d_stack_l0_2" in source


def test_the_lower_layer_of_two_also_ends_its_backward_loop_with_the_first_step():
    source = program_for(6, layers=2)  # its step t reads the upper layer's gradient d_stack_l0[t - 1]
    assert source.count("/t=0, the loop's last step") == 2
    assert "stack_l0_from_start" in source and "stack_l1_from_start" in source


def test_a_padded_last_step_reads_the_step_before_from_its_buffer_not_from_the_loop_local():
    from tinygrad_rnn import Tensor, scope

    steps, batch, size = 6, 2, 3
    x = np.linspace(-1, 1, steps * batch * size).reshape(steps, batch, size)

    def make():
        w = Tensor(np.linspace(-0.5, 0.5, size * size).reshape(size, size), requires_grad=True)

        def step(x):  # b_{t-1} is read after b_t is made; c_t only by the next step (so t = 5 is padded)
            xs, zeros = Tensor(x), Tensor(np.zeros((batch, size)))
            b_prev, c_prev, hs = zeros, zeros, []
            with scope("layer0"):
                for t in range(steps):
                    with scope(f"t={t}"):
                        b = xs[t] * 2.0
                        h = (b + b_prev + c_prev).tanh()
                        b_prev, c_prev = b, h.matmul(w)
                        hs.append(h)
            loss = sum(h.sum() for h in hs)
            loss.backward()
            return loss

        return w, step

    (w_eager, eager), (w_jit, step) = make(), make()
    compiled = jit(step)
    for _ in range(2):
        w_eager.grad = w_jit.grad = None
        assert compiled(x).item() == pytest.approx(eager(x).item(), rel=1e-12)
        np.testing.assert_allclose(w_jit.grad, w_eager.grad, rtol=1e-12)
    assert "# forward: layer0/t=5, the loop's last step" in compiled.source


def test_a_bidirectional_layer_keeps_a_loop_per_direction_and_pass():
    source = program_for(9, bidirectional=True)
    assert source.count("for t in range(") == 4  # forward and reverse, forward and backward
    assert "stack_l0_from_start" in source  # the forward direction's backward loop ends at t = 0
    assert "tanh_l0_reverse_steps[9] = v" in source  # the reverse one's h_0, after its steps
    assert "# backward: layer0_reverse/t=8, the loop's last step" in source


def test_an_lstm_keeps_c_0_in_slot_0_of_its_buffer_and_ends_its_backward_loop_with_t_0():
    source = program_for(8, kind=nn.LSTM)  # c_{t-1} is kept per step in a buffer, not in rows
    assert "add_l0_steps[0] = " in source  # c_0, before every step's c_t
    assert "# backward: layer0/t=0, the loop's last step" in source
