"""Arranging the statements: straight-line code, with the time steps of a recurrent layer rolled
into loops.

A recurrent layer runs each step inside scope "layer<l>/t=<i>", so the statements of one run
fall into blocks: (phase, scope) with phase forward or backward. The blocks of one layer and
phase form a family whose steps follow each other (forward t = 0, 1, ...; backward t = T-1,
..., 0). A window of consecutive blocks that do the same thing becomes one `for t` loop:

  * every statement matches its counterpart in the other blocks (same call, same literals),
    except integers that move with t by the same amount from block to block (x[t], x[t + 1]);
  * every variable a statement reads is either made earlier in the same block (a loop-local
    name), or made in the block d steps away, the same d in every block (read from a buffer
    filled as the loop goes: buf[t + d]), or the very same variable in every block (a name from
    outside the loop, such as a weight or a gradient being summed). The first block may read a
    variable from before the window where the others read what the step before made (h_0, or
    the gradient of the last hidden state): it is the loop's starting value.

The backward pass's last step (t = 0) reads h_0 where the others read h_{t-1}, and it makes no
gradient for h_0 (h_0 needs none). So that it joins the loop all the same, the product that
would make that gradient is added to it as a copy no statement reads, and its reads of h_0
count as reads of the forward loop's step before its first: body.py keeps h_0 as the row
before the first of the stacked hidden states (or in slot 0 of a buffer of every step, for
c_0), runs the step's share of the loop's sums with the others, and writes its remaining
statements, without the copy, after the loop.

An LSTM's first backward step (t = T-1) has one term of dL/dc_t where the later steps add two,
that from c_{t+1} first: it gets their sum too, started from -0.0, which adds nothing to any
float (pad_first_steps), so the backward loop starts with it.

Blocks outside every window stay written out. body.py writes the result as Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .ir import Literal, Ref, Stmt, Var, renamed

_STEP = re.compile(r"^(.*)t=(\d+)$")


class UnrollableLoop(Exception):
    """Loops were found that body.py cannot write: the step runs eagerly instead."""


MIN_LOOP = 3  # fewer matching blocks than this stay written out


def scope_suffix(scope: str, loop: bool) -> str:
    parts = []
    for part in scope.split("/") if scope else []:
        m = re.fullmatch(r"layer(\d+)(.*)", part)
        if m:
            parts.append("l" + m.group(1) + m.group(2))
        elif part.startswith("t="):
            parts.append("t" if loop else "t" + part[2:])
        else:
            parts.append(part)
    return "_".join(parts)


@dataclass
class Block:
    """Consecutive statements of one (phase, scope)."""

    phase: str
    scope: str
    stmts: list
    family: tuple | None = None  # (phase, scope without the step) for a time step
    step: int | None = None


@dataclass
class Loop:
    """A window of blocks of one family, written once as `for t in range(...)`."""

    family: tuple
    blocks: list
    steps: list  # the step of each block, in iteration order
    fixed: set = field(default_factory=set)  # variables read the same in every block
    affine: list = field(default_factory=list)  # per integer literal of a block: its expression of t, or None
    hoisted: list = field(default_factory=list)  # statement numbers written once, before the loop
    fused: dict = field(default_factory=dict)  # statement number -> (kind, acc, a, b): summed after the loop
    vectorized: list = field(default_factory=list)  # elementwise statements run once on all steps, before
    scatters: dict = field(default_factory=dict)  # statement number -> (view statement, g): added after
    carried: set = field(default_factory=set)  # positions (j, k) whose previous-iteration value is read as a local
    entry: dict = field(default_factory=dict)  # var read by the first iteration where later ones read (j, k)'s
    before_first: dict = field(default_factory=dict)  # another loop's starting value -> (its family, (j, k))
    unmade: set = field(default_factory=set)  # statements of the last block that are copies (pad_last_steps)


def blocks_of(item) -> list:
    """The blocks of an arranged item: a loop's, or the block itself."""
    return item.blocks if isinstance(item, Loop) else [item]


