"""Optimizer: parameter groups with their own options, per-parameter state, and state_dict.

As in torch.optim: `param_groups` is a list of dicts, each holding "params" (a list of leaf
Tensors) and that group's options (lr, weight_decay, ...), missing ones taken from the
optimizer's defaults. `state[p]` is parameter p's own dict (its step count, moment buffers).
`step()` updates every parameter with a gradient, in place, through the subclass's
`update(param, grad, state, group)`, and counts the write (`param._version += 1`), so a
backward through a graph that saved the old values raises; a parameter whose grad is None is
skipped and its state left alone.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, MutableMapping

import numpy as np

from ..autograd import enable_grad
from ..nn.module import Module
from ..tensors import Tensor


class ParameterState(MutableMapping):
    """A dict from parameters to their state dicts, keyed by identity (a tensor is not a value)."""

    def __init__(self):
        self._entries: dict[int, tuple[Tensor, dict]] = {}

    def __getitem__(self, param):
        return self._entries[id(param)][1]

    def __setitem__(self, param, value):
        self._entries[id(param)] = (param, value)

    def __delitem__(self, param):
        del self._entries[id(param)]

    def __iter__(self):
        return (param for param, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


def check_non_negative(owner: str, group: dict, names: tuple) -> None:
    """Raise ValueError naming every option among `names` that is negative or NaN."""
    negative = [f"{name}={group[name]}" for name in names if not group[name] >= 0]
    if negative:
        raise ValueError(f"{owner}: hyperparameters must be >= 0, got {', '.join(negative)}")


class Optimizer:
    """Base class. `params`: a Module, an iterable of Parameters (leaf Tensors), or an iterable
    of dicts, one per parameter group ({"params": [...], "lr": 0.1, ...}). Each parameter
    appears once over all groups. `defaults` holds every option and its value for a group
    that does not set it."""

    def __init__(self, params, defaults: dict):
        owner = type(self).__name__
        if isinstance(params, Module):
            params = params.parameters()
        elif isinstance(params, Tensor):
            raise TypeError(
                f"{owner}: params must be an iterable of Parameters or a Module, got one Tensor; wrap it in a list"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{owner}: got an empty parameter list")
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state = ParameterState()
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict) -> None:
        """Append a group: its "params" and any options, the rest from the defaults (checked first)."""
        owner = type(self).__name__
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(
                f"{owner}: a parameter group must be a dict with a 'params' entry, got {type(param_group).__name__}"
            )
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        params = list(params)
        group_index = len(self.param_groups)
        where = f"group {group_index}, " if group_index else ""
        if not params:
            raise ValueError(f"{owner}: {where}got an empty parameter list")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for index, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{owner}: {where}parameter {index} is a {type(param).__name__}, not a Tensor")
            if not param.is_leaf:
                raise ValueError(f"{owner}: {where}parameter {index} is not a leaf tensor (it was computed by an op)")
            if id(param) in seen:
                name = param.name or "unnamed"
                raise ValueError(f"{owner}: {where}parameter {index} ({name}) appears more than once")
            seen.add(id(param))
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}, "params": params}
        self.check_options(group)
        self.param_groups.append(group)

    def check_options(self, group: dict) -> None:
        """Raise ValueError for an option value the update rule cannot use (subclasses)."""

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (the default), or fill them with zeros in place."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none:
                    param.grad = None
                elif param.grad is not None:
                    param.grad[...] = 0

    def step(self, closure=None):
        """Update, in place, every parameter that has a gradient; returns closure() when given
        (the loss it recomputes, gradients included, before the update). An inf or NaN gradient
        gives the inf and NaN the update's arithmetic makes, without NumPy warnings, as in torch."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # inf and NaN as IEEE (and torch) make them
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    descend = -param.grad if group.get("maximize") else param.grad  # descending -f ascends f
                    self.update(param, descend, self.state.setdefault(param, {}), group)
                    param._version += 1  # the write into param.data, so a graph that saved it can tell
        return loss

    def update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        """Change param.data in place from the gradient it descends (-grad when the group sets
        maximize=True: as in torch, before weight decay is added, so weight decay still pulls
        the parameters toward zero when maximizing), its state and its group's options."""
        raise NotImplementedError(f"{type(self).__name__} does not define update()")

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """{"state": {index: copy of that parameter's state}, "param_groups": [options with
        "params" as indices]}; parameters are numbered 0, 1, ... through the groups in order,
        as torch does, so the dict holds no tensors and loads into a fresh optimizer."""
        indices: dict[int, int] = {}
        groups: list[dict] = []
        for group in self.param_groups:
            numbers = []
            for param in group["params"]:
                indices[id(param)] = len(indices)
                numbers.append(indices[id(param)])
            groups.append({**{k: copy.deepcopy(v) for k, v in group.items() if k != "params"}, "params": numbers})
        state = {indices[id(param)]: copy.deepcopy(values) for param, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the options and state of a state_dict() of the same groups. Everything is checked
        before anything changes (the groups, the parameter numbers, each state array's shape and
        dtype, the options as the constructor checks them), so a mismatch raises and leaves this
        optimizer as it was. An option the saved groups lack takes the constructor's default."""
        where = f"{type(self).__name__}.load_state_dict"
        groups = self.param_groups
        saved_groups = state_dict.get("param_groups") if isinstance(state_dict, Mapping) else None
        if not isinstance(saved_groups, list) or not isinstance(state_dict.get("state"), Mapping):
            raise ValueError(f"{where}: expects a dict with 'state' and 'param_groups'")
        if len(saved_groups) != len(groups):
            raise ValueError(
                f"{where}: the state has {len(saved_groups)} parameter groups, the optimizer {len(groups)}"
            )
        params: dict[int, Tensor] = {}
        for index, (group, saved) in enumerate(zip(groups, saved_groups)):
            numbers = saved.get("params") if isinstance(saved, Mapping) else None
            if not isinstance(numbers, (list, tuple)):
                raise ValueError(f"{where}: group {index} of the state is not a dict with a 'params' list")
            if len(numbers) != len(group["params"]):
                raise ValueError(
                    f"{where}: group {index} has {len(numbers)} parameters in the state, "
                    f"{len(group['params'])} in the optimizer"
                )
            for number, param in zip(numbers, group["params"]):
                if number in params:
                    raise ValueError(f"{where}: the state numbers parameter {number!r} more than once")
                params[number] = param
        new_state = ParameterState()
        for number, values in state_dict["state"].items():
            if number not in params:
                raise ValueError(f"{where}: the state names parameter {number!r}, which no group holds")
            param = params[number]
            owner = f"{where}: parameter {number!r} ({param.name or 'unnamed'})"
            if not isinstance(values, Mapping):
                raise ValueError(f"{owner}: its state is a {type(values).__name__}, not a dict")
            new_state[param] = {key: _copied(value, param, f"{owner}: state {key!r}") for key, value in values.items()}
        missing = self._unsaved_option_values()
        new_groups = [
            {**missing, **{k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}, "params": group["params"]}
            for group, saved in zip(groups, saved_groups)
        ]
        for group in new_groups:
            self.check_options(group)
        self.param_groups[:] = new_groups
        self.state = new_state

    def _unsaved_option_values(self) -> dict:
        """The value an option takes when a state_dict lacks it (saved before the option existed,
        as maximize): the constructor's default, as torch's __setstate__ fills it, else this
        optimizer's own default."""
        constructor_defaults = {
            name: parameter.default
            for name, parameter in inspect.signature(type(self).__init__).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        return {name: copy.deepcopy(constructor_defaults.get(name, value)) for name, value in self.defaults.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            options = ", ".join(f"{k}={v}" for k, v in sorted(group.items()) if k != "params")
            lines.append(f"  group {index}: {len(group['params'])} parameters, {options}")
        return "\n".join(lines + [")"])


def _copied(value, param: Tensor, where: str):
    """A state value as this optimizer keeps it: an array, of real numbers and of the parameter's
    shape (or 0-d), copied in the parameter's dtype; anything else deep-copied."""
    if not isinstance(value, np.ndarray):
        return copy.deepcopy(value)
    if value.dtype.kind not in "biuf":
        raise ValueError(f"{where} has dtype {value.dtype}; the state holds real numbers")
    if value.shape not in (param.shape, ()):
        raise ValueError(f"{where} has shape {value.shape}, the parameter {param.shape}")
    return np.array(value, dtype=param.dtype)
