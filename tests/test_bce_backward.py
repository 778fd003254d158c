"""binary_cross_entropy's gradient is PyTorch's rule, (p - y) / max(p (1 - p), 1e-12), computed
by the op's own backward, also where p (1 - p) underflows that floor (sigmoid of -38, p = 0 or 1)."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.ops import BinaryCrossEntropy

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for binary_cross_entropy's backward")


def test_sigmoid_far_left_then_bce_has_pytorchs_gradient():
    x = Tensor(np.array([-38.0]), requires_grad=True)
    F.binary_cross_entropy(x.sigmoid(), np.array([0.5])).backward()
    xt = torch.tensor([-38.0], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(xt.sigmoid(), torch.tensor([0.5], dtype=torch.float64)).backward()
    assert xt.grad.item() == pytest.approx(-1.5696e-05, rel=1e-4)
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradient_matches_pytorch_at_the_floor_and_at_zero_and_one(dtype, reduction):
    p = np.array([0.0, 1.0, 1e-14, 1.0 - 1e-15, 3e-17, 0.3, 0.5], dtype=dtype)
    y = np.array([1.0, 0.0, 0.25, 0.5, 0.75, 0.2, 1.0], dtype=dtype)
    ours = Tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(ours, y, reduction=reduction)
    theirs = torch.tensor(p, requires_grad=True)
    their_loss = torch.nn.functional.binary_cross_entropy(theirs, torch.tensor(y), reduction=reduction)
    seed = np.linspace(0.5, 2.0, p.size).astype(dtype) if reduction == "none" else None
    loss.backward(seed)
    their_loss.backward(None if seed is None else torch.tensor(seed))
    assert ours.grad.dtype == dtype
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=rtol)
    assert abs(ours.grad.data[0]) > 1e10  # p = 0 with y = 1: the slope is large, never cut to 0


def test_gradient_is_the_ops_own_backward():
    p = Tensor(np.array([1e-14]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([0.0]), reduction="sum")
    assert isinstance(loss._ctx.parents[0], BinaryCrossEntropy)
    loss.backward()
    np.testing.assert_allclose(p.grad.data, [1e-14 / float(np.float32(1e-12))], rtol=1e-12)  # a float32 eps


def test_target_gradient_is_the_difference_of_the_logs():
    p = np.array([0.2, 0.7])
    y = Tensor(np.array([0.1, 0.9]), requires_grad=True)
    F.binary_cross_entropy(Tensor(p), y, reduction="sum").backward()
    np.testing.assert_allclose(y.grad.data, np.log(1 - p) - np.log(p), rtol=1e-12)
