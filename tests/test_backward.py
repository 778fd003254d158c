"""The backward walk: gradients are added (fan-out, diamonds, broadcasting), graphs are freed,
retain_graph / retain_grad / retain_grads keep what they promise, and leaf grads accumulate."""

import gc
import weakref

import numpy as np
import pytest

from tinygrad_rnn import Tensor, retain_grads, scope, stack
from tinygrad_rnn.autograd import graph_nodes
from tinygrad_rnn.ops import Function
from tinygrad_rnn.tensors import linear


def leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def all_ops(root):
    """Every recorded op reachable from root (each once)."""
    return [node for node in graph_nodes(root) if isinstance(node, Function)]


# ------------------------------------------------------------------ fan-out and diamonds


def test_x_times_x_gets_both_uses():
    x = leaf([-1.5, 0.25, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.numpy())


def test_a_plus_a_twice_gives_four():
    a = leaf([[1.0, -2.0], [0.5, 7.0]])
    b = a + a
    c = b + b
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((2, 2), 4.0))


def test_product_with_a_shared_factor():
    a, b = leaf([0.3, -1.2, 2.5]), leaf([1.7, 0.4, -0.9])
    y = (a + b) * a  # dy/da = 2a + b, dy/db = a
    y.sum().backward()
    np.testing.assert_allclose(a.grad, 2 * a.numpy() + b.numpy(), rtol=1e-15, atol=0)
    np.testing.assert_array_equal(b.grad, a.numpy())


def test_diamond_through_two_different_ops():
    a = leaf([0.1, -0.7, 1.3])
    left, right = a.exp(), a.tanh()
    (left * right).sum().backward()
    x = a.numpy()
    expected = np.exp(x) * np.tanh(x) + np.exp(x) * (1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(a.grad, expected, rtol=1e-15, atol=0)


def test_one_tensor_used_many_times_in_one_op_list():
    a = leaf([2.0, -3.0])
    stack([a, a, a * 2, a]).sum().backward()
    np.testing.assert_array_equal(a.grad, [5.0, 5.0])


def test_repeated_indices_add_up():
    x = leaf([10.0, 20.0, 30.0, 40.0])
    x[[0, 0, 2, 0, -1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0, 1.0])
    m = leaf(np.zeros((3, 2)))
    (m[np.array([2, 2]), 1] * Tensor([1.5, 2.0])).sum().backward()
    np.testing.assert_array_equal(m.grad, [[0.0, 0.0], [0.0, 0.0], [0.0, 3.5]])


# ------------------------------------------------------------------ broadcasting


def test_bias_of_shape_h_added_to_n_by_h_sums_over_the_batch():
    rng = np.random.RandomState(3)
    x = Tensor(rng.randn(5, 4), requires_grad=True)
    bias = leaf(rng.randn(4))
    weights = rng.randn(5, 4)
    ((x + bias) * weights).sum().backward()
    assert bias.grad.shape == (4,)
    np.testing.assert_array_equal(bias.grad, weights.sum(axis=0))
    np.testing.assert_array_equal(x.grad, weights)


@pytest.mark.parametrize("bias_shape, summed_axes", [((1, 4), (0,)), ((5, 1), (1,)), ((), (0, 1)), ((1, 1), (0, 1))])
def test_every_broadcast_operand_gets_its_own_shape_back(bias_shape, summed_axes):
    rng = np.random.RandomState(4)
    x = Tensor(rng.randn(5, 4), requires_grad=True)
    bias = leaf(rng.randn(*bias_shape))
    weights = rng.randn(5, 4)
    ((x - bias) * weights).sum().backward()
    assert bias.grad.shape == bias_shape
    np.testing.assert_allclose(bias.grad, -weights.sum(axis=summed_axes).reshape(bias_shape), rtol=1e-15)


def test_leading_batch_dims_are_summed_for_a_shared_weight():
    rng = np.random.RandomState(5)
    x = Tensor(rng.randn(2, 3, 4, 5))
    w = leaf(rng.randn(5, 6))
    (x @ w).sum().backward()
    np.testing.assert_allclose(w.grad, x.numpy().reshape(-1, 5).sum(axis=0)[:, None] * np.ones((1, 6)), rtol=1e-13)


# ------------------------------------------------------------------ accumulation and retention


def test_leaf_gradients_accumulate_across_separate_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 3 + 2 * x.numpy())
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_retain_graph_allows_a_second_backward_and_grads_double():
    x = leaf([0.5, -1.0, 2.0])
    loss = (x.tanh() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-15)


