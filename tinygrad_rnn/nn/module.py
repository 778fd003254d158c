"""Module and Parameter: a tree of layers whose trainable tensors are found by name."""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..tensors import Tensor


class Parameter(Tensor):
    """A leaf tensor a Module trains: requires_grad is on and the module knows it by name."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None, name: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor") :]


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
        """Direct sub-modules with their attribute names."""
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every module below it, depth first, with dotted names."""
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            below = [(f"{name}.{child}" if name else child, m) for child, m in module._modules.items()]
            stack.extend(reversed(below))

    def modules(self) -> Iterator["Module"]:
        """This module and every module below it, depth first (named_modules without the names)."""
        stack = [self]
        while stack:
            module = stack.pop()
            yield module
            stack.extend(reversed(module._modules.values()))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter in the tree with its dotted name ("rnn.weight_ih_l0"), each once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter in the tree, each once (named_parameters without the names)."""
        for _, param in self.named_parameters():
            yield param

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
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """A copy of every parameter's values, by dotted name."""
        return OrderedDict((name, param.data.copy()) for name, param in self.named_parameters())

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy values in by name. Everything is checked before anything is written, so a
        missing, unexpected or mis-shaped key raises and leaves the module unchanged."""
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        values = {}
        for name, param in own.items():
            if name not in state:
                continue
            value = np.asarray(state[name].data if isinstance(state[name], Tensor) else state[name])
            if value.shape != param.shape:
                problems.append(f"{name}: shape {value.shape} in the state, {param.shape} in the model")
            elif value.dtype.kind not in "biuf":
                problems.append(f"{name}: dtype {value.dtype} is not numeric")
            else:
                values[name] = value
        if problems:
            raise KeyError(f"load_state_dict into {type(self).__name__} failed: " + "; ".join(problems))
        for name, value in values.items():
            own[name].data = np.array(value, dtype=own[name].dtype)

    # ------------------------------------------------------------ display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self.named_children()]
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
        for module in self.children():
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
