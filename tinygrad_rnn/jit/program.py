"""From a traced run to one Python function: names, the checks at its top, its body, compiling.

The generated function takes the step's arguments, reads every parameter's (and outside
array's) current data, checks that what the trace assumed still holds (shapes, dtypes,
the parameters of every module it ran, their `training` flags, outside numbers) and raises
_Stale if not, then runs the recorded NumPy calls, the per-step blocks of recurrent layers
rolled into loops (rolling.py), and returns the loss as a Tensor.
"""

from __future__ import annotations

import io
import itertools
import keyword
import linecache
import math
import numbers
import operator
import re
import tokenize

import numpy as np

from ..nn.module import Module
from ..tensors import Tensor
from . import rolling
from .body import Renderer
from .capture import Capture, current_value, module_settings, raw_data, watched_outside
from .ir import Ref, Stmt, Var
from .render import NAMED_DTYPES, literal
from .simplify import memory_families, simplify
from .uniform import uniform_steps

_program_numbers = itertools.count()


class Stale(Exception):
    """Raised by a program whose assumptions no longer hold: `value_changed` when a value the
    library checks or sizes an array by (a label, a sequence length) differs from the traced
    one, which another program may serve; else an input, parameter or module changed and the
    program is done."""

    def __init__(self, reason: str, value_changed: bool = False):
        super().__init__(reason)
        self.value_changed = value_changed


class Program:
    """A compiled step: `function(*args)` runs it; `source` is its Python text."""

    def __init__(self, source: str, function, line_count: int, modules: list):
        self.source, self.function, self.line_count, self.modules = source, function, line_count, modules


def identifier(text: str) -> str:
    """`text` made a valid, non-keyword Python name."""
    name = re.sub(r"\W+", "_", text).strip("_") or "v"
    if name[0].isdigit():
        name = "v_" + name
    return name + "_" if keyword.iskeyword(name) or name in ("np", "math") else name


LOOP_COUNTERS = ("t", "i")  # the counters of the program's loops: no input or value takes their names


class Namer:
    """Unique names: the first asked for `base` gets it, later ones base_2, base_3, ..."""

    def __init__(self, taken=()):
        self.used = set(taken)

    def __call__(self, base: str) -> str:
        base = identifier(base)
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


def parameter_names(capture: Capture) -> dict[int, str]:
    """id(tensor) -> a readable name: the attribute name when unique among the step's tensors,
    else the dotted path from a module the function can see ("head.weight" -> head_weight)."""
    roots = [(name, value) for name, (_, value) in capture.outside.items() if isinstance(value, Module)]
    dotted: dict[int, str] = {}
    for _, root in roots:
        for name, param in root.named_parameters():
            dotted.setdefault(id(param), name)
    for module in capture.modules.values():
        for name, param in module.named_parameters():
            dotted.setdefault(id(param), name)
    return dotted


def outside_owner(capture: Capture) -> dict[int, tuple]:
    """id(module) -> (parent module, attribute) for every module used, found from the modules
    the function can see (closure, globals, a bound method's self)."""
    owners: dict[int, tuple] = {}
    roots = [value for _, (_, value) in capture.outside.items() if isinstance(value, Module)]
    for root in roots:
        for _, module in root.named_modules():
            for attribute, child in module._modules.items():
                owners.setdefault(id(child), (module, attribute))
    return owners


