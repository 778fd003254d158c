"""Writing the arranged statements (rolling.py) as the program's body: names, the per-step
buffers, and what each loop does once instead of at every step.

Per loop, before it: views of variables from outside it (w.T), and the elementwise statements
that read only values made before the loop (the forward pass's, seen from the backward loop),
run once on all steps stacked. After it: the sums the steps made one by one, made at once: a
weight's gradient g_t^T @ x_t becomes G^T @ X over the stacked rows, and additions into rows
of a gradient buffer (x[t] += g_t) one addition of the stacked rows. A value those sums stack
is written into its row of one array as the loop makes it. Each of these gives every element
the result the step-by-step program gives (sums only in another order).
"""

from __future__ import annotations

from .ir import Ref, Source, Stmt, Var
from .render import Writer, line, literal
from .rolling import (
    MIN_LOOP,
    Block,
    Loop,
    UnrollableLoop,
    block_integers,
    blocks_of,
    integers_of,
    is_view,
    scope_suffix,
    stacking_axis,
)
from .simplify import memory_families


class Renderer:
    """Names every variable and writes the arrangement as lines of Python."""

    def __init__(self, items: list, var_names: dict, names):
        self.items, self.var_names, self.names = items, dict(var_names), names
        self.buffers: dict = {}  # (family, (j, k)) -> list name
        self.allocations: list[str] = []
        self.read_buffers: set = set()  # the buffers some line reads
        self.loop_of: dict[Var, Loop] = {}
        self.position: dict[Var, tuple] = {}  # var -> (j, k) inside its block
        self.block_of: dict[Var, Block] = {}
        self.family_steps: dict = {}
        for item in self.items:
            for blk in blocks_of(item):
                if blk.family is not None:
                    self.family_steps.setdefault(blk.family, []).append(blk.step)
                for j, stmt in enumerate(blk.stmts):
                    for k, var in enumerate(stmt.outs):
                        self.position[var] = (j, k)
                        self.block_of[var] = blk
                        if isinstance(item, Loop):
                            self.loop_of[var] = item
        self.item_number = {id(blk): n for n, item in enumerate(self.items) for blk in blocks_of(item)}
        self.readers: dict[Var, int] = {}
        for item in self.items:
            for blk in blocks_of(item):
                for stmt in blk.stmts:
                    for var in stmt.refs():
                        self.readers[var] = self.readers.get(var, 0) + 1
        self.written = {
            stmt.writes
            for item in self.items
            for blk in blocks_of(item)
            for stmt in blk.stmts
            if stmt.writes is not None
        }
        self.extra_buffered: set = set()
        self.stacks: dict = {}  # (family, position) -> (stacked variable, first step, last step)
        self.dropped: set = set()  # id() of statements left out: the loops write what they made
        self.starts: set = set()  # sums a loop starts: `acc = ...` after it, their zeros left out
        for item in self.items:
            if isinstance(item, Loop):
                self._plan_loop(item)
        self.buffered_positions = self._plan_buffers()
        self.rows: dict = {}  # (family, position) -> (array name, first step): values kept as its rows
        self._plan_rows()
        self.from_start: dict = {}  # (family, position) -> (name, starting value): the rows with it first
        self.slot_starts: dict = {}  # (family, position) -> starting value, kept in a slot of its buffer
        for item in self.items:
            for start, key in item.before_first.items() if isinstance(item, Loop) else ():
                if key in self.rows:  # (rows are kept for steps in time order only)
                    self.from_start[key] = (self.names(self.rows[key][0] + "_from_start"), start)
                else:
                    self.slot_starts[key] = start

    # ------------------------------------------------------------ what a loop does once
    def _plan_loop(self, loop: Loop) -> None:
        """The integer expressions of t, the statements hoisted before the loop (views of
        variables from outside it), and the sums fused after it: a weight's gradient summed
        step by step, acc += g_t^T @ x_t (or acc += g_t.sum(axis=0)), becomes one product of
        the steps' rows stacked, acc += G^T @ X, after the loop."""
        first, second = loop.blocks[0], loop.blocks[1]
        direction = loop.steps[1] - loop.steps[0]
        loop.affine = []
        for a, b in zip(block_integers(first), block_integers(second)):
            slope = (b - a) * direction
            loop.affine.append(None if slope == 0 else _affine(slope, a - slope * loop.steps[0]))
        mine = {v for stmt in first.stmts for v in stmt.outs}
        made_by = {v: j for j, stmt in enumerate(first.stmts) for v in stmt.outs}
        base = 0
        for j, stmt in enumerate(first.stmts):
            count = len(integers_of(stmt))
            constant = all(loop.affine[base + i] is None for i in range(count))
            base += count
            reads = list(stmt.refs())
            if is_view(stmt) and constant and all(v in loop.fixed and v not in self.loop_of for v in reads):
                loop.hoisted.append(j)
        for j, stmt in enumerate(first.stmts):
            fusion = self._fusion(loop, j, stmt, mine, made_by)
            if fusion is not None:
                loop.fused[j] = fusion
                self._plan_start(loop, fusion)
        self._plan_vectorized(loop, mine)
        self._plan_scatters(loop, made_by)

    def _plan_start(self, loop: Loop, fusion: tuple) -> None:
        """A fused sum into zeros made for it that nothing touched before the loop: the sum after
        the loop is the first value (`acc = G^T @ X`), not added to zeros (which would only turn
        a -0.0 into 0.0); the zeros are not made."""
        kind, acc, a, b, _ = fusion
        made = acc.stmt
        if made is None or not (made.kind == "call" and made.target == "np.zeros" and not made.refs()):
            return
        if any(v.dtype != acc.dtype for v in (a, b) if v is not None):
            return
        start = self.item_number[id(loop.blocks[0])]
        for item in self.items[:start]:
            for blk in blocks_of(item):
                if any(acc in stmt.refs() or stmt.writes is acc for stmt in blk.stmts):
                    return
        self.starts.add(acc)
        self.dropped.add(id(made))

    def _plan_vectorized(self, loop: Loop, mine: set) -> None:
        """Elementwise statements that read only values made before the loop (the forward
        pass's, seen from the backward loop), literals and each other: run once on the steps'
        values stacked, before the loop, which then reads its step's row. Elementwise NumPy
        gives every element the same result either way."""
        first = loop.blocks[0]
        start_item = self.item_number[id(first)]
        vectorized: set = set()
        removed = self._removed(loop)
        for j, stmt in enumerate(first.stmts):
            if j in removed or j in loop.hoisted or not _elementwise(stmt):
                continue
            (out,) = stmt.outs
            if out.scalar or not out.shape:
                continue
            ok, per_step = True, 0
            for var in stmt.refs():
                if var in vectorized:
                    per_step += 1
                elif var in mine or var in self.loop_of and self.loop_of[var] is loop:
                    ok = False
                elif var in loop.fixed:
                    if len(var.shape) > len(out.shape) or var in self.loop_of:
                        ok = False
                else:
                    key = self._slice_key(loop, var)
                    every_step = self._same_in_every_step(loop, j, var)
                    owner_items = {self.item_number[id(self.block_of[v])] for v in every_step}
                    if (
                        key is None
                        or var.shape != out.shape
                        or max(owner_items) >= start_item
                        or any(v in self.written for v in self._same_in_every_step(loop, j, var))
                    ):
                        ok = False
                    per_step += 1
                if not ok:
                    break
            if ok and per_step:
                vectorized.add(out)
                loop.vectorized.append(j)
                for var in stmt.refs():
                    if var not in vectorized and var not in loop.fixed:
                        self.extra_buffered.add(self._slice_key(loop, var)[0])

    def _same_in_every_step(self, loop: Loop, j: int, var: Var) -> list:
        """The variables that the reads at var's place in statement j are, over all the loop's blocks."""
        position = list(loop.blocks[0].stmts[j].refs()).index(var)
        return [list(blk.stmts[j].refs())[position] for blk in loop.blocks]

    def _plan_scatters(self, loop: Loop, made_by: dict) -> None:
        """view = X[t + c]; view += g_t, with X from before the loop and read nowhere else in it:
        X[lo + c:hi + c + 1] += the g_t stacked, once after the loop. Each element of X still
        receives its additions in the same order."""
        first = loop.blocks[0]
        removed = self._removed(loop)
        base = {}
        position = 0
        for j, stmt in enumerate(first.stmts):
            base[j] = position
            position += len(integers_of(stmt))
        for j, stmt in enumerate(first.stmts):
            if j in removed or stmt.kind != "inplace" or stmt.target != "+=":
                continue
            view_ref, g_ref = stmt.args
            if not (isinstance(view_ref, Ref) and isinstance(g_ref, Ref)) or view_ref.var not in made_by:
                continue
            v = made_by[view_ref.var]
            view = first.stmts[v]
            if view.kind != "getitem" or v in loop.hoisted or view.extra.get("ellipsis"):
                continue
            target, index = view.args
            if not isinstance(target, Ref) or target.var not in loop.fixed or target.var in self.loop_of:
                continue
            parts = index if isinstance(index, tuple) else (index,)
            if not parts or not isinstance(parts[0], int) or isinstance(parts[0], bool):
                continue
            if loop.affine[base[v]] is None or not _unit_slope(loop.affine[base[v]]):
                continue
            if any(not _constant_part(p) for p in parts[1:]) or any(
                loop.affine[base[v] + i] is not None for i in range(1, len(integers_of(view)))
            ):
                continue
            x = target.var
            others = [s for i, s in enumerate(first.stmts) if i not in (v, j) and x in s.refs()]
            if others or any(self.readers.get(blk.stmts[v].outs[0], 0) != 1 for blk in loop.blocks):
                continue
            if (
                self._slice_key(loop, g_ref.var) is None
                or g_ref.var.shape != view_ref.var.shape
                or any(g in self.written for g in self._same_in_every_step(loop, j, g_ref.var))
            ):
                continue
            offset = parts[0] - loop.steps[0]
            loop.scatters[j] = (v, x, parts, offset, g_ref.var)
            self.extra_buffered.add(self._slice_key(loop, g_ref.var)[0])

    def _fusion(self, loop: Loop, j: int, stmt: Stmt, mine: set, made_by: dict):
        """(kind, acc, a, b, removed statement numbers) when statement j is acc += p with p = a^T @ b
        or p = a.sum(axis=0), each made in the iteration for this sum alone; else None."""
        if stmt.kind != "inplace" or stmt.target != "+=":
            return None
        acc_ref, p_ref = stmt.args
        if not (isinstance(acc_ref, Ref) and isinstance(p_ref, Ref)):
            return None
        acc, p = acc_ref.var, p_ref.var
        if acc not in loop.fixed or acc in self.loop_of or p not in mine:
            return None
        if any(acc in s.refs() for i, s in enumerate(loop.blocks[0].stmts) if i != j):
            return None
        made = loop.blocks[0].stmts[made_by[p]]
        removed = [made_by[p], j]
        if made.kind == "method" and made.target == "sum" and len(made.args) == 1:
            axis = made.kwargs.get("axis")
            if axis not in (0, (0,)) or made.kwargs.get("keepdims", False) or set(made.kwargs) - {"axis", "keepdims"}:
                return None
            (a_ref,) = made.args
            kind, b = "sum", None
        elif (made.kind == "call" and made.target == "np.dot" and not made.kwargs) or (
            made.kind == "binop" and made.target == "@"
        ):
            a_t, b_ref = made.args
            if not (isinstance(a_t, Ref) and isinstance(b_ref, Ref) and a_t.var in mine):
                return None
            transposed = loop.blocks[0].stmts[made_by[a_t.var]]
            if transposed.kind != "attr" or transposed.target != "T":
                return None
            (a_ref,) = transposed.args
            kind, b = "dot", b_ref.var
            removed.append(made_by[a_t.var])
        else:
            return None
        a = a_ref.var
        if len(a.shape) != 2 or (b is not None and len(b.shape) != 2):
            return None
        if any(self._slice_key(loop, v) is None or v in self.written for v in ([a] if b is None else [a, b])):
            return None  # read after the loop: it must still hold what each step made
        # every iteration's intermediate values must serve this sum alone
        for blk in loop.blocks:
            for number in removed[:1] + removed[2:]:
                for var in blk.stmts[number].outs:
                    if self.readers.get(var, 0) != 1:
                        return None
        for v in [a] if b is None else [a, b]:
            self.extra_buffered.add(self._slice_key(loop, v)[0])
        return kind, acc, a, b, removed

    def _slice_key(self, loop: Loop, var: Var):
        """((family, position), step offset) of the buffer holding `var` of every iteration."""
        first = loop.blocks[0]
        if var in {v for s in first.stmts for v in s.outs}:
            return (first.family, self.position[var]), 0
        if var in loop.fixed or var not in self.block_of or self.block_of[var].family is None:
            return None
        owner = self.block_of[var]
        return (owner.family, self.position[var]), owner.step - first.step

    def _removed(self, loop: Loop) -> set:
        """The statement numbers the loop body leaves out: fused sums and scatters."""
        removed = {number for fusion in loop.fused.values() for number in fusion[4]}
        for j, scatter in loop.scatters.items():
            removed.update((j, scatter[0]))
        return removed

    def _plan_carried(self, loop: Loop) -> None:
        """The values an iteration reads from the one before it, each read before the iteration
        makes its own: read as the loop's local name, which still holds the previous value (the
        first iteration's is set before the loop), so no buffer keeps every step's."""
        first = loop.blocks[0]
        direction = loop.steps[1] - loop.steps[0]
        skipped = self._removed(loop) | set(loop.vectorized)
        mine = {v for stmt in first.stmts for v in stmt.outs}
        eligible: dict = {}
        for j, stmt in enumerate(first.stmts):
            for var in stmt.refs():
                if var in loop.entry:  # rolling.py checked the order
                    eligible[loop.entry[var]] = j not in skipped and loop.entry[var][0] not in skipped
                    continue
                owner = self.block_of.get(var)
                if owner is None or owner.family != first.family or var in loop.fixed or var in mine:
                    continue
                position = self.position[var]
                reads_before = owner.step == first.step - direction and j <= position[0] and j not in skipped
                ok = reads_before and position[0] not in skipped
                eligible[position] = eligible.get(position, True) and ok
        loop.carried = {position for position, ok in eligible.items() if ok}
        if any(position not in loop.carried for position in loop.entry.values()):
            raise UnrollableLoop("a loop's starting value is not read before the loop makes its own")

    def _plan_rows(self) -> None:
        """A layer's outputs stacked after its loop (np.array of every step's value, in order):
        the loop writes each value into its row of the stack instead (out=), so no list keeps
        them and no copy is made."""
        for item in self.items:
            for stmt in [] if isinstance(item, Loop) else item.stmts:
                axis = stacking_axis(stmt)
                arg = stmt.args[0] if axis is not None else None
                if not isinstance(arg, tuple) or len(stmt.outs) != 1:
                    continue
                variables = [a.var for a in arg if isinstance(a, Ref)]
                loop = self.loop_of.get(variables[0]) if variables else None
                if loop is None or len(variables) != len(arg):
                    continue
                if any(self.loop_of.get(v) is not loop for v in variables):
                    continue
                out, template = stmt.outs[0], loop.blocks[0]
                position = self.position[variables[0]]
                j = position[0]
                steps = [self.block_of[v].step for v in variables]
                if (
                    steps != loop.steps
                    or loop.steps != sorted(loop.steps)
                    or any(self.position[v] != position for v in variables)
                    or out in self.written
                    or any(v in self.written for v in variables)
                    or j in self._removed(loop) | set(loop.vectorized) | set(loop.hoisted)
                    or not _into_out(template.stmts[j])
                    or out.dtype != variables[0].dtype
                ):
                    continue
                if axis == 1 and out.shape[0] > 1 and self._written_through(out):
                    continue  # its steps are every row's slices: a view of it may not be one as traced
                key = (template.family, position)
                self.rows[key] = (self.name(out), steps[0], axis)
                self.stacks[key] = (out, steps[0], steps[-1])
                self.dropped.add(id(stmt))

    def _written_through(self, var: Var) -> bool:
        """Whether some statement writes into var or into a view that may share its memory."""
        stmts = [stmt for item in self.items for blk in blocks_of(item) for stmt in blk.stmts]
        families = memory_families(stmts)
        return any(families.root(v) == families.root(var) for v in self.written)

    def _row(self, key, index: str) -> str:
        """The row of a kept value at step `index` (a Python expression)."""
        name, first, axis = self.rows[key]
        return name + _at(axis, f"{index} - {first}" if first else index)

    def _row_from_start(self, loop: Loop, key, offset: int) -> str | None:
        """The row at step t + offset, in a loop that also reads the starting value in the
        place of the row before the first: a row of the rows with the starting value first."""
        if key not in loop.before_first.values():
            return None
        _, first, axis = self.rows[key]
        return self.from_start[key][0] + _at(axis, _step_index(offset - first + 1))

    def _local_after_loop(self, var: Var) -> bool:
        """Whether `var` is the last iteration's value of a statement its loop runs: after the
        loop, the loop's local name still holds it."""
        loop = self.loop_of.get(var)
        if loop is None or self.block_of[var] is not loop.blocks[-1]:
            return False
        return self.position[var][0] not in self._removed(loop) | set(loop.vectorized)

    def _plan_buffers(self) -> set:
        """(family, position) of the values a buffer keeps per step: those a loop reads from
        another iteration (unless carried) or from an unrolled block of a family, and those made
        in a loop and read after it (unless the last iteration's)."""
        needed = set()
        for item in self.items:
            if isinstance(item, Loop):
                self._plan_carried(item)
                removed = self._removed(item)
                for blk in item.blocks:
                    mine = {v for s in blk.stmts for v in s.outs}
                    for number, stmt in enumerate(blk.stmts):
                        if number in removed:
                            continue
                        for var in stmt.refs():
                            if var in mine:
                                continue
                            carried = self.position.get(var) in item.carried and self.block_of[var].family == blk.family
                            if carried and (blk is not item.blocks[0] or var not in self.loop_of):
                                continue
                            if carried and self._local_after_loop(var):
                                continue
                            if var not in item.fixed or var in self.loop_of:
                                needed.add(var)
            else:
                for stmt in item.stmts:
                    needed.update(v for v in stmt.refs() if v in self.loop_of and not self._local_after_loop(v))
                    for run in _sequences((stmt.args, tuple(stmt.kwargs.values()))):
                        needed.update(v for v in run if v in self.block_of and self.block_of[v].family is not None)
        return {
            (self.block_of[v].family, self.position[v])
            for v in needed
            if v in self.block_of and self.block_of[v].family is not None
        } | self.extra_buffered

    def name(self, var: Var, loop: bool = False) -> str:
        if var not in self.var_names:
            blk = self.block_of.get(var)
            suffix = scope_suffix(blk.scope if blk else "", loop)
            self.var_names[var] = self.names(var.hint + ("_" + suffix if suffix else ""))
        return self.var_names[var]

    def lines(self) -> list[str]:
        body: list[str] = []
        for item in self.items:
            body += self.loop_lines(item) if isinstance(item, Loop) else self.block_lines(item)
        written = self.allocations + body  # a buffer no line reads is neither made nor filled
        return [text for text in written if not (isinstance(text, _Filling) and text.buffer not in self.read_buffers)]

    def _shift(self, key) -> int:
        """1 for a buffer whose slot 0 holds the starting value of a loop in time order (step s in
        slot s + 1), else 0 (a loop backwards in time keeps it after the last step's slot)."""
        return 1 if key in self.slot_starts and self._in_time_order(key[0]) else 0

    def _in_time_order(self, family) -> bool:
        steps = self.family_steps[family]
        return steps[0] < steps[1]

    def _start_slot(self, key) -> int:
        return 0 if self._in_time_order(key[0]) else max(self.family_steps[key[0]]) + 1

    def buffer(self, key, var: Var) -> str:
        """The list that keeps, per step, the value at `key` = (family, position), to be read."""
        name = self._buffer_name(key, var)
        self.read_buffers.add(name)
        return name

    def _buffer_name(self, key, var: Var) -> str:
        """The name of that list, made (with the line that makes it) on first use."""
        name = self.buffers.get(key)
        if name is None:
            family = key[0]
            prefix = scope_suffix(family[1].rstrip("/"), True)
            name = self.names(var.hint + ("_" + prefix if prefix else "") + "_steps")
            self.buffers[key] = name
            where = family[1].rstrip("/") or "the sequence"
            self.allocations.append(
                _Filling(
                    f"{name} = [None] * {max(self.family_steps[family]) + 1 + (key in self.slot_starts)}  "
                    f"# {var.hint} of every step of {where} ({family[0]})"
                    + (", and the starting value" if key in self.slot_starts else ""),
                    name,
                )
            )
        return name

    def stores(self, stmt: Stmt, blk: Block, index: str, read, indent: str = "") -> list[str]:
        """buf[step] = value, for the outputs of `stmt` a buffer keeps."""
        text: list[str] = []
        if blk.family is None:
            return text
        for var in stmt.outs:
            key = (blk.family, self.position[var])
            if key in self.buffered_positions and key not in self.rows:
                name = self._buffer_name(key, var)
                slot = index if not self._shift(key) else "t + 1" if index == "t" else str(int(index) + 1)
                text.append(_Filling(f"{indent}{name}[{slot}] = {read(var)}", name))
        return text

    def read_outside_loops(self, var: Var) -> str:
        """A variable as read by a statement outside every loop."""
        if var in self.loop_of and self._local_after_loop(var):
            return self.name(var)
        if var in self.loop_of:
            blk = self.block_of[var]
            key = (blk.family, self.position[var])
            if key in self.rows:
                return self._row(key, str(blk.step))
            return f"{self.buffer(key, var)}[{blk.step + self._shift(key)}]"  # type: ignore[operator]
        return self.name(var)

    def _note_stack(self, stmt: Stmt) -> None:
        """Remember an np.array of a run of steps' values (a layer's outputs stacked): a loop
        that needs those values stacked later takes rows of it instead of stacking again."""
        if not (
            stmt.kind == "call"
            and stmt.target == "np.array"
            and len(stmt.args) == 1
            and not stmt.kwargs
            and isinstance(stmt.args[0], (tuple, list))
            and len(stmt.outs) == 1
        ):
            return
        out = stmt.outs[0]
        variables = [v.var for v in stmt.args[0] if isinstance(v, Ref)]
        if len(variables) != len(stmt.args[0]) or out in self.written or not variables:
            return
        if any(v not in self.block_of or self.block_of[v].family is None or v in self.written for v in variables):
            return
        keys = {(self.block_of[v].family, self.position[v]) for v in variables}
        steps = [self.block_of[v].step for v in variables]
        if len(keys) == 1 and steps == list(range(steps[0], steps[0] + len(steps))):  # type: ignore[arg-type, operator]
            self.stacks.setdefault(keys.pop(), (out, steps[0], steps[-1]))  # a layer's rows stay

    def _stacked_after(self, loop: Loop) -> list:
        """The loop's own values that the sums after it stack (scatters and fused products)."""
        mine = {v for s in loop.blocks[0].stmts for v in s.outs}
        wanted = [scatter[4] for scatter in loop.scatters.values()]
        wanted += [v for fusion in loop.fused.values() for v in fusion[2:4] if v is not None]
        return [v for v in dict.fromkeys(wanted) if v in mine]

    def stacked(self, loop: Loop, var: Var, low: int, high: int, lines: list, cache: dict) -> str:
        """`var` of the steps low..high (+ its offset) stacked on a new first axis: rows of an
        array stacked before (no copy) or, once per loop, a new stack appended to `lines`."""
        key, offset = self._slice_key(loop, var)
        first, last = low + offset, high + offset
        if key in self.rows:
            name, row_first, axis = self.rows[key]
            if first < row_first and key in loop.before_first.values():
                name, row_first = self.from_start[key][0], row_first - 1
            steps = _steps_first(name, axis, f"{first - row_first}:{last - row_first + 1}")
            if axis == 0:
                return steps
            if (key, offset) not in cache:  # a view with the steps first, named once
                cache[(key, offset)] = self.names(var.hint + "_by_step")
                lines.append(f"{cache[(key, offset)]} = {steps}")
            return cache[(key, offset)]
        known = self.stacks.get(key)
        if known is not None and known[1] <= first and last <= known[2]:
            name = known[0] if isinstance(known[0], str) else self.read_outside_loops(known[0])
            return name if (first, last) == known[1:] else f"{name}[{first - known[1]}:{last - known[1] + 1}]"
        if (key, offset) not in cache:
            name = self.names(var.hint + "_stacked")
            shift = self._shift(key)
            lines.append(f"{name} = np.array({self.buffer(key, var)}[{first + shift}:{last + 1 + shift}])")
            cache[(key, offset)] = name
        return cache[(key, offset)]

    def sequence(self, variables: list) -> str | None:
        """A run of the same value of consecutive steps, as a slice of its buffer."""
        if len(variables) < MIN_LOOP or any(
            v not in self.block_of or self.block_of[v].family is None for v in variables
        ):
            return None
        keys = {(self.block_of[v].family, self.position[v]) for v in variables}
        steps = [self.block_of[v].step for v in variables]
        if len(keys) != 1 or steps != list(range(steps[0], steps[0] + len(steps))):  # type: ignore[arg-type, operator]
            return None
        (key,) = keys
        if key in self.rows:
            name, first, axis = self.rows[key]
            return _steps_first(name, axis, f"{steps[0] - first}:{steps[-1] - first + 1}")
        if key not in self.buffered_positions:
            return None
        shift = self._shift(key)
        return f"{self.buffer(key, variables[0])}[{steps[0] + shift}:{steps[-1] + 1 + shift}]"  # type: ignore[operator]

    def block_lines(self, blk: Block) -> list[str]:
        if all(id(stmt) in self.dropped for stmt in blk.stmts):
            return []
        text = [f"# {blk.phase}" + (f": {blk.scope}" if blk.scope else "")]
        for stmt in blk.stmts:
            if id(stmt) in self.dropped:
                continue  # the loop before wrote its rows
            self._note_stack(stmt)
            text.append(line(stmt, self.read_outside_loops, sequence=self.sequence))
            text += self.stores(stmt, blk, str(blk.step), self.read_outside_loops)
        return text

    def loop_lines(self, loop: Loop) -> list[str]:
        first = loop.blocks[0]
        direction = loop.steps[1] - loop.steps[0]
        start, last = loop.steps[0], loop.steps[-1]
        stop = last if loop.unmade else last + direction  # a padded last step is written after the loop
        header = f"for t in range({start}, {stop}):" if direction == 1 else f"for t in range({start}, {stop}, -1):"
        mine = {v for s in first.stmts for v in s.outs}

        low, high = min(start, last), max(start, last)
        vector_names: dict = {}

        def read(var):
            if var in vector_names:
                return f"{vector_names[var]}[t - {low}]" if low else f"{vector_names[var]}[t]"
            if var in mine:
                return self.loop_name(var)
            if var in loop.fixed:
                return self.read_outside_loops(var)
            if var in loop.entry:
                return self.loop_name(carried_template[loop.entry[var]])
            owner = self.block_of[var]
            if self.position[var] in loop.carried and owner.family == first.family:
                return self.loop_name(carried_template[self.position[var]])
            key, index = (owner.family, self.position[var]), _step_index(owner.step - first.step)
            if key in self.rows:
                return self._row_from_start(loop, key, owner.step - first.step) or self._row(key, index)
            return f"{self.buffer(key, var)}[{_step_index(owner.step - first.step + self._shift(key))}]"

        removed = self._removed(loop)
        before = [f"# {first.phase}: {loop.family[1]}t=t for t = {start}, ..., {last}"]
        carried_template = {self.position[v]: v for v in mine if self.position[v] in loop.carried}
        for stmt in first.stmts:  # the values the first iteration reads as the previous one's
            for var in stmt.refs():
                carried = self.position.get(var) in loop.carried and self.block_of[var].family == first.family
                if var in loop.entry:
                    local = self.loop_name(carried_template[loop.entry[var]])
                elif var not in mine and carried:
                    local = self.loop_name(carried_template[self.position[var]])
                else:
                    continue
                initial = f"{local} = {self.read_outside_loops(var)}"
                if initial not in before:
                    before.append(initial)
        stacked_names: dict = {}

        def read_stacked(var):
            """A read by a vectorized statement: every step's value at once."""
            if var in vector_names:
                return vector_names[var]
            if var in loop.fixed:
                return self.read_outside_loops(var)
            return self.stacked(loop, var, low, high, before, stacked_names)

        base_of = {}
        position = 0
        for j, stmt in enumerate(first.stmts):
            base_of[j] = position
            position += len(integers_of(stmt))
        in_place = self._scatters_in_place(loop, low, high)
        for j in loop.vectorized:
            stmt = first.stmts[j]
            (out,) = stmt.outs
            vector_names[out] = self.names(out.hint + "_" + scope_suffix(first.scope, True) + "_all")

            def write(var, out=out):
                return vector_names[var] if var is out else read_stacked(var)

            spent = self._inherited(stmt, vector_names)
            if spent is not None:  # a stacked value read here alone takes this statement's result in its place
                stmt = _with_out(stmt, vector_names[spent])
            elif j in in_place.values():  # the rows of the zeros the steps' values are added to after the loop
                stmt = _with_out(stmt, next(rows for (_, rows), root in in_place.items() if root == j))
            before.append(line(stmt, write, lambda value, position, base=base_of[j]: loop.affine[base + position]))
        # values the sums after the loop stack: written into their rows of one array as they are made
        filled = {}
        for j, stmt in enumerate(first.stmts):  # a layer's outputs, written into their stack
            for var in stmt.outs:
                key = (first.family, self.position[var])
                if key in self.from_start:  # the starting value first, then every step's
                    (name, _, axis), (whole, start) = self.rows[key], self.from_start[key]
                    shape = _stack_shape(var.shape, len(loop.steps) + 1, axis)
                    note = f"the starting value, then {var.hint} of every step"
                    before.append(f"{whole} = np.empty({shape}, {literal(var.dtype)})  # {note}")
                    before.append(f"{whole}{_at(axis, '0')} = {self.read_outside_loops(start)}")
                    before.append(f"{name} = {whole}{_at(axis, '1:')}")
                    filled[j] = (name, axis)
                elif key in self.rows:
                    name, _, axis = self.rows[key]
                    shape = _stack_shape(var.shape, len(loop.steps), axis)
                    before.append(f"{name} = np.empty({shape}, {literal(var.dtype)})  # {var.hint} of every step")
                    filled[j] = (name, axis)
        for key, start in self.slot_starts.items():  # the slot of a buffer for the starting value
            if key[0] == first.family:
                j, k = key[1]
                name = self._buffer_name(key, first.stmts[j].outs[k])
                before.append(_Filling(f"{name}[{self._start_slot(key)}] = {self.read_outside_loops(start)}", name))
        for var in self._stacked_after(loop):
            j = next(j for j, s in enumerate(first.stmts) if var in s.outs)
            stmt = first.stmts[j]
            if var in self.written or j in loop.vectorized or j in removed or j in loop.hoisted or not _into_out(stmt):
                continue
            key = (first.family, self.position[var])
            if key in self.stacks:
                continue
            spent = self._inherited(stmt, vector_names)
            if spent is not None:  # the row of a stacked value read here alone: the step's result takes its place
                name = vector_names[spent]
            else:
                name = self.names(var.hint + "_" + scope_suffix(first.scope, True) + "_rows")
                shape = ", ".join(str(n) for n in (high - low + 1,) + tuple(var.shape))
                before.append(f"{name} = np.empty(({shape}), {literal(var.dtype)})  # {var.hint} of every step")
            filled[j] = (name, 0)
            self.stacks[key] = (name, low, high)
        inside = [header]
        base = 0
        for j, stmt in enumerate(first.stmts):
            count = len(integers_of(stmt))

            def integer(value, position, base=base, count=count):
                return loop.affine[base + position] if position < count else None

            base += count
            if j in removed:
                continue
            if j in loop.vectorized:
                inside += self.stores(stmt, first, "t", read, indent="    ")
                continue
            if j in loop.hoisted:
                before.append(line(stmt, read, integer))
                continue
            row = filled[j][0] + _at(filled[j][1], f"t - {low}" if low else "t") if j in filled else None
            name = self.loop_name(stmt.outs[0]) if row else ""
            inside += ["    " + text for text in _lines_into(stmt, row, read, name, integer)]
            inside += self.stores(stmt, first, "t", read, indent="    ")
        if loop.unmade:
            inside += self._last_step_lines(loop, vector_names, low, filled)
        after = []
        stacks_after: dict = {}
        if loop.scatters or loop.fused:
            after.append("# what every step added, added at once")
        for j, (v, x, parts, offset, g) in loop.scatters.items():
            rest = "".join(", " + Writer(self.read_outside_loops).index_part(p) for p in parts[1:])
            target = f"{self.read_outside_loops(x)}[{low + offset}:{high + offset + 1}{rest}]"
            if (x, target) in in_place:
                after.append(f"{target} += 0.0  # 0 + each step's value, as the zeros it was written over")
                continue
            rows = self.stacked(loop, g, low, high, after, stacks_after)
            after.append(f"{target} += {rows}")
        for kind, acc, a, b, _ in loop.fused.values():
            rows_a = self.stacked(loop, a, low, high, after, stacks_after)
            rows_b = None if kind == "sum" else self.stacked(loop, b, low, high, after, stacks_after)
            after += self._fused_sum(loop, low, kind, read(acc), acc in self.starts, (a, rows_a), (b, rows_b))
        self._name_as_first_block(loop)
        return before + inside + after

    def _name_as_first_block(self, loop: Loop) -> None:
        """Later iterations' variables answer to the names of the first's."""
        first = loop.blocks[0]
        for blk in loop.blocks[1:]:
            for stmt, template in zip(blk.stmts, first.stmts):
                for var, same in zip(stmt.outs, template.outs):
                    self.var_names[var] = self.loop_name(same)

    def _fused_sum(self, loop: Loop, low: int, kind: str, total: str, starts: bool, a: tuple, b: tuple) -> list[str]:
        """The lines of a fused sum: total (+)= A^T @ B over every step's rows at once (or the sum
        of A's rows). Where that holds an inf or a NaN, each step's share is added in turn, in the
        order the steps ran, as eager adds them: an overflow depends on the order (one step's
        +inf and another's -inf make NaN; one product over both steps' rows makes +inf or -inf)."""
        (a_var, rows_a), (b_var, rows_b) = a, b
        whole = total if starts else self.names(a_var.hint + "_sum")
        if kind == "sum":
            lines = [f"{whole} = {rows_a}.sum(axis=(0, 1))"]

            def share(i) -> str:
                return f"{rows_a}[{i}].sum(axis=0)"
        else:
            a_rows, b_rows = self.names(a_var.hint + "_rows"), self.names(b_var.hint + "_rows")
            lines = [
                f"{a_rows} = {rows_a}.reshape(-1, {a_var.shape[-1]})",
                f"{b_rows} = {rows_b}.reshape(-1, {b_var.shape[-1]})",
                f"{whole} = np.dot({a_rows}.T, {b_rows})",
            ]

            def share(i) -> str:
                return f"np.dot({rows_a}[{i}].T, {rows_b}[{i}])"

        first, last = loop.steps[0] - low, loop.steps[-1] - low  # rows of the steps in the order they ran
        direction = loop.steps[1] - loop.steps[0]
        note = "# an inf, a NaN or a huge value: each step's share added in turn, as the steps add theirs"
        if starts:
            lines.append(f"if not {_all_finite(total)}:  {note}")
            lines.append(f"    {total} = {share(first)}")
            lines.append(f"    for i in range({first + direction}, {last + direction}, {direction}):")
        else:
            lines.append(f"if {_all_finite(whole)}:")
            lines.append(f"    {total} += {whole}")
            lines.append(f"else:  {note}")
            lines.append(f"    for i in range({first}, {last + direction}, {direction}):")
        lines.append(f"        {total} += {share('i')}")
        return lines

    def _last_step_lines(self, loop: Loop, vector_names: dict, low: int, filled: dict) -> list[str]:
        """The padded last step's own statements, after the loop: those the loop would run at
        that step, less the copies (rolling.pad_last_steps). The sums after the loop and the
        statements run on all steps at once before it cover that step with the others."""
        first, last, before = loop.blocks[0], loop.blocks[-1], loop.blocks[-2]
        self._name_as_first_block(loop)
        rows = {  # every step's values that the loop made for all steps at once, before it
            var: (vector_names[same], blk.step)
            for blk in loop.blocks
            for stmt, template in zip(blk.stmts, first.stmts)
            for var, same in zip(stmt.outs, template.outs)
            if same in vector_names
        }
        mine = {v for stmt in last.stmts for v in stmt.outs}

        def read(var):
            if var in rows:
                name, step = rows[var]
                return f"{name}[{step - low}]"
            if var in mine:
                return self.name(var)
            if self.block_of.get(var) is before and self.position[var] in loop.carried:
                return self.name(var)  # the loop's local still holds the step before's value
            return self.read_outside_loops(var)  # another step's: its row or its slot of a buffer

        skipped = self._removed(loop) | set(loop.vectorized) | set(loop.hoisted) | loop.unmade
        text = [f"# {last.phase}: {last.scope}, the loop's last step (what the others make for the next one left out)"]
        for j, stmt in enumerate(last.stmts):
            if j in skipped:
                continue
            row = filled[j][0] + _at(filled[j][1], str(last.step - low)) if j in filled else None
            text += _lines_into(stmt, row, read, self.name(stmt.outs[0]) if row else "")
            text += self.stores(stmt, last, str(last.step), read)
        return text

    def _inherited(self, stmt: Stmt, stacked) -> Var | None:
        """The stacked value (one of `stacked`, the loop's vectorized values) a statement writes
        its result over: one it reads alone, of its shape and dtype."""
        (out,) = stmt.outs
        spent = [v for v in stmt.refs() if v in stacked and self.readers.get(v) == 1]
        if spent and _into_out(stmt) and (spent[0].shape, spent[0].dtype) == (out.shape, out.dtype):
            return spent[0]
        return None

    def _scatters_in_place(self, loop: Loop, low: int, high: int) -> dict:
        """(x, rows text) -> the vectorized statement to write into rows of x: for a scatter
        x[rows] += G after the loop whose G is an array of vectorized statements the loop writes
        over, into zeros x that nothing reads before then. The chain's first statement writes
        into those rows of x instead, and the scatter adds 0 (so -0.0 becomes 0.0 as before)."""
        first = loop.blocks[0]
        vectorized = {first.stmts[j].outs[0]: j for j in loop.vectorized}
        start = self.item_number[id(first)]
        found = {}
        for _, x, parts, offset, g in loop.scatters.values():
            made = x.stmt
            if len(parts) != 1 or made is None or not (made.kind == "call" and made.target == "np.zeros"):
                continue
            if made.refs() or made.kwargs.get("dtype") is None or not x.contiguous:
                continue
            root = self._inherited(first.stmts[self.position[g][0]], vectorized)
            if root is None:
                continue
            while (earlier := self._inherited(first.stmts[vectorized[root]], vectorized)) is not None:
                root = earlier  # back to the statement whose array the chain writes over
            if (root.dtype, root.shape) != (x.dtype, x.shape[1:]) or not self._untouched(
                x, loop, low + offset, high + offset, start
            ):
                continue
            target = f"{self.read_outside_loops(x)}[{low + offset}:{high + offset + 1}]"
            found[(x, target)] = vectorized[root]
        return found

    def _untouched(self, x: Var, loop: Loop, low: int, high: int, start: int) -> bool:
        """Whether nothing reads or writes rows low..high of x before the loop's scatter: every
        statement that reads x before the loop indexes one row outside them."""
        for item in self.items[:start]:
            for blk in blocks_of(item):
                for stmt in blk.stmts:
                    if x not in stmt.refs() or stmt is x.stmt:
                        continue
                    row = stmt.args[1] if stmt.kind == "getitem" and len(stmt.args) == 2 else None
                    if type(row) is not int or low <= row <= high:
                        return False
        return True  # inside the loop only the scatter's own views read x (_plan_scatters)

    def loop_name(self, var: Var) -> str:
        if var not in self.var_names:
            blk = self.block_of[var]
            self.var_names[var] = self.names(var.hint + "_" + scope_suffix(blk.scope, True))
        return self.var_names[var]


