"""Losses and Embedding against PyTorch, the oracle: weight=, ignore_index=, label_smoothing= and
pos_weight= in every reduction, float64 and float32, values and gradients at NaN and +-inf,
0-d and size-0 batches, the loss modules' constructors, the errors for bad options, and a
jit-compiled training step with the options against the eager one."""

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
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-6}

LOGITS = np.array([[1.0, -0.5, 0.3], [0.2, 0.1, -1.0], [-0.3, 0.8, 0.5], [0.0, 0.4, -0.2]])
CLASSES = np.array([0, 2, 1, 2])
WEIGHT = np.array([1.0, 2.0, 0.5])


def as_torch(value, dtype=None):
    """A NumPy option as a torch tensor (floats in `dtype`), anything else as it is."""
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f":
        return torch.tensor(value, dtype=TORCH_DTYPE[dtype or np.float64])
    return torch.tensor(value)


def compare(ours_loss, theirs_loss, dtype, pairs):
    """Same dtype, shape and values (NaN where torch has NaN); then one random cotangent through
    both, and the same gradient for every (our leaf, their leaf) pair."""
    theirs_value = theirs_loss.detach().numpy()
    assert ours_loss.dtype == theirs_value.dtype and ours_loss.shape == theirs_value.shape
    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(ours_loss.data, theirs_value, rtol=tolerance, atol=tolerance, equal_nan=True)
    cotangent = np.random.default_rng(0).standard_normal(theirs_value.shape).astype(dtype)
    ours_loss.backward(cotangent)
    theirs_loss.backward(torch.tensor(cotangent))
    for ours, theirs in pairs:
        assert ours.grad.dtype == dtype
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=tolerance, atol=tolerance, equal_nan=True)