def test_second_backward_without_retain_graph_is_a_clear_error():
    x = leaf([0.5, -1.0])
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match=r"already released.*retain_graph=True"):
        loss.backward()


def test_backward_frees_every_saved_array_unless_asked_to_keep_them():
    x = leaf([[0.5, -1.0], [2.0, 0.1]])
    loss = ((x @ x).exp().log() * x).relu().logsumexp()
    ops = all_ops(loss)
    assert len(ops) == 6 and all(op.saved is not None for op in ops)
    loss.backward(retain_graph=True)
    assert all(op.saved is not None and not op.released for op in ops)
    loss.backward()
    assert all(op.saved is None and op.released for op in ops)


def test_a_non_leaf_keeps_its_gradient_only_when_asked():
    x = leaf([1.0, -2.0, 3.0])
    h = x * 2
    kept = (x * 3).retain_grad()
    (h * h + kept).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad, np.ones(3))
    np.testing.assert_array_equal(x.grad, 8 * x.numpy() + 3)


def test_retain_grads_context_keeps_every_intermediate_gradient():
    x = leaf([0.2, -0.4])
    h = x * 2
    y = h.tanh()
    loss = y.sum()
    with retain_grads():
        loss.backward()
    np.testing.assert_array_equal(loss.grad, 1.0)
    np.testing.assert_array_equal(y.grad, np.ones(2))
    np.testing.assert_allclose(h.grad, 1 - np.tanh(h.numpy()) ** 2, rtol=1e-15)
    z = x * 5
    z.sum().backward()
    assert z.grad is None  # outside the context, intermediates go back to keeping nothing


def test_non_scalar_backward_takes_the_upstream_gradient():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    upstream = np.array([[0.5, -1.0], [2.0, 0.0]])
    (x * x).backward(gradient=upstream)
    np.testing.assert_array_equal(x.grad, 2 * x.numpy() * upstream)
    y = leaf([1.0, 2.0])
    (y * 3).backward(Tensor([1.0, -1.0]))
    np.testing.assert_array_equal(y.grad, [3.0, -3.0])


def test_backward_of_a_leaf_gives_ones():
    x = leaf(2.5)
    x.backward()
    assert x.grad == 1.0


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * x.detach()  # only the first factor is differentiated
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, x.numpy())


def test_constants_in_the_graph_get_no_gradient():
    x = leaf([1.0, 2.0])
    c = Tensor([5.0, 6.0])
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad


def test_graph_nodes_put_inputs_before_the_ops_that_use_them():
    a, b = leaf([1.0]), leaf([2.0])
    c = a * b
    d = c + a
    e = d * c
    f = (e + d).sum()
    order = graph_nodes(f)
    position = {id(node): i for i, node in enumerate(order)}
    assert len(position) == len(order) == 7  # the leaves a, b and five ops
    assert order[-1] is f.op and {id(a), id(b)} <= set(position)
    for node in order:
        for parent in getattr(node, "parents", ()):
            assert position[id(parent)] < position[id(node)]


def test_the_graph_keeps_no_intermediate_tensor_alive():
    x = leaf([1.0, 2.0])
    middle = x * 3.0
    middle_ref = weakref.ref(middle)
    loss = (middle.tanh() * 2.0).sum()
    del middle
    gc.collect()
    assert middle_ref() is None  # its op (Mul) is in the graph, not the tensor
    loss.backward()
    np.testing.assert_allclose(x.grad, 6.0 * (1 - np.tanh([3.0, 6.0]) ** 2))


def test_float32_leaves_get_float32_gradients():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x.max() + (x * 2.0).sum()).backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


def test_overlapping_slices_and_repeated_indices_add_into_one_gradient():
    rng = np.random.default_rng(11)
    x = Tensor(rng.standard_normal((6, 3)), requires_grad=True)
    w = rng.standard_normal((6, 3))
    y = (x[0:4] * w[0:4]).sum() + (x[2:6] * w[2:6]).sum() + x[[1, 1, 5]].sum() + (x * 2).sum()
    y.backward()
    expected = 2 + w.copy()
    expected[2:4] += w[2:4]
    expected[1] += 2
    expected[5] += 1
    np.testing.assert_allclose(x.grad, expected, rtol=1e-15)


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 2, 1, 0], [2, -1, 0, 1]])
def test_every_row_read_once_gives_each_row_its_own_gradient(order):
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    w = rng.standard_normal((4, 2, 3))
    loss = sum((x[t] * w[t]).sum() for t in order)
    loss.backward()
    np.testing.assert_array_equal(x.grad, w)