_ELEMENTWISE_CALLS = {
    "np.tanh",
    "np.exp",
    "np.log",
    "np.square",
    "np.sqrt",
    "np.negative",
    "np.abs",
    "np.maximum",
    "np.minimum",
    "np.multiply",
    "np.add",
    "np.subtract",
    "np.divide",
}


def _elementwise(stmt: Stmt) -> bool:
    """An elementwise NumPy call making one new array (no out=, no options)."""
    if stmt.writes is not None or len(stmt.outs) != 1:
        return False
    if stmt.kind in ("binop", "unop"):
        return stmt.target not in ("@",)
    return stmt.kind == "call" and stmt.target in _ELEMENTWISE_CALLS and not stmt.kwargs


def _unit_slope(expression: str) -> bool:
    return expression == "t" or expression.startswith("(t ")


def _constant_part(part) -> bool:
    if isinstance(part, slice):
        ends = (part.start, part.stop, part.step)
        return all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in ends)
    return part is Ellipsis or part is None or (isinstance(part, int) and not isinstance(part, bool))


_UFUNC_OF = {"+": "np.add", "-": "np.subtract", "*": "np.multiply", "/": "np.divide", "**": "np.power"}


def _into_out(stmt: Stmt) -> bool:
    """Whether the statement can write its result into a given array (out=) instead."""
    if stmt.writes is not None or len(stmt.outs) != 1 or stmt.outs[0].scalar:
        return False
    if stmt.kind == "binop":
        return stmt.target in _UFUNC_OF
    if stmt.kind == "unop":
        return stmt.target == "-"
    return stmt.kind == "call" and stmt.target in _ELEMENTWISE_CALLS and not stmt.kwargs


