"""Pictures of backpropagation through time: the unrolled graph and the gradient flowing back along it.

draw_graph(tensor, ...)         the graph as a graphviz Digraph, a box per layer and time step
render(digraph, "graph.svg")    SVG or PNG, with a system `dot` or, without one, graphviz-pure;
                                written whole or not at all (RenderError)
gradient_flow(hidden_states)    ||dL/dh_t|| for each time step
plot_gradient_flow(norms, ...)  those norms on a log axis: vanishing and exploding gradients
"""

from .draw import draw_graph
from .flow import gradient_flow, plot_gradient_flow
from .render import RenderError, dot_program, pure_dot_program, render, writable_formats

__all__ = [
    "draw_graph",
    "render",
    "RenderError",
    "writable_formats",
    "dot_program",
    "pure_dot_program",
    "gradient_flow",
    "plot_gradient_flow",
]
