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
Everything is put back when the call ends, however it ends.
"""

from __future__ import annotations

import contextlib
import numbers
import types

import numpy as np

from ..nn.module import Module
from ..tensors import Tensor
from .recorder import Recorder, set_active
from .traced import Traced, plain

# The slot a Tensor keeps its array in (behind the `data` property, when there is one).
DATA_SLOT = "_data" if isinstance(Tensor.__dict__.get("_data"), types.MemberDescriptorType) else "data"


def raw_data(tensor: Tensor):
    """The array a tensor holds, read from its slot (past any patch)."""
    return Tensor.__dict__[DATA_SLOT].__get__(tensor)


def set_raw_data(tensor: Tensor, array) -> None:
    Tensor.__dict__[DATA_SLOT].__set__(tensor, array)


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

    # ------------------------------------------------------------ running
    def run(self, args: tuple):
        """fn(*args) with the arrays and tensors in `args` traced; returns fn's result."""
        rec = self.recorder
        for name, value in self.outside.items():
            if isinstance(value[1], np.ndarray) and not isinstance(value[1], Traced):
                rec.external_arrays[id(value[1])] = (value[1], value[0], name)
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
        with self.patched():
            return self.fn(*traced_args)

    @contextlib.contextmanager
    def patched(self):
        rec = self.recorder
        data_slot, grad_slot = Tensor.__dict__[DATA_SLOT], Tensor.__dict__["grad"]
        accumulate, module_call = Tensor._accumulate_grad, Module.__call__
        originals = {name: getattr(np, name) for name in CONSTRUCTORS}
        capture = self

        def get_data(tensor):
            value = data_slot.__get__(tensor)
            if id(tensor) in capture.born:
                return value
            wrapper = capture.tensor_wrappers.get(id(tensor))
            if wrapper is None:
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
            rec.depth += 1
            try:
                accumulate(tensor, plain(g) if isinstance(g, Traced) else g)
            finally:
                rec.depth -= 1

        def call_module(module, *args, **kwargs):
            capture.modules.setdefault(id(module), module)
            return module_call(module, *args, **kwargs)

        def constructor(name):
            original = originals[name]

            def make(*args, **kwargs):
                if rec.depth:
                    return original(*args, **kwargs)
                return rec.constructor(original, args, kwargs)

            make.__name__ = name
            return make

        set_active(rec)
        try:
            setattr(Tensor, DATA_SLOT, property(get_data, set_data))
            setattr(Tensor, "grad", property(get_grad, set_grad))
            setattr(Tensor, "_accumulate_grad", accumulate_grad)
            setattr(Module, "__call__", call_module)
            for name in CONSTRUCTORS:
                setattr(np, name, constructor(name))
            yield
        finally:
            set_active(None)
            for name, original in originals.items():
                setattr(np, name, original)
            setattr(Module, "__call__", module_call)
            setattr(Tensor, "_accumulate_grad", accumulate)
            setattr(Tensor, "grad", grad_slot)
            setattr(Tensor, DATA_SLOT, data_slot)

    def outside_name(self, obj) -> str | None:
        for name, (_, value) in self.outside.items():
            if value is obj:
                return name
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
    """What fn reads from outside, by name: its closure cells and the globals its code names
    (nested functions' code included): name -> ((source), value)."""
    function = getattr(fn, "__func__", fn)
    code = getattr(function, "__code__", None)
    found: dict[str, tuple] = {}
    if code is None:
        return found
    for name, cell in zip(code.co_freevars, function.__closure__ or ()):
        try:
            found[name] = (("cell", cell), cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    namespace = function.__globals__
    pending = [code]
    while pending:
        current = pending.pop()
        for name in current.co_names:
            if name in namespace and name not in found:
                found[name] = (("global", namespace, name), namespace[name])
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    bound = getattr(fn, "__self__", None)
    if bound is not None:
        found.setdefault("self", (("bound", bound), bound))
    return found


def watched_outside(outside: dict) -> list:
    """(name, source, kind, value) for the outside values the program must check on every call:
    numbers by value; arrays by shape and dtype (their values are read); tensors and modules by
    identity."""
    watched: list[tuple] = []
    for name, (source, value) in outside.items():
        if source[0] == "bound":
            continue
        if isinstance(value, bool) or isinstance(value, numbers.Number) and not isinstance(value, np.ndarray):
            watched.append((name, source, "number", value))
        elif isinstance(value, np.ndarray):
            watched.append((name, source, "array", value))
        elif isinstance(value, (Tensor, Module)):
            watched.append((name, source, "object", value))
    return watched
