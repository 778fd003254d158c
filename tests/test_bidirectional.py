"""Bidirectional recurrent layers and dropout between layers, against PyTorch in float64.

Each model's state_dict is loaded into the PyTorch module strictly by name (so the
`_reverse` parameters must carry PyTorch's names, in PyTorch's order); both run the same
input and initial state, and one scalar loss touching every output element is
backpropagated through both. Outputs, final states and every gradient agree to 1e-10.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.random import manual_seed

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

TOLERANCE = dict(rtol=1e-10, atol=1e-10)
SEQUENCE, BATCH, INPUT, HIDDEN = 5, 3, 4, 6
KINDS = {
    "rnn_tanh": (nn.RNN, torch.nn.RNN, {}, ("h",)),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}, ("h",)),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}, ("h", "c")),
    "gru": (nn.GRU, torch.nn.GRU, {}, ("h",)),
}


def assert_close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert np.shape(ours) == np.shape(theirs), f"{what}: shape {np.shape(ours)} vs PyTorch's {np.shape(theirs)}"
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOLERANCE)


def torch_copy(model, torch_class, **options):
    """A float64 PyTorch module of `torch_class` holding `model`'s weights, loaded strictly by name."""
    theirs = torch_class(**options, dtype=torch.float64)
    assert list(theirs.state_dict()) == list(model.state_dict())
    theirs.load_state_dict({name: torch.from_numpy(value.copy()) for name, value in model.state_dict().items()})
    return theirs


def leaf_pair(array):
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def run_and_compare(kind, num_layers, batch_first, give_initial_state, batched=True, seed=0):
    ours_class, torch_class, extra, state_names = KINDS[kind]
    options = dict(
        input_size=INPUT,
        hidden_size=HIDDEN,
        num_layers=num_layers,
        batch_first=batch_first,
        bidirectional=True,
        **extra,
    )
    model = ours_class(**options, rng=seed)
    theirs = torch_copy(model, torch_class, **options)
    rng = np.random.default_rng(seed + 1)
    if batched:
        x_shape = (BATCH, SEQUENCE, INPUT) if batch_first else (SEQUENCE, BATCH, INPUT)
        state_shape = (2 * num_layers, BATCH, HIDDEN)
    else:
        x_shape, state_shape = (SEQUENCE, INPUT), (2 * num_layers, HIDDEN)
    leaves = {"input": leaf_pair(rng.standard_normal(x_shape))}
    if give_initial_state:
        for name in state_names:
            leaves[f"{name}0"] = leaf_pair(rng.standard_normal(state_shape) * 0.5)
    initial = [leaves[f"{name}0"] for name in state_names] if give_initial_state else None

    def state_argument(side):
        if initial is None:
            return None
        values = tuple(pair[side] for pair in initial)
        return values if len(values) == 2 else values[0]

    ours_out, ours_state = model(leaves["input"][0], state_argument(0))
    their_out, their_state = theirs(leaves["input"][1], state_argument(1))
    ours_state, their_state = as_tuple(ours_state), as_tuple(their_state)
    assert_close(ours_out.data, their_out, "output")
    for name, ours_final, their_final in zip(state_names, ours_state, their_state):
        assert_close(ours_final.data, their_final, f"{name}_n")
    weights = [rng.standard_normal(t.shape) for t in (ours_out, *ours_state)]
    ours_loss = sum((t * w).sum() for t, w in zip((ours_out, *ours_state), weights))
    their_loss = sum((t * torch.from_numpy(w)).sum() for t, w in zip((their_out, *their_state), weights))
    ours_loss.backward()
    their_loss.backward()
    their_params = dict(theirs.named_parameters())
    for name, param in model.named_parameters():
        assert_close(param.grad, their_params[name].grad, f"gradient of {name}")
    for label, (ours_leaf, their_leaf) in leaves.items():
        assert_close(ours_leaf.grad, their_leaf.grad, f"gradient of {label}")
    return model, ours_out, ours_state


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("give_initial_state", [False, True])
def test_bidirectional_matches_pytorch(kind, num_layers, batch_first, give_initial_state):
    _, out, state = run_and_compare(kind, num_layers, batch_first, give_initial_state)
    expected_out = (BATCH, SEQUENCE, 2 * HIDDEN) if batch_first else (SEQUENCE, BATCH, 2 * HIDDEN)
    assert out.shape == expected_out
    assert all(s.shape == (2 * num_layers, BATCH, HIDDEN) for s in state)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_bidirectional_unbatched_matches_pytorch(kind):
    _, out, state = run_and_compare(kind, 2, False, True, batched=False)
    assert out.shape == (SEQUENCE, 2 * HIDDEN)


