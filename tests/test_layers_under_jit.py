"""Embedding, LayerNorm and Dropout inside a jit-compiled step: the same losses and gradients as
the eager step; a training-mode Dropout, whose masks are random draws, makes the step run eagerly."""

import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.jit import JitFallbackWarning, jit


class Tagger(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = tg.nn.Embedding(10, 4, padding_idx=0, rng=0)
        self.drop = tg.nn.Dropout(0.5, rng=3)
        self.lstm = tg.nn.LSTM(4, 5, batch_first=True, rng=1)
        self.norm = tg.nn.LayerNorm(5)
        self.head = tg.nn.Linear(5, 1, rng=2)

    def forward(self, ids):
        output, _ = self.lstm(self.drop(self.embed(ids)))
        return self.head(self.norm(output[:, -1]))


IDS = np.random.default_rng(0).integers(0, 10, (3, 6))
TARGETS = np.linspace(-1, 1, 3).reshape(3, 1)


def run(mode: str, compiled: bool, steps: int = 3):
    model = getattr(Tagger(), mode)()
    optimizer = tg.optim.SGD(model, lr=0.1)

    def step(ids, targets):
        loss = tg.nn.functional.mse_loss(model(ids), targets)
        loss.backward()
        return loss

    runner = jit(step) if compiled else step
    losses, grads = [], []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(runner(IDS, TARGETS).item())
        grads.append({name: p.grad.copy() for name, p in model.named_parameters()})
        optimizer.step()
    return losses, grads, runner


def test_an_eval_mode_model_compiles_and_matches_eager():
    eager_losses, eager_grads, _ = run("eval", compiled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        losses, grads, compiled = run("eval", compiled=True)
    assert compiled.traces == 1 and compiled.fallback_reason is None
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-12)
    for ours, theirs in zip(grads, eager_grads):
        for name in theirs:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_training_mode_dropout_makes_the_step_run_eagerly_with_fresh_masks():
    eager_losses, _, _ = run("train", compiled=False)
    with pytest.warns(JitFallbackWarning, match="runs eagerly from now on"):
        losses, _, compiled = run("train", compiled=True)
    assert compiled.fallback_reason is not None
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-12)
    assert len(set(losses)) == len(losses)
