"""jit(step) against the same step run eagerly, written as a PyTorch user writes training code:
values read through containers, helpers, module attributes and `self`, a hidden state carried
from call to call, the same tensor passed twice, keyword arguments, signed zeros, two backward
calls in one step, refused steps, and what a call leaves behind.

Every step is called at least three times; between calls what a training loop changes is
changed on both twins (or on the one model, with the eager step run after the compiled one).
"""

import re

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import JitError, jit
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOLERANCE = 1e-12


def twin_models(kind=nn.GRU, hidden=4, outputs=1, **options):
    """Two identical (recurrent layer, Linear head) pairs."""
    return [(kind(3, hidden, rng=0, **options), nn.Linear(hidden, outputs, rng=1)) for _ in range(2)]


def parameters_of(*modules):
    return [p for module in modules for p in module.parameters()]


def assert_same_grads(compiled_params, eager_params):
    for p, q in zip(compiled_params, eager_params):
        assert (p.grad is None) == (q.grad is None), p.name
        if q.grad is not None:
            np.testing.assert_allclose(p.grad, q.grad, rtol=TOLERANCE, atol=TOLERANCE, err_msg=p.name)


def data(seed=0, steps=4, batch=2):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((steps, batch, 3)), rng.standard_normal((batch, 1))) for _ in range(3)]


# ---------------------------------------------------------------- values read from outside fn


def test_a_number_in_a_dict_the_step_reads_is_read_at_call_time():
    """A loss weight kept in a config dict and changed between calls is the call's value."""
    results = []
    for compiled in (True, False):
        rnn, head = twin_models()[0]
        config = {"alpha": 1.0}

        def step(x, y):
            out, _ = rnn(x)
            loss = F.mse_loss(head(out[-1]), y) * config["alpha"]
            loss.backward()
            return loss

        run = jit(step) if compiled else step
        losses = []
        for call, (x, y) in enumerate(data()):
            config["alpha"] = 1.0 + call
            losses.append(run(x, y).data.item())
        results.append(losses)
    np.testing.assert_allclose(results[0], results[1], rtol=TOLERANCE)


