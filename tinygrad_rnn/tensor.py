"""Tensor: a NumPy array that remembers the op that made it, so backward() can run the chain rule."""
from __future__ import annotations

import numbers
import weakref

import numpy as np

from . import ops
from .autograd import STATE, check_finite, run_backward

DEFAULT_DTYPE = np.float64


def _as_array(data, dtype) -> np.ndarray:
    """A fresh NumPy array: float64 for Python numbers and lists, NumPy arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        array = np.array(data, dtype=dtype)
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)
    else:
        array = np.array(data)
        if array.dtype.kind in "biu":
            array = array.astype(DEFAULT_DTYPE)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: cannot hold data of dtype {array.dtype} (shape {array.shape}); "
            "give numbers, nested lists of numbers or a numeric NumPy array"
        )
    return array


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    `requires_grad=True` marks a leaf whose gradient backward() accumulates in `.grad`;
    every op on such a tensor records itself (`_ctx`) so the graph can be walked back.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "scope", "__weakref__")
    __array_ufunc__ = None  # NumPy operands defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        array = _as_array(data, dtype)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point data can require a gradient, got dtype {array.dtype} "
                f"with shape {array.shape}; pass dtype=np.float64 (or float32)"
            )
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = name
        self.scope = STATE.scope_path

    @staticmethod
    def _from_op(data: np.ndarray, ctx) -> "Tensor":
        """The output of an op (no copy, no checks): the fast path every op takes."""
        t = object.__new__(Tensor)
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t.name = None
        t.scope = STATE.scope_path
        return t

    # ------------------------------------------------------------ properties
    shape = property(lambda self: self.data.shape, doc="The array's shape.")
    dtype = property(lambda self: self.data.dtype, doc="The array's dtype.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    size = property(lambda self: self.data.size, doc="Number of elements.")
    is_leaf = property(lambda self: self._ctx is None, doc="True when no recorded op made this tensor.")
    op = property(lambda self: self._ctx, doc="The recorded op that made this tensor (None for a leaf).")

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return len(self.data)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(tensor) gives the values (never an object array of elements)."""
        if copy:
            return np.array(self.data, dtype=dtype)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (no gradient flows through it)."""
        t = Tensor._from_op(self.data, None)
        t.name = self.name
        return t

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark a leaf as needing a gradient (in place); returns self."""
        if self._ctx is not None:
            raise RuntimeError("requires_grad_(): only leaf tensors can be marked; use detach() first")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_(): dtype {self.dtype} cannot require a gradient")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> "Tensor":
        """Keep this non-leaf tensor's gradient in `.grad` after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): the tensor does not require grad")
        if self._ctx is not None:  # a leaf keeps its gradient anyway
            self._ctx.retains_grad = True
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", prefix="Tensor(")
        extras = []
        if self.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"op={type(self._ctx).__name__}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        if self.scope:
            extras.append(f"scope={self.scope!r}")
        return f"Tensor({body}{''.join(', ' + e for e in extras)})"

    def __setitem__(self, index, value):
        raise TypeError("Tensor does not support item assignment; build a new tensor (stack, concatenate)")

    # ------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's .grad, weighted by `gradient` for non-scalars."""
        if not self.requires_grad:
            raise RuntimeError(
                "backward(): this tensor does not require grad; "
                "no tensor it was computed from has requires_grad=True"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): the tensor has shape {self.shape}; a non-scalar needs "
                    "`gradient` (dL/dself, same shape) or reduce it first, e.g. .sum()"
                )
            seed = np.ones_like(self.data)
        else:
            seed = np.array(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(
                    f"backward(): gradient has shape {seed.shape} but the tensor has shape {self.shape}"
                )
        run_backward(self, seed, retain_graph)

    def _accumulate_grad(self, g: np.ndarray) -> None:
        """grad += g (a fresh owned array the first time, so later updates never alias)."""
        if self.grad is None:
            self.grad = np.array(g, dtype=self.data.dtype)
        else:
            self.grad += g

    # ------------------------------------------------------------ arithmetic
    def _lift(self, other) -> "Tensor":
        """Wrap a scalar, list or array as a constant tensor; Python numbers take self's dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, numbers.Number) or isinstance(other, (list, tuple)):
            dtype = self.dtype if self.dtype.kind == "f" else None  # int tensor * 0.5 must not round 0.5 to 0
            return Tensor._from_op(np.asarray(other, dtype=dtype), None)
        if isinstance(other, np.ndarray) or isinstance(other, np.generic):
            return Tensor._from_op(np.asarray(other), None)
        raise TypeError(f"cannot combine a Tensor with {type(other).__name__}")

    def __add__(self, other): return apply(ops.Add, self, self._lift(other))
    def __radd__(self, other): return apply(ops.Add, self._lift(other), self)
    def __sub__(self, other): return apply(ops.Sub, self, self._lift(other))
    def __rsub__(self, other): return apply(ops.Sub, self._lift(other), self)
    def __mul__(self, other): return apply(ops.Mul, self, self._lift(other))
    def __rmul__(self, other): return apply(ops.Mul, self._lift(other), self)
    def __truediv__(self, other): return apply(ops.Div, self, self._lift(other))
    def __rtruediv__(self, other): return apply(ops.Div, self._lift(other), self)
    def __matmul__(self, other): return apply(ops.MatMul, self, self._lift(other))
    def __rmatmul__(self, other): return apply(ops.MatMul, self._lift(other), self)
    def __neg__(self): return apply(ops.Neg, self)

    def __pow__(self, exponent):
        if not isinstance(exponent, numbers.Real) or isinstance(exponent, bool):
            raise TypeError(
                f"pow: the exponent must be a number, got {type(exponent).__name__}; "
                "for a tensor exponent y write (y * x.log()).exp()"
            )
        return apply(ops.Pow, self, exponent=exponent)

    def __rpow__(self, base):
        if not isinstance(base, numbers.Real) or base <= 0:
            raise ValueError(f"pow: a number raised to a Tensor needs a positive base, got {base!r}")
        return (self * float(np.log(base))).exp()

    def matmul(self, other): return self @ other

    # ------------------------------------------------------------ elementwise
    def exp(self): return apply(ops.Exp, self)
    def log(self): return apply(ops.Log, self)
    def tanh(self): return apply(ops.Tanh, self)
    def sigmoid(self): return apply(ops.Sigmoid, self)
    def relu(self): return apply(ops.Relu, self)

    def sqrt(self):
        """x ** 0.5."""
        return self ** 0.5

    def clip(self, min=None, max=None):
        """Values limited to [min, max]; the gradient is zero where a bound was hit."""
        if min is None and max is None:
            raise ValueError("clip: give min, max or both")
        return apply(ops.Clip, self, low=min, high=max)

    # ------------------------------------------------------------ along an axis
    def softmax(self, axis: int = -1): return apply(ops.Softmax, self, axis=axis)
    def log_softmax(self, axis: int = -1): return apply(ops.LogSoftmax, self, axis=axis)

    def logsumexp(self, axis=None, keepdims: bool = False):
        return apply(ops.LogSumExp, self, axis=axis, keepdims=keepdims)

    def sum(self, axis=None, keepdims: bool = False): return apply(ops.Sum, self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims: bool = False): return apply(ops.Mean, self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims: bool = False): return apply(ops.Max, self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None) -> "Tensor":
        """Indices of the maxima (integer tensor, no gradient)."""
        return Tensor._from_op(np.argmax(self.data, axis=axis), None)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape):
        return apply(ops.Reshape, self, shape=_sizes(shape))

    def transpose(self, *axes):
        return apply(ops.Transpose, self, axes=_sizes(axes) or None)

    @property
    def T(self):
        """Axes reversed (the matrix transpose for 2-D)."""
        return apply(ops.Transpose, self, axes=None)

    def __getitem__(self, index):
        return apply(ops.GetItem, self, index=_plain_index(index))


def _sizes(args: tuple) -> tuple:
    """Sizes given either spread out, f(2, 3), or as one sequence, f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args


def _plain_index(index):
    """Replace Tensors and lists inside an index by NumPy arrays."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def apply(op_class, *inputs: Tensor, **options) -> Tensor:
    """Run `op_class` forward on the inputs' arrays; record it when recording is on and some
    input needs a gradient.

    The op's graph parents are, for each input, the op that made it (`_ctx`) or the input
    itself when it is a leaf."""
    parents, needs_grad, arrays = [], [], []
    for x in inputs:
        parents.append(x if x._ctx is None else x._ctx)
        needs_grad.append(x.requires_grad)
        arrays.append(x.data)
    needs_grad = tuple(needs_grad)
    op = op_class(tuple(parents), needs_grad)
    try:
        out = op.forward(*arrays, **options)
    except (ValueError, IndexError, TypeError) as error:
        raise _op_error(op_class, inputs, error) from error
    return _output(out, op, needs_grad, inputs)


def _output(out: np.ndarray, op, needs_grad: tuple, parents: tuple) -> Tensor:
    """The op's output tensor, linked to the op only when recording and some input needs a gradient."""
    if STATE.anomaly:
        check_finite(out, "forward", op, [p.shape for p in parents], STATE.scope_path)
    if not (STATE.grad_enabled and True in needs_grad):
        return Tensor._from_op(out, None)
    tensor = Tensor._from_op(out, op)
    op.shape, op.scope, op.output = out.shape, tensor.scope, weakref.ref(tensor)
    return tensor


def _op_error(op_class, parents: tuple, error: Exception) -> Exception:
    """The same kind of error, naming the op, the scope and the input shapes."""
    shapes = ", ".join(str(p.shape) for p in parents)
    where = f" in scope '{STATE.scope_path}'" if STATE.scope_path else ""
    return type(error)(f"{op_class.__name__}{where}: {error} (input shapes: {shapes})")


def _check_sequence(name: str, tensors) -> list:
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor")
    bad = [type(t).__name__ for t in tensors if not isinstance(t, Tensor)]
    if bad:
        raise TypeError(f"{name}: expects Tensors, got {', '.join(bad)}")
    return tensors


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight^T + bias as one recorded op; weight (out, in), bias broadcast to the result."""
    if bias is None:
        return apply(ops.Linear, x, weight)
    return apply(ops.Linear, x, weight, bias)


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    return apply(ops.Stack, *_check_sequence("stack", tensors), axis=axis)


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return apply(ops.Concatenate, *_check_sequence("concatenate", tensors), axis=axis)


def zeros(*shape, requires_grad: bool = False, dtype=DEFAULT_DTYPE) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_sizes(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, requires_grad: bool = False, dtype=DEFAULT_DTYPE) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_sizes(shape), dtype=dtype), requires_grad=requires_grad)