@pytest.mark.parametrize("order, counts", [([0, 0, 2], [2, 0, 1]), ([0, 1, 2, 2], [1, 1, 2])])
def test_rows_read_twice_or_not_at_all_add_up_to_their_counts(order, counts):
    x = Tensor(np.zeros((3, 2)), requires_grad=True)
    sum(x[t].sum() for t in order).backward()
    np.testing.assert_array_equal(x.grad, np.repeat(np.array(counts, float)[:, None], 2, axis=1))


def test_every_element_of_a_vector_read_once_gives_a_vector_gradient():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (x[2] * 3.0 + x[0] * 1.0 + x[1] * 2.0).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("axis, index", [(0, -1), (1, (slice(None), 1)), (0, (0, slice(1, None)))])
def test_a_stack_read_at_one_position_gives_the_gradients_of_a_dense_read(axis, index):
    a, b = leaf([[1.0, 2.0], [3.0, 4.0]]), leaf([[5.0, 6.0], [7.0, 8.0]])
    stacked = stack([a * 2.0, b, a], axis=axis)
    picked = stacked[index]
    weights = np.arange(1.0, picked.numel() + 1).reshape(picked.shape)
    (picked * weights).sum().backward()
    upstream = np.zeros(stacked.shape)
    upstream[index] = weights
    per_input = np.moveaxis(upstream, axis, 0)
    np.testing.assert_array_equal(a.grad, 2.0 * per_input[0] + per_input[2])
    np.testing.assert_array_equal(b.grad, per_input[1])  # zeros where b was not read


def test_inputs_of_a_stack_that_were_not_read_get_zero_gradients_and_their_ops_are_released():
    x = leaf([1.0, 2.0])
    unread = x.tanh()
    unread.retain_grad()
    read = x * 3.0
    stack([unread, read])[1].sum().backward()
    np.testing.assert_array_equal(unread.grad, [0.0, 0.0])  # as PyTorch: zeros, not None
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    with pytest.raises(RuntimeError, match=r"already released \(at Tanh"):
        unread.sum().backward()


@pytest.mark.parametrize("index", [True, (True,), (slice(None), True)])
def test_a_boolean_index_is_a_mask_not_position_one(index):
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    made = x * 1.0
    expected = np.zeros((2, 2))
    picked = made[index]
    weights = np.arange(1.0, picked.numel() + 1).reshape(picked.shape)
    ((picked * weights).sum() + (stack([x, made])[index] * 2.0).sum()).backward()
    np.add.at(expected, index, weights.reshape(np.zeros((2, 2))[index].shape))
    both = np.zeros((2, 2, 2))
    both[index] = 2.0
    np.testing.assert_array_equal(x.grad, expected + both[0] + both[1])


def test_a_weight_shared_by_many_steps_gets_the_sum_of_its_per_step_products():
    rng = np.random.default_rng(1)
    w = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    xs = [rng.normal(size=(4, 2)) for _ in range(9)]
    h = Tensor(np.zeros((4, 3)))
    for x in xs:  # h_t = tanh(x_t W^T + h_{t-1}): W enters every step
        h = (linear(Tensor(x), w) + h).tanh()
    h.sum().backward()
    expected = np.zeros((3, 2))
    grad_h, hiddens = np.ones((4, 3)), []
    h_value = np.zeros((4, 3))
    for x in xs:
        h_value = np.tanh(x @ w.data.T + h_value)
        hiddens.append(h_value)
    for x, h_t in zip(reversed(xs), reversed(hiddens)):
        pre_grad = grad_h * (1 - h_t**2)
        expected += pre_grad.T @ x
        grad_h = pre_grad
    np.testing.assert_allclose(w.grad, expected, rtol=1e-12)


# ------------------------------------------------------------------ 0-d gradients, any depth


