"""cross_entropy and nll_loss with class-index targets and no weight, label smoothing or ignored
row: the short composition -log_probs[n, k_n] and its mean, against PyTorch (values and
gradients) for one row and a batch, float64 and float32, an empty batch, NaN and inf logits and
a target of -100 among the others; the same as the plain expression bit for bit; and under jit
the same as eager."""

import math
import warnings

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.jit import JitFallbackWarning, jit
from tinygrad_rnn.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here: pip install torch")
TF = torch.nn.functional

NAN, INF = math.nan, math.inf
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float64, np.float32]
LOSSES = ["cross_entropy", "nll_loss"]
# float32 rounds differently from torch's kernels by an ulp or so; float64 agrees to 1e-12
RTOL = {np.float64: 1e-12, np.float32: 1e-6}

LOGITS = np.array([[1.0, -0.5, 0.3, 2.0], [0.2, 0.1, -1.0, 0.0], [-0.3, 0.8, 0.5, -2.5]])
CLASSES = np.array([3, 0, 1])


def loss_input(loss: str, logits: np.ndarray) -> np.ndarray:
    """The logits themselves for cross_entropy, their log_softmax for nll_loss."""
    if loss == "cross_entropy":
        return logits
    with np.errstate(all="ignore"):
        shifted = logits - logits.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def against_torch(loss: str, values, target, dtype, reduction: str) -> None:
    """Our loss and gradient equal torch's (to RTOL, NaN where torch has NaN) in `dtype`."""
    values = np.asarray(values, dtype=dtype)
    ours_input = Tensor(values, requires_grad=True)
    theirs_input = torch.tensor(values, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        ours = getattr(F, loss)(ours_input, target, reduction=reduction)
        theirs = getattr(TF, loss)(theirs_input, torch.tensor(target), reduction=reduction)
        cotangent = np.random.default_rng(0).standard_normal(ours.shape).astype(dtype)
        ours.backward(cotangent)
        theirs.backward(torch.tensor(cotangent))
    assert ours.dtype == dtype and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=RTOL[dtype], atol=0, equal_nan=True)
    assert ours_input.grad.dtype == dtype
    np.testing.assert_allclose(ours_input.grad, theirs_input.grad.numpy(), rtol=RTOL[dtype], atol=0, equal_nan=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
def test_a_batch_matches_torch(loss, dtype, reduction):
    against_torch(loss, loss_input(loss, LOGITS), CLASSES, dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
def test_one_row_with_a_0_d_target_matches_torch(loss, dtype, reduction):
    against_torch(loss, loss_input(loss, LOGITS[0]), np.array(2), dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
def test_an_empty_batch_matches_torch(loss, dtype, reduction):
    """torch: the mean over no rows is NaN, the sum 0, "none" an empty vector."""
    against_torch(loss, np.zeros((0, 4)), np.zeros(0, dtype=np.int64), dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize(
    "row",
    [[NAN, 0.0, 1.0, 2.0], [INF, 0.0, 1.0, 2.0], [-INF, 0.0, 1.0, 2.0], [INF, -INF, 0.0, 0.0]],
    ids=["nan", "inf at the target", "-inf at the target", "inf and -inf"],
)
def test_nan_and_inf_logits_match_torch(row, loss, dtype, reduction):
    logits = LOGITS.copy()
    logits[1] = row
    against_torch(loss, loss_input(loss, logits), CLASSES, dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("target", [[3, -100, 1], [-100, -100, -100]], ids=["one", "all"])
def test_a_target_of_minus_100_is_still_ignored(target, loss, dtype, reduction):
    against_torch(loss, loss_input(loss, LOGITS), np.array(target), dtype, reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_it_is_the_plain_expression_bit_for_bit(dtype, reduction):
    """-log_softmax(z)[n, k_n] reduced as asked: the same values and gradient exactly."""
    logits = LOGITS.astype(dtype)
    ours_input, plain_input = Tensor(logits, requires_grad=True), Tensor(logits, requires_grad=True)
    ours = F.cross_entropy(ours_input, CLASSES, reduction=reduction)
    picked = -plain_input.log_softmax(axis=-1)[np.arange(len(CLASSES)), CLASSES]
    plain = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    cotangent = np.random.default_rng(1).standard_normal(plain.shape).astype(dtype)
    ours.backward(cotangent)
    plain.backward(cotangent)
    np.testing.assert_array_equal(ours.data, plain.data)
    np.testing.assert_array_equal(ours_input.grad, plain_input.grad)


def train(compiled: bool, batches):
    head = tg.nn.Linear(3, 4, rng=0)
    optimizer = tg.optim.SGD(head, lr=0.5)

    def step(x, labels):
        logits = head(Tensor(x))
        loss = F.cross_entropy(logits, labels) + F.nll_loss(logits.log_softmax(axis=-1), labels, reduction="sum")
        loss.backward()
        return loss

    runner = jit(step) if compiled else step
    losses, grads = [], []
    for x, labels in batches:
        optimizer.zero_grad()
        losses.append(runner(x, labels).item())
        grads.append({name: p.grad.copy() for name, p in head.named_parameters()})
        optimizer.step()
    return losses, grads, runner


def test_a_jit_compiled_step_matches_eager_with_and_without_an_ignored_row():
    """The first, second and fourth batches take the default path, the third has a -100: the
    compiled step gives the eager losses and gradients and traces once for each path."""
    rng = np.random.default_rng(2)
    labels = [[0, 3, 1, 2, 2], [1, 1, 0, 3, 2], [2, -100, 0, 3, 1], [3, 3, 3, 0, 1]]
    batches = [(rng.standard_normal((5, 3)), np.array(row)) for row in labels]
    eager_losses, eager_grads, _ = train(False, batches)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        losses, grads, compiled = train(True, batches)
    assert compiled.traces == 2 and compiled.fallback_reason is None
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-12)
    for ours, theirs in zip(grads, eager_grads):
        for name in theirs:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-12, atol=1e-15, err_msg=name)
