"""Running a step once under the recorder: what is patched while it runs, and why.

The eager core does not know about tracing, so for the length of one traced call:
  * The slot behind Tensor.data hands out traced arrays: a tensor that existed before the call
    (a parameter, a Tensor argument, a tensor in a closure) becomes an input of the program,
    read again on every call; a tensor made during the call keeps the traced array it was made
    with.
    Assigning the data of a tensor that existed before (an optimizer step) is refused.
  * Tensor.grad of a tensor that existed before may not be read or assigned inside the step
    (an optimizer step, zero_grad or clipping): refused, with the advice to call it outside.
  * Tensor._accumulate_grad, where backward() leaves a leaf's gradient, is written down as a
    statement of the program, which calls the same method on every call.
  * NumPy's constructors that do not take part in NumPy's dispatch (np.array, np.asarray,
    np.zeros, np.full, np.arange, ...) are written down too, so that every call of the program
    makes fresh arrays, as the step did.
  * Module.__call__ notes every module the step runs: their `training` flags and parameters
    are checked before the program is used again, and name the parameters in its source.
  * The closure cells, globals and small dicts' entries the step reads that hold an array hold
    a traced view of it: an input of the program, read again on every call, whose values the
    step's Python code cannot branch on unseen.
Everything is put back when the call ends, however it ends.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import random
import sys
import types

import numpy as np

from ..nn.module import Module
from ..tensors import Tensor
from .recorder import JitError, Recorder, set_active
from .traced import Traced, plain

# The slot a Tensor keeps its array in (behind the `data` property, when there is one).
DATA_SLOT = "_data" if isinstance(Tensor.__dict__.get("_data"), types.MemberDescriptorType) else "data"


def raw_data(tensor: Tensor):
    """The array a tensor holds, read from its slot (past any patch)."""
    return Tensor.__dict__[DATA_SLOT].__get__(tensor)


def set_raw_data(tensor: Tensor, array) -> None:
    Tensor.__dict__[DATA_SLOT].__set__(tensor, array)


# Draws of Python's and NumPy's global random generators: a program would repeat the traced draws
PYTHON_DRAWS = ("random", "uniform", "randint", "randrange", "choice", "choices", "shuffle", "sample", "gauss")
NUMPY_DRAWS = (
    *("rand", "randn", "random", "random_sample", "randint", "choice", "normal", "uniform", "permutation"),
    *("shuffle", "binomial", "poisson", "standard_normal", "default_rng"),
)

CONSTRUCTORS = (
    "array",
    "asarray",
    "asanyarray",
    "ascontiguousarray",
    "zeros",
    "ones",
    "empty",
    "full",
    "arange",
    "eye",
    "identity",
    "linspace",
    "tri",
)


class Capture:
    """One traced run of a step: the recorder, and what the run touched outside its arguments."""

    def __init__(self, fn, strict: bool):
        self.fn = fn
        self.recorder = Recorder(strict, getattr(fn, "__name__", type(fn).__name__))
        self.born: set[int] = set()  # ids of the tensors made during the run
        self._born_alive: list = []
        self.tensor_sources: dict[int, tuple] = {}  # id(tensor) -> where the program finds it
        self.tensor_wrappers: dict[int, Traced] = {}
        self.modules: dict[int, Module] = {}
        self.outside = outside_values(fn)
        self.arg_count = 0  # how many positional arguments the traced call had
        self.grads_before: dict[int, tuple] = {}  # id(tensor) -> (tensor, its .grad before the run, a copy)
        self.array_bytes: dict[str, bytes] = {}  # an outside array's name -> its bytes before the run
        self.object_states: dict[str, tuple] = {}  # an outside object's name -> (it, its attributes before)
        self.array_aliases: list[tuple] = []  # (source, var): another place that holds an input's array
        self.settings_before: dict[int, dict] = {}  # id(module) -> its settings when the step first ran it
        self.arrays_left: list[str] = []  # where the step left an array it computed (untrace_leftovers)

    # ------------------------------------------------------------ running
    def run(self, args: tuple):
        """fn(*args) with the arrays and tensors in `args` traced; returns fn's result."""
        rec = self.recorder
        held_traced = []  # (source, array, its traced view): what the source holds while the step runs
        views: dict[int, Traced] = {}  # one view an array, however many places hold it
        for name, (source, value) in self.outside.items():
            if not isinstance(value, np.ndarray) or isinstance(value, Traced):
                continue
            if type(value) not in (np.ndarray, np.memmap):
                rec.fall_back(
                    f"the step reads '{name}', a {type(value).__name__} from outside; a program follows plain "
                    "arrays only (pass np.asarray of it)"
                )
                continue
            rec.external_arrays[id(value)] = (value, source, name)
            if source[0] not in ("cell", "global") or value.dtype.kind not in "biufc":
                continue
            view = views.get(id(value))
            if view is None:
                views[id(value)] = view = rec.input(value, source, name)
            else:
                self.array_aliases.append((source, view._var))
            held_traced.append((source, value, view))
        traced_args = []
        names = argument_names(self.fn, len(args))
        for i, value in enumerate(args):
            if isinstance(value, Tensor):
                self.tensor_sources[id(value)] = ("arg_tensor", i)
                traced_args.append(value)
            elif isinstance(value, np.ndarray):
                traced_args.append(rec.input(plain(value), ("arg", i), names[i]))
            else:
                traced_args.append(value)
        self.before_run()
        try:
            with self.patched(), self.holding(held_traced):
                return self.fn(*traced_args)
        except JitError:  # refused: the run leaves every gradient as it found it
            for tensor, grad, values in self.grads_before.values():
                if grad is not None:
                    grad[...] = values  # the array itself, which the run may have added into
                tensor.grad = grad
            raise

    @contextlib.contextmanager
    def patched(self):
        rec = self.recorder
        data_slot, grad_slot = Tensor.__dict__[DATA_SLOT], Tensor.__dict__["grad"]
        accumulate, module_call = Tensor._accumulate_grad, Module.__call__
        originals = {name: getattr(np, name) for name in CONSTRUCTORS}
        draws = [(random, name, getattr(random, name)) for name in PYTHON_DRAWS]
        draws += [(np.random, name, getattr(np.random, name)) for name in NUMPY_DRAWS]
        capture = self

        def get_data(tensor):
            value = data_slot.__get__(tensor)
            if id(tensor) in capture.born:
                return value
            wrapper = capture.tensor_wrappers.get(id(tensor))
            if wrapper is None:
                if tensor._hooks:
                    rec.fall_back(f"tensor '{tensor.name or 'unnamed'}' has a hook, which a program cannot run")
                source = capture.tensor_sources.get(id(tensor), ("tensor", tensor))
                hint = tensor.name or capture.outside_name(tensor) or "tensor"
                wrapper = rec.input(plain(value), source, hint)
                capture.tensor_wrappers[id(tensor)] = wrapper
            return wrapper

        def set_data(tensor, value):
            try:
                data_slot.__get__(tensor)
            except AttributeError:  # a tensor being made
                capture.born.add(id(tensor))
                capture._born_alive.append(tensor)
            else:
                if id(tensor) not in capture.born:
                    rec.refuse(
                        f"the step assigns the data of tensor '{tensor.name or 'unnamed'}' (an optimizer "
                        "step or load_state_dict?); call it outside the compiled function"
                    )
            data_slot.__set__(tensor, value)

        def get_grad(tensor):
            if id(tensor) not in capture.born and rec.depth == 0:
                rec.refuse(
                    f"the step reads the gradient of tensor '{tensor.name or 'unnamed'}' (an optimizer "
                    "step or gradient clipping?); call it outside the compiled function, on the "
                    "gradients the call leaves"
                )
            return grad_slot.__get__(tensor)

        def set_grad(tensor, value):
            try:
                data_slot.__get__(tensor)
            except AttributeError:
                pass
            else:
                if id(tensor) not in capture.born and rec.depth == 0:
                    rec.refuse(
                        f"the step sets the gradient of tensor '{tensor.name or 'unnamed'}' (zero_grad?); "
                        "call zero_grad() outside the compiled function"
                    )
            grad_slot.__set__(tensor, value)

        def accumulate_grad(tensor, g):
            wrapper = capture.tensor_wrappers.get(id(tensor))
            if id(tensor) in capture.born or wrapper is None:
                rec.fall_back("a tensor made inside the step keeps its gradient (retain_grad?)")
            elif not (isinstance(g, Traced) and g._var is not None):
                rec.fall_back(f"the gradient of '{tensor.name or 'unnamed'}' is not made by the step's NumPy calls")
            else:
                rec.add_gradient(wrapper._var, g)  # type: ignore[arg-type]  # a wrapper always has its _var
            if id(tensor) not in capture.grads_before:
                before = grad_slot.__get__(tensor)
                capture.grads_before[id(tensor)] = (tensor, before, None if before is None else before.copy())
            rec.depth += 1
            try:
                accumulate(tensor, plain(g) if isinstance(g, Traced) else g)
            finally:
                rec.depth -= 1

        def call_module(module, *args, **kwargs):
            if id(module) not in capture.modules:
                capture.modules[id(module)] = module
                capture.settings_before[id(module)] = module_settings(module)
            return module_call(module, *args, **kwargs)

        def constructor(name):
            original = originals[name]

            def make(*args, **kwargs):
                if rec.depth:
                    return original(*args, **kwargs)
                return rec.constructor(original, args, kwargs)

            make.__name__ = name
            return make

        def draw(module, name, original):
            def drawn(*args, **kwargs):
                rec.fall_back(f"the step draws random numbers ({module.__name__}.{name}), which a program would repeat")
                return original(*args, **kwargs)

            return drawn

        set_active(rec)
        try:
            setattr(Tensor, DATA_SLOT, property(get_data, set_data))
            setattr(Tensor, "grad", property(get_grad, set_grad))
            setattr(Tensor, "_accumulate_grad", accumulate_grad)
            setattr(Module, "__call__", call_module)
            for name in CONSTRUCTORS:
                setattr(np, name, constructor(name))
            for module, name, original in draws:
                setattr(module, name, draw(module, name, original))
            yield
        finally:
            set_active(None)
            for module, name, original in draws:
                setattr(module, name, original)
            for name, original in originals.items():
                setattr(np, name, original)
            setattr(Module, "__call__", module_call)
            setattr(Tensor, "_accumulate_grad", accumulate)
            setattr(Tensor, "grad", grad_slot)
            setattr(Tensor, DATA_SLOT, data_slot)

    @contextlib.contextmanager
    def holding(self, held_traced: list):
        """While the step runs, its closure cells, globals and dict entries that hold an array hold
        the array's traced view instead, so that what the step does with it in Python (a[0] > 0,
        float(a[i]), a[index]) is written down or seen as a branch, as for any traced array. Each
        gets its array back afterwards, unless the step put something else there; a traced array
        the step put there becomes the plain array it is."""
        for source, _, view in held_traced:
            _put(source, view)
        try:
            yield
        finally:
            for source, array, view in held_traced:
                if current_value(source) is view:
                    _put(source, array)
            self.untrace_leftovers({id(view): array for _, array, view in held_traced})

    def untrace_leftovers(self, originals: dict) -> None:
        """Give every traced array the step left where it can be seen after the run (in a global,
        a closure cell, a dict entry, in lists and dicts there, or in an attribute of a module it
        ran) back as the array it stands for: the outside array itself for a view of one
        (`originals`, by the view's id), else the plain array it is; note where (`arrays_left`)."""

        def untraced(array: Traced) -> np.ndarray:
            return originals.get(id(array), plain(array))

        places = [(name, current_value(source, value), source) for name, (source, value) in self.outside.items()]
        places += [
            (f"{type(m).__name__}.{k}", v, ("global", vars(m), k))
            for m in self.modules.values()
            for k, v in vars(m).items()
        ]
        for name, value, source in places:
            if isinstance(value, Traced):
                if source[0] != "bound":
                    _put(source, untraced(value))
                self.arrays_left.append(name)
            elif isinstance(value, (list, dict)) and _untrace_items(value, untraced, MAX_CONTAINER_DEPTH):
                self.arrays_left.append(name)

    def before_run(self) -> None:
        """Note the outside arrays' values, to tell afterwards whether the run wrote into them."""
        self.array_bytes = {
            name: value.tobytes()
            for name, (_, value) in self.outside.items()
            if isinstance(value, np.ndarray) and value.size <= MAX_WATCHED_ELEMENTS
        }
        self.object_states = {
            name: (value, dict(attributes))
            for name, (_, value) in self.outside.items()
            if (attributes := _plain_attributes(value)) is not None
        }

    def side_effect(self, result) -> str | None:
        """What the run did outside that a program would not do again, if anything: wrote into an
        outside array, kept a tensor it made in a closure cell, a global, a list, a dict or an
        object's attribute it can see, assigned a global, a closure variable or a dict entry it
        reads, set an attribute of a plain object it reads (a scheduler's step), or set a
        setting of a module it ran."""
        for name, before in self.array_bytes.items():
            if self.outside[name][1].tobytes() != before:
                return f"the step writes into the array '{name}' from outside it, which a program would not repeat"
        returned = {id(t) for t in (result if isinstance(result, (tuple, list)) else (result,))}
        for name, (source, value) in self.outside.items():
            now = current_value(source, value)
            for kept in _tensors_in(now):
                if id(kept) in self.born and id(kept) not in returned:
                    return f"the step keeps a tensor it made in '{name}', which a program would not do again"
        for module in self.modules.values():
            for attribute, value in vars(module).items():
                if any(id(kept) in self.born for kept in _tensors_in(value)):
                    return (
                        f"the step keeps a tensor it made in the attribute '{attribute}' of a {type(module).__name__}"
                    )
        if self.arrays_left:
            return f"the step keeps an array in '{self.arrays_left[0]}', which a program would not do again"
        for name, (source, value) in self.outside.items():
            if source[0] not in ("bound", "length") and current_value(source, value) is not value:
                return f"the step assigns '{name}', which it reads from outside, and a program would not repeat that"
        for name, (value, then) in self.object_states.items():
            attribute = changed_setting(then, vars(value))
            if attribute is not None:
                return (
                    f"the step sets the attribute '{attribute}' of '{name}' (a {type(value).__name__}) "
                    "from outside it (a scheduler step, a counter?), which a program would not repeat"
                )
        for key, module in self.modules.items():
            attribute = changed_setting(self.settings_before[key], module_settings(module))
            if attribute is not None:
                return (
                    f"the step sets the attribute '{attribute}' of a {type(module).__name__}, "
                    "which a program would not repeat"
                )
        return None

    def outside_name(self, obj) -> str | None:
        for name, (_, value) in self.outside.items():
            if value is obj:
                return name
        return None


