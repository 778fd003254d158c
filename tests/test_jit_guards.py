"""jit is never silently wrong: branches on values, shape changes, outside values, optimizer
calls inside the step, random draws and the modes that need the eager graph."""

import warnings

import numpy as np
import pytest

from tinygrad_rnn import Tensor, detect_anomaly, nn, no_grad, retain_grads
from tinygrad_rnn.jit import JitError, JitFallbackWarning, jit
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import SGD

TOLERANCE = 1e-12


def twins(seed=0):
    """Two identical small models (an RNN and a head)."""
    return [(nn.RNN(2, 3, rng=seed), nn.Linear(3, 1, rng=seed + 1)) for _ in range(2)]


def params(model):
    rnn, head = model
    return list(rnn.parameters()) + list(head.parameters())


def zero(model):
    for p in params(model):
        p.grad = None


def assert_same_grads(a, b):
    for p, q in zip(params(a), params(b)):
        np.testing.assert_allclose(q.grad, p.grad, rtol=0, atol=TOLERANCE)


def branching_step(model):
    rnn, head = model

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        if loss.item() > 1.0:  # a branch on a value
            loss = loss * 0.5
        loss.backward()
        return loss

    return step


def test_a_branch_on_a_value_falls_back_to_eager_with_one_warning_naming_the_line():
    eager_model, jit_model = twins()
    eager_step, compiled = branching_step(eager_model), jit(branching_step(jit_model))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 2))
    with pytest.warns(JitFallbackWarning, match=r"test_jit_guards.py:\d+ \(if loss.item\(\) > 1.0"):
        compiled(x, np.zeros((2, 1)))
    eager_step(x, np.zeros((2, 1)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning only
        for target in (np.zeros((2, 1)), np.full((2, 1), 10.0), np.zeros((2, 1))):  # both branches taken
            zero(eager_model)
            zero(jit_model)
            assert compiled(x, target).item() == pytest.approx(eager_step(x, target).item(), abs=TOLERANCE)
            assert_same_grads(eager_model, jit_model)
    assert compiled.traces == 1


def test_a_branch_on_the_values_of_an_array_from_outside_falls_back_and_follows_both_branches():
    (eager_rnn, eager_head), (rnn, head) = twins()
    sign = np.array([1.0])

    def make(rnn, head):
        def step(x):
            out, _ = rnn(x)
            y = head(out[-1])
            loss = (y**2).sum() if sign[0] > 0 else (3 * y).sum()  # a branch on an outside array
            loss.backward()
            return loss

        return step

    compiled, eager_step = jit(make(rnn, head)), make(eager_rnn, eager_head)
    x = np.ones((3, 2, 2))
    with pytest.warns(JitFallbackWarning, match=r"test_jit_guards.py:\d+ \(loss = \(y\*\*2\).sum\(\) if sign\[0\] > 0"):
        compiled(x)
    eager_step(x)
    sign[0] = -1.0
    assert compiled(x).item() == pytest.approx(eager_step(x).item(), abs=TOLERANCE)
    assert_same_grads((eager_rnn, eager_head), (rnn, head))


def test_a_number_taken_from_an_outside_dicts_array_falls_back():
    _, (rnn, head) = twins()
    config = {"scale": np.array([2.0])}

    def step(x):
        out, _ = rnn(x)
        loss = head(out[-1]).sum() * float(config["scale"][0])
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((3, 2, 2))
    with pytest.warns(JitFallbackWarning, match="Python float"):
        first = compiled(x).item()
    config["scale"][0] = 5.0
    assert compiled(x).item() == pytest.approx(first * 2.5, abs=TOLERANCE)


ROWS = np.arange(24.0).reshape(12, 2)  # a data set the step below picks rows of


def test_rows_of_a_global_array_picked_by_an_index_argument_are_the_rows_of_each_call():
    head = nn.Linear(2, 1, rng=0)

    def step(rows):
        loss = (head(Tensor(ROWS[rows])) ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    for rows in (np.array([0, 1, 2]), np.array([5, 9, 11]), np.array([3, 3, 4])):
        expected = float(((ROWS[rows] @ head.weight.data.T + head.bias.data) ** 2).sum())
        assert compiled(rows).item() == pytest.approx(expected, abs=TOLERANCE)
    assert compiled.traces == 1 and compiled.fallback_reason is None


def test_strict_raises_at_the_branch():
    _, model = twins()
    compiled = jit(branching_step(model), strict=True)
    with pytest.raises(JitError, match="Python float"):
        compiled(np.ones((3, 2, 2)), np.zeros((2, 1)))


def test_a_shape_change_traces_again_and_never_reuses_a_stale_program():
    eager_model, jit_model = twins()
    rnn_e, head_e = eager_model
    rnn_j, head_j = jit_model

    def step_of(rnn, head):
        def step(x, y):
            out, _ = rnn(x)
            loss = F.mse_loss(head(out[-1]), y)
            loss.backward()
            return loss

        return step

    eager_step, compiled = step_of(rnn_e, head_e), jit(step_of(rnn_j, head_j))
    rng = np.random.default_rng(1)
    for batch_size in (2, 5, 2, 1):
        x, y = rng.standard_normal((3, batch_size, 2)), rng.standard_normal((batch_size, 1))
        zero(eager_model)
        zero(jit_model)
        assert compiled(x, y).item() == pytest.approx(eager_step(x, y).item(), abs=TOLERANCE)
        assert_same_grads(eager_model, jit_model)
    assert compiled.traces == 3


def test_arrays_and_numbers_from_the_closure_are_read_at_call_time():
    rnn, head = twins()[0]
    target = np.zeros((2, 1))
    scale = 1.0

    def step(x):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), target) * scale
        loss.backward()
        return loss

    def eager_value(x):
        out, _ = rnn(x)
        return (F.mse_loss(head(out[-1]), target) * scale).item()

    compiled = jit(step)
    x = np.ones((3, 2, 2))
    compiled(x)
    target[:] = 3.0  # in place: the program reads it again
    assert compiled(x).item() == pytest.approx(eager_value(x), abs=TOLERANCE)
    target = np.full((2, 1), -1.0)  # a new array in the cell
    assert compiled(x).item() == pytest.approx(eager_value(x), abs=TOLERANCE)
    scale = 2.0  # a number: part of what the program assumed, so it traces again
    assert compiled(x).item() == pytest.approx(eager_value(x), abs=TOLERANCE)
    assert compiled.traces == 2


def test_a_replaced_parameter_or_module_traces_again():
    rnn, head = twins()[0]

    def step(x):
        out, _ = rnn(x)
        loss = (head(out[-1]) ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((3, 2, 2))
    compiled(x)
    head.weight = nn.Parameter(np.full((1, 3), 0.5))
    value = compiled(x).item()
    assert compiled.traces == 2
    assert head.weight.grad is not None
    out, _ = rnn(x)
    assert value == pytest.approx(((head(out[-1]) ** 2).sum()).item(), abs=TOLERANCE)


def test_a_parameter_given_to_a_module_after_the_trace_is_used_and_gets_its_gradient():
    class Shifted(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(2, 1, rng=0)
            self.shift = None  # a parameter only once given one

        def forward(self, x):
            y = self.linear(x)
            return y if self.shift is None else y + self.shift

    model = Shifted()

    def step(x):
        loss = (model(Tensor(x)) ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((3, 2))
    compiled(x)
    model.shift = nn.Parameter(np.array([1.5]))
    value = compiled(x).item()
    assert compiled.traces == 2
    expected = model.linear(Tensor(x)).data + 1.5
    assert value == pytest.approx(float((expected**2).sum()), abs=TOLERANCE)
    np.testing.assert_allclose(model.shift.grad, [2 * expected.sum()], rtol=0, atol=TOLERANCE)


def test_a_penalty_over_every_parameter_counts_one_added_after_the_trace():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Linear(3, 1, rng=1))

    def step(x):
        penalty = sum((p**2).sum() for p in model.parameters())
        loss = (model(Tensor(x)) ** 2).sum() + penalty
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((4, 2))
    compiled(x)
    extra = nn.Parameter(np.array([3.0]))
    model[0].scale = extra  # read by no forward(), but one of the model's parameters now
    value = compiled(x).item()
    assert compiled.traces == 2
    assert value == pytest.approx(step(x).item(), abs=TOLERANCE)
    np.testing.assert_allclose(extra.grad, [12.0], rtol=0, atol=0)  # 6 from this call, 6 from step(x)


def test_a_changed_training_flag_traces_again():
    rnn, head = twins()[0]

    def step(x):
        out, _ = rnn(x)
        loss = (head(out[-1]) ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    compiled(np.ones((3, 2, 2)))
    rnn.eval()
    compiled(np.ones((3, 2, 2)))
    assert compiled.traces == 2


def test_an_optimizer_step_inside_is_refused_with_advice():
    rnn, head = twins()[0]
    optimizer = SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.1)

    def step(x):
        out, _ = rnn(x)
        loss = (head(out[-1]) ** 2).sum()
        loss.backward()
        optimizer.step()
        return loss

    with pytest.raises(JitError, match="outside the compiled function"):
        jit(step)(np.ones((3, 2, 2)))


def test_zero_grad_inside_is_refused_with_advice():
    rnn, head = twins()[0]

    def step(x):
        rnn.zero_grad()
        out, _ = rnn(x)
        loss = (head(out[-1]) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(JitError, match="zero_grad"):
        jit(step)(np.ones((3, 2, 2)))


def test_dropout_in_training_falls_back_and_draws_fresh_masks():
    layer = nn.Linear(4, 4, rng=0)
    dropout = nn.Dropout(0.5, rng=1)

    def step(x):
        loss = dropout(layer(x)).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((8, 4))
    with pytest.warns(JitFallbackWarning, match="random draw"):
        first = compiled(x).item()
    values = {first} | {compiled(x).item() for _ in range(5)}
    assert len(values) > 1  # fresh masks, not one baked in


def test_dropout_in_eval_mode_compiles():
    layer = nn.Linear(4, 4, rng=0)
    dropout = nn.Dropout(0.5, rng=1).eval()

    def step(x):
        loss = dropout(layer(x)).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(np.ones((8, 4)))
        compiled(np.ones((8, 4)))
    assert compiled.traces == 1 and compiled.fallback_reason is None


def test_a_class_label_out_of_range_raises_as_eager_does_after_compiling():
    """cross_entropy checks its labels; the program checks them again on every call."""
    rnn, head = nn.RNN(2, 3, rng=0), nn.Linear(3, 4, rng=1)

    def step(x, labels):
        out, _ = rnn(x)
        loss = F.cross_entropy(head(out[-1]), labels)
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((3, 2, 2))
    compiled(x, np.array([0, 3]))
    compiled(x, np.array([1, 2]))
    with pytest.raises(ValueError, match="out of range"):
        compiled(x, np.array([1, 7]))
    assert compiled.traces == 1


@pytest.mark.parametrize("mode", ["no_grad", "retain_grads", "detect_anomaly", "retain_hidden"])
def test_the_modes_that_need_the_eager_graph_run_eagerly(mode):
    rnn, head = nn.RNN(2, 3, rng=0), nn.Linear(3, 1, rng=1)

    def step(x):
        out, _ = rnn(x)
        loss = (head(out[-1]) ** 2).sum()
        if loss.requires_grad:
            loss.backward()
        return loss

    compiled = jit(step)
    x = np.ones((3, 2, 2))
    compiled(x)
    compiled(x)
    if mode == "no_grad":
        with no_grad():
            loss = compiled(x)
        assert not loss.requires_grad
    elif mode == "retain_grads":
        with retain_grads():
            loss = compiled(x)
        assert loss.op is not None and loss.op.grad is not None  # the eager graph, with its gradients
    elif mode == "detect_anomaly":
        bad = np.ones((3, 2, 2))
        bad[0, 0, 0] = np.nan
        with detect_anomaly(), pytest.raises(FloatingPointError):
            compiled(bad)
    else:
        rnn.retain_hidden = True
        compiled(x)
        assert len(rnn.hidden_states[0]) == 3 and rnn.hidden_states[0][0].grad is not None
    assert compiled.traces == 1


def test_a_step_that_returns_no_tensor_falls_back():
    rnn, head = nn.RNN(2, 3, rng=0), nn.Linear(3, 1, rng=1)

    def step(x):
        out, _ = rnn(x)
        loss = (head(out[-1]) ** 2).sum()
        loss.backward()
        return 1.0

    with pytest.warns(JitFallbackWarning, match="returns a float"):
        assert jit(step)(np.ones((3, 2, 2))) == 1.0


def test_arguments_of_unsupported_types_are_refused():
    with pytest.raises(TypeError, match="argument 0 is a list"):
        jit(lambda x: x)([1.0, 2.0])


def test_a_tensor_made_from_the_input_inside_the_step_is_compiled():
    layer = nn.Linear(2, 1, rng=0)

    def step(x):
        loss = (layer(Tensor(x) * 2.0) ** 2).mean()
        loss.backward()
        return loss

    compiled = jit(step)
    for value in (1.0, 3.0):
        layer.zero_grad()
        got = compiled(np.full((3, 2), value)).item()
        grad = layer.weight.grad.copy()
        layer.zero_grad()
        expected = step(np.full((3, 2), value)).item()
        assert got == pytest.approx(expected, abs=TOLERANCE)
        np.testing.assert_allclose(grad, layer.weight.grad, atol=TOLERANCE)
    assert compiled.traces == 1


def test_a_value_the_library_checks_gets_a_program_of_its_own_and_never_goes_stale():
    """One unbatched sequence: cross_entropy picks the label's log-probability by int(label),
    a value each program checks on every call; past MAX_PROGRAMS values the step runs eagerly."""
    rnn, head = nn.RNN(2, 3, rng=0), nn.Linear(3, 4, rng=1)

    def step(x, label):
        out, _ = rnn(x)
        loss = F.cross_entropy(head(out[-1]), label)
        loss.backward()
        return loss

    compiled = jit(step)
    x = np.linspace(-1, 1, 10).reshape(5, 2)
    for label in (1, 1, 3, 1, 0, 2, 3):
        rnn.zero_grad()
        head.zero_grad()
        got = compiled(x, np.array(label)).item()
        grad = head.weight.grad.copy()
        head.zero_grad()
        rnn.zero_grad()
        assert got == pytest.approx(step(x, np.array(label)).item(), abs=TOLERANCE)
        np.testing.assert_allclose(grad, head.weight.grad, atol=TOLERANCE)
    assert compiled.traces == 4 and compiled.fallback_reason is None
