"""PyTorch as the oracle on the inputs a PyTorch user writes without thinking: ties, NaN and
inf, 0-d and size-0 tensors, dim=() and negative dims, loss options, optimizer options,
argument names, error types, and models moved to torch and back after training."""

import itertools
import math
import warnings

import numpy as np
import pytest
from torch_checks import assert_same

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
TF = torch.nn.functional

NAN, INF = math.nan, math.inf


def ours_and_theirs(values):
    """The same float64 values as a leaf on each side, both requiring grad."""
    values = np.asarray(values, dtype=np.float64)
    return Tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def backward_both(ours, theirs, seed=0):
    """Backpropagate one random cotangent through both outputs."""
    g = np.random.default_rng(seed).standard_normal(theirs.shape)
    ours.backward(g)
    theirs.backward(torch.tensor(g, dtype=theirs.dtype))


# ================================================================ discrepancies (fail now)

# ---------------------------------------------------------------- a number raised to a tensor


def test_a_number_to_an_integer_power_is_exact():
    """torch: 10.0 ** tensor([2., 3.]) is exactly [100., 1000.] (a pow, not exp(x log 10))."""
    ours = 10.0 ** tg.tensor([2.0, 3.0])
    theirs = 10.0 ** torch.tensor([2.0, 3.0], dtype=torch.float64)
    assert ours.data.tolist() == theirs.tolist() == [100.0, 1000.0]


def test_a_number_to_a_power_overflows_to_inf():
    """torch: 2.0 ** tensor(1024.) is inf (tinygrad: the finite 1.797e308)."""
    assert np.isinf((2.0 ** tg.tensor([1024.0])).data[0])
    assert torch.isinf(2.0 ** torch.tensor([1024.0], dtype=torch.float64))[0]


def test_one_to_an_infinite_power_is_one():
    """torch: 1 ** tensor(inf) is 1 with gradient 0 (tinygrad: NaN, NaN, from 0 * inf)."""
    x, xt = ours_and_theirs([INF])
    y, yt = 1.0**x, 1.0**xt
    backward_both(y, yt)
    assert_same(y, yt)
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


@pytest.mark.parametrize("base", [0.0, -2.0])
def test_a_zero_or_negative_base_raised_to_a_tensor(base):
    """torch: 0.0 ** [0, 1, 2] = [1, 0, 0] and (-2.0) ** [0, 1, 2] = [1, -2, 4]; tinygrad raises ValueError."""
    theirs = base ** torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    assert_same(base ** tg.tensor([0.0, 1.0, 2.0]), theirs)


def test_an_int_base_to_an_int_tensor_stays_int():
    """torch: 2 ** tensor([3, 10]) is int64 [8, 1024] (tinygrad: float64)."""
    assert_same(2 ** tg.tensor([3, 10]), 2 ** torch.tensor([3, 10]))


# ---------------------------------------------------------------- reductions over dim=()


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
def test_an_empty_dim_tuple_reduces_every_axis(name):
    """torch: x.sum(()) (and mean, amax, amin) reduces over all dims; tinygrad reduces over none."""
    x, xt = ours_and_theirs(np.arange(6.0).reshape(2, 3))
    y, yt = getattr(x, name)(()), getattr(xt, name)(())
    assert_same(y, yt)


# ---------------------------------------------------------------- error types


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp", "var", "std", "max", "min"])
def test_a_dim_out_of_range_is_an_index_error(name):
    """torch: x.sum(2) on a 2-d tensor raises IndexError (tinygrad: ValueError for these reductions)."""
    with pytest.raises(IndexError):
        getattr(torch.zeros(2, 3), name)(2)
    with pytest.raises(IndexError):
        getattr(tg.zeros(2, 3), name)(2)


# ---------------------------------------------------------------- losses