MAX_WATCHED_ELEMENTS = 10**6  # an outside array up to this size is checked for writes while tracing
MAX_CONTAINER_DEPTH = 4  # how deep in nested lists and dicts the step's leftover arrays are looked for


def _untrace_items(container, untraced, depth: int) -> bool:
    """Replace the traced arrays in a list or dict (and in the lists and dicts it holds, `depth`
    levels down) by untraced(array); True when there was one."""
    found = False
    for key in range(len(container)) if isinstance(container, list) else list(container):
        item = container[key]
        if isinstance(item, Traced):
            container[key] = untraced(item)
            found = True
        elif isinstance(item, (list, dict)) and depth > 1:
            found = _untrace_items(item, untraced, depth - 1) or found
    return found


def _put(source: tuple, value) -> None:
    """Make a closure cell, or a dict's entry, hold `value`."""
    if source[0] == "cell":
        source[1].cell_contents = value
    else:
        source[1][source[2]] = value


def current_value(source: tuple, value=None):
    """What an outside value's source holds now."""
    if source[0] == "cell":
        try:
            return source[1].cell_contents
        except ValueError:
            return None
    if source[0] == "global":
        return source[1].get(source[2])
    if source[0] == "item":
        return source[1][source[2]] if source[2] < len(source[1]) else None
    if source[0] == "length":
        return len(source[1])
    return value


