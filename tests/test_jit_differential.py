"""jit(step) against the eager step on twin models, in the ways a training loop uses a recurrent
layer: the loss built from the outputs in several ways, h_0 given (and learned), inputs that
need their gradient, several calls with the parameters changed in place, gradients accumulated,
NaN and inf arriving after the trace, and a new sequence length.

Every call compares the loss, every parameter's .grad and the inputs' .grad: to 1e-12 relative
in float64 (sums may be reordered), with NaN and inf exactly where eager puts them. The last
cases are ones these comparisons once found failing.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import jit
from tinygrad_rnn.nn import functional as F


def assert_same(got, expected, what: str) -> None:
    """got (compiled) equals expected (eager): None-ness, shape, dtype, NaN and inf places, and
    the finite values to 1e-12 relative (1e-4 in float32) plus 1e-14 of the array's largest."""
    if expected is None or got is None:
        assert got is None and expected is None, what
        return
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype, what
    assert np.array_equal(np.isnan(got), np.isnan(expected)), f"{what}: NaN in other places"
    infinite = np.isinf(expected)
    assert np.array_equal(np.isinf(got), infinite) and np.array_equal(got[infinite], expected[infinite]), (
        f"{what}: inf in other places"
    )
    finite = np.isfinite(expected)
    if finite.any():
        rtol, atol = (1e-12, 1e-14) if expected.dtype == np.float64 else (1e-4, 1e-5)
        scale = np.abs(expected[finite]).max()
        np.testing.assert_allclose(got[finite], expected[finite], rtol=rtol, atol=atol * scale, err_msg=what)


class Net(nn.Module):
    """An optional Linear (+ tanh) or Embedding, a recurrent layer and two heads."""

    def __init__(self, kind, hidden, layers=1, bidirectional=False, batch_first=False, pre=None, dtype=np.float64):
        super().__init__()
        inputs = 3
        if pre == "linear":
            self.pre = nn.Linear(3, 4, rng=5, dtype=dtype)
            inputs = 4
        elif pre == "embedding":
            self.pre = nn.Embedding(7, 4, rng=5, dtype=dtype)
            inputs = 4
        options = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, rng=0, dtype=dtype)
        if kind in ("tanh", "relu"):
            self.rnn = nn.RNN(inputs, hidden, nonlinearity=kind, **options)
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](inputs, hidden, **options)
        width = hidden * (2 if bidirectional else 1)
        self.head, self.head2 = nn.Linear(width, 3, rng=1, dtype=dtype), nn.Linear(width, 1, rng=2, dtype=dtype)
        self.pre_kind, self.kind, self.batch_first = pre, kind, batch_first


def loss_of(net: Net, loss: str, x, y, hx):
    if net.pre_kind is not None:
        x = net.pre(x)
        if net.pre_kind == "linear":
            x = x.tanh()
    out, h_n = net.rnn(x, hx)
    last = out[:, -1] if net.batch_first else out[-1]
    h_last = h_n[0] if net.kind == "lstm" else h_n
    if loss == "mse_last":
        return F.mse_loss(net.head(last), y)
    if loss == "mse_all":
        return F.mse_loss(net.head(out), y)
    if loss == "ce_all":
        return F.cross_entropy(net.head(out).reshape(-1, 3), y.reshape(-1))
    if loss == "heads":
        return F.mse_loss(net.head(last), y) + (net.head2(out) ** 2).mean() + 0.5 * h_last.sum()
    if loss == "out_and_h_n":
        return out.sum() + h_last.sum()
    raise ValueError(loss)


def make_step(net: Net, loss: str):
    def step(x, y, *hx):
        value = loss_of(net, loss, x, y, (tuple(hx) if net.kind == "lstm" else hx[0]) if hx else None)
        value.backward()
        return value

    return step


def data(rng, net: Net, loss: str, steps: int, batch: int, h0: str, hidden: int, layers: int, directions: int):
    dtype = net.head.weight.data.dtype
    shape = (batch, steps) if net.batch_first else (steps, batch)
    x = rng.integers(0, 7, shape) if net.pre_kind == "embedding" else rng.standard_normal(shape + (3,)).astype(dtype)
    if loss in ("mse_last", "heads"):
        y = rng.standard_normal((batch, 3)).astype(dtype)
    elif loss == "mse_all":
        y = rng.standard_normal(shape + (3,)).astype(dtype)
    elif loss == "ce_all":
        y = rng.integers(0, 3, shape)
    else:
        y = np.zeros(1, dtype)
    states = 2 if net.kind == "lstm" else 1
    size = (layers * directions, batch, hidden)
    hx = [] if h0 == "none" else [rng.standard_normal(size).astype(dtype) for _ in range(states)]
    return x, y, hx