def test_a_0d_tensor_used_three_times_gets_all_three_contributions():
    a = Tensor(2.0, requires_grad=True)
    (a + a + a).backward()
    assert a.grad == 3.0 and isinstance(a.grad, np.ndarray) and a.grad.shape == ()
    b = Tensor(2.0, requires_grad=True)
    (b * b * b).backward()
    assert b.grad == 12.0  # 3 b**2
    c = Tensor(2.0, requires_grad=True)
    stack([c, c, c]).sum().backward()
    assert c.grad == 3.0
    d = Tensor(2.0, requires_grad=True)
    (d[True].sum() + d * 1.0 + d * 1.0).backward()  # a mask index on a 0-d tensor, then two more uses
    assert d.grad == 3.0


def test_a_0d_intermediate_used_five_times_and_accumulated_over_two_backwards():
    w = Tensor(0.5, requires_grad=True)
    scaled = w * 2.0  # an op's 0-d output, used at five "time steps"
    total = scaled
    for _ in range(4):
        total = total * 1.0 + scaled
    total.backward(retain_graph=True)
    assert w.grad == 10.0
    total.backward()
    assert w.grad == 20.0 and isinstance(w.grad, np.ndarray)


def test_add_copies_a_gradient_it_does_not_own_before_adding_into_it():
    from tinygrad_rnn.grads import IndexedGrad, ZeroGrad, add

    shared = np.ones(3)
    total, owned = add(shared, np.full(3, 2.0), False)
    assert owned and total is not shared and np.array_equal(shared, np.ones(3)) and np.array_equal(total, [3.0] * 3)
    same, owned = add(total, IndexedGrad(1, np.array(5.0), (3,)), True)
    assert same is total and np.array_equal(total, [3.0, 8.0, 3.0])
    kept, owned = add(total, ZeroGrad((3,), np.float64), True)
    assert kept is total and owned
    scalar, owned = add(np.float64(1.0), np.float64(2.0), False)
    assert isinstance(scalar, np.ndarray) and scalar == 3.0


# ------------------------------------------------------------------ values changed after they were saved


def test_assigning_data_between_two_backwards_is_an_error_naming_the_op_and_the_tensor():
    w = Tensor([1.0, -2.0], requires_grad=True, name="w")
    x = Tensor([3.0, 4.0])
    with scope("t=2"):
        loss = (x * w).sum()  # Mul saves w's values for x's gradient and x's for w's
    loss.backward(retain_graph=True)
    assert w._version == 0
    w.data = w.data * 2.0
    assert w._version == 1
    with pytest.raises(
        RuntimeError,
        match=r"^backward: tensor 'w' of shape \(2,\) \(input 1 of Mul in scope 't=2'\) "
        r"was changed after the op saved it for backward \(version 0, now 1\)",
    ):
        loss.backward()


def test_an_in_place_write_counted_by_hand_is_detected_and_a_new_forward_is_fine():
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = linear(Tensor([[1.0, 1.0]]), w).tanh().sum()
    loss.backward(retain_graph=True)
    w.data -= 0.1 * w.grad  # NumPy writes into the array: not seen by itself ...
    assert w._version == 0
    loss.backward(retain_graph=True)
    w._version += 1  # ... so the writer counts it, as the optimizers do
    with pytest.raises(RuntimeError, match=r"backward: the tensor of shape \(2, 2\) \(input 1 of Linear\)"):
        loss.backward()
    w.grad = None
    linear(Tensor([[1.0, 1.0]]), w).tanh().sum().backward()  # recorded after the change: fine
    assert w.grad is not None


def test_an_optimizer_step_between_two_backwards_is_detected():
    from tinygrad_rnn import nn, optim

    rnn = nn.RNN(2, 3, rng=0)
    output, _ = rnn(np.ones((4, 1, 2)))
    loss = output.sum()
    loss.backward(retain_graph=True)
    optim.SGD(rnn.parameters(), lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"was changed after the op saved it for backward"):
        loss.backward()


def test_a_change_to_a_value_backward_does_not_read_is_no_error():
    b = Tensor([1.0, 2.0], requires_grad=True)
    loss = (Tensor([3.0, 4.0]) + b).sum()  # Add saves nothing: its gradient does not depend on b
    loss.backward(retain_graph=True)
    b.data = b.data + 1.0
    loss.backward()
    np.testing.assert_array_equal(b.grad, [2.0, 2.0])
