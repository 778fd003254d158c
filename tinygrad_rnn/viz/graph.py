"""The recorded graph behind a tensor, read into nodes to draw: ops, parameters and constants.

Every recorded op the output was computed from becomes one node, placed in the box of its
scope ("layer0/t=3"); so does every leaf it read. Parameters (leaves that require grad) sit
outside every box. Cheap expressions made of parameters alone (the per-layer
`bias_ih + bias_hh`, a `W.T`) can be folded into a single parameter node
("bias_ih_l0 + bias_hh_l0"), so its edges go straight into the ops that use it. Constants
(inputs such as x) are drawn in the box of the ops that use them. An op's values can be shown
while its output tensor is still alive (the graph itself keeps only the op), its gradient
after a retain_grads() backward.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd import graph_nodes, node_inputs
from ..ops import Function
from ..tensors import Tensor

BOOKKEEPING_OPS = ("Transpose", "Reshape", "Add")


@dataclass(eq=False)
class Node:
    """One box or oval of the picture and the graph items (ops or leaf tensors) it stands for."""

    id: str
    kind: str  # "op", "parameter", "constant" or "collapsed"
    title: str  # op name, parameter name or expression, "const", "... n steps ..."
    scope: str  # path of the box it is drawn in; "" outside every box
    items: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # Nodes feeding this one, in order, no repeats
    detail: str = ""
    first_step: int | None = None  # a collapsed run: the first step it hides

    @property
    def shape(self) -> tuple:
        return self.items[0].shape

    def values(self) -> np.ndarray | None:
        """The values of the (first) tensor drawn here, or None when an op's output is gone."""
        return _values_of(self.items[0])

    def gradient(self) -> np.ndarray | None:
        """The gradient this node received (summed over the items it stands for), or None."""
        grads = [g for g in (_gradient_of(item) for item in self.items) if g is not None]
        return sum(grads[1:], grads[0]) if grads else None


def _values_of(item) -> np.ndarray | None:
    if isinstance(item, Function):
        output = item.output()
        return None if output is None else output.data
    return item.data


def _gradient_of(item) -> np.ndarray | None:
    if isinstance(item, Function):
        output = item.output()
        return item.grad if item.grad is not None or output is None else output.grad
    return item.grad


@dataclass
class TensorGraph:
    """The nodes (each after all of its inputs) and the one for the output."""

    nodes: list
    output: Node

    def edges(self):
        """(source, target) pairs in data-flow direction."""
        return [(source, node) for node in self.nodes for source in node.inputs]


def parameter_names(names) -> dict:
    """id(tensor) -> name from a Module (its named_parameters) or a dict name -> tensor."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        names = dict(names.named_parameters())
    if not isinstance(names, dict):
        raise TypeError(f"names: give a Module or a dict name -> tensor, got {type(names).__name__}")
    return {id(tensor): name for name, tensor in names.items()}


def _is_parameter(item) -> bool:
    return not isinstance(item, Function) and item.requires_grad


def _expression(op_name: str, operands: list) -> str:
    """How a folded parameter expression reads: "W.T", "b_ih + b_hh", "reshape(W)"."""
    if op_name == "Transpose":
        inner = operands[0]
        return f"({inner}).T" if " " in inner else f"{inner}.T"
    if op_name == "Add":
        return " + ".join(operands)
    return f"{op_name.lower()}({', '.join(operands)})"


def _common_scope(scopes: list) -> str:
    """The deepest scope path that contains all of `scopes`."""
    split = [s.split("/") if s else [] for s in scopes]
    common = []
    for parts in zip(*split):
        if any(p != parts[0] for p in parts):
            break
        common.append(parts[0])
    return "/".join(common)


def _unique(items: list) -> list:
    return list({id(i): i for i in items}.values())


def build_graph(output: Tensor, *, hide_bookkeeping: bool = True, names=None) -> TensorGraph:
    """Read the graph that produced `output` into Nodes (see the module docstring)."""
    if not isinstance(output, Tensor):
        raise TypeError(f"draw_graph: expects a Tensor, got {type(output).__name__}")
    items = graph_nodes(output)
    root = items[-1]
    by_name = parameter_names(names)
    consumers: dict[int, list] = {id(item): [] for item in items}
    for item in items:
        for parent in _unique(list(node_inputs(item))):
            consumers[id(parent)].append(item)

    def name_of(leaf):
        return by_name.get(id(leaf)) or leaf.name or "leaf"

    folded: dict[int, tuple] = {}  # id(op) -> (signature, expression text)
    if hide_bookkeeping:
        for item in items:
            if not isinstance(item, Function) or type(item).__name__ not in BOOKKEEPING_OPS:
                continue
            if not all(_is_parameter(p) or id(p) in folded for p in item.parents):
                continue
            parts = [folded[id(p)] if id(p) in folded else (id(p), name_of(p)) for p in item.parents]
            op_name = type(item).__name__
            signature = (op_name, getattr(item, "axes", None), item.shape, tuple(s for s, _ in parts))
            folded[id(item)] = (signature, _expression(op_name, [text for _, text in parts]))

    def absorbed(item):
        """True when the item only feeds folded expressions, so it is drawn inside them."""
        users = consumers[id(item)]
        return item is not root and bool(users) and all(id(u) in folded for u in users)

    nodes, node_of, merged = [], {}, {}
    for item in items:
        if (id(item) in folded or _is_parameter(item)) and absorbed(item):
            continue
        if id(item) in folded:
            signature, text = folded[id(item)]
            node = merged.get(signature)
            if node is None:
                node = merged[signature] = Node(f"n{len(nodes)}", "parameter", text, "")
                nodes.append(node)
            node.items.append(item)
        else:
            if _is_parameter(item):
                node = Node(f"n{len(nodes)}", "parameter", name_of(item), "", [item])
            elif not isinstance(item, Function):
                node = Node(f"n{len(nodes)}", "constant", item.name or "const", item.scope, [item])
            else:
                node = Node(f"n{len(nodes)}", "op", type(item).__name__, item.scope, [item])
                node.inputs = _unique([node_of[id(p)] for p in item.parents])
            nodes.append(node)
        node_of[id(item)] = node

    for node in nodes:
        if node.kind == "constant" and consumers[id(node.items[0])]:
            node.scope = _common_scope([node_of[id(u)].scope for u in consumers[id(node.items[0])]])
    return TensorGraph(nodes, node_of[id(root)])
