"""TensorDataset, DataLoader and pad_sequence: batches, seeded shuffling, drop_last, collation,
padding against torch.nn.utils.rnn.pad_sequence (values and gradients)."""

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.nn.utils.rnn import pad_sequence


def dataset(count=10):
    x = np.arange(count * 2, dtype=np.float64).reshape(count, 2)
    y = np.arange(count)
    return tg.data.TensorDataset(x, y)


def test_tensor_dataset_indexes_every_tensor_together():
    data = dataset()
    assert len(data) == 10
    x, y = data[3]
    np.testing.assert_array_equal(x.data, [6.0, 7.0])
    assert y.item() == 3 and y.dtype == np.int64
    with pytest.raises(ValueError, match=r"same first dimension, got shapes \(3,\), \(4,\)"):
        tg.data.TensorDataset(np.zeros(3), np.zeros(4))


def test_batches_in_order_with_the_last_one_short():
    loader = tg.data.DataLoader(dataset(), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [b[0].shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), np.arange(10))
    assert batches[0][1].dtype == np.int64 and batches[0][0].dtype == np.float64


def test_drop_last_leaves_out_the_short_batch():
    loader = tg.data.DataLoader(dataset(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [b[1].data.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_a_permutation_from_the_seeded_generator_new_each_epoch():
    def epoch_orders(loader, epochs=2):
        return [np.concatenate([y.data for _, y in loader]).tolist() for _ in range(epochs)]

    tg.manual_seed(0)
    first = epoch_orders(tg.data.DataLoader(dataset(), batch_size=3, shuffle=True))
    tg.manual_seed(0)
    again = epoch_orders(tg.data.DataLoader(dataset(), batch_size=3, shuffle=True))
    assert first == again
    assert all(sorted(order) == list(range(10)) for order in first)
    assert first[0] != first[1] and first[0] != list(range(10))
    own = epoch_orders(tg.data.DataLoader(dataset(), batch_size=3, shuffle=True, generator=5))
    assert own == epoch_orders(tg.data.DataLoader(dataset(), batch_size=3, shuffle=True, generator=5))


def test_a_collate_function_pads_sequences_of_different_lengths():
    sequences = [np.full((n, 1), float(n)) for n in (3, 1, 2, 4)]
    labels = [0, 1, 0, 1]

    def pad(samples):
        xs, ys = zip(*samples)
        return pad_sequence(list(xs), batch_first=True), np.array(ys), [len(x) for x in xs]

    loader = tg.data.DataLoader(list(zip(sequences, labels)), batch_size=2, collate_fn=pad)
    (x0, y0, n0), (x1, y1, n1) = loader
    assert x0.shape == (2, 3, 1) and n0 == [3, 1] and y0.tolist() == [0, 1]
    np.testing.assert_array_equal(x0.data[1, :, 0], [1.0, 0.0, 0.0])
    assert x1.shape == (2, 4, 1) and n1 == [2, 4]


def test_default_collate_handles_dicts_numbers_and_strings_and_names_the_rest():
    samples = [{"x": np.ones(2) * i, "id": i, "name": f"s{i}"} for i in range(3)]
    batch = tg.data.default_collate(samples)
    assert batch["x"].shape == (3, 2) and batch["id"].data.tolist() == [0, 1, 2] and batch["name"] == ["s0", "s1", "s2"]
    with pytest.raises(TypeError, match="cannot batch samples of type object; give a collate_fn"):
        tg.data.default_collate([object()])
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive int, got 0"):
        tg.data.DataLoader(dataset(), batch_size=0)


def test_a_batch_of_dataset_tensors_passes_gradients_back():
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    (batch,) = next(iter(tg.data.DataLoader(tg.data.TensorDataset(x), batch_size=4)))
    (batch * Tensor(np.arange(12.0).reshape(4, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad, np.arange(12.0).reshape(4, 3))


# ---------------------------------------------------------------- pad_sequence against torch


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value, side", [(0.0, "right"), (-1.5, "right"), (2.0, "left")])
def test_pad_sequence_matches_torch(batch_first, padding_value, side):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 3)) for n in (2, 5, 1, 5)]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = pad_sequence(ours, batch_first=batch_first, padding_value=padding_value, padding_side=side)
    their_y = torch.nn.utils.rnn.pad_sequence(
        theirs, batch_first=batch_first, padding_value=padding_value, padding_side=side
    )
    np.testing.assert_array_equal(y.data, their_y.detach().numpy())
    upstream = rng.standard_normal(y.shape)
    (y * Tensor(upstream)).sum().backward()
    (their_y * torch.from_numpy(upstream)).sum().backward()
    for mine, its in zip(ours, theirs):
        np.testing.assert_array_equal(mine.grad, its.grad.numpy())


def test_pad_sequence_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"same trailing dimensions, got \(2, 3\), \(2, 4\)"):
        pad_sequence([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="padding_side must be 'right' or 'left', got 'up'"):
        pad_sequence([np.zeros(2)], padding_side="up")
