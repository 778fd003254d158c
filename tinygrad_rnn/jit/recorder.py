"""The recorder: turns the NumPy calls of one traced run into statements (see ir.py).

Every argument of a recorded call is sorted into one of three kinds:
  a traced array             -> a use of its variable;
  an array from outside      -> an input of the program (its Var has a `source`), when it is
                                one the recorder was told about (an argument, a Tensor's data,
                                an array in the function's closure or globals); any other
                                plain array (a random draw, an array reached through a
                                container) cannot be read again on the next call, so the step
                                falls back to eager;
  anything else              -> a literal (shapes, axes, Python numbers, dtypes, slices).
"""

from __future__ import annotations

import linecache
import os
import sys
from types import FrameType
from typing import Any

import numpy as np

from .ir import Literal, Ref, Stmt, Var, _refs_in
from .simplify import value_reads
from .traced import Traced, plain

_ACTIVE = None  # the recorder of the trace in progress, if any


def active():
    return _ACTIVE


def set_active(recorder) -> None:
    global _ACTIVE
    _ACTIVE = recorder


class JitError(RuntimeError):
    """A step that jit cannot compile and will not run eagerly in its place (strict=True, or
    an optimizer step or zero_grad inside the compiled function)."""


_JIT_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_JIT_DIR)
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))

# ufuncs written back as Python operators: (binary symbol, in-place symbol)
_INFIX = {
    "add": "+",
    "subtract": "-",
    "multiply": "*",
    "divide": "/",
    "true_divide": "/",
    "power": "**",
    "matmul": "@",
    "floor_divide": "//",
    "remainder": "%",
    "greater": ">",
    "greater_equal": ">=",
    "less": "<",
    "less_equal": "<=",
    "equal": "==",
    "not_equal": "!=",
    "bitwise_and": "&",
    "bitwise_or": "|",
    "bitwise_xor": "^",
    "logical_and": None,
    "logical_or": None,
}
_UNARY = {"negative": "-", "invert": "~", "positive": "+"}
# NumPy functions whose result depends only on shapes, dtypes or memory layout: constants
_SHAPE_FUNCTIONS = {
    "shape",
    "ndim",
    "size",
    "result_type",
    "shares_memory",
    "may_share_memory",
    "min_scalar_type",
    "can_cast",
    "iscomplexobj",
    "isrealobj",
    "isfortran",
}
# calls whose result's shape depends on the values in their first array, not only on its shape
_DATA_SHAPED = {
    "nonzero",
    "flatnonzero",
    "argwhere",
    "unique",
    "unique_values",
    "unique_counts",
    "unique_inverse",
    "unique_all",
    "extract",
    "trim_zeros",
    "bincount",
    "histogram",
    "histogram_bin_edges",
    "setdiff1d",
    "compress",
    "intersect1d",
    "union1d",
    "setxor1d",
    "arange",
    "linspace",
    "geomspace",
    "logspace",
    "zeros",
    "ones",
    "empty",
    "full",
    "eye",
    "identity",
    "tri",
}
# calls whose result's shape follows from their arguments' shapes whatever their values
_SHAPE_SAFE = {
    "take",
    "take_along_axis",
    "put_along_axis",
    "where",
    "clip",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "choose",
    "select",
    "dot",
    "vdot",
    "matmul",
    "einsum",
    "tensordot",
    "outer",
    "inner",
    "kron",
    "copyto",
    "putmask",
    "searchsorted",
    "isin",
    "array",
    "asarray",
    "asanyarray",
    "ascontiguousarray",
    "asfortranarray",
    "copy",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "fill",
    "put",
    "astype",
    "round",
    "around",
    "nan_to_num",
    "interp",
    "allclose",
    "isclose",
    "array_equal",
    "squeeze",
    "expand_dims",
    "moveaxis",
    "swapaxes",
    "transpose",
    "ravel",
    "flatten",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "real",
    "imag",
    "conj",
}


