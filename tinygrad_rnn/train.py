"""Training loop: mini-batches, clipping, validation, early stopping, and a loss history."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import numpy as np

from .autograd import no_grad
from .errors import NonFiniteLossError
from .grads import is_integer
from .jit import jit as compile_step
from .optim import clip_grad_norm_, clip_grad_value_
from .random import as_generator
from .tensors import Tensor


@dataclass
class History:
    """Per-epoch train and validation loss (each the epoch's mean over its examples)."""

    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def plot(
        self, path=None, ax=None, title: str = "loss per epoch", log_scale: bool = True, format: str | None = None
    ):
        """Draw both curves with matplotlib; save to `path` when given, in `format` (default: the one
        its suffix names). Returns the Axes."""
        import matplotlib

        if path is not None and ax is None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure = None
        if ax is None:
            figure, ax = plt.subplots(figsize=(6, 3.5))
        epochs = np.arange(1, self.epochs + 1)
        ax.plot(epochs, self.train_loss, label="train")
        if self.val_loss:
            ax.plot(epochs[: len(self.val_loss)], self.val_loss, label="validation")
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch + 1, color="grey", linestyle=":", label="best")
        if log_scale:
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.legend()
        if path is not None:
            (figure or ax.figure).savefig(path, dpi=100, bbox_inches="tight", format=format)
            if figure is not None:
                plt.close(figure)
        return ax


