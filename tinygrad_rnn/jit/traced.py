"""Traced: an ndarray that writes down every NumPy call made on it while a step is traced.

The step runs for real (every value is computed, so the first call is an ordinary eager
call); each NumPy call whose arguments hold a traced array goes through `Recorder.call`,
which runs it on the plain arrays, wraps the arrays it returns as new traced variables and
appends one statement. Ufuncs and NumPy functions arrive through NumPy's own protocols
(__array_ufunc__, __array_function__); the ndarray methods and indexing the ops use are
overridden below. A traced value that leaves the array world (bool(), float(), .item())
is a value the step branches on: the recorder decides what that means (`escape`); so are its
bytes and its .flat iterator, which hand out elements past the tracer.

Outside a trace (no recorder), a Traced array left over from one behaves as a plain ndarray.
"""

from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from . import recorder as _recorder


def plain(array: np.ndarray) -> np.ndarray:
    """The same memory as an ordinary ndarray."""
    return np.ndarray.view(array, np.ndarray)


class Traced(np.ndarray):
    """An ndarray bound to one variable of the trace (`_var`; None for a view NumPy made
    behind the recorder's back, which a statement may not use)."""

    def __array_finalize__(self, obj):
        self._var = None

    # ------------------------------------------------------------ NumPy's protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        rec = _recorder.active()
        if rec is None:
            return _plainly(getattr(ufunc, method), inputs, kwargs)
        return rec.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        rec = _recorder.active()
        if rec is None:
            return _plainly(func, args, kwargs)
        return rec.function(func, args, kwargs)

    # ------------------------------------------------------------ indexing and iteration
    def __getitem__(self, index):
        return _method(self, "__getitem__", (index,), {})

    def __setitem__(self, index, value):
        _method(self, "__setitem__", (index, value), {})

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    # ------------------------------------------------------------ values leaving the trace
    def __bool__(self):
        return _escape(self, "bool")

    def __float__(self):
        return _escape(self, "float")

    def __int__(self):
        return _escape(self, "int")

    def __index__(self):
        return _escape(self, "index")

    def __complex__(self):
        return _escape(self, "complex")

    def item(self, *args):
        return _escape(self, "item", args)

    def tolist(self):
        return _escape(self, "tolist")

    def tobytes(self, order="C"):
        return _escape(self, "tobytes", (order,))

    @property
    def flat(self):
        return _escape(self, "flat")

    def __repr__(self):
        return repr(plain(self))

    def __str__(self):
        return str(plain(self))

    def __format__(self, spec):
        return format(plain(self), spec)

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def __reduce__(self):
        return plain(self).__reduce__()

    @property
    def T(self):
        return _method(self, "T", (), {}, kind="attr")

    @property
    def mT(self):
        return _method(self, "mT", (), {}, kind="attr")


def _plainly(function, args, kwargs):
    """Call `function` with every Traced array replaced by its plain view."""
    return function(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})


def _unwrap(value):
    if isinstance(value, Traced):
        return plain(value)
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _method(self, name, args, kwargs, kind="method"):
    rec = _recorder.active()
    if rec is None:
        bound = getattr(plain(self), name)
        return bound if kind == "attr" else bound(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()})
    return rec.method(self, name, args, kwargs, kind)


def _escape(self, how, args=()):
    rec = _recorder.active()
    result = _LEAVING[how](plain(self), *args)
    if rec is not None:
        rec.escape(self, how, result)
    return result


# How a value leaves the array world, by the name the recorder is told (`escape`)
_LEAVING: dict[str, Callable] = {
    "bool": bool,
    "float": float,
    "int": int,
    "index": operator.index,
    "complex": complex,
    "item": np.ndarray.item,
    "tolist": np.ndarray.tolist,
    "tobytes": np.ndarray.tobytes,
    "flat": operator.attrgetter("flat"),
}


_METHODS = (
    "reshape",
    "transpose",
    "swapaxes",
    "squeeze",
    "ravel",
    "flatten",
    "copy",
    "astype",
    "sum",
    "mean",
    "max",
    "min",
    "prod",
    "any",
    "all",
    "argmax",
    "argmin",
    "cumsum",
    "clip",
    "dot",
    "fill",
    "nonzero",
    "std",
    "var",
    "take",
    "repeat",
    "round",
    "conj",
    "view",
    "sort",
    "argsort",
    "diagonal",
    "trace",
    "cumprod",
    "ptp",
    "compress",
    "choose",
    "searchsorted",
    "put",
    "resize",
    "byteswap",
)


def _make_method(name):
    def method(self, *args, **kwargs):
        return _method(self, name, args, kwargs)

    method.__name__ = name
    method.__doc__ = f"ndarray.{name}, written down while tracing."
    return method


for _name in _METHODS:
    setattr(Traced, _name, _make_method(_name))
del _name