def _tensors_in(value) -> list:
    """The tensors `value` is or directly holds (as a list, tuple, set or dict's items, or an
    object's attributes)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    elif isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, Module) or not hasattr(value, "__dict__") or isinstance(value, type):
        return []
    else:
        items = list(vars(value).values())
    return [item for item in items if isinstance(item, Tensor)]


def module_settings(module: Module) -> dict:
    """A module's attributes that hold a number, a string or None, by name: its `training`
    flag, hidden_size, batch_first, a temperature a forward() divides by (self._t too)."""
    return {
        name: value for name, value in vars(module).items() if value is None or isinstance(value, (numbers.Number, str))
    }


def same_setting(a, b) -> bool:
    """True when a program that assumed `a` may take `b`: the same object, or the same type and
    value, zeros of the same sign."""
    if a is b:
        return True
    if type(a) is not type(b) or not a == b:
        return False
    return not isinstance(a, numbers.Real) or a != 0 or math.copysign(1.0, a) == math.copysign(1.0, b)


def changed_setting(then: dict, now: dict):
    """The first attribute (in sorted order) that one of two snapshots of an object's attributes
    lacks or that holds a value a program assuming `then` may not take (see same_setting); None
    when there is none."""
    for attribute in sorted(then.keys() | now.keys(), key=str):
        if attribute not in then or attribute not in now or not same_setting(then[attribute], now[attribute]):
            return attribute
    return None


def argument_names(fn, count: int) -> list[str]:
    """The names of fn's first `count` positional parameters (x0, x1, ... where unknown)."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    names = []
    if code is not None:
        names = list(code.co_varnames[: code.co_argcount])
        if hasattr(fn, "__self__"):
            names = names[1:]
    names = [n for n in names][:count]
    return names + [f"x{i}" for i in range(len(names), count)]


