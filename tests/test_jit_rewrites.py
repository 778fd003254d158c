"""The rewrites between the trace and the program: they keep every value (exactness is tested
in test_jit.py); here, that each fires where it may and never where an in-place write could
tell two arrays apart."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.jit import jit
from tinygrad_rnn.jit.ir import Literal, Ref, Stmt, Var
from tinygrad_rnn.jit.simplify import simplify
from tinygrad_rnn.nn import functional as F


def var(number, shape=(2, 3), dtype=np.float64, source=None, value=None):
    v = Var(number, f"v{number}", shape, np.dtype(dtype), source)
    v.value = value
    return v


def stmt(kind, target, args, out=None, writes=None):
    s = Stmt(kind, target, tuple(args), {}, outs=(out,) if out is not None else (), writes=writes)
    if out is not None:
        out.stmt = s
    return s


def test_times_one_is_the_array_itself_when_nothing_writes_into_either():
    a, c = var(1, source=("arg", 0)), var(2, source=("arg", 1))
    b, d = var(3), var(4)
    stmts = [stmt("binop", "*", (Ref(a), 1), b), stmt("binop", "+", (Ref(b), Ref(c)), d)]
    kept, outputs = simplify(stmts, [d])
    assert [s.target for s in kept] == ["+"]
    assert kept[0].args[0].var is a and outputs == [d]


def test_times_one_stays_when_the_result_is_written_in_place():
    a, c = var(1, source=("arg", 0)), var(2, source=("arg", 1))
    b = var(3)
    stmts = [stmt("binop", "*", (Ref(a), 1), b), stmt("inplace", "+=", (Ref(b), Ref(c)), writes=b)]
    kept, _ = simplify(stmts, [b])
    assert [s.target for s in kept] == ["*", "+="]  # b += c must not change a


def test_a_copy_stays_when_its_source_is_written_through_a_view():
    a, c = var(1), var(2, source=("arg", 0))
    copy, view = var(3), var(4)
    stmts = [
        stmt("call", "np.zeros", ((2, 3),), a),
        stmt("call", "np.array", (Ref(a),), copy),
        stmt("getitem", "", (Ref(a), 0), view),
        stmt("inplace", "+=", (Ref(view), Ref(c)), writes=view),
    ]
    kept, _ = simplify(stmts, [copy])
    assert "np.array" in [s.target for s in kept]


def test_a_constant_becomes_a_number_of_the_dtype_that_keeps_the_result_dtype():
    g = var(1, dtype=np.float32, source=("arg", 0))
    ones, out = var(2, shape=(1, 1), value=np.array(1.0)), var(3, dtype=np.float64)
    stmts = [stmt("call", "np.ones", ((1, 1),), ones), stmt("binop", "*", (Ref(ones), Ref(g)), out)]
    kept, _ = simplify(stmts, [out])
    number = kept[-1].args[0]
    # float64 ones times float32 g is float64: a Python 1.0 would give float32, so a float64 scalar
    assert isinstance(number, Literal) and number.value.dtype == np.float64
    assert kept[-1].target == "*"  # and 1.0 * g is not g: the dtype differs


def test_a_python_number_where_the_dtype_allows():
    g = var(1, source=("arg", 0))
    minus_one, out = var(2, shape=(1, 1), value=np.array(-1.0)), var(3)
    stmts = [stmt("call", "np.full", ((1, 1), -1.0), minus_one), stmt("binop", "*", (Ref(minus_one), Ref(g)), out)]
    kept, _ = simplify(stmts, [out])
    assert kept[-1].args[0] == -1.0 and type(kept[-1].args[0]) is float


def test_a_step_that_multiplies_by_one_and_writes_in_place_matches_eager():
    w = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)

    def step(x):
        y = w * 1.0
        z = (y + x) * 1.0
        loss = (z * z).sum()
        loss.backward()
        return loss

    x = np.ones((2, 3))
    step(x)
    eager = w.grad.copy()
    w.grad = None
    compiled = jit(step)
    for _ in range(3):
        w.grad = None
        loss = compiled(x)
        np.testing.assert_array_equal(w.grad, eager)
    assert loss.item() == step(x).item()


@pytest.mark.parametrize("kind", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("layers", [1, 2])
def test_programs_that_read_every_output_match_eager_on_inputs_and_weights(kind, layers):
    x = Tensor(np.random.default_rng(1).standard_normal((9, 2, 3)), requires_grad=True)
    rnn, head = kind(3, 4, num_layers=layers, rng=0), nn.Linear(4, 1, rng=1)

    def step(inputs):
        out, _ = rnn(inputs)
        loss = F.mse_loss(head(out), np.zeros((9, 2, 1)))
        loss.backward()
        return loss

    step(x)
    eager = {"x": x.grad.copy(), **{n: p.grad.copy() for n, p in rnn.named_parameters()}}
    compiled = jit(step)
    for _ in range(2):
        x.grad = None
        rnn.zero_grad()
        compiled(x)
    np.testing.assert_allclose(x.grad, eager["x"], rtol=1e-12, atol=1e-15)
    for name, p in rnn.named_parameters():
        np.testing.assert_allclose(p.grad, eager[name], rtol=1e-12, atol=1e-15, err_msg=name)


def test_a_sum_over_axes_of_length_one_is_its_element_reshaped():
    w = Tensor(np.array([[-0.0]]), requires_grad=True)

    def step(x):
        loss = (w * x).sum()  # a (1, 1) array summed over both axes: one element
        loss.backward()
        return loss

    compiled = jit(step)
    compiled(np.array([[1.0]]))
    loss = compiled(np.array([[1.0]]))
    assert ".reshape(())" in compiled.source and ".sum(" not in compiled.source
    assert loss.item() == 0.0 and np.signbit(loss.item())  # -0.0 * 1.0 summed alone stays -0.0
    assert np.isnan(compiled(np.array([[np.nan]])).item())