class EarlyStopping:
    """Stop when the validation loss has not improved by more than `min_delta` for `patience`
    epochs in a row; remembers the best weights and can put them back."""

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = True):
        if patience < 1:
            raise ValueError(f"EarlyStopping: patience must be at least 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta}")
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.best_loss = np.inf
        self.best_epoch: int | None = None
        self.best_state = None
        self.epochs_without_improvement = 0

    def update(self, epoch: int, val_loss: float, model) -> bool:
        """Record this epoch's validation loss; True when training should stop."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_state = model.state_dict() if self.restore_best else None
            self.epochs_without_improvement = 0
            return False
        self.epochs_without_improvement += 1
        return self.epochs_without_improvement >= self.patience

    def restore(self, model) -> None:
        """Load the best weights seen back into `model`."""
        if self.restore_best and self.best_state is not None:
            model.load_state_dict(self.best_state)


def check_finite_loss(value: float, epoch: int, batch: int, last_finite: float | None) -> float:
    """Return the loss `value`, or raise NonFiniteLossError if it is NaN or infinite, naming the
    epoch and the batch (both counted from 1) and the last finite loss before it."""
    if math.isfinite(value):
        return value
    before = (
        f"the last finite loss was {last_finite:.6g}"
        if last_finite is not None
        else "no earlier batch had a finite loss"
    )
    raise NonFiniteLossError(
        f"training stopped: the loss became {value} at epoch {epoch}, "
        f"batch {batch}, before the optimizer step; {before}"
    )


def _as_target(target):
    return target if isinstance(target, Tensor) else np.asarray(target)


def progress_bar(epochs: int, show: bool | None):
    """The bar every training loop here shows: tqdm over `epochs` on stderr when `show` is True
    (None: when stderr is a terminal), else None."""
    if not (show if show is not None else sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=epochs, unit="epoch", leave=False)


class Trainer:
    """Fit `model` by minimising `loss_fn(model(inputs), targets)` over mini-batches.

    Inputs and targets are arrays whose first axis indexes examples; a batch is a slice of
    them, passed to the model as it is (so a batch_first RNN sees (B, T, F)). After every
    backward the gradients are clipped per value (`clip_value`, the documents' clipping)
    and/or by total norm (`clip_norm`) before the optimizer steps. A NaN or infinite batch loss
    stops training at once with NonFiniteLossError, before the optimizer takes that step.
    With `jit` (the default), each batch's forward and backward run as one compiled step
    (tinygrad_rnn.jit, one program per batch shape); the checks, clipping and the optimizer
    step stay outside it.
    """

    def __init__(
        self,
        model,
        loss_fn,
        optimizer,
        *,
        batch_size: int | None = None,
        clip_value: float | None = None,
        clip_norm: float | None = None,
        shuffle: bool = True,
        rng=None,
        progress: bool | None = None,
        jit: bool = True,
    ):
        if batch_size is not None and not (is_integer(batch_size) and batch_size >= 1):
            raise ValueError(f"Trainer: batch_size must be an integer >= 1 (or None), got {batch_size!r}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.batch_size, self.clip_value, self.clip_norm = batch_size, clip_value, clip_norm
        self.shuffle = shuffle
        self.rng = as_generator(rng)
        self.progress = progress
        self.last_finite_loss: float | None = None
        self.compiled_step = compile_step(self._forward_backward) if jit else None

    def _forward_backward(self, inputs, targets):
        """One batch's loss, after backward() has filled the gradients."""
        loss = self.loss_fn(self.model(inputs), targets)
        loss.backward()
        return loss

    def _batches(self, count: int, shuffle: bool):
        order = self.rng.permutation(count) if shuffle else np.arange(count)
        size = self.batch_size or count
        for start in range(0, count, size):
            yield order[start : start + size]

    def train_epoch(self, inputs, targets, epoch: int = 1) -> float:
        """One pass over the training set (epoch number `epoch`, from 1, for error messages);
        returns the mean loss over its examples."""
        self.model.train()
        params = list(self.model.parameters())
        total, count = 0.0, 0
        for batch, index in enumerate(self._batches(len(inputs), self.shuffle), start=1):
            self.optimizer.zero_grad()
            if self.compiled_step is not None:
                loss = self.compiled_step(inputs[index], _as_target(targets[index]))
                value = check_finite_loss(loss.item(), epoch, batch, self.last_finite_loss)
            else:
                loss = self.loss_fn(self.model(inputs[index]), _as_target(targets[index]))
                value = check_finite_loss(loss.item(), epoch, batch, self.last_finite_loss)
                loss.backward()
            self.last_finite_loss = value
            if self.clip_value is not None:
                clip_grad_value_(params, self.clip_value)
            if self.clip_norm is not None:
                clip_grad_norm_(params, self.clip_norm)
            self.optimizer.step()
            total += value * len(index)
            count += len(index)
        return total / count

    @no_grad()
    def evaluate(self, inputs, targets) -> float:
        """Mean loss over a data set, without recording a graph."""
        if len(inputs) == 0:
            raise ValueError("Trainer.evaluate: the data set holds 0 examples, so it has no mean loss")
        self.model.eval()
        total, count = 0.0, 0
        for index in self._batches(len(inputs), shuffle=False):
            loss = self.loss_fn(self.model(inputs[index]), _as_target(targets[index]))
            total += loss.item() * len(index)
            count += len(index)
        return total / count

    @no_grad()
    def predict(self, inputs) -> np.ndarray:
        """The model's outputs for every example, as one array."""
        self.model.eval()
        return np.concatenate([self.model(inputs[index]).data for index in self._batches(len(inputs), shuffle=False)])

    def fit(
        self, inputs, targets, *, epochs: int, validation=None, early_stopping: EarlyStopping | None = None
    ) -> History:
        """Train for up to `epochs`; `validation` is an (inputs, targets) pair."""
        if not (is_integer(epochs) and epochs >= 0):
            raise ValueError(f"Trainer.fit: epochs must be an integer >= 0, got {epochs!r}")
        if len(inputs) != len(targets):
            raise ValueError(f"Trainer.fit: {len(inputs)} inputs but {len(targets)} targets")
        if len(inputs) == 0:
            raise ValueError("Trainer.fit: there is nothing to train on: inputs and targets hold 0 examples")
        if validation is not None and len(validation[0]) == 0:
            raise ValueError("Trainer.fit: the validation data holds 0 examples, so it has no mean loss")
        if early_stopping is not None and validation is None:
            raise ValueError("Trainer.fit: early stopping needs validation data")
        history = History()
        bar = self._progress_bar(epochs)
        try:
            for epoch in range(epochs):
                history.train_loss.append(self.train_epoch(inputs, targets, epoch + 1))
                if validation is not None:
                    history.val_loss.append(self.evaluate(*validation))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(self._postfix(history))
                if early_stopping is not None and early_stopping.update(epoch, history.val_loss[-1], self.model):
                    history.stopped_early = True
                    break
        finally:
            if bar is not None:
                bar.close()
        if early_stopping is not None:
            early_stopping.restore(self.model)
            history.best_epoch = early_stopping.best_epoch
        return history

    def _progress_bar(self, epochs: int):
        return progress_bar(epochs, self.progress)

    @staticmethod
    def _postfix(history: History) -> dict:
        shown = {"train": f"{history.train_loss[-1]:.4g}"}
        if history.val_loss:
            shown["val"] = f"{history.val_loss[-1]:.4g}"
        return shown