def outside_values(fn) -> dict:
    """What fn reads from outside, by name: name -> ((source), value). The closure cells and the
    globals its code names (nested functions' code included), and the same for every function of
    the user's it reaches that way (a helper, and the globals it reads); the attributes of a
    bound method's self that its code names; and, MAX_OUTSIDE_DEPTH levels down, what these
    hold that the step may read (see _parts: config["alpha"], args.alpha, models[0])."""
    found: dict[str, tuple] = {}
    names: set[str | int] = set()  # the names, strings and ints of every code read
    pending = [("", getattr(fn, "__func__", fn))]
    seen: set[int] = set()
    while pending:
        prefix, function = pending.pop()
        if id(function) in seen or getattr(function, "__code__", None) is None:
            continue
        seen.add(id(function))
        for name, source, value in _reads_of(function, names):
            found.setdefault(prefix + name, (source, value))
            if isinstance(value, types.FunctionType) and _users(value):
                pending.append((f"{value.__name__}.", value))
    bound = getattr(fn, "__self__", None)
    if bound is not None:
        found.setdefault("self", (("bound", bound), bound))
        attributes = getattr(bound, "__dict__", {})
        for name in sorted(names & attributes.keys()):
            found.setdefault(f"self.{name}", (("global", attributes, name), attributes[name]))
    level = list(found.items())
    for _ in range(MAX_OUTSIDE_DEPTH):
        inner = [(f"{name}.{key}", item) for name, (_, value) in level for key, item in _parts(value, names)]
        level = [(name, item) for name, item in inner if name not in found]
        found.update(level)
    return found


