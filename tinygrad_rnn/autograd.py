"""Graph-wide state and the backward walk.

Reverse mode: visit the recorded graph from the output back to the leaves, latest op first
(a heap keyed by recording order, never Python recursion), passing each node's gradient
through its op's vector-Jacobian product and adding (never assigning) what arrives at
each input.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
from typing import TYPE_CHECKING, Literal

import numpy as np

from . import ops
from .grads import LAZY, IndexedGrad, ZeroGrad, add, dense

if TYPE_CHECKING:
    from .tensors import Tensor


class _State:
    """Switches read by every op: grad recording, the current scope, anomaly checks."""

    __slots__ = ("grad_enabled", "scope_path", "anomaly", "retain_all_grads")

    def __init__(self):
        self.grad_enabled = True
        self.scope_path = ""
        self.anomaly = False
        self.retain_all_grads = False


STATE = _State()


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets whether ops record the graph, then restores it."""

    enabled = True

    def __init__(self):
        self._previous = []  # a stack: one instance may be entered again (a recursive decorated function)

    def __enter__(self):
        self._previous.append(STATE.grad_enabled)
        STATE.grad_enabled = self.enabled
        return self

    def __exit__(self, *exc):
        STATE.grad_enabled = self._previous.pop()
        return False


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph and make no-grad tensors."""

    enabled = False


class enable_grad(_GradMode):
    """Context manager and decorator: record the graph again inside a `no_grad` block."""

    enabled = True


def is_grad_enabled() -> bool:
    """True when ops record the graph."""
    return STATE.grad_enabled


class scope:
    """Tag every tensor made inside with `name`; nested scopes join with "/" ("layer0/t=3")."""

    __slots__ = ("name", "_outer_path")

    def __init__(self, name: str):
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"scope: name must be a non-empty string without '/', got {name!r}")
        self.name = name

    def __enter__(self) -> str:
        self._outer_path = STATE.scope_path
        STATE.scope_path = f"{self._outer_path}/{self.name}" if self._outer_path else self.name
        return STATE.scope_path

    def __exit__(self, *exc) -> Literal[False]:
        STATE.scope_path = self._outer_path
        return False


def current_scope() -> str:
    """The scope path new tensors are tagged with ("" outside every scope)."""
    return STATE.scope_path


@contextlib.contextmanager
def detect_anomaly():
    """Inside, the first op whose forward or backward makes a NaN or inf raises FloatingPointError."""
    previous = STATE.anomaly
    STATE.anomaly = True
    try:
        yield
    finally:
        STATE.anomaly = previous


@contextlib.contextmanager
def retain_grads():
    """Inside, backward leaves its gradient on every op it visits (`op.grad`) and on every output
    tensor of theirs still alive (`.grad`), for pictures and teaching."""
    previous = STATE.retain_all_grads
    STATE.retain_all_grads = True
    try:
        yield
    finally:
        STATE.retain_all_grads = previous


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cycle collector inside (a context manager or a decorator).

    A recorded graph holds no reference cycles (tensors point to the ops that made them, ops
    to their inputs), so the collector finds nothing in it; without the pause it would scan
    the growing graph again and again while a long sequence is unrolled or walked back.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_finite(array: np.ndarray, what: str, op, inputs_shapes, scope_path: str) -> None:
    """Raise FloatingPointError naming `op` when `array` holds a NaN or an inf."""
    if not np.all(np.isfinite(array)):
        shapes = ", ".join(str(s) for s in inputs_shapes)
        raise FloatingPointError(
            f"{what} of {type(op).__name__} produced {_non_finite_kind(array)}{_scope_suffix(scope_path)}; "
            f"input shapes: {shapes}"
        )


def check_forward(out: np.ndarray, op, inputs: tuple, scope_path: str) -> None:
    """check_finite for an op's output; when one of its inputs already held the NaN or inf,
    the error says so, with that input's first bad element, instead of blaming the op."""
    if np.all(np.isfinite(out)):
        return
    for i, x in enumerate(inputs):
        values = x.data
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            element = tuple(int(k) for k in np.argwhere(~np.isfinite(values))[0])
            raise FloatingPointError(
                f"forward of {type(op).__name__}{_scope_suffix(scope_path)}: its input {i} (shape {x.shape}) "
                f"already holds {_non_finite_kind(values)}, first at element {element}"
            )
    check_finite(out, "forward", op, [x.shape for x in inputs], scope_path)


def _non_finite_kind(array: np.ndarray) -> str:
    return "NaN" if np.isnan(array).any() else "inf"


def depth_first_order(root, inputs_of) -> list:
    """Every node reachable from `root` through `inputs_of(node)`, each after all of its inputs.

    Depth-first with an explicit stack: a node is expanded once, and appended only after
    everything pushed above it (its inputs) has been appended.
    """
    order = []
    expanded: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in expanded:
            continue
        expanded.add(id(node))
        stack.append((node, True))
        stack.extend((parent, False) for parent in inputs_of(node) if id(parent) not in expanded)
    return order


def node_inputs(node) -> tuple:
    """The graph nodes a node was computed from: an op's parents; none for a leaf tensor."""
    return node.parents if isinstance(node, ops.Function) else ()


