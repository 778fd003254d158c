"""Writing one statement (ir.Stmt) back as one line of Python.

`name_of(var)` gives the expression a variable is read as (its name, or a buffer element
inside a loop); `integer(value, position)` may replace the position-th integer literal of the
statement (counting in the order they are written) by an expression of the loop counter.
"""

from __future__ import annotations

import math

import numpy as np

from .ir import Literal, Ref, Source, Stmt

NAMED_DTYPES = {
    "_" + dtype.name: dtype
    for dtype in (
        np.dtype(code) for code in ("?", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")
    )
}  # bound in every program's namespace: `_float64` costs a name look-up, np.dtype('<f8') a call


def literal(value) -> str:
    """Python source for a constant argument."""
    if isinstance(value, Source):
        return value.text
    if isinstance(value, Literal):
        value = value.value
    if value is Ellipsis:
        return "..."
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "np.nan"
        if math.isinf(value):
            return "np.inf" if value > 0 else "-np.inf"
        return repr(value)
    if isinstance(value, (int, str, complex)):
        return repr(value)
    if isinstance(value, np.dtype):
        name = "_" + value.name
        return name if NAMED_DTYPES.get(name) == value else f"np.dtype({value.str!r})"
    if isinstance(value, type):
        if issubclass(value, np.generic):
            return f"np.{value.__name__}"
        return value.__name__
    if isinstance(value, np.generic):
        return f"np.{type(value).__name__}({literal(value.item())})"
    raise TypeError(f"cannot write {value!r} as a literal")


class Writer:
    """Renders the arguments of one statement."""

    def __init__(self, name_of, integer=None, sequence=None):
        self.name_of = name_of
        self.integer = integer
        self.sequence = sequence
        self.position = 0

    def value(self, value) -> str:
        if isinstance(value, Ref):
            return self.name_of(value.var)
        if (
            self.sequence is not None
            and isinstance(value, (tuple, list))
            and value
            and all(isinstance(v, Ref) for v in value)
        ):
            text = self.sequence([v.var for v in value])
            if text is not None:
                return f"tuple({text})" if isinstance(value, tuple) else text
        if isinstance(value, tuple):
            items = [self.value(v) for v in value]
            return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, slice):
            return f"slice({self.value(value.start)}, {self.value(value.stop)}, {self.value(value.step)})"
        if isinstance(value, int) and not isinstance(value, bool):
            position = self.position
            self.position += 1
            if self.integer is not None:
                replaced = self.integer(value, position)
                if replaced is not None:
                    return replaced
            return repr(value) if value >= 0 else f"({value})"
        text = literal(value)
        return f"({text})" if text.startswith("-") else text

    def index(self, index, ellipsis: bool) -> str:
        parts = list(index) if isinstance(index, tuple) else [index]
        if ellipsis:
            parts.append(Ellipsis)
        text = [self.index_part(p) for p in parts]
        if not isinstance(index, tuple) and not ellipsis:
            return text[0]
        if not text:
            return "()"
        return ", ".join(text) + ("," if len(text) == 1 else "")

    def index_part(self, part) -> str:
        if isinstance(part, slice):
            start = "" if part.start is None else self.value(part.start)
            stop = "" if part.stop is None else self.value(part.stop)
            step = "" if part.step is None else ":" + self.value(part.step)
            return f"{start}:{stop}{step}"
        return self.value(part)

    def call_arguments(self, args, kwargs) -> str:
        items = [self.value(a) for a in args] + [f"{k}={self.value(v)}" for k, v in kwargs.items()]
        return ", ".join(items)


