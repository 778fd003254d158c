"""Losses and functional activations: values against NumPy formulas, gradients against finite
differences, stability at |x| = 1000, and errors that name the loss, the shapes and the bad value."""

import warnings

import numpy as np
import pytest

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss

REDUCE = {"mean": np.mean, "sum": np.sum, "none": lambda per_example: per_example}


def numpy_log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


@pytest.fixture
def rng():
    return np.random.default_rng(7)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_mse_loss_matches_the_formula(rng, reduction):
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    out = F.mse_loss(Tensor(x), y, reduction=reduction)
    np.testing.assert_allclose(out.numpy(), REDUCE[reduction]((x - y) ** 2), rtol=1e-14)


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_binary_cross_entropy_matches_the_formula(rng, reduction):
    p, y = rng.uniform(0.05, 0.95, (5, 2)), rng.uniform(0, 1, (5, 2))
    out = F.binary_cross_entropy(Tensor(p), y, reduction=reduction)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(out.numpy(), REDUCE[reduction](expected), rtol=1e-13)


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_binary_cross_entropy_with_logits_equals_bce_of_the_sigmoid(rng, reduction):
    x, y = 3 * rng.standard_normal(6), rng.integers(0, 2, 6).astype(float)
    p = 1 / (1 + np.exp(-x))
    out = F.binary_cross_entropy_with_logits(Tensor(x), y, reduction=reduction)
    expected = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(out.numpy(), REDUCE[reduction](expected), rtol=1e-12)


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_cross_entropy_with_class_indices_matches_the_formula(rng, reduction):
    z, k = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    out = F.cross_entropy(Tensor(z), k, reduction=reduction)
    expected = -numpy_log_softmax(z)[np.arange(5), k]
    np.testing.assert_allclose(out.numpy(), REDUCE[reduction](expected), rtol=1e-13)


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_cross_entropy_with_probabilities_matches_the_formula(rng, reduction):
    z = rng.standard_normal((3, 4))
    y = rng.uniform(size=(3, 4))
    y /= y.sum(axis=1, keepdims=True)
    out = F.cross_entropy(Tensor(z), y, reduction=reduction)
    expected = -(y * numpy_log_softmax(z)).sum(axis=1)
    np.testing.assert_allclose(out.numpy(), REDUCE[reduction](expected), rtol=1e-13)


def test_cross_entropy_one_hot_rows_equal_class_indices(rng):
    z, k = rng.standard_normal((4, 3)), [2, 0, 1, 2]
    one_hot = np.eye(3)[k]
    assert F.cross_entropy(Tensor(z), one_hot).item() == pytest.approx(F.cross_entropy(Tensor(z), k).item(), rel=1e-14)


def test_cross_entropy_of_one_row_takes_a_scalar_class(rng):
    z = rng.standard_normal(5)
    expected = -numpy_log_softmax(z)[3]
    assert F.cross_entropy(Tensor(z), 3).item() == pytest.approx(expected, rel=1e-14)
    assert F.cross_entropy(Tensor(z), np.eye(5)[3]).item() == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("reduction", list(REDUCE))
def test_nll_loss_picks_the_target_log_probability(rng, reduction):
    log_probs = numpy_log_softmax(rng.standard_normal((4, 3)))
    k = np.array([1, 0, 2, 1])
    out = F.nll_loss(Tensor(log_probs), k, reduction=reduction)
    np.testing.assert_allclose(out.numpy(), REDUCE[reduction](-log_probs[np.arange(4), k]), rtol=1e-14)


def test_cross_entropy_is_nll_of_log_softmax(rng):
    z, k = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    direct = F.cross_entropy(Tensor(z), k, reduction="none")
    composed = F.nll_loss(F.log_softmax(Tensor(z), dim=1), k, reduction="none")
    np.testing.assert_allclose(direct.numpy(), composed.numpy(), rtol=1e-14)


