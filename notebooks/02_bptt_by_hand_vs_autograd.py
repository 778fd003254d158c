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
# # 02 · Backpropagation through time: by hand vs autograd
#
# **What this notebook teaches.** Source document 001, the "RNN from scratch" walk-through on the
# weather data of Vik Paruchuri's zero_to_gpt course, unrolls a tiny Elman RNN over three days of
# maximum temperature and derives its BPTT by hand.
# Here we
#
# 1. redo its forward walk-through step by step (ReLU first, then tanh) with `Tensor` ops and
#    reproduce its exact seed-0 numbers;
# 2. let `backward()` do BPTT on the unrolled graph;
# 3. put the hand-derived gradients beside autograd's, one row per parameter;
# 4. find the document's two mistakes through that comparison: the hidden-weight gradient at
#    step 1 uses `hiddens[1]` where `hiddens[0]` belongs, and the hidden-bias gradient takes
#    `np.mean` over the units instead of one sum per unit.
#
# The hand formulas live in `tinygrad_rnn.reference.weather`, both corrected (`walkthrough_bptt`)
# and as published (`walkthrough_bptt_as_published`).

# %%
import numpy as np

from tinygrad_rnn import Tensor, concatenate, scope, stack
from tinygrad_rnn.compare import compare_gradients, format_comparison
from tinygrad_rnn.reference.weather import (
    walkthrough_bptt,
    walkthrough_bptt_as_published,
    walkthrough_forward,
    walkthrough_params,
)
from tinygrad_rnn.viz import draw_graph

TEMPS = np.array([66.0, 70.0, 62.0])  # the last three `tmax` values of the document's data
TARGETS = np.array([70.0, 62.0, 65.0])  # the next day's `tmax` for each of them
PRINTED = 5e-9  # the document prints 8 decimals

# %% [markdown]
# ## 1. ReLU warm-up
#
# With `np.random.seed(0)` the document draws `i_weight = rand(1,2)`, `h_weight = rand(2,2)`,
# `o_weight = rand(2,1)` (no biases); `walkthrough_params` draws the same numbers without touching
# NumPy's global random state. Row vectors throughout: a layer is `x @ W`.
#
# $$h_0 = \mathrm{relu}(x_0 W_i), \qquad h_t = \mathrm{relu}(x_t W_i + h_{t-1} W_h), \qquad y_t = h_t W_o.$$

# %%
relu = {
    name: Tensor(value, requires_grad=True, name=name)
    for name, value in walkthrough_params(seed=0, activation="relu").items()
}

hidden, relu_outputs = None, []
for t, temp in enumerate(TEMPS):
    x_t = Tensor([[temp]])
    xi = x_t @ relu["i_weight"]
    hidden = (xi if hidden is None else xi + hidden @ relu["h_weight"]).relu()
    relu_outputs.append((hidden @ relu["o_weight"]).item())
    print(f"step {t}: x = {temp:g}, h = {hidden.numpy().round(8)}, y = {relu_outputs[-1]:.8f}")

assert np.allclose(relu_outputs, [57.94406231, 124.54916092, 190.94853131], rtol=0, atol=PRINTED)

# %% [markdown]
# The outputs climb step after step (58, 125, 191): nothing bounds a ReLU hidden state, and the
# recurrence keeps adding to it. The document switches to tanh for that reason.
#
# ## 2. The tanh walk-through
#
# Parameters, drawn after `np.random.seed(0)` in this order: `i_weight = rand(1,5)/5 - .1`,
# `h_weight = rand(5,5)/5 - .1`, `h_bias = rand(1,5)/5 - .1`, `o_weight = rand(5,1)*50`,
# `o_bias = rand(1,1)`. Step 0 has neither the recurrent term nor `h_bias`:
#
# $$h_0 = \tanh(x_0 W_i), \qquad h_t = \tanh(x_t W_i + h_{t-1} W_h + b_h)\ (t \ge 1), \qquad y_t = h_t W_o + b_o.$$
#
# Each step is built inside `scope("t=...")`, so the graph drawing below has one box per step.