def leaves(values, dtype):
    """The same values as a leaf requiring grad on each side."""
    values = np.asarray(values, dtype=dtype)
    return Tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def quietly(run):
    """run() with NumPy's and PyTorch's warnings silenced (NaN and inf are the point here)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return run()


# ---------------------------------------------------------------- binary cross-entropy with logits

INFINITE_LOGITS = [INF, INF, -INF, -INF, NAN, 0.0, 1000.0, -1000.0]
INFINITE_TARGETS = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.5]


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("pos_weight", [None, 3.0], ids=["plain", "pos_weight"])
def test_bce_with_logits_at_infinite_and_nan_logits(dtype, pos_weight):
    """torch: d/dx = sigmoid(x) - y exactly at x = +-inf ([0, 1, -1, 0]); the loss inf at x = inf,
    y = 0 and NaN where its formula meets 0 * inf; d/dy = -x, also infinite."""
    x, xt = leaves(INFINITE_LOGITS, dtype)
    y, yt = leaves(INFINITE_TARGETS, dtype)
    options = {} if pos_weight is None else dict(pos_weight=np.array(pos_weight, dtype=dtype))
    theirs = TF.binary_cross_entropy_with_logits(
        xt, yt, reduction="none", **{k: as_torch(v, dtype) for k, v in options.items()}
    )
    ours = quietly(lambda: F.binary_cross_entropy_with_logits(x, y, reduction="none", **options))
    assert np.isinf(ours.data[1]) and ours.data[1] > 0
    quietly(lambda: compare(ours, theirs, dtype, [(x, xt), (y, yt)]))


def test_bce_with_logits_gradient_at_infinity_is_exactly_torchs():
    x, xt = leaves([INF, INF, -INF, -INF], np.float64)
    y = np.array([1.0, 0.0, 1.0, 0.0])
    quietly(lambda: F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward())
    TF.binary_cross_entropy_with_logits(xt, torch.tensor(y), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, -1.0, 0.0])


def test_bce_with_logits_is_quiet_and_exact_at_1000():
    """No NumPy warning or floating-point error at |x| = 1000, where exp under- and overflows."""
    x = Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0]), requires_grad=True)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, [0.0, 1.0, 1.0, 0.0], reduction="sum", pos_weight=[2.0] * 4)
        loss.backward()
    assert loss.item() == 3000.0
    np.testing.assert_array_equal(x.grad, [1.0, -2.0, 0.0, 0.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize(
    "options",
    [
        dict(weight=np.array([0.5, 2.0])),
        dict(pos_weight=np.array([3.0, 0.25])),
        dict(weight=np.array([[0.5], [2.0]]), pos_weight=np.array([3.0, 0.25])),
        dict(weight=np.array(1.5), pos_weight=np.array(0.0)),
    ],
    ids=["weight", "pos_weight", "both", "0-d options"],
)
def test_bce_with_logits_weight_and_pos_weight(options, dtype, reduction):
    x, xt = leaves([[0.3, -1.2], [2.0, 0.1]], dtype)
    y, yt = leaves([[1.0, 0.0], [0.3, 1.0]], dtype)
    theirs = TF.binary_cross_entropy_with_logits(
        xt, yt, reduction=reduction, **{k: as_torch(v, dtype) for k, v in options.items()}
    )
    ours = F.binary_cross_entropy_with_logits(x, y, reduction=reduction, **options)
    compare(ours, theirs, dtype, [(x, xt), (y, yt)])


# ---------------------------------------------------------------- binary cross-entropy


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_bce_of_saturated_probabilities_is_100_with_torchs_gradient(dtype):
    """torch clamps each log at -100 in every dtype (float32 too: 100, not 87.34) and divides the
    gradient by max(p (1 - p), 1e-12)."""
    p, pt = leaves([0.0, 1.0, 0.0, 1.0, 1e-40, 0.5], dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.2], dtype=dtype)
    theirs = TF.binary_cross_entropy(pt, torch.tensor(y), reduction="none")
    ours = F.binary_cross_entropy(p, y, reduction="none")
    assert ours.data[:2].tolist() == [100.0, 100.0]
    compare(ours, theirs, dtype, [(p, pt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize(
    "weight", [np.array([0.5, 2.0]), np.array([[0.5], [2.0]]), np.array(3.0)], ids=["row", "column", "0-d"]
)
def test_bce_weight(weight, dtype, reduction):
    p, pt = leaves([[0.2, 0.9], [0.6, 0.1]], dtype)
    y, yt = leaves([[1.0, 0.0], [0.3, 1.0]], dtype)
    theirs = TF.binary_cross_entropy(pt, yt, weight=as_torch(weight, dtype), reduction=reduction)
    compare(F.binary_cross_entropy(p, y, weight=weight, reduction=reduction), theirs, dtype, [(p, pt), (y, yt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(), (0,), (0, 3)], ids=["0-d", "size 0", "size 0 by 3"])
def test_binary_losses_of_0_d_and_size_0_inputs(shape, reduction):
    values = np.full(shape, 0.25)
    for loss, torch_loss in [
        (F.binary_cross_entropy, TF.binary_cross_entropy),
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits),
    ]:
        p, pt = leaves(values, np.float64)
        weight = np.array(2.0)
        theirs = torch_loss(pt, torch.tensor(values * 2), weight=torch.tensor(weight), reduction=reduction)
        ours = quietly(lambda: loss(p, values * 2, weight=weight, reduction=reduction))
        quietly(lambda: compare(ours, theirs, np.float64, [(p, pt)]))


# ---------------------------------------------------------------- cross_entropy and nll_loss

CROSS_ENTROPY_OPTIONS = [
    dict(),
    dict(weight=WEIGHT),
    dict(ignore_index=2),
    dict(ignore_index=0, weight=WEIGHT),
    dict(label_smoothing=0.1),
    dict(weight=WEIGHT, label_smoothing=0.3),
    dict(weight=WEIGHT, ignore_index=1, label_smoothing=0.2),
    dict(label_smoothing=1.0),
]
OPTION_IDS = ["none", "weight", "ignore", "ignore+weight", "smoothing", "weight+smoothing", "all three", "smoothing 1"]


def torch_options(options, dtype):
    return {k: as_torch(v, dtype) for k, v in options.items()}


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("options", CROSS_ENTROPY_OPTIONS, ids=OPTION_IDS)
def test_cross_entropy_with_class_indices(options, dtype, reduction):
    x, xt = leaves(LOGITS, dtype)
    theirs = TF.cross_entropy(xt, torch.tensor(CLASSES), reduction=reduction, **torch_options(options, dtype))
    compare(F.cross_entropy(x, CLASSES, reduction=reduction, **options), theirs, dtype, [(x, xt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("options", [o for o in CROSS_ENTROPY_OPTIONS if "ignore_index" not in o])
def test_cross_entropy_with_class_probabilities(options, dtype, reduction):
    """torch: probability rows are smoothed to (1 - eps) y + eps / C, weighted per class, and
    "mean" divides by the number of rows."""
    x, xt = leaves(LOGITS, dtype)
    probabilities = np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.0, 0.4, 0.6], [0.1, 0.1, 0.8]])
    y, yt = leaves(probabilities, dtype)
    theirs = TF.cross_entropy(xt, yt, reduction=reduction, **torch_options(options, dtype))
    compare(F.cross_entropy(x, y, reduction=reduction, **options), theirs, dtype, [(x, xt), (y, yt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("options", CROSS_ENTROPY_OPTIONS[:4], ids=OPTION_IDS[:4])
def test_nll_loss_options(options, dtype, reduction):
    x, xt = leaves(numpy_log_softmax(LOGITS), dtype)
    theirs = TF.nll_loss(xt, torch.tensor(CLASSES), reduction=reduction, **torch_options(options, dtype))
    compare(F.nll_loss(x, CLASSES, reduction=reduction, **options), theirs, dtype, [(x, xt)])


def numpy_log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_the_default_ignore_index_minus_100_is_ignored(loss, reduction):
    """torch: a target of -100 contributes 0 and is left out of the mean's count."""
    target = np.array([0, -100, 1, 2])
    x, xt = leaves(LOGITS, np.float64)
    theirs = getattr(TF, loss)(xt, torch.tensor(target), reduction=reduction)
    compare(getattr(F, loss)(x, target, reduction=reduction), theirs, np.float64, [(x, xt)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", [dict(), dict(weight=WEIGHT, label_smoothing=0.2)], ids=["plain", "options"])
def test_an_ignored_row_of_infinite_logits_adds_nothing(options, reduction):
    """torch reads nothing of an ignored row for the loss, so its inf gives no NaN there."""
    logits = LOGITS.copy()
    logits[1] = [INF, 0.0, -INF]
    target = np.array([0, 1, 1, 2])
    x, xt = leaves(logits, np.float64)
    theirs = TF.cross_entropy(
        xt, torch.tensor(target), ignore_index=1, reduction=reduction, **torch_options(options, None)
    )
    ours = quietly(lambda: F.cross_entropy(x, target, ignore_index=1, reduction=reduction, **options))
    assert np.isfinite(ours.data).all()
    quietly(lambda: compare(ours, theirs, np.float64, [(x, xt)]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_every_target_ignored_gives_torchs_nan_mean(loss, reduction):
    x, xt = leaves(LOGITS, np.float64)
    options = dict(weight=WEIGHT, ignore_index=2)
    target = np.full(4, 2)
    theirs = getattr(TF, loss)(xt, torch.tensor(target), reduction=reduction, **torch_options(options, None))
    ours = quietly(lambda: getattr(F, loss)(x, target, reduction=reduction, **options))
    quietly(lambda: compare(ours, theirs, np.float64, [(x, xt)]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("target", [1, -100], ids=["kept", "ignored"])
def test_one_row_of_logits_with_a_0_d_target(loss, target, reduction):
    options = dict(weight=WEIGHT) if loss == "nll_loss" else dict(weight=WEIGHT, label_smoothing=0.1)
    x, xt = leaves(LOGITS[0], np.float64)
    theirs = getattr(TF, loss)(xt, torch.tensor(target), reduction=reduction, **torch_options(options, None))
    ours = quietly(lambda: getattr(F, loss)(x, np.array(target), reduction=reduction, **options))
    quietly(lambda: compare(ours, theirs, np.float64, [(x, xt)]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_a_size_0_batch(loss, reduction):
    options = dict(weight=WEIGHT) if loss == "nll_loss" else dict(weight=WEIGHT, label_smoothing=0.1)
    x, xt = leaves(np.zeros((0, 3)), np.float64)
    target = np.zeros(0, dtype=np.int64)
    theirs = getattr(TF, loss)(xt, torch.tensor(target), reduction=reduction, **torch_options(options, None))
    ours = quietly(lambda: getattr(F, loss)(x, target, reduction=reduction, **options))
    quietly(lambda: compare(ours, theirs, np.float64, [(x, xt)]))


# ---------------------------------------------------------------- modules


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "name, options, input, target",
    [
        ("CrossEntropyLoss", dict(weight=WEIGHT, ignore_index=2, label_smoothing=0.1), LOGITS, CLASSES),
        ("NLLLoss", dict(weight=WEIGHT, ignore_index=0), numpy_log_softmax(LOGITS), CLASSES),
        ("BCELoss", dict(weight=np.array([0.5, 2.0])), np.array([[0.2, 0.9], [0.6, 0.1]]), np.eye(2)),
        (
            "BCEWithLogitsLoss",
            dict(weight=np.array([0.5, 2.0]), pos_weight=np.array([3.0, 0.25])),
            np.array([[0.3, -1.2], [2.0, 0.1]]),
            np.eye(2),
        ),
    ],
)
def test_loss_modules_take_torchs_options(name, options, input, target, reduction):
    x, xt = leaves(input, np.float64)
    theirs = getattr(torch.nn, name)(reduction=reduction, **torch_options(options, None))(xt, as_torch(target))
    module = getattr(tg.nn, name)(reduction=reduction, **options)
    compare(module(x, target), theirs, np.float64, [(x, xt)])
    assert list(module.parameters()) == []


def test_a_loss_module_keeps_its_own_copy_of_the_weight():
    weight = WEIGHT.copy()
    module = tg.nn.CrossEntropyLoss(weight)
    expected = module(Tensor(LOGITS), CLASSES).item()
    weight[:] = 100.0
    assert module(Tensor(LOGITS), CLASSES).item() == expected


def test_loss_modules_show_their_options():
    module = tg.nn.CrossEntropyLoss(ignore_index=2, label_smoothing=0.1, reduction="sum")
    assert repr(module) == "CrossEntropyLoss(reduction='sum', ignore_index=2, label_smoothing=0.1)"
    assert repr(tg.nn.NLLLoss(ignore_index=0)) == "NLLLoss(reduction='mean', ignore_index=0)"


# ---------------------------------------------------------------- Embedding


def test_embedding_with_padding_idx_looks_up_inf_and_nan_rows_and_never_trains_the_padding_row():
    ours = tg.nn.Embedding(4, 2, padding_idx=0, rng=0)
    ours.weight.data[1] = INF
    ours.weight.data[2] = [NAN, -INF]
    ours.weight.data[0] = [3.0, -INF]  # the padding row's value is what the lookup returns
    theirs = tg.to_torch(ours)
    ids = np.array([[1, 0, 2], [0, 3, 3]])
    out = ours(ids)
    their_out = theirs(torch.tensor(ids))
    np.testing.assert_array_equal(out.data, their_out.detach().numpy())
    cotangent = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(cotangent)
    their_out.backward(torch.tensor(cotangent))
    np.testing.assert_array_equal(ours.weight.grad, theirs.weight.grad.numpy())
    assert not ours.weight.grad[0].any()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, message",
    [
        (
            lambda: F.cross_entropy(Tensor(LOGITS), CLASSES, weight=[1.0, 2.0]),
            ValueError,
            r"cross_entropy: weight must hold one number per class, shape \(3,\), got shape \(2,\)",
        ),
        (
            lambda: F.nll_loss(Tensor(LOGITS), CLASSES, weight=np.ones((3, 1))),
            ValueError,
            r"nll_loss: weight must hold one number per class, shape \(3,\), got shape \(3, 1\)",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), CLASSES, label_smoothing=1.5),
            ValueError,
            r"cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), CLASSES, label_smoothing=-0.1),
            ValueError,
            r"label_smoothing must be between 0.0 and 1.0, got -0.1",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), CLASSES, label_smoothing=NAN),
            ValueError,
            r"label_smoothing must be between 0.0 and 1.0, got nan",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), CLASSES, ignore_index=1.5),
            TypeError,
            r"cross_entropy: ignore_index must be an integer, got 1.5",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), np.eye(3)[CLASSES], ignore_index=1),
            ValueError,
            r"cross_entropy: ignore_index=1 is not supported with class-probability targets",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), [0, 1, 5, -100]),
            ValueError,
            r"target class 5 is out of range for 3 classes \(valid: 0 to 2, or ignore_index=-100\)",
        ),
        (
            lambda: F.nll_loss(Tensor(LOGITS), [0, 1, -100, 2], ignore_index=1),
            ValueError,
            r"nll_loss: target class -100 is out of range",
        ),
        (
            lambda: F.cross_entropy(Tensor(LOGITS), CLASSES, "sum"),
            TypeError,
            r"cross_entropy: weight must be numbers, got the string 'sum' \(pass reduction= by keyword\)",
        ),
        (
            lambda: F.binary_cross_entropy(Tensor([0.5, 0.5]), [1.0, 0.0], weight=[1.0, 2.0, 3.0]),
            ValueError,
            r"binary_cross_entropy: weight has shape \(3,\), which does not broadcast to the input's shape \(2,\)",
        ),
        (
            lambda: F.binary_cross_entropy(Tensor([0.5]), [1.0], weight=np.ones((2, 1))),
            ValueError,
            r"weight has shape \(2, 1\), which does not broadcast to the input's shape \(1,\)",
        ),
        (
            lambda: F.binary_cross_entropy_with_logits(Tensor(np.zeros((2, 2))), np.eye(2), pos_weight=[1.0, 2.0, 3.0]),
            ValueError,
            r"binary_cross_entropy_with_logits: pos_weight has shape \(3,\), which does not broadcast",
        ),
        (
            lambda: F.binary_cross_entropy_with_logits(Tensor([0.0]), [1.0], weight=["a"]),
            TypeError,
            r"binary_cross_entropy_with_logits: weight must be numeric",
        ),
        (
            lambda: tg.nn.CrossEntropyLoss(label_smoothing=2.0),
            ValueError,
            r"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got 2.0",
        ),
        (
            lambda: tg.nn.NLLLoss(weight=np.ones((2, 2))),
            ValueError,
            r"NLLLoss: weight must be 1-D, one number per class, got shape \(2, 2\)",
        ),
        (
            lambda: tg.nn.BCEWithLogitsLoss(pos_weight="x"),
            TypeError,
            r"BCEWithLogitsLoss: pos_weight must be numbers, got the string 'x'$",
        ),
        (
            lambda: tg.nn.NLLLoss("sum"),
            TypeError,
            r"NLLLoss: weight must be numbers, got the string 'sum' \(pass reduction= by keyword\)",
        ),
        (
            lambda: tg.nn.CrossEntropyLoss(ignore_index=None),
            TypeError,
            r"CrossEntropyLoss: ignore_index must be an integer, got None",
        ),
    ],
)
def test_a_bad_option_is_named_with_what_was_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- under jit


