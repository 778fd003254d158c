"""jit over packed batches whose lengths change between calls with the same padded shape:
the lengths decide the shapes inside the step (the longest length, the batch sizes at each
time step), so a new set of lengths gets a program of its own, a repeated set reuses its
program, and every call gives eager's loss and gradients (1e-12)."""

import warnings

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import JitFallbackWarning, jit
from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOLERANCE = dict(rtol=1e-12, atol=1e-12)


def packed_step(layer):
    def step(x, lengths):
        output, state = layer(pack_padded_sequence(x, lengths, enforce_sorted=False))
        padded, _ = pad_packed_sequence(output)
        loss = (padded * padded).sum()
        for final in state if isinstance(state, tuple) else (state,):  # h_n, or (h_n, c_n) of an LSTM
            loss = loss + final.sum()
        loss.backward()
        return loss

    return step


def run_with_fresh_grads(module, fn, *args):
    for p in module.parameters():
        p.grad = None
    loss = fn(*args)
    return float(loss.item()), [p.grad.copy() for p in module.parameters()]


def assert_matches_eager(module, step, compiled, *args):
    eager_loss, eager_grads = run_with_fresh_grads(module, step, *args)
    jit_loss, jit_grads = run_with_fresh_grads(module, compiled, *args)
    np.testing.assert_allclose(jit_loss, eager_loss, **TOLERANCE)
    for got, want in zip(jit_grads, eager_grads):
        np.testing.assert_allclose(got, want, **TOLERANCE)


@pytest.mark.parametrize(
    "sequence",
    [([5, 3, 2], [4, 4, 4]), ([4, 4, 4], [5, 5, 5]), ([5, 3, 2], [4, 4, 4], [5, 5, 5], [5, 3, 2], [4, 4, 4])],
)
def test_a_new_longest_length_traces_again_and_matches_eager(sequence):
    gru = nn.GRU(3, 4, bidirectional=True, rng=1)
    step = packed_step(gru)
    compiled = jit(step)
    rng = np.random.default_rng(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        for lengths in sequence:
            assert_matches_eager(gru, step, compiled, rng.standard_normal((5, 3, 3)), np.array(lengths))
    assert compiled.fallback_reason is None
    assert compiled.traces == len({tuple(lengths) for lengths in sequence})


@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_random_length_sets_match_eager_and_a_repeated_set_reuses_its_program(layer):
    module = getattr(nn, layer)(2, 3, rng=4)
    step = packed_step(module)
    compiled = jit(step)
    rng = np.random.default_rng(7)
    sets = [tuple(int(n) for n in rng.integers(1, 7, size=4)) for _ in range(5)]
    for lengths in sets:
        assert_matches_eager(module, step, compiled, rng.standard_normal((6, 4, 2)), np.array(lengths))
    traces = compiled.traces
    assert traces == len(set(sets))
    for lengths in reversed(sets):
        assert_matches_eager(module, step, compiled, rng.standard_normal((6, 4, 2)), np.array(lengths))
    assert compiled.traces == traces
    assert compiled.fallback_reason is None


def test_a_traced_size_is_checked_where_it_makes_a_shape():
    """np.arange(n) of a traced n: the program checks the shape it made, so a new n traces
    again instead of broadcasting a stale shape."""
    weight = Tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)

    def step(n):
        count = np.arange(np.asarray(n).max())  # a length taken from an input's values
        loss = (weight[: count.shape[0]] ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    for n in ([3], [5], [3], [1]):
        weight.grad = None
        want = step(np.array(n)).item(), weight.grad.copy()
        weight.grad = None
        got = compiled(np.array(n)).item(), weight.grad.copy()
        np.testing.assert_allclose(got[0], want[0], **TOLERANCE)
        np.testing.assert_allclose(got[1], want[1], **TOLERANCE)


@pytest.mark.parametrize(
    "pick",
    [
        lambda mask: mask,
        lambda mask: np.nonzero(mask)[0],
        lambda mask: np.where(mask)[0],
        lambda mask: np.flatnonzero(mask),
    ],
    ids=["mask", "nonzero", "where", "flatnonzero"],
)
def test_a_mask_from_an_input_sizes_the_result(pick):
    """A boolean mask (or the indices it selects) taken from an input: a new count of true
    values traces again."""
    weight = Tensor(np.linspace(-1.0, 1.0, 6), requires_grad=True)

    def step(mask):
        loss = (weight[pick(np.asarray(mask))] ** 2).sum()
        loss.backward()
        return loss

    compiled = jit(step)
    masks = [[1, 0, 1, 0, 0, 1], [1, 1, 1, 0, 0, 1], [0, 0, 0, 0, 1, 0], [1, 0, 1, 0, 0, 1]]
    for mask in masks:
        weight.grad = None
        want = step(np.array(mask, dtype=bool)).item(), weight.grad.copy()
        weight.grad = None
        got = compiled(np.array(mask, dtype=bool)).item(), weight.grad.copy()
        np.testing.assert_allclose(got[0], want[0], **TOLERANCE)
        np.testing.assert_allclose(got[1], want[1], **TOLERANCE)
    assert compiled.fallback_reason is None
    assert compiled.traces == 3