def user_frame(depth: int):
    """The innermost frame outside this package's jit code and NumPy, starting `depth` up."""
    frame: FrameType | None = sys._getframe(depth)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith((_JIT_DIR, _NUMPY_DIR)):
            return frame
        frame = frame.f_back
    return None


def outside_package(frame):
    """The first frame from `frame` outward that is not in this package (else `frame`)."""
    current = frame
    while current is not None:
        if not os.path.abspath(current.f_code.co_filename).startswith(_PACKAGE_DIR):
            return current
        current = current.f_back
    return frame


def describe_frame(frame) -> str:
    """ "file.py:12: the line" for a frame."""
    if frame is None:
        return "an unknown line"
    filename, line = frame.f_code.co_filename, frame.f_lineno
    text = linecache.getline(filename, line).strip()
    return f"{filename}:{line}" + (f" ({text})" if text else "")


class Recorder:
    """The statements of one traced run and everything the program will read on each call."""

    def __init__(self, strict: bool, function_name: str):
        self.strict, self.function_name = strict, function_name
        self.stmts: list[Stmt] = []
        self.inputs: list[Var] = []
        self.external_arrays: dict[int, tuple] = {}  # id(array) -> (array, source, hint)
        self.input_of_array: dict[int, Var] = {}  # id(plain array) -> its input Var
        self.fallback_reason: str | None = None
        self.numbers = 0
        self.depth = 0  # > 0 while a recorded call runs: NumPy's own calls inside it are not recorded
        self.unverified: dict = {}  # arrays from NumPy's constructors, not used yet (see constructor)
        self._keep_alive: list = []  # every input array, so that no id() is reused during the trace

    # ------------------------------------------------------------ variables
    def new_var(self, array: np.ndarray, hint: str, source=None) -> Var:
        self.numbers += 1
        var = Var(self.numbers, hint, array.shape, array.dtype, source)
        var.owner = self
        var.contiguous = array.flags.c_contiguous
        if source is not None:
            self.inputs.append(var)
        return var

    def traced(self, array: np.ndarray, var: Var):

        wrapper = np.ndarray.view(array, Traced)
        wrapper._var = var
        return wrapper

    def input(self, array: np.ndarray, source, hint: str):
        """A traced view of `array`, an input of the program read from `source` on every call."""
        known = self.input_of_array.get(id(array))
        if known is not None:
            return self.traced(array, known)
        var = self.new_var(array, hint, source)
        self.input_of_array[id(array)] = var
        self._keep_alive.append(array)
        return self.traced(array, var)

    # ------------------------------------------------------------ falling back
    def fall_back(self, reason: str) -> None:
        """The step cannot be compiled: strict raises, otherwise the first reason is kept and
        the run goes on eagerly."""
        if self.strict:
            raise JitError(f"jit({self.function_name}): {reason}")
        if self.fallback_reason is None:
            self.fallback_reason = reason

    def refuse(self, reason: str) -> None:
        raise JitError(f"jit({self.function_name}): {reason}")

    # ------------------------------------------------------------ arguments
    def convert(self, value):
        """(the plain value to run the call with, its form in the statement)."""
        kind = type(value)
        if kind is int or kind is float or kind is bool or value is None or kind is str:
            return value, value
        if kind is Traced and (value._var is None or value._var.owner is self):
            if value._var is None:
                self.fall_back(
                    "a NumPy call received a view of a traced array that NumPy made without "
                    "telling the tracer (an ndarray attribute or method jit does not follow)"
                )
                return plain(value), None
            if value._var in self.unverified:
                self.verify(value._var, plain(value))
            return plain(value), Ref(value._var)
        if isinstance(value, np.ndarray):
            known = self.external_arrays.get(id(value))
            if known is not None:
                array, source, hint = known
                wrapper = self.input(array, source, hint)
                return value, Ref(wrapper._var)
            var = self.input_of_array.get(id(value))
            if var is not None:
                return value, Ref(var)
            base = value.base
            while base is not None:
                if (
                    isinstance(base, Traced)
                    and base._var is not None
                    and base._var.owner is self
                    and _same_view(base, value)
                ):
                    return value, Ref(base._var)
                base = getattr(base, "base", None)
            self.fall_back(
                f"a NumPy call received an array of shape {value.shape} that is neither an input, "
                "a parameter, an array in the function's closure or globals, nor made by the "
                "step's own NumPy calls (a random draw, or an array read through a container?)"
            )
            return (plain(value) if isinstance(value, Traced) else value), None  # another trace's: run it plainly
        if isinstance(value, tuple):
            pairs = [self.convert(v) for v in value]
            return tuple(p for p, _ in pairs), tuple(f for _, f in pairs)
        if isinstance(value, list):
            pairs = [self.convert(v) for v in value]
            return [p for p, _ in pairs], [f for _, f in pairs]
        if isinstance(value, slice):
            (start, stop, step), (fa, fb, fc) = self.convert((value.start, value.stop, value.step))
            return slice(start, stop, step), slice(fa, fb, fc)
        if isinstance(value, (np.generic, np.dtype, type)):
            return value, Literal(value)
        if value is None or value is Ellipsis or isinstance(value, (bool, int, float, complex, str)):
            return value, value
        self.fall_back(f"a NumPy call received a {type(value).__name__}, which jit cannot write into a program")
        return value, None

    # ------------------------------------------------------------ recording
    def context(self) -> tuple:
        """(op class name or None, phase, scope) of the NumPy call being recorded."""
        from .. import ops
        from ..autograd import STATE

        frame: FrameType | None = sys._getframe(3)
        backward = False
        op = None
        for _ in range(40):
            if frame is None:
                break
            code = frame.f_code
            name = code.co_name
            if op is None and name in ("forward", "backward"):
                owner = frame.f_locals.get("self")
                if isinstance(owner, ops.Function):
                    op, backward = owner, name == "backward" or backward
                    if name == "forward":
                        return type(op).__name__, "forward", STATE.scope_path
            if name == "run_backward":
                backward = True
                if op is None:
                    found = frame.f_locals.get("op")
                    op = found if isinstance(found, ops.Function) else None
                break
            frame = frame.f_back
        if backward:
            return (type(op).__name__ if op is not None else None), "backward", (op.scope if op is not None else "")
        return None, "forward", STATE.scope_path

    def record(
        self, kind: str, target: str, args, kwargs: dict, run, writes=None, returns=None, value_shaped: bool = False
    ):
        """Run `run(*plain_args, **plain_kwargs)`, append the statement and return the result
        with its arrays traced (`returns` instead, for a call that wrote into it). A call
        whose result's shape may follow a traced value (`value_shaped`) is followed by a guard
        on that shape: everything after it then has the traced shapes."""
        plain_args, ir_args = self.convert(tuple(args))
        plain_kwargs, ir_kwargs = {}, {}
        for key, value in kwargs.items():
            plain_kwargs[key], ir_kwargs[key] = self.convert(value)
        self.depth += 1
        try:
            result = run(*plain_args, **plain_kwargs)
        finally:
            self.depth -= 1
        op, phase, scope = self.context()
        stmt = Stmt(
            kind, target, ir_args, ir_kwargs, writes=writes, op=op, phase=phase, scope=scope, index=len(self.stmts)
        )
        hint = op.lower() if op else ("grad" if phase == "backward" else "v")
        if phase == "backward" and op:
            hint = "d_" + hint
        self.stmts.append(stmt)
        if returns is not None:
            return returns
        traced = self._outputs(result, stmt, hint)
        if value_shaped and _shape_follows_values(kind, target, ir_args, ir_kwargs):
            for var in stmt.outs:
                self.stmts.append(
                    Stmt(
                        "guard",
                        "shape",
                        (Ref(var),),
                        {"value": var.shape},
                        op=op,
                        phase=phase,
                        scope=scope,
                        index=len(self.stmts),
                        extra={"where": describe_frame(user_frame(3))},
                    )
                )
        return traced

    def _outputs(self, result, stmt: Stmt, hint: str):
        """Traced results, with the variables they were given listed in stmt.outs."""
        if result is None:
            return None
        if isinstance(result, np.ndarray):
            var = self.new_var(result, hint)
            var.stmt = stmt
            var.value = self.uniform_value(result, stmt)
            stmt.outs = (var,)
            return self.traced(result, var)
        if isinstance(result, np.generic):
            array = np.asarray(result)
            var = self.new_var(array, hint)
            var.stmt, var.scalar, var.value = stmt, True, self.uniform_value(array, stmt)
            stmt.outs = (var,)
            return self.traced(array, var)
        if isinstance(result, (tuple, list)) and result and all(isinstance(r, np.ndarray) for r in result):
            outs = []
            for item in result:
                var = self.new_var(item, hint)
                var.stmt = stmt
                outs.append(var)
            stmt.outs, stmt.tuple_out = tuple(outs), True
            traced = [self.traced(item, var) for item, var in zip(result, outs)]
            return tuple(traced) if isinstance(result, tuple) else traced
        self.fall_back(f"{stmt.target} returned a {type(result).__name__} computed from traced arrays")
        return result

    def uniform_value(self, array: np.ndarray, stmt: Stmt):
        """uniform_value(array) where the statement read constants alone (no value otherwise),
        with NumPy's calls inside it left unrecorded."""
        if any(var.value is None for var in value_reads(stmt)):
            return None
        self.depth += 1
        try:
            return uniform_value(plain(array) if isinstance(array, Traced) else array)
        finally:
            self.depth -= 1

    def _writes(self, value):
        """The variable behind an array a call is about to write into (refusing a parameter's)."""

        if isinstance(value, Traced) and value._var is not None and value._var.owner is self:
            var = value._var
            if var.source is not None and var.source[0] == "tensor":
                self.refuse(
                    f"the step writes into the data of tensor '{var.hint}' in place (an optimizer "
                    "step?); call optimizer.step() outside the compiled function"
                )
            return var
        self.fall_back("a NumPy call writes into an array the tracer does not follow")
        return None

    def ufunc(self, ufunc, method: str, inputs, kwargs):
        name = ufunc.__name__
        if method == "at":
            writes = self._writes(inputs[0])
            return self.record("call", f"np.{name}.at", inputs, kwargs, ufunc.at, writes=writes)
        function = ufunc if method == "__call__" else getattr(ufunc, method)
        out = kwargs.get("out")
        if out is not None:
            out = out if isinstance(out, tuple) else (out,)
            if len(out) != 1:
                self.fall_back(f"np.{name} with several outputs")
                return _plain_call(function, inputs, kwargs)
            kwargs = dict(kwargs, out=out[0])
            writes = self._writes(out[0])
            symbol = _INFIX.get(name)
            if (
                method == "__call__"
                and set(kwargs) == {"out"}
                and len(inputs) == 2
                and inputs[0] is out[0]
                and symbol in ("+", "-", "*", "/", "**", "//", "%", "&", "|", "^")
            ):
                return self.record(
                    "inplace",
                    symbol + "=",
                    inputs,
                    {},
                    lambda a, b: function(a, b, out=a),
                    writes=writes,
                    returns=out[0],
                )
            target = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
            return self.record("call", target, inputs, kwargs, function, writes=writes, returns=out[0])
        if method == "__call__" and not kwargs and len(inputs) == 2 and (infix := _INFIX.get(name)):
            return self.record("binop", infix, inputs, {}, function)
        if method == "__call__" and not kwargs and len(inputs) == 1 and name in _UNARY:
            return self.record("unop", _UNARY[name], inputs, {}, function)
        target = f"np.{name}" if method == "__call__" else f"np.{name}.{method}"
        return self.record("call", target, inputs, kwargs, function)

    def function(self, func, args, kwargs):
        name = func.__name__
        if name in _SHAPE_FUNCTIONS:
            return _plain_call(func, args, kwargs)
        target = f"np.{name}" if getattr(np, name, None) is func else _qualified(func)
        if kwargs.get("out") is not None:
            return self.record(
                "call", target, args, kwargs, func, writes=self._writes(kwargs["out"]), returns=kwargs["out"]
            )
        if name == "copyto":
            return self.record("call", target, args, kwargs, func, writes=self._writes(args[0]))
        return self.record("call", target, args, kwargs, func, value_shaped=True)

    def method(self, traced, name: str, args, kwargs, kind: str):
        if name == "__getitem__":
            picked_one = []

            def getitem(array, index):
                result = array[index]
                if isinstance(result, np.generic):  # one element: keep it a (0-d) view, as `a[i, ...]` does
                    picked_one.append(True)
                    return array[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
                return result

            result = self.record("getitem", "", (traced, args[0]), {}, getitem, value_shaped=True)
            if picked_one:
                self.stmts[-1].extra["ellipsis"] = True
            return result
        if name == "__setitem__":
            return self.record(
                "setitem",
                "",
                (traced,) + tuple(args),
                {},
                lambda a, i, v: a.__setitem__(i, v),
                writes=self._writes(traced),
            )
        if kind == "attr":
            return self.record("attr", name, (traced,), {}, lambda a: getattr(a, name))
        in_place = name in ("fill", "sort", "put", "resize")
        return self.record(
            "method",
            name,
            (traced,) + tuple(args),
            kwargs,
            lambda a, *rest, **kw: getattr(a, name)(*rest, **kw),
            writes=self._writes(traced) if in_place else None,
            value_shaped=not in_place,
        )

    def constructor(self, func, args, kwargs):
        """A patched NumPy constructor (np.array, np.zeros, ...): written down, so that every
        call of the program makes its own array, as the step did.

        Code that NumPy does not trace (a random generator, in C) may also call np.empty and
        fill the array itself. So a new array is checked when a statement first uses it: it
        must still hold what the constructor made (np.empty's arrays are filled with a marker
        first: their content is NumPy's choice anyway); if not, the step falls back."""

        if func.__name__ in ("asarray", "asanyarray", "ascontiguousarray") and args and isinstance(args[0], Traced):
            self.depth += 1
            try:
                same = func(plain(args[0]), *args[1:], **kwargs)
            finally:
                self.depth -= 1
            if same is plain_memory(args[0], same):
                return args[0]  # the very array it was given: no call to write down
        result = self.record("call", f"np.{func.__name__}", args, kwargs, func, value_shaped=True)
        var = getattr(result, "_var", None)
        if isinstance(result, np.ndarray) and var is not None:
            if func.__name__ == "empty" and result.dtype.kind in "fciu":
                np.ndarray.fill(result, np.nan if result.dtype.kind in "fc" else np.iinfo(result.dtype).max)
            self.unverified[var] = (func, args, kwargs)
        return result

    def verify(self, var: Var, array: np.ndarray) -> None:
        """The first use of a constructor's array: fall back if code the tracer does not see
        changed it (see constructor)."""
        func, args, kwargs = self.unverified.pop(var)
        self.depth += 1
        try:
            expected = func(*_plain_structure(args), **{k: _plain_structure(v) for k, v in kwargs.items()})
            if func.__name__ == "empty" and expected.dtype.kind in "fciu":
                expected.fill(np.nan if expected.dtype.kind in "fc" else np.iinfo(expected.dtype).max)
        finally:
            self.depth -= 1
        same = array.shape == expected.shape and np.array_equal(array, expected, equal_nan=array.dtype.kind in "fc")
        if not same:
            self.fall_back(
                f"an array of shape {array.shape} made by np.{func.__name__} was filled by code the "
                "tracer does not see before the step used it (a random draw?)"
            )

    def add_gradient(self, tensor_var: Var, g) -> None:
        """backward() accumulates g into the .grad of the tensor whose data is `tensor_var`."""
        op, _, scope = self.context()
        self.stmts.append(
            Stmt(
                "grad",
                "",
                (Ref(tensor_var), Ref(g._var)),
                {},
                op=op,
                phase="backward",
                scope=scope,
                index=len(self.stmts),
            )
        )

    def escape(self, traced, how: str, result) -> None:
        """A traced value became a Python value (bool, int, float, item, tolist)."""
        frame = user_frame(3)
        in_library = frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR)
        if in_library and how in ("bool", "int", "index") and traced._var is not None:
            op, phase, scope = self.context()
            self.stmts.append(
                Stmt(
                    "guard",
                    how,
                    (Ref(traced._var),),
                    {"value": result},
                    op=op,
                    phase=phase,
                    scope=scope,
                    index=len(self.stmts),
                    extra={"where": describe_frame(frame)},
                )
            )
            return
        shown = {
            "item": "a Python float",
            "tolist": "a Python list",
            "tobytes": "Python bytes",
            "flat": "an iterator (.flat)",
        }.get(how, "a Python " + how)
        self.fall_back(
            f"the step turns a traced value into {shown} at {describe_frame(outside_package(frame))}; "
            "a branch on values cannot be compiled"
        )


