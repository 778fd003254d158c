"""A graph of 100,000 ops backpropagates without Python recursion, and backward frees what it saved."""
import gc
import sys
import weakref

import numpy as np

from tinygrad_rnn import Tensor

STEPS = 50_000  # two ops per step: 100,000 ops
FACTOR = 1.00001


def walk_ops(root):
    """Every op in the graph, found with an explicit stack."""
    seen, stack, ops = set(), [root], []
    while stack:
        t = stack.pop()
        ctx = t._ctx
        if ctx is None or id(ctx) in seen:
            continue
        seen.add(id(ctx))
        ops.append(ctx)
        stack.extend(ctx.parents)
    return ops


def walk_tensors(root):
    seen, stack, tensors = set(), [root], []
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        tensors.append(t)
        if t._ctx is not None:
            stack.extend(t._ctx.parents)
    return tensors


def test_a_chain_of_100000_ops_backpropagates_under_the_default_recursion_limit():
    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default: a recursive walk would fail after ~1000 ops
    try:
        x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x
        for _ in range(STEPS):
            y = (y * FACTOR).relu()
        loss = y.sum()
        ops = walk_ops(loss)
        assert len(ops) == 2 * STEPS + 1

        # arrays that only an op keeps (relu's masks), as opposed to tensors' own data
        tensor_data = {id(t.data) for t in walk_tensors(loss)}
        only_saved = [weakref.ref(a) for op in ops for a in (op.saved or ()) if id(a) not in tensor_data]
        assert len(only_saved) == STEPS
        assert all(ref() is not None for ref in only_saved)

        loss.backward()

        np.testing.assert_allclose(x.grad, np.full(3, FACTOR ** STEPS), rtol=1e-10)
        assert all(op.saved is None and op.released for op in walk_ops(loss))
        gc.collect()
        assert all(ref() is None for ref in only_saved)

        # dropping the last reference frees the whole chain, also without recursion
        data_ref = weakref.ref(ops[len(ops) // 2].parents[0].data)
        del ops, y, loss
        gc.collect()
        assert data_ref() is None
    finally:
        sys.setrecursionlimit(previous_limit)


def test_saved_arrays_of_every_kind_of_op_are_freed_by_backward():
    x = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), requires_grad=True)
    parts = [
        x.relu(), x.clip(-0.5, 0.5), x.max(axis=1, keepdims=True), x.logsumexp(axis=0),
        x.softmax(axis=1), x.log_softmax(axis=0), x.sigmoid(), x.tanh(), x.exp(), (x * x + 3.0).log(),
        (x * x + 1.0) ** 1.5, 1.0 / (x * x + 1.0), x @ x.T,
    ]
    loss = sum(part.sum() for part in parts)
    ops = walk_ops(loss)
    saved = [(type(op).__name__, weakref.ref(a)) for op in ops for a in (op.saved or ())]
    # tensors made by the ops are dropped; only loss (and x) keep the graph alive
    del parts
    loss.backward()
    gc.collect()
    assert all(op.saved is None and op.released for op in ops)
    # what is still alive is the data of a tensor still in the graph; nothing else
    alive = {id(t.data) for t in walk_tensors(loss)}
    for _, ref in saved:
        assert ref() is None or id(ref()) in alive
    # these ops keep arrays of their own (masks, shares, probabilities): all gone
    assert {name for name, ref in saved if ref() is None} == {"Relu", "Clip", "Max", "LogSumExp"}
