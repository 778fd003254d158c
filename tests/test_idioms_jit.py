"""jit captures the idioms: compiled steps give the eager loss and gradients (1e-12), call
after call with new data, without falling back to eager.

Covers every new op, a model of Embedding, Dropout (eval) and a two-layer bidirectional
LSTM, and a bidirectional GRU over packed batches whose lengths change between calls (the
program is guarded by them: each call agrees with eager).
"""

import warnings

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import jit
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from tinygrad_rnn.tensors import maximum, where

TOLERANCE = dict(rtol=1e-12, atol=1e-12)

IDIOMS = {
    "abs": lambda x: x.abs(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "maximum": lambda x: x.maximum(0.3),
    "minimum": lambda x: x.minimum(x * 0.5),
    "maximum of a number": lambda x: maximum(-0.2, x),
    "where": lambda x: where(Tensor(x.data > 0), x, -2.0 * x),
    "clamp": lambda x: x.clamp(-0.5, 0.5),
    "masked_fill": lambda x: x.masked_fill(x.data > 1.0, 0.0),
    "var": lambda x: x.var(dim=1),
    "std": lambda x: x.std(),
    "amin": lambda x: x.amin(1),
    "amax": lambda x: x.amax(0),
    "min along a dim": lambda x: x.min(dim=0).values,
    "min": lambda x: x.min(),
    "unsqueeze and squeeze": lambda x: x.unsqueeze(0).squeeze(),
    "permute": lambda x: x.permute(1, 0),
    "flatten": lambda x: x.unsqueeze(-1).flatten(1),
    "expand": lambda x: x.unsqueeze(0).expand(2, -1, -1),
    "view": lambda x: x.view(-1),
    "float and double": lambda x: x.float().double(),
    "a tensor power": lambda x: x.abs() ** (x * 0.5),
}


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_each_idiom_compiles(name):
    idiom = IDIOMS[name]

    def step(x):
        loss = (idiom(x) * 1.5).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fallback to eager warns: here it fails the test
        for _ in range(3):
            x.data[...] = rng.standard_normal((3, 4))
            x.grad = None
            eager = step(x).item()
            expected = x.grad.copy()
            x.grad = None
            np.testing.assert_allclose(compiled(x).item(), eager, **TOLERANCE)
            np.testing.assert_allclose(x.grad, expected, **TOLERANCE)
    assert compiled.traces == 1 and compiled.fallback_reason is None


def assert_same_gradients(model, step, compiled, *args):
    model.zero_grad()
    eager = step(*args).item()
    expected = {name: p.grad.copy() for name, p in model.named_parameters()}
    model.zero_grad()
    np.testing.assert_allclose(compiled(*args).item(), eager, **TOLERANCE)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, expected[name], err_msg=name, **TOLERANCE)


class Tagger(nn.Module):
    """Embedding, Dropout, a bidirectional two-layer LSTM and a linear head on the last step."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 3, rng=0)
        self.dropout = nn.Dropout(0.3)
        self.lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, rng=1)
        self.head = nn.Linear(8, 2, rng=2)

    def forward(self, ids):
        output, _ = self.lstm(self.dropout(self.embedding(ids)))
        return self.head(output[-1])


def test_embedding_dropout_in_eval_and_a_bidirectional_lstm_compile():
    model = Tagger().eval()

    def step(ids, labels):
        loss = F.cross_entropy(model(ids), labels)
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            assert_same_gradients(model, step, compiled, rng.integers(0, 10, (5, 2)), rng.integers(0, 2, 2))
    assert compiled.traces == 1


def test_packed_batches_whose_lengths_change_compile():
    gru = nn.GRU(3, 4, bidirectional=True, rng=1)

    def step(x, lengths):
        output, h_n = gru(pack_padded_sequence(x, lengths, enforce_sorted=False))
        padded, _ = pad_packed_sequence(output)
        loss = (padded * padded).sum() + h_n.sum()
        loss.backward()
        return loss

    compiled = jit(step)
    rng = np.random.default_rng(2)
    for lengths in ([5, 3, 2], [5, 3, 2], [2, 5, 4]):
        assert_same_gradients(gru, step, compiled, rng.standard_normal((5, 3, 3)), np.array(lengths))
    assert compiled.fallback_reason is None
