"""Finite-difference checks of backward: every element, or one random direction.

Central differences: df/dx_i ~ (f(x + eps e_i) - f(x - eps e_i)) / (2 eps), with an error
of order eps**2. A non-scalar output y is reduced to the scalar sum(y * w) with a fixed
random w, so every output element takes part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .autograd import no_grad
from .tensors import Tensor


class GradcheckError(AssertionError):
    """Backward disagrees with finite differences."""


@dataclass
class GradcheckReport:
    """The worst element found: which input, where, both gradients and the errors."""

    ok: bool
    input_index: int
    element: tuple
    analytic: float
    numeric: float
    abs_error: float
    rel_error: float

    def __str__(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        return (
            f"gradcheck {verdict}: worst at input {self.input_index}, element {self.element}: "
            f"backward {self.analytic:.10g}, finite difference {self.numeric:.10g}, "
            f"abs error {self.abs_error:.3g}, rel error {self.rel_error:.3g}"
        )


def _scalar_objective(fn, inputs, rng):
    """fn(*inputs) reduced to a scalar Tensor by a fixed random weighting of its elements."""
    with no_grad():
        probe = fn(*inputs)
    if not isinstance(probe, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(probe).__name__}")
    weights = None if probe.numel() == 1 else rng.standard_normal(probe.shape)

    def objective():
        out = fn(*inputs)
        return out.sum() if weights is None else (out * weights).sum()

    return objective


def _checked_inputs(inputs) -> list:
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: input {i} is a {type(t).__name__}, expected a Tensor")
        if t.requires_grad and not t.data.flags.c_contiguous:
            t.data = np.ascontiguousarray(t.data)
    if not any(t.requires_grad for t in inputs):
        raise ValueError("gradcheck: no input has requires_grad=True")
    return inputs


def _analytic_grads(objective, inputs) -> list:
    for t in inputs:
        t.grad = None
    objective().backward()
    return [np.zeros_like(t.data) if t.grad is None else t.grad.copy() for t in inputs]


def gradcheck(
    fn, inputs, eps: float = 1e-6, atol: float = 1e-8, rtol: float = 1e-6, raise_exception: bool = True, seed: int = 0
) -> GradcheckReport:
    """Compare backward with central differences for every element of every input needing grad.

    An element passes when |analytic - numeric| <= atol + rtol * |numeric|. Returns a
    report of the worst element; raises GradcheckError on failure unless told not to.
    Inputs of size 0 hold no element to check: they pass, as in PyTorch (input -1 in the report).
    """
    inputs = _checked_inputs(inputs)
    objective = _scalar_objective(fn, inputs, np.random.default_rng(seed))
    analytic = _analytic_grads(objective, inputs)
    worst: GradcheckReport | None = None
    for index, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        flat = t.data.reshape(-1)
        for k in range(flat.size):
            original = flat[k]
            with no_grad():
                flat[k] = original + eps
                up = objective().item()
                flat[k] = original - eps
                down = objective().item()
            flat[k] = original
            numeric = (up - down) / (2 * eps)
            exact = analytic[index].reshape(-1)[k]
            report = _element_report(index, np.unravel_index(k, t.shape), exact, numeric, atol, rtol)
            if worst is None or _badness(report, atol, rtol) > _badness(worst, atol, rtol):
                worst = report
    if worst is None:  # every input needing grad has size 0: nothing to disagree, as in PyTorch
        worst = _element_report(-1, (), 0.0, 0.0, atol, rtol)
    return _finish(worst, raise_exception)


def directional_gradcheck(
    fn, inputs, eps: float = 1e-6, atol: float = 1e-8, rtol: float = 1e-6, raise_exception: bool = True, seed: int = 0
) -> GradcheckReport:
    """Cheap check for large inputs: along one random direction v, compare grad . v with
    (f(x + eps v) - f(x - eps v)) / (2 eps). Two extra evaluations, whatever the size."""
    inputs = _checked_inputs(inputs)
    rng = np.random.default_rng(seed)
    objective = _scalar_objective(fn, inputs, rng)
    analytic = _analytic_grads(objective, inputs)
    directions = [rng.standard_normal(t.shape) if t.requires_grad else None for t in inputs]
    originals = [t.data.copy() for t in inputs]

    def shifted(step):
        for t, v, x0 in zip(inputs, directions, originals):
            if v is not None:
                t.data[...] = x0 + step * v
        with no_grad():
            return objective().item()

    try:
        numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
    finally:
        for t, x0 in zip(inputs, originals):
            t.data[...] = x0
    exact = sum(float((g * v).sum()) for g, v in zip(analytic, directions) if v is not None)
    return _finish(_element_report(-1, (), exact, numeric, atol, rtol), raise_exception)


def _element_report(index, element, analytic, numeric, atol, rtol) -> GradcheckReport:
    abs_error = abs(analytic - numeric)
    rel_error = abs_error / max(abs(numeric), abs(analytic), np.finfo(float).tiny)
    ok = bool(abs_error <= atol + rtol * abs(numeric))
    return GradcheckReport(
        ok, index, tuple(int(i) for i in element), float(analytic), float(numeric), float(abs_error), float(rel_error)
    )


def _badness(report: GradcheckReport, atol: float, rtol: float) -> float:
    return report.abs_error / (atol + rtol * abs(report.numeric))


def _finish(report: GradcheckReport, raise_exception: bool) -> GradcheckReport:
    if raise_exception and not report.ok:
        raise GradcheckError(str(report))
    return report
