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
# # 06 · The compiled step: the BPTT program autograd derives, beside the one written by hand
#
# **What this notebook teaches.** `tinygrad_rnn.jit(step)` runs a training step once eagerly,
# records the NumPy calls its ops make forward and backward, and writes them out as one Python
# function. That function is an ordinary program to read: for the sentiment RNN of document 003
# (a notebook following Victor Zhou's "An Introduction to Recurrent Neural Networks") its
# backward part is backpropagation through time, derived by the chain rule op by op, with nobody
# writing the formulas. Here we
#
# 1. compile the training step of notebook 03's network (one-hot words, a 64-unit tanh RNN,
#    a 2-class linear head on the last hidden state, softmax cross-entropy);
# 2. check that its gradients equal the eager step's and the corrected hand BPTT's to 1e-12;
# 3. print the program, and read its backward loop line by line beside the hand formula,
#    including the transpose the document left out;
# 4. check that the program loops over time (backwards), so its length does not grow with the
#    phrase.
#
# The hand formula is `tinygrad_rnn.reference.sentiment_bptt` (corrected); notebook 03 shows the
# document's version and its mistakes.

# %%
import re

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_rnn import Tensor, jit
from tinygrad_rnn.compare import compare_gradients, format_comparison
from tinygrad_rnn.data import Vocabulary, sentiment_data
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.reference import sentiment_bptt
from tinygrad_rnn.tasks import sentiment

# %% [markdown]
# ## 1. The model and its step
#
# The network of notebook 03, built by `sentiment.make_model`. Its published initialisation
# (`randn / 1000`) makes every gradient tiny, which would make an agreement to 1e-12 say little,
# so we give every parameter values of standard deviation 0.3 instead: every parameter's
# gradient then has entries above 0.01, and $1 - h_t^2$ falls below 0.5 in some units.
#
# The step is the function `sentiment.run()` compiles: forward, loss, `backward()`, return the
# loss. `train_step` is plain eager code; `compiled` is the same function under `jit`.

# %%
train, test = sentiment_data()
vocab = Vocabulary(train)
model = sentiment.make_model(sentiment.Config(), len(vocab))
rng = np.random.default_rng(0)
for param in model.parameters():
    param.data = rng.normal(0.0, 0.3, param.shape)
print(model)


def train_step(inputs, target):
    loss = F.cross_entropy(model(Tensor(inputs)), target)
    loss.backward()
    return loss


compiled = jit(train_step)

# %% [markdown]
# The phrases of the data set have one to five words. A loop over time needs at least three steps that
# do the same thing. Every forward step does, and so does every backward step, once the step of
# $t = 0$ is read as the others less its gradient for the previous hidden state: that state is
# the initial $h_0$, which needs no gradient. The program keeps $h_0$ as the row before the first
# of the stacked hidden states, the first backward step's gradient (from the head) is the
# backward loop's starting value, and the sums over steps start at zero before the loop. A
# five-word phrase already has its loops; we take a longer phrase of the same words to see more
# steps: twelve words, negative (one *not*, a positive word).

# %%
phrase = "this is really really not very very really really very very good"
label = 0
one_hot = vocab.encode(phrase)  # (T, V): row t is the one-hot vector of word t
inputs, target = one_hot[None], np.array([label])  # a batch of one phrase: (1, T, V)
T = len(one_hot)
print(f"{phrase!r}: T = {T}, V = {len(vocab)}")
assert T == 12 and all(word in vocab for word in phrase.split())

# %% [markdown]
# ## 2. The same gradients three ways, to 1e-12
#
# The eager step first, then two compiled calls: the first traces (it runs eagerly while
# recording), the second runs the generated program. `compiled.traces` counts the traces, so
# after the second call it is still 1. "To 1e-12" is the largest absolute difference of any
# entry (relative differences are larger only in entries that are themselves tiny).


# %%
def gradients():
    return {name: param.grad.copy() for name, param in model.named_parameters()}


model.zero_grad()
eager_loss = train_step(inputs, target).item()
eager = gradients()

model.zero_grad()
compiled(inputs, target)  # traces
model.zero_grad()
jit_loss = compiled(inputs, target).item()  # runs the program
from_program = gradients()

print(f"traces: {compiled.traces};  loss eager {eager_loss:.15f}  jit {jit_loss:.15f}")
for name in eager:
    print(f"{name:18s} max |jit - eager| = {np.abs(from_program[name] - eager[name]).max():.1e}")

assert compiled.traces == 1 and compiled.source is not None
assert abs(jit_loss - eager_loss) <= 1e-12
assert all(np.abs(from_program[name] - eager[name]).max() <= 1e-12 for name in eager)
assert min(np.abs(g).max() for g in eager.values()) > 1e-2  # gradients far from zero

