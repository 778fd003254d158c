"""draw_graph: the unrolled graph as a graphviz Digraph, one box per layer and per time step."""

from __future__ import annotations

import html

import graphviz
import numpy as np

from .collapse import STEP_NAME, collapse_steps, step_of
from .colors import GradientScale
from .graph import Node, TensorGraph, build_graph
from .tooltips import box_tooltip, edge_tooltip, node_tooltip, shape_text

FONT = "Helvetica"
RANK_DIRECTIONS = ("LR", "TB", "RL", "BT")
VALUE_LIMIT = 6
RECURRENT_EDGE = {"color": "#c0392b", "penwidth": "2.4", "weight": "4"}
LAYER_EDGE = {"color": "#2c5aa0", "penwidth": "1.6"}
PARAMETER_EDGE = {"color": "#b08d2aa0", "penwidth": "0.9", "arrowsize": "0.6"}
CONSTANT_EDGE = {"color": "#9a9a9a", "penwidth": "0.7", "arrowsize": "0.5"}
PLAIN_EDGE = {"color": "#444444", "penwidth": "1.0", "arrowsize": "0.8"}
NODE_STYLE = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#555555"},
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "#fff1c1", "color": "#b08d2a", "penwidth": "1.6"},
    "constant": {
        "shape": "box",
        "style": "rounded,dashed",
        "color": "#9a9a9a",
        "fontcolor": "#555555",
        "fontsize": "9",
        "margin": "0.04,0.02",
        "height": "0.2",
        "width": "0.3",
    },
    "collapsed": {
        "shape": "box",
        "style": "rounded,dashed,filled",
        "fillcolor": "#eeeeee",
        "color": "#777777",
        "fontsize": "13",
    },
}
LAYER_BOX = {"style": "rounded,dashed", "color": "#8c8c8c", "fontsize": "13", "labeljust": "l"}
STEP_BOX = {"style": "rounded,filled", "fillcolor": "#eef3fa", "color": "#7a9cc6", "fontsize": "12"}


def _number(value: float) -> str:
    return f"{value:.3g}"


def _values_text(array: np.ndarray) -> str:
    """The values of a small array, the norm of a large one."""
    if array.size <= VALUE_LIMIT:
        flat = ", ".join(_number(v) for v in np.ravel(array))
        return flat if array.size == 1 else f"[{flat}]"
    return f"|x| = {_number(float(np.linalg.norm(array)))}"


def _gradient_norm(node: Node) -> float | None:
    grad = node.gradient()
    return None if grad is None else float(np.linalg.norm(grad))


def _label(node: Node, show_values: bool, grad_norms: bool) -> str:
    """An HTML-like label: title in bold, then shape, values and gradient norm in small type.
    Plain ASCII, so no renderer has to guess a glyph's width."""
    title = html.escape(node.title)
    lines = [f"<b>{title}</b>"]
    small = []
    if node.kind == "collapsed":
        small.append(node.detail)
    elif node.kind == "constant":
        lines = [title]
        values = node.values()
        shown = values.size == 1 or (show_values and values.size <= VALUE_LIMIT)
        small.append(_values_text(values) if shown else shape_text(values.shape))
    else:
        small.append(shape_text(node.shape))
        values = node.values() if show_values else None
        if values is not None:
            small.append(_values_text(values))
    if grad_norms and node.kind in ("op", "parameter"):
        norm = _gradient_norm(node)
        small.append("no grad" if norm is None else f"|grad| = {_number(norm)}")
    size = 8 if node.kind == "constant" else 9
    lines.extend(f'<font point-size="{size}">{html.escape(text)}</font>' for text in small)
    return "<" + "<br/>".join(lines) + ">"


def _node_attributes(node: Node, show_values: bool, scale: GradientScale | None) -> dict:
    attributes = dict(
        NODE_STYLE[node.kind], label=_label(node, show_values, scale is not None), tooltip=node_tooltip(node)
    )
    if scale is not None and node.kind in ("op", "parameter"):
        norm = _gradient_norm(node)
        if norm is None:
            attributes.update(fillcolor="#ffffff", style=attributes["style"].replace("filled", "filled,dashed"))
        else:
            attributes["fillcolor"] = scale.color(norm)
    return attributes


