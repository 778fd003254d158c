"""Tensor basics: construction and dtypes, properties, repr, detach, names, and dtype through ops."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, ones, scope, stack, zeros


@pytest.mark.parametrize("data", [3, 2.5, True, [1, 2, 3], [[1.0, 2], [3, 4]], (1, 2)])
def test_python_numbers_and_lists_become_float64(data):
    t = Tensor(data)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=np.float64))


def test_float32_on_request_and_kept_by_ops_with_python_numbers():
    x = Tensor([1.0, 2.0, 4.0], dtype=np.float32, requires_grad=True)
    assert x.dtype == np.float32
    results = [
        x + 1,
        1 + x,
        x - 0.5,
        2 - x,
        x * 3.0,
        0.5 * x,
        x / 3,
        1 / x,
        -x,
        x**2,
        x**0.5,
        2**x,
        x.exp(),
        x.log(),
        x.tanh(),
        x.sigmoid(),
        x.relu(),
        x.clip(1.5, 3.0),
        x.softmax(),
        x.log_softmax(),
        x.logsumexp(),
        x.sum(),
        x.mean(),
        x.max(),
        x.reshape(3, 1),
        x.T,
        x[1:],
        x @ x,
        x + [1.0, 2.0, 3.0],
    ]
    for r in results:
        assert r.dtype == np.float32, r
    sum(r.sum() for r in results).backward()
    assert x.grad.dtype == np.float32


def test_numpy_arrays_keep_their_dtype_and_are_copied():
    source = np.array([1.0, 2.0], dtype=np.float32)
    t = Tensor(source)
    assert t.dtype == np.float32
    source[0] = 99.0
    assert t.numpy()[0] == 1.0
    ints = Tensor(np.array([1, 2]))
    assert ints.dtype == np.int64 and not ints.requires_grad
    assert Tensor(np.float32(2.0)).dtype == np.float32
    assert Tensor(np.arange(3), dtype=np.float64).dtype == np.float64
    copied = Tensor(t)
    assert copied.numpy() is not t.numpy() and copied.dtype == np.float32


def test_integer_tensor_with_a_fraction_is_not_rounded():
    ints = Tensor(np.array([1, 2, 3]))
    np.testing.assert_array_equal((ints * 0.5).numpy(), [0.5, 1.0, 1.5])
    np.testing.assert_array_equal((1 / ints).numpy(), [1.0, 0.5, 1 / 3])
    assert (ints + 1).dtype == np.int64


def test_properties():
    t = Tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and t.size() == (2, 3, 4) and len(t) == 2
    assert t.is_leaf and t.op is None and t.grad is None and not t.requires_grad
    s = Tensor(5.0)
    assert s.shape == () and s.ndim == 0
    with pytest.raises(TypeError, match="len"):
        len(s)


def test_numpy_shares_and_item_returns_a_python_number():
    t = Tensor([[3.5]])
    assert t.numpy() is t.data
    value = t.item()
    assert value == 3.5 and type(value) is float
    assert Tensor(np.array([7], dtype=np.int64)).item() == 7


def test_an_op_output_records_its_op_and_requires_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.requires_grad and not y.is_leaf and type(y.op).__name__ == "Mul"
    assert y.op.parents[0] is x
    z = Tensor([1.0, 2.0]) * 2
    assert not z.requires_grad and z.op is None


def test_detach_shares_data_and_leaves_the_graph():
    x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x * 3
    d = y.detach()
    assert d.numpy() is y.numpy()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    assert x.name == "x" and x.detach().name == "x" and y.name is None


def test_repr_shows_values_dtype_op_name_and_scope():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    x = Tensor([1.0, 2.0], requires_grad=True, name="weight")
    assert repr(x) == "Tensor([1., 2.], requires_grad=True, name='weight')"
    assert repr(Tensor([1.0], dtype=np.float32)) == "Tensor([1.], dtype=float32)"
    assert "op=Mul" in repr(x * 2)
    with scope("t=0"):
        assert repr(x + 1).endswith("op=Add, scope='t=0')")


def test_zeros_and_ones():
    z = zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float64 and not z.numpy().any()
    o = ones((4,), requires_grad=True, dtype=np.float32)
    assert o.shape == (4,) and o.requires_grad and o.dtype == np.float32 and o.numpy().all()


def test_requires_grad_and_retain_grad_return_the_tensor():
    x = Tensor([1.0])
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.retain_grad() is y


def test_argmax_and_indexing_with_tensors_and_lists():
    x = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    np.testing.assert_array_equal(x.argmax(axis=1).numpy(), [1, 0])
    picked = x[Tensor(np.array([1, 1, 0])), [2, 2, 0]]
    np.testing.assert_array_equal(picked.numpy(), [3.0, 3.0, 1.0])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])


def test_iteration_walks_the_first_axis():
    rows = list(Tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert len(rows) == 2 and rows[1].numpy().tolist() == [3.0, 4.0]


def test_numpy_asarray_gives_the_values_not_an_object_array():
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    array = np.asarray(t)
    assert array.dtype == np.float64 and array.shape == (2, 2)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert isinstance(np.ones(2) * t, Tensor)


def test_a_float16_mean_of_many_elements_accumulates_without_overflow():
    assert Tensor(np.full(70000, 0.5, dtype=np.float16)).mean().item() == 0.5


# ---------------------------------------------------------------- dtypes promote as in PyTorch

F32 = np.float32


@pytest.mark.parametrize(
    "other",
    [
        2.0,
        3,
        np.float64(0.5),
        Tensor(np.float64(1.5)),
        np.array(2.0),
        np.array([1, 2], dtype=np.int64),
        [1.0, 2.0],
        True,
    ],
    ids=["float", "int", "np.float64", "0-d float64 tensor", "0-d float64 array", "int64 array", "list", "bool"],
)
def test_a_float32_tensor_stays_float32_beside_numbers_0d_tensors_and_integer_arrays(other):
    x = Tensor(np.array([1.0, 2.0], dtype=F32), requires_grad=True)
    results = [x + other, other + x, x * other, other * x, x / other]
    if other is not True:  # subtracting a bool is refused, as in PyTorch
        results += [x - other, other - x]
    for result in results:
        assert result.dtype == F32, type(other)
    (x * other).sum().backward()
    assert x.grad.dtype == F32


def test_a_0d_float64_leaf_beside_float32_gets_its_gradient_in_float64():
    x = Tensor(np.array([1.0, 2.0], dtype=F32), requires_grad=True)
    scale = Tensor(np.float64(3.0), requires_grad=True)
    out = x * scale
    assert out.dtype == F32
    out.sum().backward()
    assert scale.grad.dtype == np.float64 and scale.grad == 3.0 and x.grad.dtype == F32


def test_clip_bounds_and_exponents_given_as_numpy_scalars_keep_float32():
    x = Tensor(np.array([-1.0, 0.25, 2.0], dtype=F32))
    assert x.clip(np.float64(0.0), np.float64(1.0)).dtype == F32
    assert (x ** np.float64(2.0)).dtype == F32 and x.clamp(min=np.float64(0.0)).dtype == F32


def test_integers_promote_to_the_default_float_and_mixed_stacks_promote():
    i = Tensor(np.array([1, 2]))
    assert (i + 0.5).dtype == np.float64 and (i + Tensor(np.float64(1.5))).dtype == np.float64
    assert (i + 1).dtype == np.int64
    wide = Tensor(np.ones(2))
    narrow = Tensor(np.ones(2, dtype=F32), requires_grad=True)
    stacked = stack([narrow, wide])
    assert stacked.dtype == np.float64
    stacked.sum().backward()
    assert narrow.grad.dtype == F32


def test_result_dtypes_match_pytorchs():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
    from tinygrad_rnn.tensors import result_dtype

    as_torch = {
        np.float32: torch.float32,
        np.float64: torch.float64,
        np.int64: torch.int64,
        np.int32: torch.int32,
        np.bool_: torch.bool,
    }
    tensors = {
        f"{d.__name__}{'' if shape else ' 0-d'}": (np.ones(shape, dtype=d), torch.ones(shape, dtype=as_torch[d]))
        for d in as_torch
        for shape in ((2,), ())
    }
    numbers = {"1.5": 1.5, "2": 2, "True": True}
    for name_a, (a, ta) in tensors.items():
        for name_b, (b, tb) in {**tensors, **{k: (v, v) for k, v in numbers.items()}}.items():
            ours = result_dtype(Tensor(a), b if name_b in numbers else Tensor(b))
            theirs = torch.result_type(ta, tb)
            if theirs == torch.float32 and ours == np.float64 and name_b == "1.5" and a.dtype.kind != "f":
                continue  # an integer tensor times a Python float: PyTorch's default float is float32, ours float64
            assert as_torch[ours.type] == theirs, (name_a, name_b, ours, theirs)


def test_a_float32_linear_layer_casts_a_float64_input():
    from tinygrad_rnn import nn

    layer = nn.Linear(3, 2, dtype=F32, rng=0)
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    y = layer(x)
    assert y.dtype == F32
    y.sum().backward()
    assert x.grad.dtype == np.float64 and layer.weight.grad.dtype == F32
    np.testing.assert_allclose(x.grad, np.tile(layer.weight.data.sum(axis=0), (4, 1)), rtol=1e-6)


# ---------------------------------------------------------------- comparisons and Python numbers


def test_comparisons_give_bool_tensors_without_gradient():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = Tensor([3.0, 2.0, 1.0])
    for result, expected in (
        (x < y, [True, False, False]),
        (x <= y, [True, True, False]),
        (x > 2, [False, False, True]),
        (x >= 2, [False, True, True]),
        (x == y, [False, True, False]),
        (x != y, [True, False, True]),
        (2.0 < x, [False, False, True]),
        (np.array([1.0, 5.0, 3.0]) == x, [True, False, True]),
    ):
        assert isinstance(result, Tensor) and result.dtype == np.bool_ and not result.requires_grad
        np.testing.assert_array_equal(result.numpy(), expected)
    assert (x == "a") is False and (x != None) is True  # noqa: E711 -- not comparable: Python's identity rule


def test_float32_and_float64_compare_after_promotion_as_in_pytorch():
    tenth = Tensor(np.array([0.1], dtype=F32))
    assert (tenth == Tensor(np.float64(0.1))).numpy().all()  # the 0-d float64 operand is rounded to float32 first


def test_bool_float_and_int_of_one_element():
    assert bool(Tensor(1.0)) is True and bool(Tensor([0.0])) is False
    assert float(Tensor([[2.5]])) == 2.5 and int(Tensor(-3.7)) == -3 and int(Tensor(np.array(7))) == 7
    x = Tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"bool\(\): the truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(x)
    with pytest.raises(
        ValueError,
        match=r"float\(\): only a one-element tensor converts to a Python number, got shape \(2,\)",
    ):
        float(x)
    with pytest.raises(
        ValueError,
        match=r"int\(\): only a one-element tensor converts to a Python number, got shape \(0,\)",
    ):
        int(Tensor(np.zeros(0)))
    if Tensor(3.0) > 2:  # a comparison used as a condition
        pass
    else:
        pytest.fail("Tensor(3.0) > 2 is true")


def test_tensors_hash_by_identity_so_dicts_sets_and_the_backward_walk_still_work():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b, a}) == 2
    assert a in [a, b] and a in {a}
    (a * b + a).sum().backward()
    np.testing.assert_array_equal(a.grad, [2.0, 3.0])