def run_twins(
    kind,
    hidden=5,
    layers=1,
    bidirectional=False,
    batch_first=False,
    pre=None,
    dtype=np.float64,
    loss="mse_last",
    steps=(6, 6, 6),
    batch=2,
    h0="none",
    input_grad=False,
    update="in place",
    zero_grad=True,
    poison=None,
):
    """Runs the step eagerly and compiled on twin nets, one call per entry of `steps` (the
    sequence length of that call), and compares after every call. `poison(x, nets)` may change
    the last call's input (returned) or both nets' parameters after the trace."""
    nets = [Net(kind, hidden, layers, bidirectional, batch_first, pre, dtype) for _ in range(2)]
    eager, compiled = make_step(nets[0], loss), jit(make_step(nets[1], loss))
    rng = np.random.default_rng(len(steps) * 100 + hidden)
    directions = 2 if bidirectional else 1
    for call, length in enumerate(steps):
        x, y, hx = data(rng, nets[0], loss, length, batch, h0, hidden, layers, directions)
        if poison is not None and call == len(steps) - 1:
            x = poison(x, nets)
        inputs = []
        for _ in nets:
            xi = Tensor(x.copy(), requires_grad=True) if input_grad else x
            hi = [Tensor(h.copy(), requires_grad=h0 == "learned") if h0 != "array" else h.copy() for h in hx]
            inputs.append((xi, hi))
        if zero_grad:
            for net in nets:
                net.zero_grad()
        with np.errstate(all="ignore"):
            expected = eager(inputs[0][0], y, *inputs[0][1])
            got = compiled(inputs[1][0], y, *inputs[1][1])
        where = f"call {call} (T={length})"
        assert_same(got.data, expected.data, f"{where}: loss")
        for (name, p), q in zip(nets[0].named_parameters(), nets[1].parameters()):
            assert_same(q.grad, p.grad, f"{where}: {name}.grad")
        if input_grad:
            assert_same(inputs[1][0].grad, inputs[0][0].grad, f"{where}: x.grad")
        if h0 == "learned":
            for k, (mine, theirs) in enumerate(zip(inputs[1][1], inputs[0][1])):
                assert_same(mine.grad, theirs.grad, f"{where}: h0[{k}].grad")
        for net in nets:
            for p in net.parameters():
                if p.grad is not None and update == "in place":
                    p.data -= (0.1 * np.nan_to_num(p.grad, nan=0.0, posinf=0.0, neginf=0.0)).astype(p.data.dtype)
    return compiled


# (kind, options): each a configuration the random search ran, spread over what it varies
CASES = [
    ("tanh", dict(layers=3, bidirectional=True, loss="heads", h0="learned", steps=(1, 1, 1))),
    ("relu", dict(layers=2, batch_first=True, loss="mse_all", input_grad=True, steps=(13, 13))),
    ("lstm", dict(layers=2, bidirectional=True, batch_first=True, loss="ce_all", h0="learned", steps=(7, 7, 7))),
    ("gru", dict(layers=3, pre="embedding", loss="heads", h0="array", steps=(5, 5, 5))),
    ("lstm", dict(hidden=32, pre="linear", input_grad=True, steps=(50, 50))),  # 4 * 32 * 32: the isfinite path
    ("tanh", dict(hidden=64, dtype=np.float32, loss="mse_all", steps=(9, 9, 9))),  # 64 * 64: the isfinite path
    ("gru", dict(hidden=70, bidirectional=True, loss="heads", batch=1, steps=(12, 12))),
    ("relu", dict(hidden=1, layers=2, batch=4, loss="ce_all", zero_grad=False, steps=(3, 3, 3))),
    ("gru", dict(hidden=8, h0="learned", loss="mse_all", steps=(4, 9, 4, 9))),  # new lengths, then old ones
    ("lstm", dict(hidden=3, layers=3, loss="heads", update="none", zero_grad=False, steps=(11, 11, 11))),
    ("tanh", dict(hidden=16, layers=2, batch_first=True, loss="out_and_h_n", h0="array", steps=(8, 8))),
    ("lstm", dict(hidden=5, loss="out_and_h_n", steps=(6, 6))),
]


@pytest.mark.parametrize("kind, options", CASES)
def test_compiled_steps_match_eager_call_after_call(kind, options):
    run_twins(kind, **options)


def _nan_input(x, nets):
    x = x.copy()
    x[2, 0, 1] = np.nan
    return x


def _inf_weight(x, nets):
    for net in nets:
        net.rnn.weight_hh_l0.data[1, 0] = np.inf
    return x


