"""jit(fn): the compiled training step, its cache of programs and when it runs eagerly instead."""

from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import warnings

import numpy as np

from ..autograd import STATE, collector_paused
from ..nn.module import Module, Parameter
from ..tensors import Tensor
from .capture import Capture, raw_data, set_raw_data
from .program import Program, Stale, build
from .recorder import JitError, active
from .rolling import UnrollableLoop
from .traced import Traced, plain

_EAGER = [False]  # set inside eager_steps()


@contextlib.contextmanager
def eager_steps():
    """Inside, every jit function runs its step eagerly (the command line's --eager)."""
    previous = _EAGER[0]
    _EAGER[0] = True
    try:
        yield
    finally:
        _EAGER[0] = previous


def compiling() -> bool:
    """False inside eager_steps(): jit functions run eagerly."""
    return not _EAGER[0]


class JitFallbackWarning(UserWarning):
    """A jit function runs eagerly from now on: its step branches on traced values, draws random
    numbers or does something else a fixed program cannot repeat."""


MAX_PROGRAMS = 8  # programs kept per signature, one per set of checked values (labels, lengths)


class CompiledStep:
    """A training step traced on its first call and run as one generated NumPy program after.

    `fn(*inputs)` runs the forward pass, calls `loss.backward()` and returns the loss. Inputs
    are arrays, Tensors, Python numbers or modules (step(model, x, y)). Every call leaves each
    parameter's `.grad` as the eager step would (accumulated onto an existing gradient, created
    where None) and returns the loss as a Tensor. A new signature (the shapes and dtypes of the inputs, the numbers
    passed) traces again, and so does a new value of what the library's code branches on (the
    lengths of packed sequences, the label of one unbatched sequence), up to MAX_PROGRAMS per
    signature; `traces` counts the traces, `source` is the last program's text.
    """

    def __init__(self, fn, strict: bool = False, loop: bool = True):
        self.fn, self.strict, self.loop = fn, strict, loop
        self.programs: dict[tuple, list] = {}
        self.traces = 0
        self.fallback_reason: str | None = None
        self.last_program: Program | None = None
        self.__name__ = getattr(fn, "__name__", "step")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    @property
    def source(self) -> str | None:
        """The Python text of the program the last call ran (None before the first trace)."""
        return None if self.last_program is None else self.last_program.source

    def print_source(self) -> None:
        print(self.source)

    def __call__(self, *args, **kwargs):
        if (
            self.fallback_reason is not None
            or _EAGER[0]
            or active() is not None  # inside another step's trace, which records this one's calls
            or not STATE.grad_enabled
            or STATE.anomaly
            or STATE.retain_all_grads
        ):
            return self.fn(*args, **kwargs)
        if kwargs:
            positional = self._positional(args, kwargs)
            if positional is None:
                return self.fn(*args, **kwargs)
            args = positional
        key = signature(args)
        if key is None:  # a Tensor argument carries a graph from before the call
            return self.fn(*args)
        programs = self.programs.get(key)
        if not programs:
            return self._trace(key, args)
        try:
            result = programs[0].function(*args)
        except Stale as stale:
            return self._after_stale(key, args, stale)
        self.last_program = programs[0]
        return result

    def _positional(self, args: tuple, kwargs: dict) -> tuple | None:
        """The call's arguments as positional ones, as fn binds them (None where some stay
        keywords: fn's keyword-only or **kwargs parameters, which run eagerly)."""
        try:
            bound = inspect.signature(self.fn).bind(*args, **kwargs)
        except (TypeError, ValueError):
            return None
        return None if bound.kwargs else bound.args

    def _after_stale(self, key: tuple, args: tuple, stale: Stale):
        """The call once the signature's first program found an assumption broken (`stale`):
        the programs traced for other checked values are tried in turn, and if none fits the
        step is traced again."""
        programs = self.programs[key]
        rest = programs[1:]
        if _drop_if_done(programs, programs[0], stale):
            return self.fn(*args)
        for program in rest:
            try:
                result = program.function(*args)
            except Stale as error:
                if _drop_if_done(programs, program, error):
                    return self.fn(*args)
                continue  # a checked value differs: another program may have been traced for it
            self.last_program = program
            return result
        if len(programs) >= MAX_PROGRAMS:
            return self.fn(*args)  # too many values of what the library checks: run eagerly
        return self._trace(key, args)

    @collector_paused()  # the trace makes many objects and no reference cycles
    def _trace(self, key: tuple, args: tuple):
        capture = Capture(self.fn, self.strict)
        capture.arg_count = len(args)
        result = capture.run(args)
        rec = capture.recorder
        self.traces += 1
        if rec.fallback_reason is None and any(getattr(m, "retain_hidden", False) for m in capture.modules.values()):
            _untrace(result)
            return result  # this call ran eagerly; a later one without retain_hidden traces again
        if rec.fallback_reason is None:
            problem = _result_problem(result, rec) or capture.side_effect(result)
            if problem:
                rec.fall_back(problem)
        program = None
        if rec.fallback_reason is None:
            try:
                program = build(capture, result, loop=self.loop)
            except UnrollableLoop as error:
                rec.fall_back(str(error))
        if program is None:
            self.fallback_reason = rec.fallback_reason
            warnings.warn(
                f"jit({self.__name__}) runs eagerly from now on: {rec.fallback_reason}",
                JitFallbackWarning,
                stacklevel=3,
            )
            _untrace(result)
            return result
        self.programs.setdefault(key, []).append(program)
        self.last_program = program
        _untrace(result)
        return result