def split_blocks(stmts: list[Stmt]) -> list[Block]:
    blocks: list[Block] = []
    for stmt in stmts:
        if blocks and blocks[-1].phase == stmt.phase and blocks[-1].scope == stmt.scope:
            blocks[-1].stmts.append(stmt)
            continue
        block = Block(stmt.phase, stmt.scope, [stmt])
        m = _STEP.match(stmt.scope)
        if m:
            block.family, block.step = (stmt.phase, m.group(1)), int(m.group(2))
        blocks.append(block)
    seen: dict = {}
    for block in blocks:
        if block.family is not None:
            seen.setdefault(block.family, []).append(block.step)
    repeated = {family for family, steps in seen.items() if len(steps) != len(set(steps))}
    for block in blocks:
        if block.family in repeated:
            block.family, block.step = None, None
    return blocks


def arrange(stmts: list[Stmt], families, loop: bool = True) -> list:
    """The statements in program order as Blocks, with windows of matching steps as Loops (a
    last step that lacks statements of the others may get copies of them, pad_last_steps; a
    first step that lacks a sum they start with gets it, pad_first_steps). `families` are the
    statements' memory families (simplify.memory_families)."""
    if not loop:
        return split_blocks(stmts)
    blocks = split_blocks(_sink_views(stmts))
    copies = pad_last_steps(blocks)
    padded = pad_first_steps(blocks, families)
    items = find_loops(blocks)
    unjoined = [padded[id(item)] for item in items if isinstance(item, Block) and id(item) in padded]
    if unjoined:  # a first step padded for nothing loses its padding, and the loops are found again
        for changes in unjoined:
            for change in reversed(changes):
                undo_padding(change)
        items = find_loops(blocks)
    for item in items:  # a padded last step that joined no loop loses its copies again
        if isinstance(item, Block) and copies:
            item.stmts = [stmt for stmt in item.stmts if id(stmt) not in copies]
        elif isinstance(item, Loop):
            item.unmade = {j for j, stmt in enumerate(item.blocks[-1].stmts) if id(stmt) in copies}
    return items


# ---------------------------------------------------------------- moving views to their use

_VIEW_METHODS = {"transpose", "swapaxes", "squeeze", "view"}  # always views; reshape only of a contiguous array


def is_view(stmt: Stmt) -> bool:
    """A statement that only makes a view of one variable with constant arguments."""
    if stmt.writes is not None or len(stmt.outs) != 1:
        return False
    if stmt.kind == "attr" and stmt.target in ("T", "mT"):
        return True
    refs = list(stmt.refs())
    if len(refs) != 1:
        return False
    if stmt.kind == "getitem":
        return _basic(stmt.args[1])
    if stmt.kind == "method" and stmt.target in _VIEW_METHODS:
        return True
    if stmt.kind == "method" and stmt.target in ("reshape", "ravel"):
        return refs[0].contiguous  # a copy otherwise
    return stmt.kind == "call" and stmt.target in ("np.moveaxis", "np.swapaxes", "np.transpose", "np.expand_dims")


def _basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, (Ref, list)):
            return False
        if isinstance(p, slice) and any(isinstance(x, Ref) for x in (p.start, p.stop, p.step)):
            return False
    return True


def is_step(scope: str, known: dict = {}) -> bool:  # noqa: B006 (a cache)
    """True for a time step's scope ("layer0/t=3")."""
    found = known.get(scope)
    if found is None:
        found = known[scope] = _STEP.match(scope) is not None
    return found


def _sink_views(stmts: list[Stmt]) -> list[Stmt]:
    """Each view made outside a time step and first read inside one moves to just before that
    first reader: a view shows the same memory wherever it is made, so no value read changes,
    and the per-step views of a layer's arrays (x[t], g[t]) land in the step that uses them."""
    readers: dict[Var, int] = {}
    for i, stmt in enumerate(stmts):
        for var in stmt.refs():
            readers.setdefault(var, i)
    moved: dict[int, list[Stmt]] = {}
    keep = []
    for i, stmt in enumerate(stmts):
        if stmt.outs and not is_step(stmt.scope) and is_view(stmt):
            first = readers.get(stmt.outs[0])
            if first is not None and is_step(stmts[first].scope):
                target = stmts[first]
                stmt.phase, stmt.scope = target.phase, target.scope
                moved.setdefault(first, []).append(stmt)
                continue
        keep.append((i, stmt))
    result = []
    for i, stmt in keep:
        result.extend(moved.pop(i, []))
        result.append(stmt)
    return result


