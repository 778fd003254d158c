"""Truncated backpropagation through time (TBPTT).

A sequence x_1..x_T (time-major, (T, B, I)) is cut into chunks of k steps. Each chunk is run
from the state the previous chunk ended in, but that state is detached first, so
backward() on chunk c's loss L_c stops at the chunk's first step:

    dL_c/dtheta  is exact inside chunk c and treats the incoming state as a constant.

Trade-off against full BPTT over all T steps:
  * memory and time per backward are O(k) instead of O(T): only one chunk's graph is alive;
  * gradients ignore every dependency longer than k steps (a loss at step t sees inputs
    from t - k + 1 at the earliest within its chunk, fewer near the chunk's start);
  * carrying the state across chunks keeps the forward exact: the hidden states, outputs and
    losses are those of one forward pass over the whole sequence.

With k >= T there is one chunk, and the gradient is exactly full BPTT's.
"""

from __future__ import annotations


def detach_state(state):
    """The recurrent state cut from the graph: h for RNN/GRU, (h, c) for LSTM, None stays None."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(part.detach() for part in state)
    return state.detach()


def tbptt_step(rnn, head, loss_fn, inputs, targets, k: int, optimizer=None, state=None):
    """Train on one long sequence by truncated BPTT; returns (mean_loss, final_state).

    rnn      nn.RNN, nn.GRU or nn.LSTM (time-major); called as rnn(chunk, state) -> (output, state);
    head     maps the output (k, B, H) to predictions (k, B, O), e.g. nn.Linear(H, O);
    loss_fn  loss_fn(predictions, targets_chunk) -> scalar Tensor L_c;
    inputs   (T, B, I), targets (T, B, O) (many-to-many: one target per step);
    k        chunk length, a positive integer (the last chunk holds the remaining T mod k steps);
    state    the initial state (h0, or (h0, c0) for an LSTM), zeros when None.

    For each chunk c: run the rnn from the detached carried state, compute L_c, call
    L_c.backward(). Without an optimizer the chunk gradients add up in every .grad:
    grad = sum_c dL_c/dtheta. With one, each chunk does zero_grad(), backward(), step().
    mean_loss = sum_c (n_c / T) L_c, n_c the chunk's length (for a per-step mean loss, the
    mean over the whole sequence). final_state is the last chunk's state, detached, to
    continue a stream with the next call (stateful training).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"tbptt_step: k must be a positive integer, got k={k!r}")
    if getattr(rnn, "batch_first", False):
        raise ValueError("tbptt_step: the rnn must be time-major (batch_first=False); inputs are (T, B, I)")
    length = len(inputs)
    if len(targets) != length:
        raise ValueError(f"tbptt_step: inputs have {length} steps but targets have {len(targets)}")
    state = detach_state(state)
    mean_loss = 0.0
    for start in range(0, length, k):
        stop = min(start + k, length)
        output, state = rnn(inputs[start:stop], state)
        loss = loss_fn(head(output), targets[start:stop])
        if optimizer is not None:
            optimizer.zero_grad()
        loss.backward()
        if optimizer is not None:
            optimizer.step()
        mean_loss += (stop - start) / length * loss.item()
        state = detach_state(state)
    return mean_loss, state