def jit(fn=None, *, strict: bool = False, loop: bool = True):
    """Compile a training step: `step = jit(fn)` or `@jit` / `@jit(strict=True)`.

    strict=True raises JitError where the default would fall back to eager with a warning;
    loop=False writes every time step out instead of rolling them into loops.
    """
    if fn is None:
        return lambda f: jit(f, strict=strict, loop=loop)
    if isinstance(fn, CompiledStep):  # compiling a compiled step compiles its step
        fn = fn.fn
    return CompiledStep(fn, strict=strict, loop=loop)


def signature(args: tuple) -> tuple | None:
    """What the arguments decide about a program: shapes, dtypes and numbers (a float's sign
    too, for -0.0), which Tensor arguments are one tensor, or a parameter, and which module a
    module argument is (step(model, x, y) traces once per model); None when a
    Tensor argument was made by recorded ops (its gradient must flow on into that graph: the
    call runs eagerly)."""
    key: list[tuple] = []
    for i, value in enumerate(args):
        if isinstance(value, np.ndarray):  # the common case first
            key.append((np.ndarray, value.shape, value.dtype))
        elif isinstance(value, Tensor):
            if value._ctx is not None:
                return None
            data = value.data
            same = next(j for j, other in enumerate(args) if other is value)  # i, unless passed before
            key.append((Tensor, data.shape, data.dtype, value.requires_grad, same, _parameter_id(value)))
        elif isinstance(value, float):
            key.append((float, value, math.copysign(1.0, value)))
        elif isinstance(value, (numbers.Number, str)) or value is None:
            key.append((type(value), value))
        elif isinstance(value, Module):  # by identity; the program checks the modules it runs on every call
            key.append((Module, id(value)))
        else:
            raise TypeError(
                f"jit: argument {i} is a {type(value).__name__}; pass arrays, Tensors, modules or Python numbers"
            )
    return tuple(key)


def _parameter_id(tensor: Tensor) -> int | None:
    """A Parameter passed as an argument is the program's by identity (the program may also
    reach it through its module); other tensors are read from the argument on every call."""
    return id(tensor) if isinstance(tensor, Parameter) else None


def _drop_if_done(programs: list, program: Program, stale: Stale) -> bool:
    """After `program` raised `stale`: drop it if a parameter or module changed (it will never
    fit again); True when this call must run eagerly (a module keeps its hidden states)."""
    if _keeps_hidden_states(program):
        return True
    if not stale.value_changed:
        programs.remove(program)
    return False


def _keeps_hidden_states(program) -> bool:
    return any(getattr(m, "retain_hidden", False) for m in program.modules)


def _result_problem(result, rec) -> str | None:
    items = result if isinstance(result, (tuple, list)) else (result,)
    for item in items:
        if item is None:
            continue
        if not isinstance(item, Tensor):
            return f"the step returns a {type(item).__name__}; return the loss Tensor (or a tuple of Tensors)"
        data = raw_data(item)
        if not (isinstance(data, Traced) and data._var is not None and data._var.owner is rec):
            return "the step returns a Tensor that its NumPy calls did not make"
    return None


def _untrace(result) -> None:
    """Give the returned tensors plain arrays (the trace is over)."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    for item in items:
        if isinstance(item, Tensor) and isinstance(raw_data(item), Traced):
            set_raw_data(item, plain(raw_data(item)))


__all__ = ["CompiledStep", "JitError", "JitFallbackWarning", "compiling", "eager_steps", "jit"]
