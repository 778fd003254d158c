"""Tensor basics: construction and dtypes, properties, repr, detach, names, and dtype through ops."""
import numpy as np
import pytest

from tinygrad_rnn import Tensor, ones, scope, zeros


@pytest.mark.parametrize("data", [3, 2.5, True, [1, 2, 3], [[1.0, 2], [3, 4]], (1, 2)])
def test_python_numbers_and_lists_become_float64(data):
    t = Tensor(data)
    assert t.dtype == np.float64
    np.testing.assert_array_equal(t.numpy(), np.array(data, dtype=np.float64))


def test_float32_on_request_and_kept_by_ops_with_python_numbers():
    x = Tensor([1.0, 2.0, 4.0], dtype=np.float32, requires_grad=True)
    assert x.dtype == np.float32
    results = [x + 1, 1 + x, x - 0.5, 2 - x, x * 3.0, 0.5 * x, x / 3, 1 / x, -x, x ** 2, x ** 0.5, 2 ** x,
               x.exp(), x.log(), x.tanh(), x.sigmoid(), x.relu(), x.clip(1.5, 3.0), x.softmax(), x.log_softmax(),
               x.logsumexp(), x.sum(), x.mean(), x.max(), x.reshape(3, 1), x.T, x[1:], x @ x, x + [1.0, 2.0, 3.0]]
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
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.size == 24 and len(t) == 2
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