def _with_out(stmt: Stmt, row: str) -> Stmt:
    """The same call, written as a ufunc call into out=row."""
    if stmt.kind == "binop":
        target, args = _UFUNC_OF[stmt.target], stmt.args
    elif stmt.kind == "unop":
        target, args = "np.negative", stmt.args
    else:
        target, args = stmt.target, stmt.args
    return Stmt("call", target, args, {"out": Source(row)}, outs=stmt.outs, reads=stmt.reads, extra=dict(stmt.extra))


def _lines_into(stmt: Stmt, row: str | None, read, name: str, integer=None) -> list[str]:
    """The statement's lines; with `row` (the row of a stack its value is kept in), written into
    that row and named `name`: in place where it updates the row itself, else through out=."""
    if row is None:
        return [line(stmt, read, integer)]
    return _updated_in_place(stmt, row, read, name) or [line(_with_out(stmt, row), read, integer)]


def _updated_in_place(stmt: Stmt, row: str, read, name: str) -> list[str] | None:
    """`name = row; name op= other` for a binary operator whose operand is that very row: the
    same values as `np.op(a, b, out=row)` (a * b and a + b are b * a and b + a in IEEE
    arithmetic), in the cheaper in-place form."""
    if stmt.kind != "binop" or stmt.target not in ("+", "-", "*", "/") or not all(type(a) is Ref for a in stmt.args):
        return None
    left, right = (read(a.var) for a in stmt.args)
    if left == row:
        other = right
    elif right == row and stmt.target in ("+", "*"):
        other = left
    else:
        return None
    return [f"{name} = {row}", f"{name} {stmt.target}= {other}"]


