# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Pictures of the graph and of gradient flow
#
# `tinygrad_rnn.viz` draws the graph that `backward()` walks: one box per layer, one box per
# time step inside it, each parameter drawn once with an edge into every op that reads it.
# The pictures on this page are SVG: **point at any node** to read its tooltip (the op and its
# derivative rule, its scope, its shape, a summary of its values and, after a backward run under
# `retain_grads()`, the norm of the gradient it received).

# %%
import pathlib
import tempfile

import numpy as np

from tinygrad_rnn import nn, retain_grads
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.viz import draw_graph, gradient_flow, plot_gradient_flow, render

# %% [markdown]
# ## The unrolled graph of a loss
#
# An RNN over four steps, a linear read-out of the last hidden state and a mean squared error.
# `names=` takes a module, so parameters are drawn by their names in `named_parameters()`.

# %%
rng = np.random.default_rng(0)
rnn, head = nn.RNN(input_size=2, hidden_size=3, rng=0), nn.Linear(3, 1, rng=1)
rnn.retain_hidden = True  # keep h_t (and, after backward, its gradient) for each step
model = nn.Sequential(rnn, head)
output, h_n = rnn(rng.standard_normal((4, 1, 2)))  # (T, B, I)
loss = F.mse_loss(head(h_n[-1]), np.zeros((1, 1)))
draw_graph(loss, names=model)

# %% [markdown]
# The thick red edges carry $h_{t-1}$ into step $t$. `weight_ih_l0` and the summed biases enter
# once, in the layer's projection of the whole sequence, whose row $t$ each step takes (`GetItem`).
# `weight_hh_l0` has an edge into every step after the first: its gradient is the sum of one
# term per step, which is backpropagation through time.

# %% [markdown]
# ## Colour by gradient norm
#
# Run backward inside `retain_grads()`: every op then keeps the gradient it received, and
# `grad_norms=True` fills each node by $\Vert\partial L/\partial x\Vert$ on a log scale.

# %%
with retain_grads():
    loss.backward()
picture = draw_graph(loss, names=model, grad_norms=True)
norms = gradient_flow(rnn.hidden_states[0])
for t, hidden in enumerate(rnn.hidden_states[0]):  # the tooltips read the same numbers
    assert f"|grad| = {np.linalg.norm(hidden.grad):.4g}" in picture.source
picture

# %% [markdown]
# ## Long sequences: collapse
#
# At $T = 200$ the full picture has 200 boxes. `collapse=k` keeps the first and last $k$ steps of
# each layer, and one node stands for the ones between and takes over their edges; the picture
# has the same size for any $T$.

# %%
long_rnn = nn.RNN(1, 4, rng=0)
long_rnn.retain_hidden = True
_, h_long = long_rnn(np.sin(np.linspace(0, 20, 200)).reshape(200, 1, 1))
long_loss = h_long.sum()
with retain_grads():
    long_loss.backward()
draw_graph(long_loss, names=long_rnn, collapse=2, grad_norms=True)

# %% [markdown]
# ## Gradient flow through time
#
# `gradient_flow` reads $\Vert\partial L/\partial h_t\Vert$ for every step from the states kept with
# `retain_hidden = True`; `plot_gradient_flow` draws them on a log axis. A dict draws one curve
# per label.

# %%
long_norms = gradient_flow(long_rnn.hidden_states[0])
assert long_norms[0] < long_norms[-1]  # the signal from early steps is the weaker one
ax = plot_gradient_flow({"RNN, hidden 4, T = 200": long_norms})
ax.figure

# %% [markdown]
# ## Writing files
#
# `render(digraph, path)` writes SVG, PNG or PDF, chosen by the suffix, with a system Graphviz
# `dot` or, when there is none, the `graphviz-pure` program that the package depends on. From
# the command line, `tinygrad-rnn graph` draws a task's own model at a chosen length:
#
# ```bash
# tinygrad-rnn graph --task sine --steps 5 -o rnn.svg
# tinygrad-rnn graph --task weather --steps 50 --collapse 3 -o weather.svg
# ```

# %%
with tempfile.TemporaryDirectory() as folder:
    path = render(picture, pathlib.Path(folder) / "graph.svg")
    svg = path.read_text()
assert svg.count('class="node"') == svg.count('<g id="a_node')  # every node keeps its tooltip
print(f"{path.name}: {len(svg):,} characters of SVG")