class ScaledHead(nn.Module):
    """A Linear head whose output is divided by a temperature attribute."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1, rng=1)
        self.temperature = 1.0

    def forward(self, h):
        return self.linear(h) / self.temperature


def test_a_number_attribute_of_a_module_is_read_at_call_time():
    """A module's Python-number attribute (a temperature) changed between calls is the call's value."""
    rnn, head = nn.GRU(3, 4, rng=0), ScaledHead()

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    for call, (x, y) in enumerate(data()):
        head.temperature = 1.0 + call
        got = compiled(x, y).data.item()
        assert got == pytest.approx(step(x, y).data.item(), rel=TOLERANCE), f"call {call}"


ALPHA = 1.0


def weighted_mse(prediction, target):
    """A helper the step calls; it reads the module-level ALPHA."""
    return F.mse_loss(prediction, target) * ALPHA


def test_a_global_number_read_by_a_helper_function_is_read_at_call_time():
    """A global number read by a helper the step calls (not by the step itself) is the call's value."""
    global ALPHA
    rnn, head = twin_models()[0]

    def step(x, y):
        out, _ = rnn(x)
        loss = weighted_mse(head(out[-1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    try:
        for call, (x, y) in enumerate(data()):
            ALPHA = 1.0 + call
            got = compiled(x, y).data.item()
            assert got == pytest.approx(step(x, y).data.item(), rel=TOLERANCE), f"call {call}"
    finally:
        ALPHA = 1.0


HEAD = nn.Linear(4, 1, rng=1)


def apply_head(h):
    """A helper the step calls; it reads the module-level HEAD."""
    return HEAD(h)


def test_a_global_module_reassigned_and_read_by_a_helper_is_the_new_module():
    """A global module replaced between calls, used through a helper, is the new module."""
    global HEAD
    rnn = nn.GRU(3, 4, rng=0)

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(apply_head(out[-1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    original = HEAD
    try:
        for call, (x, y) in enumerate(data()):
            HEAD = nn.Linear(4, 1, rng=10 + call)
            got = compiled(x, y).data.item()
            assert got == pytest.approx(step(x, y).data.item(), rel=TOLERANCE), f"call {call}"
            assert HEAD.weight.grad is not None, f"call {call}: the new head has no gradient"
    finally:
        HEAD = original


class Trainer:
    """A plain class that compiles its own bound-method step."""

    def __init__(self):
        self.rnn, self.head = nn.GRU(3, 4, rng=0), nn.Linear(4, 1, rng=1)
        self.scale = 1.0
        self.step = jit(self.eager_step)

    def eager_step(self, x, y):
        out, _ = self.rnn(x)
        loss = F.mse_loss(self.head(out[-1]), y) * self.scale
        loss.backward()
        return loss


def test_a_bound_method_step_reads_a_number_attribute_of_self_at_call_time():
    """A number attribute of `self` changed between calls of jit(self.method) is the call's value."""
    trainer = Trainer()
    for call, (x, y) in enumerate(data()):
        trainer.scale = 1.0 + call
        got = trainer.step(x, y).data.item()
        assert got == pytest.approx(trainer.eager_step(x, y).data.item(), rel=TOLERANCE), f"call {call}"


def test_a_bound_method_step_uses_a_module_replaced_on_self():
    """A module attribute of `self` replaced between calls of jit(self.method) is the new module."""
    trainer = Trainer()
    for call, (x, y) in enumerate(data()):
        trainer.head = nn.Linear(4, 1, rng=10 + call)
        got = trainer.step(x, y).data.item()
        assert got == pytest.approx(trainer.eager_step(x, y).data.item(), rel=TOLERANCE), f"call {call}"


def test_a_trainer_whose_loss_fn_is_replaced_between_fits_uses_the_new_loss():
    """Trainer(jit=True) after trainer.loss_fn = another function trains on that loss, as jit=False does."""
    from tinygrad_rnn.train import Trainer

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.head = nn.GRU(3, 4, batch_first=True, rng=0), nn.Linear(4, 1, rng=1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1])

    rng = np.random.default_rng(0)
    inputs, targets = rng.standard_normal((8, 5, 3)), rng.standard_normal((8, 1))
    losses = []
    for compiled in (True, False):
        model = Model()
        optimizer = tg.optim.SGD(model.parameters(), lr=0.01)
        trainer = Trainer(model, nn.MSELoss(), optimizer, batch_size=4, shuffle=False, jit=compiled, progress=False)
        trainer.fit(inputs, targets, epochs=1)
        trainer.loss_fn = lambda prediction, target: F.mse_loss(prediction, target) * 10.0
        losses.append(trainer.fit(inputs, targets, epochs=1).train_loss)
    np.testing.assert_allclose(losses[0], losses[1], rtol=TOLERANCE)


def test_a_parameter_replaced_on_a_module_used_through_functional_linear_is_the_new_one():
    """F.linear(h, head.weight, head.bias) after head.weight = Parameter(...): the new weight is used, gets a grad."""
    rnn, head = twin_models()[0]

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(F.linear(out[-1], head.weight, head.bias), y)
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(1)
    for call, (x, y) in enumerate(data()):
        head.weight = nn.Parameter(rng.standard_normal((1, 4)))
        got = compiled(x, y).data.item()
        compiled_grad = head.weight.grad
        head.weight.grad = None
        assert got == pytest.approx(step(x, y).data.item(), rel=TOLERANCE), f"call {call}"
        assert compiled_grad is not None, f"call {call}: the new weight got no gradient"


def test_a_python_random_teacher_forcing_choice_is_made_on_every_call():
    """Teacher forcing decided by random.random() follows each call's draw, never the trace's."""
    import random

    def model():
        return nn.LSTMCell(3, 4, rng=0), nn.Linear(4, 3, rng=1)

    def step_of(modules):
        cell, head = modules

        def step(x):
            state, inp, loss = None, Tensor(x[0]), 0.0
            for t in range(x.shape[0] - 1):
                state = cell(inp, state)
                prediction = head(state[0])
                loss = loss + F.mse_loss(prediction, Tensor(x[t + 1]))
                inp = prediction if random.random() < 0.5 else Tensor(x[t + 1])
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(model())), step_of(model())
    rng = np.random.default_rng(0)
    for call in range(4):
        x = rng.standard_normal((6, 2, 3))
        random.seed(call)
        got = compiled(x).data.item()
        random.seed(call)
        assert got == pytest.approx(eager(x).data.item(), rel=TOLERANCE), f"call {call}"


# ---------------------------------------------------------------- state carried between calls


@pytest.mark.parametrize("holder", ["nonlocal", "dict"])
def test_a_hidden_state_carried_from_call_to_call_is_updated_on_every_call(holder):
    """Truncated BPTT: h_n.detach() kept for the next call is the call's h_n, as eager keeps it."""
    results = []
    for compiled in (True, False):
        rnn, head = twin_models()[0]
        state = {"h": None}
        h = None

        def step(x, y):
            nonlocal h
            previous = h if holder == "nonlocal" else state["h"]
            out, h_n = rnn(x, previous)
            if holder == "nonlocal":
                h = h_n.detach()
            else:
                state["h"] = h_n.detach()
            loss = F.mse_loss(head(out[-1]), y)
            loss.backward()
            return loss

        run = jit(step) if compiled else step
        results.append([run(x, y).data.item() for x, y in data()])
    np.testing.assert_allclose(results[0], results[1], rtol=TOLERANCE)


def test_an_array_the_step_writes_into_holds_each_calls_values():
    """`log[...] = h_n.data[0]` into an outside array writes the call's h_n on every call, as eager does."""
    rnn, head = twin_models()[0]
    log = np.zeros((2, 4))

    def step(x, y):
        out, h_n = rnn(x)
        log[...] = h_n.data[0]
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss

    compiled = jit(step)
    for call, (x, y) in enumerate(data()):
        compiled(x, y)
        got = log.copy()
        step(x, y)
        np.testing.assert_allclose(got, log, rtol=TOLERANCE, err_msg=f"call {call}")


def test_a_loss_appended_to_a_list_inside_the_step_is_appended_on_every_call():
    """`history.append(loss.detach())` inside the step appends once per call, as eager does."""
    rnn, head = twin_models()[0]
    history = []

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        history.append(loss.detach())
        return loss

    compiled = jit(step)
    losses = [compiled(x, y).data.item() for x, y in data()]
    assert len(history) == 3
    np.testing.assert_allclose([h.data.item() for h in history], losses, rtol=TOLERANCE)


def test_a_list_result_stays_a_list_of_tensors_like_eager():
    """A step returning [loss, output] gives a list on every call, as the eager step does."""
    rnn, head = twin_models()[0]

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return [loss, out]

    compiled = jit(step)
    for call, (x, y) in enumerate(data()):
        result = compiled(x, y)
        assert type(result) is list, f"call {call}: {type(result).__name__}"


# ---------------------------------------------------------------- arguments


def test_one_tensor_passed_for_two_arguments_at_the_trace_does_not_tie_them_later():
    """Traced as step(t, t), a later step(a, b) uses a and b and gives each its own gradient."""
    linear = nn.Linear(3, 2, rng=0)

    def step(a, b):
        loss = (linear(a) * linear(b)).sum() + (a * 2.0).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(0)
    shared = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    compiled(shared, shared)
    for call in range(3):
        first, second = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
        a, b = Tensor(first, requires_grad=True), Tensor(second, requires_grad=True)
        got = compiled(a, b).data.item()
        a_eager, b_eager = Tensor(first, requires_grad=True), Tensor(second, requires_grad=True)
        assert got == pytest.approx(step(a_eager, b_eager).data.item(), rel=TOLERANCE), f"call {call}"
        assert a.grad is not None and b.grad is not None, f"call {call}"
        np.testing.assert_allclose(a.grad, a_eager.grad, rtol=TOLERANCE)
        np.testing.assert_allclose(b.grad, b_eager.grad, rtol=TOLERANCE)


def test_a_parameter_passed_as_an_argument_at_the_trace_stays_the_modules_own_later():
    """Traced as step(linear.weight, x), a later step(other, x) still runs linear with linear.weight."""
    linear = nn.Linear(3, 3, rng=0)

    def step(w, x):
        loss = (linear(Tensor(x)) * (Tensor(x) @ w)).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3))
    compiled(linear.weight, x)
    for call in range(3):
        other = rng.standard_normal((3, 3))
        got = compiled(Tensor(other, requires_grad=True), x).data.item()
        assert got == pytest.approx(step(Tensor(other, requires_grad=True), x).data.item(), rel=TOLERANCE), call


def test_a_tensor_argument_with_a_graph_from_outside_passes_its_gradient_on():
    """Traced with a leaf input, a later input made by an outside Linear gets that Linear its gradient."""
    rnn, head = twin_models()[0]
    outside = nn.Linear(3, 3, rng=2)
    step = simple_step(rnn, head)
    compiled = jit(step)
    rng = np.random.default_rng(0)
    for x, y in data():
        compiled(Tensor(x, requires_grad=True), y)
    x, y = rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 1))
    compiled(outside(Tensor(x)), y)
    compiled_grad = outside.weight.grad
    outside.weight.grad = None
    step(outside(Tensor(x)), y)
    assert compiled_grad is not None, "the outside Linear got no gradient"
    np.testing.assert_allclose(compiled_grad, outside.weight.grad, rtol=TOLERANCE)