def expression(stmt: Stmt, w: Writer) -> str:
    """The right-hand side of the statement (or the whole statement when it assigns nothing)."""
    kind, args = stmt.kind, stmt.args
    if kind == "call":
        return f"{stmt.target}({w.call_arguments(args, stmt.kwargs)})"
    if kind == "method" and _as_reduce(stmt):
        kwargs = {"axis": stmt.kwargs.get("axis"), **{k: v for k, v in stmt.kwargs.items() if k != "axis"}}
        return f"{REDUCES[stmt.target]}({w.call_arguments(args, kwargs)})"
    if kind == "method":
        return f"{w.value(args[0])}.{stmt.target}({w.call_arguments(args[1:], stmt.kwargs)})"
    if kind == "attr":
        return f"{w.value(args[0])}.{stmt.target}"
    if kind == "binop":
        return f"{w.value(args[0])} {stmt.target} {w.value(args[1])}"
    if kind == "unop":
        return f"{stmt.target}{w.value(args[0])}"
    if kind == "inplace":
        return f"{w.value(args[0])} {stmt.target} {w.value(args[1])}"
    if kind == "getitem":
        return f"{w.value(args[0])}[{w.index(args[1], stmt.extra.get('ellipsis', False))}]"
    if kind == "setitem":
        return f"{w.value(args[0])}[{w.index(args[1], False)}] = {w.value(args[2])}"
    if kind == "guard" and stmt.target == "shape":
        return (
            f"if {w.value(args[0])}.shape != {tuple(stmt.kwargs['value'])!r}: "
            f"raise _Stale('the shape made at {_quoted(stmt.extra.get('where', ''))} changed', True)"
        )
    if kind == "guard":
        convert = "bool" if stmt.target == "bool" else "int"
        return (
            f"if {convert}({w.value(args[0])}) != {w.value(stmt.kwargs['value'])}: "
            f"raise _Stale('the value checked at {_quoted(stmt.extra.get('where', ''))} changed', True)"
        )
    if kind == "grad":
        if stmt.extra.get("hand_over"):
            return f"_hand_over({w.value(args[0])}_tensor, {w.value(args[1])})"
        return f"{w.value(args[0])}_tensor._accumulate_grad({w.value(args[1])})"
    raise ValueError(f"unknown statement kind {kind}")


# A float array's x.sum(axis=...) is np.add.reduce(x, axis=...), with the method's own call
# to it (the same numbers) and its Python layer left out; likewise max, min and prod.
REDUCES = {"sum": "np.add.reduce", "max": "np.maximum.reduce", "min": "np.minimum.reduce", "prod": "np.multiply.reduce"}


def _as_reduce(stmt: Stmt) -> bool:
    receiver = stmt.args[0]
    return (
        stmt.target in REDUCES
        and len(stmt.args) == 1
        and isinstance(receiver, Ref)
        and receiver.var.dtype.kind == "f"
        and set(stmt.kwargs) <= {"axis", "keepdims", "initial"}
    )


def line(stmt: Stmt, name_of, integer=None, sequence=None) -> str:
    """The statement as one line of Python; `sequence(vars)` may write a tuple or list of
    variables shorter (a slice of a buffer)."""
    w = Writer(name_of, integer, sequence)
    text = expression(stmt, w)
    if not stmt.outs:
        return text
    if stmt.outs[0].scalar and len(stmt.outs) == 1:
        text = f"np.asarray({text})"
    other = stmt.extra.get("zero_unless")
    if other is not None and "add_into" in stmt.extra:
        total = name_of(stmt.extra["add_into"])
        return f"if not np.isfinite({name_of(other)}).all(): {total} += {text}  # else a factor is zero"
    if other is not None:
        out = stmt.outs[0]
        shape = "(" + ", ".join(map(str, out.shape)) + ("," if len(out.shape) == 1 else "") + ")"
        text = (
            f"np.zeros({shape}, {literal(out.dtype)}) if np.isfinite({name_of(other)}).all() "
            f"else {text}  # a factor is zero on every call"
        )
    targets = ", ".join(name_of(v) for v in stmt.outs)
    if stmt.tuple_out and len(stmt.outs) == 1:
        targets += ","
    return f"{targets} = {text}"


def _quoted(text: str) -> str:
    return text.replace("\\", "/").replace("'", '"')