class Classifier(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = tg.nn.Embedding(6, 3, padding_idx=0, rng=0)
        self.rnn = tg.nn.GRU(3, 4, batch_first=True, rng=1)
        self.head = tg.nn.Linear(4, 3, rng=2)
        self.flag = tg.nn.Linear(4, 2, rng=3)

    def forward(self, ids):
        out, _ = self.rnn(self.embed(ids))
        return self.head(out[:, -1]), self.flag(out[:, -1])


BATCHES = [
    (
        np.array([[1, 2, 0], [3, 0, 0], [4, 5, 1], [2, 2, 0]]),
        np.array([0, 2, -100, 1]),
        np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
    ),
    (
        np.array([[5, 4, 3], [0, 0, 0], [1, 0, 2], [3, 3, 3]]),
        np.array([2, -100, 2, 0]),
        np.array([[0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]),
    ),
]


def train(compiled: bool):
    model = Classifier()
    optimizer = tg.optim.SGD(model, lr=0.5)
    classes = tg.nn.CrossEntropyLoss(weight=WEIGHT, label_smoothing=0.2)
    flags = tg.nn.BCEWithLogitsLoss(weight=np.array([1.0, 0.5]), pos_weight=np.array([2.0, 3.0]))

    def step(ids, labels, targets):
        logits, flag_logits = model(ids)
        probabilities = flag_logits.sigmoid()
        loss = (
            classes(logits, labels)
            + flags(flag_logits, targets)
            + F.nll_loss(logits.log_softmax(axis=-1), labels, weight=WEIGHT, reduction="sum")
            + F.binary_cross_entropy(probabilities, targets, weight=np.array([2.0, 1.0]))
        )
        loss.backward()
        return loss

    runner = jit(step) if compiled else step
    losses, grads = [], []
    for ids, labels, targets in BATCHES:
        optimizer.zero_grad()
        losses.append(runner(ids, labels, targets).item())
        grads.append({name: p.grad.copy() for name, p in model.named_parameters()})
        optimizer.step()
    return losses, grads, runner


def test_a_jit_compiled_training_step_with_the_options_matches_eager():
    eager_losses, eager_grads, _ = train(compiled=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        losses, grads, compiled = train(compiled=True)
    assert compiled.traces == 1 and compiled.fallback_reason is None
    np.testing.assert_allclose(losses, eager_losses, rtol=1e-12)
    for ours, theirs in zip(grads, eager_grads):
        for name in theirs:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-10, atol=1e-14, err_msg=name)


def test_a_compiled_step_reads_a_loss_modules_weight_afresh_on_every_call():
    head = tg.nn.Linear(3, 3, rng=0)
    loss_of = tg.nn.CrossEntropyLoss(weight=WEIGHT, ignore_index=1)

    def step(x, labels):
        loss = loss_of(head(Tensor(x)), labels)
        loss.backward()
        return loss

    compiled = jit(step)
    for weight in ([1.0, 2.0, 0.5], [3.0, 0.1, 1.0], [0.0, 1.0, 0.0]):
        loss_of.weight.data[:] = weight
        head.zero_grad()
        got = quietly(lambda: compiled(LOGITS, CLASSES).item())
        grad = head.weight.grad.copy()
        head.zero_grad()
        expected = quietly(lambda: step(LOGITS, CLASSES).item())
        np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(grad, head.weight.grad, rtol=1e-12, equal_nan=True)
    assert compiled.traces == 1 and compiled.fallback_reason is None
