"""Same weights, same numbers: RNN, LSTM, GRU and their cells against PyTorch's, in float64.

Each model's state_dict is loaded into the PyTorch module by name (strictly, so the names must
be PyTorch's), both run the same input and initial state, and one scalar loss is backpropagated
through both. Outputs, final states and every gradient must agree to 1e-10.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn.gru import GRU, GRUCell
from tinygrad_rnn.nn.lstm import LSTM, LSTMCell

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

TOLERANCE = dict(rtol=1e-10, atol=1e-10)
SEQUENCE, BATCH, INPUT, HIDDEN = 5, 3, 4, 6


def assert_close(ours, theirs, what):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOLERANCE)


def torch_copy(model, torch_class, **options):
    """A float64 PyTorch module of `torch_class` holding `model`'s weights, loaded strictly by name."""
    theirs = torch_class(**options, dtype=torch.float64)
    assert list(theirs.state_dict()) == list(model.state_dict())
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in model.state_dict().items()})
    return theirs


def leaf_pair(array):
    """The same values as our leaf Tensor and as a PyTorch leaf, both requiring grad."""
    return Tensor(array.copy(), requires_grad=True), torch.tensor(array, requires_grad=True)


def weighted_sum(tensors, weights):
    """sum_k sum(tensors[k] * weights[k]): a scalar loss that touches every element."""
    total = 0
    for tensor, weight in zip(tensors, weights):
        total = total + (tensor * weight).sum()
    return total


def compare_gradients(model, theirs, leaves):
    their_params = dict(theirs.named_parameters())
    for name, param in model.named_parameters():
        assert_close(param.grad, their_params[name].grad, f"gradient of {name}")
    for label, (ours, their_leaf) in leaves.items():
        assert_close(ours.grad, their_leaf.grad, f"gradient of {label}")


def run_sequence_model(model, theirs, num_layers, batch_first, state_names, give_initial_state, rng):
    """Run both models on one random sequence; compare outputs, final states and gradients."""
    x_shape = (BATCH, SEQUENCE, INPUT) if batch_first else (SEQUENCE, BATCH, INPUT)
    leaves = {"input": leaf_pair(rng.standard_normal(x_shape))}
    if give_initial_state:
        for name in state_names:
            leaves[f"{name}0"] = leaf_pair(rng.standard_normal((num_layers, BATCH, HIDDEN)) * 0.5)
    initial = [leaves[f"{name}0"] for name in state_names] if give_initial_state else None

    def call(module, side):
        x = leaves["input"][side]
        if initial is None:
            return module(x)
        states = [pair[side] for pair in initial]
        return module(x, tuple(states) if len(states) == 2 else states[0])

    output, final = call(model, 0)
    their_output, their_final = call(theirs, 1)
    finals = final if isinstance(final, tuple) else (final,)
    their_finals = their_final if isinstance(their_final, tuple) else (their_final,)

    assert_close(output.data, their_output, "output")
    for name, ours, theirs_state in zip(state_names, finals, their_finals):
        assert_close(ours.data, theirs_state, f"{name}_n")

    weights = [rng.standard_normal(output.shape)] + [rng.standard_normal(f.shape) for f in finals]
    weighted_sum([output, *finals], weights).backward()
    weighted_sum([their_output, *their_finals], [torch.from_numpy(w) for w in weights]).backward()
    compare_gradients(model, theirs, leaves)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_rnn_matches_pytorch(nonlinearity, num_layers, bias, batch_first):
    rng = np.random.default_rng(0)
    options = dict(
        input_size=INPUT,
        hidden_size=HIDDEN,
        num_layers=num_layers,
        nonlinearity=nonlinearity,
        bias=bias,
        batch_first=batch_first,
    )
    model = nn.RNN(**options, rng=rng)
    run_sequence_model(model, torch_copy(model, torch.nn.RNN, **options), num_layers, batch_first, ("h",), True, rng)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_matches_pytorch(num_layers, bias, batch_first):
    rng = np.random.default_rng(1)
    options = dict(input_size=INPUT, hidden_size=HIDDEN, num_layers=num_layers, bias=bias, batch_first=batch_first)
    model = LSTM(**options, rng=rng)
    run_sequence_model(
        model, torch_copy(model, torch.nn.LSTM, **options), num_layers, batch_first, ("h", "c"), True, rng
    )


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_gru_matches_pytorch(num_layers, bias, batch_first):
    rng = np.random.default_rng(2)
    options = dict(input_size=INPUT, hidden_size=HIDDEN, num_layers=num_layers, bias=bias, batch_first=batch_first)
    model = GRU(**options, rng=rng)
    run_sequence_model(model, torch_copy(model, torch.nn.GRU, **options), num_layers, batch_first, ("h",), True, rng)


