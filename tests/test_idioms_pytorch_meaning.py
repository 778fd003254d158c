"""Where NumPy's and PyTorch's names clash, PyTorch's meaning wins; NumPy's spelling stays
where it does not conflict. Each idiom is compared with PyTorch: values, dtypes, gradients.

  - reductions and softmax-like ops take dim=/keepdim= as well as axis=/keepdims=;
  - x.size() is the shape, x.size(d) one length, x.numel() the count;
  - max(dim=d) / min(dim=d) return (values, indices), the gradient going to the returned
    index; amax / amin and the full max() share it between ties;
  - transpose(d0, d1) swaps two axes; transpose() and a full permutation keep NumPy's meaning;
  - register_hook(fn) sees, and may replace, the gradient flowing into a tensor.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

RNG = np.random.default_rng(61)
X = RNG.standard_normal((3, 4, 2))
TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])


def assert_same(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs PyTorch's {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs PyTorch's {theirs.dtype}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=what)


def run_both(ours_fn, torch_fn, values):
    ours_x, their_x = Tensor(values.copy(), requires_grad=True), torch.tensor(values, requires_grad=True)
    ours, theirs = ours_fn(ours_x), torch_fn(their_x)
    assert_same(ours.data, theirs, "value")
    seed = RNG.standard_normal(ours.shape)
    ours.backward(seed)
    theirs.backward(torch.tensor(seed))
    assert_same(ours_x.grad, their_x.grad, "gradient")


REDUCTIONS = ["sum", "mean", "amax", "logsumexp"]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dim, keepdim", [(1, False), (-1, True), ((0, 2), False), ((0, 2), True)])
def test_reductions_take_dim_and_keepdim(name, dim, keepdim):
    def theirs(x):
        return getattr(x, name)(dim=dim, keepdim=keepdim)

    run_both(lambda x: getattr(x, name)(dim=dim, keepdim=keepdim), theirs, X)
    run_both(lambda x: getattr(x, name)(axis=dim, keepdims=keepdim), theirs, X)
    run_both(lambda x: getattr(x, name)(dim, keepdim), lambda x: getattr(x, name)(dim, keepdim), X)


@pytest.mark.parametrize("name", ["sum", "mean"])
def test_full_reductions_without_dim(name):
    run_both(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), X)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_takes_dim(name, dim):
    run_both(lambda x: getattr(x, name)(dim=dim), lambda x: getattr(x, name)(dim=dim), X)
    run_both(lambda x: getattr(x, name)(dim), lambda x: getattr(x, name)(dim), X)
    run_both(lambda x: getattr(x, name)(axis=dim), lambda x: getattr(x, name)(dim=dim), X)
    functional = getattr(nn.functional, name)
    run_both(lambda x: functional(x, dim=dim), lambda x: getattr(torch.nn.functional, name)(x, dim=dim), X)


def test_dim_and_axis_together_is_an_error():
    with pytest.raises(TypeError, match="sum: give dim or axis, not both"):
        Tensor(X).sum(dim=0, axis=0)
    with pytest.raises(TypeError, match=r"max: dim must be one int, got \(0, 1\); amax reduces over several"):
        Tensor(X).max(dim=(0, 1))


def test_size_is_the_shape_and_numel_the_count():
    x, t = Tensor(X), torch.tensor(X)
    assert x.size() == tuple(t.size())
    assert isinstance(x.size(), tuple)
    assert [x.size(d) for d in (0, 1, 2, -1)] == [t.size(d) for d in (0, 1, 2, -1)]
    assert x.numel() == t.numel()
    with pytest.raises(IndexError, match=r"size: dim 3 is out of range \[-3, 2\]"):
        x.size(3)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_and_min_along_a_dim_give_values_and_indices(name, dim, keepdim):
    values = np.array([[1.0, 3.0, 3.0], [np.nan, 2.0, -1.0], [2.0, 2.0, 2.0]])
    ours = getattr(Tensor(values), name)(dim=dim, keepdim=keepdim)
    theirs = getattr(torch.tensor(values), name)(dim=dim, keepdim=keepdim)
    assert_same(ours.indices.data, theirs.indices, "indices")
    run_both(lambda x: getattr(x, name)(dim, keepdim).values, lambda x: getattr(x, name)(dim, keepdim).values, values)
    # NumPy's spelling means the same
    run_both(
        lambda x: getattr(x, name)(axis=dim, keepdims=keepdim)[0], lambda x: getattr(x, name)(dim, keepdim)[0], values
    )


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_full_reductions_share_ties(name):
    run_both(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), TIES)


def test_max_of_two_tensors_is_the_elementwise_maximum():
    y = RNG.standard_normal((4, 2))
    run_both(lambda x: x.max(Tensor(y)), lambda x: torch.max(x, torch.tensor(y)), X)


@pytest.mark.parametrize("args", [(0, 1), (1, 0), (0, 2), (-1, 0), (1, 1)])
def test_transpose_of_two_dims_swaps_them(args):
    run_both(lambda x: x.transpose(*args), lambda x: x.transpose(*args), X)


def test_transpose_of_a_matrix_at_0_1_is_the_matrix_transpose():
    matrix = RNG.standard_normal((2, 5))
    run_both(lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1), matrix)
    run_both(lambda x: x.transpose(), lambda x: x.T, matrix)


def test_numpy_full_permutations_stay():
    run_both(lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1), X)
    run_both(lambda x: x.transpose((1, 2, 0)), lambda x: x.permute(1, 2, 0), X)
    run_both(lambda x: x.transpose(), lambda x: x.permute(2, 1, 0), X)


# ------------------------------------------------------------------ register_hook


def test_a_hook_sees_the_gradient_flowing_into_an_intermediate_tensor():
    seen = {}
    x = Tensor(X.copy(), requires_grad=True)
    h = x.tanh()
    h.register_hook(lambda grad: seen.setdefault("h", grad.data.copy()))
    loss = (h * h).sum()
    loss.backward()
    np.testing.assert_allclose(seen["h"], 2 * np.tanh(X), rtol=1e-14)


def test_a_hook_may_replace_the_gradient_as_in_pytorch():
    ours_x, their_x = Tensor(X.copy(), requires_grad=True), torch.tensor(X, requires_grad=True)
    ours_h, their_h = ours_x.sin(), their_x.sin()
    ours_h.register_hook(lambda g: g * 3.0)
    their_h.register_hook(lambda g: g * 3.0)
    ours_x.register_hook(lambda g: g.clamp(-0.5, 0.5))
    their_x.register_hook(lambda g: g.clamp(-0.5, 0.5))
    ((ours_h * ours_h).sum() + ours_h.sum()).backward()
    ((their_h * their_h).sum() + their_h.sum()).backward()
    assert_same(ours_x.grad, their_x.grad, "gradient after both hooks")


def test_hooks_run_in_order_see_the_total_and_can_be_removed():
    calls = []
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2.0
    first = y.register_hook(lambda g: calls.append(("first", g.data.tolist())) or g + 1.0)
    y.register_hook(lambda g: calls.append(("second", g.data.tolist())))
    (y.sum() + (y * y).sum()).backward(retain_graph=True)  # two uses of y: the hook sees their sum
    assert calls == [("first", [5.0, 9.0]), ("second", [6.0, 10.0])]
    np.testing.assert_array_equal(x.grad, [12.0, 20.0])
    first.remove()
    calls.clear()
    x.grad = None
    (y.sum() + (y * y).sum()).backward()
    assert calls == [("second", [5.0, 9.0])]
    np.testing.assert_array_equal(x.grad, [10.0, 18.0])


def test_a_hook_watches_dl_dh_at_every_step_of_an_rnn():
    model = nn.RNN(2, 3, rng=0)
    seen = {}
    model.retain_hidden = True
    x = RNG.standard_normal((4, 1, 2))
    output, _ = model(x)
    for t, h in enumerate(model.hidden_states[0]):
        h.register_hook(lambda g, t=t: seen.__setitem__(t, g.data.copy()))
    output[-1].sum().backward()
    assert sorted(seen) == [0, 1, 2, 3]
    for t in range(4):
        np.testing.assert_array_equal(seen[t], model.hidden_states[0][t].grad)


def test_hook_errors_name_what_was_wrong():
    with pytest.raises(RuntimeError, match="register_hook: the tensor does not require grad"):
        Tensor([1.0]).register_hook(lambda g: g)
    x = Tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: Tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"the hook returned a gradient of shape \(2,\) for a tensor of shape \(3,\)"):
        y.sum().backward()