# ---------------------------------------------------------------- padding the last step

_PURE_KINDS = ("call", "method", "attr", "binop", "unop", "getitem")  # statements that write nothing


def pad_last_steps(blocks: list[Block]) -> set:
    """Give the last block of each run of matching time steps the statements of the step before
    that it lacks, as copies that make values no statement of the block reads: the first
    backward step (t = 0) makes no gradient for h_0, the others make theirs for h_{t-1}. The
    copies only make the block match the others, and never run: a loop stops before a padded
    step, and writes that step's own statements after it (body.py), and a padded block that
    joins no loop loses them again. A copy reads what its original reads, moved by the same
    number of steps (the block's own values, another step's, or values from outside every step
    such as a weight), moves its integers on as they moved from step to step, and writes into
    nothing but an array another copy made. Where a block read and a template read differ, the
    block may read a value from outside every step where the template reads a step's (h_0 for
    h_{t-1}): find_loops then decides. Returns the id() of the copies."""
    at = {}  # (family, step, j, k) -> the variable made there
    where = {}  # a variable made in a time step -> (family, step, j, k)
    for blk in blocks:
        if blk.family is not None:
            for j, stmt in enumerate(blk.stmts):
                for k, var in enumerate(stmt.outs):
                    at[(blk.family, blk.step, j, k)] = var
                    where[var] = (blk.family, blk.step, j, k)
    copies: set = set()
    for b in range(2, len(blocks)):
        last, before, earlier = blocks[b], blocks[b - 1], blocks[b - 2]
        if last.family is None or not last.family == before.family == earlier.family:
            continue
        if b + 1 < len(blocks) and blocks[b + 1].family == last.family:
            continue  # not the last step of its run
        if abs(last.step - before.step) != 1 or _skeleton(before) != _skeleton(earlier):  # type: ignore[operator]
            continue
        padded = _Padding(last, before, earlier, at, where).statements()
        if padded is not None:
            copies.update(id(stmt) for stmt in padded if stmt not in last.stmts)
            last.stmts = padded
    return copies


