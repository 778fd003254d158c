"""What a trace writes down: variables (arrays) and statements (one NumPy call each).

A variable stands for one array object of the traced run. A statement is one NumPy call made
while the step ran: its kind says how it is written back as Python (a call, a method, an
infix operator, indexing), its arguments hold variables where the call received traced
arrays and plain Python values everywhere else (shapes, axes, numbers: literals). A call that
wrote into an array it was given (`out=`, `+=`, item assignment) names that variable in
`writes`; replaying the statements in order then reproduces every in-place update and every
view exactly as the run made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Var:
    """One array of the traced run: its shape and dtype, where it came from and a name hint.

    `source` is None for an array a statement made, else where the program reads it on every
    call: ("arg", i) for the i-th argument (an array), ("arg_tensor", i) for the data of a
    Tensor argument, ("tensor", t) for the data of a Tensor that existed before the call (a
    parameter), ("cell", cell) or ("global", namespace, name) for an array read from outside.
    `scalar` marks a 0-d result that plain NumPy returns as a scalar: the program wraps it in
    np.asarray so it stays an array, as the trace kept it. `value` keeps the value of a small
    array whose elements all hold it (simplify.py writes such constants as numbers).
    """

    __slots__ = (
        "__weakref__",
        "contiguous",
        "dtype",
        "hint",
        "number",
        "owner",
        "scalar",
        "shape",
        "source",
        "stmt",
        "value",
    )

    def __init__(self, number: int, hint: str, shape: tuple, dtype, source=None):
        self.number, self.hint, self.shape, self.dtype, self.source = number, hint, shape, dtype, source
        self.stmt: Stmt | None = None  # the statement that made it (None for an input)
        self.scalar = False
        self.owner: Any = None  # the recorder that made it
        self.contiguous = False  # whether the traced array was C-contiguous
        self.value = None  # the one value every element of a small traced array holds, if any

    def __repr__(self) -> str:
        return f"Var({self.number}, {self.hint!r}, {self.shape})"


class Ref:
    """A use of a variable inside a statement's arguments."""

    __slots__ = ("var",)

    def __init__(self, var: Var):
        self.var = var

    def __repr__(self) -> str:
        return f"Ref({self.var.number})"


class Literal:
    """An array baked into the program (only NumPy scalars and dtypes end up here)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Source:
    """An argument written as the Python text it holds (a row of a buffer the program made)."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


@dataclass(eq=False)
class Stmt:
    """One NumPy call.

    kind:   "call"    target(*args, **kwargs)          target: "np.tanh", "np.add.at", ...
            "method"  args[0].target(*args[1:], **kwargs)
            "attr"    args[0].target                     (x.T)
            "binop"   args[0] target args[1]             (x + y, x > 0)
            "unop"    target args[0]                     (-x)
            "inplace" args[0] target= args[1]            (x += y)
            "getitem" args[0][args[1]]
            "setitem" args[0][args[1]] = args[2]
            "guard"   the program stops (and the call runs eagerly) unless bool(args[0]) == kwargs["value"]
                      (target "bool" or "int"), or args[0].shape == kwargs["value"] (target "shape")
            "grad"    args[0] (a Tensor) accumulates args[1] into its .grad, as backward() does
    outs:   the variables it made (a tuple; empty for none)
    writes: the variable it wrote into, or None
    op, phase, scope: the op whose forward or backward made the call (its class name, None
            outside any op), "forward" or "backward", and the scope it ran in ("layer0/t=3")
    """

    kind: str
    target: str
    args: tuple
    kwargs: dict
    outs: tuple = ()
    writes: Var | None = None
    op: str | None = None
    phase: str = "forward"
    scope: str = ""
    index: int = 0
    tuple_out: bool = False  # the call returned a tuple of arrays (outs unpacked)
    extra: dict = field(default_factory=dict)
    reads: tuple | None = None  # what refs() found, once

    def refs(self) -> tuple:
        """Every variable the statement reads, in order (with repeats)."""
        if self.reads is None:
            found: list = []
            _refs_in(self.args, found)
            _refs_in(tuple(self.kwargs.values()), found)
            self.reads = tuple(found)
        return self.reads

    def makes_new_array(self) -> bool:
        """True when the statement returns a new array: not a view, not an array it was given."""
        if self.writes is not None:
            return False
        if self.kind in ("binop", "unop"):
            return True
        if self.kind == "call":
            name = self.target[3:] if self.target.startswith("np.") else ""
            is_ufunc = isinstance(getattr(np, name, None), np.ufunc) and "out" not in self.kwargs
            return is_ufunc or (self.target in _NEW_ARRAY_CALLS and self.kwargs.get("copy", True) is not False)
        return self.kind == "method" and self.target in _NEW_ARRAY_METHODS and "out" not in self.kwargs


_NEW_ARRAY_CALLS = {
    "np.dot",
    "np.matmul",
    "np.array",
    "np.concatenate",
    "np.stack",
    "np.zeros",
    "np.ones",
    "np.full",
    "np.zeros_like",
    "np.ones_like",
    "np.full_like",
    "np.copy",
    "np.outer",
    "np.where",
}
_NEW_ARRAY_METHODS = {"sum", "mean", "copy", "dot", "prod", "max", "min"}


def _refs_in(value, found: list) -> None:
    if type(value) is Ref:
        found.append(value.var)
    elif isinstance(value, (tuple, list)):
        for item in value:
            _refs_in(item, found)
    elif isinstance(value, slice):
        _refs_in((value.start, value.stop, value.step), found)


def renamed(value, names: dict):
    """A statement's argument with every variable in `names` read as the one it maps to."""
    if type(value) is Ref:
        return Ref(names[value.var]) if value.var in names else value
    if isinstance(value, tuple):
        return tuple(renamed(v, names) for v in value)
    if isinstance(value, list):
        return [renamed(v, names) for v in value]
    if isinstance(value, slice):
        return slice(*(renamed(v, names) for v in (value.start, value.stop, value.step)))
    return value