def test_bce_with_logits_gradient_at_infinite_logits():
    """torch: d/dx of BCEWithLogits is sigmoid(x) - y at x = +-inf too: [0, 1, -1, 0] (tinygrad: NaN, NaN)."""
    x, xt = ours_and_theirs([INF, INF, -INF, -INF])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        F.binary_cross_entropy_with_logits(x, y, reduction="sum").backward()
    TF.binary_cross_entropy_with_logits(xt, torch.tensor(y), reduction="sum").backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_bce_with_logits_loss_at_plus_inf_with_target_zero_is_inf():
    """torch: BCEWithLogits(x=inf, y=0) = inf, the true value (tinygrad: NaN, from x * y = inf * 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = F.binary_cross_entropy_with_logits(Tensor([INF]), [0.0], reduction="none")
    assert_same(
        ours,
        TF.binary_cross_entropy_with_logits(
            torch.tensor([INF], dtype=torch.float64), torch.zeros(1, dtype=torch.float64), reduction="none"
        ),
    )


def test_float32_bce_of_saturated_probabilities_is_clamped_at_100():
    """torch: float32 BCE at p = 0 or 1 is 100 (log clamped at -100 in every dtype); tinygrad gives 87.34."""
    p = np.array([0.0, 1.0], dtype=np.float32)
    y = np.array([1.0, 0.0], dtype=np.float32)
    theirs = TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y), reduction="none")
    np.testing.assert_array_equal(theirs.numpy(), [100.0, 100.0])
    ours = F.binary_cross_entropy(Tensor(p, dtype=np.float32), y, reduction="none")
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


LOGITS = np.array([[1.0, -0.5, 0.3], [0.2, 0.1, -1.0], [-0.3, 0.8, 0.5], [0.0, 0.4, -0.2]])
CLASSES = np.array([0, 2, 1, 2])


@pytest.mark.parametrize(
    "options",
    [
        dict(weight=np.array([1.0, 2.0, 0.5])),
        dict(ignore_index=2),
        dict(label_smoothing=0.1),
        dict(weight=np.array([1.0, 2.0, 0.5]), ignore_index=1, label_smoothing=0.2),
    ],
    ids=["weight", "ignore_index", "label_smoothing", "all three"],
)
def test_cross_entropy_options(options):
    """torch: cross_entropy takes weight=, ignore_index= and label_smoothing= (tinygrad: TypeError)."""
    x, xt = ours_and_theirs(LOGITS)
    torch_options = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    theirs = TF.cross_entropy(xt, torch.tensor(CLASSES), **torch_options)
    ours = F.cross_entropy(x, CLASSES, **options)
    backward_both(ours, theirs)
    assert_same(ours, theirs)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_cross_entropy_ignores_the_default_ignore_index_minus_100():
    """torch: a target of -100 is ignored by default (mean over the other rows); tinygrad raises ValueError."""
    target = np.array([0, -100, 1, 2])
    theirs = TF.cross_entropy(torch.tensor(LOGITS), torch.tensor(target))
    assert_same(F.cross_entropy(Tensor(LOGITS), target), theirs)


@pytest.mark.parametrize("options", [dict(weight=np.array([1.0, 2.0, 0.5])), dict(ignore_index=2)])
def test_nll_loss_options(options):
    """torch: nll_loss takes weight= and ignore_index= (the weighted mean divides by the summed weights)."""
    torch_options = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    theirs = TF.nll_loss(torch.tensor(LOGITS).log_softmax(-1), torch.tensor(CLASSES), **torch_options)
    assert_same(F.nll_loss(Tensor(LOGITS).log_softmax(-1), CLASSES, **options), theirs)


def test_bce_weight_and_bce_with_logits_pos_weight():
    """torch: binary_cross_entropy takes weight=, binary_cross_entropy_with_logits weight= and pos_weight=."""
    x = np.array([[0.3, -1.2], [2.0, 0.1]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    weight, pos_weight = np.array([0.5, 2.0]), np.array([3.0, 0.25])
    theirs = TF.binary_cross_entropy(torch.tensor(x).sigmoid(), torch.tensor(y), weight=torch.tensor(weight))
    assert_same(F.binary_cross_entropy(Tensor(x).sigmoid(), y, weight=weight), theirs)
    theirs = TF.binary_cross_entropy_with_logits(
        torch.tensor(x), torch.tensor(y), weight=torch.tensor(weight), pos_weight=torch.tensor(pos_weight)
    )
    assert_same(F.binary_cross_entropy_with_logits(Tensor(x), y, weight=weight, pos_weight=pos_weight), theirs)


def test_cross_entropy_loss_module_takes_torchs_options():
    """torch: nn.CrossEntropyLoss(weight=None, ignore_index=-100, reduction='mean', label_smoothing=0.0)."""
    theirs = torch.nn.CrossEntropyLoss(ignore_index=2, label_smoothing=0.1)(torch.tensor(LOGITS), torch.tensor(CLASSES))
    assert_same(tg.nn.CrossEntropyLoss(ignore_index=2, label_smoothing=0.1)(Tensor(LOGITS), CLASSES), theirs)


# ---------------------------------------------------------------- optimizers and clipping


def _trajectory(library, make, steps=6):
    """Parameter values after each step, with a gradient that depends on the parameter."""
    start = np.array([0.5, -1.0, 2.0])
    if library == "tg":
        p = tg.nn.Parameter(start.copy())
    else:
        p = torch.tensor(start.copy(), requires_grad=True)
    optimizer = make(tg.optim if library == "tg" else torch.optim, [p])
    values = []
    for _ in range(steps):
        current = p.data if library == "tg" else p.detach().numpy()
        grad = np.sin(3 * current) + 0.3 * current
        p.grad = grad if library == "tg" else torch.tensor(grad)
        optimizer.step()
        values.append(np.array(current, copy=True))
    return np.array(values)


@pytest.mark.parametrize(
    "name, options",
    [
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
        ("Adam", dict(lr=0.1, amsgrad=True)),
        ("AdamW", dict(lr=0.1)),
        ("RMSprop", dict(lr=0.01, momentum=0.5)),
        ("Adagrad", dict(lr=0.1)),
    ],
)
def test_optimizers_take_maximize(name, options):
    """torch: every optimizer takes maximize=True (ascend the gradient); tinygrad raises TypeError."""
    theirs = _trajectory("torch", lambda optim, ps: getattr(optim, name)(ps, maximize=True, **options))
    ours = _trajectory("tg", lambda optim, ps: getattr(optim, name)(ps, maximize=True, **options))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_clip_grad_norm_with_a_nan_gradient_makes_every_gradient_nan():
    """torch: a NaN total norm gives a NaN coefficient, so every gradient becomes NaN; tinygrad leaves them."""
    p = tg.nn.Parameter(np.zeros(3))
    p.grad = np.array([NAN, 1.0, 1.0])
    q = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    q.grad = torch.tensor([NAN, 1.0, 1.0], dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([q], 1.0)
    tg.optim.clip_grad_norm_([p], 1.0)
    np.testing.assert_array_equal(p.grad, q.grad.numpy())


def test_clip_grad_norm_returns_a_tensor():
    """torch: clip_grad_norm_ returns the total norm as a 0-d tensor (norm.item() works); tinygrad returns a float."""
    p = tg.nn.Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])
    total = tg.optim.clip_grad_norm_([p], 1.0)
    assert isinstance(total, Tensor) and total.shape == ()
    assert total.item() == 5.0


def test_clip_grad_norm_takes_error_if_nonfinite():
    """torch: clip_grad_norm_(..., error_if_nonfinite=True) raises RuntimeError on a NaN or inf norm."""
    p = tg.nn.Parameter(np.zeros(2))
    p.grad = np.array([INF, 1.0])
    with pytest.raises(RuntimeError):
        tg.optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


# ---------------------------------------------------------------- modules and interop


def test_rnn_forward_takes_hx_by_keyword():
    """torch: nn.RNN.forward(input, hx=None), as GRU's; tinygrad's RNN calls it h0 (TypeError for hx=)."""
    rnn = tg.nn.RNN(2, 3)
    x, h = np.ones((4, 1, 2)), np.full((1, 1, 3), 0.5)
    theirs = tg.to_torch(rnn)(torch.tensor(x), hx=torch.tensor(h))[1]
    assert_same(rnn(x, hx=h)[1], theirs)


def test_from_torch_keeps_a_module_used_twice_in_a_sequential():
    """torch: Sequential(lin, lin) applies lin twice; from_torch builds a Sequential applying it once."""
    lin = torch.nn.Linear(2, 2, dtype=torch.float64)
    theirs = torch.nn.Sequential(lin, lin)
    x = np.array([[1.0, -2.0]])
    assert_same(tg.from_torch(theirs)(x), theirs(torch.tensor(x)))


def test_a_float32_layernorm_casts_float64_input_as_every_float32_layer():
    """README: a float32 layer casts float64 input to float32 (Linear does); LayerNorm returns float64."""
    assert tg.nn.Linear(3, 3, dtype=np.float32)(np.ones((2, 3))).dtype == np.float32
    assert tg.nn.LayerNorm(3, dtype=np.float32)(np.ones((2, 3))).dtype == np.float32


def test_load_state_dict_non_strict_reports_missing_and_unexpected_keys():
    """torch: load_state_dict(strict=False) returns (missing_keys, unexpected_keys); tinygrad returns None."""
    model = tg.nn.Linear(2, 1)
    state = model.state_dict()
    del state["bias"]
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert list(result.missing_keys) == ["bias"] and list(result.unexpected_keys) == ["extra"]


def test_embedding_with_padding_idx_keeps_an_infinite_row_infinite():
    """torch: Embedding(padding_idx=0) looks up an inf row as inf; tinygrad gives NaN (inf * 0 from the mask)."""
    ours = tg.nn.Embedding(3, 2, padding_idx=0)
    ours.weight.data[1] = INF
    theirs = tg.to_torch(ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(ours(np.array([1, 0])), theirs(torch.tensor([1, 0])))


@pytest.mark.parametrize(
    "use",
    [
        lambda m: m.requires_grad_(False),
        lambda m: m.apply(lambda module: None),
        lambda m: m.add_module("head", type(m[0])(2, 1)),
        lambda m: list(m.named_parameters(recurse=False)),
        lambda m: m.state_dict(prefix="model."),
        lambda m: m.get_submodule("0"),
    ],
    ids=[
        "requires_grad_",
        "apply",
        "add_module",
        "named_parameters(recurse=False)",
        "state_dict(prefix=)",
        "get_submodule",
    ],
)
def test_common_module_methods_exist(use):
    """torch: Module has requires_grad_, apply, add_module, get_submodule, recurse= and prefix= (tinygrad: none)."""
    use(torch.nn.Sequential(torch.nn.Linear(2, 2)))
    use(tg.nn.Sequential(tg.nn.Linear(2, 2)))


def test_a_linear_layer_with_no_inputs():
    """torch: Linear(0, 3) is a layer whose output is its bias (init bound 0); tinygrad raises ZeroDivisionError."""
    theirs = torch.nn.Linear(0, 3, dtype=torch.float64)
    ours = tg.nn.Linear(0, 3)
    assert ours(np.ones((2, 0))).shape == tuple(theirs(torch.ones(2, 0, dtype=torch.float64)).shape) == (2, 3)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_recurrent_layer_of_zero_hidden_units_is_a_value_error(kind):
    """torch: hidden_size=0 raises ValueError('hidden_size must be greater than zero'); tinygrad: ZeroDivisionError."""
    with pytest.raises(ValueError, match="hidden_size"):
        getattr(torch.nn, kind)(3, 0)
    with pytest.raises(ValueError, match="hidden_size"):
        getattr(tg.nn, kind)(3, 0)


# ---------------------------------------------------------------- tensors


def test_full_with_a_bool_fill_is_bool():
    """torch: full((2,), True) is a bool tensor (tinygrad: float64 ones)."""
    assert_same(tg.full((2,), True), torch.full((2,), True))


@pytest.mark.parametrize("bound", ["tensor", "0-d tensor"])
def test_clamp_takes_tensor_bounds(bound):
    """torch: x.clamp(min=tensor, max=tensor) clamps elementwise; tinygrad raises a TypeError from NumPy."""
    x, xt = ours_and_theirs([-2.0, 0.2, 0.7, 3.0])
    low = np.array([-1.0, 0.5, 0.0, 0.0]) if bound == "tensor" else np.array(0.0)
    y, yt = (
        x.clamp(Tensor(low), Tensor(np.array(1.0))),
        xt.clamp(torch.tensor(low), torch.tensor(1.0, dtype=torch.float64)),
    )
    backward_both(y, yt)
    assert_same(y, yt)
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


def test_backward_twice_through_a_graph_that_saved_nothing():
    """torch: (x + 1).sum() can be backpropagated twice (no saved tensors); tinygrad raises 'already released'."""
    x, xt = ours_and_theirs([1.0, 2.0])
    y, yt = (x + 1).sum(), (xt + 1).sum()
    for _ in range(2):
        y.backward()
        yt.backward()
    np.testing.assert_array_equal(x.grad, xt.grad.numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x.log(),
        lambda x: x / 0.0,
        lambda x: (x + 1000.0).exp(),
        lambda x: x**-1,
        lambda x: (x + INF).log_softmax(0),
    ],
    ids=["log(0)", "x / 0", "exp(1000)", "x ** -1 at 0", "log_softmax(inf)"],
)
def test_ieee_results_come_without_numpy_warnings(make):
    """torch: log(0) = -inf, x / 0 = inf, exp(1000) = inf and their gradients come silently (tinygrad: warnings)."""
    x = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make(x).sum().backward()


@pytest.mark.parametrize(
    "use",
    [
        lambda m, x: x.argmin(),
        lambda m, x: abs(x),
        lambda m, x: x.pow(2),
        lambda m, x: x.clone(),
        lambda m, x: x.tolist(),
    ],
    ids=["argmin", "abs()", "pow", "clone", "tolist"],
)
def test_common_tensor_methods_exist(use):
    """torch: argmin (beside argmax), abs(t), t.pow(2), t.clone() and t.tolist() are everyday tensor methods."""
    values = [3.0, -1.0, 2.0]
    ours, theirs = use(tg, tg.tensor(values)), use(torch, torch.tensor(values, dtype=torch.float64))
    if isinstance(theirs, list):
        assert ours == theirs
    else:
        assert_same(ours, theirs)


# ================================================================ what holds (pass now)


@pytest.mark.parametrize(
    "op, values",
    [
        ("relu", [-1.0, 0.0, NAN, 2.0]),
        ("abs", [-1.0, 0.0, -0.0, NAN, INF]),
        ("sigmoid", [-INF, -800.0, NAN, 800.0, INF]),
        ("tanh", [-INF, NAN, INF, 0.5]),
        ("exp", [-INF, 0.0, 1.0]),
    ],
)
def test_unary_values_and_gradients_at_nan_inf_and_kinks(op, values):
    """torch: relu' = abs' = 0 at 0 and NaN; sigmoid and tanh saturate; the gradient of NaN is NaN."""
    x, xt = ours_and_theirs(values)
    y, yt = getattr(x, op)(), getattr(xt, op)()
    backward_both(y, yt)
    assert_same(y, yt)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), equal_nan=True)


@pytest.mark.parametrize(
    "reduce",
    [
        lambda x: x.max(),
        lambda x: x.min(),
        lambda x: x.amax(1),
        lambda x: x.amin(0),
        lambda x: x.max(1).values,
        lambda x: x.min(0).values,
    ],
    ids=["max()", "min()", "amax(1)", "amin(0)", "max(1)", "min(0)"],
)
@pytest.mark.parametrize(
    "values",
    [[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]], [[1.0, NAN, 3.0], [NAN, 2.0, 2.0]], [[-INF, -INF, 1.0], [INF, INF, 0.0]]],
    ids=["ties", "nan", "inf ties"],
)
def test_extrema_share_or_pick_the_gradient_as_torch(reduce, values):
    """torch: max()/amax share the gradient between ties, max(dim) gives it to the returned index, NaN wins."""
    x, xt = ours_and_theirs(values)
    y, yt = reduce(x), reduce(xt)
    backward_both(y, yt)
    assert_same(y, yt)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), equal_nan=True)


def test_elementwise_maximum_minimum_where_clamp_at_ties_and_nan():
    """torch: maximum/minimum split a tie's gradient in halves, NaN sends it both ways; clamp's bounds are inclusive."""
    a, at = ours_and_theirs([1.0, 2.0, NAN, 3.0, 0.0])
    b, bt = ours_and_theirs([1.0, 3.0, 1.0, NAN, 1.0])
    y = a.maximum(b) * 2 + a.minimum(b) + tg.where(a > b, a, b) + a.clamp(0.0, 1.0)
    yt = torch.maximum(at, bt) * 2 + torch.minimum(at, bt) + torch.where(at > bt, at, bt) + at.clamp(0.0, 1.0)
    backward_both(y, yt)
    assert_same(y, yt)
    np.testing.assert_allclose(a.grad, at.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), equal_nan=True)


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.sum(0),
        lambda x: x.mean(0),
        lambda x: x.mean(),
        lambda x: x.logsumexp(1),
        lambda x: x.softmax(1),
        lambda x: x.var(),
        lambda x: x.std(1),
    ],
    ids=["sum(0)", "mean(0)", "mean()", "logsumexp(1)", "softmax(1)", "var()", "std(1)"],
)
@pytest.mark.parametrize("shape", [(0, 3), (2, 0)])
def test_reductions_over_size_0_arrays(op, shape):
    """torch: a sum over no elements is 0, a mean NaN, a logsumexp -inf, a var NaN; shapes as torch's."""
    x, xt = ours_and_theirs(np.zeros(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, yt = op(x), op(xt)
    assert_same(y, yt)


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.sum(0),
        lambda x: x.sum(-1, keepdim=True),
        lambda x: x.mean(0),
        lambda x: x.softmax(0),
        lambda x: x.log_softmax(-1),
        lambda x: x.logsumexp(0),
        lambda x: x.max(0).values,
        lambda x: x.amax(-1),
        lambda x: x.unsqueeze(-1),
        lambda x: x.squeeze(0),
        lambda x: x.flatten(),
        lambda x: x.expand(3),
    ],
    ids=[
        "sum(0)",
        "sum(-1, keepdim)",
        "mean(0)",
        "softmax",
        "log_softmax",
        "logsumexp",
        "max(0)",
        "amax(-1)",
        "unsqueeze(-1)",
        "squeeze(0)",
        "flatten",
        "expand",
    ],
)
def test_zero_d_tensors_take_dim_0_and_minus_1(op):
    """torch: a 0-d tensor accepts dim 0 and -1 for reductions and softmax; values, shapes and gradients as torch's."""
    x, xt = ours_and_theirs(2.5)
    y, yt = op(x), op(xt)
    backward_both(y, yt)
    assert_same(y, yt)
    np.testing.assert_allclose(x.grad, xt.grad.numpy())


