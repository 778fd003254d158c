"""jit(fn) against the eager step: the loss and every parameter gradient, call after call.

Each case runs the same training step eagerly and through jit from the same parameters and
data, three calls in a row, with the parameters changed in place and new data (new labels)
between calls, and compares to 1e-12.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import jit
from tinygrad_rnn.nn import functional as F

TOLERANCE = 1e-12


class Model(nn.Module):
    """A recurrent layer and a linear head on its last step."""

    def __init__(self, kind: str, layers: int, batch_first: bool, inputs=3, hidden=5, outputs=4):
        super().__init__()
        if kind in ("tanh", "relu"):
            self.rnn = nn.RNN(inputs, hidden, num_layers=layers, nonlinearity=kind, batch_first=batch_first, rng=0)
        else:
            layer = {"lstm": nn.LSTM, "gru": nn.GRU}[kind]
            self.rnn = layer(inputs, hidden, num_layers=layers, batch_first=batch_first, rng=0)
        self.head = nn.Linear(hidden, outputs, rng=1)
        self.batch_first = batch_first

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1] if self.batch_first else out[-1])


def make_step(model: Model, loss: str):
    def step(x, y):
        prediction = model(x)
        value = F.mse_loss(prediction, y) if loss == "mse" else F.cross_entropy(prediction, y)
        value.backward()
        return value

    return step


def batch(rng, steps: int, batch_first: bool, loss: str, size: int = 2):
    x = rng.standard_normal((size, steps, 3) if batch_first else (steps, size, 3))
    y = rng.standard_normal((size, 4)) if loss == "mse" else rng.integers(0, 4, size)
    return x, y


def gradients(model) -> dict:
    return {name: None if p.grad is None else p.grad.copy() for name, p in model.named_parameters()}


def assert_same(eager: dict, compiled: dict) -> None:
    assert eager.keys() == compiled.keys()
    for name, expected in eager.items():
        if expected is None:
            assert compiled[name] is None, name
            continue
        assert compiled[name] is not None, name
        assert compiled[name].shape == expected.shape, name
        np.testing.assert_allclose(compiled[name], expected, rtol=0, atol=TOLERANCE, err_msg=name)


def compare(kind, layers, batch_first, loss, steps, calls=3):
    """Run `calls` steps eagerly and compiled on twin models; returns the compiled step."""
    eager_model, jit_model = Model(kind, layers, batch_first), Model(kind, layers, batch_first)
    eager_step, compiled = make_step(eager_model, loss), jit(make_step(jit_model, loss))
    rng = np.random.default_rng(steps)
    for call in range(calls):
        x, y = batch(rng, steps, batch_first, loss)
        eager_model.zero_grad()
        jit_model.zero_grad()
        expected = eager_step(x, y)
        got = compiled(x, y)
        assert isinstance(got, Tensor)
        assert abs(got.item() - expected.item()) <= TOLERANCE
        assert_same(gradients(eager_model), gradients(jit_model))
        for model in (eager_model, jit_model):  # an optimizer-like update, in place
            for p in model.parameters():
                p.data -= 0.05 * (p.grad if p.grad is not None else 0.0) - 0.001
    return compiled


OPTIONS = [(1, False, "mse"), (2, True, "ce"), (1, True, "ce"), (2, False, "mse")]
CASES = [
    # (kind, layers, batch_first, loss, T): every kind at every length, the options spread over them
    (kind, layers, batch_first, loss, steps)
    for n, kind in enumerate(["tanh", "relu", "lstm", "gru"])
    for m, steps in enumerate([1, 2, 7, 50])
    for layers, batch_first, loss in [OPTIONS[(n + m) % 4]]
]


@pytest.mark.parametrize("kind, layers, batch_first, loss, steps", CASES)
def test_jit_matches_eager_over_three_calls(kind, layers, batch_first, loss, steps):
    compiled = compare(kind, layers, batch_first, loss, steps)
    assert compiled.traces == 1


@pytest.mark.parametrize("kind", ["tanh", "lstm", "gru"])
@pytest.mark.parametrize("layers, batch_first, loss", [(2, True, "mse"), (1, False, "ce")])
def test_jit_matches_eager_for_each_option(kind, layers, batch_first, loss):
    compare(kind, layers, batch_first, loss, steps=7)


def test_a_long_sequence_matches_eager():
    compiled = compare("tanh", 1, False, "mse", steps=2000, calls=2)
    assert compiled.traces == 1


def test_gradients_accumulate_over_two_calls_without_zero_grad():
    eager_model, jit_model = Model("lstm", 1, False), Model("lstm", 1, False)
    eager_step, compiled = make_step(eager_model, "mse"), jit(make_step(jit_model, "mse"))
    rng = np.random.default_rng(3)
    for _ in range(2):
        x, y = batch(rng, 6, False, "mse")
        eager_step(x, y)
        compiled(x, y)
    assert_same(gradients(eager_model), gradients(jit_model))


def test_a_new_sequence_length_traces_again_and_an_old_one_reuses_its_program():
    eager_model, jit_model = Model("gru", 1, False), Model("gru", 1, False)
    eager_step, compiled = make_step(eager_model, "ce"), jit(make_step(jit_model, "ce"))
    rng = np.random.default_rng(4)
    for steps, traces in [(4, 1), (9, 2), (4, 2), (9, 2)]:
        x, y = batch(rng, steps, False, "ce")
        eager_model.zero_grad()
        jit_model.zero_grad()
        assert compiled(x, y).item() == pytest.approx(eager_step(x, y).item(), abs=TOLERANCE)
        assert_same(gradients(eager_model), gradients(jit_model))
        assert compiled.traces == traces


def test_parameters_reassigned_between_calls_are_read_at_call_time():
    eager_model, jit_model = Model("tanh", 1, False), Model("tanh", 1, False)
    eager_step, compiled = make_step(eager_model, "mse"), jit(make_step(jit_model, "mse"))
    rng = np.random.default_rng(5)
    x, y = batch(rng, 5, False, "mse")
    compiled(x, y)
    for model in (eager_model, jit_model):
        model.rnn.weight_hh_l0.data = model.rnn.weight_hh_l0.data * 0.5  # a new array, not in place
        model.zero_grad()
    assert compiled(x, y).item() == pytest.approx(eager_step(x, y).item(), abs=TOLERANCE)
    assert_same(gradients(eager_model), gradients(jit_model))
    assert compiled.traces == 1


def test_tensor_inputs_and_integer_token_inputs():
    """Token ids go through an embedding: they stay an input of the program, never a constant."""

    def build():
        embedding, rnn, head = nn.Embedding(10, 3, rng=2), nn.GRU(3, 4, rng=0), nn.Linear(4, 2, rng=1)
        return embedding, rnn, head

    def step_of(embedding, rnn, head):
        def step(tokens, labels):
            out, _ = rnn(embedding(tokens))
            loss = F.cross_entropy(head(out[-1]), labels)
            loss.backward()
            return loss

        return step

    eager_parts, jit_parts = build(), build()
    eager_step, compiled = step_of(*eager_parts), jit(step_of(*jit_parts))
    rng = np.random.default_rng(6)
    for _ in range(3):
        tokens = Tensor(rng.integers(0, 10, (6, 2)))
        labels = rng.integers(0, 2, 2)
        for part in eager_parts + jit_parts:
            part.zero_grad()
        assert compiled(tokens, labels).item() == pytest.approx(eager_step(tokens, labels).item(), abs=TOLERANCE)
        for eager_part, jit_part in zip(eager_parts, jit_parts):
            assert_same(gradients(eager_part), gradients(jit_part))
    assert compiled.traces == 1


def test_a_tensor_input_that_requires_grad_gets_its_gradient():
    weight = nn.Linear(3, 1, rng=0)

    def step(x):
        loss = (weight(x) ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    for scale in (1.0, 2.0):
        x_eager = Tensor(np.arange(6.0).reshape(2, 3) * scale, requires_grad=True)
        x_jit = Tensor(np.arange(6.0).reshape(2, 3) * scale, requires_grad=True)
        weight.zero_grad()
        step(x_eager)
        expected = weight.weight.grad.copy()
        weight.zero_grad()
        compiled(x_jit)
        np.testing.assert_allclose(weight.weight.grad, expected, atol=TOLERANCE)
        np.testing.assert_allclose(x_jit.grad, x_eager.grad, atol=TOLERANCE)


def test_the_source_names_parameters_and_scopes():
    compiled = compare("tanh", 1, False, "mse", steps=4, calls=1)
    source = compiled.source
    assert "weight_hh_l0" in source and "head_weight" in source
    assert "# forward: layer0/t=" in source and "# backward: layer0/t=" in source
    assert "tanh" in source and "d_tanh" in source
