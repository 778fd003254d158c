"""PyTorch's tensor idioms give PyTorch's values, dtypes and gradients.

Each case runs one idiom on our Tensor and on a torch tensor made from the same array, and
compares the output's shape, dtype and values, then seeds both backward passes with the
same random output gradient and compares every input's gradient. NaN must meet NaN. The
inputs include ties, NaN, inf, 0-d and size-0 tensors and float32.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.tensors import maximum, minimum, where

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
# PyTorch warns when n - correction <= 0; those inputs are tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")

NAN, INF = np.nan, np.inf
RNG = np.random.default_rng(16)


def assert_same(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs PyTorch's {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs PyTorch's {theirs.dtype}"
    tolerance = 1e-6 if ours.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance, equal_nan=True, err_msg=what)


def run_both(ours_fn, torch_fn, *arrays, gradients=True):
    """Compare values and (unless told not to) the floating inputs' gradients of ours_fn and torch_fn."""
    grads = [a.dtype.kind == "f" for a in arrays]
    ours_in = [Tensor(a.copy(), requires_grad=g) for a, g in zip(arrays, grads)]
    theirs_in = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ours, theirs = ours_fn(*ours_in), torch_fn(*theirs_in)
    assert_same(ours.data, theirs, "value")
    if not gradients:
        return
    if not theirs.requires_grad:
        assert not ours.requires_grad
        return
    seed = RNG.standard_normal(ours.shape).astype(ours.dtype)
    ours.backward(seed)
    theirs.backward(torch.tensor(seed))
    for i, (o, t) in enumerate(zip(ours_in, theirs_in)):
        if t.requires_grad:
            expected = torch.zeros_like(t) if t.grad is None else t.grad
            got = np.zeros_like(o.data) if o.grad is None else o.grad
            assert_same(got, expected, f"gradient of input {i}")


SPECIAL = np.array([0.0, -0.0, NAN, -2.0, 3.0, INF, -INF, 0.5])
TIES_AND_NAN = np.array([[1.0, 1.0, 3.0], [NAN, 2.0, 1.0], [2.0, 2.0, 2.0], [-INF, 0.0, INF]])
MATRIX = RNG.standard_normal((3, 4))

