"""A graph of 100,000 ops backpropagates without Python recursion, and backward frees what it saved."""

import gc
import sys
import weakref

import numpy as np

from tinygrad_rnn import Tensor
from tinygrad_rnn.autograd import graph_nodes
from tinygrad_rnn.ops import Function

STEPS = 50_000  # two ops per step: 100,000 ops
FACTOR = 1.00001


def walk_ops(root):
    """Every op in the graph (found with an explicit stack)."""
    return [node for node in graph_nodes(root) if isinstance(node, Function)]


def test_a_chain_of_100000_ops_backpropagates_under_the_default_recursion_limit():
    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default: a recursive walk would fail after ~1000 ops
    try:
        x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        references_to_x = sys.getrefcount(x)
        y = x
        for step in range(STEPS):
            y = (y * FACTOR).relu()
            if step == STEPS // 2:
                middle = weakref.ref(y)
        loss = y.sum()
        ops = walk_ops(loss)
        assert len(ops) == 2 * STEPS + 1
        gc.collect()
        assert middle() is None  # the graph holds ops, not the tensors between them

        # every relu keeps its mask; every product keeps its inputs
        masks = [weakref.ref(op.saved[0]) for op in ops if type(op).__name__ == "Relu"]
        assert len(masks) == STEPS and all(ref() is not None for ref in masks)

        loss.backward()

        np.testing.assert_allclose(x.grad, np.full(3, FACTOR**STEPS), rtol=1e-10)
        assert all(op.saved is None and op.released for op in walk_ops(loss))
        gc.collect()
        assert all(ref() is None for ref in masks)

        # dropping the last reference frees the whole chain (which starts at x), also without recursion
        del ops, y, loss
        gc.collect()
        assert sys.getrefcount(x) == references_to_x
    finally:
        sys.setrecursionlimit(previous_limit)


def test_saved_arrays_of_every_kind_of_op_are_freed_by_backward():
    x = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), requires_grad=True)
    parts = [
        x.relu(),
        x.clip(-0.5, 0.5),
        x.amax(axis=1, keepdims=True),
        x.logsumexp(axis=0),
        x.softmax(axis=1),
        x.log_softmax(axis=0),
        x.sigmoid(),
        x.tanh(),
        x.exp(),
        (x * x + 3.0).log(),
        (x * x + 1.0) ** 1.5,
        1.0 / (x * x + 1.0),
        x @ x.T,
    ]
    loss = sum(part.sum() for part in parts)
    ops = walk_ops(loss)
    saved = [(type(op).__name__, weakref.ref(a)) for op in ops for a in (op.saved or ())]
    del parts
    loss.backward()
    gc.collect()
    assert all(op.saved is None and op.released for op in ops)
    # what is still alive is x's own array (kept by x); every other saved array is gone
    assert all(ref() is None or ref() is x.data for _, ref in saved)
    assert {name for name, ref in saved if ref() is None} >= {"Relu", "Clip", "Max", "LogSumExp", "Exp", "Tanh"}