def test_keyword_arguments_are_passed_as_the_eager_step_takes_them():
    """step(x, y=y) works under jit as it does eagerly."""
    compiled_model, eager_model = twin_models()

    def step_of(model):
        rnn, head = model

        def step(x, y):
            out, _ = rnn(x)
            loss = F.mse_loss(head(out[-1]), y)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    for call, (x, y) in enumerate(data()):
        got = compiled(x, y=y).data.item()
        assert got == pytest.approx(eager(x, y=y).data.item(), rel=TOLERANCE), f"call {call}"
    assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


def test_a_negative_zero_number_argument_gives_the_gradient_its_sign():
    """step(-0.0) after step(0.0): the gradient is -0.0 where eager's is (0.0 == -0.0 is no signature)."""
    weight = Tensor(np.array([2.0]), requires_grad=True, name="weight")

    def step(scale):
        loss = (weight * scale).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    for call, scale in enumerate((0.0, -0.0, 0.0, -0.0)):
        weight.grad = None
        compiled(scale)
        got = weight.grad.copy()
        weight.grad = None
        step(scale)
        assert np.signbit(got) == np.signbit(weight.grad), f"call {call}: scale {scale}"


# ---------------------------------------------------------------- two backward calls, refusals


def test_a_changed_label_after_a_first_backward_does_not_count_that_backward_twice():
    """Two backward() calls in one step, the second on a checked label: a new label adds each once."""
    compiled_model, eager_model = twin_models(outputs=3)

    def step_of(model):
        rnn, head = model

        def step(x, label):
            (rnn(x)[0] ** 2).mean().backward()
            _, h_n = rnn(x)
            loss = F.cross_entropy(head(h_n[0, 0]), label)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    rng = np.random.default_rng(0)
    for call, label in enumerate((0, 2, 0, 1)):
        x = rng.standard_normal((5, 1, 3))
        got = compiled(x, np.array(label)).data.item()
        assert got == pytest.approx(eager(x, np.array(label)).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


def test_a_changed_packed_length_after_a_first_backward_does_not_count_that_backward_twice():
    """Two backward() calls, the second over a packed batch: new lengths add the first backward once."""
    compiled_model, eager_model = twin_models()

    def step_of(model):
        rnn, head = model

        def step(x, lengths, y):
            ((rnn(x)[0] ** 2).mean()).backward()
            _, h_n = rnn(pack_padded_sequence(x, lengths, enforce_sorted=False))
            loss = F.mse_loss(head(h_n[0]), y)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    rng = np.random.default_rng(0)
    for call, lengths in enumerate(([5, 2, 3], [3, 5, 1], [5, 2, 3])):
        x, y = rng.standard_normal((5, 3, 3)), rng.standard_normal((3, 1))
        got = compiled(x, np.array(lengths), y).data.item()
        assert got == pytest.approx(eager(x, np.array(lengths), y).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


@pytest.mark.parametrize("inside", ["optimizer_step", "clip_grad_norm_"])
def test_a_refused_step_leaves_the_gradients_as_they_were(inside):
    """An optimizer step or clipping inside fn is refused, and the refused call adds no gradient."""
    rnn, head = twin_models()[0]
    params = parameters_of(rnn, head)
    optimizer = tg.optim.SGD(params, lr=0.1)

    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        if inside == "optimizer_step":
            optimizer.step()
        else:
            tg.optim.clip_grad_norm_(params, 0.1)
        return loss

    compiled = jit(step)
    before = [p.data.copy() for p in params]
    for x, y in data():
        with pytest.raises(JitError, match="outside the compiled function"):
            compiled(x, y)
        assert all(p.grad is None for p in params), "the refused call left gradients behind"
        assert all(np.array_equal(b, p.data) for b, p in zip(before, params))


# ---------------------------------------------------------------- hooks on parameters, nesting


def simple_step(rnn, head):
    def step(x, y):
        out, _ = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss

    return step


def test_a_hook_registered_on_a_parameter_after_the_trace_runs_on_later_calls():
    """p.register_hook(zeroing) between calls changes p.grad on the next call, as eagerly."""
    compiled_model, eager_model = twin_models()
    compiled, eager = jit(simple_step(*compiled_model)), simple_step(*eager_model)
    for call, (x, y) in enumerate(data()):
        if call == 1:
            for model in (compiled_model, eager_model):
                model[1].weight.register_hook(lambda g: g * 0.0)
        compiled(x, y)
        eager(x, y)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


def test_a_hook_removed_from_a_parameter_after_the_trace_no_longer_runs():
    """handle.remove() between calls: the next call's gradient is the plain one, as eagerly."""
    compiled_model, eager_model = twin_models()
    handles = [model[1].weight.register_hook(lambda g: g * 0.0) for model in (compiled_model, eager_model)]
    compiled, eager = jit(simple_step(*compiled_model)), simple_step(*eager_model)
    for call, (x, y) in enumerate(data()):
        if call == 1:
            for handle in handles:
                handle.remove()
        compiled(x, y)
        eager(x, y)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


def test_a_parameter_hook_with_a_side_effect_runs_on_every_call():
    """A hook on a parameter that records each gradient it sees is called once per call."""
    rnn, head = twin_models()[0]
    seen = []
    head.weight.register_hook(lambda g: seen.append(g.data.copy()))
    compiled = jit(simple_step(rnn, head))
    for x, y in data():
        compiled(x, y)
    assert len(seen) == 3


def test_a_compiled_step_of_a_compiled_step_runs_like_eager():
    """jit(jit(step)) gives eager's loss and gradients (or a clear JitError), never a RecursionError."""
    compiled_model, eager_model = twin_models()
    compiled, eager = jit(jit(simple_step(*compiled_model))), simple_step(*eager_model)
    for call, (x, y) in enumerate(data()):
        try:
            got = compiled(x, y).data.item()
        except JitError:
            return
        assert got == pytest.approx(eager(x, y).data.item(), rel=TOLERANCE), f"call {call}"
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


# ---------------------------------------------------------------- patterns that hold (passing)


def test_a_language_model_with_tied_embedding_and_output_weights_matches_eager():
    """Embedding + 2-layer GRU + a head sharing the embedding's weight: one summed gradient."""

    def model():
        embedding = nn.Embedding(7, 4, rng=5)
        rnn = nn.GRU(4, 4, num_layers=2, batch_first=True, rng=0)
        head = nn.Linear(4, 7, rng=1)
        head.weight = embedding.weight
        return embedding, rnn, head

    compiled_model, eager_model = model(), model()

    def step_of(modules):
        embedding, rnn, head = modules

        def step(ids, targets):
            out, _ = rnn(embedding(ids))
            loss = F.cross_entropy(head(out).reshape(-1, 7), targets.reshape(-1))
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    rng = np.random.default_rng(0)
    for _ in range(3):
        ids, targets = rng.integers(0, 7, (2, 5)), rng.integers(0, 7, (2, 5))
        assert compiled(ids, targets).data.item() == pytest.approx(eager(ids, targets).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model[1:]), parameters_of(*eager_model[1:]))
        assert_same_grads([compiled_model[0].weight], [eager_model[0].weight])
    assert compiled.traces == 1


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: tg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda ps: tg.optim.Adam(ps, lr=0.05, amsgrad=True),
        lambda ps: tg.optim.RMSprop(ps, lr=0.01),
    ],
    ids=["sgd_nesterov", "adam_amsgrad", "rmsprop"],
)
def test_accumulation_over_two_calls_then_clipping_and_an_optimizer_outside_matches_eager(make_optimizer):
    """Two calls accumulate, then clip_grad_norm_ and optimizer.step() outside: parameters stay twins."""
    compiled_model, eager_model = twin_models(kind=nn.LSTM)
    h0 = [Tensor(np.full((1, 2, 4), 0.1), requires_grad=True, name="h0") for _ in range(2)]
    params = [parameters_of(*compiled_model) + [h0[0]], parameters_of(*eager_model) + [h0[1]]]
    optimizers = [make_optimizer(ps) for ps in params]

    def step_of(model, h):
        rnn, head = model

        def step(x, y):
            out, _ = rnn(x, (h, h * 1.0))  # the same learned tensor as h_0 and c_0
            loss = F.mse_loss(head(out[-1]), y)
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model, h0[0])), step_of(eager_model, h0[1])
    for call, (x, y) in enumerate(data() + data(1)):
        compiled(x, y)
        eager(x, y)
        assert_same_grads(params[0], params[1])
        if call % 2 == 1:
            for ps, optimizer in zip(params, optimizers):
                tg.optim.clip_grad_norm_(ps, 0.5)
                optimizer.step()
                optimizer.zero_grad()
            for p, q in zip(*params):
                np.testing.assert_allclose(p.data, q.data, rtol=TOLERANCE, atol=TOLERANCE)
    assert compiled.traces == 1