# %% [markdown]
# And the hand BPTT, in the document's column layout and names. The recurrent layer has two
# biases (as in PyTorch) that always add up, so $b_h$ is their sum and each receives $b_h$'s
# gradient.

# %%
params = sentiment.reference_parameters(model)  # the document's names and columns
mapping = sentiment.REFERENCE_MAPPING  # the document's names -> the model's parameters
print({name: value.shape for name, value in params.items()})
by_hand = sentiment_bptt(one_hot, label, params)
rows = compare_gradients(by_hand.grads, model, mapping)  # model.grad holds the program's gradients
print(f"loss: jit {jit_loss:.15f}   by hand {by_hand.loss:.15f}\n")
print(format_comparison(rows))

assert abs(jit_loss - by_hand.loss) <= 1e-12
assert all(row["max_abs_diff"] <= 1e-12 for row in rows.values())
assert (1.0 - by_hand.hiddens**2).min() < 0.5
assert np.array_equal(model.rnn.bias_ih_l0.grad, model.rnn.bias_hh_l0.grad)

# %% [markdown]
# ## 3. The program
#
# `compiled.source` (or `compiled.print_source()`) is the program the last call ran. Its names
# come from the model (`weight_hh_l0`, `head_weight`) and from the op and scope that made each
# value (`tanh_l0_t` is the tanh of layer 0 at step t, `d_tanh_l0_t` its gradient); a comment
# opens every block with its scope. It begins by reading the parameters' current values and
# checking that they still have the shapes it was traced with, then runs the forward pass and
# the backward pass, and ends by handing each gradient to its parameter's `.grad`.

# %%
compiled.print_source()

# %% [markdown]
# ### The backward loop beside the hand formula
#
# Below is the heart of the program's backward pass: its loop over time (t = 11 down to 1, for
# twelve words), the step $t = 0$ after it, and the weight gradient summed over all steps. The hand formula,
# in the document's column vectors (`reference.sentiment_bptt`, in short), is
#
# ```python
# hidden_grad = Why.T @ logits_grad                  # dh_T = W_hy^T dL/dy
# for t in reversed(range(T)):
#     deltas[t] = (1.0 - hiddens[t] ** 2) * hidden_grad   # da_t = (1 - h_t^2) * dh_t
#     hidden_grad = Whh.T @ deltas[t]                # dh_{t-1} = W_hh^T da_t
# dWhh = deltas.T @ previous_hiddens                 # sum_t da_t h_{t-1}^T
# dWxh = deltas.T @ inputs                           # sum_t da_t x_t^T
# dbh = deltas.sum(axis=0)                           # sum_t da_t
# ```

# %%
source = compiled.source
start = source.index("    # backward: layer0/t=t for")
end = source.index("    # backward: layer0\n", start)
backward_loop = source[start:end]
print(backward_loop)

# %% [markdown]
# The model works on rows: a batch of hidden states is a (batch, 64) array, and the layer
# computes $h_t = \tanh(x_t W_{xh}^\top + h_{t-1} W_{hh}^\top + b)$, PyTorch's convention. A row
# is the transpose of the document's column, so every product appears transposed,
# $(W^\top v)^\top = v^\top W$. The two side by side (T = 12: the loop covers t = 11, ..., 1 and
# the step t = 0 follows it). Every program line printed is checked to be in the source:

