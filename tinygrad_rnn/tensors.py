"""Tensor: a NumPy array that remembers the op that made it, so backward() can run the chain rule."""

from __future__ import annotations

import math
import numbers
import weakref
from typing import NamedTuple

import numpy as np

from . import ops
from .autograd import STATE, RemovableHandle, check_forward, run_backward

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

    __slots__ = ("_data", "_version", "grad", "requires_grad", "_ctx", "name", "scope", "_hooks", "__weakref__")
    __array_ufunc__ = None  # NumPy operands defer to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        array = _as_array(data, dtype)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point data can require a gradient, got dtype {array.dtype} "
                f"with shape {array.shape}; pass dtype=np.float64 (or float32)"
            )
        self._data = array
        self._version = 0
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = name
        self.scope = STATE.scope_path
        self._hooks: list | None = None

    @staticmethod
    def _from_op(data: np.ndarray, ctx) -> "Tensor":
        """The output of an op (no copy): the fast path every op takes. NumPy returns a scalar
        (np.float64, np.bool_) for many 0-d results; it becomes a 0-d array here, so `.data`
        is always an ndarray."""
        t = object.__new__(Tensor)
        t._data = data if type(data) is np.ndarray else np.asarray(data)
        t._version = 0
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t.name = None
        t.scope = STATE.scope_path
        t._hooks = None
        return t

    # ------------------------------------------------------------ properties
    @property
    def data(self) -> np.ndarray:
        """The values, a NumPy array (shared, not copied)."""
        return self._data

    @data.setter
    def data(self, array: np.ndarray) -> None:
        """Replace the values by another array; counts as a change (`_version` + 1).

        `_version` counts the changes to this tensor's values: an op that saved them for
        backward notes the count, and backward refuses to run through it once the count has
        moved (the gradient would come from values the tensor no longer has). Assigning a new
        array to `.data` counts by itself. A write into the array (`t.data -= lr * g`, which
        NumPy does in place, or `t.data[...] = v`) is not seen: the writer follows it with
        `t._version += 1`, as the optimizers and init functions do.
        """
        if array is not self._data:
            self._version += 1
        self._data = array

    shape = property(lambda self: self._data.shape, doc="The array's shape.")
    dtype = property(lambda self: self._data.dtype, doc="The array's dtype.")
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")
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

    def tolist(self):
        """The values as (nested lists of) Python numbers; a 0-d tensor gives one number."""
        return self.data.tolist()

    def clone(self) -> "Tensor":
        """A copy with an array of its own, recorded: the gradient flows back to self."""
        return apply(ops.Clone, self)

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

    def register_hook(self, hook) -> RemovableHandle:
        """Call hook(grad) during backward with the gradient flowing into this tensor (a Tensor
        of its shape, complete: every use summed); a returned Tensor or array replaces it, as in
        PyTorch. Hooks run in the order registered; the handle's remove() takes one away. On an
        op's output the hook lives on the op, so it runs even once the tensor itself is gone."""
        if not callable(hook):
            raise TypeError(
                f"register_hook: the hook must be callable as hook(grad), got {type(hook).__name__} {hook!r}"
            )
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad; hooks see gradients only")
        if self._ctx is not None:
            if self._ctx.hooks is None:
                self._ctx.hooks = []
            hooks = self._ctx.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

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
                "backward(): this tensor does not require grad; no tensor it was computed from has requires_grad=True"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): the tensor has shape {self.shape}; a non-scalar needs "
                    "`gradient` (dL/dself, same shape) or reduce it first, e.g. .sum()"
                )
            seed = np.ones_like(self.data)
        else:
            try:
                seed = np.array(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            except (TypeError, ValueError) as error:
                raise type(error)(
                    f"backward(): gradient must be numbers of the tensor's shape {self.shape}: {error}"
                ) from None
            if seed.shape != self.shape:
                raise ValueError(f"backward(): gradient has shape {seed.shape} but the tensor has shape {self.shape}")
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

    def __add__(self, other):
        return apply(ops.Add, *promoted(self, other))

    def __radd__(self, other):
        return apply(ops.Add, *promoted(other, self))

    def __sub__(self, other):
        _refuse_bool("subtraction", self, other)
        return apply(ops.Sub, *promoted(self, other))

    def __rsub__(self, other):
        _refuse_bool("subtraction", other, self)
        return apply(ops.Sub, *promoted(other, self))

    def __mul__(self, other):
        return apply(ops.Mul, *promoted(self, other))

    def __rmul__(self, other):
        return apply(ops.Mul, *promoted(other, self))

    def __truediv__(self, other):
        return apply(ops.Div, *promoted(self, other))

    def __rtruediv__(self, other):
        return apply(ops.Div, *promoted(other, self))

    def __matmul__(self, other):
        return apply(ops.MatMul, *promoted(self, other))

    def __rmatmul__(self, other):
        return apply(ops.MatMul, *promoted(other, self))

    def __pos__(self):
        """+x is x itself, as in PyTorch."""
        return self

    def __neg__(self):
        _refuse_bool("negation", self)
        return apply(ops.Neg, self)

    def __pow__(self, exponent):
        """self ** exponent, for a number exponent (True and False count as 1 and 0) or, elementwise
        and broadcast, a Tensor or array of exponents."""
        if isinstance(exponent, (Tensor, np.ndarray)):
            return apply(ops.PowTensor, *promoted(self, exponent))
        if not isinstance(exponent, numbers.Real):
            raise TypeError(f"pow: the exponent must be a number or a tensor, got {type(exponent).__name__}")
        exponent = int(exponent) if isinstance(exponent, bool) else _python_number(exponent)
        return apply(ops.Pow, self.to(result_dtype(self, exponent)), exponent=exponent)

    def __rpow__(self, base):
        """base ** self for a number `base`, elementwise; the dtype as PyTorch's (2 ** an int
        tensor stays int64)."""
        base = _python_number(base)
        if not isinstance(base, numbers.Real):
            raise TypeError(f"pow: the base must be a number, got {type(base).__name__}")
        return apply(ops.PowerOf, self.to(result_dtype(base, self)), base=base)

    def pow(self, exponent):
        """self ** exponent, as PyTorch's pow."""
        return self**exponent

    def __abs__(self):
        return self.abs()

    def matmul(self, other):
        return self @ other

    # ------------------------------------------------------------ comparisons and Python numbers
    # Comparisons give bool tensors without a gradient; == and != compare values, so a tensor
    # hashes by identity (object's hash), as the backward walk's dicts need.
    __hash__ = object.__hash__

    def __eq__(self, other):
        return _compare(np.equal, self, other)

    def __ne__(self, other):
        return _compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _compare(np.less, self, other)

    def __le__(self, other):
        return _compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _compare(np.greater, self, other)

    def __ge__(self, other):
        return _compare(np.greater_equal, self, other)

    # Logical and bitwise ops on bool and integer tensors (masks), as in PyTorch: no gradient.
    def __invert__(self):
        return _bitwise(np.invert, "~", self)

    def __and__(self, other):
        return _bitwise(np.bitwise_and, "&", self, other)

    def __rand__(self, other):
        return _bitwise(np.bitwise_and, "&", self, other)

    def __or__(self, other):
        return _bitwise(np.bitwise_or, "|", self, other)

    def __ror__(self, other):
        return _bitwise(np.bitwise_or, "|", self, other)

    def __xor__(self, other):
        return _bitwise(np.bitwise_xor, "^", self, other)

    def __rxor__(self, other):
        return _bitwise(np.bitwise_xor, "^", self, other)

    def __bool__(self) -> bool:
        """The truth of a one-element tensor; of more elements it is ambiguous, as in PyTorch."""
        if self._data.size != 1:
            raise RuntimeError(
                f"bool(): the truth value of a tensor of shape {self.shape} is ambiguous; "
                "reduce it first, e.g. (t > 0).all()"
            )
        return bool(self._data.item())

    def __float__(self) -> float:
        """float(t) of a one-element tensor."""
        if self._data.size != 1:
            raise ValueError(f"float(): only a one-element tensor converts to a Python number, got shape {self.shape}")
        return float(self._data.item())

    def __int__(self) -> int:
        """int(t) of a one-element tensor (truncated toward zero, as int() of a float)."""
        if self._data.size != 1:
            raise ValueError(f"int(): only a one-element tensor converts to a Python number, got shape {self.shape}")
        return int(self._data.item())

    # ------------------------------------------------------------ elementwise
    def _floating(self) -> "Tensor":
        """self, or converted to DEFAULT_DTYPE when it holds integers or bools: PyTorch's input
        to exp, log, tanh, sigmoid, sin and cos (NumPy would pick float16 for a bool)."""
        return self if self.dtype.kind == "f" else self.to(DEFAULT_DTYPE)

    def exp(self):
        return apply(ops.Exp, self._floating())

    def log(self):
        return apply(ops.Log, self._floating())

    def tanh(self):
        return apply(ops.Tanh, self._floating())

    def sigmoid(self):
        return apply(ops.Sigmoid, self._floating())

    def relu(self):
        return apply(ops.Relu, self)

    def sqrt(self):
        """x ** 0.5."""
        return self**0.5

    def clip(self, min=None, max=None):
        """Values limited to [min, max]; the gradient is zero where a bound was hit."""
        if min is None and max is None:
            raise ValueError("clip: give min, max or both")
        return apply(ops.Clip, self, low=_python_number(min), high=_python_number(max))

    # ------------------------------------------------------------ along an axis
    def softmax(self, dim: int = -1, *, axis=None):
        """exp(x) / sum(exp(x)) along `dim` (NumPy's `axis=` is the same)."""
        dim = dim if axis is None else axis
        return apply(ops.Softmax, self, axis=dim)

    def log_softmax(self, dim: int = -1, *, axis=None):
        """x - logsumexp(x) along `dim` (NumPy's `axis=` is the same)."""
        dim = dim if axis is None else axis
        return apply(ops.LogSoftmax, self, axis=dim)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """log(sum(exp(x))) over `dim` (all axes when None), without overflow."""
        dim, keepdim = _dim_and_keepdim("logsumexp", dim, axis, keepdim, keepdims)
        return apply(ops.LogSumExp, self, axis=dim, keepdims=keepdim)

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The sum over `dim` (an int, a tuple, or None or () for all axes)."""
        dim, keepdim = _dim_and_keepdim("sum", dim, axis, keepdim, keepdims, empty_is_all=True)
        return apply(ops.Sum, self, axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The mean over `dim` (an int, a tuple, or None or () for all axes)."""
        dim, keepdim = _dim_and_keepdim("mean", dim, axis, keepdim, keepdims, empty_is_all=True)
        return apply(ops.Mean, self, axis=dim, keepdims=keepdim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As PyTorch's max: with no dim, the largest element (ties share the gradient, a NaN
        takes it); with dim=d (or axis=d), (values, indices) along d, the gradient going to the
        returned index (amax shares it between ties instead); with a tensor, the elementwise maximum."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        dim, keepdim = _dim_and_keepdim("max", dim, axis, keepdim, keepdims)
        if dim is None:
            return apply(ops.MaxOfAll, self, axis=None, keepdims=keepdim)
        return _values_and_indices(ops.MaxAlong, self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False, *, axis=None) -> "Tensor":
        """Indices of the maxima along `dim`, or into the flattened tensor (int64, no gradient)."""
        dim, keepdim = _dim_and_keepdim("argmax", dim, axis, keepdim, None)
        return _arg_extreme(np.argmax, "argmax", self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False, *, axis=None) -> "Tensor":
        """Indices of the minima along `dim`, or into the flattened tensor (int64, no gradient)."""
        dim, keepdim = _dim_and_keepdim("argmin", dim, axis, keepdim, None)
        return _arg_extreme(np.argmin, "argmin", self, dim, keepdim)

    def size(self, dim=None):
        """The shape (a tuple), or with `dim` the length of that axis, as PyTorch's size()."""
        if dim is None:
            return self.data.shape
        return self.data.shape[_checked_dim("size", dim, self.ndim)]

    # ------------------------------------------------------------ shape
    def reshape(self, *shape):
        return apply(ops.Reshape, self, shape=_sizes(shape))

    def transpose(self, *dims):
        """transpose(d0, d1) swaps two axes, as PyTorch's; NumPy's spellings stay: transpose()
        reverses the axes, and a full permutation (spread out or as one tuple) reorders them."""
        if len(dims) == 2 and all(isinstance(d, (int, np.integer)) for d in dims):
            if self.ndim == 0:  # dims 0 and -1 name a 0-d tensor's one value, as in PyTorch
                for d in dims:
                    _checked_dim("transpose", d, 1)
                return apply(ops.Transpose, self, axes=())
            first, second = (_checked_dim("transpose", d, self.ndim) for d in dims)
            order = list(range(self.ndim))
            order[first], order[second] = second, first
            return apply(ops.Transpose, self, axes=tuple(order))
        return apply(ops.Transpose, self, axes=_sizes(dims) or None)

    @property
    def T(self):
        """Axes reversed (the matrix transpose for 2-D)."""
        return apply(ops.Transpose, self, axes=None)

    def __getitem__(self, index):
        return apply(ops.GetItem, self, index=_plain_index(index))

    # ------------------------------------------------------------ PyTorch's idioms
    def dim(self) -> int:
        """The number of dimensions, as PyTorch's dim()."""
        return self.ndim

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    def abs(self):
        return apply(ops.Abs, self)

    def sin(self):
        return apply(ops.Sin, self._floating())

    def cos(self):
        return apply(ops.Cos, self._floating())

    def maximum(self, other):
        """Elementwise max(self, other), broadcast; a tie gives each side half the gradient."""
        return apply(ops.Maximum, *promoted(self, other))

    def minimum(self, other):
        """Elementwise min(self, other), broadcast; a tie gives each side half the gradient."""
        return apply(ops.Minimum, *promoted(self, other))

    def where(self, condition, other):
        """self where `condition` is True, else `other` (PyTorch's x.where(condition, y))."""
        return where(condition, self, other)

    def clamp(self, min=None, max=None):
        """PyTorch's name for clip(): values limited to [min, max]. A Tensor (or array) bound
        clamps elementwise, broadcast with self, and receives a gradient where it is chosen."""
        if isinstance(min, (Tensor, np.ndarray)) or isinstance(max, (Tensor, np.ndarray)):
            return _clamp_between(self, min, max)
        return self.clip(min, max)

    def masked_fill(self, mask, value):
        """`value` where the bool `mask` (broadcast to self's shape) is True, self elsewhere;
        the result has self's dtype (value converted to it, as in PyTorch). The filled positions
        send no gradient back to self."""
        mask = _as_bool_mask("masked_fill", mask)
        if np.broadcast_shapes(mask.shape, self.shape) != self.shape:
            raise ValueError(
                f"masked_fill: a mask of shape {mask.shape} does not broadcast to the tensor's shape {self.shape}"
            )
        value = self._lift(value)
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        return where(mask, value.to(self.dtype), self)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """sum((x - mean)**2) / (n - correction) over `dim` (all axes when None); correction 1
        (unbiased=True) unless told otherwise, as in PyTorch."""
        if isinstance(dim, bool):  # x.var(False): PyTorch's var(unbiased) spelling
            dim, unbiased = None, dim if unbiased is None else unbiased
        dim, keepdim = _dim_and_keepdim("var", dim, axis, keepdim, keepdims, empty_is_all=True)
        return apply(ops.Var, self, axis=dim, keepdims=keepdim, correction=_correction("var", unbiased, correction))

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """sqrt(var(...)), with var's arguments (unbiased by default, as in PyTorch)."""
        if isinstance(dim, bool):
            dim, unbiased = None, dim if unbiased is None else unbiased
        dim, keepdim = _dim_and_keepdim("std", dim, axis, keepdim, keepdims, empty_is_all=True)
        return apply(ops.Std, self, axis=dim, keepdims=keepdim, correction=_correction("std", unbiased, correction))

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The maximum over `dim` (all axes when None or ()); ties share the gradient equally."""
        dim, keepdim = _dim_and_keepdim("amax", dim, axis, keepdim, keepdims, empty_is_all=True)
        return apply(ops.Max, self, axis=dim, keepdims=keepdim)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """The minimum over `dim` (all axes when None or ()); ties share the gradient equally."""
        dim, keepdim = _dim_and_keepdim("amin", dim, axis, keepdim, keepdims, empty_is_all=True)
        return apply(ops.Amin, self, axis=dim, keepdims=keepdim)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """As PyTorch's min: with no dim, the smallest element (ties share the gradient);
        with dim=d, (values, indices) along d, the gradient going to the returned index;
        with a tensor, the elementwise minimum."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        dim, keepdim = _dim_and_keepdim("min", dim, axis, keepdim, keepdims)
        if dim is None:
            return apply(ops.MinOfAll, self, axis=None, keepdims=keepdim)
        return _values_and_indices(ops.MinAlong, self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        """True where every element over `dim` (all axes when None) is nonzero; a bool tensor
        with no gradient, as PyTorch's all()."""
        return _truth_reduction(np.all, "all", self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        """True where some element over `dim` (all axes when None) is nonzero; a bool tensor
        with no gradient, as PyTorch's any()."""
        return _truth_reduction(np.any, "any", self, dim, keepdim)

    def view(self, *shape):
        """The same elements with a new shape (one size may be -1); here the same as reshape()."""
        return self.reshape(*shape)

    def unsqueeze(self, dim: int):
        """A new axis of length 1 inserted at `dim` (-ndim-1 <= dim <= ndim)."""
        position = _checked_dim("unsqueeze", dim, self.ndim + 1)
        return self.reshape(self.shape[:position] + (1,) + self.shape[position:])

    def squeeze(self, dim=None):
        """Axes of length 1 removed: all of them, or those among `dim` (an int or a tuple);
        a named axis whose length is not 1 stays, as in PyTorch."""
        chosen: range | set[int]
        if dim is None:
            chosen = range(self.ndim)
        else:
            dims = dim if isinstance(dim, (tuple, list)) else (dim,)
            chosen = {_checked_dim("squeeze", d, max(self.ndim, 1)) for d in dims}
        dropped = {d for d in chosen if d < self.ndim and self.shape[d] == 1}
        return self.reshape(tuple(n for d, n in enumerate(self.shape) if d not in dropped))

    def permute(self, *dims):
        """The axes reordered: output axis i is input axis dims[i]."""
        dims = _sizes(dims)
        if sorted(_checked_dim("permute", d, self.ndim) for d in dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute: {tuple(dims)} is not a permutation of the {self.ndim} axes of shape {self.shape}"
            )
        return apply(ops.Transpose, self, axes=tuple(dims))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Axes start_dim..end_dim (inclusive) merged into one; a 0-d tensor becomes shape (1,)."""
        if self.ndim == 0:
            return self.reshape(1)
        start = _checked_dim("flatten", start_dim, self.ndim)
        end = _checked_dim("flatten", end_dim, self.ndim)
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} (shape {self.shape})")
        merged = math.prod(self.shape[start : end + 1])
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1 :])

    def expand(self, *sizes):
        """Broadcast to `sizes` without copying (-1 keeps an axis' length; new axes go in front);
        the gradient sums over the broadcast axes."""
        sizes = tuple(_sizes(sizes))
        if len(sizes) < self.ndim:
            raise ValueError(f"expand: {sizes} has fewer axes than the tensor's shape {self.shape}")
        lead = len(sizes) - self.ndim
        target = []
        for i, n in enumerate(sizes):
            own = self.shape[i - lead] if i >= lead else None
            if n == -1:
                if own is None:
                    raise ValueError(f"expand: -1 is not allowed for the new leading axis {i} in {sizes}")
                n = own
            if n < 0 or (own is not None and own != 1 and own != n):
                raise ValueError(f"expand: cannot expand shape {self.shape} to {sizes} (axis {i})")
            target.append(n)
        return apply(ops.Expand, self, shape=tuple(target))

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    def to(self, dtype):
        """This tensor converted to `dtype` (self when it has it already). A floating result
        is recorded, so the gradient flows back converted to this tensor's dtype; an integer
        result carries no gradient."""
        try:
            target = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"to(): {dtype!r} is not a dtype") from None
        if target.kind not in "biuf":
            raise TypeError(f"to(): cannot convert to dtype {target}; use a float, integer or bool dtype")
        if target == self.dtype:
            return self
        if target.kind != "f":
            return Tensor._from_op(self.data.astype(target), None)
        return apply(ops.Cast, self, dtype=target)


# ---------------------------------------------------------------- type promotion, as PyTorch's
# An operand with axes outranks a 0-d one, which outranks a Python number (NumPy scalars and
# lists count as numbers): a lower-ranked operand changes the result's dtype only when its
# category (bool < integer < floating) is higher. So float32 * 2.0, float32 * a 0-d float64
# tensor and float32 * an int64 array are float32; an integer tensor * 0.5 is float64
# (DEFAULT_DTYPE, the dtype of a Python float here).

CATEGORIES = {"b": 0, "i": 1, "u": 1, "f": 2}  # bool < integer < floating, by dtype.kind


def _category(dtype: np.dtype) -> int:
    if dtype.kind not in CATEGORIES:
        raise TypeError(f"cannot combine a Tensor with an array of dtype {dtype}")
    return CATEGORIES[dtype.kind]


def _promote_types(a, b):
    """The smallest dtype holding both (None: no operand yet); across categories, the higher one's."""
    if a is None or b is None:
        return b if a is None else a
    if _category(a) != _category(b):
        return a if _category(a) > _category(b) else b
    return np.promote_types(a, b)


def _operand_dtype(value) -> tuple:
    """(dtype, rank) of one operand: rank 2 with axes, 1 for 0-d, 0 for a Python number."""
    if isinstance(value, (Tensor, np.ndarray)):
        return value.dtype, 2 if value.ndim else 1
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_), 0
    if isinstance(value, numbers.Integral):
        return np.dtype(np.int64), 0
    if isinstance(value, numbers.Real):
        return np.dtype(DEFAULT_DTYPE), 0
    if isinstance(value, (list, tuple)):
        dtype = np.array(value).dtype
        return (dtype if dtype.kind in "biu" else np.dtype(DEFAULT_DTYPE)), 0
    raise TypeError(f"cannot combine a Tensor with {type(value).__name__}")


def result_dtype(*values) -> np.dtype:
    """The dtype of an op's result on `values` (Tensors, arrays, lists, numbers), as PyTorch's."""
    by_rank = [None, None, None]
    for value in values:
        dtype, rank = _operand_dtype(value)
        by_rank[rank] = _promote_types(by_rank[rank], dtype)
    result = None
    for dtype in by_rank:  # numbers, then 0-d, then with axes: each outranks what came before
        if result is None or (dtype is not None and _category(dtype) >= _category(result)):
            result = dtype if dtype is not None else result
        elif dtype is not None and dtype.kind == "b":
            result = _promote_types(dtype, result)
    assert result is not None, "result_dtype needs at least one value"
    return result


def promoted(*values) -> tuple | list:
    """`values` as Tensors of their result_dtype (a Tensor of another dtype is converted by a
    recorded Cast, so its gradient comes back in its own dtype)."""
    dtype = values[0]._data.dtype if isinstance(values[0], Tensor) else None
    for v in values:
        if not isinstance(v, Tensor) or v._data.dtype != dtype:
            break
    else:
        return values  # tensors of one dtype, the usual case: nothing to convert
    dtype = None
    for v in values:  # a floating dtype with Python numbers beside it: decided without result_dtype
        if isinstance(v, Tensor) or isinstance(v, np.ndarray):
            own = v.dtype
            if dtype is None:
                dtype = own
            elif own != dtype:
                dtype = None
                break
        elif type(v) is not float and type(v) is not int:
            dtype = None
            break
    if dtype is None or dtype.kind != "f":
        dtype = result_dtype(*values)
    converted = []
    for v in values:
        if isinstance(v, Tensor):
            converted.append(v if v._data.dtype == dtype else v.to(dtype))
        else:
            converted.append(Tensor._from_op(np.asarray(v, dtype=dtype), None))
    return converted


def _refuse_bool(what: str, *operands) -> None:
    """A TypeError, as PyTorch's, when an operand of `what` (subtraction, negation) is a bool
    tensor, array or number: to invert a mask, ~ is meant."""
    for value in operands:
        if isinstance(value, (bool, np.bool_)) or (isinstance(value, (Tensor, np.ndarray)) and value.dtype == np.bool_):
            shapes = ", ".join(str(v.shape) if isinstance(v, Tensor) else type(v).__name__ for v in operands)
            raise TypeError(f"{what} with a bool operand is not supported ({shapes}); to invert a mask use ~")


def _compare(ufunc, x: Tensor, other) -> Tensor:
    """ufunc(x, other) on the promoted values: a bool tensor, recorded nowhere."""
    try:
        dtype = result_dtype(x, other)
    except TypeError:
        return NotImplemented
    right = other.data if isinstance(other, Tensor) else _as_array(other, dtype)
    return Tensor._from_op(ufunc(x.data.astype(dtype, copy=False), right.astype(dtype, copy=False)), None)


def _bitwise(ufunc, symbol: str, x: Tensor, *other) -> Tensor:
    """ufunc on bool or integer operands, promoted as arithmetic: a tensor without gradient.
    A floating operand is a TypeError, as in PyTorch."""
    try:
        dtype = result_dtype(x, *other)
    except TypeError:
        return NotImplemented
    if dtype.kind not in "biu":
        shapes = " and ".join(str(np.shape(v.data if isinstance(v, Tensor) else v)) for v in (x, *other))
        raise TypeError(
            f"{symbol}: needs bool or integer tensors, got shapes {shapes} of dtype {dtype}; "
            "compare floats first, e.g. (x > 0) & (x < 1)"
        )
    return Tensor._from_op(ufunc(*(_as_array(v, dtype) for v in (x, *other))), None)


def _python_number(value):
    """A NumPy scalar as the Python number it holds (so that it promotes as a number); anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def _sizes(args: tuple) -> tuple:
    """Sizes given either spread out, f(2, 3), or as one sequence, f((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args


def _plain_index(index):
    """Replace Tensors and lists inside an index by NumPy arrays; an empty list picks nothing,
    as in PyTorch (NumPy would read it as a float array and refuse it)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        array = np.asarray(index)
        return array.astype(np.int64) if array.size == 0 else array
    return index


def apply(op_class, *inputs: Tensor, **options) -> Tensor:
    """Run `op_class` forward on the inputs' arrays; record it when recording is on and some
    input needs a gradient.

    The op's graph parents are, for each input, the op that made it (`_ctx`) or the input
    itself when it is a leaf."""
    parents, needs_grad, arrays, leaf_versions = [], [], [], []
    for i, x in enumerate(inputs):  # one pass, cheaper than comprehensions
        if x._ctx is None:
            parents.append(x)
            leaf_versions.append((i, x._version))
        else:
            parents.append(x._ctx)
        needs_grad.append(x.requires_grad)
        arrays.append(x._data)
    op = op_class(tuple(parents), tuple(needs_grad))
    try:
        out = op.forward(*arrays, **options)
    except (ValueError, IndexError, TypeError) as error:
        raise _op_error(op_class, inputs, error) from error
    if STATE.anomaly:
        check_forward(out, op, inputs, STATE.scope_path)
    if not (STATE.grad_enabled and True in needs_grad):
        return Tensor._from_op(out, None)
    tensor = Tensor._from_op(out, op)
    op.shape, op.scope, op.output = tensor._data.shape, tensor.scope, weakref.ref(tensor)
    if op.saved is not None and leaf_versions:  # backward will read saved values: note the leaves' versions
        op.versions = tuple(leaf_versions)
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
    """x @ weight^T + bias as one recorded op; weight (out, in), bias broadcast to the result;
    operands of different dtypes are promoted first (see result_dtype)."""
    if bias is None:
        return apply(ops.Linear, *promoted(x, weight))
    return apply(ops.Linear, *promoted(x, weight, bias))


def stack(tensors, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    return apply(ops.Stack, *promoted(*_check_sequence("stack", tensors)), axis=axis)


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return apply(ops.Concatenate, *promoted(*_check_sequence("concatenate", tensors)), axis=axis)


def zeros(*shape, requires_grad: bool = False, dtype=DEFAULT_DTYPE) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_sizes(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape, requires_grad: bool = False, dtype=DEFAULT_DTYPE) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_sizes(shape), dtype=dtype), requires_grad=requires_grad)


# ---------------------------------------------------------------- PyTorch's idioms


def where(condition, input, other) -> Tensor:
    """`input` where the bool `condition` is True, else `other`, all three broadcast together;
    input and other promoted as by an arithmetic op (see result_dtype)."""
    condition = Tensor._from_op(_as_bool_mask("where", condition), None)
    return apply(ops.Where, condition, *promoted(input, other))


def maximum(input, other) -> Tensor:
    """Elementwise max(input, other); see Tensor.maximum."""
    return _as_tensor_like(input, other).maximum(other)


def minimum(input, other) -> Tensor:
    """Elementwise min(input, other); see Tensor.minimum."""
    return _as_tensor_like(input, other).minimum(other)


def _as_tensor_like(input, other) -> Tensor:
    """`input` as a Tensor; a number takes the dtype of `other` when that is a Tensor."""
    if isinstance(input, Tensor):
        return input
    return other._lift(input) if isinstance(other, Tensor) else Tensor(input)


class ValuesAndIndices(NamedTuple):
    """What min(dim=d) and max(dim=d) return, as PyTorch's (values, indices)."""

    values: Tensor
    indices: Tensor


def _values_and_indices(op_class, x: Tensor, dim: int, keepdim: bool) -> ValuesAndIndices:
    """The values op_class picks along `dim` (recorded) and their positions (an int64 tensor)."""
    if not isinstance(dim, (int, np.integer)):
        name = "max" if op_class is ops.MaxAlong else "min"
        raise TypeError(f"{name}: dim must be one int, got {dim!r}; a{name} reduces over several")
    values = apply(op_class, x, axis=dim, keepdims=keepdim)
    if x.ndim == 0:
        positions = np.zeros((), dtype=np.int64)
    else:
        positions = op_class.pick(x.data, axis=dim, keepdims=keepdim).astype(np.int64)
    return ValuesAndIndices(values, Tensor._from_op(positions, None))


def _arg_extreme(pick, name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    """pick (np.argmax or np.argmin) of x along `dim` (None: the flattened tensor), as int64;
    over no values at all, or along a dim out of range, an error naming the op and the shape."""
    if dim is not None:
        dim = _checked_dim(name, dim, max(x.ndim, 1))  # a 0-d tensor takes dim 0 and -1
    if x.data.size == 0 and (dim is None or x.shape[dim] == 0):
        where = "every axis of an empty tensor" if dim is None else f"dim {dim}, a zero-size axis"
        raise IndexError(f"{name}: cannot reduce over {where} (shape {x.shape})")
    return Tensor._from_op(pick(x.data, axis=dim, keepdims=keepdim).astype(np.int64), None)


def _truth_reduction(reduce, name: str, x: Tensor, dim, keepdim: bool) -> Tensor:
    """np.all or np.any of x over `dim`, as a bool tensor outside the graph."""
    try:
        axes = ops.normalize_axes(dim, x.ndim)
    except IndexError as error:
        raise IndexError(f"{name}: {error} (shape {x.shape})") from None
    return Tensor._from_op(np.asarray(reduce(x.data, axis=axes, keepdims=bool(keepdim))), None)


def _dim_and_keepdim(name: str, dim, axis, keepdim, keepdims, empty_is_all: bool = False) -> tuple:
    """PyTorch's dim/keepdim, or NumPy's axis/keepdims spelling of the same. With
    `empty_is_all`, an empty `dim` tuple means every axis (None), as PyTorch's sum and mean read
    it; an empty `axis` tuple keeps NumPy's meaning, no axis."""
    if empty_is_all and isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: give dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _correction(name: str, unbiased, correction):
    """The divisor's correction: `correction` itself, 1 or 0 from `unbiased`, else 1, as PyTorch."""
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: give unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _clamp_between(x: Tensor, low, high) -> Tensor:
    """x clamped elementwise to Tensor (or array, or number) bounds, promoted together as an
    arithmetic op's operands; a missing bound is the dtype's far end (-inf or inf for floats)."""
    given = [b for b in (low, high) if b is not None]
    x, *bounds = promoted(x, *given)
    low = bounds.pop(0) if low is not None else _far_end(x.dtype, -1)
    high = bounds.pop(0) if high is not None else _far_end(x.dtype, 1)
    return apply(ops.ClampBetween, x, low, high)


def _far_end(dtype: np.dtype, sign: int) -> Tensor:
    """A 0-d constant no value of `dtype` lies beyond: -inf or inf, an integer type's limit,
    or False or True."""
    if dtype.kind == "f":
        return Tensor._from_op(np.asarray(sign * np.inf, dtype=dtype), None)
    if dtype.kind == "b":
        return Tensor._from_op(np.asarray(sign > 0), None)
    limits = np.iinfo(dtype)
    return Tensor._from_op(np.asarray(limits.max if sign > 0 else limits.min, dtype=dtype), None)


def _checked_dim(name: str, dim, ndim: int) -> int:
    """`dim` as a non-negative axis of an ndim-axis tensor, or an IndexError naming the range."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or not -ndim <= dim < ndim:
        raise IndexError(f"{name}: dim {dim!r} is out of range [{-ndim}, {ndim - 1}]")
    return int(dim) % ndim


def _as_bool_mask(name: str, mask) -> np.ndarray:
    """A bool tensor, array or list as a NumPy bool array; any other dtype is a TypeError."""
    array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_:
        raise TypeError(f"{name}: the condition must be a bool tensor, got dtype {array.dtype} (shape {array.shape})")
    return array