ELEMENTWISE = {
    "abs": (lambda x: x.abs(), lambda x: x.abs()),
    "sin": (lambda x: x.sin(), lambda x: x.sin()),
    "cos": (lambda x: x.cos(), lambda x: x.cos()),
    "sqrt": (lambda x: x.sqrt(), lambda x: x.sqrt()),
    "clamp both": (lambda x: x.clamp(-1.0, 0.5), lambda x: x.clamp(-1.0, 0.5)),
    "clamp min": (lambda x: x.clamp(min=0.0), lambda x: x.clamp(min=0.0)),
    "clamp max": (lambda x: x.clamp(max=0.0), lambda x: x.clamp(max=0.0)),
    "clamp crossed bounds": (lambda x: x.clamp(1.0, -1.0), lambda x: x.clamp(1.0, -1.0)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize(
    "values",
    [SPECIAL, MATRIX, np.array(0.7), np.zeros((0, 2)), MATRIX.astype(np.float32)],
    ids=["special", "matrix", "0-d", "size-0", "float32"],
)
def test_elementwise(name, values):
    if name == "sqrt":
        values = np.abs(values)  # sqrt's own edge cases belong to Pow's tests
    run_both(*ELEMENTWISE[name], values)


PAIRS = [
    (np.array([1.0, 2.0, NAN, NAN, 3.0, -0.0]), np.array([1.0, 3.0, 1.0, NAN, NAN, 0.0])),
    (RNG.standard_normal((3, 1)), RNG.standard_normal(4)),  # broadcast both ways
    (np.array(2.0), np.array([1.0, 2.0, 3.0])),  # 0-d against a vector, with a tie
    (np.zeros((0, 3)), np.zeros(3)),
]


@pytest.mark.parametrize("which", ["maximum", "minimum"])
@pytest.mark.parametrize("pair", range(len(PAIRS)))
def test_maximum_minimum(which, pair):
    x, y = PAIRS[pair]
    run_both(lambda a, b: getattr(a, which)(b), lambda a, b: getattr(torch, which)(a, b), x, y)
    module_level = {"maximum": maximum, "minimum": minimum}[which]
    run_both(lambda a, b: module_level(a, b), lambda a, b: getattr(torch, which)(a, b), x, y)


def test_maximum_with_a_number_keeps_float32():
    x = np.array([-1.0, 0.5, 2.0], dtype=np.float32)
    run_both(lambda a: a.maximum(0.5), lambda a: torch.maximum(a, torch.tensor(0.5)), x)
    run_both(lambda a: minimum(0.5, a), lambda a: torch.minimum(torch.tensor(0.5), a), x)


def test_min_of_two_tensors_is_the_elementwise_minimum():
    x, y = PAIRS[1]
    run_both(lambda a, b: a.min(b), lambda a, b: torch.min(a, b), x, y)


CONDITION = np.array([[True, False, True, False]])


@pytest.mark.parametrize("x_shape, y_shape", [((3, 4), (3, 4)), ((3, 1), (4,)), ((), (3, 4))])
def test_where(x_shape, y_shape):
    x, y = RNG.standard_normal(x_shape), RNG.standard_normal(y_shape)
    run_both(lambda a, b: where(Tensor(CONDITION), a, b), lambda a, b: torch.where(torch.tensor(CONDITION), a, b), x, y)
    run_both(lambda a, b: a.where(Tensor(CONDITION), b), lambda a, b: a.where(torch.tensor(CONDITION), b), x, y)


def test_where_with_numbers_and_nan():
    x = np.array([NAN, 1.0, -INF, 2.0], dtype=np.float32)
    mask = np.isfinite(x)
    run_both(lambda a: where(mask, a, 0.0), lambda a: torch.where(torch.tensor(mask), a, 0.0), x)
    run_both(lambda a: where(~mask, 1.5, a), lambda a: torch.where(torch.tensor(~mask), 1.5, a), x)


def test_where_needs_a_bool_condition():
    with pytest.raises(TypeError, match="where: the condition must be a bool tensor, got dtype float64"):
        where(Tensor([1.0, 0.0]), Tensor([1.0, 2.0]), 0.0)


@pytest.mark.parametrize("mask", [MATRIX > 0, np.array([True, False, False, True]), np.array(True)])
def test_masked_fill(mask):
    run_both(lambda a: a.masked_fill(mask, -1.5), lambda a: a.masked_fill(torch.tensor(mask), -1.5), MATRIX)
    run_both(lambda a: a.masked_fill(Tensor(mask), NAN), lambda a: a.masked_fill(torch.tensor(mask), NAN), MATRIX)


def test_masked_fill_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"mask of shape \(2, 3, 4\) does not broadcast to the tensor's shape"):
        Tensor(MATRIX).masked_fill(np.ones((2, 3, 4), dtype=bool), 0.0)
    with pytest.raises(TypeError, match="masked_fill: the condition must be a bool tensor, got dtype int64"):
        Tensor(MATRIX).masked_fill(np.ones((3, 4), dtype=np.int64), 0.0)


STATISTICS_OPTIONS = [
    {},
    {"dim": 1},
    {"dim": 0, "keepdim": True},
    {"dim": (0, 1)},
    {"dim": -1, "correction": 0},
    {"dim": 1, "unbiased": False},
    {"dim": 1, "correction": 2},
    {"correction": 3.5},
]
STATISTICS_INPUTS = {
    "matrix": MATRIX,
    "constant rows": np.array([[2.0, 2.0, 2.0, 2.0], [1.0, -1.0, 0.5, 3.0]]),
    "nan and inf": np.array([[1.0, NAN, 2.0, 3.0], [1.0, INF, 0.0, 1.0]]),
    "one column": RNG.standard_normal((3, 1)),
    "float32": MATRIX.astype(np.float32),
}


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("options", STATISTICS_OPTIONS, ids=str)
@pytest.mark.parametrize("inputs", sorted(STATISTICS_INPUTS))
def test_var_and_std(name, options, inputs):
    values = STATISTICS_INPUTS[inputs]
    # With a dim and n - correction < 0, PyTorch's gradient is 2 / (n - correction) * g * (x - mean),
    # finite beside an infinite value; ours keeps the rule it uses for every zero divisor (g * inf).
    dims = options.get("dim")
    reduced = values.size if dims is None else np.prod(np.array(values.shape)[list(np.atleast_1d(dims))])
    degenerate_with_dim = "dim" in options and reduced - options.get("correction", 1) <= 0
    run_both(
        lambda a: getattr(a, name)(**options),
        lambda a: getattr(a, name)(**options),
        values,
        gradients=not degenerate_with_dim,
    )


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize(
    "values, options",
    [
        (np.array([1.5]), {}),  # n - correction = 0: NaN, as PyTorch
        (np.array(1.5), {}),  # 0-d
        (np.array(1.5), {"correction": 0}),
        (np.zeros((0, 3)), {"dim": 0}),  # size-0: NaN
        (np.zeros((0, 3)), {"dim": 1}),  # nothing to reduce over, shape (0,)
        (np.array([1.0, 2.0]), {"correction": 2}),  # n - correction = 0 with spread: inf
    ],
)
def test_var_and_std_degenerate(name, values, options):
    run_both(lambda a: getattr(a, name)(**options), lambda a: getattr(a, name)(**options), values)


def test_var_numpy_spellings_and_the_positional_unbiased():
    x = Tensor(MATRIX)
    expected = torch.tensor(MATRIX).var(1, keepdim=True).numpy()
    np.testing.assert_allclose(x.var(axis=1, keepdims=True).data, expected, rtol=1e-12)
    np.testing.assert_allclose(x.std(False).data, torch.tensor(MATRIX).std(False).numpy(), rtol=1e-12)
    with pytest.raises(TypeError, match="var: give unbiased or correction, not both"):
        x.var(unbiased=True, correction=1)
    with pytest.raises(TypeError, match="std: give dim or axis, not both"):
        x.std(dim=0, axis=0)


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("options", [{}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}], ids=str)
@pytest.mark.parametrize(
    "values",
    [TIES_AND_NAN, MATRIX, np.array(2.5), TIES_AND_NAN.astype(np.float32)],
    ids=["ties and nan", "matrix", "0-d", "float32"],
)
def test_amax_amin(name, options, values):
    if values.ndim == 0 and options:
        options = {k: v for k, v in options.items() if k == "keepdim"}
    run_both(lambda a: getattr(a, name)(**options), lambda a: getattr(a, name)(**options), values)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(
    "values", [TIES_AND_NAN, MATRIX, TIES_AND_NAN.astype(np.float32)], ids=["ties and nan", "matrix", "float32"]
)
def test_min_along_a_dim_returns_values_and_indices(dim, keepdim, values):
    ours = Tensor(values).min(dim=dim, keepdim=keepdim)
    theirs = torch.tensor(values).min(dim=dim, keepdim=keepdim)
    assert_same(ours.indices.data, theirs.indices, "indices")
    _, indices_of_ours = ours  # unpacks as PyTorch's namedtuple does
    assert indices_of_ours is ours.indices
    run_both(lambda a: a.min(dim, keepdim).values, lambda a: a.min(dim, keepdim).values, values)
    run_both(lambda a: a.min(axis=dim, keepdims=keepdim)[0], lambda a: a.min(dim, keepdim)[0], values)


