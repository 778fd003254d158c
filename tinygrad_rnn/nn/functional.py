"""Activations and losses as plain functions, named and shaped as in torch.nn.functional.

Every loss is composed from Tensor ops, so its gradient comes from backward(); each
docstring states the loss and that gradient. `reduction` is "mean" (the average of the
unreduced losses: per element, or per row for the class losses), "sum" or "none" (the
unreduced losses themselves).

A float target is converted to the prediction's dtype and must have the prediction's
shape exactly: a (N, 1) prediction against a (N,) target is an error, never a silent
(N, N) broadcast. Class targets are integers (whole-valued floats are accepted).
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops, tensors
from ..tensors import Tensor, stack

REDUCTIONS = ("mean", "sum", "none")


def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# ---------------------------------------------------------------- layers


def linear(input, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight^T + bias, one op;  d/dinput = g @ weight, d/dweight = g^T @ input, d/dbias = sum of g."""
    return tensors.linear(_as_tensor(input), _as_tensor(weight), None if bias is None else _as_tensor(bias))


# ---------------------------------------------------------------- activations


def tanh(input) -> Tensor:
    """tanh(x);  derivative 1 - tanh(x)**2."""
    return _as_tensor(input).tanh()


def relu(input) -> Tensor:
    """max(x, 0);  derivative 1 where x > 0, else 0."""
    return _as_tensor(input).relu()


def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x));  derivative s (1 - s)."""
    return _as_tensor(input).sigmoid()


def softmax(input, dim: int = -1) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along `dim` (max-subtracted, so it never overflows)."""
    return _as_tensor(input).softmax(axis=dim)


def log_softmax(input, dim: int = -1) -> Tensor:
    """x_i - logsumexp(x) along `dim`, computed in one stable step."""
    return _as_tensor(input).log_softmax(axis=dim)


# ---------------------------------------------------------------- shared checks


def check_reduction(reduction: str, loss: str) -> None:
    """Raise ValueError naming `loss` unless `reduction` is "mean", "sum" or "none"."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{loss}: unknown reduction {reduction!r}; choose one of {', '.join(REDUCTIONS)}")


def _reduce(per_example: Tensor, reduction: str) -> Tensor:
    """mean(l), sum(l) or l itself."""
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    return per_example


def _target_array(target) -> np.ndarray:
    return np.asarray(target.data if isinstance(target, Tensor) else target)


def _float_target(target, input: Tensor, loss: str) -> Tensor:
    """`target` as a Tensor of the input's dtype and exactly the input's shape.

    A target Tensor that requires grad is used as it is, so its gradient flows.
    """
    if isinstance(target, Tensor) and (target.requires_grad or target.dtype == input.dtype):
        converted = target
    else:
        try:
            converted = Tensor._from_op(np.asarray(_target_array(target), dtype=input.dtype), None)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{loss}: the target must be numeric ({error})") from None
    if converted.shape != input.shape:
        raise ValueError(
            f"{loss}: input has shape {input.shape} but target has shape {converted.shape}; "
            "they must be the same (a target is never broadcast)"
        )
    return converted


def _check_class_axis(input: Tensor, loss: str) -> None:
    if input.ndim not in (1, 2):
        raise ValueError(
            f"{loss}: input has shape {input.shape}; expected (N, C) or (C,) with the classes on the "
            "last axis (reshape a (B, T, C) sequence output to (B*T, C))"
        )


def _class_targets(target, input: Tensor, loss: str, probabilities_allowed: bool, ignore_index: int) -> np.ndarray:
    """Class indices of shape input.shape[:-1], each in [0, C) or equal to ignore_index, as an
    int64 array."""
    classes = _target_array(target)
    expected = input.shape[:-1]
    if classes.shape != expected:
        also = f" or {input.shape} (class probabilities)" if probabilities_allowed else ""
        raise ValueError(
            f"{loss}: input has shape {input.shape}, so the target must have shape {expected} "
            f"(class indices){also}; got {classes.shape}"
        )
    if classes.dtype.kind == "f":
        not_whole = ~np.isfinite(classes) | (classes != np.round(classes))
        if not_whole.any():
            raise ValueError(f"{loss}: class targets must be whole numbers, got {classes[not_whole].flat[0]}")
    elif classes.dtype.kind not in "iu":
        raise TypeError(f"{loss}: class targets must be integers, got dtype {classes.dtype}")
    classes = classes.astype(np.int64)
    count = input.shape[-1]
    outside = ((classes < 0) | (classes >= count)) & (classes != ignore_index)
    if outside.any():
        raise ValueError(
            f"{loss}: target class {classes[outside].flat[0]} is out of range for {count} classes "
            f"(valid: 0 to {count - 1}, or ignore_index={ignore_index})"
        )
    return classes


def _negative_picked(log_probs: Tensor, classes: np.ndarray) -> Tensor:
    """-log_probs[n, classes[n]] for every row n (or -log_probs[classes] for one row)."""
    if log_probs.ndim == 1:
        return -log_probs[int(classes)]
    return -log_probs[np.arange(len(classes)), classes]


# ---------------------------------------------------------------- options


def _option_array(values, dtype, loss: str, option: str) -> np.ndarray:
    """A `weight` or `pos_weight` option as an array of `dtype` (no gradient flows to it): the
    values' own array when it has that dtype already, not a copy."""
    if isinstance(values, str):
        hint = " (pass reduction= by keyword)" if values in REDUCTIONS else ""
        raise TypeError(f"{loss}: {option} must be numbers, got the string {values!r}{hint}")
    try:
        return np.asarray(_target_array(values), dtype=dtype)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{loss}: {option} must be numeric ({error})") from None