UNIFORM_MAX_SIZE = 64  # arrays up to this size are checked for one value in every element


def uniform_value(array: np.ndarray) -> np.ndarray | None:
    """The value every element of a small array holds (as a 0-d array, sign of zero included),
    or None: a constant the program may write as a number (simplify.py)."""
    if not 0 < array.size <= UNIFORM_MAX_SIZE:
        return None
    flat = array.reshape(-1)
    first = flat[:1].reshape(()).copy()
    same = flat == first
    if array.dtype.kind in "fc":
        same &= np.signbit(flat.real) == np.signbit(first.real)
    return first if same.all() else None


def _shape_follows_values(kind: str, target: str, args: tuple, kwargs: dict) -> bool:
    """Whether the result's shape of a call (its arguments as written in the statement) may
    change with the values of the arrays it reads while their shapes stay: a traced number
    as a size or a bound (np.arange(n), a[:n], np.repeat(a, counts)), a boolean mask, or a
    call whose result's length is a count of values (np.nonzero, np.unique)."""
    if kind == "getitem":
        index = args[1] if isinstance(args[1], tuple) else (args[1],)
        return any(
            isinstance(item, slice) and _reads_any(item) or type(item) is Ref and item.var.dtype == np.bool_
            for item in index
        )
    name = target.rsplit(".", 1)[-1]
    if name == "where" and len(args) + len(kwargs) == 1:  # np.where(condition) is np.nonzero
        return True
    if name in _SHAPE_SAFE:
        return False
    if name == "full":  # np.full(shape, fill_value): only the shape decides
        return _reads_any((args[:1], kwargs.get("shape")))
    if name in _DATA_SHAPED:
        return _reads_any((args, tuple(kwargs.values())))
    return _reads_any((args[1:], tuple(kwargs.values())))  # beyond the array itself: sizes, counts, shapes, indices