def test_activations_match_numpy(rng):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(F.tanh(Tensor(x)).numpy(), np.tanh(x), rtol=1e-14)
    np.testing.assert_allclose(F.relu(Tensor(x)).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(F.sigmoid(Tensor(x)).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-14)
    e = np.exp(x)
    np.testing.assert_allclose(F.softmax(Tensor(x), dim=0).numpy(), e / e.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(F.log_softmax(Tensor(x)).numpy(), numpy_log_softmax(x), rtol=1e-14)


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize("as_given", [np.asarray, lambda y: y.tolist(), Tensor], ids=["array", "list", "Tensor"])
def test_targets_may_be_arrays_lists_or_tensors(rng, as_given):
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    assert F.mse_loss(Tensor(x), as_given(y)).item() == pytest.approx(np.mean((x - y) ** 2), rel=1e-14)


def test_a_python_scalar_target_matches_a_zero_dimensional_prediction():
    assert F.mse_loss(Tensor(3.0), 1.0).item() == 4.0


def test_float_class_indices_are_accepted_when_whole(rng):
    z = rng.standard_normal((3, 4))
    expected = F.cross_entropy(Tensor(z), [1, 3, 0]).item()
    assert F.cross_entropy(Tensor(z), Tensor([1.0, 3.0, 0.0])).item() == expected


def test_targets_take_the_predictions_dtype(rng):
    x = Tensor(rng.standard_normal(3), dtype=np.float32, requires_grad=True)
    loss = F.mse_loss(x, np.zeros(3, dtype=np.float64))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_a_target_that_requires_grad_receives_its_gradient(rng):
    x, y = Tensor(rng.standard_normal(3), requires_grad=True), Tensor(rng.standard_normal(3), requires_grad=True)
    F.mse_loss(x, y, reduction="sum").backward()
    np.testing.assert_allclose(y.grad, -x.grad)


# ---------------------------------------------------------------- gradients

LOSSES_FOR_GRADCHECK = {
    "mse_loss": (F.mse_loss, lambda r: (r.standard_normal((3, 2)), r.standard_normal((3, 2)))),
    "binary_cross_entropy": (F.binary_cross_entropy, lambda r: (r.uniform(0.1, 0.9, (3, 2)), r.uniform(0, 1, (3, 2)))),
    "binary_cross_entropy_with_logits": (
        F.binary_cross_entropy_with_logits,
        lambda r: (2 * r.standard_normal((3, 2)), r.uniform(0, 1, (3, 2))),
    ),
    "cross_entropy indices": (F.cross_entropy, lambda r: (r.standard_normal((4, 3)), np.array([2, 0, 1, 2]))),
    "cross_entropy probabilities": (
        F.cross_entropy,
        lambda r: (r.standard_normal((2, 3)), np.array([[0.2, 0.5, 0.3], [1.0, 0.0, 0.0]])),
    ),
    "cross_entropy one row": (F.cross_entropy, lambda r: (r.standard_normal(4), 1)),
    "nll_loss": (F.nll_loss, lambda r: (r.standard_normal((4, 3)), np.array([0, 0, 2, 1]))),
}


@pytest.mark.parametrize("reduction", list(REDUCE))
@pytest.mark.parametrize("name", list(LOSSES_FOR_GRADCHECK))
def test_every_loss_passes_gradcheck(rng, name, reduction):
    loss, make = LOSSES_FOR_GRADCHECK[name]
    x, target = make(rng)
    gradcheck(lambda t: loss(t, target, reduction=reduction), [Tensor(x, requires_grad=True)])


def test_the_stated_gradients_hold(rng):
    z, y = rng.standard_normal((3, 4)), np.eye(4)[[0, 3, 1]]
    logits = Tensor(z, requires_grad=True)
    F.cross_entropy(logits, y, reduction="sum").backward()
    softmax = np.exp(numpy_log_softmax(z))
    np.testing.assert_allclose(logits.grad, softmax - y, rtol=1e-12, atol=1e-15)

    x, t = 4 * rng.standard_normal(5), rng.uniform(size=5)
    scores = Tensor(x, requires_grad=True)
    F.binary_cross_entropy_with_logits(scores, t, reduction="sum").backward()
    np.testing.assert_allclose(scores.grad, 1 / (1 + np.exp(-x)) - t, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- stability

BIG_LOGITS = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0]])


def run_with_every_fp_error_raised(loss_of):
    """loss_of(x) and its backward with NumPy errors raised and warnings as errors; returns (loss, grad)."""
    x = Tensor(BIG_LOGITS.copy(), requires_grad=True)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = loss_of(x)
        loss.backward()
    assert np.all(np.isfinite(x.grad))
    return loss.item(), x.grad