@pytest.mark.parametrize("kind", ["tanh", "relu", "lstm", "gru"])
@pytest.mark.parametrize("hidden", [4, 64])
@pytest.mark.parametrize("poison", [_nan_input, _inf_weight], ids=["nan_input", "inf_weight"])
def test_nan_and_inf_after_the_trace_land_where_eager_puts_them(kind, hidden, poison):
    run_twins(kind, hidden=hidden, layers=2, loss="mse_all", steps=(7, 7), poison=poison)


def _nan_at_the_first_step(x, nets):
    x = x.copy()
    x[0, 1, 2] = np.nan
    return x


# the top layer's backward step t = 0 written after its loop (h_0 not given, the loss from out[-1])
PADDED = [
    ("tanh", dict(layers=2, input_grad=True, zero_grad=False, steps=(3, 3, 3), poison=_nan_at_the_first_step)),
    ("relu", dict(layers=3, dtype=np.float32, input_grad=True, steps=(12, 12, 12))),
    ("tanh", dict(hidden=64, batch=1, input_grad=True, steps=(3, 5, 3, 5))),  # retraced, then both programs again
]


@pytest.mark.parametrize("kind, options", PADDED)
def test_the_first_step_after_the_backward_loop_matches_eager(kind, options):
    compiled = run_twins(kind, **options)
    assert "/t=0, the loop's last step" in compiled.source


# ---------------------------------------------------------------- once failing


@pytest.mark.parametrize(
    "kind, options",
    [
        ("tanh", dict(hidden=3, loss="out_and_h_n", batch=1, steps=(4, 4))),
        ("relu", dict(hidden=3, loss="out_and_h_n", batch=1, steps=(4, 4))),
        ("relu", dict(hidden=8, loss="heads", batch=3, steps=(5, 5))),
        ("gru", dict(hidden=64, loss="heads", batch=2, steps=(11, 11))),
    ],
)
def test_a_loss_of_every_output_and_h_n_runs_compiled(kind, options):
    run_twins(kind, **options)


@pytest.mark.parametrize("kind, hidden", [("tanh", 64), ("gru", 40), ("lstm", 32)])
def test_inf_in_a_weight_after_the_trace_of_two_steps(kind, hidden):
    run_twins(kind, hidden=hidden, batch=1, loss="mse_last", steps=(2, 2), poison=_inf_weight)


def _inf_last_input(x, nets):
    x = x.copy()
    x[-1, 0, 0] = np.inf
    return x


def test_inf_in_the_input_of_a_relu_layer_of_two_steps():
    run_twins("relu", hidden=64, batch=1, loss="mse_last", steps=(2, 2), poison=_inf_last_input)


@pytest.mark.parametrize("kind, hidden", [("tanh", 64), ("gru", 40), ("lstm", 32)])
@pytest.mark.parametrize("length", [1, 3])
def test_inf_in_a_weight_after_the_trace_of_one_or_three_steps(kind, hidden, length):
    run_twins(kind, hidden=hidden, batch=1, loss="mse_last", steps=(length, length), poison=_inf_weight)


def _huge_first_input(x, nets):
    x = x.copy()
    x[0, 0, 0] = 1e300
    return x


def _huge_input_bias(x, nets):
    for net in nets:
        net.rnn.bias_ih_l0.data[0] = 1e300
    return x


@pytest.mark.parametrize("length", [3, 8])
@pytest.mark.parametrize("poison", [_huge_first_input, _huge_input_bias], ids=["input", "bias"])
def test_products_that_overflow_in_opposite_signs_sum_to_nan_as_eagerly(length, poison):
    """Finite inputs whose relu states overflow W_hh's per-step products: one step's +inf and
    another's -inf make NaN eagerly, where one product over every step's rows makes +inf or -inf."""
    run_twins("relu", hidden=4, batch=2, loss="mse_last", steps=(length, length), poison=poison)


def test_inputs_named_as_the_loop_counters_stay_inputs():
    """The program's loops count with t and i: a step taking `t` and `i` still reads its inputs."""
    nets = [Net("tanh", 5) for _ in range(2)]

    def make(net):
        def step(t, i):
            loss = F.mse_loss(net.head(net.rnn(t)[0][-1]), i)
            loss.backward()
            return loss

        return step

    eager, compiled = make(nets[0]), jit(make(nets[1]))
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 3))
        for net in nets:
            net.zero_grad()
        assert_same(compiled(x, y).data, eager(x, y).data, "loss")
        for (name, p), q in zip(nets[0].named_parameters(), nets[1].parameters()):
            assert_same(q.grad, p.grad, f"{name}.grad")
    assert "for t in range(" in compiled.source