def graph_nodes(root: "Tensor") -> list:
    """Every node `root` was computed from, each after its inputs: the recorded ops (Functions)
    and the leaf tensors they read. A recorded `root` is its op, the last node; a leaf is alone."""
    start = root if root._ctx is None else root._ctx
    return depth_first_order(start, lambda node: reversed(node_inputs(node)))


def _scope_suffix(scope_path: str) -> str:
    return f" in scope '{scope_path}'" if scope_path else ""


def run_backward(root: "Tensor", seed: np.ndarray, retain_graph: bool) -> None:
    """Propagate `seed` = dL/droot through the recorded ops back to the leaves.

    Ops are numbered as they are recorded, so an op's number is larger than those of the ops
    that made its inputs. Visiting pending ops largest number first (a heap) therefore reaches
    each op after every op that uses its output: its gradient is complete when it is popped.
    Every contribution is added (grads.add) to what the node has received so far. Leaves receive
    their sums only once the whole walk has succeeded.
    """
    if root._ctx is None:
        root._accumulate_grad(run_hooks(root._hooks, seed, root.shape) if root._hooks else seed)
        return
    # Keyed by the nodes themselves: ops and tensors hash by identity.
    grads: dict = {root._ctx: seed}
    owned: dict = {}  # node -> True once its gradient is an array this walk made (safe to add into)
    leaves: list[Tensor] = []
    pending = [(-root._ctx.number, root._ctx)]
    anomaly = STATE.anomaly
    keep_all = STATE.retain_all_grads
    with collector_paused():
        while pending:
            op = heapq.heappop(pending)[1]
            grad = grads.pop(op)
            if op.released and getattr(op, "lost_saved", False):  # its saved values are gone
                shapes = ", ".join(str(p.shape) for p in op.parents)
                raise RuntimeError(
                    f"backward through a graph that was already released (at {type(op).__name__}"
                    f"{_scope_suffix(op.scope)}, input shapes: {shapes}); pass retain_graph=True "
                    "to the first backward to run it twice"
                )
            if op.versions is not None:
                _check_versions(op)
            if type(grad) in LAZY and not (op.takes_indexed_grad and type(grad) is IndexedGrad):
                grad = grad.dense()
            if op.hooks:
                grad = run_hooks(op.hooks, grad, op.shape)
            if keep_all or op.retains_grad:
                _keep_output_gradient(op, grad, keep_all)
            parent_grads = op.backward(grad)
            if anomaly:
                _check_gradients(op, parent_grads)
            for parent, g in zip(op.parents, parent_grads):
                if g is None:
                    continue
                if parent in grads:
                    grads[parent], owned[parent] = add(grads[parent], g, owned.get(parent, False))
                    continue
                grads[parent] = g
                if isinstance(parent, ops.Function):
                    heapq.heappush(pending, (-parent.number, parent))
                elif parent.requires_grad:
                    leaves.append(parent)
            if not retain_graph:
                op.release()
    for leaf in leaves:
        grad = dense(grads[leaf])
        leaf._accumulate_grad(run_hooks(leaf._hooks, grad, leaf.shape) if leaf._hooks else grad)


def run_hooks(hooks: list, grad: np.ndarray, shape: tuple) -> np.ndarray:
    """The gradient after every hook registered on a tensor (Tensor.register_hook) has seen it,
    in order; a hook returning a Tensor or an array replaces it for the hooks after and beyond."""
    from .tensors import Tensor  # tensors.py imports this module

    for hook in list(hooks):
        result = hook(Tensor._from_op(grad, None))
        if result is None:
            continue
        array = np.asarray(result.data if isinstance(result, Tensor) else result)
        if array.shape != shape:
            raise ValueError(
                f"register_hook: the hook returned a gradient of shape {array.shape} for a tensor of shape {shape}"
            )
        grad = array.astype(grad.dtype, copy=False)
    return grad


class RemovableHandle:
    """What register_hook returns: remove() takes the hook away again."""

    __slots__ = ("hooks", "hook")

    def __init__(self, hooks: list, hook):
        self.hooks, self.hook = hooks, hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def _check_versions(op) -> None:
    """A RuntimeError when a leaf whose values `op` saved has changed since (its `_version` moved)."""
    for i, version in op.versions:
        leaf = op.parents[i]
        if leaf._version != version:
            what = f"tensor '{leaf.name}'" if leaf.name else "the tensor"
            raise RuntimeError(
                f"backward: {what} of shape {leaf.shape} (input {i} of {type(op).__name__}"
                f"{_scope_suffix(op.scope)}) was changed after the op saved it for backward (version "
                f"{version}, now {leaf._version}): its gradient would come from values it no longer "
                "has. Run the forward pass again after changing it (after optimizer.step(), say)"
            )


def _keep_output_gradient(op, grad, keep_all: bool) -> None:
    """Give the op's output tensor its gradient when it asked (retain_grad) or everything
    should (retain_grads); under retain_grads the op keeps it too, for the pictures."""
    grad = dense(grad)
    if keep_all:
        op.grad = np.array(grad) if op.grad is None else op.grad + grad
    output = op.output()
    if output is not None:
        output._accumulate_grad(grad)


def _check_gradients(op, parent_grads) -> None:
    for g in parent_grads:
        if g is not None and type(g) is not ZeroGrad:
            values = g.values if type(g) is IndexedGrad else g
            check_finite(values, "backward", op, [p.shape for p in op.parents], op.scope)