def test_bce_with_logits_is_exact_at_1000():
    targets = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    loss, grad = run_with_every_fp_error_raised(
        lambda x: F.binary_cross_entropy_with_logits(x, targets, reduction="sum")
    )
    # three confident mistakes cost 1000 each, the logit 0 costs log 2, the two confident hits 0
    assert loss == pytest.approx(3000.0 + np.log(2.0), rel=1e-15)
    np.testing.assert_array_equal(grad, [[1.0, -1.0, -0.5], [-1.0, 0.0, 0.0]])


def test_cross_entropy_is_exact_at_1000():
    loss, grad = run_with_every_fp_error_raised(lambda x: F.cross_entropy(x, [1, 2], reduction="sum"))
    assert loss == 2000.0
    np.testing.assert_array_equal(grad, [[1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    loss, _ = run_with_every_fp_error_raised(lambda x: F.cross_entropy(x, np.eye(3)[[1, 2]], reduction="sum"))
    assert loss == 2000.0


def test_bce_on_saturated_probabilities_is_clamped_like_pytorch():
    targets = np.array([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])
    loss, _ = run_with_every_fp_error_raised(lambda x: F.binary_cross_entropy(x.sigmoid(), targets, reduction="sum"))
    assert loss == pytest.approx(200.0 + np.log(2.0), rel=1e-14)  # two logs clamped at -100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_clamps_each_log_at_minus_100_in_every_dtype(dtype):
    """PyTorch's values in both dtypes: loss 100 at p = 0, y = 1 and at p = 1, y = 0; gradient -+1e12."""
    p = Tensor(np.array([0.0, 1.0]), dtype=dtype, requires_grad=True)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy(p, [1.0, 0.0], reduction="none")
        loss.sum().backward()
    assert loss.dtype == dtype and p.grad.dtype == dtype
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0])
    eps = dtype(np.float32(1e-12))  # PyTorch's floor on p (1 - p) in the backward, a float32 number
    np.testing.assert_array_equal(p.grad, [-1 / eps, 1 / eps])


def test_mse_and_nll_stay_finite_at_1000():
    run_with_every_fp_error_raised(lambda x: F.mse_loss(x, -BIG_LOGITS))
    run_with_every_fp_error_raised(lambda x: F.nll_loss(x.log_softmax(), [0, 1]))


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_a_shape_mismatch_is_an_error_not_a_broadcast(loss):
    prediction = Tensor(np.full((4, 1), 0.5))
    with pytest.raises(ValueError, match=rf"{loss.__name__}: input has shape \(4, 1\) but target has shape \(4,\)"):
        loss(prediction, np.zeros(4))


def test_cross_entropy_names_both_target_shapes_it_accepts():
    with pytest.raises(ValueError, match=r"cross_entropy: .*\(4,\) \(class indices\) or \(4, 3\).*got \(3,\)"):
        F.cross_entropy(Tensor(np.zeros((4, 3))), [0, 1, 2])
    with pytest.raises(ValueError, match=r"nll_loss: .*must have shape \(4,\) \(class indices\); got \(4, 3\)"):
        F.nll_loss(Tensor(np.zeros((4, 3))), np.zeros((4, 3), dtype=int))


@pytest.mark.parametrize("bad", [3, -1])
def test_an_out_of_range_class_names_the_value_and_the_class_count(bad):
    with pytest.raises(ValueError, match=rf"cross_entropy: target class {bad} is out of range for 3 classes"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), [0, bad])
    with pytest.raises(ValueError, match=rf"nll_loss: target class {bad} is out of range for 3 classes"):
        F.nll_loss(Tensor(np.zeros(3)), bad)


def test_class_targets_must_be_whole_numbers():
    with pytest.raises(ValueError, match=r"cross_entropy: class targets must be whole numbers, got 0.5"):
        F.cross_entropy(Tensor(np.zeros((2, 3))), [1.0, 0.5])


def test_class_axis_must_be_last_of_a_1d_or_2d_input():
    with pytest.raises(ValueError, match=r"cross_entropy: input has shape \(2, 5, 3\).*\(B\*T, C\)"):
        F.cross_entropy(Tensor(np.zeros((2, 5, 3))), np.zeros((2, 5), dtype=int))


def test_bce_rejects_values_that_are_not_probabilities():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*probabilities in \[0, 1\], got 1.5"):
        F.binary_cross_entropy(Tensor([0.2, 1.5]), [0.0, 1.0])


