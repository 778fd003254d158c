"""The recorded graph behind a tensor, read into nodes to draw: ops, parameters and constants.

Every tensor the output was computed from becomes one node, placed in the box of its scope
("layer0/t=3"). Parameters (leaves that require grad) sit outside every box. Cheap expressions
made of parameters alone (the per-layer `W.T`, `bias_ih + bias_hh`) can be folded into a
single parameter node ("weight_hh_l0.T"), so the weight's edges go straight into each step.
Constants (inputs such as x_t) are drawn in the box of the ops that use them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd import depth_first_order
from ..tensor import Tensor

BOOKKEEPING_OPS = ("Transpose", "Reshape", "Add")


@dataclass(eq=False)
class Node:
    """One box or oval of the picture and the tensors it stands for."""

    id: str
    kind: str                      # "op", "parameter", "constant" or "collapsed"
    title: str                     # op name, parameter name or expression, "const", "... n steps ..."
    scope: str                     # path of the box it is drawn in; "" outside every box
    tensors: list = field(default_factory=list)
    inputs: list = field(default_factory=list)   # Nodes feeding this one, in order, no repeats
    detail: str = ""

    @property
    def tensor(self) -> Tensor | None:
        return self.tensors[0] if self.tensors else None

    def gradient(self) -> np.ndarray | None:
        """The gradient this node received (summed over the tensors it stands for), or None."""
        grads = [t.grad for t in self.tensors if t.grad is not None]
        return sum(grads[1:], grads[0]) if grads else None


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


def reachable_tensors(output: Tensor) -> list:
    """Every tensor `output` was computed from (itself included), each after all of its inputs."""
    return depth_first_order(output, lambda t: () if t._ctx is None else reversed(t._ctx.parents))


def _is_parameter(tensor: Tensor) -> bool:
    return tensor._ctx is None and tensor.requires_grad


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
    tensors = reachable_tensors(output)
    by_name = parameter_names(names)
    consumers: dict[int, list] = {id(t): [] for t in tensors}
    for tensor in tensors:
        if tensor._ctx is not None:
            for parent in _unique(list(tensor._ctx.parents)):
                consumers[id(parent)].append(tensor)

    def name_of(tensor):
        return by_name.get(id(tensor)) or tensor.name or "leaf"

    folded: dict[int, tuple] = {}   # id(tensor) -> (signature, expression text)
    if hide_bookkeeping:
        for tensor in tensors:
            ctx = tensor._ctx
            if ctx is None or type(ctx).__name__ not in BOOKKEEPING_OPS:
                continue
            if not all(_is_parameter(p) or id(p) in folded for p in ctx.parents):
                continue
            parts = [folded[id(p)] if id(p) in folded else (id(p), name_of(p)) for p in ctx.parents]
            op_name = type(ctx).__name__
            signature = (op_name, getattr(ctx, "axes", None), tensor.shape, tuple(s for s, _ in parts))
            folded[id(tensor)] = (signature, _expression(op_name, [text for _, text in parts]))

    def absorbed(tensor):
        """True when the tensor only feeds folded expressions, so it is drawn inside them."""
        users = consumers[id(tensor)]
        return tensor is not output and bool(users) and all(id(u) in folded for u in users)

    nodes, node_of, merged = [], {}, {}
    for tensor in tensors:
        if (id(tensor) in folded or _is_parameter(tensor)) and absorbed(tensor):
            continue
        if id(tensor) in folded:
            signature, text = folded[id(tensor)]
            node = merged.get(signature)
            if node is None:
                node = merged[signature] = Node(f"n{len(nodes)}", "parameter", text, "")
                nodes.append(node)
            node.tensors.append(tensor)
        else:
            if _is_parameter(tensor):
                node = Node(f"n{len(nodes)}", "parameter", name_of(tensor), "", [tensor])
            elif tensor._ctx is None:
                node = Node(f"n{len(nodes)}", "constant", tensor.name or "const", tensor.scope, [tensor])
            else:
                node = Node(f"n{len(nodes)}", "op", type(tensor._ctx).__name__, tensor.scope, [tensor])
                node.inputs = _unique([node_of[id(p)] for p in tensor._ctx.parents])
            nodes.append(node)
        node_of[id(tensor)] = node

    for node in nodes:
        if node.kind == "constant" and consumers[id(node.tensor)]:
            node.scope = _common_scope([node_of[id(u)].scope for u in consumers[id(node.tensor)]])
    return TensorGraph(nodes, node_of[id(output)])