def test_gradients_and_outputs_a_call_returned_are_not_overwritten_by_later_calls():
    """The arrays one call leaves (.grad, returned outputs) keep their values through later calls."""
    rnn, head = nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0), nn.Linear(8, 1, rng=1)
    params = parameters_of(rnn, head)

    def step(x, y):
        out, (h_n, _) = rnn(x)
        loss = F.mse_loss(head(out[-1]), y)
        loss.backward()
        return loss, out, h_n

    compiled = jit(step)
    kept = []
    for x, y in data(steps=5):
        for p in params:
            p.grad = None
        x_before = x.copy()
        results = compiled(x, y)
        assert np.array_equal(x, x_before), "the call wrote into its input"
        arrays = [p.grad for p in params] + [r.data for r in results]
        kept.append((arrays, [a.copy() for a in arrays]))
    for arrays, copies in kept:
        for array, copy in zip(arrays, copies):
            assert np.array_equal(array, copy)


def test_a_packed_bidirectional_batch_with_changing_lengths_matches_eager():
    """2-layer bidirectional LSTM over unsorted packed batches, lengths changing and repeating."""
    compiled_model = (nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0), nn.Linear(8, 1, rng=1))
    eager_model = (nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=0), nn.Linear(8, 1, rng=1))

    def step_of(model):
        rnn, head = model

        def step(x, lengths, y):
            out, (h_n, _) = rnn(pack_padded_sequence(x, lengths, enforce_sorted=False))
            padded, _ = pad_packed_sequence(out)
            loss = F.mse_loss(head(tg.cat([h_n[-2], h_n[-1]], axis=-1)), y) + (padded**2).mean()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    rng = np.random.default_rng(0)
    for lengths in ([5, 2, 3], [3, 5, 1], [5, 2, 3]):
        x, y = rng.standard_normal((5, 3, 3)), rng.standard_normal((3, 1))
        got = compiled(x, np.array(lengths), y).data.item()
        assert got == pytest.approx(eager(x, np.array(lengths), y).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))