class _Padding:
    """Matching a block against the template (the step before it) statement by statement, with
    copies for the template's statements the block lacks."""

    def __init__(self, block: Block, template: Block, earlier: Block, at: dict, where: dict):
        self.block, self.template, self.earlier, self.at, self.where = block, template, earlier, at, where
        self.shift = block.step - template.step  # type: ignore[operator]
        self.local = {v: (j, k) for j, stmt in enumerate(template.stmts) for k, v in enumerate(stmt.outs)}
        self.counterpart: dict = {}  # a template variable -> the block's (or a copy's)
        self.place: dict = {}  # a block variable (or a copy's) -> the position of its template counterpart
        self.copied: set = set()  # the copies' variables

    def statements(self) -> list | None:
        block, template = self.block, self.template
        matched = []
        i = 0
        for j, stmt in enumerate(template.stmts):
            mine = block.stmts[i] if i < len(block.stmts) else None
            if mine is not None and self._matches(mine, stmt):
                self._note(mine, stmt, j)
                matched.append(mine)
                i += 1
                continue
            copy = self._copy(stmt, self.earlier.stmts[j])
            if copy is None:
                return None
            self._note(copy, stmt, j)
            self.copied.update(copy.outs)
            matched.append(copy)
        if i != len(block.stmts) or len(matched) == len(block.stmts):
            return None
        if any(v in self.copied for stmt in block.stmts for v in stmt.refs()):
            return None  # the block's own statements must not read what only the copies make
        return matched

    def _note(self, mine: Stmt, stmt: Stmt, j: int) -> None:
        for k, (var, same) in enumerate(zip(mine.outs, stmt.outs)):
            self.place[var], self.counterpart[same] = (j, k), var

    def _matches(self, mine: Stmt, stmt: Stmt) -> bool:
        if _statement_shape(mine, self.place) != _statement_shape(stmt, self.local):
            return False
        for v, u in zip(mine.refs(), stmt.refs()):
            if u in self.local or u is v:
                continue
            moved = self._moved(u)
            if moved is not v and not (moved is None and v not in self.where and u in self.where):
                return False
        return True

    def _moved(self, u: Var) -> Var | None:
        """What the block reads where the template reads u, made outside it: u itself for a value
        from outside every step, else the value made self.shift steps away from u (None if no
        step made one)."""
        found = self.where.get(u)
        if found is None:
            return u
        family, step, j, k = found
        return self.at.get((family, step + self.shift, j, k))

    def _copy(self, stmt: Stmt, before: Stmt) -> Stmt | None:
        """A copy of `stmt` for the block; `before` is the same statement one step further from
        it, so each integer moves on by what it moved from there (x[t - 1] gives x[-1] at t = 0:
        no copy runs, the loop stops before the block and the statements after it leave the
        copies out)."""
        if stmt.kind == "inplace":
            if stmt.writes is None or self.counterpart.get(stmt.writes) not in self.copied or stmt.outs:
                return None
        elif stmt.kind not in _PURE_KINDS or stmt.writes is not None or len(stmt.outs) != 1 or stmt.tuple_out:
            return None
        here, there = integers_of(stmt), integers_of(before)
        moved = iter([2 * a - b for a, b in zip(here, there)])
        reads = {}
        for u in stmt.refs():
            read = self.counterpart.get(u) if u in self.local else self._moved(u)
            if read is None:
                return None
            reads[u] = read
        outs = []
        for out in stmt.outs:
            made = Var(out.number, out.hint, out.shape, out.dtype)
            made.owner, made.contiguous, made.scalar = out.owner, out.contiguous, out.scalar
            outs.append(made)
        args = _with_integers(renamed(stmt.args, reads), moved)
        kwargs = {key: _with_integers(renamed(value, reads), moved) for key, value in stmt.kwargs.items()}
        copy = Stmt(
            stmt.kind,
            stmt.target,
            args,
            kwargs,
            outs=tuple(outs),
            writes=reads.get(stmt.writes) if stmt.writes is not None else None,
            op=stmt.op,
            phase=self.block.phase,
            scope=self.block.scope,
            extra=dict(stmt.extra),
        )
        for made in outs:
            made.stmt = copy
        return copy


# ---------------------------------------------------------------- padding the first step

NEGATIVE_ZERO = -0.0  # -0.0 + x is x for every float x, a zero's sign and NaN included


def pad_first_steps(blocks: list[Block], families) -> dict:
    """Make the first block of each run of matching time steps match the later ones where it
    differs from them in one of two ways, neither changing a value:

      * backward() adds the two terms of an LSTM step's dL/dc_t, the one from c_{t+1} first;
        the first backward step (t = T-1) has only its own term. So it lacks `acc =
        np.array(from_the_step_before); acc += term`, and reads term where the others read acc.
        It gets both statements, from a starting value of -0.0 made in the block before it,
        and reads acc from then on: the same values, since -0.0 + term is term.
      * a lower layer's first backward step reads the gradient of its h_T (a view of what the
        layer above sent back) where the others read the sum the step before made; that view,
        made in the step (_sink_views), moves to the block before it, so the block reads it
        from outside as the loop's starting value.

    `families` are the program's memory families (simplify.memory_families). Returns, by id()
    of each padded block, its changes, for undo_padding to take back (the last first)."""
    readers: dict = {}
    for blk in blocks:
        for stmt in blk.stmts:
            for var in stmt.refs():
                readers.setdefault(var, []).append(stmt)
    written = {families.root(stmt.writes) for blk in blocks for stmt in blk.stmts if stmt.writes is not None}
    made_in_step = {var for blk in blocks if blk.family is not None for stmt in blk.stmts for var in stmt.outs}
    undo: dict = {}
    for b in range(1, len(blocks) - 2):
        before, first, template, following = blocks[b - 1 : b + 3]
        if first.family is None or not first.family == template.family == following.family:
            continue
        if before.family is not None or before.phase != first.phase:
            continue  # not the first step of its run, or no block before it to make the start in
        if abs(first.step - template.step) != 1 or _skeleton(template) != _skeleton(following):  # type: ignore[operator]
            continue
        changes = []
        moved = _view_moved_out(before, first, template)
        if moved is not None:
            changes.append(moved)
        found = _sum_to_pad(first, template, readers, made_in_step)
        if found is not None and families.root(found[2]) not in written:  # else acc would miss a write into term
            added = _sum_added(before, first, template, found, readers)
            if added is not None:
                changes.append(added)
        if changes and _skeleton(first) == _skeleton(template):
            undo[id(first)] = changes
            continue
        for change in reversed(changes):
            undo_padding(change)
    return undo


