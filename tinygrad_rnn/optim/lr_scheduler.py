"""Learning-rate schedules, as torch.optim.lr_scheduler: call `scheduler.step()` once per epoch,
after `optimizer.step()`; each group's "lr" is set for the next epoch.

Construction counts as epoch 0: it stores each group's starting rate as "initial_lr" (the
base rate) and sets epoch 0's rate. StepLR, MultiStepLR, ExponentialLR, MultiplicativeLR,
ConstantLR, LinearLR and CosineAnnealingLR change the rate the group has now by a factor, as
torch's do, so two of them on one optimizer compose; LambdaLR sets base rate * lr_lambda(epoch).
ReduceLROnPlateau watches a metric instead of the epoch count.
"""

from __future__ import annotations

import math
from collections import Counter

from ..errors import key_problems
from .optimizer import Optimizer


class LRScheduler:
    """Base class: a subclass defines `next_lrs()`, every group's rate at epoch `last_epoch`."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expects an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        for index, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs 'initial_lr' "
                    f"in parameter group {index}"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._is_initial = True  # during construction's step, which LinearLR and MultiplicativeLR take as no epoch
        self.step()
        self._is_initial = False

    def next_lrs(self) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} does not define next_lrs()")

    def step(self) -> None:
        """Advance one epoch and set every group's rate for it."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.next_lrs()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates the last step() set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer (and functions, which are code, not state)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the state of a state_dict() of this kind of schedule (checked first, see
        `checked_state`, so a refused one changes nothing)."""
        self.__dict__.update(checked_state(self, state_dict))


class StepLR(LRScheduler):
    """lr * gamma every step_size epochs: base_lr * gamma ** (epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if not (isinstance(step_size, int) and step_size > 0):
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return lrs
        return [lr * self.gamma for lr in lrs]


class MultiStepLR(LRScheduler):
    """lr * gamma at each milestone epoch (gamma**n at a milestone listed n times):
    base_lr * gamma ** (number of milestones <= epoch)."""

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        not_ints = [m for m in milestones if not isinstance(m, int) or isinstance(m, bool)]
        if not_ints:
            raise TypeError(f"MultiStepLR: milestones must be epoch numbers (ints), got {not_ints!r}")
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch not in self.milestones:
            return lrs
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in lrs]


class ExponentialLR(LRScheduler):
    """lr * gamma every epoch: base_lr * gamma ** epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return lrs
        return [lr * self.gamma for lr in lrs]


class MultiplicativeLR(LRScheduler):
    """lr * lr_lambda(epoch) every epoch after the first; one function for every group or a
    list, one per group (base_lr times the product of lr_lambda(1), ..., lr_lambda(epoch))."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _functions_per_group("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        return [group["lr"] * f(self.last_epoch) for group, f in zip(groups, self.lr_lambdas)]


class ConstantLR(LRScheduler):
    """base_lr * factor for the epochs before total_iters, base_lr from then on: the rate is
    multiplied by factor at epoch 0 and divided by it at epoch total_iters."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return [lr * self.factor for lr in lrs]
        if self.last_epoch != self.total_iters:
            return lrs
        return [lr * (1.0 / self.factor) for lr in lrs]


class LinearLR(LRScheduler):
    """base_lr * f(epoch), f going in a line from start_factor at epoch 0 to end_factor at
    epoch total_iters and staying there (a warm-up when start_factor < end_factor). Reached as
    torch does: each epoch multiplies the rate by f(epoch) / f(epoch - 1)."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not 0.0 < start_factor <= 1.0:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0.0 <= end_factor <= 1.0:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        lrs = [group["lr"] for group in self.optimizer.param_groups]
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in lrs]
        if self._is_initial or self.last_epoch > self.total_iters:
            return lrs
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [lr * ratio for lr in lrs]


