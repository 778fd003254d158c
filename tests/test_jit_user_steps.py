"""jit(step) against its eager twin on training steps as PyTorch users write them: settings kept
in config objects, lists, tuples and nested dicts, an optimizer's learning rate read in the
loss, a model picked from a container or passed as an argument, a scheduler stepped inside the
step, a module's private settings.

Each case runs the same step on two identical models, compiled and eager, for several calls,
changing between calls what a training loop changes, and asserts the same loss and gradients
(to 1e-12) after every call, or the one fallback warning where a program cannot repeat the step.
"""

import types
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.jit import JitFallbackWarning, jit
from tinygrad_rnn.nn import functional as F

TOLERANCE = 1e-12
RNG = np.random.default_rng(0)
PAIR = None  # a global (rnn, head) pair, for the step that reads its model from a global
BATCHES = [(RNG.standard_normal((5, 2, 3)), RNG.standard_normal((2, 1))) for _ in range(4)]


def model(scale=1.0):
    """An RNN and a Linear head; `scale` multiplies the RNN's weights (another model)."""
    rnn, head = nn.RNN(3, 4, rng=0), nn.Linear(4, 1, rng=1)
    for p in rnn.parameters():
        p.data = p.data * scale
    return rnn, head


def loss_of(rnn, head, x, y):
    out, _ = rnn(x)
    return F.mse_loss(head(out[-1]), y)


def run_twins(make, calls=4):
    """make() -> (step, parameters(), between(call)); the (loss, gradients) of every call, for
    the compiled and the eager twin, and the compiled twin's fallback warnings."""
    results, fallbacks = [], []
    for compiled in (True, False):
        step, parameters, between = make()
        run = jit(step) if compiled else step
        calls_seen = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for call in range(calls):
                between(call)
                loss = run(*BATCHES[call])
                calls_seen.append((loss.data.copy(), [None if p.grad is None else p.grad.copy() for p in parameters()]))
        results.append(calls_seen)
        if compiled:
            fallbacks = [str(w.message) for w in caught if issubclass(w.category, JitFallbackWarning)]
    return results, fallbacks


def assert_twins(results):
    for call, ((loss, grads), (eager_loss, eager_grads)) in enumerate(zip(*results)):
        np.testing.assert_allclose(loss, eager_loss, rtol=TOLERANCE, err_msg=f"loss of call {call}")
        assert len(grads) == len(eager_grads)
        for k, (g, e) in enumerate(zip(grads, eager_grads)):
            assert (g is None) == (e is None), f"call {call}: gradient {k} is {g} eagerly {e}"
            if e is not None:
                np.testing.assert_allclose(g, e, rtol=TOLERANCE, atol=TOLERANCE, err_msg=f"call {call}: grad {k}")


FACTORS = [1.0, 3.0, -0.5, 7.0]


@dataclass
class Config:
    alpha: float = 1.0


class Weighting:
    """A loss weight as a callable object: its __call__ reads the attribute."""

    def __init__(self):
        self.value = 1.0

    def __call__(self):
        return self.value


class Temperature(nn.Module):
    """A Linear head whose output is multiplied by the private number attribute self._factor."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 1, rng=1)
        self._factor = 1.0

    def forward(self, h):
        return self.linear(h) * self._factor


def _config_holders():
    """(name, read the factor, set the factor) for the places users keep a setting."""
    listed = [1.0, 2.0]
    long_list = [1.0] * 100
    class_weights = {0: 1.0, 1: 2.0}
    big = {f"option{i}": 1.0 for i in range(100)}
    growing = [1.0]
    tupled = {"t": (1.0, 2.0)}
    namespace = types.SimpleNamespace(alpha=1.0)
    config = Config()
    nested = {"loss": {"alpha": 1.0}}
    weighting = Weighting()
    return [
        ("a list item changed in place", lambda: listed[0], lambda v: listed.__setitem__(0, v)),
        ("a tuple in a dict rebound", lambda: tupled["t"][0], lambda v: tupled.__setitem__("t", (v, 2.0))),
        ("a SimpleNamespace attribute", lambda: namespace.alpha, lambda v: setattr(namespace, "alpha", v)),
        ("a dataclass attribute", lambda: config.alpha, lambda v: setattr(config, "alpha", v)),
        ("a nested dict entry", lambda: nested["loss"]["alpha"], lambda v: nested["loss"].__setitem__("alpha", v)),
        ("a callable object's attribute", lambda: weighting(), lambda v: setattr(weighting, "value", v)),
        ("an item of a list of 100", lambda: long_list[3], lambda v: long_list.__setitem__(3, v)),
        ("an int-keyed dict entry", lambda: class_weights[0], lambda v: class_weights.__setitem__(0, v)),
        ("an entry of a dict of 100", lambda: big["option3"], lambda v: big.__setitem__("option3", v)),
        ("the sum of a list that grows", lambda: sum(growing), lambda v: growing.append(v) if v != 1.0 else None),
    ]


@pytest.mark.parametrize("where", [name for name, _, _ in _config_holders()])
def test_a_loss_weight_kept_in_a_container_or_object_is_read_at_call_time(where):
    """loss * cfg.alpha with cfg.alpha changed between calls: every call uses the new value,
    as eagerly (a program that kept the traced number would give the first call's gradients)."""

    def make():
        read, write = next((r, w) for name, r, w in _config_holders() if name == where)
        rnn, head = model()

        def step(x, y):
            loss = loss_of(rnn, head, x, y) * read()
            loss.backward()
            return loss

        def between(call):
            write(FACTORS[call])
            for p in [*rnn.parameters(), *head.parameters()]:
                p.grad = None

        return step, lambda: [*rnn.parameters(), *head.parameters()], between

    results, fallbacks = run_twins(make)
    assert_twins(results)
    assert fallbacks == []


def test_the_learning_rate_read_from_the_optimizer_follows_the_scheduler_outside():
    """loss * optimizer.param_groups[0]["lr"] with scheduler.step() between calls."""

    def make():
        rnn, head = model()
        parameters = [*rnn.parameters(), *head.parameters()]
        optimizer = tg.optim.SGD(parameters, lr=0.1)
        scheduler = tg.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)

        def step(x, y):
            loss = loss_of(rnn, head, x, y) * optimizer.param_groups[0]["lr"]
            loss.backward()
            return loss

        def between(call):
            if call:
                scheduler.step()
            optimizer.zero_grad()

        return step, lambda: parameters, between

    results, fallbacks = run_twins(make)
    assert_twins(results)
    assert fallbacks == []