# %%
side_by_side = [  # (hand BPTT, columns; the program's lines, rows)
    ("hidden_grad = Why.T @ logits_grad", ["d_linear = np.dot(d_logsoftmax_5, head_weight)"]),
    ("for t in reversed(range(T)):", ["for t in range(11, 0, -1):"]),
    (
        "    1.0 - hiddens[t] ** 2",
        [
            "tanh_by_step = stack_l0[:, 0:12].swapaxes(0, 1)",
            "d_tanh_l0_t_all = np.multiply(tanh_by_step, tanh_by_step, out=d_getitem_l0[0:12])",
            "d_tanh_l0_t_all_2 = np.subtract(1.0, d_tanh_l0_t_all, out=d_tanh_l0_t_all)",
        ],
    ),
    (
        "    deltas[t] = (...) * hidden_grad",
        ["    d_tanh_l0_t = d_tanh_l0_t_all_2[t]", "    d_tanh_l0_t *= d_linear_l0_t"],
    ),
    ("    hidden_grad = Whh.T @ deltas[t]", ["    d_linear_l0_t = np.dot(d_tanh_l0_t, weight_hh_l0)"]),
    (
        "    (t = 0: deltas[0]; its hidden_grad is not read)",
        ["d_tanh_l0_t = d_tanh_l0_t_all_2[0]", "d_tanh_l0_t *= d_linear_l0_t"],
    ),
    (
        "dWhh = deltas.T @ previous_hiddens",
        [
            "tanh_by_step_2 = stack_l0_from_start[:, 0:12].swapaxes(0, 1)",
            "tanh_rows = tanh_by_step_2.reshape(-1, 64)",
            "d_linear_l0 = np.dot(d_tanh_rows.T, tanh_rows)",
        ],
    ),
    (
        "dWxh = deltas.T @ inputs",
        ["d_getitem_l0[0:12] += 0.0", "d_linear_l0_5 = np.dot(d_linear_l0_3, d_linear_l0_4)"],
    ),
    ("dbh = deltas.sum(axis=0)", ["d_linear_l0_6 = np.add.reduce(d_getitem_l0, axis=(0, 1))"]),
]
print("hand BPTT (columns, sentiment_bptt)\n    its program lines (rows, compiled.source)\n")
for number, (hand, program_lines) in enumerate(side_by_side, start=1):
    print(f"{number}. {hand.strip()}")
    for line in program_lines:
        assert line.strip() in source, line
        print(f"    {line.strip()}")
assert "linear_l0_t = weight_hh_l0.T" in source  # the forward loop multiplies by W_hh^T ...
assert "weight_hh_l0.T" not in backward_loop  # ... so its backward multiplies by W_hh

# %% [markdown]
# Line by line:
#
# 1. $\delta h_T = W_{hy}^\top\, \partial L/\partial y$, in row form $(\partial L/\partial y)^\top
#    W_{hy}$; `d_logsoftmax_5` is $p - \mathrm{onehot}(\text{label})$, built by log-softmax's
#    backward before it.
# 2. The same steps, last to first; the loop stops at t = 1, and the step t = 0 follows it (6).
# 3. tanh's derivative $1 - h_t^2$, from its own output (`stack_l0` holds the steps' hidden
#    states batch first; `tanh_by_step` is a view of it with the steps first). It does not depend
#    on the gradient being carried, so the program computes it for all steps at once, before the
#    loop, into the rows of the zeros that gather the steps' gradients for the input projection.
# 4. $\delta a_t = (1 - h_t^2) \odot \delta h_t$. `d_linear_l0_t` is $\delta h_t$, computed by
#    the iteration before (step $t + 1$); the product replaces $1 - h_t^2$ in its row (`*=`), so
#    that array becomes the hand code's `deltas`.
# 5. $\delta h_{t-1} = W_{hh}^\top \delta a_t$, as a row $\delta a_t^\top W_{hh}$. The program
#    multiplies by `weight_hh_l0` itself because the forward loop multiplied by its transpose
#    (`linear_l0_t = weight_hh_l0.T`), and the backward of `h @ W.T` is `d @ W`: the chain rule,
#    applied op by op, puts the transpose where it belongs. The document wrote `Whh @ temp`,
#    whose row form would be `np.dot(d_tanh_l0_t, weight_hh_l0.T)`: the transpose it missed.
# 6. $\delta a_0$, as every other step's. The hand loop goes on to compute $W_{hh}^\top \delta a_0$,
#    the gradient for $h_0$, which nothing reads; the program leaves it out.
# 7. $\sum_t \delta a_t h_{t-1}^\top$ as one product over all steps. `stack_l0_from_start` is
#    $h_0$ followed by every step's hidden state (`stack_l0` is a view of its last 12), so its
#    first 12 (`tanh_by_step_2`) are each step's $h_{t-1}$, from $h_0 = 0$ at t = 0: that step's term is zero, and
#    still NaN where $\delta a_0$ holds an inf or a NaN, as in the hand formula.
# 8. Every step's $\delta a_t$ is row t of `d_getitem_l0` already; adding 0.0 gives each row the
#    value that adding it into zeros gives (a $-0.0$ becomes $0.0$, nothing else changes). The
#    input projection of all steps was one product forward, so its gradient is one product
#    backward, $\sum_t \delta a_t x_t^\top$.
# 9. The bias gradient: the sum over steps (and the batch of one), handed to both biases.
#    `np.add.reduce` is what an array's `.sum()` calls: the program writes it directly, the
#    same numbers without the method's Python layer.
#
# The row reading of line 5 checked on the hand formula's own values: at every step the
# program's `deltas[t] @ Whh` is `Whh.T @ deltas[t]`, and the document's `Whh @ deltas[t]` is a
# different vector.

