"""Module and Parameter: a tree of layers whose trainable tensors are found by name."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Iterator, NamedTuple

import numpy as np

from ..errors import key_problems
from ..tensors import Tensor


class Parameter(Tensor):
    """A leaf tensor a Module trains: requires_grad is on and the module knows it by name."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor") :]


class IncompatibleKeys(NamedTuple):
    """What load_state_dict found: the model's names the state lacks, and the state's names the
    model lacks (both empty after a strict load, which raises otherwise)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"


class Module:
    """Base class of every layer: assign Parameters and sub-Modules as attributes, write forward()."""

    _parameters: OrderedDict[str, Parameter]
    _modules: OrderedDict[str, Module]
    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        # Replacing a parameter by a parameter (or a module by a module) keeps its place in the order.
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = name
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ the tree
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct sub-modules with their attribute names; a module held under two names comes
        once, under the first (as torch; `_modules` keeps every name)."""
        seen = set()
        for name, module in self._modules.items():
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, "Module"]]:
        """This module and every module below it, depth first, with dotted names. A module
        reached twice comes once, under its first name, unless remove_duplicate=False; `memo`,
        a set of modules to leave out, is filled as it goes."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if module in memo:
                continue
            if remove_duplicate:
                memo.add(module)
            yield name, module
            below = [(f"{name}.{child}" if name else child, m) for child, m in module._modules.items()]
            stack.extend(reversed(below))

    def modules(self) -> Iterator["Module"]:
        """This module and every module below it, depth first, each once (named_modules
        without the names)."""
        seen = set()
        stack = [self]
        while stack:
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield module
            stack.extend(reversed(module._modules.values()))

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter in the tree (only this module's own with recurse=False) with its
        dotted name ("rnn.weight_ih_l0") after `prefix`; a parameter reached twice comes once,
        under its first name, unless remove_duplicate=False."""
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        seen = set()
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if id(param) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter in the tree (only this module's own with recurse=False), each once, in
        named_parameters' order, without building the names."""
        seen = set()
        for module in self.modules() if recurse else (self,):
            for param in module._parameters.values():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield param

    def get_submodule(self, target: str) -> "Module":
        """The module at the dotted path `target` ("encoder.0"; "" is this module itself), or an
        AttributeError naming the first step of the path that is not a sub-module."""
        module = self
        if target == "":
            return module
        for step in target.split("."):
            if step not in module._modules:
                what = "is not a Module" if hasattr(module, step) else "does not exist"
                raise AttributeError(
                    f"get_submodule({target!r}): {type(module).__name__} has no sub-module {step!r} ({what})"
                )
            module = module._modules[step]
        return module

    def add_module(self, name: str, module: "Module | None") -> None:
        """Make `module` the sub-module `name`, as the assignment self.<name> = module does (None
        removes it). The name must be a non-empty string without "." that is not already an
        attribute other than a sub-module."""
        if not isinstance(name, str):
            raise TypeError(f"add_module: the name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"add_module: the name must be non-empty and contain no '.', got {name!r}")
        if name not in self._modules and hasattr(self, name):
            raise KeyError(f"add_module: {type(self).__name__} already has an attribute {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): {type(module).__name__} is not a Module")
        setattr(self, name, module)

    def apply(self, fn) -> "Module":
        """Call fn(module) on every sub-module, children before their parent, and last on this
        module (a module held under two names of one parent once, as torch); returns self."""
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:
            module, children_done = stack.pop()
            if children_done:
                fn(module)
                continue
            stack.append((module, True))
            stack.extend((child, False) for child in reversed(list(module.children())))
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Whether every parameter records a gradient (False freezes the module); returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------ training helpers
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's accumulated gradient: set it to None (the default), or fill
        it with zeros in place."""
        for module in self.modules():  # a parameter two modules share is simply visited twice
            for param in module._parameters.values():
                if set_to_none:
                    param.grad = None
                elif param.grad is not None:
                    param.grad[...] = 0

    def train(self, mode: bool = True) -> "Module":
        """Set training mode on this module and every sub-module; returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode (train(False))."""
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Convert every parameter (and any gradient it holds) to the floating dtype `dtype`, in
        place: the Parameter objects stay the same, so an optimizer built on them still holds
        them. Returns self. The device "cpu", the only one there is, is accepted and changes nothing."""
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda", "mps"):
            if dtype != "cpu":
                raise ValueError(f"{type(self).__name__}.to: only the device 'cpu' exists here (NumPy), got {dtype!r}")
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must stay floating point, got dtype {dtype}")
        for param in self.parameters():
            param.data = param.data.astype(dtype)
            if param.grad is not None:
                param.grad = param.grad.astype(dtype)
        return self

    def float(self) -> "Module":
        """Every parameter as float32 (to(np.float32))."""
        return self.to(np.float32)

    def double(self) -> "Module":
        """Every parameter as float64 (to(np.float64))."""
        return self.to(np.float64)

    # ------------------------------------------------------------ state
    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """Every parameter by dotted name, `prefix` written before it ("model." gives
        "model.0.weight"), in torch's order (a module's own parameters, then each child's), a
        parameter held under two names under both: copies of the values, or the Parameters
        themselves with keep_vars=True. Written into `destination` (an OrderedDict by default),
        which is returned."""
        destination = OrderedDict() if destination is None else destination
        for name, param in self.named_parameters(remove_duplicate=False):
            destination[prefix + name] = param if keep_vars else param.data.copy()
        return destination

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values in by name (the names of state_dict()); returns the names the state
        lacks and those the model lacks. Everything is checked before anything is written, so
        a value that is not a numeric array of the parameter's shape, or with strict=True a
        missing or unexpected key, raises a RuntimeError and leaves the module unchanged. Each
        loaded parameter's .data becomes a new array of its dtype (an array taken from .data
        before the load keeps the old values)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict into {type(self).__name__}: expected a mapping of names to arrays "
                f"(a state_dict()), got {type(state_dict).__name__}"
            )
        own = dict(self.named_parameters(remove_duplicate=False))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = key_problems(missing, unexpected) if strict else []
        values = {}
        for name, param in own.items():
            if name not in state_dict:
                continue
            given = state_dict[name]
            try:
                value = np.asarray(given.data if isinstance(given, Tensor) else given)
            except (ValueError, TypeError, RuntimeError) as error:  # ragged lists; another library's tensor
                problems.append(f"{name}: not an array ({error})")
                continue
            if value.dtype.kind not in "biuf":
                problems.append(f"{name}: dtype {value.dtype} is not numeric")
            elif value.shape != param.shape:
                problems.append(f"{name}: shape {value.shape} in the state, {param.shape} in the model")
            else:
                values[name] = value
        cast = {}
        for name, value in values.items():  # every cast before any write: one that fails writes nothing
            try:
                cast[name] = np.array(value, dtype=own[name].dtype)
            except (ValueError, OverflowError, FloatingPointError) as error:
                problems.append(f"{name}: cannot be cast to {own[name].dtype} ({error})")
        if problems:
            raise RuntimeError(f"load_state_dict into {type(self).__name__} failed: " + "; ".join(problems))
        for name, value in cast.items():
            own[name].data = value
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _checked_module(owner: str, what, module) -> Module:
    """`module`, or a TypeError naming the container and the item that is not a Module."""
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: item {what} is a {type(module).__name__}, not a Module")
    return module


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner: named "0", "1", ... in order.

    Indexing, slicing (a new ModuleList of the same modules), len, iteration, append, extend,
    insert and del work as on a list; it has no forward() of its own.
    """

    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or [])

    def _position(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be ints or slices, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} modules")
        return int(index) % len(self)

    def _renumber(self, modules: list) -> None:
        """Hold exactly `modules`, named "0", "1", ... again."""
        for name in list(self._modules):
            delattr(self, name)
        for index, module in enumerate(modules):
            setattr(self, str(index), _checked_module(type(self).__name__, index, module))

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(modules[index])
        return modules[self._position(index)]

    def __setitem__(self, index, module: Module) -> None:
        name = list(self._modules)[self._position(index)]
        setattr(self, name, _checked_module(type(self).__name__, index, module))

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        del modules[index if isinstance(index, slice) else self._position(index)]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> "ModuleList":
        setattr(self, str(len(self)), _checked_module(type(self).__name__, len(self), module))
        return self

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)


class Sequential(ModuleList):
    """Modules applied one after another: Sequential(a, b)(x) == b(a(x)).

    Children are named "0", "1", ..., or by the keys of one OrderedDict given instead
    (Sequential(OrderedDict(fc=..., out=...))). Indexes as a ModuleList does, except that a
    slice is a Sequential keeping the children's names, as in torch.
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            super().__init__()
            for name, module in modules[0].items():
                setattr(self, name, _checked_module("Sequential", repr(name), module))
        else:
            super().__init__(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def forward(self, x):
        for module in self._modules.values():  # every position, a module held twice applied twice
            x = module(x)
        return x


class ModuleDict(Module):
    """Modules by name, in insertion order, their parameters named "<key>.<name>".

    A key must be a string without "." that is not already an attribute of a Module (so
    "train" or "forward" cannot hide the method)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _checked_key(self, key) -> str:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: a key must be a non-empty string without '.', got {key!r}")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: key {key!r} would hide the Module attribute of that name")
        return key

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict: no module named {key!r}; keys: {', '.join(self._modules) or 'none'}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        setattr(self, self._checked_key(key), _checked_module("ModuleDict", repr(key), module))

    def __delitem__(self, key: str) -> None:
        self[key]  # the KeyError that names the keys
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return list(self._modules.keys())

    def values(self):
        return list(self._modules.values())

    def items(self):
        return list(self._modules.items())

    def update(self, modules) -> None:
        """Add (or replace) modules from a mapping or an iterable of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module
