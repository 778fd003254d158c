"""Differentiable ops: each a small class with its forward and its vector-Jacobian product.

The contract of an op, which `Tensor` (recording) and `autograd` (the backward walk) rely on:

- `forward(*arrays, **options)` receives the inputs' NumPy arrays (never Tensors) and the op's
  options (an axis, an exponent, an index), and returns the output as a new array; it never
  writes into an input. What backward needs is kept in `self.saved`, a tuple of arrays, so that
  `release()` frees them all at once; small non-array facts (shapes, axes) are attributes.
- `backward(g)` receives g = dL/d(output), an array of the output's shape (an op with
  `takes_indexed_grad` may receive a `grads.IndexedGrad` as it is), and returns a tuple with
  dL/d(input) for each input, in order: an array of that input's shape, a lazy gradient of
  grads.py, or None where `needs_grad` says the input needs none. It may return `g` itself or
  a view of it: the walk copies a gradient before adding into it.
- An op's docstring states its equation and its derivative.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from .grads import IndexedGrad, ZeroGrad


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` back to `shape`: the adjoint of NumPy broadcasting `shape` up to grad.shape."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def normalize_axes(axis, ndim: int) -> tuple:
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative axes.
    A 0-d array accepts axis 0 and -1, as PyTorch does, meaning its one value: no axis.
    An axis out of range is an IndexError, as PyTorch's."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    bad = [a for a in axes if not -max(ndim, 1) <= a < max(ndim, 1)]
    if bad:
        raise IndexError(f"axis {bad[0]} is out of bounds for an array of dimension {ndim}")
    return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()


def expand_reduced(grad: np.ndarray, axes: tuple, keepdims: bool, shape: tuple) -> np.ndarray:
    """Broadcast the gradient of a reduction over `axes` back to the input `shape`."""
    if len(axes) == len(shape):  # everything was reduced: one value everywhere
        return np.full(shape, grad)
    if not keepdims and axes:
        grad = np.expand_dims(grad, axes)
    return np.broadcast_to(grad, shape)


_op_numbers = itertools.count()  # recording order: an op's number exceeds its inputs' ops' numbers


class Function:
    """One recorded application of an op: a node of the graph that backward() walks.

    `parents` are the graph nodes of its inputs: for an input an op made, that op (a Function);
    for a leaf (a parameter, a constant), the tensor itself. The graph so never holds an
    intermediate tensor: its array lives only as long as the user's code or a `saved` tuple
    keeps it. What is known of the output is kept here: its `shape`, the `scope` it was made
    in, a weak reference to the tensor (`output()`, None once it is gone), whether that tensor
    asked to keep its gradient (`retains_grad`) and, under retain_grads(), the gradient (`grad`).
    For an op that saved values and has leaf parents, `versions` holds (i, parents[i]._version
    when the op was recorded) for each leaf parent i, for backward to check. A backward without
    retain_graph marks the node `released`, and `lost_saved` when it dropped saved arrays.
    """

    __slots__ = (
        "parents",
        "saved",
        "needs_grad",
        "released",
        "lost_saved",
        "number",
        "shape",
        "scope",
        "output",
        "retains_grad",
        "grad",
        "versions",
        "hooks",
    )
    takes_indexed_grad = False  # backward() receives an IndexedGrad as it is, not made dense
    scope: str  # the scope path the output was made in

    def __init__(self, parents: tuple, needs_grad: tuple):
        self.parents = parents
        self.needs_grad = needs_grad
        self.saved: Any = None  # a tuple of arrays, or None once released
        self.released = False
        self.number = next(_op_numbers)
        self.retains_grad = False
        self.grad = None
        self.versions = None
        self.hooks = None

    def forward(self, *arrays, **options) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> tuple:
        raise NotImplementedError

    def release(self) -> None:
        """Drop the saved arrays. A later backward through this node is an error when it had
        saved some (`lost_saved`, set only then); a node that saved nothing can run backward
        again, as in PyTorch."""
        if self.saved is not None:
            self.saved = None
            self.lost_saved = True
        self.released = True


# ---------------------------------------------------------------- elementwise binary


class Add(Function):
    """z = x + y;  dz/dx = 1, dz/dy = 1 (each summed back to its operand's shape)."""

    __slots__ = ("shapes",)

    def forward(self, x, y):
        self.shapes = (x.shape, y.shape)
        return x + y

    def backward(self, g):
        return unbroadcast(g, self.shapes[0]), unbroadcast(g, self.shapes[1])


class Sub(Function):
    """z = x - y;  dz/dx = 1, dz/dy = -1."""

    __slots__ = ("shapes",)

    def forward(self, x, y):
        self.shapes = (x.shape, y.shape)
        return x - y

    def backward(self, g):
        dy = unbroadcast(-g, self.shapes[1]) if self.needs_grad[1] else None
        return unbroadcast(g, self.shapes[0]), dy


class Mul(Function):
    """z = x * y;  dz/dx = y, dz/dy = x."""

    def forward(self, x, y):
        self.saved = (x, y)
        return x * y

    def backward(self, g):
        x, y = self.saved
        dx = unbroadcast(g * y, x.shape) if self.needs_grad[0] else None
        dy = unbroadcast(g * x, y.shape) if self.needs_grad[1] else None
        return dx, dy


class Div(Function):
    """z = x / y;  dz/dx = 1/y, dz/dy = -x/y**2 = -z/y. A division by 0 gives inf or NaN,
    quietly, as in PyTorch (so do the derivatives there)."""

    __slots__ = ("x_shape",)

    def forward(self, x, y):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = x / y
        self.x_shape = x.shape
        self.saved = (y, z)
        return z

    def backward(self, g):
        y, z = self.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            g_over_y = g / y
            dy = -g_over_y * z if self.needs_grad[1] else None
        dx = unbroadcast(g_over_y, self.x_shape) if self.needs_grad[0] else None
        return dx, None if dy is None else unbroadcast(dy, y.shape)


def _rows(a: np.ndarray) -> np.ndarray:
    """`a` as a matrix of rows: every axis but the last folded into one (none: one row)."""
    return a if a.ndim == 2 else a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _rows_times(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    """a @ m for a matrix m as one 2-D product over the rows of `a`, however many axes it has
    (np.dot of a 3-D array is several times slower), shaped back like `a`'s rows."""
    if a.ndim <= 2:
        return np.dot(a, m)
    return np.dot(_rows(a), m).reshape(a.shape[:-1] + m.shape[1:])


class MatMul(Function):
    """z = x @ y (NumPy rules: 1-D, 2-D, batched);  dx = g @ y^T, dy = x^T @ g.

    With a matrix y (the usual weight), every leading axis of x is a batch of rows: forward,
    dx and dy are each one 2-D product over all the rows, however many axes x has.
    """

    def forward(self, x, y):
        self.saved = (x, y)
        if y.ndim != 2 or x.ndim == 0:
            return np.matmul(x, y)
        return _rows_times(x, y)

    def backward(self, g):
        x, y = self.saved
        if y.ndim == 2:
            dx = _rows_times(g, y.T) if self.needs_grad[0] else None
            dy = np.dot(_rows(x).T, _rows(g)) if self.needs_grad[1] else None
            return dx, dy
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        if y.ndim == 1:  # first, so that 1-D @ 1-D (a 0-d g) becomes (1, 1)
            g = np.expand_dims(g, -1)
        if x.ndim == 1:
            g = np.expand_dims(g, -2)
        dx = dy = None
        if self.needs_grad[0]:
            dx = unbroadcast(np.matmul(g, np.swapaxes(y2, -1, -2)), x2.shape).reshape(x.shape)
        if self.needs_grad[1]:
            dy = unbroadcast(np.matmul(np.swapaxes(x2, -1, -2), g), y2.shape).reshape(y.shape)
        return dx, dy


class Linear(Function):
    """z = x @ w^T + b, w of shape (out, in), b (optional) broadcast to z's shape;
    dx = g @ w,  dw = g^T @ x over every row of x (all leading axes),  db = g summed back to b's shape.

    One op for what would be a transpose, a product and a sum: a layer's affine map, and a
    recurrent step's h_{t-1} @ W_hh^T + p_t with the step's input term p_t as b.
    """

    __slots__ = ("bias_shape",)

    def forward(self, x, w, b=None):
        if w.ndim != 2:
            raise ValueError(f"the weight must be a matrix (out, in), got shape {w.shape}")
        if x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"x's last axis must have the weight's {w.shape[1]} columns, got x {x.shape}")
        self.saved = (x, w)
        z = _rows_times(x, w.T)
        if b is None:
            return z
        self.bias_shape = b.shape
        if b.dtype != z.dtype and np.result_type(z, b) != z.dtype:
            z = z.astype(np.result_type(z, b))
        try:
            z += b  # in place, into the fresh product
        except ValueError:
            raise ValueError(
                f"the bias of shape {b.shape} does not broadcast to the output's shape {z.shape}"
            ) from None
        return z

    def backward(self, g):
        x, w = self.saved
        dx = _rows_times(g, w) if self.needs_grad[0] else None
        dw = np.dot(_rows(g).T, _rows(x)) if self.needs_grad[1] else None
        if len(self.parents) == 2:
            return dx, dw
        return dx, dw, unbroadcast(g, self.bias_shape) if self.needs_grad[2] else None


# ---------------------------------------------------------------- elementwise unary


class Neg(Function):
    """z = -x;  dz/dx = -1."""

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


def _power(x: np.ndarray, p) -> np.ndarray:
    """x ** p, with p = -0.5 taken as 1 / sqrt(x), as PyTorch does: so (-0.0) ** -0.5 = -inf
    and (-inf) ** -0.5 = NaN (C's pow gives inf and 0). NumPy already takes p = 0.5 as sqrt."""
    return 1 / np.sqrt(x) if p == -0.5 else x**p


class Pow(Function):
    """z = x ** p for a constant p;  dz/dx = p * x ** (p - 1), and 0 for p = 0 (z = 1 everywhere,
    even at x = 0, where the formula would give 0 * inf). 0 ** -1 = inf, overflow to inf and
    a negative x to a fractional p (NaN) come quietly, as in PyTorch. p = +-0.5 is a square
    root, as in PyTorch: at x = -0.0 the derivative of x ** 0.5 is -inf; at x = -inf both
    the value and the derivative are NaN."""

    __slots__ = ("exponent",)

    def forward(self, x, exponent):
        self.exponent = exponent
        self.saved = (x,)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _power(x, exponent)

    def backward(self, g):
        (x,) = self.saved
        p = self.exponent
        if p == 0:
            return (np.zeros_like(g),)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (g * (p * _power(x, p - 1)),)


class PowerOf(Function):
    """z = c ** x for a constant base c (a number);  dz/dx = z * log(c), with PyTorch's values
    where log(c) is not finite: 0 where c = 0 and x >= 0 (z is 1 or 0 there), -inf * z where
    c = 0 and x < 0, NaN everywhere for c < 0 (log of a negative number)."""

    __slots__ = ("base",)

    def forward(self, x, base):
        self.base = np.asarray(base, dtype=x.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = np.power(self.base, x)
        self.saved = (x, z)
        return z

    def backward(self, g):
        x, z = self.saved
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dz = z * np.log(self.base)
            if self.base == 0:
                dz = np.where(x >= 0, 0, dz).astype(z.dtype, copy=False)
            return (g * dz,)


class PowTensor(Function):
    """z = x ** y for tensors x and y (broadcast together);
    dz/dx = y * x ** (y - 1), and 0 where y = 0 (z = 1 there, even at x = 0);
    dz/dy = z * log(x), and 0 where x = 0 and y >= 0 (z is 1 or 0 there), as in PyTorch.
    Elsewhere log(0) = -inf and the log of a negative x (NaN) come quietly."""

    def forward(self, x, y):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            z = np.power(x, y)
        self.saved = (x, y, z)
        return z

    def backward(self, g):
        x, y, z = self.saved
        dx = dy = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.needs_grad[0]:
                dx = unbroadcast(np.where(y == 0, 0, g * (y * x ** (y - 1))).astype(z.dtype, copy=False), x.shape)
            if self.needs_grad[1]:
                zero = (x == 0) & (y >= 0)
                dy = unbroadcast(np.where(zero, 0, g * (z * np.log(x))).astype(z.dtype, copy=False), y.shape)
        return dx, dy


class Exp(Function):
    """z = exp(x);  dz/dx = z. An overflow to inf comes quietly, as in PyTorch."""

    def forward(self, x):
        with np.errstate(over="ignore"):
            z = np.exp(x)
        self.saved = (z,)
        return z

    def backward(self, g):
        with np.errstate(invalid="ignore", over="ignore"):  # 0 * inf is NaN, the answer
            return (g * self.saved[0],)


class Log(Function):
    """z = log(x);  dz/dx = 1/x. log(0) = -inf and log(-1) = NaN come quietly, as in PyTorch,
    and so does the derivative 1/0 = inf."""

    def forward(self, x):
        self.saved = (x,)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (g / self.saved[0],)


class Tanh(Function):
    """z = tanh(x);  dz/dx = 1 - z**2 (from the output, so it never overflows)."""

    def forward(self, x):
        z = np.tanh(x)
        self.saved = (z,)
        return z

    def backward(self, g):
        z = self.saved[0]
        return (g * (1.0 - z * z),)


class Sigmoid(Function):
    """z = 1 / (1 + exp(-x));  dz/dx = z (1 - z).

    Computed from e = exp(-|x|), which never overflows: z = 1 / (1 + e) for x >= 0 and
    e / (1 + e) for x < 0, so z keeps its relative accuracy in the far left tail
    (sigmoid(-40) = 4.25e-18, not 0)."""

    def forward(self, x):
        with np.errstate(under="ignore"):  # exp(-1000) is 0: underflow is the right answer here
            e = np.exp(-np.abs(x))
            z = np.where(x >= 0, 1, e) / (1 + e)
        self.saved = (z,)
        return z

    def backward(self, g):
        z = self.saved[0]
        return (g * z * (1.0 - z),)


class Relu(Function):
    """z = max(x, 0);  dz/dx = 0 where x <= 0, else 1 (at NaN too, as PyTorch: z is NaN there).
    The gradient is selected, not multiplied by the 0/1 mask, so where x <= 0 it is exactly 0
    even for an inf or NaN g, as in PyTorch (relu(x).sqrt() at x < 0 has gradient 0)."""

    def forward(self, x):
        self.saved = (~(x <= 0),)
        return np.maximum(x, 0)

    def backward(self, g):
        return (np.where(self.saved[0], g, 0),)


class Clip(Function):
    """z = min(max(x, low), high);  dz/dx = 1 where low <= x <= high, else 0 (selected, as
    in PyTorch: exactly 0 outside even for an inf or NaN g)."""

    def forward(self, x, low, high):
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.saved = (inside,)
        return np.clip(x, low, high)

    def backward(self, g):
        return (np.where(self.saved[0], g, 0),)


class ClampBetween(Function):
    """z = min(max(x, low), high) elementwise, low and high arrays broadcast with x (a NaN in
    any of the three gives NaN);  with PyTorch's choice of who receives g:
    dz/dx = 1 where low <= x <= high, dz/dlow = 1 where x < low < high,
    dz/dhigh = 1 where x > high or high < low (else 0). A missing bound is passed as -inf or inf."""

    def forward(self, x, low, high):
        self.saved = (x, low, high)
        return np.minimum(np.maximum(x, low), high)

    def backward(self, g):
        x, low, high = self.saved
        dx = unbroadcast(np.where((x >= low) & (x <= high), g, 0), x.shape) if self.needs_grad[0] else None
        dlow = unbroadcast(np.where((x < low) & (low < high), g, 0), low.shape) if self.needs_grad[1] else None
        dhigh = unbroadcast(np.where((x > high) | (high < low), g, 0), high.shape) if self.needs_grad[2] else None
        return dx, dlow, dhigh


class BinaryCrossEntropy(Function):
    """l = -(y log p + (1 - y) log(1 - p)), each log clamped below at log(floor) (PyTorch: -100);
    dl/dp = (p - y) / max(p (1 - p), eps) with eps = float32(1e-12), PyTorch's rule, so p = 0
    or 1 gives a large finite slope;  dl/dy = log(1 - p) - log(p) = -logit(p), unclamped as in
    PyTorch: +-inf at p = 0 or 1."""

    EPSILON = float(np.float32(1e-12))  # PyTorch's floor on p (1 - p), a float32 1e-12 in every dtype

    def forward(self, p, y, floor):
        log_p = np.log(np.maximum(p, floor))
        log_not_p = np.log(np.maximum(1.0 - p, floor))
        self.saved = (p, y)
        return -(y * log_p + (1.0 - y) * log_not_p)

    def backward(self, g):
        p, y = self.saved
        floor = p.dtype.type(self.EPSILON)
        dp = g * (p - y) / np.maximum(p * (1.0 - p), floor) if self.needs_grad[0] else None
        dy = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore"):  # log(0) = -inf: the slope in y is infinite there
                dy = g * (np.log(1.0 - p) - np.log(p))
        return dp, dy


# ---------------------------------------------------------------- along an axis


def _max_along(x: np.ndarray, axis) -> np.ndarray:
    """max(x) along `axis`, kept as an axis of length 1: -inf over a size-0 axis, NaN where a
    NaN is among the values."""
    if x.dtype.kind != "f":
        return x.max(axis=axis, keepdims=True)
    return x.max(axis=axis, keepdims=True, initial=-np.inf)


# The softmax family subtracts the maximum first, so exp never overflows. x - max can still
# overflow to -inf (1e308 - -1e308); exp(-inf) = 0 is then the right answer, and so is an
# underflow to 0: both are silenced.


class Softmax(Function):
    """z = exp(x - max) / sum(exp(x - max));  dx = z * (g - sum(g * z)). Over a size-0 axis,
    an empty result."""

    __slots__ = ("axis",)

    def forward(self, x, axis):
        self.axis = axis
        with np.errstate(under="ignore", over="ignore", invalid="ignore"):
            e = np.exp(x - _max_along(x, axis))
            z = e / e.sum(axis=axis, keepdims=True)
        self.saved = (z,)
        return z

    def backward(self, g):
        z = self.saved[0]
        with np.errstate(under="ignore"):
            return (z * (g - (g * z).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """z = x - logsumexp(x);  dx = g - softmax(x) * sum(g). Over a size-0 axis, an empty result."""

    __slots__ = ("axis",)

    def forward(self, x, axis):
        self.axis = axis
        with np.errstate(under="ignore", over="ignore", divide="ignore", invalid="ignore"):
            shifted = x - _max_along(x, axis)
            z = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        self.saved = (z,)
        return z

    def backward(self, g):
        z = self.saved[0]
        with np.errstate(under="ignore"):
            return (g - np.exp(z) * g.sum(axis=self.axis, keepdims=True),)


class LogSumExp(Function):
    """z = m + log(sum(exp(x - m))) with m = max(x) (0 where that is infinite);  dx = g * softmax(x).
    Over a size-0 axis, log(0) = -inf, as PyTorch."""

    __slots__ = ("axes", "keepdims")

    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        m = _max_along(x, self.axes)
        m = np.where(np.isinf(m), 0.0, m).astype(m.dtype)
        with np.errstate(under="ignore", over="ignore", divide="ignore", invalid="ignore"):
            e = np.exp(x - m)
            total = e.sum(axis=self.axes, keepdims=True)
            self.saved = (e / total,)
            z = m + np.log(total)
        return z if keepdims else np.squeeze(z, axis=self.axes)

    def backward(self, g):
        p = self.saved[0]
        with np.errstate(under="ignore"):
            return (expand_reduced(g, self.axes, self.keepdims, p.shape) * p,)


# ---------------------------------------------------------------- reductions


class Sum(Function):
    """z = sum(x, axes);  dx = g broadcast back over the summed axes."""

    __slots__ = ("axes", "keepdims", "input_shape")

    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.input_shape = x.shape
        return np.asarray(x.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, g):
        return (expand_reduced(g, self.axes, self.keepdims, self.input_shape),)


class Mean(Function):
    """z = sum(x, axes) / n;  dx = g / n broadcast back, n = number of elements averaged (`count`).
    Over no elements (n = 0), z is 0 / 0 = NaN, quietly, as in PyTorch."""

    __slots__ = ("axes", "keepdims", "input_shape", "count")

    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.input_shape = x.shape
        self.count = math.prod(x.shape[a] for a in self.axes)
        with np.errstate(invalid="ignore", divide="ignore"):
            if x.dtype == np.float16:  # NumPy's mean adds float16 in float32 and cannot overflow
                return np.asarray(x.mean(axis=self.axes, keepdims=keepdims))
            return np.asarray(x.sum(axis=self.axes, keepdims=keepdims) / self.count)  # the same, cheaper

    def backward(self, g):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (expand_reduced(g / self.count, self.axes, self.keepdims, self.input_shape),)


class Max(Function):
    """z = max(x, axes);  dx = g at the maxima (shared equally between ties), 0 elsewhere.
    Where a NaN is among the values, z is NaN and so is dx, as PyTorch's amax."""

    __slots__ = ("axes", "keepdims")
    nans_share_gradient = False

    def forward(self, x, axis, keepdims):
        self.axes = normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        z = self._extreme(x)
        is_extreme = x == z
        if self.nans_share_gradient:
            is_extreme |= np.isnan(x) & np.isnan(z)
        with np.errstate(invalid="ignore"):  # no value equals a NaN: 0 / 0 is NaN, the answer
            self.saved = (is_extreme / is_extreme.sum(axis=self.axes, keepdims=True),)
        return z if keepdims else np.squeeze(z, axis=self.axes)

    def _extreme(self, x):
        """The reduced values, axes kept (Amin takes the minimum instead)."""
        return x.max(axis=self.axes, keepdims=True)

    def backward(self, g):
        share = self.saved[0]
        g = expand_reduced(g, self.axes, self.keepdims, share.shape)
        if self.nans_share_gradient:  # exact zeros away from the extremes, even for a NaN g
            return (np.where(share != 0, g * share, 0),)
        return (g * share,)


class MaxOfAll(Max):
    """z = max(x) over every axis, as PyTorch's max(): as Max, except that where a NaN is among
    the values (z is NaN), the NaNs share g, and every other element gets an exact 0."""

    nans_share_gradient = True


# ---------------------------------------------------------------- shape


class Reshape(Function):
    """z = x viewed with a new shape;  dx = g viewed with x's shape."""

    __slots__ = ("input_shape",)

    def forward(self, x, shape):
        self.input_shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.input_shape),)


class Transpose(Function):
    """z = x with its axes permuted;  dx = g with the inverse permutation."""

    __slots__ = ("axes",)

    def forward(self, x, axes):
        z = np.transpose(x, axes)  # checks the axes; negative ones are allowed
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else tuple(int(a) % x.ndim for a in axes)
        return z

    def backward(self, g):
        return (np.transpose(g, tuple(self.axes.index(a) for a in range(len(self.axes)))),)


class GetItem(Function):
    """z = x[index];  dx = zeros like x with g added at index (repeats add up), kept sparse."""

    __slots__ = ("index", "input_shape")

    def forward(self, x, index):
        self.index = index
        self.input_shape = x.shape
        return x[index]

    def backward(self, g):
        return (IndexedGrad(self.index, g, self.input_shape),)


class Concatenate(Function):
    """z = concatenate(xs, axis);  dx_i = the slice of g that x_i filled."""

    __slots__ = ("axis", "bounds")

    def forward(self, *xs, axis):
        z = np.concatenate(xs, axis=axis)  # first: it names an axis out of range
        self.axis = axis
        self.bounds = list(itertools.accumulate(x.shape[axis] for x in xs))[:-1]
        return z

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Stack(Function):
    """z = stack(xs, axis);  dx_i = g taken at position i along `axis`.

    When only z[i] was used (the last hidden state of a stacked sequence), the sparse gradient
    goes to x_i as it is and every other input receives a ZeroGrad: zero, without an array.
    """

    __slots__ = ("axis",)
    takes_indexed_grad = True

    def forward(self, *xs, axis):
        self.axis = axis
        if axis == 0 and len({x.shape for x in xs}) == 1:
            return np.array(xs)  # the same as np.stack along axis 0, with less overhead
        return np.stack(xs, axis=axis)

    def backward(self, g):
        if type(g) is IndexedGrad:
            position = g.position_along(self.axis)
            if position is not None:
                zero = ZeroGrad(g.values.shape, g.values.dtype)
                return tuple(g.values if i == position else zero for i in range(len(self.parents)))
            g = g.dense()
        return tuple(np.moveaxis(g, self.axis, 0))


# ================================================================ PyTorch's tensor idioms
# Elementwise math, selection, statistics and shape ops under PyTorch's names; a NaN or an
# inf input gives PyTorch's value and gradient.


class Abs(Function):
    """z = |x|;  dz/dx = sign(x), 0 at x = 0 and at NaN (as PyTorch)."""

    def forward(self, x):
        self.saved = (np.where(np.isnan(x), 0, np.sign(x)),)
        return np.abs(x)

    def backward(self, g):
        return (g * self.saved[0],)


class Sin(Function):
    """z = sin(x);  dz/dx = cos(x)."""

    def forward(self, x):
        self.saved = (x,)
        with np.errstate(invalid="ignore"):  # sin(inf) is NaN, the answer rather than a warning
            return np.sin(x)

    def backward(self, g):
        with np.errstate(invalid="ignore"):
            return (g * np.cos(self.saved[0]),)


class Cos(Function):
    """z = cos(x);  dz/dx = -sin(x)."""

    def forward(self, x):
        self.saved = (x,)
        with np.errstate(invalid="ignore"):
            return np.cos(x)

    def backward(self, g):
        with np.errstate(invalid="ignore"):
            return (-g * np.sin(self.saved[0]),)


class Maximum(Function):
    """z = max(x, y) elementwise, a NaN on either side giving NaN;
    dz/dx = 1 where x > y, 1/2 where x == y, 0 where x < y (dz/dy the mirror image);
    where a NaN is compared neither order holds and both receive g, as in PyTorch."""

    def forward(self, x, y):
        self.saved = (x, y)
        return np.maximum(x, y)

    def backward(self, g):
        x, y = self.saved
        shared = np.where(x == y, g / 2, g)
        dx = unbroadcast(np.where(x < y, 0, shared), x.shape) if self.needs_grad[0] else None
        dy = unbroadcast(np.where(x > y, 0, shared), y.shape) if self.needs_grad[1] else None
        return dx, dy


class Minimum(Function):
    """z = min(x, y) elementwise, a NaN on either side giving NaN;
    dz/dx = 1 where x < y, 1/2 where x == y, 0 where x > y (dz/dy the mirror image);
    where a NaN is compared both receive g, as in PyTorch."""

    def forward(self, x, y):
        self.saved = (x, y)
        return np.minimum(x, y)

    def backward(self, g):
        x, y = self.saved
        shared = np.where(x == y, g / 2, g)
        dx = unbroadcast(np.where(x > y, 0, shared), x.shape) if self.needs_grad[0] else None
        dy = unbroadcast(np.where(x < y, 0, shared), y.shape) if self.needs_grad[1] else None
        return dx, dy


class Where(Function):
    """z = x where condition else y (all three broadcast together);
    dx = g where condition (else 0), dy = g where not condition; the condition has no gradient."""

    __slots__ = ("shapes",)

    def forward(self, condition, x, y):
        if condition.dtype != np.bool_:
            raise TypeError(f"the condition must be a bool tensor, got dtype {condition.dtype}")
        self.shapes = (x.shape, y.shape)
        self.saved = (condition,)
        return np.where(condition, x, y)

    def backward(self, g):
        (condition,) = self.saved
        dx = unbroadcast(np.where(condition, g, 0), self.shapes[0]) if self.needs_grad[1] else None
        dy = unbroadcast(np.where(condition, 0, g), self.shapes[1]) if self.needs_grad[2] else None
        return None, dx, dy


def _centered(x: np.ndarray, axes: tuple) -> np.ndarray:
    """x - mean(x, axes), the mean kept broadcastable (NaN over an empty selection, quietly)."""
    count = math.prod(x.shape[a] for a in axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x - x.sum(axis=axes, keepdims=True) / count


class Var(Function):
    """z = sum((x - mean)**2, axes) / (n - correction), n the number of elements reduced
    (correction 1 is the unbiased estimate);  dx = g * 2 (x - mean) / (n - correction).

    With n - correction <= 0 the divisor is 0, as in PyTorch: z is inf, or NaN where every
    element equals the mean, and dx is g * inf, or g * NaN where x equals the mean."""

    __slots__ = ("axes", "keepdims", "divisor")

    def forward(self, x, axis, keepdims, correction):
        self.axes = normalize_axes(axis, x.ndim)
        self.keepdims = keepdims
        self.divisor = max(0, math.prod(x.shape[a] for a in self.axes) - correction)
        centered = _centered(x, self.axes)
        self.saved = (centered,)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.sum(centered * centered, axis=self.axes, keepdims=keepdims) / self.divisor)

    def backward(self, g):
        centered = self.saved[0]
        g = expand_reduced(g, self.axes, self.keepdims, centered.shape)
        if self.divisor == 0:
            with np.errstate(invalid="ignore"):
                return (g * np.where(centered == 0, np.nan, np.inf).astype(centered.dtype),)
        return (g * centered * (2.0 / self.divisor),)


class Std(Var):
    """z = sqrt(var(x, axes, correction));  dx = g * (x - mean) / ((n - correction) z),
    and 0 where z = 0 (a constant input), as in PyTorch."""

    def forward(self, x, axis, keepdims, correction):
        z = np.sqrt(super().forward(x, axis, keepdims, correction))
        self.saved += (z,)
        return z

    def backward(self, g):
        z = self.saved[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            grad_of_var = np.where(z == 0, 0, g / (2 * z))
        return super().backward(grad_of_var)


class Amin(Max):
    """z = min(x, axes);  dx = g at the minima (shared equally between ties), 0 elsewhere;
    NaN wherever the minimum is NaN, as in PyTorch's amin."""

    __slots__ = ()

    def _extreme(self, x):
        return x.min(axis=self.axes, keepdims=True)


class MinOfAll(Amin):
    """z = min(x) over every axis, as PyTorch's min(): as Amin, except that where a NaN is among
    the values (z is NaN), the NaNs share g, and every other element gets an exact 0."""

    nans_share_gradient = True


class MinAlong(Function):
    """z = x at i = argmin(x, axis): the first minimum along one axis, or the first NaN;
    dx = g at i, 0 elsewhere. Only the returned index receives the gradient, as for
    PyTorch's min(dim=d), unlike amin, which shares it between ties."""

    __slots__ = ("axis", "keepdims", "input_shape")
    pick: Any = staticmethod(np.argmin)

    def forward(self, x, axis, keepdims):
        self.input_shape = x.shape
        self.keepdims = keepdims
        if x.ndim == 0:
            if axis not in (0, -1):
                raise IndexError(f"dim {axis} is out of range for a 0-d tensor (use 0 or -1)")
            self.axis = None
            return x.copy()
        (self.axis,) = normalize_axes(axis, x.ndim)
        if x.shape[self.axis] == 0:
            raise ValueError(f"cannot reduce over dim {axis}, a zero-size axis (shape {x.shape})")
        index = self.pick(x, axis=self.axis, keepdims=True)
        self.saved = (index,)
        z = np.take_along_axis(x, index, axis=self.axis)
        return z if keepdims else np.squeeze(z, axis=self.axis)

    def backward(self, g):
        if self.axis is None:
            return (g,)
        (index,) = self.saved
        after = len(self.input_shape) - self.axis - 1
        positions = np.arange(self.input_shape[self.axis]).reshape((-1,) + (1,) * after)
        return (np.where(positions == index, g if self.keepdims else np.expand_dims(g, self.axis), 0),)


class MaxAlong(MinAlong):
    """z = x at i = argmax(x, axis): the first maximum along one axis, or the first NaN;
    dx = g at i, 0 elsewhere (PyTorch's max(dim=d); amax shares the gradient between ties)."""

    pick: Any = staticmethod(np.argmax)


class Expand(Function):
    """z = x broadcast to `shape` (a read-only view, as PyTorch's expand is a view);
    dx = g summed over the broadcast axes."""

    __slots__ = ("input_shape",)

    def forward(self, x, shape):
        self.input_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, g):
        return (unbroadcast(g, self.input_shape),)


class Cast(Function):
    """z = x converted to another floating dtype;  dx = g converted back to x's dtype."""

    __slots__ = ("input_dtype",)

    def forward(self, x, dtype):
        self.input_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.input_dtype),)


class Clone(Function):
    """z = a copy of x (an array of its own);  dz/dx = 1."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g,)
