"""Fuzz test: random op graphs against PyTorch and finite differences (see tests/fuzz_graphs.py).

`pytest` checks 300 graphs; `pytest --fuzz-graphs 10000` checks as many as asked, 250 per test
item. A failure prints, for each distinct cause, how many graphs it hit, their seeds, and the
first one's report with a snippet that rebuilds its graph; `python tests/fuzz_graphs.py SEED`
runs one graph again.
"""

import collections

import fuzz_graphs
import numpy as np
import pytest
from fuzz_graphs import (
    OPS,
    check_graph,
    gradient_contributions,
    random_graph,
)

from tinygrad_rnn import ops

pytestmark = pytest.mark.fuzz

SAMPLE = range(1000, 1300)  # the graphs the generator's reach is measured on


def grouped_report(failures) -> str:
    by_cause = collections.defaultdict(list)
    for failure in failures:
        by_cause[failure.cause].append(failure)
    parts = [f"{len(failures)} graphs failed, {len(by_cause)} distinct causes"]
    for cause, group in sorted(by_cause.items(), key=lambda item: -len(item[1])):
        seeds = ", ".join(str(f.seed) for f in group[:10]) + (" ..." if len(group) > 10 else "")
        parts.append(f"\n== {len(group)} x {cause} (seeds {seeds})\n{group[0].report()}")
    return "\n".join(parts)


def test_random_graphs(fuzz_seeds):
    failures, checked_by_differences, compared_with_torch = [], 0, 0
    for seed in fuzz_seeds:
        outcome = check_graph(random_graph(seed))
        if outcome.failure is not None:
            failures.append(outcome.failure)
        checked_by_differences += outcome.finite_differences
        compared_with_torch += outcome.torch_gradients
    assert not failures, grouped_report(failures)
    # The checks must really run: a graph is skipped only near a kink, on overflow or when ill-conditioned.
    assert checked_by_differences >= 0.9 * len(fuzz_seeds)
    if fuzz_graphs.torch is not None:
        assert compared_with_torch >= 0.95 * len(fuzz_seeds)


def test_a_seed_always_gives_the_same_graph():
    first, again = random_graph(7), random_graph(7)
    assert first.source() == again.source()
    assert first.source() != random_graph(8).source()


def sample_graphs():
    return [random_graph(seed) for seed in SAMPLE]


def test_the_generator_reaches_every_op_shape_and_dtype():
    graphs = sample_graphs()
    used = collections.Counter(op for g in graphs for op in g.ops_used())
    assert set(OPS) <= set(used), f"never generated: {sorted(set(OPS) - set(used))}"
    leaf_shapes = [node.shape for g in graphs for node in g.nodes if isinstance(node, np.ndarray)]
    assert {0, 1, 2, 3, 4} <= {len(shape) for shape in leaf_shapes}
    assert any(0 in shape for shape in leaf_shapes) and any(1 in shape for shape in leaf_shapes)
    assert {g.dtype for g in graphs} == {np.float64, np.float32}
    steps = [node for g in graphs for node in g.nodes if isinstance(node, fuzz_graphs.Step)]
    params = [s.params for s in steps]
    assert any(p.get("keepdims") for p in params) and any(p.get("keepdims") is False for p in params)
    axes = [p["axis"] for p in params if isinstance(p.get("axis"), int)]
    axes += [a for p in params if isinstance(p.get("axis"), tuple) for a in p["axis"]]
    assert any(a < 0 for a in axes)
    indexes = [s.params["index"] for s in steps if s.op == "index"]
    parts = [p for index in indexes for p in (index if isinstance(index, tuple) else (index,))]
    int_arrays = [p for p in parts if isinstance(p, np.ndarray) and p.dtype.kind == "i"]
    assert any(len(np.unique(a)) < a.size for a in int_arrays), "no repeated index"
    assert any((a < 0).any() for a in int_arrays)
    assert any(isinstance(p, np.ndarray) and p.dtype == bool for p in parts)
    assert any(isinstance(p, slice) and p.step is not None and p.step < 0 for p in parts)
    assert any(any(a == b for a, b in zip(s.args, s.args[1:]) if isinstance(a, int)) for s in steps), (
        "no op takes the same tensor twice"
    )


def test_zero_d_values_receive_three_or_more_gradients():
    counts = [n for g in sample_graphs() for n, shape in zip(gradient_contributions(g), g.shapes) if shape == ()]
    assert sum(n >= 3 for n in counts) >= 20


def test_a_wrong_backward_is_caught_with_its_seed_and_a_snippet(monkeypatch):
    """The harness itself: tanh's backward made wrong by 10% must fail, by both oracles."""
    right = ops.Tanh.backward
    monkeypatch.setattr(ops.Tanh, "backward", lambda self, g: tuple(1.1 * d for d in right(self, g)))
    seed = next(
        s
        for s in range(100)
        if "tanh" in random_graph(s).ops_used() and check_graph(random_graph(s)).failure is not None
    )
    failure = check_graph(random_graph(seed)).failure
    if fuzz_graphs.torch is not None:
        assert failure.cause.startswith("gradient differs from PyTorch") and "tanh" in failure.cause
    report = failure.report()
    assert f"seed {seed}" in report and f"python tests/fuzz_graphs.py {seed}" in report
    snippet = report.split("--- snippet ---\n")[1].rsplit("\n---", 1)[0]
    quiet = snippet.replace("print(", "(lambda *a: None)(")
    exec(compile(quiet, "<snippet>", "exec"), {})  # noqa: S102 - the snippet must run as printed
    without_torch = check_graph(random_graph(seed), use_torch=False).failure
    assert without_torch is not None and "finite differences" in without_torch.cause


def test_a_wrong_forward_is_caught_against_pytorch(monkeypatch):
    pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
    right = ops.Exp.forward
    monkeypatch.setattr(ops.Exp, "forward", lambda self, x: right(self, x) * (1 + 1e-6))
    failures = [check_graph(g).failure for g in sample_graphs()[:100] if "exp" in g.ops_used()]
    causes = {f.cause for f in failures if f is not None}
    assert "exp: forward differs from PyTorch" in causes