def _dtype_of(library, make):
    module = tg if library == "tg" else torch
    value = make(module, module.tensor)
    return str(value.dtype).replace("torch.", "")


@pytest.mark.parametrize(
    "make",
    [
        lambda m, t: t(np.ones(2, np.float32)) + t(np.array(2.0)),
        lambda m, t: t(np.ones(2, np.float32)) * 2.5,
        lambda m, t: t(np.ones(2, np.float32)) + t(np.array([1, 2])),
        lambda m, t: t(np.array([1, 2], np.int32)) + t(np.array(3)),
        lambda m, t: t(np.array([1, 2], np.int32)) + 5,
        lambda m, t: t(np.array([1, 2], np.uint8)) + t(np.array([1, 2], np.int8)),
        lambda m, t: t(np.array([True, False])) + 1,
        lambda m, t: t(np.array([True, False])).sum(),
        lambda m, t: t(np.array([1, 2], np.int32)).sum(),
        lambda m, t: t(np.array([1, -2])).relu(),
        lambda m, t: t(np.array([1, -2])).abs(),
        lambda m, t: t(np.array([1, 2])) ** 2,
        lambda m, t: t(np.array([1, 2])).max(),
        lambda m, t: t(np.array([1, 2])).masked_fill(t(np.array([True, False])), 0.5),
        lambda m, t: m.where(t(np.array([True, False])), t(np.ones(2, np.float32)), 0.5),
        lambda m, t: t(np.ones(2, np.float16)) + t(np.ones(2, np.float32)),
        lambda m, t: t(np.ones(2)) < 1,
        lambda m, t: m.arange(5),
        lambda m, t: m.full((2,), 7),
    ],
)
def test_result_dtypes_follow_torchs_promotion(make):
    """torch: a lower-ranked operand (number < 0-d < n-d) changes the dtype only across categories."""
    assert _dtype_of("tg", make) == _dtype_of("torch", make)