@pytest.mark.parametrize(
    "model_class, torch_class, state_names",
    [(nn.RNN, torch.nn.RNN, ("h",)), (LSTM, torch.nn.LSTM, ("h", "c")), (GRU, torch.nn.GRU, ("h",))],
)
def test_zero_initial_state_matches_pytorch(model_class, torch_class, state_names):
    rng = np.random.default_rng(3)
    options = dict(input_size=INPUT, hidden_size=HIDDEN, num_layers=2)
    model = model_class(**options, rng=rng)
    run_sequence_model(model, torch_copy(model, torch_class, **options), 2, False, state_names, False, rng)


@pytest.mark.parametrize(
    "model_class, torch_class", [(nn.RNN, torch.nn.RNN), (LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)]
)
def test_unbatched_sequence_matches_pytorch(model_class, torch_class):
    rng = np.random.default_rng(4)
    options = dict(input_size=INPUT, hidden_size=HIDDEN, num_layers=2)
    model = model_class(**options, rng=rng)
    theirs = torch_copy(model, torch_class, **options)
    x = rng.standard_normal((SEQUENCE, INPUT))
    output, _ = model(x)
    their_output, _ = theirs(torch.from_numpy(x))
    assert_close(output.data, their_output, "unbatched output")


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(
    "cell_class, torch_class, state_names",
    [
        (nn.RNNCell, torch.nn.RNNCell, ("h",)),
        (LSTMCell, torch.nn.LSTMCell, ("h", "c")),
        (GRUCell, torch.nn.GRUCell, ("h",)),
    ],
)
def test_cells_match_pytorch(cell_class, torch_class, state_names, bias):
    rng = np.random.default_rng(5)
    options = dict(input_size=INPUT, hidden_size=HIDDEN, bias=bias)
    cell = cell_class(**options, rng=rng)
    theirs = torch_copy(cell, torch_class, **options)
    leaves = {"input": leaf_pair(rng.standard_normal((BATCH, INPUT)))}
    for name in state_names:
        leaves[name] = leaf_pair(rng.standard_normal((BATCH, HIDDEN)) * 0.5)

    def call(module, side):
        states = tuple(leaves[name][side] for name in state_names)
        result = module(leaves["input"][side], states if len(states) == 2 else states[0])
        return result if isinstance(result, tuple) else (result,)

    ours, their_states = call(cell, 0), call(theirs, 1)
    for name, mine, other in zip(state_names, ours, their_states):
        assert_close(mine.data, other, f"{name}'")
    weights = [rng.standard_normal(state.shape) for state in ours]
    weighted_sum(ours, weights).backward()
    weighted_sum(their_states, [torch.from_numpy(w) for w in weights]).backward()
    compare_gradients(cell, theirs, leaves)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize(
    "model_class, torch_class, state_names",
    [(nn.RNN, torch.nn.RNN, ("h",)), (LSTM, torch.nn.LSTM, ("h", "c")), (GRU, torch.nn.GRU, ("h",))],
)
def test_a_loss_on_the_last_step_and_the_first_layer_state_matches_pytorch(
    model_class, torch_class, state_names, batch_first
):
    """Reading one position of a stacked output (output[-1], h_n[0]): the sparse path of Stack."""
    rng = np.random.default_rng(6)
    options = dict(input_size=INPUT, hidden_size=HIDDEN, num_layers=2, batch_first=batch_first)
    model = model_class(**options, rng=rng)
    theirs = torch_copy(model, torch_class, **options)
    x_shape = (BATCH, SEQUENCE, INPUT) if batch_first else (SEQUENCE, BATCH, INPUT)
    leaves = {"input": leaf_pair(rng.standard_normal(x_shape))}
    for name in state_names:
        leaves[f"{name}0"] = leaf_pair(rng.standard_normal((2, BATCH, HIDDEN)) * 0.5)
    weights = [rng.standard_normal((BATCH, HIDDEN)) for _ in range(2)]
    for side, module in ((0, model), (1, theirs)):
        states = tuple(leaves[f"{name}0"][side] for name in state_names)
        output, final = module(leaves["input"][side], states if len(states) == 2 else states[0])
        h_n = final[0] if isinstance(final, tuple) else final
        last = output[:, -1] if batch_first else output[-1]
        terms = [last, h_n[0]]
        weighted_sum(terms, weights if side == 0 else [torch.from_numpy(w) for w in weights]).backward()
    compare_gradients(model, theirs, leaves)
