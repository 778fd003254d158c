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
# # Compile a training step with jit
#
# The eager engine records every op and walks the graph back op by op: exact and easy to
# follow, and on small shapes dominated by Python bookkeeping (see the benchmarks).
# `tinygrad_rnn.jit(step)` keeps the same ops and removes the bookkeeping:
#
# - **the first call** of a signature runs the step eagerly, exactly as without `jit`, while
#   recording the NumPy calls that every op makes, forward and backward (each op's backward is
#   its own vector-Jacobian product, the rule in its docstring);
# - **later calls** run one generated Python function with the shapes fixed: gradients added
#   with plain `+=`, the steps of a recurrent layer rolled into a loop over time;
# - **guards**: the signature (input shapes and dtypes, the numbers passed) keys a cache of
#   programs, and each program checks that the parameters, the modules and their settings, and
#   what the step reads from its closure, its globals and its helpers are what it was traced
#   with. A step that branches on traced values, draws random numbers, writes into an array
#   from outside or keeps a tensor it made outside falls back to eager with a
#   `JitFallbackWarning`.
#
# The step is a function that runs the forward pass, calls `loss.backward()` and returns the loss.

# %%
import time

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import nn

rnn, head = nn.RNN(3, 8, rng=0), nn.Linear(8, 1, rng=1)


def step(x, y):
    output, h_n = rnn(x)
    loss = nn.functional.mse_loss(head(output[-1]), y)
    loss.backward()
    return loss


compiled = tg.jit(step)
rng = np.random.default_rng(0)
x, y = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 1))  # (T, B, I) and (B, 1)

# %% [markdown]
# ## The same gradients as the eager step
#
# Each call leaves every parameter's `.grad` as the eager step would. Compare them after one
# eager step and after two compiled ones (the first traces, the second runs the program):

# %%
parameters = list(rnn.parameters()) + list(head.parameters())


def gradients_of(run):
    for parameter in parameters:
        parameter.grad = None
    loss = run(x, y)
    return loss.item(), [parameter.grad.copy() for parameter in parameters]


eager_loss, eager_grads = gradients_of(step)
gradients_of(compiled)  # traces
compiled_loss, compiled_grads = gradients_of(compiled)  # runs the generated program
assert compiled.traces == 1
assert np.isclose(compiled_loss, eager_loss, rtol=1e-12)
for eager, generated in zip(eager_grads, compiled_grads):
    np.testing.assert_allclose(generated, eager, rtol=1e-10, atol=1e-14)
print(f"loss {compiled_loss:.12f}; {len(parameters)} gradients agree with the eager step")

# %% [markdown]
# ## The printed program
#
# `compiled.source` is the Python text of the program the last call ran (`compiled.print_source()`
# prints it). Read it beside a
# document's hand-written BPTT: the forward loop over $t$, writing each hidden state into its row
# of the stacked output, then the backward loop from the last step to the first, carrying the
# gradient of the hidden state (`d_...`) as a local and turning the rows of $1 - h_t^2$ into the
# deltas in place; each weight's gradient is then one product over all the steps' rows. Where a
# document multiplies by `Whh` where the chain rule needs `Whh.T`, the generated line shows which
# one the ops' own derivatives produce.

# %%
print(compiled.source)

# %% [markdown]
# ## How much time it saves here
#
# One number from this build's machine, not a benchmark (`benchmarks/bench_bptt.py` is the
# place for those): the median of 200 calls of each step.


# %%
def median_seconds(run, repeats=200):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x, y)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


eager_time, compiled_time = median_seconds(step), median_seconds(compiled)
print(
    f"eager {eager_time * 1e6:.0f} us per step, jit {compiled_time * 1e6:.0f} us per step "
    f"({eager_time / compiled_time:.1f}x)"
)
