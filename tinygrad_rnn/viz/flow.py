"""Gradient flow through time: ||dL/dh_t|| for each step, and a log-scale plot of it."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..tensors import Tensor

GRADIENT_LABEL = r"$\Vert\partial L / \partial h_t\Vert$"


def gradient_flow(hidden_states) -> np.ndarray:
    """||dL/dh_t|| for t = 0, 1, ..., from the gradients the hidden states kept after backward.

    Pass one layer's states, e.g. `rnn.hidden_states[-1]`, from a forward run with
    `rnn.retain_hidden = True`, or any list of states you kept and retained (retain_grad()).
    """
    states = list(hidden_states)
    if not states:
        raise ValueError(
            "gradient_flow: no hidden states given; set `rnn.retain_hidden = True` before the forward "
            "pass so that rnn.hidden_states[layer] holds them"
        )
    if isinstance(states[0], (list, tuple)):
        raise TypeError("gradient_flow: give one layer's states, e.g. rnn.hidden_states[-1], not the list of layers")
    norms = []
    for t, state in enumerate(states):
        if not isinstance(state, Tensor):
            raise TypeError(f"gradient_flow: the state at t={t} is a {type(state).__name__}, not a Tensor")
        if state.grad is None:
            raise ValueError(
                f"gradient_flow: the hidden state at t={t} has no gradient. Set `rnn.retain_hidden = True` "
                "before the forward pass, then call backward() on a loss that depends on it"
            )
        norms.append(np.linalg.norm(state.grad))
    return np.array(norms, dtype=np.float64)


def plot_gradient_flow(norms_or_dict, path=None, ax=None):
    """Plot ||dL/dh_t|| against t on a log axis; a dict label -> norms draws one curve each.

    Draws into `ax` when given, else into a new figure; saves to `path` (format by suffix) when
    given. Zero norms have no place on a log axis and are left out. Returns the Axes.
    """
    curves = dict(norms_or_dict) if isinstance(norms_or_dict, dict) else {GRADIENT_LABEL: norms_or_dict}
    if not curves:
        raise ValueError("plot_gradient_flow: nothing to plot")
    if ax is None:
        figure = Figure(figsize=(6.4, 3.6), layout="constrained")
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
    for label, norms in curves.items():
        values = np.asarray(norms, dtype=np.float64).ravel()
        shown = np.where(values > 0, values, np.nan)
        ax.plot(
            np.arange(len(values)),
            shown,
            marker="o" if len(values) <= 40 else None,
            markersize=3.5,
            linewidth=1.6,
            label=label,
        )
    ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel(GRADIENT_LABEL)
    ax.set_title("Gradient flowing back through time")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    if len(curves) > 1:
        ax.legend(frameon=False)
    if path is not None:
        ax.figure.savefig(path, dpi=120)
    return ax