def build(capture: Capture, result, loop: bool = True) -> Program:
    """The program of one traced run whose fn returned `result`."""
    rec = capture.recorder
    traced_outputs = _output_vars(result)
    stmts, outputs = simplify(live_statements(rec.stmts, traced_outputs), traced_outputs)
    stmts = uniform_steps(live_statements(stmts, outputs)) if loop else live_statements(stmts, outputs)
    stmts = gradients_last(stmts)
    names = Namer(("np", "math", "_Stale", "_from_op", "_hand_over", *NAMED_DTYPES, *LOOP_COUNTERS))
    namespace = {"np": np, "math": math, "_Stale": Stale, "_from_op": Tensor._from_op, **NAMED_DTYPES}
    arg_names = [names(n) for n in _argument_names(capture)]
    arg_parameters = list(arg_names)
    dotted = parameter_names(capture)
    bare_counts: dict[str, int] = {}
    for var in rec.inputs:
        if var.source[0] == "tensor":
            bare = var.source[1].name or "tensor"
            bare_counts[bare] = bare_counts.get(bare, 0) + 1
    var_names: dict[Var, str] = {}
    prologue, checks = [], []
    for var in rec.inputs:
        kind = var.source[0]
        if kind == "arg":
            var_names[var] = arg_names[var.source[1]]
            continue
        if kind == "arg_tensor":
            i = var.source[1]
            name = arg_names[i]
            arg_parameters[i] = name + "_tensor"
            names.used.add(name + "_tensor")
            var_names[var] = name
            prologue.append(f"{name} = {name}_tensor._data")
            continue
        if kind == "tensor":
            tensor = var.source[1]
            bare = tensor.name or "tensor"
            # a unique, telling attribute name (weight_hh_l0) as it is; a plain one (weight) with its path
            telling = bare_counts.get(bare, 0) == 1 and "_" in bare
            wanted = bare if telling else dotted.get(id(tensor), bare)
            name = names(wanted)
            while name + "_tensor" in names.used:
                name = names(wanted)
            names.used.add(name + "_tensor")
            namespace[name + "_tensor"] = tensor
            var_names[var] = name
            prologue.append(f"{name} = {name}_tensor._data")
            checks.append(
                f"{name}.shape != {literal_shape(var.shape)} or {name}.dtype != {literal(var.dtype)} "
                f"or {name}_tensor.requires_grad is not {tensor.requires_grad} or {name}_tensor._hooks"
            )
            continue
        name = names(var.hint)
        var_names[var] = name
        prologue.append(f"{name} = {_outside_read(var.source, name + '_from', namespace, names)}")
        traced_type = type(current_value(var.source))
        array_type = "np.ndarray" if traced_type is np.ndarray else names(name + "_type")  # or a np.memmap
        namespace.setdefault(array_type, traced_type)
        checks.append(
            f"type({name}) is not {array_type} or {name}.shape != {literal_shape(var.shape)} "
            f"or {name}.dtype != {literal(var.dtype)}"
        )
    for source, var in capture.array_aliases:  # another place that held the same array: it still does
        checks.append(f"{_outside_read(source, var_names[var] + '_from', namespace, names)} is not {var_names[var]}")
    held = {id(value): key for key, value in namespace.items() if isinstance(value, Tensor)}
    checks += _module_checks(capture, namespace, names, held)
    checks += _outside_checks(capture, namespace, names)

    mark_handovers(stmts, outputs)
    namespace["_hand_over"] = hand_over
    items = rolling.arrange(stmts, memory_families(stmts), loop)
    mark_zero_products(items)
    renderer = Renderer(items, var_names, names)
    renamed = dict(zip(traced_outputs, outputs))

    def read_output(var: Var) -> str:
        return renderer.read_outside_loops(renamed.get(var, var))

    out_text = _output_expression(result, read_output)
    body_lines = release_dead(renderer.lines(), out_text)
    head = f"def step({', '.join(arg_parameters)}):"
    lines = [head, f'    """The compiled training step of {capture.recorder.function_name} (generated by jit)."""']
    if prologue:
        lines.append("    # the parameters' and outside arrays' current values, and what the program assumes of them")
        lines += ["    " + text for text in prologue]
    if checks:
        lines.append("    if (" + checks[0])
        lines += ["            or " + c for c in checks[1:]]
        lines.append("            ):")
        lines.append("        raise _Stale('an input, parameter or module is not what the program was traced with')")
    lines += ["    " + text for text in body_lines]
    lines.append(f"    return {out_text}")
    source = "\n".join(lines) + "\n"
    filename = f"<jit {capture.recorder.function_name} #{next(_program_numbers)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 (the program this module wrote)
    return Program(source, namespace["step"], len(lines), list(capture.modules.values()))


