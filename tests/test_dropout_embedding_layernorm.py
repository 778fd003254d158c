"""Dropout, Embedding and LayerNorm: against PyTorch where their values are deterministic,
against their definitions (mask statistics, scaling) where they are random, and by gradcheck."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, gradcheck

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

TOLERANCE = dict(rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- Dropout


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_in_eval_mode_is_the_identity(p):
    x = Tensor(np.random.default_rng(0).standard_normal((4, 5)), requires_grad=True)
    dropout = tg.nn.Dropout(p).eval()
    y = dropout(x)
    np.testing.assert_array_equal(y.data, x.data)
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)
    theirs = torch.nn.Dropout(p).eval()(torch.tensor(x.data))
    np.testing.assert_array_equal(y.data, theirs.numpy())


def test_dropout_with_p_zero_is_the_identity_in_training_too():
    x = Tensor(np.random.default_rng(1).standard_normal((3, 7)), requires_grad=True)
    y = tg.nn.Dropout(0.0)(x)
    np.testing.assert_array_equal(y.data, x.data)
    np.testing.assert_array_equal(torch.nn.Dropout(0.0)(torch.tensor(x.data)).numpy(), y.data)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_mask_statistics_and_scaling(p):
    tg.manual_seed(3)
    x = Tensor(np.full((200, 500), 2.0), requires_grad=True)
    y = tg.nn.Dropout(p)(x)
    kept = y.data != 0
    np.testing.assert_allclose(y.data[kept], 2.0 / (1 - p), rtol=1e-15)  # survivors scaled by 1 / (1 - p)
    rate = 1 - kept.mean()
    assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / kept.size)  # within 4 standard errors
    assert abs(y.data.mean() - 2.0) < 0.05  # the expectation is kept
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, kept / (1 - p))  # the gradient passes through the same mask


def test_dropout_p_one_drops_everything_and_all_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = tg.nn.Dropout(1.0)(x)
    y.sum().backward()
    assert not y.data.any() and not x.grad.any()
    assert not torch.nn.Dropout(1.0)(torch.ones(2, 3)).any()


def test_masks_come_from_the_seeded_generator_and_differ_between_calls():
    x = np.ones((10, 10))
    tg.manual_seed(5)
    first, second = tg.nn.Dropout(0.5)(x).data, tg.nn.Dropout(0.5)(x).data
    tg.manual_seed(5)
    np.testing.assert_array_equal(tg.nn.Dropout(0.5)(x).data, first)
    assert not np.array_equal(first, second)
    own = tg.nn.Dropout(0.5, rng=9)
    assert not np.array_equal(own(x).data, own(x).data)
    np.testing.assert_array_equal(tg.nn.Dropout(0.5, rng=9)(x).data, tg.nn.Dropout(0.5, rng=9)(x).data)


def test_dropout_keeps_float32_and_names_bad_options():
    y = tg.nn.Dropout(0.5)(Tensor(np.ones(8, dtype=np.float32)))
    assert y.dtype == np.float32
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1\], got 1.5"):
        tg.nn.Dropout(1.5)
    with pytest.raises(TypeError, match="Dropout: needs a floating-point input, got dtype int64"):
        tg.nn.Dropout(0.5)(Tensor(np.arange(3)))


# ---------------------------------------------------------------- Embedding


def embedding_pair(padding_idx=None, rows=7, dim=4):
    ours = tg.nn.Embedding(rows, dim, padding_idx=padding_idx, rng=2)
    theirs = torch.nn.Embedding(rows, dim, padding_idx=padding_idx, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
    return ours, theirs


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_with_repeated_ids_matches_pytorch(padding_idx):
    ours, theirs = embedding_pair(padding_idx)
    ids = np.array([[1, 2, 2, 6], [0, 1, 6, 6], [2, 2, 3, 1]])
    upstream = np.random.default_rng(4).standard_normal((3, 4, 4))
    y, their_y = ours(ids), theirs(torch.from_numpy(ids))
    np.testing.assert_allclose(y.data, their_y.detach().numpy(), **TOLERANCE)
    (y * Tensor(upstream)).sum().backward()
    (their_y * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), **TOLERANCE)
    np.testing.assert_array_equal(ours.weight.grad[[4, 5]], 0.0)  # ids never used get no gradient
    if padding_idx is not None:
        np.testing.assert_array_equal(ours.weight.grad[padding_idx], 0.0)


def test_the_padding_row_starts_at_zero_and_keeps_a_set_value_without_learning():
    ours, theirs = embedding_pair(padding_idx=0)
    np.testing.assert_array_equal(ours.weight.data[0], 0.0)
    ours.weight.data[0] = 3.0
    with torch.no_grad():
        theirs.weight[0] = 3.0
    ids = np.array([0, 1, 0])
    y, their_y = ours(ids), theirs(torch.from_numpy(ids))
    np.testing.assert_array_equal(y.data, their_y.detach().numpy())
    y.sum().backward()
    their_y.sum().backward()
    np.testing.assert_array_equal(ours.weight.grad, theirs.weight.grad.numpy())


def test_embedding_takes_scalars_tensors_and_names_bad_ids():
    ours, theirs = embedding_pair()
    np.testing.assert_array_equal(ours(3).data, theirs(torch.tensor(3)).detach().numpy())
    np.testing.assert_array_equal(ours(Tensor(np.array([3, 1]))).data, ours.weight.data[[3, 1]])
    assert ours(np.zeros((2, 0), dtype=np.int64)).shape == (2, 0, 4)
    with pytest.raises(IndexError, match=r"Embedding\(7, 4\): id 7 is outside \[0, 7\)"):
        ours(np.array([1, 7]))
    with pytest.raises(IndexError, match="id -1 is outside"):
        ours(np.array([-1]))
    with pytest.raises(TypeError, match="ids must be integers, got dtype float64"):
        ours(np.array([1.0]))
    with pytest.raises(ValueError, match=r"padding_idx 9 is outside \[-7, 7\)"):
        tg.nn.Embedding(7, 4, padding_idx=9)


def test_embedding_gradcheck():
    table = tg.nn.Embedding(5, 3, rng=0)
    ids = np.array([[0, 1, 4], [4, 4, 2]])
    assert gradcheck(lambda w: (table(ids) ** 2).sum(), [table.weight])


# ---------------------------------------------------------------- LayerNorm


@pytest.mark.parametrize(
    "shape, normalized, options",
    [
        ((3, 5, 6), 6, {}),
        ((4, 2, 3), (2, 3), dict(eps=1e-3)),
        ((6,), (6,), dict(elementwise_affine=False)),
        ((2, 5), 5, dict(bias=False)),
        ((2, 3, 4), 4, dict(dtype=np.float32)),
    ],
)
def test_layernorm_matches_pytorch_values_and_gradients(shape, normalized, options):
    dtype = options.get("dtype", np.float64)
    tolerance = TOLERANCE if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    torch_options = {k: v for k, v in options.items() if k != "dtype"}
    ours = tg.nn.LayerNorm(normalized, **options)
    theirs = torch.nn.LayerNorm(normalized, **torch_options, dtype=getattr(torch, np.dtype(dtype).name))
    rng = np.random.default_rng(6)
    with torch.no_grad():  # affine parameters away from 1 and 0, so their gradients are tested
        for p in ours.parameters():
            p.data[...] = rng.standard_normal(p.shape)
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    array = (3.0 * rng.standard_normal(shape) + 2.0).astype(dtype)
    upstream = rng.standard_normal(shape).astype(dtype)
    x, their_x = Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)
    y, their_y = ours(x), theirs(their_x)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, their_y.detach().numpy(), **tolerance)
    (y * Tensor(upstream)).sum().backward()
    (their_y * torch.from_numpy(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad, their_x.grad.numpy(), **tolerance)
    their_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, their_params[name].grad.numpy(), err_msg=name, **tolerance)


def test_layernorm_gradcheck_and_bad_shapes():
    norm = tg.nn.LayerNorm(4)
    norm.weight.data[...] = [0.5, -1.0, 2.0, 1.5]
    x = Tensor(np.random.default_rng(8).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda x, w, b: (norm(x) ** 2 * Tensor(np.arange(4.0))).sum(), [x, norm.weight, norm.bias])
    with pytest.raises(ValueError, match=r"LayerNorm\(4,\): input has shape \(3, 5\); its last 1 dimension"):
        norm(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="normalized_shape must be positive sizes"):
        tg.nn.LayerNorm(0)