def test_min_of_0d_and_of_a_size_0_axis():
    run_both(lambda a: a.min(0).values, lambda a: a.min(0).values, np.array(3.0))
    assert Tensor(np.array(3.0)).min(-1).indices.data == 0
    run_both(lambda a: a.min(1).values, lambda a: a.min(1).values, np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"MinAlong: cannot reduce over dim 0, a zero-size axis \(shape \(0, 3\)\)"):
        Tensor(np.zeros((0, 3))).min(0)


def test_min_without_dim_shares_ties():
    run_both(lambda a: a.min(), lambda a: a.min(), np.array([[1.0, 1.0, 3.0], [2.0, 2.0, 1.0]]))


SHAPE_IDIOMS = {
    "view(-1)": (lambda x: x.view(-1), lambda x: x.view(-1)),
    "view(4, -1)": (lambda x: x.view(4, -1), lambda x: x.view(4, -1)),
    "reshape(-1)": (lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    "reshape((2, -1))": (lambda x: x.reshape((2, -1)), lambda x: x.reshape((2, -1))),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    "unsqueeze(-1)": (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1)),
    "unsqueeze(1)": (lambda x: x.unsqueeze(1), lambda x: x.unsqueeze(1)),
    "squeeze()": (lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze(), lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze()),
    "squeeze(0)": (lambda x: x.unsqueeze(0).squeeze(0), lambda x: x.unsqueeze(0).squeeze(0)),
    "squeeze(1) of a longer axis": (lambda x: x.squeeze(1), lambda x: x.squeeze(1)),
    "squeeze((0, -1))": (
        lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze((0, -1)),
        lambda x: x.unsqueeze(0).unsqueeze(-1).squeeze((0, -1)),
    ),
    "permute(2, 0, 1)": (lambda x: x.unsqueeze(-1).permute(2, 0, 1), lambda x: x.unsqueeze(-1).permute(2, 0, 1)),
    "permute((1, 0))": (lambda x: x.permute((1, 0)), lambda x: x.permute((1, 0))),
    "flatten()": (lambda x: x.unsqueeze(1).flatten(), lambda x: x.unsqueeze(1).flatten()),
    "flatten(1)": (lambda x: x.unsqueeze(1).flatten(1), lambda x: x.unsqueeze(1).flatten(1)),
    "flatten(0, 1)": (lambda x: x.unsqueeze(-1).flatten(0, 1), lambda x: x.unsqueeze(-1).flatten(0, 1)),
    "expand(2, 3, 4)": (lambda x: x.expand(2, 3, 4), lambda x: x.expand(2, 3, 4)),
    "expand(-1, -1)": (lambda x: x.expand(-1, -1), lambda x: x.expand(-1, -1)),
    "expand of a length-1 axis": (lambda x: x[:, :1].expand(3, 5), lambda x: x[:, :1].expand(3, 5)),
    "expand((2, -1, 4))": (lambda x: x.expand((2, -1, 4)), lambda x: x.expand((2, -1, 4))),
}