class CosineAnnealingLR(LRScheduler):
    """eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, reached as torch does:
    each epoch scales the distance to eta_min by (1 + cos(pi e / T)) / (1 + cos(pi (e - 1) / T)),
    and past T_max the cosine goes on (the rate climbs back towards base_lr)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        groups, epoch, period, eta_min = self.optimizer.param_groups, self.last_epoch, self.T_max, self.eta_min
        if epoch == 0:
            return [group["lr"] for group in groups]
        if (epoch - 1 - period) % (2 * period) == 0:  # just past a minimum, where the ratio is 0 / 0
            return [
                group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / period)) / 2
                for base, group in zip(self.base_lrs, groups)
            ]
        ratio = (1 + math.cos(math.pi * epoch / period)) / (1 + math.cos(math.pi * (epoch - 1) / period))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in groups]


class LambdaLR(LRScheduler):
    """base_lr * lr_lambda(epoch); one function for every group or a list, one per group."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _functions_per_group("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def next_lrs(self) -> list[float]:
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


def _functions_per_group(owner: str, optimizer: Optimizer, lr_lambda) -> list:
    """One function of the epoch per parameter group: the one given for all, or a list of them."""
    count = len(optimizer.param_groups)
    functions = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * count
    if len(functions) != count:
        raise ValueError(f"{owner}: got {len(functions)} functions for {count} parameter groups")
    if not all(callable(f) for f in functions):
        raise TypeError(f"{owner}: lr_lambda must be a function of the epoch (or a list of them)")
    return functions


class ReduceLROnPlateau:
    """Multiply the rate by `factor` once the metric passed to step() has not improved for more
    than `patience` epochs in a row; then wait `cooldown` epochs before counting again.

    Improvement (mode "min"; "max" mirrors it): metric < best * (1 - threshold) with
    threshold_mode "rel", metric < best - threshold with "abs". A rate never goes below its
    group's min_lr, and a change smaller than eps is not made.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr=0.0,
        eps: float = 1e-8,
    ):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expects an Optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor}")
        count = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * count
        if len(min_lrs) != count:
            raise ValueError(f"ReduceLROnPlateau: got {len(min_lrs)} min_lr values for {count} parameter groups")
        self.optimizer, self.mode, self.factor, self.patience = optimizer, mode, factor, patience
        self.threshold, self.threshold_mode, self.cooldown, self.min_lrs, self.eps = (
            threshold,
            threshold_mode,
            cooldown,
            min_lrs,
            eps,
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, metric: float) -> bool:
        if self.mode == "min":
            bound = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else self.best - self.threshold
            return metric < bound
        bound = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else self.best + self.threshold
        return metric > bound

    def step(self, metrics) -> None:
        """Count one epoch whose metric (a number, e.g. the validation loss) was `metrics`."""
        metric = float(metrics)
        self.last_epoch += 1
        if self.is_better(metric):
            self.best, self.num_bad_epochs = metric, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the state of a ReduceLROnPlateau.state_dict(), checked first (see `checked_state`)."""
        self.__dict__.update(checked_state(self, state_dict))


PER_GROUP_ENTRIES = ("base_lrs", "_last_lr", "min_lrs")  # the state entries that hold one value per group


def checked_state(scheduler, state_dict) -> dict:
    """`state_dict`, once checked to be a state_dict() of `scheduler`'s kind: a dict with the
    same keys as its own (so neither another kind's state nor an optimizer gets in) and, in
    each entry of PER_GROUP_ENTRIES, one value per parameter group of its optimizer."""
    where = f"{type(scheduler).__name__}.load_state_dict"
    if not isinstance(state_dict, dict):
        raise TypeError(f"{where}: expects a dict (a state_dict()), got {type(state_dict).__name__}")
    own = scheduler.state_dict()
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    problems = key_problems(missing, unexpected)
    if problems:
        raise ValueError(f"{where}: not a state of this kind of schedule ({'; '.join(problems)})")
    groups = len(scheduler.optimizer.param_groups)
    for key in PER_GROUP_ENTRIES:
        if key in state_dict and not (isinstance(state_dict[key], list) and len(state_dict[key]) == groups):
            raise ValueError(f"{where}: {key!r} should hold one value for each of the {groups} parameter groups")
    return state_dict
