"""Tensor.all() and Tensor.any(): bool tensors with no gradient, dim/keepdim as PyTorch's,
and the reduction bool() of a many-element tensor points to."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor

torch = pytest.importorskip("torch", reason="PyTorch is the oracle for all() and any()")

ARRAYS = [
    np.array(0.0),
    np.array(2.5),
    np.zeros((0, 3)),
    np.array([[1.0, 0.0, np.nan], [2.0, 3.0, -1.0]]),
    np.array([[0.0, 0.0], [0.0, np.inf]]),
]


@pytest.mark.parametrize("name", ["all", "any"])
@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: str(a.shape))
@pytest.mark.parametrize("keepdim", [False, True])
def test_all_and_any_match_pytorch_over_every_dim(name, array, keepdim):
    ours, theirs = Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    whole = getattr(ours, name)()
    assert whole.dtype == np.bool_ and whole.shape == () and not whole.requires_grad
    assert whole.item() == getattr(theirs, name)().item()
    for dim in range(-array.ndim, array.ndim) if array.ndim else [0, -1]:
        got = getattr(ours, name)(dim, keepdim=keepdim)
        expected = getattr(theirs, name)(dim, keepdim=keepdim)
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.data, expected.numpy())


def test_the_message_of_bool_names_a_reduction_that_works():
    t = Tensor(np.ones(2))
    with pytest.raises(RuntimeError, match=r"ambiguous; reduce it first, e.g. \(t > 0\).all\(\)"):
        bool(t)
    assert bool((t > 0).all()) and bool((t > 0).any())


@pytest.mark.parametrize("name", ["all", "any"])
def test_a_dim_out_of_range_is_an_index_error_naming_dim_and_shape(name):
    message = rf"^{name}: axis 2 is out of bounds for an array of dimension 2 \(shape \(2, 3\)\)$"
    with pytest.raises(IndexError, match=message):
        getattr(Tensor(np.ones((2, 3))), name)(2)
