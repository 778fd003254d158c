"""The default initial state h_0 = 0: recorded like any state, as PyTorch computes it, so that
W_hh's gradient after one step is a zero array of its own and a NaN at the first step reaches
W_hh (NaN * 0 = NaN)."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU])
def test_one_step_gives_weight_hh_a_zero_array_of_its_own(layer):
    rnn = layer(3, 5)
    output, _ = rnn(np.random.default_rng(0).standard_normal((1, 2, 3)))
    output.sum().backward()
    grad = rnn.weight_hh_l0.grad
    assert isinstance(grad, np.ndarray) and grad.shape == (rnn.weight_hh_l0.shape)
    np.testing.assert_array_equal(grad, 0.0)
    assert grad.flags.writeable and grad.flags.owndata
    grad += 1.0  # an array the parameter owns: an optimizer may write into it
    np.testing.assert_array_equal(rnn.weight_hh_l0.grad, 1.0)


def test_a_nan_at_the_first_step_reaches_weight_hh_as_in_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the oracle for NaN * 0 in the first step")
    rng = np.random.default_rng(2)
    rnn = nn.RNN(3, 4)
    reference = torch.nn.RNN(3, 4).double()
    with torch.no_grad():
        for name, param in rnn.named_parameters():
            getattr(reference, name).copy_(torch.from_numpy(param.data))
    x = rng.standard_normal((1, 2, 3))
    seed = rng.standard_normal((1, 2, 4))
    seed[0, 1, 3] = np.nan  # one hidden unit of one sequence: row 3 of dW_hh
    output, _ = rnn(x)
    output.backward(seed)
    torch_output, _ = reference(torch.from_numpy(x))
    torch_output.backward(torch.from_numpy(seed))
    for name, param in rnn.named_parameters():  # NaN where PyTorch has NaN, equal elsewhere
        np.testing.assert_allclose(param.grad, getattr(reference, name).grad.numpy(), rtol=1e-12, err_msg=name)
    assert np.isnan(rnn.weight_hh_l0.grad[3]).all()
    np.testing.assert_array_equal(rnn.weight_hh_l0.grad[:3], 0.0)


def test_a_given_initial_state_of_zeros_gives_the_same_gradients():
    rng = np.random.default_rng(3)
    rnn = nn.RNN(3, 4, num_layers=2)
    x = rng.standard_normal((3, 2, 3))
    grads = []
    for h0 in (None, tg.zeros(2, 2, 4)):
        rnn.zero_grad()
        output, h_n = rnn(x, h0)
        (output.sum() + h_n.sum()).backward()
        grads.append({name: param.grad.copy() for name, param in rnn.named_parameters()})
    for name in grads[0]:
        np.testing.assert_array_equal(grads[0][name], grads[1][name], err_msg=name)