@dataclass
class _Change:
    """What pad_first_steps did to one block: its statements before, the statements whose
    arguments it changed (with their old ones), and the statement it appended to the block
    before (with that statement's old phase and scope)."""

    block: Block
    statements: list
    renamed: list
    before: Block
    appended: Stmt
    place: tuple


def undo_padding(change: _Change) -> None:
    """Take back what pad_first_steps did to one block."""
    change.block.stmts = change.statements
    for stmt, args, kwargs in change.renamed:
        stmt.args, stmt.kwargs = args, kwargs
    change.before.stmts.remove(change.appended)
    change.appended.phase, change.appended.scope = change.place


def _first_difference(first: Block, template: Block) -> int:
    """The number of the first statement of `first` unlike the template's (or its length)."""
    local = {v: (j, k) for j, stmt in enumerate(template.stmts) for k, v in enumerate(stmt.outs)}
    mine = {v: (j, k) for j, stmt in enumerate(first.stmts) for k, v in enumerate(stmt.outs)}
    i = 0
    while i < min(len(first.stmts), len(template.stmts)):
        if _statement_shape(first.stmts[i], mine) != _statement_shape(template.stmts[i], local):
            break
        i += 1
    return i


def _view_moved_out(before: Block, first: Block, template: Block) -> _Change | None:
    """The first block with the statement where it first differs from the template, a view of
    an array from before it, moved to the end of the block before, if the two then agree for
    longer."""
    i = _first_difference(first, template)
    if i == len(first.stmts):
        return None
    view = first.stmts[i]
    local = {v for stmt in first.stmts[:i] for v in stmt.outs}
    if not is_view(view) or any(v in local for v in view.refs()):
        return None
    change = _Change(first, list(first.stmts), [], before, view, (view.phase, view.scope))
    first.stmts = first.stmts[:i] + first.stmts[i + 1 :]
    before.stmts.append(view)
    view.phase, view.scope = before.phase, before.scope
    if _first_difference(first, template) > i:
        return change
    undo_padding(change)
    return None


def _sum_added(before: Block, first: Block, template: Block, found: tuple, readers: dict) -> _Change | None:
    """The first block with the sum `total = np.array(start); total += term` before its
    statement `position`, reading total for term from there on; start = -0.0 is appended to
    the block before. None if term has a reader outside the block."""
    position, acc, term = found
    if any(reader not in first.stmts for reader in readers.get(term, ())):
        return None
    start, made, added = _sum_from_negative_zero(acc, term, template.stmts[position : position + 2], before, first)
    later = first.stmts[position:]
    change = _Change(
        first, list(first.stmts), [(s, s.args, s.kwargs) for s in later], before, start, (start.phase, start.scope)
    )
    total = {term: made.outs[0]}
    for stmt in later:
        stmt.args = renamed(stmt.args, total)
        stmt.kwargs = {key: renamed(value, total) for key, value in stmt.kwargs.items()}
    first.stmts = first.stmts[:position] + [made, added] + later
    before.stmts.append(start)
    return change


