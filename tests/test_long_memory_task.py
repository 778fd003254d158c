"""The long-memory benchmark's task and its gate-bias initialisation (training itself is benchmarks' job)."""

import numpy as np
import pytest

from benchmarks import long_memory
from benchmarks.long_memory import HIDDEN, LENGTH, chrono_init, make_batch, train
from tinygrad_rnn import nn


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_a_batch_carries_the_sign_and_the_marker_only_at_the_first_step():
    x, labels = make_batch(np.random.default_rng(0), 64)
    assert x.shape == (LENGTH, 64, 2) and labels.shape == (64,)
    np.testing.assert_array_equal(np.abs(x[0, :, 0]), 1.0)
    np.testing.assert_array_equal(labels, (x[0, :, 0] > 0).astype(int))
    np.testing.assert_array_equal(x[:, :, 1], np.eye(LENGTH, 1)[:, [0] * 64])
    assert 1.5 < x[1:, :, 0].std() < 2.5  # noise of std 2 after the first step


@pytest.mark.parametrize("cell", [nn.LSTM, nn.GRU])
def test_chrono_init_makes_the_memory_gate_keep_a_unit_for_1_to_T_steps(cell):
    rnn = cell(2, HIDDEN, rng=0)
    chrono_init(rnn, np.random.default_rng(1))
    bias = rnn.bias_ih_l0.data + rnn.bias_hh_l0.data
    keep = sigmoid(bias[HIDDEN : 2 * HIDDEN])  # LSTM forget gate, GRU update gate
    assert np.all(keep >= 0.5) and np.all(keep <= 1 - 1 / LENGTH)
    if cell is nn.LSTM:
        np.testing.assert_allclose(sigmoid(bias[:HIDDEN]), 1 - keep)  # input gate
    else:
        assert not np.any(rnn.bias_ih_l0.data[HIDDEN : 2 * HIDDEN])


def test_training_runs_and_scores_the_share_of_test_sequences_classified_right(monkeypatch):
    monkeypatch.setattr(long_memory, "TEST_SIZE", 40)
    accuracy, seconds = train("GRU", steps=2, seed=0)
    assert 0.0 <= accuracy <= 1.0 and seconds > 0
    assert accuracy * 40 == round(accuracy * 40)