def _elementwise_weight(values, input: Tensor, loss: str, option: str) -> Tensor:
    """A `weight` or `pos_weight` option of the binary losses as a constant Tensor whose shape
    broadcasts to the input's shape without growing it."""
    array = _option_array(values, input.dtype, loss, option)
    try:
        fits = np.broadcast_shapes(array.shape, input.shape) == input.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{loss}: {option} has shape {array.shape}, which does not broadcast to the input's shape {input.shape}"
        )
    return Tensor._from_op(array, None)


def _class_weight(weight, input: Tensor, loss: str) -> np.ndarray | None:
    """The per-class `weight` option of the class losses: None, or one weight per class (shape (C,))."""
    if weight is None:
        return None
    array = _option_array(weight, input.dtype, loss, "weight")
    classes = input.shape[-1]
    if array.shape != (classes,):
        raise ValueError(f"{loss}: weight must hold one number per class, shape ({classes},), got shape {array.shape}")
    return array


def check_label_smoothing(label_smoothing: float, loss: str) -> None:
    """Raise ValueError naming `loss` unless 0 <= label_smoothing <= 1."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{loss}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")


def check_ignore_index(ignore_index: int, loss: str) -> None:
    """Raise TypeError naming `loss` unless `ignore_index` is an integer."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{loss}: ignore_index must be an integer, got {ignore_index!r}")


