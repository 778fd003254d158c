"""Long memory: can a recurrent cell remember its first input for 50 steps?

Each sequence has T = 50 steps of one feature: x_1 = s, a random sign s in {-1, +1}, and
x_t ~ N(0, 0.1^2) for t > 1. The label is [s = +1], read from the last step only:

    logits = Linear(h_T) (2 classes),  loss = cross_entropy(logits, label) averaged over the batch.

Solving it needs d loss / d x_1 to survive 49 steps. Per step an Elman RNN multiplies it by
W_hh^T diag(1 - h_t^2); an LSTM's cell path c_t = f_t * c_{t-1} + i_t * g_t by the forget gate
f_t (about sigmoid(0) = 1/2 at initialisation); a GRU's h_t = (1 - z_t) * n_t + z_t * h_{t-1}
by the update gate z_t (also about 1/2). Each cell (hidden 16) is trained with full BPTT and
Adam on fresh batches of 32, seeded, then scored on 1000 new sequences.

    python benchmarks/long_memory.py [--steps 300] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinygrad_rnn import nn  # noqa: E402
from tinygrad_rnn.nn.functional import cross_entropy  # noqa: E402
from tinygrad_rnn.optim import Adam  # noqa: E402
from tinygrad_rnn.tensor import Tensor  # noqa: E402

LENGTH, BATCH, HIDDEN, NOISE, TEST_SIZE = 50, 32, 16, 0.1, 1000
CELLS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}


def make_batch(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (T, size, 1): the sign at t = 1, noise after it; labels (size,): 1 where the sign is +1."""
    signs = rng.choice([-1.0, 1.0], size=size)
    x = rng.normal(0.0, NOISE, size=(LENGTH, size, 1))
    x[0, :, 0] = signs
    return x, (signs > 0).astype(np.int64)


def logits(rnn, head, x) -> Tensor:
    output, _ = rnn(x)
    return head(output[-1])


def train(cell: str, steps: int, seed: int) -> tuple[float, float]:
    """Train one cell; returns (test accuracy, wall seconds of the training loop)."""
    rnn = CELLS[cell](1, HIDDEN, rng=seed)
    head = nn.Linear(HIDDEN, 2, rng=seed + 1)
    optimizer = Adam(list(rnn.parameters()) + list(head.parameters()), lr=1e-2)
    rng = np.random.default_rng(seed + 2)
    start = time.perf_counter()
    for _ in range(steps):
        x, labels = make_batch(rng, BATCH)
        optimizer.zero_grad()
        cross_entropy(logits(rnn, head, x), labels).backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    x, labels = make_batch(np.random.default_rng(seed + 3), TEST_SIZE)
    predicted = logits(rnn, head, x).data.argmax(axis=-1)
    return float((predicted == labels).mean()), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"T={LENGTH}, batch={BATCH}, hidden={HIDDEN}, noise std={NOISE}, Adam lr=1e-2, seed={args.seed}")
    print(f"{'cell':<6}{'test accuracy':>15}{'steps':>8}{'wall time (s)':>15}")
    for cell in CELLS:
        accuracy, seconds = train(cell, args.steps, args.seed)
        print(f"{cell:<6}{accuracy:>15.3f}{args.steps:>8}{seconds:>15.1f}", flush=True)


if __name__ == "__main__":
    main()