def _step_key(node: Node):
    """(loop scope, step) for nodes inside a time step; for a collapsed run, its first hidden step."""
    if node.kind == "collapsed":
        return node.scope, node.first_step
    return step_of(node.scope)


def _edge_attributes(source: Node, target: Node) -> dict:
    if source.kind == "parameter":
        return PARAMETER_EDGE
    if source.kind == "constant":
        return dict(CONSTANT_EDGE, constraint="false") if step_of(source.scope) else CONSTANT_EDGE
    source_step, target_step = _step_key(source), _step_key(target)
    if source_step and target_step:
        if source_step[0] == target_step[0] and source_step[1] != target_step[1]:
            return RECURRENT_EDGE
        if source_step[0] != target_step[0]:
            return LAYER_EDGE
    return PLAIN_EDGE


def _time_order(graph: TensorGraph) -> tuple[set, list]:
    """What keeps the steps of every loop left to right in time order, for any number of steps.

    A node outside the steps that feeds all of them (a layer's projection of the whole sequence)
    or gathers all of them (the stacked outputs) would pull every step to the same rank; only its
    edge to the first step it feeds, or from the last step it gathers, is left to place it. The
    rest are `loose` (drawn, but not used for ranking). `holds` are invisible edges from the last
    node of each step to the nodes of the next step that start it, so that step t+1's box begins
    where step t's ends.
    """
    key = {id(node): _step_key(node) for node in graph.nodes}
    loose: set = set()
    by_step: dict = {}
    for node in graph.nodes:
        if key[id(node)]:
            by_step.setdefault(key[id(node)], []).append(node)
    users: dict = {id(node): [] for node in graph.nodes}
    for source, target in graph.edges():
        users[id(source)].append(target)

    def keep_one(edges: list, pick) -> None:
        by_loop: dict = {}
        for edge, step in edges:
            by_loop.setdefault(step[0], []).append((edge, step[1]))
        for pairs in by_loop.values():
            chosen = pick(step for _, step in pairs)
            loose.update(edge for edge, step in pairs if step != chosen)

    for node in graph.nodes:
        if key[id(node)]:
            continue
        keep_one([((id(node), id(u)), key[id(u)]) for u in users[id(node)] if key[id(u)]], min)
        keep_one([((id(s), id(node)), key[id(s)]) for s in node.inputs if key[id(s)]], max)

    holds = []
    loops: dict = {}
    for loop, step in by_step:
        loops.setdefault(loop, []).append(step)
    for loop, steps in loops.items():
        steps.sort()
        for before, after in zip(steps, steps[1:]):
            earlier, later = by_step[(loop, before)], by_step[(loop, after)]
            inside_later = {id(n) for n in later}
            if any(id(u) in {id(n) for n in earlier} for n in later for u in users[id(n)]):
                continue  # data flows backwards in time here: leave the order to the edges
            last = earlier[-1]
            followers = {id(u) for u in users[id(last)]}
            for node in later:
                starts = not any(id(source) in inside_later for source in node.inputs)
                if starts and id(node) not in followers:
                    holds.append((last, node))
    return loose, holds


def _box_order(path: str):
    """Sort key putting t=2 before t=10 and other boxes by name."""
    name = path.rsplit("/", 1)[-1]
    match = STEP_NAME.fullmatch(name)
    return (0, int(match.group(1)), "") if match else (1, 0, name)


def _draw_boxes(digraph: graphviz.Digraph, nodes: list, show_values: bool, scale) -> None:
    """Nodes inside nested clusters, one per scope path; scope-less nodes at the top level."""
    by_scope: dict[str, list] = {}
    for node in nodes:
        by_scope.setdefault(node.scope, []).append(node)
    children: dict[str, set] = {}
    for path in by_scope:
        parts = path.split("/") if path else []
        for depth in range(len(parts)):
            children.setdefault("/".join(parts[:depth]), set()).add("/".join(parts[: depth + 1]))

    def fill(box: graphviz.Digraph, path: str) -> None:
        for node in by_scope.get(path, []):
            box.node(node.id, **_node_attributes(node, show_values, scale))
        for child in sorted(children.get(path, ()), key=_box_order):
            name = child.rsplit("/", 1)[-1]
            child_box = graphviz.Digraph(name=f"cluster_{child}")
            child_box.attr(
                label=name, tooltip=box_tooltip(child), **(STEP_BOX if STEP_NAME.fullmatch(name) else LAYER_BOX)
            )
            fill(child_box, child)
            box.subgraph(child_box)

    fill(digraph, "")


