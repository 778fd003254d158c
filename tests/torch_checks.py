"""What the PyTorch parity tests of single ops share: one comparison of a result with torch's."""

import numpy as np

from tinygrad_rnn import Tensor


def assert_same(ours, theirs):
    """Same shape, dtype and values (NaN where torch has NaN, infinities of the same sign) as
    `theirs`, a torch tensor or an array."""
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = ours.data if isinstance(ours, Tensor) else np.asarray(ours)
    assert ours.shape == theirs.shape, f"shape {ours.shape}, torch {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"dtype {ours.dtype}, torch {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True)