@pytest.mark.parametrize("bad", ["embedding_id", "bce_nan"])
def test_a_bad_value_arriving_after_the_trace_raises_as_eager_does(bad):
    """An out-of-range token id, or a NaN probability into binary_cross_entropy, raises after compiling."""
    embedding, rnn, head = nn.Embedding(5, 3, rng=0), nn.GRU(3, 4, rng=0), nn.Linear(4, 1, rng=1)

    def step(ids, x, y):
        out, _ = rnn(embedding(ids) + Tensor(x))
        loss = F.binary_cross_entropy(head(out[-1]).sigmoid(), y)
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(0)
    for _ in range(2):
        compiled(rng.integers(0, 5, (4, 2)), rng.standard_normal((4, 2, 3)), np.ones((2, 1)))
    ids, x = rng.integers(0, 5, (4, 2)), rng.standard_normal((4, 2, 3))
    if bad == "embedding_id":
        ids[2, 1] = 5
    else:
        x[:] = np.nan
    with pytest.raises((IndexError, ValueError)) as eager_error:
        step(ids, x, np.ones((2, 1)))
    with pytest.raises(type(eager_error.value), match=re.escape(str(eager_error.value))):
        compiled(ids, x, np.ones((2, 1)))


def test_a_teacher_under_no_grad_an_l2_penalty_and_a_detached_factor_match_eager():
    """A target from a frozen model under no_grad, sum of p**2 over parameters, p.detach() * p."""

    def model():
        return nn.LSTM(3, 4, num_layers=2, rng=0), nn.Linear(4, 2, rng=1), nn.GRU(3, 2, rng=5)

    def step_of(modules):
        rnn, head, teacher = modules

        def step(x):
            with tg.no_grad():
                target, _ = teacher(x)
            out, _ = rnn(x)
            loss = F.mse_loss(head(out), target) + 1e-3 * sum((p**2).sum() for p in rnn.parameters())
            loss = loss + (head.weight.detach() * head.weight).sum() / x.shape[0]
            loss.backward()
            return loss

        return step

    compiled_model, eager_model = model(), model()
    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    for x, _ in data(steps=5):
        assert compiled(x).data.item() == pytest.approx(eager(x).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))
    assert compiled.traces == 1 and compiled_model[2].weight_ih_l0.grad is None


