"""Tooltips: what a learner reads when pointing at a node, an edge or a box of the SVG picture.

A node's tooltip names what it is (an op with the rule from its docstring, a parameter, a
constant), its scope and shape, a summary of its values, and the norm of its gradient after a
backward run under `retain_grads()`. Graphviz writes them as `xlink:title`, which browsers show
on hover. A backslash is shown as the look-alike U+29F5: Graphviz reads `\\N`, `\\G` and the like
in a tooltip as escapes, and renderers do not agree on how to escape the backslash itself.
"""

from __future__ import annotations

import numpy as np

from .collapse import step_of
from .graph import Node

SMALL = 6  # arrays up to this size are listed in full


def _number(value: float) -> str:
    return f"{value:.4g}"


def shape_text(shape: tuple) -> str:
    return "scalar" if shape == () else "(" + ", ".join(str(n) for n in shape) + ")"


def value_summary(array: np.ndarray) -> str:
    """The values of a small array; min, mean, max and norm of a larger one; non-finite ones counted."""
    array = np.asarray(array)
    if array.size == 0:
        return "empty"
    if not np.issubdtype(array.dtype, np.number):
        return f"{array.dtype} values"
    flat = np.ravel(array).astype(np.float64)
    if array.size <= SMALL:
        return ", ".join(_number(v) for v in flat)
    finite = flat[np.isfinite(flat)]
    parts = []
    if finite.size:
        parts.append(
            f"min {_number(finite.min())}, mean {_number(finite.mean())}, max {_number(finite.max())}, "
            f"norm {_number(float(np.linalg.norm(finite)))}"
        )
    nan, inf = int(np.isnan(flat).sum()), int(np.isinf(flat).sum())
    if nan:
        parts.append(f"{nan} NaN")
    if inf:
        parts.append(f"{inf} inf")
    return "; ".join(parts)


def _rule(item) -> str:
    """The first paragraph of an op's docstring, on one line: its equation and derivative."""
    doc = (type(item).__doc__ or "").strip()
    return " ".join(doc.split("\n\n", 1)[0].split())


def _where(scope: str) -> str:
    where = step_of(scope)
    if where is None:
        return scope or "outside every scope"
    loop, step = where
    return f"{scope} (time step {step}{' of ' + loop if loop else ''})"


def _plain(text: str) -> str:
    return text.replace("\\", "\u29f5")


def node_tooltip(node: Node) -> str:
    """Several lines of plain text describing `node` (see the module docstring)."""
    if node.kind == "collapsed":
        return _plain(
            f"{node.title.strip('. ')} hidden: {node.detail}\nin {node.scope}\n"
            "their edges meet here; draw_graph(collapse=None) shows every step"
        )
    item = node.items[0]
    lines = []
    if node.kind == "op":
        lines.append(f"{node.title} (op): {_rule(item)}")
    elif node.kind == "parameter":
        lines.append(f"{node.title} (parameter: one tensor, with an edge into every op that reads it)")
    else:
        lines.append(f"{node.title} (constant: an input, no gradient)")
    lines.append(f"scope: {_where(node.scope)}")
    values = node.values()
    dtype = f", {values.dtype}" if values is not None else ""
    lines.append(f"shape: {shape_text(node.shape)}{dtype}")
    if values is not None:
        lines.append(f"values: {value_summary(values)}")
    else:
        lines.append("values: not kept (the graph keeps ops, not their outputs; hold the tensor to see them)")
    if node.kind != "constant":
        grad = node.gradient()
        if grad is not None:
            lines.append(f"|grad| = {_number(float(np.linalg.norm(grad)))}")
        elif node.kind == "op":
            lines.append("grad: not kept (run backward() under retain_grads() to see it)")
        else:
            lines.append("grad: none yet (run backward())")
    if len(node.items) > 1:
        lines.append(f"stands for {len(node.items)} graph items (gradients summed)")
    return _plain("\n".join(lines))


def edge_tooltip(source: Node, target: Node) -> str:
    """What flows along an edge, and between which steps."""
    text = f"{source.title} \u2192 {target.title}"
    before, after = step_of(source.scope), step_of(target.scope)
    if before and after and before[0] == after[0] and before[1] != after[1]:
        return _plain(f"{text}: the hidden state from t={before[1]} into t={after[1]}")
    if source.kind == "parameter":
        return _plain(f"{text}: the same {source.title} at every use, so its gradient is a sum over them")
    return _plain(text)


def box_tooltip(path: str) -> str:
    """A box: one time step of a layer, or a layer."""
    where = step_of(path)
    if where is not None and path.rsplit("/", 1)[-1].startswith("t="):
        loop, step = where
        return _plain(f"time step {step}{' of ' + loop if loop else ''}: the ops recorded in scope {path!r}")
    return _plain(f"scope {path!r}")
