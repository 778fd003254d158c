"""Time steps: reading "t=<i>" out of scope paths, and hiding the middle of a long unrolled graph."""

from __future__ import annotations

import re
from dataclasses import replace

from .graph import Node, TensorGraph

STEP_NAME = re.compile(r"t=(\d+)")


def step_of(scope: str) -> tuple[str, int] | None:
    """("layer0", 3) for a scope inside "layer0/t=3"; None outside every time step."""
    parts = scope.split("/") if scope else []
    for depth, part in enumerate(parts):
        match = STEP_NAME.fullmatch(part)
        if match:
            return "/".join(parts[:depth]), int(match.group(1))
    return None


def collapse_steps(graph: TensorGraph, keep: int) -> TensorGraph:
    """The graph with only the first and last `keep` steps of each unrolled loop; one
    "... n steps ..." node stands for the steps in between and takes over their edges.

    Ops and constants outside the steps that feed hidden steps only (the slices x[t] of an
    input that requires grad) are hidden with them, so the size does not grow with T.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"collapse: give the number of steps to keep at each end (at least 1), got {keep!r}")
    steps_by_loop: dict[str, set] = {}
    for node in graph.nodes:
        where = step_of(node.scope)
        if where:
            steps_by_loop.setdefault(where[0], set()).add(where[1])

    placeholders: dict[str, Node] = {}
    hidden_steps: dict[str, set] = {}
    for loop, steps in steps_by_loop.items():
        ordered = sorted(steps)
        middle = ordered[keep : len(ordered) - keep]
        if middle:
            hidden_steps[loop] = set(middle)
            noun = "step" if len(middle) == 1 else "steps"
            placeholders[loop] = Node(
                f"collapsed{len(placeholders)}",
                "collapsed",
                f"... {len(middle)} {noun} ...",
                loop,
                detail=f"t={middle[0]} ... t={middle[-1]}",
                first_step=middle[0],
            )

    stand_in: dict[int, Node] = {}
    for node in graph.nodes:
        where = step_of(node.scope)
        if where and where[1] in hidden_steps.get(where[0], ()):
            stand_in[id(node)] = placeholders[where[0]]

    users: dict[int, list] = {id(n): [] for n in graph.nodes}
    for source, target in graph.edges():
        users[id(source)].append(target)
    for node in reversed(graph.nodes):
        if node.kind not in ("op", "constant") or node is graph.output or step_of(node.scope):
            continue
        takers = {id(stand_in.get(id(u))): stand_in.get(id(u)) for u in users[id(node)]}
        if len(takers) == 1 and None not in takers.values():
            stand_in[id(node)] = next(iter(takers.values()))

    kept, copies, members = [], {}, {id(p): [] for p in placeholders.values()}
    for node in graph.nodes:
        placeholder = stand_in.get(id(node))
        if placeholder is None:
            copies[id(node)] = replace(node, inputs=[])
            kept.append(copies[id(node)])
        else:
            if not members[id(placeholder)]:
                kept.append(placeholder)
            members[id(placeholder)].append(node)

    def shown_inputs(sources: list, owner: Node) -> list:
        unique = {}
        for source in sources:
            target = stand_in.get(id(source)) or copies[id(source)]
            if target is not owner:
                unique.setdefault(id(target), target)
        return list(unique.values())

    for node in graph.nodes:
        if id(node) not in stand_in:
            copies[id(node)].inputs = shown_inputs(node.inputs, copies[id(node)])
    for placeholder in placeholders.values():
        sources = [source for member in members[id(placeholder)] for source in member.inputs]
        placeholder.inputs = shown_inputs(sources, placeholder)
    return TensorGraph(kept, copies[id(graph.output)])