@pytest.mark.parametrize("name", sorted(SHAPE_IDIOMS))
def test_shape_idioms(name):
    run_both(*SHAPE_IDIOMS[name], MATRIX)


@pytest.mark.parametrize("values", [np.array(1.5), np.zeros((0, 2))], ids=["0-d", "size-0"])
@pytest.mark.parametrize(
    "idiom",
    [
        (lambda x: x.flatten(), lambda x: x.flatten()),
        (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
        (lambda x: x.squeeze(), lambda x: x.squeeze()),
        (lambda x: x.view(-1), lambda x: x.view(-1)),
        (lambda x: x.expand(3, *x.shape), lambda x: x.expand(3, *x.shape)),
    ],
)
def test_shape_idioms_on_0d_and_size_0(values, idiom):
    run_both(*idiom, values)


def test_squeeze_of_0d_at_dim_0():
    run_both(lambda x: x.squeeze(0), lambda x: x.squeeze(0), np.array(1.5))


def test_shape_idiom_errors_name_what_was_wrong():
    x = Tensor(MATRIX)
    with pytest.raises(IndexError, match=r"unsqueeze: dim 3 is out of range \[-3, 2\]"):
        x.unsqueeze(3)
    with pytest.raises(ValueError, match=r"permute: \(0, 0\) is not a permutation of the 2 axes of shape \(3, 4\)"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(3, 4\) to \(3, 5\) \(axis 1\)"):
        x.expand(3, 5)
    with pytest.raises(ValueError, match=r"expand: -1 is not allowed for the new leading axis 0"):
        x.expand(-1, 3, 4)
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)


def test_numel():
    for shape in [(), (0, 3), (3, 4), (2, 1, 5)]:
        assert Tensor(np.zeros(shape)).numel() == torch.zeros(shape).numel()


CONVERSIONS = {
    "float()": (lambda x: x.float(), lambda x: x.float()),
    "double()": (lambda x: x.double(), lambda x: x.double()),
    "long()": (lambda x: x.long(), lambda x: x.long()),
    "to(float32)": (lambda x: x.to(np.float32), lambda x: x.to(torch.float32)),
    "to('float64')": (lambda x: x.to("float64"), lambda x: x.to(torch.float64)),
    "to(int32)": (lambda x: x.to(np.int32), lambda x: x.to(torch.int32)),
    "to(bool)": (lambda x: x.to(bool), lambda x: x.to(torch.bool)),
}


@pytest.mark.parametrize("name", sorted(CONVERSIONS))
@pytest.mark.parametrize(
    "values",
    [np.array([[1.25, -2.5], [3.75, 0.0]]), np.array([1.5, -0.5], dtype=np.float32)],
    ids=["float64", "float32"],
)
def test_conversions(name, values):
    run_both(*CONVERSIONS[name], values)


def test_conversions_of_integers_and_the_gradient_cast_back():
    run_both(lambda x: x.float(), lambda x: x.float(), np.array([1, -2, 3]))
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert x.double() is x  # already float64: the tensor itself, as PyTorch
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])


def test_to_rejects_what_is_not_a_numeric_dtype():
    with pytest.raises(TypeError, match="to\\(\\): cannot convert to dtype complex128"):
        Tensor([1.0]).to(np.complex128)
    with pytest.raises(TypeError, match="is not a dtype"):
        Tensor([1.0]).to(3.5)


def test_where_maximum_and_minimum_are_reached_from_the_package():
    import tinygrad_rnn as tg

    x, y = np.array([1.0, -2.0, 3.0]), np.array([0.5, 0.5, 4.0])
    ours, theirs = (Tensor(x), Tensor(y)), (torch.tensor(x), torch.tensor(y))
    expected = torch.where(theirs[0] > 0, theirs[0], 0.0).numpy()
    np.testing.assert_array_equal(tg.where(Tensor(x > 0), ours[0], 0.0).data, expected)
    np.testing.assert_array_equal(tg.maximum(*ours).data, torch.maximum(*theirs).numpy())
    np.testing.assert_array_equal(tg.minimum(*ours).data, torch.minimum(*theirs).numpy())
