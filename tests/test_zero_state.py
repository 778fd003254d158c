"""The default initial state h_0 = 0: recorded like any state, its product's gradient exact.

A recurrent layer given no initial state uses KnownZeros, so that backward of h_0 @ W_hh^T
sends W_hh a ZeroGrad instead of multiplying by zeros, except where the incoming gradient
holds a NaN or an inf (NaN * 0 = NaN, as PyTorch computes it).
"""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.tensors import KnownZeros, linear


def _linear_grads(x: Tensor, seed: np.ndarray, rng_seed: int = 0) -> tuple:
    rng = np.random.default_rng(rng_seed)
    w = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)
    z = linear(x, w, b)
    z.backward(seed)
    return z.data, w.grad, b.grad


@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_the_weight_gradient_through_known_zeros_equals_the_product(bad):
    seed = np.random.default_rng(1).standard_normal((2, 4))
    if bad is not None:
        seed[1, 2] = bad
    known = _linear_grads(KnownZeros((2, 3), name="h_0"), seed)
    multiplied = _linear_grads(Tensor(np.zeros((2, 3))), seed)
    for a, b in zip(known, multiplied):
        np.testing.assert_array_equal(a, b)
    dw = known[1]
    if bad is None:
        np.testing.assert_array_equal(dw, np.zeros((4, 3)))
    else:  # the row of the weight that met the NaN or inf is NaN, every other row zero
        assert np.isnan(dw[2]).all()
        np.testing.assert_array_equal(np.delete(dw, 2, axis=0), 0.0)


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


def test_known_zeros_cannot_change():
    h_0 = KnownZeros((2, 3), dtype=np.float32, name="h_0")
    assert h_0.dtype == np.float32 and not h_0.requires_grad
    np.testing.assert_array_equal(h_0.data, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="read-only"):
        h_0.data[0, 0] = 1.0
    with pytest.raises(TypeError, match="KnownZeros 'h_0'.*cannot be replaced"):
        h_0.data = np.ones((2, 3))


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