# %%
params = walkthrough_params(seed=0, activation="tanh")
tensors = {name: Tensor(value, requires_grad=True, name=name) for name, value in params.items()}
i_weight, h_weight, h_bias, o_weight, o_bias = (
    tensors[k] for k in ["i_weight", "h_weight", "h_bias", "o_weight", "o_bias"]
)

hidden, hiddens, outputs = None, [], []
for t, temp in enumerate(TEMPS):
    with scope(f"t={t}"):
        xi = Tensor([[temp]]) @ i_weight
        hidden = (xi if hidden is None else xi + hidden @ h_weight + h_bias).tanh()
        hiddens.append(hidden)
        outputs.append(hidden @ o_weight + o_bias)
outputs = stack(outputs).reshape(-1)  # (3,)
hiddens = concatenate(hiddens, axis=0)  # (3, 5)

print("outputs:", outputs.numpy().round(8))
print("hiddens:\n", hiddens.numpy().round(8))

assert np.allclose(outputs.numpy(), [74.31470595, 80.66149404, 77.67852446], rtol=0, atol=PRINTED)
assert np.allclose(
    hiddens.numpy(),
    [
        [0.56784618, 0.99320288, 0.87557333, 0.53166114, -0.76483255],
        [0.58366756, 0.99568651, 0.90034879, 0.69338529, -0.84149203],
        [0.5383306, 0.99164251, 0.86287584, 0.66091071, -0.80543591],
    ],
    rtol=0,
    atol=PRINTED,
)

# %% [markdown]
# The NumPy reference `walkthrough_forward` computes the same forward pass (it needed no correction):

# %%
reference = walkthrough_forward(TEMPS, params, activation="tanh")
assert np.allclose(reference.outputs, outputs.numpy(), rtol=0, atol=1e-12)
assert np.allclose(reference.hiddens, hiddens.numpy(), rtol=0, atol=1e-12)

# %% [markdown]
# ## 3. Loss, and BPTT by autograd
#
# The document backpropagates `outputs - targets`, which is the gradient of
# $L = \tfrac12 \sum_t (y_t - \text{target}_t)^2$. We build exactly that loss and call
# `backward()` once: the gradients of all three steps flow back through the unrolled graph and
# add up in each parameter.

# %%
difference = outputs - TARGETS
loss = 0.5 * (difference * difference).sum()
loss.backward()

print("dL/dy =", difference.numpy().round(8))
print("loss  =", loss.item())
print("i_weight.grad =", i_weight.grad.round(8))

assert np.allclose(difference.numpy(), [4.31470595, 18.66149404, 12.67852446], rtol=0, atol=PRINTED)
assert np.allclose(
    i_weight.grad, [[54498.71460476, 926.96931526, 16257.75098388, 66153.99689818, 27292.28884188]], rtol=0, atol=1e-6
)  # the document's printed i_weight gradient

# %% [markdown]
# The unrolled graph (one box per step; the parameters sit outside and feed every step):

# %%
draw_graph(loss)

# %% [markdown]
# ## 4. The document's hand BPTT beside autograd
#
# Both hand versions share the backward recursion, which the document gets right: with
# $g_t = y_t - \text{target}_t$,
#
# $$\delta h_t = g_t W_o^\top + \delta a_{t+1} W_h^\top, \qquad \delta a_t = \delta h_t \odot (1 - h_t^2).$$
#
# `compare_gradients` gives, per parameter, the largest gap between hand and autograd. First the
# formulas **exactly as published**:

# %%
published = walkthrough_bptt_as_published(TEMPS, TARGETS, params)
published_rows = compare_gradients(published.grads, tensors)
print(format_comparison(published_rows))