MAX_ITEMS = 64  # a list or tuple the step reads from outside is watched item by item up to this size
MAX_OUTSIDE_DEPTH = 3  # how many containers and attributes deep the values fn reads from outside are watched


def _parts(value, names: set) -> list:
    """(key, (source, item)) for what `value` holds that the step may read: a dict's entries whose
    keys its code writes as strings or ints (config["alpha"], weights[1]); a small list's or
    tuple's items, and a longer one's at the indices its code writes (models[0]); a list's
    length (the step may loop over it); the attributes of a plain object that its code names, or
    for a user's callable object its own methods (args.alpha, optimizer.param_groups, self.v in
    __call__). Arrays in lists and tuples are left out (a program does not read them; a step
    that uses one runs eagerly)."""
    if type(value) is dict:
        keys = names & {k for k in value if isinstance(k, (str, int)) and not isinstance(k, bool)}
        return [(str(key), (("global", value, key), value[key])) for key in sorted(keys, key=str)]
    if type(value) in (list, tuple):
        indices = [i for i in range(len(value)) if len(value) <= MAX_ITEMS or i in names or i - len(value) in names]
        items = [(str(i), (("item", value, i), value[i])) for i in indices if not isinstance(value[i], np.ndarray)]
        return items + [("len", (("length", value), len(value)))] if type(value) is list else items
    attributes = _plain_attributes(value)
    if attributes is None:
        return []
    named = names | _names_in_methods(type(value))
    return [(key, (("global", attributes, key), attributes[key])) for key in sorted(named & attributes.keys())]


