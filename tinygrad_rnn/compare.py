"""Hand-derived gradients against the ones backward() found, parameter by parameter.

A document's BPTT gives gradients under its own names and layout (row vectors: x @ W,
so an input weight is (I, H)); a model here uses PyTorch's names and layout (W is (H, I)).
`mapping` joins the two, and the result says how far apart each pair is.
"""

from __future__ import annotations

import numpy as np

from .nn.module import Module
from .tensors import Tensor

TRANSFORMS = {"T": np.transpose, "flatten": np.ravel}


def _autodiff_gradients(model_or_tensors) -> dict:
    """name -> gradient array (None where backward left none)."""
    if isinstance(model_or_tensors, Module):
        return {name: param.grad for name, param in model_or_tensors.named_parameters()}
    if isinstance(model_or_tensors, dict):
        return {
            name: value.grad if isinstance(value, Tensor) else np.asarray(value)
            for name, value in model_or_tensors.items()
        }
    raise TypeError(
        f"compare_gradients: expected a Module or a dict name -> Tensor, got {type(model_or_tensors).__name__}"
    )


def _target_and_transform(name: str, mapping: dict):
    """The model name `name` maps to and the transform (a callable or None) to apply first."""
    entry = mapping.get(name, name)
    if isinstance(entry, str):
        return entry, None
    model_name, transform = entry
    if transform is None or callable(transform):
        return model_name, transform
    if transform not in TRANSFORMS:
        raise ValueError(
            f"compare_gradients: unknown transform {transform!r} for {name!r}; "
            f"use {', '.join(map(repr, TRANSFORMS))}, None or a function"
        )
    return model_name, TRANSFORMS[transform]


def _differences(autodiff: np.ndarray, manual: np.ndarray) -> tuple[float, float]:
    """max |a - m| and max |a - m| / max(|a|, |m|), the latter over elements not both zero."""
    gap = np.abs(autodiff - manual)
    scale = np.maximum(np.abs(autodiff), np.abs(manual))
    nonzero = scale > 0
    max_abs = float(gap.max()) if gap.size else 0.0
    max_rel = float((gap[nonzero] / scale[nonzero]).max()) if nonzero.any() else 0.0
    return max_abs, max_rel


def compare_gradients(manual: dict, model_or_tensors, mapping: dict | None = None) -> dict:
    """For every hand-derived gradient m in `manual` (name -> array), the gap to autodiff's a.

    `model_or_tensors` is a Module (each parameter's .grad, by dotted name) or a dict
    name -> Tensor (its .grad) or name -> array (the gradient itself). `mapping` maps a
    manual name to a model name, or to (model name, transform) where the transform turns
    m into the model's layout: "T" (transpose), "flatten", None or any function of the
    array, e.g. {"i_weight": ("weight_ih_l0", "T")}. Unmapped names are looked up as they are.

    Returns {manual name: {"model_name", "manual_shape", "model_shape", "max_abs_diff",
    "max_rel_diff"}} with max_abs_diff = max |a - m| and max_rel_diff = max |a - m| / max(|a|, |m|)
    over the elements where a and m are not both exactly zero. Raises ValueError naming
    every missing name, and naming both shapes when a pair's shapes differ.
    """
    mapping = mapping or {}
    gradients = _autodiff_gradients(model_or_tensors)
    targets = {name: _target_and_transform(name, mapping) for name in manual}
    missing = [f"{name} -> {model_name}" for name, (model_name, _) in targets.items() if model_name not in gradients]
    if missing:
        raise ValueError(
            f"compare_gradients: no parameter for {', '.join(missing)}; the model has {', '.join(gradients)}"
        )
    result = {}
    for name, (model_name, transform) in targets.items():
        autodiff = gradients[model_name]
        if autodiff is None:
            raise ValueError(f"compare_gradients: {model_name} has no gradient; run backward() first")
        value = manual[name]
        hand = np.asarray(value.data if isinstance(value, Tensor) else value, dtype=np.float64)
        arranged = hand if transform is None else np.asarray(transform(hand))
        if arranged.shape != autodiff.shape:
            how = "" if transform is None else " after its transform"
            raise ValueError(
                f"compare_gradients: {name} has shape {arranged.shape}{how} but {model_name} has shape {autodiff.shape}"
            )
        max_abs, max_rel = _differences(np.asarray(autodiff, dtype=np.float64), arranged)
        result[name] = {
            "model_name": model_name,
            "manual_shape": hand.shape,
            "model_shape": autodiff.shape,
            "max_abs_diff": max_abs,
            "max_rel_diff": max_rel,
        }
    return result


def format_comparison(result: dict) -> str:
    """compare_gradients' result as an aligned text table, one row per gradient."""
    header = ("gradient", "parameter", "manual shape", "model shape", "max abs diff", "max rel diff")
    rows = [
        (
            name,
            row["model_name"],
            str(row["manual_shape"]),
            str(row["model_shape"]),
            f"{row['max_abs_diff']:.3e}",
            f"{row['max_rel_diff']:.3e}",
        )
        for name, row in result.items()
    ]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    numeric = {4, 5}
    lines = [
        "  ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))
        ).rstrip()
        for line in [header, *rows]
    ]
    return "\n".join(lines)