def _sum_to_pad(first: Block, template: Block, readers: dict, made_in_step: set):
    """(i, acc, term) when the template, statement by statement, is the first block with
    `acc = np.array(c); acc += term` before its statement i, c made by another step, term by
    the block and read by nothing else; term is the first block's counterpart."""
    if len(template.stmts) != len(first.stmts) + 2:
        return None
    local = {v: (j, k) for j, stmt in enumerate(template.stmts) for k, v in enumerate(stmt.outs)}
    i = _first_difference(first, template)
    copy, add = template.stmts[i], template.stmts[i + 1]
    if copy.kind != "call" or copy.target != "np.array" or copy.kwargs or len(copy.args) != 1 or len(copy.outs) != 1:
        return None
    (source,), (acc,) = copy.args, copy.outs
    if type(source) is not Ref or source.var in local or source.var not in made_in_step or acc.dtype.kind != "f":
        return None
    if add.kind != "inplace" or add.target != "+=" or add.writes is not acc or add.outs:
        return None
    target, term = add.args
    if type(target) is not Ref or target.var is not acc or type(term) is not Ref or term.var not in local:
        return None
    if readers.get(term.var) != [add] or not (source.var.shape == term.var.shape == acc.shape):
        return None
    if not (source.var.dtype == term.var.dtype == acc.dtype):
        return None
    j, k = local[term.var]
    if j >= i:
        return None
    return i, acc, first.stmts[j].outs[k]


def _sum_from_negative_zero(acc: Var, term: Var, pair: list, before: Block, first: Block) -> tuple:
    """`start = np.full(shape, -0.0)` for the block before the first; `total = np.array(start)`
    and `total += term` for the first block, as the template's pair (acc = ...; acc += ...)."""
    start = Stmt(
        "call",
        "np.full",
        (acc.shape, NEGATIVE_ZERO),
        {"dtype": Literal(acc.dtype)},
        outs=(_like(acc, acc.hint + "_start"),),
        op=pair[0].op,
        phase=before.phase,
        scope=before.scope,
    )
    total = _like(acc, acc.hint)
    phase, scope = first.phase, first.scope
    made = Stmt("call", "np.array", (Ref(start.outs[0]),), {}, outs=(total,), op=pair[0].op, phase=phase, scope=scope)
    added = Stmt("inplace", "+=", (Ref(total), Ref(term)), {}, writes=total, op=pair[1].op, phase=phase, scope=scope)
    start.outs[0].stmt, total.stmt = start, made
    return start, made, added


def _like(var: Var, hint: str) -> Var:
    """A new variable of var's shape and dtype, a fresh contiguous array."""
    made = Var(var.number, hint, var.shape, var.dtype)
    made.owner, made.contiguous = var.owner, True
    return made


def _with_integers(value, integers):
    """`value` with its integer literals taken in turn from `integers` (in collect_ints' order)."""
    if isinstance(value, Ref):
        return value
    if isinstance(value, tuple):
        return tuple(_with_integers(v, integers) for v in value)
    if isinstance(value, list):
        return [_with_integers(v, integers) for v in value]
    if isinstance(value, slice):
        return slice(*(_with_integers(v, integers) for v in (value.start, value.stop, value.step)))
    if isinstance(value, int) and not isinstance(value, bool):
        return next(integers)
    return value


def stacking_axis(stmt: Stmt) -> int | None:
    """0 or 1 for a statement that stacks a tuple of arrays on a new first or second axis
    (np.array(steps), np.stack(steps, axis=1)), else None."""
    if stmt.kind != "call" or len(stmt.args) != 1:
        return None
    if stmt.target == "np.array" and not stmt.kwargs:
        return 0
    if stmt.target == "np.stack" and set(stmt.kwargs) <= {"axis"} and stmt.kwargs.get("axis", 0) in (0, 1):
        return stmt.kwargs.get("axis", 0)
    return None


# ---------------------------------------------------------------- finding loops


