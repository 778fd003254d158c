"""Rewrites of the recorded statements that leave every value's elements as they were, with fewer
NumPy calls: what the loss's chain of small arrays makes on every call.

- A constant: a small variable that every call makes alike and whose elements all hold one
  value (np.ones_like(loss), its negation, np.full or np.broadcast_to of it, a mean's 1/N) is
  written as that number where an elementwise operator reads it beside an array of the
  result's shape: `c * g` with c = [[-1.0, -1.0]] becomes `-1.0 * g`.
- An identity: `x * 1`, `1 * x`, `x / 1` and `x ** 1` of the same dtype and shape are x itself
  (IEEE arithmetic gives x back exactly there, NaN, inf and -0.0 included), and so are a copy
  `np.array(x)` and the one element of a stack, `np.array((x,))[0]`, that nothing writes into.
- A sum of one element: `x.sum(axis=...)` over axes of length one (a batch of one) is that
  element, -0.0, NaN and inf included: x reshaped to the sum's shape, where nothing writes into
  either.

A variable is replaced by another only where no statement writes into either of them or into an
array that may share their memory, so no in-place update can tell the two apart.
"""

from __future__ import annotations

import numpy as np

from .ir import Literal, Ref, Stmt, Var, renamed
from .rolling import is_step

_MADE_FROM_NOTHING = {"np.zeros", "np.ones", "np.full", "np.eye", "np.arange", "np.array", "np.asarray"}
_MADE_FROM_SHAPE = {"np.zeros_like", "np.ones_like", "np.full_like"}  # read their argument's shape alone
_ELEMENTWISE = {"+", "-", "*", "/"}


def simplify(stmts: list[Stmt], outputs: list[Var]) -> tuple[list[Stmt], list[Var]]:
    """The statements with constants written as numbers and identities removed, and the outputs
    as the simplified statements name them."""
    families = memory_families(stmts)
    written = {families.root(s.writes) for s in stmts if s.writes is not None}

    def unwritten(var: Var) -> bool:
        return families.root(var) not in written

    constants = _constants(stmts, unwritten)
    alias: dict[Var, Var] = {}

    def is_an_identity(stmt: Stmt) -> bool:
        """Whether stmt gives back an array it read: then later statements read that array."""
        same = _identity_of(stmt)
        if same is None or not unwritten(same) or not unwritten(stmt.outs[0]):
            return False
        alias[stmt.outs[0]] = same
        return True

    kept = []
    for stmt in stmts:
        if alias:
            stmt.args = renamed(stmt.args, alias)
            stmt.kwargs = {key: renamed(value, alias) for key, value in stmt.kwargs.items()}
            stmt.reads = None
        if is_an_identity(stmt):
            continue
        if stmt.outs and all(v in constants for v in stmt.outs):
            kept.append(stmt)  # read as numbers from now on; dropped if nothing else reads it
            continue
        _write_constants_as_numbers(stmt, constants)
        if _sum_of_one_element(stmt, unwritten):
            stmt = _as_reshape(stmt)
        if not is_an_identity(stmt):  # 1.0 * g, once the constant is a number
            kept.append(stmt)
    return kept, [alias.get(v, v) for v in outputs]


class _Families:
    """Union-find over variables: two variables share a family when one may be a view of the other."""

    def __init__(self):
        self.parent: dict[Var, Var] = {}

    def root(self, var: Var) -> Var:
        while self.parent.get(var, var) is not var:
            var = self.parent[var]
        return var

    def join(self, a: Var, b: Var) -> None:
        self.parent[self.root(a)] = self.root(b)


def memory_families(stmts: list[Stmt]) -> _Families:
    """Every statement that may not return a new array joins what it made to what it read: a
    view, np.asarray's own argument, a reshape."""
    families = _Families()
    for stmt in stmts:
        if stmt.makes_new_array():
            continue
        for out in stmt.outs:
            for read in stmt.refs():
                families.join(out, read)
    return families


def _constants(stmts: list[Stmt], unwritten) -> dict[Var, object]:
    """Variables whose elements hold one value, the same on every call, with that value (as the
    trace made it): made by a constructor from literals or from another array's shape, or by
    any NumPy call, method or operator from constants alone, and never written into."""
    constants: dict[Var, object] = {}
    for stmt in stmts:
        if stmt.writes is not None or stmt.kind in ("grad", "guard", "setitem", "inplace") or len(stmt.outs) != 1:
            continue
        (out,) = stmt.outs
        if out.value is None or not unwritten(out):
            continue
        reads = value_reads(stmt)
        if stmt.kind == "call":
            if not stmt.target.startswith("np.") or stmt.target.startswith(("np.empty", "np.random")):
                continue
            if not reads and stmt.target not in _MADE_FROM_NOTHING | _MADE_FROM_SHAPE:
                continue
        elif not reads:
            continue
        if all(v in constants for v in reads):
            constants[out] = out.value
    return constants


def value_reads(stmt: Stmt) -> tuple:
    """The variables whose values the statement's result depends on (np.ones_like(x) reads only
    x's shape): a result can be a constant only where these all are."""
    reads = stmt.refs()
    return reads[1:] if stmt.kind == "call" and stmt.target in _MADE_FROM_SHAPE else reads