def test_parameter_names_shapes_and_halves_of_the_output():
    model = nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, rng=0)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes["weight_ih_l0_reverse"] == (4 * HIDDEN, INPUT)
    assert shapes["weight_ih_l1"] == (4 * HIDDEN, 2 * HIDDEN)  # above the first layer: both directions' h
    assert shapes["bias_hh_l1_reverse"] == (4 * HIDDEN,)
    x = np.random.default_rng(3).standard_normal((SEQUENCE, BATCH, INPUT))
    out, (h_n, c_n) = model(x)
    # the forward half of the last step and the reverse half of the first are the last layer's h_n
    np.testing.assert_array_equal(out.data[-1, :, :HIDDEN], h_n.data[2])
    np.testing.assert_array_equal(out.data[0, :, HIDDEN:], h_n.data[3])
    assert "bidirectional=True" in repr(model)


def test_reverse_direction_runs_in_its_own_scopes():
    model = nn.RNN(INPUT, HIDDEN, bidirectional=True, rng=0)
    model.retain_hidden = True
    model(np.ones((3, 2, INPUT)))
    # hidden_states[layer * 2 + direction][t], in time order for both directions
    assert [h.scope for h in model.hidden_states[1]] == [f"layer0_reverse/t={t}" for t in range(3)]
    assert [h.scope for h in model.hidden_states[0]] == ["layer0/t=0", "layer0/t=1", "layer0/t=2"]


def test_initial_state_of_the_wrong_shape_names_the_expected_one():
    model = nn.GRU(INPUT, HIDDEN, num_layers=2, bidirectional=True, rng=0)
    with pytest.raises(ValueError, match=r"h0 has shape \(2, 3, 6\), expected \(4, 3, 6\)"):
        model(np.ones((SEQUENCE, BATCH, INPUT)), np.zeros((2, BATCH, HIDDEN)))


# ------------------------------------------------------------------ dropout between layers


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_dropout_zero_and_eval_mode_change_nothing(kind):
    ours_class, _, extra, _ = KINDS[kind]
    x = np.random.default_rng(4).standard_normal((SEQUENCE, BATCH, INPUT))
    plain = ours_class(INPUT, HIDDEN, num_layers=2, rng=7, **extra)
    expected = plain(x)[0].data
    assert np.array_equal(ours_class(INPUT, HIDDEN, num_layers=2, dropout=0.0, rng=7, **extra)(x)[0].data, expected)
    dropped = ours_class(INPUT, HIDDEN, num_layers=2, dropout=0.5, rng=7, **extra)
    dropped.eval()
    assert np.array_equal(dropped(x)[0].data, expected)
    dropped.train()
    assert not np.array_equal(dropped(x)[0].data, expected)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_in_training_is_pytorchs_between_layers(kind, bidirectional):
    """Layer l + 1 sees layer l's output times a mask of 0 or 1 / (1 - p) drawn from the library
    generator, the last layer's output untouched: rebuilt by hand from single-layer PyTorch
    modules and the same masks, outputs and gradients agree."""
    ours_class, torch_class, extra, state_names = KINDS[kind]
    p, layers = 0.4, 3
    model = ours_class(INPUT, HIDDEN, num_layers=layers, dropout=p, bidirectional=bidirectional, rng=0, **extra)
    directions = 2 if bidirectional else 1
    x = np.random.default_rng(5).standard_normal((SEQUENCE, BATCH, INPUT))
    ours_x, their_x = leaf_pair(x)
    manual_seed(11)
    out, _ = model(ours_x)
    generator = np.random.default_rng(11)  # what manual_seed(11) made: the masks come from it in order
    masks = [(generator.random((SEQUENCE, BATCH, directions * HIDDEN)) >= p) / (1 - p) for _ in range(layers - 1)]
    state = model.state_dict()
    sequence = their_x
    their_params = []
    for layer in range(layers):
        single = torch_class(
            INPUT if layer == 0 else directions * HIDDEN,
            HIDDEN,
            bidirectional=bidirectional,
            dtype=torch.float64,
            **extra,
        )
        names = [n for n in single.state_dict()]
        single.load_state_dict({n: torch.from_numpy(state[n.replace("_l0", f"_l{layer}")].copy()) for n in names})
        their_params.append(single)
        sequence = single(sequence)[0]
        if layer < layers - 1:
            sequence = sequence * torch.from_numpy(masks[layer])
    assert_close(out.data, sequence, "output")
    weight = np.random.default_rng(6).standard_normal(out.shape)
    (out * weight).sum().backward()
    (sequence * torch.from_numpy(weight)).sum().backward()
    assert_close(ours_x.grad, their_x.grad, "gradient of the input")
    for layer, single in enumerate(their_params):
        for name, param in single.named_parameters():
            ours = dict(model.named_parameters())[name.replace("_l0", f"_l{layer}")]
            assert_close(ours.grad, param.grad, f"gradient of {name} in layer {layer}")


def test_dropout_must_be_a_probability_and_warns_for_one_layer():
    with pytest.raises(ValueError, match="RNN: dropout must be a probability in \\[0, 1\\], got 1.5"):
        nn.RNN(INPUT, HIDDEN, num_layers=2, dropout=1.5)
    with pytest.warns(UserWarning, match="dropout acts between layers"):
        nn.LSTM(INPUT, HIDDEN, num_layers=1, dropout=0.2)