def _skeleton(block: Block) -> tuple:
    """What must be equal for two blocks to share a loop body: per statement its kind, target,
    output count and the non-integer literals; per variable read, 'local j' (made by statement j
    of the block) or 'outside'."""
    local = {}
    for j, stmt in enumerate(block.stmts):
        for k, var in enumerate(stmt.outs):
            local[var] = (j, k)
    return tuple(_statement_shape(stmt, local) for stmt in block.stmts)


def _statement_shape(stmt: Stmt, local: dict) -> tuple:
    return (
        stmt.kind,
        stmt.target,
        len(stmt.outs),
        stmt.tuple_out,
        stmt.extra.get("ellipsis", False),
        bool(stmt.outs and stmt.outs[0].scalar),
        _literal_shape(stmt.args, local),
        _literal_shape(tuple(stmt.kwargs.items()), local),
    )


def _literal_shape(value, local):
    if isinstance(value, Ref):
        where = local.get(value.var)
        return ("local",) + where if where is not None else ("outside",)
    if isinstance(value, tuple):
        return ("tuple",) + tuple(_literal_shape(v, local) for v in value)
    if isinstance(value, list):
        return ("list",) + tuple(_literal_shape(v, local) for v in value)
    if isinstance(value, slice):
        return (
            "slice",
            _literal_shape(value.start, local),
            _literal_shape(value.stop, local),
            _literal_shape(value.step, local),
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return ("int",)
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, Literal):
        return ("lit", repr(value.value))
    try:
        hash(value)
        return ("lit", type(value).__name__, repr(value))
    except TypeError:
        return ("lit", id(value))


def _outside_reads(block: Block) -> list:
    """The variables the block reads that it did not make, in statement order."""
    local = {v for s in block.stmts for v in s.outs}
    return [v for s in block.stmts for v in s.refs() if v not in local]


def _outside_readers(block: Block) -> list[int]:
    """For each of _outside_reads(block), the number of the statement that reads it."""
    local = {v for s in block.stmts for v in s.outs}
    return [j for j, s in enumerate(block.stmts) for v in s.refs() if v not in local]


def _enters(mode: tuple, step_change: int, reader: int) -> bool:
    """Whether the first block of a window may read a variable from before the window (h_0, or
    what a step written out before the loop made) where the later blocks read what the
    iteration before made (mode): the value is carried into the loop when the iteration reads
    it before making its own (statement `reader` <= the maker)."""
    _, _, offset, j, _ = mode
    return offset == -step_change and reader <= j


def block_integers(block: Block) -> list[int]:
    return [n for stmt in block.stmts for n in integers_of(stmt)]


def integers_of(stmt: Stmt) -> list[int]:
    """The statement's integer literals, in the order they are written."""
    found: list = []
    collect_ints((stmt.args, tuple(stmt.kwargs.values())), found)
    return found


def collect_ints(value, found):
    if isinstance(value, Ref):
        return
    if isinstance(value, (tuple, list)):
        for v in value:
            collect_ints(v, found)
    elif isinstance(value, slice):
        collect_ints((value.start, value.stop, value.step), found)
    elif isinstance(value, int) and not isinstance(value, bool):
        found.append(value)