def _write_constants_as_numbers(stmt: Stmt, constants: dict) -> None:
    """`c op g` (or `g op c`, `g op= c`) with c a constant becomes the number op g, where the
    result keeps g's shape and dtype. A constant that a time step reads from outside it stays an
    array: it is a state's starting value (c_0 = 0), read where the later steps read the state
    the step before made, so that the first step still matches them (rolling.py)."""
    if stmt.kind not in ("binop", "inplace") or stmt.target.rstrip("=") not in _ELEMENTWISE:
        return
    args = list(stmt.args)
    for i, other in ((0, 1), (1, 0)):
        a, b = args[i], args[other]
        if not (type(a) is Ref and a.var in constants and type(b) is Ref and b.var not in constants):
            continue
        if is_step(stmt.scope) and (a.var.stmt is None or a.var.stmt.scope != stmt.scope):
            continue
        result = stmt.writes if stmt.kind == "inplace" else stmt.outs[0]
        if result is None or b.var.shape != result.shape:
            continue
        number = _as_number(constants[a.var], b.var.dtype, result.dtype, stmt.target.rstrip("="), i)
        if number is not None:
            args[i] = number
    stmt.args, stmt.reads = tuple(args), None


def _as_number(value: np.ndarray, other_dtype, result_dtype, operator: str, position: int):
    """`value` as a Python number where the operator then gives `result_dtype` as before, else as
    a NumPy scalar of its own dtype where that does; None if neither does."""
    scalar = value.reshape(()).item()
    probe = np.ones((), other_dtype)
    for candidate in (scalar, value.reshape(())[()]):
        pair = (candidate, probe) if position == 0 else (probe, candidate)
        made = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[operator](*pair)
        if np.asarray(made).dtype == result_dtype:
            return candidate if candidate is scalar else Literal(candidate)
    return None


def _sum_of_one_element(stmt: Stmt, unwritten) -> bool:
    """Whether stmt is x.sum(axis=..., keepdims=...) adding up one element for each of its
    results, of x's own dtype, with nothing written into x or the sum."""
    if stmt.kind != "method" or stmt.target != "sum" or len(stmt.args) != 1 or type(stmt.args[0]) is not Ref:
        return False
    if set(stmt.kwargs) - {"axis", "keepdims"} or len(stmt.outs) != 1:
        return False
    x, out = stmt.args[0].var, stmt.outs[0]
    axis = stmt.kwargs.get("axis")
    axes = range(len(x.shape)) if axis is None else (axis,) if isinstance(axis, int) else axis
    if not all(isinstance(a, int) and -len(x.shape) <= a < len(x.shape) for a in axes):
        return False
    same_kind = x.dtype == out.dtype and x.dtype.kind in "fc"
    return all(x.shape[a] == 1 for a in axes) and same_kind and unwritten(x) and unwritten(out)


def _as_reshape(stmt: Stmt) -> Stmt:
    """The sum of one element written as x.reshape(the sum's shape): a 0-d array for a whole sum."""
    (out,) = stmt.outs
    out.scalar = False  # reshape gives an array, where the sum gave a NumPy scalar
    stmt.target, stmt.args, stmt.kwargs, stmt.reads = "reshape", (stmt.args[0], tuple(out.shape)), {}, None
    return stmt


def _identity_of(stmt: Stmt) -> Var | None:
    """x for `x * 1`, `1 * x`, `x / 1`, `x ** 1` and a copy `np.array(x)` giving x's dtype and
    shape, else None."""
    if len(stmt.outs) != 1:
        return None
    candidates = []
    if stmt.kind == "call" and stmt.target in ("np.array", "np.copy") and not stmt.kwargs and len(stmt.args) == 1:
        candidates = [stmt.args[0].var] if type(stmt.args[0]) is Ref else []
    if stmt.kind == "getitem":
        candidates = _stacked_element(stmt)
    if stmt.kind != "binop":
        return _same_form(candidates, stmt.outs[0])
    a, b = stmt.args
    if stmt.target in ("*", "/", "**") and type(a) is Ref and _is_one(b):
        candidates.append(a.var)
    if stmt.target == "*" and type(b) is Ref and _is_one(a):
        candidates.append(b.var)
    return _same_form(candidates, stmt.outs[0])


def _stacked_element(stmt: Stmt) -> list:
    """[x] for `np.array((x,))[0]`: the one step of a layer's stacked outputs taken out again.
    (A longer stack stays: a loop writes the steps into its rows, and the backward pass reads
    them stacked.)"""
    stacked, index = stmt.args
    made = stacked.var.stmt if type(stacked) is Ref else None
    if made is None or type(index) is not int or not (made.kind == "call" and made.target == "np.array"):
        return []
    if made.kwargs or len(made.args) != 1 or not isinstance(made.args[0], tuple):
        return []
    elements = made.args[0]
    if len(elements) != 1 or index not in (0, -1) or type(elements[0]) is not Ref:
        return []
    return [elements[0].var]


def _same_form(candidates: list, out: Var) -> Var | None:
    for var in candidates:
        if var.shape == out.shape and var.dtype == out.dtype and (var.scalar == out.scalar or not var.shape):
            return var
    return None


def _is_one(value) -> bool:
    if isinstance(value, Literal):
        value = value.value
    return type(value) in (int, float) and value == 1 or isinstance(value, np.generic) and value == 1