def test_a_non_numeric_target_is_a_type_error():
    with pytest.raises(TypeError, match="mse_loss: the target must be numeric"):
        F.mse_loss(Tensor([1.0, 2.0]), ["a", "b"])


@pytest.mark.parametrize(
    "loss", [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.cross_entropy, F.nll_loss]
)
def test_an_unknown_reduction_is_named(loss):
    with pytest.raises(ValueError, match=rf"{loss.__name__}: unknown reduction 'avg'"):
        loss(Tensor([0.5]), [0], reduction="avg")


def test_loss_modules_check_their_reduction_when_built():
    with pytest.raises(ValueError, match="MSELoss: unknown reduction 'total'"):
        MSELoss(reduction="total")


# ---------------------------------------------------------------- modules

MODULES = [
    (MSELoss, F.mse_loss, lambda r: (r.standard_normal(4), r.standard_normal(4))),
    (BCELoss, F.binary_cross_entropy, lambda r: (r.uniform(0.1, 0.9, 4), r.uniform(0, 1, 4))),
    (BCEWithLogitsLoss, F.binary_cross_entropy_with_logits, lambda r: (r.standard_normal(4), r.uniform(0, 1, 4))),
    (CrossEntropyLoss, F.cross_entropy, lambda r: (r.standard_normal((2, 3)), [2, 0])),
    (NLLLoss, F.nll_loss, lambda r: (r.standard_normal((2, 3)), [1, 1])),
]


@pytest.mark.parametrize("reduction", list(REDUCE))
@pytest.mark.parametrize("module_class, function, make", MODULES, ids=[m[0].__name__ for m in MODULES])
def test_loss_modules_call_their_function(rng, module_class, function, make, reduction):
    x, target = make(rng)
    module = module_class(reduction=reduction)
    np.testing.assert_array_equal(
        module(Tensor(x), target).numpy(), function(Tensor(x), target, reduction=reduction).numpy()
    )
    assert repr(module) == f"{module_class.__name__}(reduction={reduction!r})"
    assert list(module.parameters()) == []


# ---------------------------------------------------------------- PyTorch parity

TORCH_CASES = {
    "mse_loss": (lambda r: (r.standard_normal((3, 2)), r.standard_normal((3, 2))), "mse_loss"),
    "binary_cross_entropy": (
        lambda r: (np.array([[0.0, 0.3], [1.0, 0.9]]), np.array([[1.0, 0.0], [0.0, 0.5]])),
        "binary_cross_entropy",
    ),
    "binary_cross_entropy_with_logits": (
        lambda r: (np.array([[1000.0, -3.0], [-1000.0, 0.2]]), np.array([[0.0, 1.0], [1.0, 0.3]])),
        "binary_cross_entropy_with_logits",
    ),
    "cross_entropy indices": (lambda r: (r.standard_normal((4, 3)), np.array([2, 0, 1, 1])), "cross_entropy"),
    "cross_entropy probabilities": (
        lambda r: (r.standard_normal((2, 3)), np.array([[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]])),
        "cross_entropy",
    ),
    "cross_entropy one row": (lambda r: (r.standard_normal(3), np.array(2)), "cross_entropy"),
    "nll_loss": (lambda r: (r.standard_normal((4, 3)), np.array([0, 2, 2, 1])), "nll_loss"),
}


@pytest.mark.parametrize("reduction", list(REDUCE))
@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_values_and_gradients_match_pytorch(rng, name, reduction):
    torch = pytest.importorskip("torch")
    make, function_name = TORCH_CASES[name]
    x, target = make(rng)
    ours = Tensor(x, requires_grad=True)
    loss = getattr(F, function_name)(ours, target, reduction=reduction)
    theirs = torch.tensor(x, requires_grad=True)
    their_target = torch.tensor(target)
    their_loss = getattr(torch.nn.functional, function_name)(theirs, their_target, reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), their_loss.detach().numpy(), rtol=1e-12)
    seed = np.arange(1.0, loss.numel() + 1.0).reshape(loss.shape)  # weights every element differently
    loss.backward(seed)
    their_loss.backward(torch.tensor(seed))
    if name == "binary_cross_entropy":
        # at p = 0 or 1 PyTorch divides by max(p (1 - p), 1e-12); the clipped log here passes 0 there
        interior = (x > 0) & (x < 1)
        np.testing.assert_allclose(ours.grad[interior], theirs.grad.numpy()[interior], rtol=1e-12)
    else:
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-15)