# ---------------------------------------------------------------- losses


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """l_i = (x_i - y_i)**2;  dl_i/dx_i = 2 (x_i - y_i), divided by the element count for "mean"."""
    check_reduction(reduction, "mse_loss")
    input = _as_tensor(input)
    difference = input - _float_target(target, input, "mse_loss")
    return _reduce(difference * difference, reduction)


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """l_i = -w_i (y_i log p_i + (1 - y_i) log(1 - p_i)) for probabilities p in [0, 1], with
    w the optional `weight` (broadcast to p's shape; "mean" still divides by the element count);
    dl_i/dp_i = w_i (p_i - y_i) / max(p_i (1 - p_i), 1e-12), as PyTorch's backward computes it
    (its 1e-12 is a float32 number).

    As in PyTorch, each log is clamped below at -100 in every dtype, so p = 0 or 1 gives the
    finite loss 100; the gradient is the formula above, finite there too (one op,
    ops.BinaryCrossEntropy). The op runs in float64, where exp(-100) is a normal number, and
    its loss is converted back to p's dtype.
    Prefer binary_cross_entropy_with_logits on raw scores: it needs no clamp.
    """
    check_reduction(reduction, "binary_cross_entropy")
    p = _as_tensor(input)
    y = _float_target(target, p, "binary_cross_entropy")
    outside = ~((p.data >= 0) & (p.data <= 1))  # NaN is outside too, as in PyTorch
    if outside.any():
        raise ValueError(
            f"binary_cross_entropy: the input must be probabilities in [0, 1], got {p.data[outside].flat[0]} "
            "(for raw scores use binary_cross_entropy_with_logits)"
        )
    scale = None if weight is None else _elementwise_weight(weight, p, "binary_cross_entropy", "weight")
    losses = tensors.apply(ops.BinaryCrossEntropy, p.double(), y.double(), floor=math.exp(-100.0)).to(p.dtype)
    return _reduce(losses if scale is None else losses * scale, reduction)


def _log_sigmoid(x: Tensor) -> Tensor:
    """log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), the log as logsumexp([0, -|x|]) (its
    maximum is 0, so it is exact and quiet even at |x| = inf); the derivative sigmoid(-x) comes
    out 1 at -inf, 0 at +inf and 1/2 at 0 (min's tie, |x|'s zero slope there)."""
    zeros = Tensor._from_op(np.zeros_like(x.data), None)
    return x.minimum(0.0) - stack([zeros, -x.abs()], axis=0).logsumexp(axis=0)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean", pos_weight=None) -> Tensor:
    """binary_cross_entropy(sigmoid(x), y) without forming sigmoid(x), PyTorch's formula:

    l_i = w_i ((1 - y_i) x_i - (1 + (q_i - 1) y_i) log sigmoid(x_i)),
    with w the optional `weight` and q the optional `pos_weight` on the positive term (each
    broadcast to x's shape, e.g. one pos_weight per class of (N, C) scores);
    dl_i/dx_i = w_i ((1 + (q_i - 1) y_i) sigmoid(x_i) - q_i y_i), which is
    w_i (sigmoid(x_i) - y_i) without pos_weight;  dl_i/dy_i = -w_i (x_i + (q_i - 1) log sigmoid(x_i)).
    log sigmoid is exact and warning-free at |x| = 1000, and the gradient is the formula's at
    x = +-inf too; the loss is inf at x = inf, y = 0, and NaN where PyTorch's is (0 * inf).
    """
    name = "binary_cross_entropy_with_logits"
    check_reduction(reduction, name)
    x = _as_tensor(input)
    y = _float_target(target, x, name)
    log_sigmoid = _log_sigmoid(x)
    if pos_weight is not None:
        log_sigmoid = (1.0 + (_elementwise_weight(pos_weight, x, name, "pos_weight") - 1.0) * y) * log_sigmoid
    scale = None if weight is None else _elementwise_weight(weight, x, name, "weight")
    with np.errstate(invalid="ignore"):  # 0 * inf is NaN, as in PyTorch
        losses = (1.0 - y) * x - log_sigmoid
    return _reduce(losses if scale is None else losses * scale, reduction)