class _Filling(str):
    """A line that makes or fills the buffer `buffer`: left out when no line reads that buffer."""

    buffer: str

    def __new__(cls, text: str, buffer: str):
        line = super().__new__(cls, text)
        line.buffer = buffer
        return line


def _at(axis: int, index: str) -> str:
    """Indexing that takes `index` along the steps' axis of a stack."""
    return f"[{index}]" if axis == 0 else f"[:, {index}]"


def _steps_first(name: str, axis: int, steps: str) -> str:
    """A run of steps of a stack, with the steps on the first axis."""
    return f"{name}[{steps}]" if axis == 0 else f"{name}[:, {steps}].swapaxes(0, 1)"


def _stack_shape(shape: tuple, steps: int, axis: int) -> str:
    sizes = (steps, *shape) if axis == 0 else (shape[0], steps, *shape[1:])
    return "(" + ", ".join(map(str, sizes)) + ")"


def _step_index(offset: int) -> str:
    return "t" if offset == 0 else (f"t + {offset}" if offset > 0 else f"t - {-offset}")


def _sequences(value):
    """The tuples and lists of at least MIN_LOOP variables inside a statement's arguments."""
    if isinstance(value, (tuple, list)):
        if len(value) >= MIN_LOOP and all(isinstance(v, Ref) for v in value):
            yield [v.var for v in value]
        else:
            for item in value:
                yield from _sequences(item)


def _affine(slope: int, intercept: int) -> str:
    core = "t" if slope == 1 else ("-t" if slope == -1 else f"{slope} * t")
    if intercept == 0:
        return core if slope > 0 else f"({core})"
    return f"({core} + {intercept})" if intercept > 0 else f"({core} - {-intercept})"


def _all_finite(array: str) -> str:
    """A condition that fails whenever the fresh (C-contiguous) `array` holds an inf or a NaN:
    its dot product with itself is then not finite. It fails too when the sum of the squares
    overflows the dtype (float64 elements of about 1e154 / sqrt(size), float32 of 1e19 /
    sqrt(size)), which only sends the program down the exact, slower path; unlike a ufunc's
    sum, the product warns of nothing."""
    return f"math.isfinite(np.vdot({array}, {array}))"