# %%
Whh = params["Whh"]
hiddens = by_hand.hiddens
deltas = np.zeros_like(hiddens)
carry = params["Why"].T @ (by_hand.probabilities - np.eye(2)[label])
for t in reversed(range(T)):
    deltas[t] = (1.0 - hiddens[t] ** 2) * carry
    row_form = np.dot(deltas[t][None], Whh)[0]  # the program's statement, on a row
    assert np.allclose(row_form, Whh.T @ deltas[t], rtol=1e-13, atol=1e-15)
    assert not np.allclose(row_form, Whh @ deltas[t])  # the document's carry is another vector
    carry = row_form
assert np.allclose(deltas.T @ one_hot, by_hand.grads["Wxh"], rtol=1e-13, atol=1e-15)
assert np.allclose(deltas.sum(axis=0), by_hand.grads["bh"][:, 0], rtol=1e-13, atol=1e-15)
print("the row-form carry is W_hh^T da_t at every step; W_hh da_t differs at every step")

# %% [markdown]
# ## 4. The loop runs backwards, and the program does not grow with T
#
# The forward pass has its own loop, `for t in range(0, T)`; the backward one counts down. Each
# phrase length is its own signature, so a new length traces a new program. Their line counts:

# %%
loops = re.findall(r"for t in range\(([^)]*)\):", source)
print("loops in the program:", loops)
assert loops == [f"0, {T}", f"{T - 1}, 0, -1"]  # forward t = 0..T-1; backward t = T-1..1, then t = 0

line_counts = {}
for length in [12, 50, 200, 2000]:
    words = rng.integers(0, len(vocab), length)
    x = np.eye(len(vocab))[words][None]
    model.zero_grad()
    compiled(x, target)  # a new length: traces
    model.zero_grad()
    compiled(x, target)  # runs the program
    line_counts[length] = len(compiled.source.splitlines())
    assert re.search(rf"for t in range\({length - 1}, 0, -1\):", compiled.source)
print("lines of the program per phrase length:", line_counts)
print("traces so far:", compiled.traces)
assert len(set(line_counts.values())) == 1
assert compiled.traces == 1 + 3  # the first phrase traced once; 50, 200 and 2000 once each

# %% [markdown]
# Twelve words or two thousand: the same program, with only the numbers in the loop bounds and
# buffer shapes changed. The weight gradients are one product over all the steps of the loop,
# as in the hand-written BPTT.
#
# `jit(step, loop=False)` writes every time step out instead, as the recording saw them. That
# program grows by the same block of lines per word:

# %%
unrolled = jit(train_step, loop=False)
lengths = [12, 25, 50, 100, 200]
rolled_lines, unrolled_lines = [], []
for length in lengths:
    x = np.eye(len(vocab))[rng.integers(0, len(vocab), length)][None]
    for step, counts in [(compiled, rolled_lines), (unrolled, unrolled_lines)]:
        model.zero_grad()
        step(x, target)
        model.zero_grad()
        step(x, target)
        counts.append(len(step.source.splitlines()))
print("T:              ", lengths)
print("lines, rolled:  ", rolled_lines)
print("lines, unrolled:", unrolled_lines)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(lengths, unrolled_lines, "o-", label="jit(step, loop=False): every step written out")
ax.plot(lengths, rolled_lines, "s-", label="jit(step): loops over t")
ax.set_xlabel("phrase length T (words)")
ax.set_ylabel("lines of the program")
ax.set_title("sentiment RNN: size of the compiled step")
ax.legend()
plt.show()

per_step = np.diff(unrolled_lines) / np.diff(lengths)
print(f"written out: {per_step[0]:.0f} more lines per word")
assert len(set(rolled_lines)) == 1
assert np.all(per_step == per_step[0]) and per_step[0] > 10
assert unrolled_lines[-1] > 5 * rolled_lines[-1]

# %% [markdown]
# A five-word phrase of the training set has both loops too, with the step t = 0 after the
# backward one, as explained in section 1:

# %%
short = "this was not very good"
model.zero_grad()
compiled(vocab.encode(short)[None], np.array([0]))
model.zero_grad()
compiled(vocab.encode(short)[None], np.array([0]))
short_source = compiled.source
short_loops = re.findall(r"for t in range\(([^)]*)\):", short_source)
short_blocks = re.findall(r"# backward: layer0/t=(\d+)", short_source)
print(f"{short!r}: {len(short_source.splitlines())} lines, loops {short_loops}, backward blocks t = {short_blocks}")
assert short_loops == ["0, 5", "4, 0, -1"]
assert short_blocks == ["0"]