def _class_losses(
    log_probs: Tensor, target, weight, ignore_index: int, label_smoothing: float, reduction: str, loss: str
) -> Tensor:
    """The class-index losses of nll_loss and cross_entropy from log-probabilities (N, C) or (C,).

    With w the class weights (1 without `weight`), k_n the target of row n and kept_n False
    where k_n = ignore_index:
    nll_n = -w[k_n] log_probs[n, k_n],  smooth_n = -sum_c w_c log_probs[n, c]   (0 where not kept),
    l_n = (1 - eps) nll_n + (eps / C) smooth_n  with eps = label_smoothing;
    "mean" divides sum_n l_n by sum_n w[k_n] over the kept rows (NaN when none is kept).
    Without weight and smoothing, with every row kept, that is l_n = -log_probs[n, k_n] and
    "mean" their plain average (NaN for N = 0), composed directly as those ops.
    """
    classes = _class_targets(target, log_probs, loss, loss == "cross_entropy", ignore_index)
    class_weight = _class_weight(weight, log_probs, loss)
    kept = classes != ignore_index
    if class_weight is None and not label_smoothing and kept.all():
        return _reduce(_negative_picked(log_probs, classes), reduction)
    picked = np.where(kept, classes, 0)
    losses = _negative_picked(log_probs, picked)
    if class_weight is None:
        row_weights = kept.astype(log_probs.dtype)
    else:
        picked_weights = class_weight[picked]
        row_weights = np.where(kept, picked_weights, 0)
        losses = losses * picked_weights
    losses = losses.where(kept, 0.0)
    if label_smoothing:
        weighted = log_probs if class_weight is None else log_probs * class_weight
        smooth = (-weighted.sum(axis=-1)).where(kept, 0.0)
        losses = (1.0 - label_smoothing) * losses + (label_smoothing / log_probs.shape[-1]) * smooth
    if reduction == "mean":
        total = np.asarray(row_weights.sum(), dtype=log_probs.dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # nothing kept: 0 / 0 is NaN, as in PyTorch
            return losses.sum() / Tensor._from_op(total, None)
    return _reduce(losses, reduction)


def nll_loss(input, target, weight=None, *, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of the target classes k, given log-probabilities (N, C) or (C,):

    l_n = -w[k_n] input[n, k_n], 0 where k_n = ignore_index;  dl_n/dinput[n, c] = -w[k_n] where
    c = k_n, else 0. w is the optional per-class `weight` (1 without it); "mean" divides the
    sum by the summed w[k_n] of the rows not ignored.
    """
    check_reduction(reduction, "nll_loss")
    check_ignore_index(ignore_index, "nll_loss")
    log_probs = _as_tensor(input)
    _check_class_axis(log_probs, "nll_loss")
    return _class_losses(log_probs, target, weight, ignore_index, 0.0, reduction, "nll_loss")


def cross_entropy(
    input,
    target,
    weight=None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy from logits z (N, C) or (C,), classes on the last axis:

    l_n = -sum_c w_c y_nc log_softmax(z_n)_c;  dl_n/dz_n = softmax(z_n) sum_c w_c y_nc - w * y_n
    (= softmax(z_n) - y_n when the row of y sums to 1 and there is no weight).
    The target is either class indices k, shape (N,) (a scalar for (C,) logits), standing for
    rows y = (1 - eps) onehot(k_n) + eps / C (eps = label_smoothing), each row's loss 0 where
    k_n = ignore_index, and "mean" dividing by the summed w[k_n] of the rows not ignored (see
    nll_loss); or probability rows of the logits' own shape, smoothed to (1 - eps) y + eps / C,
    where "mean" divides by N and ignore_index must stay negative, as in PyTorch.
    w is the optional per-class `weight` (1 without it).
    """
    check_reduction(reduction, "cross_entropy")
    check_ignore_index(ignore_index, "cross_entropy")
    check_label_smoothing(label_smoothing, "cross_entropy")
    logits = _as_tensor(input)
    _check_class_axis(logits, "cross_entropy")
    log_probs = logits.log_softmax(axis=-1)
    if _target_array(target).shape != logits.shape:
        return _class_losses(log_probs, target, weight, ignore_index, label_smoothing, reduction, "cross_entropy")
    if ignore_index >= 0:
        raise ValueError(
            f"cross_entropy: ignore_index={ignore_index} is not supported with class-probability targets "
            f"(target shape {logits.shape}); leave it at its default -100"
        )
    probabilities = _float_target(target, logits, "cross_entropy")
    if label_smoothing:
        probabilities = (1.0 - label_smoothing) * probabilities + label_smoothing / logits.shape[-1]
    class_weight = _class_weight(weight, logits, "cross_entropy")
    if class_weight is not None:
        probabilities = probabilities * class_weight
    return _reduce(-(probabilities * log_probs).sum(axis=-1), reduction)