FUNCTION_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.BuiltinMethodType)


def _plain_attributes(value) -> dict | None:
    """The attribute dict of a plain object (a config, an optimizer, a scheduler, a user's
    callable); None for modules (their settings are followed on their own), tensors, arrays,
    classes, Python modules and functions (followed by identity), and jit's own objects (a
    compiled step counts its traces)."""
    if isinstance(value, (Module, Tensor, np.ndarray, type, types.ModuleType, *FUNCTION_TYPES)):
        return None
    if type(value).__module__.startswith(__package__):
        return None
    attributes = getattr(value, "__dict__", None)
    return attributes if type(attributes) is dict else None


def _names_in_methods(cls: type) -> set:
    """The names and strings the code of a user's callable class's own methods uses (what
    calling an instance reads of it)."""
    names: set[str | int] = set()
    if _users(cls) and "__call__" in vars(cls):
        for method in vars(cls).values():
            if isinstance(method, types.FunctionType):
                _reads_of(method, names)
    return names


def _reads_of(function, names: set) -> list:
    """(name, source, value) of a function's closure cells and the globals its code names; adds
    every name and string constant of its code to `names`."""
    code = function.__code__
    reads: list[tuple] = []
    for name, cell in zip(code.co_freevars, function.__closure__ or ()):
        try:
            reads.append((name, ("cell", cell), cell.cell_contents))
        except ValueError:  # an empty cell
            continue
    namespace = function.__globals__
    codes = [code]
    while codes:
        current = codes.pop()
        names.update(current.co_names)
        names.update(c for c in current.co_consts if isinstance(c, (str, int)) and not isinstance(c, bool))
        for name in current.co_names:
            if name in namespace:
                reads.append((name, ("global", namespace, name), namespace[name]))
        codes.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return reads


def _users(function) -> bool:
    """True for a function of the user's code (not the library's, NumPy's or Python's own)."""
    module = getattr(function, "__module__", None) or ""
    return not module.startswith(("tinygrad_rnn", "numpy")) and module.split(".")[0] not in sys.stdlib_module_names


def watched_outside(outside: dict) -> list:
    """(name, source, kind, value) for the outside values the program must check on every call:
    numbers, strings and None by value; arrays by shape and dtype (their values are read);
    everything else (tensors, modules, functions, containers and objects, whose parts are
    watched too) by identity."""
    watched: list[tuple] = []
    for name, (source, value) in outside.items():
        if source[0] == "bound":
            continue
        if (
            value is None
            or isinstance(value, (bool, str))
            or isinstance(value, numbers.Number)
            and not isinstance(value, np.ndarray)
        ):
            watched.append((name, source, "number", value))
        elif isinstance(value, np.ndarray):
            watched.append((name, source, "array", value))
        else:  # a tensor, module, function, container or object: by identity
            watched.append((name, source, "object", value))
    return watched