def _legend(digraph: graphviz.Digraph, scale: GradientScale) -> None:
    cells = "".join(f'<td bgcolor="{scale.color(v)}">{_number(v)}</td>' for v in scale.ticks())
    cells += f'<td bgcolor="{scale.color(0.0)}">0</td><td>none</td>'
    count = len(scale.ticks()) + 2
    table = (
        f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4">'
        f'<tr><td colspan="{count}"><b>gradient norm |dL/dx| (log scale)</b></td></tr><tr>{cells}</tr></table>>'
    )
    digraph.node(
        "legend",
        label=table,
        shape="plaintext",
        fontsize="10",
        tooltip="fill colour of each op and parameter: the norm of the gradient it received, "
        "pale where it vanished, deep red where it exploded; dashed white: none kept",
    )


def draw_graph(
    tensor,
    *,
    show_values: bool = False,
    grad_norms: bool = False,
    collapse: int | None = None,
    hide_bookkeeping: bool = True,
    names=None,
    rankdir: str = "LR",
) -> graphviz.Digraph:
    """Everything that produced `tensor`, as a Digraph: ops in one box per scope (a box per time
    step inside a box per layer), parameters once outside every box with an edge into each op
    that uses them (W_hh into every step, W_ih into the layer's projection of all its steps).

    show_values: print small values (the norm of larger tensors) in the nodes whose tensors are
        still alive (leaves, the output, results kept in variables).
    grad_norms: after a backward run under `retain_grads()`, label and colour nodes by |grad|.
    collapse: keep the first and last `collapse` steps of each layer; one node stands for the rest.
    hide_bookkeeping: fold parameter-only steps (`W.T`, `b_ih + b_hh`) into the parameter node.
    names: a Module or a dict name -> tensor to name parameters by (default: Parameter.name).
    rankdir: "LR" draws time left to right, "TB" top to bottom.
    """
    if rankdir not in RANK_DIRECTIONS:
        raise ValueError(f"draw_graph: rankdir must be one of {', '.join(RANK_DIRECTIONS)}, got {rankdir!r}")
    graph = build_graph(tensor, hide_bookkeeping=hide_bookkeeping, names=names)
    if collapse is not None:
        graph = collapse_steps(graph, collapse)
    scale = None
    if grad_norms:
        if all(n.gradient() is None for n in graph.nodes if n.kind == "op"):
            raise ValueError(
                "draw_graph(grad_norms=True): no op output kept its gradient; "
                "run the backward pass inside `with retain_grads():` first"
            )
        norms = [_gradient_norm(n) for n in graph.nodes if n.kind in ("op", "parameter")]
        scale = GradientScale([norm for norm in norms if norm is not None])

    digraph = graphviz.Digraph(name="unrolled_graph")
    digraph.attr(rankdir=rankdir, fontname=FONT, nodesep="0.2", ranksep="0.3")
    digraph.attr("node", fontname=FONT, fontsize="11", margin="0.08,0.04", height="0.3")
    digraph.attr("edge", fontname=FONT)
    _draw_boxes(digraph, graph.nodes, show_values, scale)
    loose, holds = _time_order(graph)
    for source, target in graph.edges():
        attributes = dict(_edge_attributes(source, target), tooltip=edge_tooltip(source, target))
        if (id(source), id(target)) in loose:
            attributes["constraint"] = "false"
        digraph.edge(source.id, target.id, **attributes)
    for source, target in holds:
        digraph.edge(source.id, target.id, style="invis")
    if scale is not None:
        _legend(digraph, scale)
    return digraph
