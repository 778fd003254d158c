"""Rewrites that make the time steps of a layer record the same statements, so that they roll
into one loop (rolling.py).

backward() starts a sum when its second term arrives: the first step that reaches a weight
keeps its term as it is, the second copies it and adds its own, later ones add. The sparse
gradient of a layer's input projection is made dense in the same way, by the second step. So
the first two steps of a backward pass differ from the rest. Here every sum starts as zeros
before the steps, and every step adds its own term at its end:

    acc = np.array(c_first); acc += c   ->   acc = np.zeros(...) before the steps; acc += c_first
    buf = np.zeros(...); buf[i] += g_i  ->   buf made before the steps; buf[i] += g_i in g_i's step

A sum that starts at zero gives its terms' sum (a zero's sign aside); an addition into a row
that nothing reads until after it moves earlier without changing any value.
"""

from __future__ import annotations

import re

from .ir import Literal, Ref, Stmt, Var
from .simplify import memory_families

_STEP = re.compile(r"^(.*?)/?t=\d+$")


def uniform_steps(stmts: list[Stmt]) -> list[Stmt]:
    """The statements with every sum of a layer's steps started before the steps (see above)."""
    return _scatter_where_made(_start_sums_at_zero(stmts))


def _parent(scope: str) -> str | None:
    """ "layer0" for "layer0/t=3", None for a scope that is not a time step."""
    m = _STEP.match(scope)
    return m.group(1) if m else None


def _block_bounds(stmts: list[Stmt], i: int) -> tuple[int, int]:
    """(first, last + 1) of the run of statements with the phase and scope of statement i."""
    phase, scope = stmts[i].phase, stmts[i].scope
    start, end = i, i + 1
    while start > 0 and (stmts[start - 1].phase, stmts[start - 1].scope) == (phase, scope):
        start -= 1
    while end < len(stmts) and (stmts[end].phase, stmts[end].scope) == (phase, scope):
        end += 1
    return start, end


def _moved(stmts: list[Stmt], removed: set, before: dict, after: dict) -> list[Stmt]:
    """stmts without `removed`, with before[i] inserted before statement i and after[i] after it."""
    result = []
    for i, stmt in enumerate(stmts):
        result += before.get(i, [])
        if i not in removed:
            result.append(stmt)
        result += after.get(i, [])
    return result


def _start_sums_at_zero(stmts: list[Stmt]) -> list[Stmt]:
    """acc = np.array(c) in a time step, c made by an earlier step and never written, acc added to
    by more than one step (a weight's gradient): acc starts as zeros before c's step, and c's
    step ends by adding c."""
    families = memory_families(stmts)
    written = {families.root(s.writes) for s in stmts if s.writes is not None}
    position = {id(s): i for i, s in enumerate(stmts)}
    removed: set = set()
    before: dict = {}
    after: dict = {}
    for i, stmt in enumerate(stmts):
        if not (stmt.kind == "call" and stmt.target == "np.array" and not stmt.kwargs and len(stmt.args) == 1):
            continue
        (source,) = stmt.args
        if type(source) is not Ref or len(stmt.outs) != 1 or _parent(stmt.scope) is None:
            continue
        acc, c = stmt.outs[0], source.var
        made = c.stmt
        if made is None or id(made) not in position or (acc.shape, acc.dtype) != (c.shape, c.dtype):
            continue
        if made.scope == stmt.scope or _parent(made.scope) != _parent(stmt.scope) or made.phase != stmt.phase:
            continue
        if families.root(c) in written or len({s.scope for s in stmts if s.writes is acc}) < 2:
            continue  # a sum of one step's terms (a cell state's gradient) stays in its step
        start, end = _block_bounds(stmts, position[id(made)])
        zeros = Stmt(
            "call",
            "np.zeros",
            (acc.shape,),
            {"dtype": Literal(acc.dtype)},
            outs=(acc,),
            op=stmt.op,
            phase=stmt.phase,
            scope=_parent(stmt.scope) or "",
        )
        acc.stmt = zeros
        add = Stmt("inplace", "+=", (Ref(acc), Ref(c)), {}, writes=acc, op=stmt.op, phase=made.phase, scope=made.scope)
        before.setdefault(start, []).append(zeros)
        after.setdefault(end - 1, []).append(add)
        removed.add(i)
    return _moved(stmts, removed, before, after) if removed else stmts


def _scatter_where_made(stmts: list[Stmt]) -> list[Stmt]:
    """buf = np.zeros(...) in a time step, followed by view = buf[i]; view += g with g made by an
    earlier step: buf is made before the first such step, and each addition moves to the end of
    g's step. The rows i must all differ, so that no element's additions change order."""
    position = {id(s): i for i, s in enumerate(stmts)}
    removed: set = set()
    before: dict = {}
    after: dict = {}
    rescoped: list = []  # (statement, its new phase and scope), set once every block is found
    for i, stmt in enumerate(stmts):
        if not (stmt.kind == "call" and stmt.target == "np.zeros" and not stmt.refs() and len(stmt.outs) == 1):
            continue
        if _parent(stmt.scope) is None:
            continue
        buf = stmt.outs[0]
        pairs = _row_additions(stmts, i, buf)
        rows = [row for row, _, _ in pairs]
        if len(set(rows)) != len(rows) or len(rows) != _row_views(stmts, buf):
            continue
        moving = []
        for row, j, g in pairs:
            made = g.stmt
            if made is None or id(made) not in position or position[id(made)] >= i:
                continue
            if made.phase != stmt.phase or _parent(made.scope) != _parent(stmt.scope) or made.scope == stmt.scope:
                continue
            moving.append((j, position[id(made)]))
        if not moving:
            continue
        first_block = min(_block_bounds(stmts, made)[0] for _, made in moving)
        rescoped.append((stmt, stmt.phase, _parent(stmt.scope) or ""))
        before.setdefault(first_block, []).append(stmt)
        removed.add(i)
        for j, made in moving:
            end = _block_bounds(stmts, made)[1]
            rescoped += [(stmts[k], stmts[made].phase, stmts[made].scope) for k in (j, j + 1)]
            after.setdefault(end - 1, []).extend([stmts[j], stmts[j + 1]])
            removed.update((j, j + 1))
    for stmt, phase, scope in rescoped:
        stmt.phase, stmt.scope = phase, scope
    return _moved(stmts, removed, before, after) if removed else stmts


def _row_additions(stmts: list[Stmt], start: int, buf: Var) -> list[tuple]:
    """(row, j, g) for each `view = buf[row]` at j followed by `view += g`, from `start` on."""
    found = []
    for j in range(start + 1, len(stmts) - 1):
        view, add = stmts[j], stmts[j + 1]
        if not (view.kind == "getitem" and type(view.args[0]) is Ref and view.args[0].var is buf):
            continue
        row = view.args[1]
        if type(row) is not int or len(view.outs) != 1:
            continue
        adds_to_view = add.kind == "inplace" and add.target == "+=" and type(add.args[0]) is Ref
        if adds_to_view and add.args[0].var is view.outs[0] and type(add.args[1]) is Ref:
            found.append((row, j, add.args[1].var))
    return found


def _row_views(stmts: list[Stmt], buf: Var) -> int:
    """How many statements index buf (a reshape or a sum of it does not count)."""
    return sum(1 for s in stmts if s.kind == "getitem" and type(s.args[0]) is Ref and s.args[0].var is buf)
