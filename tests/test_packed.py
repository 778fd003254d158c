"""Padded batches of sequences of different lengths, packed as PyTorch packs them.

pack_padded_sequence / pad_packed_sequence give PyTorch's data, batch_sizes, indices and
padded tensors, with gradients through both. An RNN, LSTM or GRU (one or two layers, one or
two directions, with or without an initial state) run over a packed batch gives each
sequence its own outputs and its own last state: equal to PyTorch to 1e-10, gradients
included, and equal to running each sequence alone.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")
from torch.nn.utils import rnn as torch_rnn  # noqa: E402

TOLERANCE = dict(rtol=1e-10, atol=1e-10)
INPUT, HIDDEN = 3, 4
LENGTHS = [3, 6, 1, 4, 6]  # unsorted, with a tie
KINDS = {
    "rnn": (nn.RNN, torch.nn.RNN, ("h",)),
    "lstm": (nn.LSTM, torch.nn.LSTM, ("h", "c")),
    "gru": (nn.GRU, torch.nn.GRU, ("h",)),
}


def assert_close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert np.shape(ours) == theirs.shape, f"{what}: shape {np.shape(ours)} vs PyTorch's {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOLERANCE)


def padded_batch(lengths, batch_first=False, steps=None, seed=0):
    """Random sequences of the given lengths, padded with NaN (which must never be read)."""
    steps = steps or max(lengths)
    x = np.random.default_rng(seed).standard_normal((steps, len(lengths), INPUT))
    for b, n in enumerate(lengths):
        x[n:, b] = np.nan
    return x.transpose(1, 0, 2).copy() if batch_first else x


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_pad_match_pytorch(enforce_sorted, batch_first):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    x = padded_batch(lengths, batch_first, steps=7)
    ours_x, their_x = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = pack_padded_sequence(ours_x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    theirs = torch_rnn.pack_padded_sequence(their_x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert isinstance(ours, PackedSequence)
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    if enforce_sorted:
        assert ours.sorted_indices is None and theirs.sorted_indices is None
    else:
        np.testing.assert_array_equal(ours.unsorted_indices, theirs.unsorted_indices.numpy())
    # with ties the order inside a tie is free; the padded result below does not depend on it
    for total_length in (None, 8):
        padded, out_lengths = pad_packed_sequence(
            ours, batch_first=batch_first, padding_value=-1.0, total_length=total_length
        )
        their_padded, their_lengths = torch_rnn.pad_packed_sequence(
            theirs, batch_first=batch_first, padding_value=-1.0, total_length=total_length
        )
        assert_close(padded.data, their_padded, "padded")
        np.testing.assert_array_equal(out_lengths.data, their_lengths.numpy())
    weight = np.random.default_rng(1).standard_normal(padded.shape)
    (padded * weight).sum().backward()
    (their_padded * torch.from_numpy(weight)).sum().backward()
    assert_close(ours_x.grad, their_x.grad, "gradient through packing and padding")


def test_packed_data_in_pytorchs_row_order():
    lengths = [2, 5, 3]  # distinct, so the order is fixed
    x = padded_batch(lengths)
    ours = pack_padded_sequence(Tensor(x), lengths, enforce_sorted=False)
    theirs = torch_rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    assert_close(ours.data.data, theirs.data, "data")
    np.testing.assert_array_equal(ours.sorted_indices, theirs.sorted_indices.numpy())


def test_pack_sequence_is_pad_then_pack():
    sequences = [np.random.default_rng(n).standard_normal((n, INPUT)) for n in (4, 2, 3)]
    ours = pack_sequence([Tensor(s) for s in sequences], enforce_sorted=False)
    theirs = torch_rnn.pack_sequence([torch.tensor(s) for s in sequences], enforce_sorted=False)
    assert_close(ours.data.data, theirs.data, "data")
    np.testing.assert_array_equal(ours.batch_sizes, theirs.batch_sizes.numpy())
    np.testing.assert_array_equal(ours.lengths(), [4, 2, 3])


def test_packing_errors_name_what_was_wrong():
    x = Tensor(np.zeros((4, 3, INPUT)))
    with pytest.raises(ValueError, match=r"lengths \[2, 4, 1\] are not in decreasing order"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match=r"every length must be between 1 and the padded length 4, got \[4, 0, 1\]"):
        pack_padded_sequence(x, [4, 0, 1])
    with pytest.raises(ValueError, match=r"every length must be between 1 and the padded length 4, got \[5, 2, 1\]"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match=r"lengths must be one per sequence \(3\), got shape \(2,\)"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="the batch holds no sequence"):
        pack_padded_sequence(Tensor(np.zeros((4, 0, INPUT))), [])
    packed = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length 3 is shorter than the longest sequence"):
        pad_packed_sequence(packed, total_length=3)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("give_initial_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_recurrent_layers_over_a_packed_batch_match_pytorch(
    kind, num_layers, bidirectional, give_initial_state, batch_first
):
    ours_class, torch_class, state_names = KINDS[kind]
    options = dict(
        input_size=INPUT,
        hidden_size=HIDDEN,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
    )
    model = ours_class(**options, rng=0)
    theirs = torch_class(**options, dtype=torch.float64)
    theirs.load_state_dict({n: torch.from_numpy(v.copy()) for n, v in model.state_dict().items()})
    x = padded_batch(LENGTHS, batch_first)
    ours_x, their_x = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    directions = 2 if bidirectional else 1
    rng = np.random.default_rng(2)
    initial = [rng.standard_normal((num_layers * directions, len(LENGTHS), HIDDEN)) for _ in state_names]
    ours_h0 = [Tensor(v, requires_grad=True) for v in initial]
    their_h0 = [torch.tensor(v, requires_grad=True) for v in initial]

    def hx(states):
        if not give_initial_state:
            return None
        return tuple(states) if len(states) == 2 else states[0]

    packed = pack_padded_sequence(ours_x, LENGTHS, batch_first=batch_first, enforce_sorted=False)
    their_packed = torch_rnn.pack_padded_sequence(their_x, LENGTHS, batch_first=batch_first, enforce_sorted=False)
    ours_out, ours_state = model(packed, hx(ours_h0))
    their_out, their_state = theirs(their_packed, hx(their_h0))
    assert isinstance(ours_out, PackedSequence)
    ours_padded, _ = pad_packed_sequence(ours_out, batch_first=batch_first)
    their_padded, _ = torch_rnn.pad_packed_sequence(their_out, batch_first=batch_first)
    assert_close(ours_padded.data, their_padded, "padded output")
    ours_state = ours_state if isinstance(ours_state, tuple) else (ours_state,)
    their_state = their_state if isinstance(their_state, tuple) else (their_state,)
    for name, o, t in zip(state_names, ours_state, their_state):
        assert_close(o.data, t, f"{name}_n")
    weights = [rng.standard_normal(t.shape) for t in (ours_padded, *ours_state)]
    sum((t * w).sum() for t, w in zip((ours_padded, *ours_state), weights)).backward()
    sum((t * torch.from_numpy(w)).sum() for t, w in zip((their_padded, *their_state), weights)).backward()
    assert_close(ours_x.grad, np.nan_to_num(their_x.grad.numpy()), "gradient of the padded input")
    for name, param in model.named_parameters():
        assert_close(param.grad, dict(theirs.named_parameters())[name].grad, f"gradient of {name}")
    if give_initial_state:
        for o, t in zip(ours_h0, their_h0):
            assert_close(o.grad, t.grad, "gradient of the initial state")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_sequence_of_a_packed_batch_is_run_alone(kind):
    ours_class, _, _ = KINDS[kind]
    model = ours_class(INPUT, HIDDEN, num_layers=2, bidirectional=True, rng=3)
    x = padded_batch(LENGTHS)
    out, state = model(pack_padded_sequence(Tensor(x), LENGTHS, enforce_sorted=False))
    padded, _ = pad_packed_sequence(out)
    h_n = state[0] if isinstance(state, tuple) else state
    for b, n in enumerate(LENGTHS):
        alone_out, alone_state = model(x[:n, b])  # unbatched, exactly its own steps
        alone_h = alone_state[0] if isinstance(alone_state, tuple) else alone_state
        np.testing.assert_allclose(padded.data[:n, b], alone_out.data, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(padded.data[n:, b], 0.0)
        np.testing.assert_allclose(h_n.data[:, b], alone_h.data, rtol=1e-12, atol=1e-12)