def find_loops(blocks: list[Block]) -> list:
    """Group windows of matching consecutive blocks into Loops (see the module docstring)."""
    defined: dict[Var, tuple] = {}  # var -> (block number, statement j, output k)
    for b, block in enumerate(blocks):
        for j, stmt in enumerate(block.stmts):
            for k, var in enumerate(stmt.outs):
                defined[var] = (b, j, k)
    skeletons = [_skeleton(block) if block.family else None for block in blocks]
    reads = [_outside_reads(block) for block in blocks]
    readers = [_outside_readers(block) for block in blocks]
    integers = [block_integers(block) for block in blocks]

    def relation(b: int, var: Var):
        """How block b reads var: ('fixed', var) or ('rel', family, step offset, j, k)."""
        where = defined.get(var)
        if where is None:
            return ("fixed", var)
        owner = blocks[where[0]]
        if owner.family is None:
            return ("fixed", var)
        return ("rel", owner.family, owner.step - blocks[b].step, where[1], where[2])

    items: list = []
    starts: dict = {}  # a loop's starting value -> (family, (j, k), the step before its first)

    def before_first(var: Var, step: int, expected: tuple):
        """(family, (j, k)) when var, read at `step` where the block before reads what `expected`
        says, is the starting value of that loop: var is its step before the first."""
        found = starts.get(var)
        if found is None or expected[0] != "rel" or (expected[1], expected[3:]) != found[:2]:
            return None
        return found[:2] if step + expected[2] == found[2] else None

    b = 0
    while b < len(blocks):
        block = blocks[b]
        if block.family is None:
            items.append(block)
            b += 1
            continue
        # extend a window from b while blocks match
        end = b + 1
        modes = None
        deltas = None
        direction = None
        entry: dict = {}
        reads_before_first: dict = {}
        while end < len(blocks):
            nxt, prev = blocks[end], blocks[end - 1]
            if nxt.family != block.family or skeletons[end] != skeletons[b]:
                break
            step_change = nxt.step - prev.step  # type: ignore[operator]  # a block of a family has a step
            if step_change not in (1, -1) or (direction is not None and step_change != direction):
                break
            if len(reads[end]) != len(reads[b]):
                break
            new_modes = []
            new_entry: dict = {}
            new_before: dict = {}
            entering = set()  # the first block's reads that may start the loop: every read of them does
            if end - 1 == b:
                every_read: dict = {}
                for u, v, reader in zip(reads[b], reads[end], readers[b]):
                    mode = relation(end, v)
                    ok = u is not v and mode[0] == "rel" and _enters(mode, step_change, reader)
                    every_read[u] = every_read.get(u, True) and ok
                entering = {u for u, ok in every_read.items() if ok}
            for u, v, reader in zip(reads[end - 1], reads[end], readers[end - 1]):
                if u is v:  # the same variable in both: it must come from before the window
                    new_modes.append(("fixed", u))
                    continue
                mode = relation(end, v)
                if mode[0] == "fixed" and (row := before_first(v, nxt.step, relation(end - 1, u))) is not None:  # type: ignore[arg-type]
                    new_before[v] = row
                    new_modes.append(relation(end - 1, u))
                    continue
                if u in entering:
                    if new_entry.setdefault(u, mode[3:]) != mode[3:]:
                        break
                    new_modes.append(mode)
                    continue
                if mode[0] != "rel" or relation(end - 1, u) != mode:
                    break
                new_modes.append(mode)
            if len(new_modes) != len(reads[end]):
                break
            if modes is not None and new_modes != modes:
                break
            new_deltas = [y - x for x, y in zip(integers[end - 1], integers[end])]
            if deltas is not None and new_deltas != deltas:
                break
            # a 'fixed' read of a variable made inside the window would read a different
            # iteration's value: only variables from outside the window may be fixed
            if any(m[0] == "fixed" and defined.get(m[1], (-1,))[0] >= b for m in new_modes):
                break
            if end - 1 == b:
                if any(m[0] == "fixed" and m[1] in new_entry for m in new_modes):
                    break
                if len(set(new_entry.values())) != len(new_entry):
                    break  # two starting values for one value the loop carries
                entry = new_entry
            modes, deltas, direction = new_modes, new_deltas, step_change
            reads_before_first.update(new_before)
            end += 1
        count = end - b
        if count >= MIN_LOOP:
            found = Loop(
                block.family,
                blocks[b:end],
                [blk.step for blk in blocks[b:end]],
                {m[1] for m in modes if m[0] == "fixed"},  # type: ignore[union-attr]  # set by every extension
                entry=entry,
                before_first=reads_before_first,
            )
            items.append(found)
            for var, position in entry.items():
                starts[var] = (found.family, position, 2 * found.steps[0] - found.steps[1])  # the step before
            b = end
        else:
            items.append(block)
            b += 1
    return items