def _zero_checks(read: str, value, namespace: dict, names: Namer) -> list[str]:
    """For a number the program assumes to be zero: the checks that it still has its type and
    its sign, which == does not see (0 == 0.0 == -0.0, yet x + 0 keeps an integer array's
    dtype and x / 0.0 is not x / -0.0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != 0:
        return []
    kind = type(value)
    kind_name = kind.__name__ if kind in (int, float) else names(f"_{kind.__name__}_type")
    namespace.setdefault(kind_name, kind)
    checks = [f"type({read}) is not {kind_name}"]
    if kind is not int:
        checks.append(f"math.copysign(1.0, {read}) != {math.copysign(1.0, value)}")
    return checks


def _outside_read(source: tuple, holder_name: str, namespace: dict, names: Namer) -> str:
    """The expression that reads what a closure cell, or a dict (a module's globals, an object's
    attributes, a config), holds now: None for a removed entry."""
    holder = names(holder_name)
    namespace[holder] = source[1]
    if source[0] == "cell":
        return f"{holder}.cell_contents"
    if source[0] == "length":
        return f"len({holder})"
    if source[0] == "item":
        return f"({holder}[{source[2]}] if len({holder}) > {source[2]} else None)"
    return f"{holder}.get({source[2]!r})"


def release_dead(body: list[str], returned: str) -> list[str]:
    """`body` with `del a, b` after the last statement that mentions a and b, for every name the
    body assigns (a loop counts as one statement): the arrays are freed as soon as they are
    done with, as the eager step frees a graph's values during backward, not when the program
    returns."""
    units: list[list[str]] = []  # a statement, or a loop or an if (with its else) with its body
    for text in body:
        if (text.startswith(" ") or text.startswith("else:")) and units:
            units[-1].append(text)
        else:
            units.append([text])
    unit_of_line = [n for n, unit in enumerate(units) for _ in unit]
    assigned: set = set()
    last_use: dict = {}
    source = "\n".join(body) + "\n"
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, token in enumerate(tokens):
        if token.type != tokenize.NAME or keyword.iskeyword(token.string):
            continue
        line_number = token.start[0] - 1
        last_use[token.string] = unit_of_line[line_number]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        line_start = token.start[1] == len(body[line_number]) - len(body[line_number].lstrip())
        if following is not None and following.string in ("=", ",") and line_start and "=" in body[line_number]:
            targets = body[line_number].split("=")[0]
            assigned.update(n.strip() for n in targets.split(",") if n.strip().isidentifier())
    keep = {
        token.string
        for token in tokenize.generate_tokens(io.StringIO(returned + "\n").readline)
        if token.type == tokenize.NAME
    }
    freed: dict[int, list[str]] = {}
    for name in sorted(assigned - keep):
        freed.setdefault(last_use[name], []).append(name)
    result = []
    for n, unit in enumerate(units):
        result += unit
        if n in freed:
            result.append("del " + ", ".join(freed[n]))
    return result


def literal_shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _argument_names(capture: Capture) -> list[str]:
    from .capture import argument_names

    return argument_names(capture.fn, capture.arg_count)


def _module_checks(capture: Capture, namespace: dict, names: Namer, held: dict[int, str]) -> list[str]:
    """Every module the step ran: the same settings (its attributes that hold numbers, strings
    or None: `training`, `retain_hidden` among them), the same parameters and the same other
    tensors the step read from it, and still the same child of the module that holds it. A
    module from outside that the step did not run: still the same parameters where the step
    read them (F.linear(h, head.weight)). `held` names the program's variable for each tensor
    it holds, by id."""
    checks = []
    owners = outside_owner(capture)
    read = {id(var.source[1]) for var in capture.recorder.inputs if var.source[0] == "tensor"}
    for _, value in capture.outside.values():  # a module the step only reads parameters of
        if isinstance(value, Module) and id(value) not in capture.modules:
            label = names("module_" + type(value).__name__.lower())
            namespace[label] = value
            for name, param in value._parameters.items():
                if id(param) in read:
                    checks.append(f"{label}._parameters.get({name!r}) is not {held[id(param)]}")
    for module in capture.modules.values():
        label = names("module_" + type(module).__name__.lower())
        namespace[label] = module
        getter, values = names(f"{label}_settings"), names(f"{label}_setting_values")
        settings = module_settings(module)
        namespace[getter] = operator.attrgetter(*settings)
        namespace[values] = namespace[getter](module)
        parts = [f"{getter}({label}) != {values}", f"tuple({label}._parameters) != {tuple(module._parameters)!r}"]
        for attribute, value in settings.items():
            setting_read = f"{label}.{attribute}" if attribute.isidentifier() else f"getattr({label}, {attribute!r})"
            parts += _zero_checks(setting_read, value, namespace, names)
        for name, param in module._parameters.items():  # held by the program, so that their ids stay theirs
            if id(param) not in held:  # a parameter the step did not read (or None)
                held[id(param)] = names(f"{label}_{name}")
                namespace[held[id(param)]] = param
            parts.append(f"{label}._parameters.get({name!r}) is not {held[id(param)]}")
        for attribute, value in vars(module).items():  # a tensor the step reads that is not a parameter (a mask)
            if isinstance(value, Tensor) and attribute not in module._parameters and id(value) in held:
                parts.append(f"{label}.__dict__.get({attribute!r}) is not {held[id(value)]}")
        checks.append(" or ".join(parts))
        if id(module) in owners:
            parent, attribute = owners[id(module)]
            parent_label = names("parent_" + type(parent).__name__.lower())
            namespace[parent_label] = parent
            checks.append(f"{parent_label}._modules.get({attribute!r}) is not {label}")
    return checks


def _outside_checks(capture: Capture, namespace: dict, names: Namer) -> list[str]:
    checks = []
    for name, source, kind, value in watched_outside(capture.outside):
        if kind == "array":
            continue  # an input of the program, read on every call
        read = _outside_read(source, f"outside_{name}", namespace, names)
        if kind == "number" and not isinstance(value, float):
            checks.append(" or ".join([f"{read} != {literal(value)}", *_zero_checks(read, value, namespace, names)]))
            continue
        held_value = names(f"outside_{name}_value")  # an object, or a float: NaN is not equal to itself
        namespace[held_value] = value
        checks.append(f"{read} is not {held_value}")
    return checks


def _output_vars(result) -> list[Var]:
    tensors = result if isinstance(result, (tuple, list)) else (result,)
    out = []
    for t in tensors:
        if isinstance(t, Tensor):
            var = getattr(raw_data(t), "_var", None)
            if var is not None:
                out.append(var)
    return out


def _output_expression(result, read) -> str:
    def one(t):
        if t is None:
            return "None"
        return f"_from_op({read(raw_data(t)._var)}, None)"

    if isinstance(result, list):
        return "[" + ", ".join(one(t) for t in result) + "]"
    if isinstance(result, tuple):
        items = [one(t) for t in result]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    return one(result)


def hand_over(tensor, g) -> None:
    """backward()'s accumulation for a gradient array nothing else holds: the first gradient is
    that array itself (eager copies it, to own it; here it is owned already), later ones add."""
    if tensor.grad is None:
        tensor.grad = g
    else:
        tensor.grad += g


def gradients_last(stmts: list[Stmt]) -> list[Stmt]:
    """The statements with every gradient handed to a tensor (.grad) moved to the end, where no
    check that stops the program (a label changed after a first backward()) can come after it:
    a stopped program has then changed no .grad, and the eager rerun adds every gradient once.
    A gradient whose array a later statement reads or writes stays where it is."""
    families = memory_families(stmts)
    touched_after: set = set()  # the families that statements after the current one touch
    stays: set = set()
    for i in range(len(stmts) - 1, -1, -1):
        stmt = stmts[i]
        if stmt.kind == "grad" and families.root(stmt.args[1].var) in touched_after:
            stays.add(i)
        if stmt.kind != "grad":
            touched_after.update(families.root(v) for v in stmt.refs())
    moved = [stmt for i, stmt in enumerate(stmts) if stmt.kind == "grad" and i not in stays]
    return [stmt for i, stmt in enumerate(stmts) if stmt.kind != "grad" or i in stays] + moved


def _fresh(var: Var) -> bool:
    """True when the statement that made `var` returns a new array (not a view, not its input)."""
    stmt = var.stmt
    if stmt is None or var.source is not None or var.scalar or len(stmt.outs) != 1:
        return False
    return stmt.makes_new_array()


def mark_handovers(stmts: list[Stmt], outputs: list[Var]) -> None:
    """Mark the gradient statements whose array can become the tensor's .grad as it is: a fresh
    C-contiguous array of the tensor's dtype and shape that no later statement reads (the last gradient statement of
    an array shared by two tensors, such as bias_ih's and bias_hh's)."""
    last_reader: dict[Var, int] = {}
    for i, stmt in enumerate(stmts):
        for var in stmt.refs():
            last_reader[var] = i
    for i, stmt in enumerate(stmts):
        if stmt.kind != "grad":
            continue
        tensor_var, g = stmt.args[0].var, stmt.args[1].var
        if (
            last_reader.get(g) == i
            and g not in outputs
            and _fresh(g)
            and g.dtype == tensor_var.dtype
            and g.shape == tensor_var.shape
            and g.contiguous
        ):
            stmt.extra["hand_over"] = True


_VIEWS = {"reshape", "transpose", "swapaxes", "squeeze", "ravel", "view"}
MIN_ZERO_PRODUCT = 4096  # below this many elements, multiplying costs less than checking


def known_zeros(stmts: list[Stmt]) -> set:
    """Variables that hold zeros on every call: made by np.zeros (or np.zeros_like), copied or
    viewed from such a variable, and never written, through any view (simplify.memory_families)."""
    zero = set()
    for stmt in stmts:
        if len(stmt.outs) != 1 or stmt.writes is not None:
            continue
        reads = stmt.refs()
        made = stmt.kind == "call" and (
            (stmt.target == "np.zeros" and not reads)
            or stmt.target == "np.zeros_like"
            or (stmt.target in ("np.array", "np.copy") and len(reads) == 1 and reads[0] in zero)
        )
        viewed = (
            len(reads) == 1
            and reads[0] in zero
            and (
                (stmt.kind == "attr" and stmt.target in ("T", "mT"))
                or stmt.kind == "getitem"
                or (stmt.kind == "method" and stmt.target in _VIEWS)
            )
        )
        if made or viewed:
            zero.add(stmt.outs[0])
    families = memory_families(stmts)
    written = {families.root(s.writes) for s in stmts if s.writes is not None}
    return {v for v in zero if families.root(v) not in written}


def mark_zero_products(items: list) -> None:
    """A matrix product with a factor that is zero on every call (h_0 = 0 at the first step) is
    zero unless the other factor holds an inf or a NaN: where that factor is smaller than the
    product and the product is large, the program checks it and makes zeros instead of
    multiplying. A product only added into a sum (W_hh's gradient) is added only when the check
    fails: adding zeros changes no value (a -0.0 in the sum aside). Only the blocks written out
    are marked (a loop writes its statements from its first block); those additions leave them."""
    stmts = [stmt for item in items for blk in rolling.blocks_of(item) for stmt in blk.stmts]
    loops = [item for item in items if isinstance(item, rolling.Loop)]
    in_loops = {id(stmt) for loop in loops for blk in loop.blocks for stmt in blk.stmts}
    zeros = known_zeros(stmts)
    readers: dict[Var, list] = {}
    position = {id(stmt): i for i, stmt in enumerate(stmts)}
    for stmt in stmts:
        for var in stmt.refs():
            readers.setdefault(var, []).append(stmt)
    folded = set()
    for stmt in stmts:
        if id(stmt) in in_loops:
            continue
        if not (stmt.kind == "call" and stmt.target == "np.dot" and not stmt.kwargs and len(stmt.args) == 2) and not (
            stmt.kind == "binop" and stmt.target == "@"
        ):
            continue
        a, b = stmt.args
        if not (isinstance(a, Ref) and isinstance(b, Ref)) or len(stmt.outs) != 1 or stmt.outs[0].scalar:
            continue
        other = b.var if a.var in zeros else a.var if b.var in zeros else None
        out = stmt.outs[0]
        size = math.prod(out.shape)
        if other is None or size < MIN_ZERO_PRODUCT or math.prod(other.shape) >= size:
            continue
        stmt.extra["zero_unless"] = other
        found = readers.get(out, [])
        add = found[0] if len(found) == 1 else None
        if (
            add is not None
            and add.kind == "inplace"
            and add.target == "+="
            and type(add.args[0]) is Ref
            and type(add.args[1]) is Ref
            and add.args[1].var is out
            and (add.args[0].var.shape, add.args[0].var.dtype) == (out.shape, out.dtype)
            and _sum_exists_and_waits(stmts, position, add.args[0].var, stmt, add)
        ):
            stmt.extra["add_into"] = add.args[0].var
            stmt.writes = add.args[0].var
            folded.add(id(add))
    for item in items:
        if isinstance(item, rolling.Block):
            item.stmts = [stmt for stmt in item.stmts if id(stmt) not in folded]


def _sum_exists_and_waits(stmts: list[Stmt], position: dict, total: Var, product: Stmt, add: Stmt) -> bool:
    """Whether the sum is made before the product and nothing touches it between the product and
    the addition, so that the addition may move to the product's place."""
    made = total.stmt
    if made is None or id(made) not in position or position[id(made)] >= position[id(product)]:
        return False
    between = stmts[position[id(product)] + 1 : position[id(add)]]
    return all(total not in s.refs() and s.writes is not total for s in between)


def live_statements(stmts: list[Stmt], outputs: list[Var]) -> list[Stmt]:
    """The statements the outputs, the gradients or a check need: a statement that writes into
    an array, accumulates a gradient or checks a value is kept (with everything it reads);
    any other is kept only when a kept statement reads what it made."""
    live = set(outputs)
    kept = []
    for stmt in reversed(stmts):
        needed = stmt.kind in ("grad", "guard") or stmt.writes is not None or any(v in live for v in stmt.outs)
        if needed:
            kept.append(stmt)
            live.update(stmt.refs())
    kept.reverse()
    return kept