def test_outputs_gathered_at_changing_integer_positions_with_repeats_match_eager():
    """out[rows, last] with integer arrays whose values (and repeats) change keeps eager's gradients."""
    compiled_model, eager_model = twin_models(kind=nn.LSTM, batch_first=True)

    def step_of(model):
        rnn, head = model

        def step(x, rows, last, y):
            out, _ = rnn(x)
            loss = F.mse_loss(head(out[rows, last]), y) + (out[:, last[0]] ** 2).sum()
            loss.backward()
            return loss

        return step

    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    rng = np.random.default_rng(0)
    for rows, last in (([0, 1, 2], [5, 2, 0]), ([0, 0, 0], [1, 1, 1]), ([2, 1, 2], [0, 5, 5])):
        x, y = rng.standard_normal((3, 6, 3)), rng.standard_normal((3, 1))
        args = (x, np.array(rows), np.array(last), y)
        assert compiled(*args).data.item() == pytest.approx(eager(*args).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))
    assert compiled.traces == 1


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU])
def test_an_encoder_decoder_and_a_chunked_detached_sequence_in_one_step_match_eager(kind):
    """Two 2-layer layers (encoder h_n into decoder), then one layer run over three detached chunks."""

    def model():
        return kind(3, 4, num_layers=2, rng=0), kind(2, 4, num_layers=2, rng=3), nn.Linear(4, 2, rng=1)

    def step_of(modules):
        encoder, decoder, head = modules

        def step(source, target_in, target_out):
            _, h = encoder(source)
            out, _ = decoder(target_in, h)
            loss = F.mse_loss(head(out), target_out)
            state = None
            for k in range(3):
                out, state = encoder(source[2 * k : 2 * k + 2], state)
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
                loss = loss + (head(out) ** 2).mean()
            loss.backward()
            return loss

        return step

    compiled_model, eager_model = model(), model()
    compiled, eager = jit(step_of(compiled_model)), step_of(eager_model)
    rng = np.random.default_rng(0)
    for _ in range(3):
        args = rng.standard_normal((6, 2, 3)), rng.standard_normal((3, 2, 2)), rng.standard_normal((3, 2, 2))
        assert compiled(*args).data.item() == pytest.approx(eager(*args).data.item(), rel=TOLERANCE)
        assert_same_grads(parameters_of(*compiled_model), parameters_of(*eager_model))
    assert compiled.traces == 1
