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
# # 01 · Autograd basics
#
# **What this notebook teaches.** How a `Tensor` records the operations applied to it, and how
# `backward()` walks that recorded graph to fill in `.grad`:
#
# 1. build a small expression and check `backward()` against the derivative worked out by hand;
# 2. draw the recorded graph;
# 3. check a gradient against finite differences with `gradcheck`;
# 4. see that gradients *accumulate*, and how to reset them (`x.grad = None`, `Module.zero_grad()`);
# 5. switch recording off with `no_grad`.
#
# Every claim is asserted in a cell, so running the notebook checks it.

# %%
import numpy as np

from tinygrad_rnn import Tensor, gradcheck, no_grad
from tinygrad_rnn.nn import Linear
from tinygrad_rnn.viz import draw_graph

# %% [markdown]
# ## 1. A small expression and its derivative by hand
#
# Take $f(x, y) = x\,y + \tanh(x)$ at $x = 2$, $y = 3$. By hand:
#
# $$\frac{\partial f}{\partial x} = y + 1 - \tanh^2(x), \qquad \frac{\partial f}{\partial y} = x.$$
#
# Leaves that should receive a gradient are created with `requires_grad=True`.

# %%
x = Tensor(2.0, requires_grad=True, name="x")
y = Tensor(3.0, requires_grad=True, name="y")

f = x * y + x.tanh()
print("f =", f.item())
print("f is a leaf?", f.is_leaf, "| recorded op:", type(f.op).__name__)

# %%
f.backward()

by_hand_x = 3.0 + 1.0 - np.tanh(2.0) ** 2
by_hand_y = 2.0
print(f"df/dx: autograd {x.grad:.15f}   by hand {by_hand_x:.15f}")
print(f"df/dy: autograd {y.grad:.15f}   by hand {by_hand_y:.15f}")

assert np.isclose(f.item(), 2.0 * 3.0 + np.tanh(2.0), rtol=0, atol=1e-15)
assert abs(x.grad - by_hand_x) < 1e-12
assert abs(y.grad - by_hand_y) < 1e-12

# %% [markdown]
# ## 2. The recorded graph
#
# Every op on a tensor that requires a gradient records itself and the ops (or leaves) its
# inputs came from. `draw_graph` returns a `graphviz.Digraph` of everything that produced `f`;
# a notebook displays it inline. The graph keeps the ops, not the arrays between them: like
# PyTorch, an intermediate result is freed once nothing needs it. `show_values=True` prints the
# values of the tensors still alive, so here the two intermediate results are kept in variables.

# %%
product, squashed = x * y, x.tanh()
f = product + squashed
graph = draw_graph(f, show_values=True)
# two named leaves and three ops (Mul, Tanh, Add): five nodes, five edges
for label in ["<b>x</b>", "<b>y</b>", "<b>Mul</b>", "<b>Tanh</b>", "<b>Add</b>"]:
    assert label in graph.source, label
assert graph.source.count("->") == 5
assert f"{np.tanh(2.0):.3g}" in graph.source and ">6<" in graph.source  # x * y = 6
graph

# %% [markdown]
# ## 3. gradcheck: backward against finite differences
#
# `gradcheck(fn, inputs)` compares `backward()` with central differences
# $(f(x+\varepsilon) - f(x-\varepsilon)) / 2\varepsilon$ for every element of every input that
# requires a gradient, and raises `GradcheckError` if they disagree. A non-scalar output is
# reduced to a scalar with fixed random weights first. Here, a matrix expression:

# %%
rng = np.random.default_rng(0)
A = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
B = Tensor(rng.standard_normal((4, 2)), requires_grad=True)

report = gradcheck(lambda a, b: (a @ b).tanh() * a.sum(), [A, B])
print(report)
assert report.ok

# %% [markdown]
# ## 4. Gradients accumulate
#
# `backward()` **adds** into `.grad`; it never overwrites. Running it twice on the same
# expression doubles the gradient. That is what lets the gradients from every time step of an
# unrolled RNN sum up in one parameter, but it also means a training loop must reset the
# gradients before each step.

# %%
w = Tensor([1.0, -2.0, 0.5], requires_grad=True)

(w * w).sum().backward()  # d/dw sum(w^2) = 2w
first = w.grad.copy()
(w * w).sum().backward()  # a second, separate backward: added on top
print("after one backward :", first)
print("after two backwards:", w.grad)

assert np.array_equal(first, 2 * w.numpy())
assert np.array_equal(w.grad, 4 * w.numpy())

# %% [markdown]
# Reset a single tensor with `w.grad = None`: the next backward starts from nothing again.

# %%
w.grad = None
(w * w).sum().backward()
assert np.array_equal(w.grad, 2 * w.numpy())

# %% [markdown]
# For a layer or a model, `Module.zero_grad()` sets every parameter's `.grad` to `None`.

# %%
layer = Linear(3, 2, rng=0)
inputs = Tensor(rng.standard_normal((5, 3)))

layer(inputs).sum().backward()
assert all(p.grad is not None for p in layer.parameters())

layer.zero_grad()
assert all(p.grad is None for p in layer.parameters())
print("after zero_grad:", {name: p.grad for name, p in layer.named_parameters()})

# %% [markdown]
# ## 5. no_grad: compute without recording
#
# Inside `with no_grad():` ops record no graph and their results do not require a gradient.
# Use it for evaluation and for parameter updates, which must not become part of the graph.

# %%
with no_grad():
    z = x * y + x.tanh()
print("inside no_grad: requires_grad =", z.requires_grad, "| op =", z.op)
assert not z.requires_grad and z.is_leaf
assert z.item() == f.item()  # same value, no graph

try:
    z.backward()
except RuntimeError as error:
    print("backward() refused:", error)
else:
    raise AssertionError("backward() on a no_grad result should fail")

# %% [markdown]
# A plain SGD step on `layer`, done under `no_grad` so the update is not recorded:

# %%
layer(inputs).sum().backward()
before = layer.weight.numpy().copy()
with no_grad():
    for p in layer.parameters():
        p.data -= 0.1 * p.grad
layer.zero_grad()

assert np.allclose(layer.weight.numpy(), before - 0.1 * inputs.numpy().sum(axis=0))  # d/dW sum(x W^T + b) = sum_n x_n
assert layer.weight.is_leaf and layer.weight.grad is None
print("SGD step done; weight is still a leaf with no gradient.")