@pytest.mark.parametrize("container", ["a tuple in a global", "a list in a closure", "a tuple in a dict"])
def test_a_model_picked_from_a_container_and_replaced_is_the_new_model(container):
    """The step unpacks (rnn, head) from a container; replacing the pair after two calls makes
    the third call run the new model and give it the gradients, as eagerly."""

    def make():
        first, second = model(), model(2.0)
        holder = {"pair": first}
        listed = list(first)
        globals()["PAIR"] = first

        def pair():
            if container == "a tuple in a global":
                return PAIR
            return tuple(listed) if container == "a list in a closure" else holder["pair"]

        def step(x, y):
            if container == "a tuple in a global":
                rnn, head = PAIR
            elif container == "a list in a closure":
                rnn, head = listed
            else:
                rnn, head = holder["pair"]
            loss = loss_of(rnn, head, x, y)
            loss.backward()
            return loss

        def between(call):
            if call == 2:
                globals()["PAIR"] = second
                listed[:] = list(second)
                holder["pair"] = second

        return step, lambda: [p for m in pair() for p in m.parameters()], between

    results, fallbacks = run_twins(make)
    assert_twins(results)
    assert fallbacks == []


def test_a_scheduler_stepped_inside_the_step_makes_it_run_eagerly_with_one_warning():
    """scheduler.step() inside the step changes the learning rate on every eager call; a program
    would step it once, at the trace. The step runs eagerly, so the learning rate follows."""
    learning_rates = []
    for compiled in (True, False):
        rnn, head = model()
        optimizer = tg.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)
        scheduler = tg.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)

        def step(x, y):
            loss = loss_of(rnn, head, x, y)
            loss.backward()
            scheduler.step()
            return loss

        run = jit(step) if compiled else step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for x, y in BATCHES[:3]:
                run(x, y)
        learning_rates.append(optimizer.param_groups[0]["lr"])
        if compiled:
            messages = [str(w.message) for w in caught if issubclass(w.category, JitFallbackWarning)]
            assert len(messages) == 1 and "'scheduler'" in messages[0], messages
    assert learning_rates[0] == learning_rates[1] == 0.1 * 0.5**3


def test_a_counter_object_incremented_inside_the_step_counts_every_call():
    """A user's counter object updated inside the step (counter.calls += 1) counts every call."""
    counter = types.SimpleNamespace(calls=0)
    rnn, head = model()

    def step(x, y):
        counter.calls += 1
        loss = loss_of(rnn, head, x, y)
        loss.backward()
        return loss

    compiled = jit(step)
    with pytest.warns(JitFallbackWarning, match="counter.calls"):
        for x, y in BATCHES:
            compiled(x, y)
    assert counter.calls == len(BATCHES)


def test_a_private_number_attribute_of_a_module_is_read_at_call_time():
    """A custom head multiplying by self._factor, changed between calls."""

    def make():
        rnn, head = nn.RNN(3, 4, rng=0), Temperature()

        def step(x, y):
            loss = loss_of(rnn, head, x, y)
            loss.backward()
            return loss

        def between(call):
            head._factor = FACTORS[call]
            for p in [*rnn.parameters(), *head.parameters()]:
                p.grad = None

        return step, lambda: [*rnn.parameters(), *head.parameters()], between

    results, fallbacks = run_twins(make)
    assert_twins(results)
    assert fallbacks == []


def test_a_model_passed_as_an_argument_compiles_per_model_and_matches_eager():
    """step(rnn, head, x, y), called with one model and then another, as eagerly: each model
    gets its own gradients; a weight reassigned on the first model between calls is read."""
    results = []
    for compiled in (True, False):
        first, second = model(), model(2.0)

        def step(rnn, head, x, y):
            loss = loss_of(rnn, head, x, y)
            loss.backward()
            return loss

        run = jit(step) if compiled else step
        seen = []
        for call, pair in enumerate((first, first, second, first)):
            if call == 3:
                first[0].weight_hh_l0.data = first[0].weight_hh_l0.data * 0.5
            loss = run(*pair, *BATCHES[call])
            seen.append(loss.data.copy())
            seen += [p.grad.copy() for m in (*first, *second) for p in m.parameters() if p.grad is not None]
        results.append(seen)
        if compiled:
            assert run.traces == 2
    assert len(results[0]) == len(results[1])
    for mine, eager in zip(*results):
        np.testing.assert_allclose(mine, eager, rtol=TOLERANCE, atol=TOLERANCE)