# %% [markdown]
# Three parameters agree to rounding; **`h_weight` and `h_bias` do not**. The comparison
# points straight at the two lines to re-read.
#
# **Mistake 1: `hiddens[1]` for `hiddens[0]` at step 1.** The recurrent term at step 1 is
# $h_0 W_h$, so its contribution to $\partial L / \partial W_h$ is $h_0^\top \delta a_1$. The
# document's step-1 cell writes `hiddens[1,:][:, np.newaxis] @ h1_grad`, i.e. $h_1^\top \delta a_1$
# (its own loop version, which uses `hiddens[i-1]`, is right). The error is exactly
# $(h_1 - h_0)^\top \delta a_1$; we check that below.
#
# **Mistake 2: `np.mean` of the hidden-bias gradient.** $b_h$ has one entry per hidden unit, and
# each entry receives $\sum_{t \ge 1} \delta a_t$ for *its* unit. `h_bias_grad += np.mean(h_grad)`
# averages over the five units instead, giving one number for the whole bias: every unit gets the
# same (wrong) gradient.

# %%
corrected = walkthrough_bptt(TEMPS, TARGETS, params)
corrected_rows = compare_gradients(corrected.grads, tensors)
print(format_comparison(corrected_rows))

# %% [markdown]
# With both lines corrected, all five parameters agree with autograd to rounding error.
# The claims, asserted:

# %%
for name in ["i_weight", "o_weight", "o_bias"]:  # right in the document already
    assert published_rows[name]["max_abs_diff"] < 1e-10, name
for name, row in corrected_rows.items():  # corrected formulas == autograd
    assert row["max_abs_diff"] < 1e-10, (name, row)
for name in ["h_weight", "h_bias"]:  # published formulas: clear disagreement
    assert published_rows[name]["max_abs_diff"] > 1.0, (name, published_rows[name])
    assert published_rows[name]["max_rel_diff"] > 0.1, (name, published_rows[name])

# %% [markdown]
# ## 5. Each mistake, parameter by parameter
#
# A small table per parameter: hand (as published), hand (corrected) and autograd, entry by entry.


# %%
def show(name, rows=None):
    """Print published, corrected and autograd values of one parameter's gradient side by side."""
    auto = tensors[name].grad.ravel()
    pub, cor = published.grads[name].ravel(), corrected.grads[name].ravel()
    indices = range(auto.size) if rows is None else rows
    print(f"{name + ' entry':<16} {'published':>14} {'corrected':>14} {'autograd':>14}")
    for k in indices:
        index = tuple(int(i) for i in np.unravel_index(k, tensors[name].shape))
        print(f"{str(index):<16} {pub[k]:14.6f} {cor[k]:14.6f} {auto[k]:14.6f}")


show("h_bias")
print()
show("h_weight", rows=range(5))  # its first row; every row disagrees

# %% [markdown]
# The published `h_bias` gradient is one number repeated; it is the mean of the correct
# per-unit sums (the mean is linear, so mean of sums = sum of means). The published `h_weight`
# gradient is off by exactly $(h_1 - h_0)^\top \delta a_1$, where $\delta a_1$ is the
# pre-activation gradient at step 1; we recover $\delta a_1$ from the corrected `h_bias`
# gradient, which is $\delta a_1 + \delta a_2$, and the autograd step-2 term.

# %%
h = hiddens.numpy()
published_bias, autograd_bias = published.grads["h_bias"], h_bias.grad
assert np.allclose(published_bias, autograd_bias.mean(), rtol=0, atol=1e-10)  # mistake 2, exactly
assert np.ptp(published_bias) == 0 and np.ptp(autograd_bias) > 1.0  # one number vs five

# delta a_2 = g_2 W_o^T * (1 - h_2^2): step 2 is the last, so nothing flows in from a later step.
g = difference.numpy()
delta_2 = g[2] * o_weight.numpy()[:, 0] * (1 - h[2] ** 2)
delta_1 = autograd_bias[0] - delta_2  # sum_{t>=1} delta a_t
mistake_1 = np.outer(h[1] - h[0], delta_1)
assert np.allclose(published.grads["h_weight"] - h_weight.grad, mistake_1, rtol=0, atol=1e-9)
print("published h_weight - autograd == (h_1 - h_0)^T delta_a_1, max entry", np.abs(mistake_1).max().round(4))

# %% [markdown]
# **Take-away.** Hand BPTT is easy to get almost right: both mistakes leave the shapes of the
# arrays plausible (the scalar mean broadcasts silently into the bias update) and nothing
# crashes. An entry-by-entry comparison with autograd on one small example catches them immediately and
# says which parameter to look at.
