"""The idioms' backward agrees with central finite differences (float64, relative error < 1e-6).

Shapes and values come from hypothesis, kept away from the points where an op has no
derivative: |x| at 0, ties in maximum/minimum/amin/min, clamp at its bounds. The selection
ops (where, masked_fill, min along a dim) are smooth in the values they pass on.
Set TINYGRAD_RNN_EXAMPLES=500 to search harder than the default 25 examples per test.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.tensors import maximum, minimum, where

EXAMPLES = int(os.environ.get("TINYGRAD_RNN_EXAMPLES", "25"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
NONSCALAR_SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def floats(low, high):
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


SMOOTH = floats(-2.0, 2.0)
OFF_ZERO = st.one_of(floats(-2.0, -0.05), floats(0.05, 2.0))


def arrays(shape, elements=SMOOTH, unique=False):
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def check(fn, *values):
    """gradcheck fn at float64 leaves made from `values`; every leaf requires grad."""
    inputs = [Tensor(v, requires_grad=True) for v in values]
    assert gradcheck(fn, inputs, rtol=1e-6, atol=1e-8).ok


def spread_apart(values: np.ndarray, gap: float = 0.1) -> bool:
    """True when no two values are within `gap` of each other (no ties for a finite difference)."""
    flat = np.sort(values.reshape(-1))
    return bool(np.all(np.diff(flat) > gap)) if flat.size > 1 else True


@SETTINGS
@given(x=arrays(SHAPES, OFF_ZERO))
def test_abs(x):
    check(lambda a: a.abs(), x)


@pytest.mark.parametrize("name", ["sin", "cos"])
@SETTINGS
@given(x=arrays(SHAPES, floats(-6.0, 6.0)))
def test_sin_cos(name, x):
    check(lambda a: getattr(a, name)(), x)


@pytest.mark.parametrize("op", [maximum, minimum], ids=["maximum", "minimum"])
@SETTINGS
@given(data=st.data())
def test_maximum_minimum_with_broadcasting(op, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    x = data.draw(arrays(shapes.input_shapes[0]))
    y = data.draw(arrays(shapes.input_shapes[1]))
    if np.min(np.abs(np.subtract(x, y)), initial=np.inf) < 0.05:
        return  # a (near) tie: the derivative jumps there
    check(op, x, y)


@SETTINGS
@given(data=st.data())
def test_where_with_broadcasting(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3))
    condition = data.draw(hnp.arrays(np.bool_, shapes.input_shapes[0]))
    x = data.draw(arrays(shapes.input_shapes[1]))
    y = data.draw(arrays(shapes.input_shapes[2]))
    check(lambda a, b: where(condition, a, b), x, y)


@SETTINGS
@given(data=st.data())
def test_masked_fill(data):
    x = data.draw(arrays(NONSCALAR_SHAPES))
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    check(lambda a: a.masked_fill(mask, 0.25), x)


@SETTINGS
@given(x=arrays(SHAPES, st.one_of(floats(-2.0, -1.1), floats(-0.9, 0.4), floats(0.6, 2.0))))
def test_clamp(x):
    check(lambda a: a.clamp(-1.0, 0.5), x)


@pytest.mark.parametrize("name", ["var", "std"])
@SETTINGS
@given(data=st.data())
def test_var_std(name, data):
    x = data.draw(arrays(NONSCALAR_SHAPES))
    dim = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    keepdim = data.draw(st.booleans())
    correction = data.draw(st.sampled_from([0, 1]))
    count = x.size if dim is None else x.shape[dim]
    if count - correction <= 0 or (name == "std" and np.min(np.var(x, axis=dim), initial=np.inf) < 1e-3):
        return  # no spread: var's divisor is 0, or std sits at sqrt's kink
    check(lambda a: getattr(a, name)(dim=dim, keepdim=keepdim, correction=correction), x)


@pytest.mark.parametrize("name", ["amax", "amin", "min"])
@SETTINGS
@given(data=st.data())
def test_amax_amin_and_min_of_everything(name, data):
    x = data.draw(arrays(SHAPES))
    if not spread_apart(x):
        return
    dim = None if name == "min" else data.draw(st.one_of(st.none(), st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1)))
    if x.ndim == 0 and dim is not None:
        dim = None
    check(lambda a: getattr(a, name)(dim), x)


@SETTINGS
@given(data=st.data())
def test_min_along_a_dim(data):
    x = data.draw(arrays(NONSCALAR_SHAPES))
    if not spread_apart(x):
        return
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    keepdim = data.draw(st.booleans())
    check(lambda a: a.min(dim=dim, keepdim=keepdim).values, x)


SHAPE_OPS = {
    "view(-1)": lambda a: a.view(-1),
    "unsqueeze(0)": lambda a: a.unsqueeze(0),
    "unsqueeze(-1)": lambda a: a.unsqueeze(-1),
    "squeeze()": lambda a: a.squeeze(),
    "permute reversed": lambda a: a.permute(*reversed(range(a.ndim))),
    "flatten()": lambda a: a.flatten(),
    "flatten(1)": lambda a: a.flatten(min(1, a.ndim - 1) if a.ndim else 0),
    "expand(2, *shape)": lambda a: a.expand(2, *a.shape),
    "expand of a length-1 axis": lambda a: a[..., :1].expand(*a.shape[:-1], 3) if a.ndim else a.expand(3),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
@SETTINGS
@given(x=arrays(SHAPES))
def test_shape_ops(name, x):
    check(SHAPE_OPS[name], x)


@SETTINGS
@given(x=arrays(SHAPES))
def test_cast_to_float32_and_back(x):
    # Linear, so only float32's rounding (~1e-7) disturbs the difference: a wide step and a
    # tolerance of 1e-3 leave room for it and none for a wrong gradient.
    inputs = [Tensor(x, requires_grad=True)]
    assert gradcheck(lambda a: (a.float() * 3.0).double(), inputs, eps=1e-2, rtol=1e-3, atol=1e-3).ok