def _reads_any(value) -> bool:
    found: list = []
    _refs_in(value, found)
    return bool(found)


def plain_memory(traced, array):
    """`array` when it is the very memory, shape, strides and dtype of `traced`, else None."""
    if array.shape == traced.shape and array.dtype == traced.dtype and _same_view(traced, array):
        return array
    return None


def _plain_structure(value):
    from .traced import _unwrap

    return _unwrap(value)


def _plain_call(function, args, kwargs):
    from .traced import _plainly

    return _plainly(function, args, kwargs)


def _same_view(base, value) -> bool:
    interface_a, interface_b = base.__array_interface__, value.__array_interface__
    return (
        interface_a["data"][0] == interface_b["data"][0]
        and base.shape == value.shape
        and base.strides == value.strides
        and base.dtype == value.dtype
    )


def _qualified(func) -> str:
    module = getattr(func, "__module__", "") or ""
    if module.startswith("numpy"):
        parts = module.split(".")
        path = ".".join(["np"] + parts[1:])
        try:
            owner: Any = np
            for part in parts[1:]:
                owner = getattr(owner, part)
            name = func.__name__
            if getattr(owner, name, None) is func:
                return f"{path}.{name}"
        except AttributeError:
            pass
    raise JitError(f"jit: cannot name the NumPy function {func!r} in a program")