RECURRENT_CASES = [
    (kind, layers, bidirectional, batch_first, given)
    for kind, (layers, bidirectional, batch_first, given) in itertools.product(
        ("RNN", "LSTM", "GRU"), [(3, True, True, True), (2, True, False, False), (1, False, True, True)]
    )
]


@pytest.mark.parametrize("kind, layers, bidirectional, batch_first, given", RECURRENT_CASES)
def test_recurrent_layers_match_torch_in_every_output_and_gradient(kind, layers, bidirectional, batch_first, given):
    """torch: same outputs, final states and gradients for inputs, initial states and every weight."""
    rng = np.random.default_rng(5)
    ours = getattr(tg.nn, kind)(2, 3, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, rng=rng)
    theirs = tg.to_torch(ours)
    directions = 2 if bidirectional else 1
    x, xt = ours_and_theirs(rng.standard_normal((2, 4, 2) if batch_first else (4, 2, 2)))
    states = [
        ours_and_theirs(rng.standard_normal((directions * layers, 2, 3))) for _ in range(2 if kind == "LSTM" else 1)
    ]
    if not given:
        out, final = ours(x)
        out_t, final_t = theirs(xt)
    elif kind == "LSTM":
        out, final = ours(x, (states[0][0], states[1][0]))
        out_t, final_t = theirs(xt, (states[0][1], states[1][1]))
    else:
        out, final = ours(x, states[0][0])
        out_t, final_t = theirs(xt, states[0][1])
    finals, finals_t = (list(final), list(final_t)) if kind == "LSTM" else ([final], [final_t])
    loss = (out * out).sum() + sum((f * (k + 2.0)).sum() for k, f in enumerate(finals))
    loss_t = (out_t * out_t).sum() + sum((f * (k + 2.0)).sum() for k, f in enumerate(finals_t))
    loss.backward()
    loss_t.backward()
    for a, b in zip([out, *finals], [out_t, *finals_t]):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    if given:
        for s, st in states:
            np.testing.assert_allclose(s.grad, st.grad.numpy(), rtol=1e-10, atol=1e-12)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_optimizers_skip_a_parameter_on_steps_without_its_gradient_as_torch():
    """torch: a parameter whose grad is None is skipped and its state (step count, moments) left alone."""

    def run(library):
        optim = tg.optim if library == "tg" else torch.optim
        starts = [np.array([0.5, -1.0]), np.array([2.0])]
        if library == "tg":
            params = [tg.nn.Parameter(s.copy()) for s in starts]
        else:
            params = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
        optimizers = [
            optim.Adam(params[:1], lr=0.1),
            optim.SGD(params[1:], lr=0.1, momentum=0.9),
        ]
        for step in range(6):
            for index, p in enumerate(params):
                current = p.data if library == "tg" else p.detach().numpy()
                grad = None if step % 3 == 1 else np.cos(current) + index
                p.grad = grad if library == "tg" or grad is None else torch.tensor(grad)
            for optimizer in optimizers:
                optimizer.step()
        return [np.array(p.data if library == "tg" else p.detach().numpy()) for p in params]

    for ours, theirs in zip(run("tg"), run("torch")):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_a_model_trained_here_keeps_training_the_same_in_torch():
    """torch: after to_torch, the same optimizer from scratch on both sides keeps both models equal."""
    rng = np.random.default_rng(1)
    model = tg.nn.Sequential(tg.nn.Linear(3, 4, rng=rng), tg.nn.LayerNorm(4), tg.nn.Linear(4, 3, rng=rng))
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 3, 8)
    optimizer = tg.optim.Adam(model, lr=0.05)
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    theirs = tg.to_torch(model)
    ours_optimizer, their_optimizer = (
        tg.optim.SGD(model, lr=0.1, momentum=0.9),
        torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9),
    )
    for _ in range(3):
        ours_optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        ours_optimizer.step()
        their_optimizer.zero_grad()
        TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        their_optimizer.step()
    np.testing.assert_allclose(model(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10)
    back = tg.from_torch(theirs)
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value.numpy(), err_msg=name)
    np.testing.assert_allclose(back(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_clip_grad_norm_of_every_norm_type_and_clip_grad_value_with_nan():
    """torch: the p-norm of every gradient at once, scaled by max_norm / (total + 1e-6); clamp keeps a NaN."""
    for norm_type in (1.0, 2.0, 3.0, INF):
        p, q = tg.nn.Parameter(np.zeros(2)), torch.zeros(2, dtype=torch.float64, requires_grad=True)
        p.grad, q.grad = np.array([3.0, -4.0]), torch.tensor([3.0, -4.0], dtype=torch.float64)
        total = tg.optim.clip_grad_norm_([p], 1.0, norm_type=norm_type)
        total_t = torch.nn.utils.clip_grad_norm_([q], 1.0, norm_type=norm_type)
        assert float(total) == pytest.approx(total_t.item(), rel=1e-12)
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12)
    p.grad, q.grad = np.array([NAN, 5.0]), torch.tensor([NAN, 5.0], dtype=torch.float64)
    tg.optim.clip_grad_value_([p], 1.0)
    torch.nn.utils.clip_grad_value_([q], 1.0)
    np.testing.assert_array_equal(p.grad, q.grad.numpy())
