"""The BPTT benchmark's agreement check on its small configs, and its step split (no timings are asserted).

tinygrad_rnn and the hand-written NumPy BPTT must give the same loss and gradients to 1e-10
relative; every installed peer (PyTorch, JAX, HIPS autograd) to the benchmark's 1e-8.
"""

import re

import numpy as np
import pytest

from benchmarks.bench_bptt import (
    AGREEMENT_TOLERANCE,
    CONFIGS,
    OpTimer,
    build_contenders,
    gradient_errors,
    make_problem,
    split_tinygrad,
    timed_functions,
)
from benchmarks.handwritten_elman import PARAMETER_NAMES, elman_bptt
from tinygrad_rnn import Tensor, grads, ops, stack


@pytest.mark.parametrize("name", ["tiny", "sentiment", "temps"])
def test_every_contender_agrees_with_the_hand_written_gradients(name):
    errors = gradient_errors(build_contenders(make_problem(CONFIGS[name])))
    assert errors["eager"] <= 1e-10, errors
    for label, error in errors.items():
        assert error <= AGREEMENT_TOLERANCE, f"{label}: relative error {error:.2e}"


@pytest.mark.parametrize("name", ["tiny", "sentiment"])
def test_hand_written_gradients_match_central_differences(name):
    problem = make_problem(CONFIGS[name])
    loss = problem.config.loss
    result = elman_bptt(problem.params, problem.x, problem.target, loss)
    assert sorted(result.grads) == sorted(PARAMETER_NAMES)
    step = 1e-6
    for name, value in problem.params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + step
            above = elman_bptt(problem.params, problem.x, problem.target, loss).loss
            value[index] = original - step
            below = elman_bptt(problem.params, problem.x, problem.target, loss).loss
            value[index] = original
            numeric[index] = (above - below) / (2 * step)
        np.testing.assert_allclose(result.grads[name], numeric, rtol=1e-6, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("name", ["tiny", "temps"])
def test_an_inf_in_weight_hh_reaches_the_hand_written_step_as_it_reaches_eager(name):
    # the first step's h_0 W_hh^T is 0 * inf = NaN in PyTorch and eager; the baseline computes it too
    problem = make_problem(CONFIGS[name])
    problem.params["rnn.weight_hh_l0"][0, 1] = np.inf
    hand, eager = build_contenders(problem, peers=[])[:2]
    with np.errstate(invalid="ignore"):
        hand.step()
        eager.step()
    assert np.isnan(hand.result.loss)
    for key, grad in eager.gradients().items():
        ours = hand.gradients()[key]
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(grad), err_msg=key)
        np.testing.assert_array_equal(np.isinf(ours), np.isinf(grad), err_msg=key)
        finite = np.isfinite(grad)
        np.testing.assert_allclose(ours[finite], grad[finite], rtol=1e-10, atol=1e-12, err_msg=key)


def test_the_op_timer_counts_each_outermost_call_once_and_puts_every_function_back():
    timer = OpTimer()
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    with timer:
        # forward: Stack, GetItem, Sum; backward: Sum, GetItem, then Stack, whose backward
        # makes the slice's sparse gradient dense (IndexedGrad.dense, which calls add_to:
        # two calls inside a timed call); then a's and b's _accumulate_grad
        stack([a, b])[0:1].sum().backward()
    assert (timer.calls, timer.nested) == (8, 2)
    assert [vars(owner)[name] for owner, name in timer.functions] == timer.originals
    np.testing.assert_array_equal(a.grad, [1.0, 1.0])


def test_the_op_timer_puts_every_function_back_after_an_error():
    timer = OpTimer()
    before = [vars(owner)[name] for owner, name in timer.functions]
    with pytest.raises(ValueError, match="MatMul"):
        with timer:
            Tensor(np.ones((2, 3))) @ Tensor(np.ones((2, 3)))
    assert [vars(owner)[name] for owner, name in timer.functions] == before


def test_the_split_prints_its_table_and_puts_every_function_back(capsys):
    functions = timed_functions()
    assert {(ops.Linear, "forward"), (ops.Tanh, "backward"), (grads.IndexedGrad, "add_to")} <= set(functions)
    before = [vars(owner)[name] for owner, name in functions]
    split_tinygrad("tiny", seconds=0.001)
    assert [vars(owner)[name] for owner, name in functions] == before
    table = capsys.readouterr().out
    calls = re.search(r"inside the ops and gradient sums \(([\d,]+) outermost calls\)", table)
    assert calls and int(calls.group(1).replace(",", "")) > 0, table
    assert "the whole step" in table and "hand-written step" in table


def test_compare_commits_pairs_samples_of_two_processes(capsys):
    from benchmarks.compare_commits import main

    main(["WORKTREE", "WORKTREE", "--configs", "tiny", "--rounds", "1", "--pairs", "2", "--seconds", "0.01"])
    lines = capsys.readouterr().out.splitlines()
    assert "1 rounds of two processes, 2 paired samples" in lines[0]
    row = next(line for line in lines if line.startswith("| tiny |")).strip("|").split("|")
    base, new, ratio = (float(cell.split()[0]) for cell in row[1:4])
    assert base > 0 and new > 0 and ratio > 0


def test_compare_commits_refuses_fewer_than_two_pairs():
    from benchmarks.compare_commits import main

    with pytest.raises(SystemExit):
        main(["WORKTREE", "WORKTREE", "--rounds", "1", "--pairs", "1"])
