"""to_torch and from_torch: for every module kind, the converted module gives the same outputs and
the same gradients (1e-12), and a round trip gives back the same parameters exactly."""

import sys
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor
from tinygrad_rnn.models import SequenceModel

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

TOLERANCE = dict(rtol=1e-12, atol=1e-12)
RNG = np.random.default_rng(0)
SEQUENCE = RNG.standard_normal((5, 3, 4))  # (T, B, I)
BATCH_FIRST = RNG.standard_normal((3, 5, 4))  # (B, T, I)
ROWS = RNG.standard_normal((3, 4))
H0 = RNG.standard_normal((3, 6))
C0 = RNG.standard_normal((3, 6))
IDS = np.array([[1, 0, 3], [3, 3, 2]])


def flat(outputs):
    """Every tensor in a nested output ((output, h_n), (h, c), ...) in order."""
    if isinstance(outputs, (tuple, list)):
        return [t for o in outputs for t in flat(o)]
    return [outputs]


def run(module, inputs, torch_side: bool):
    wrap = (
        (lambda a: torch.tensor(a, requires_grad=a.dtype.kind == "f"))
        if torch_side
        else (lambda a: Tensor(a, requires_grad=a.dtype.kind == "f"))
    )
    args = [tuple(wrap(a) for a in arg) if isinstance(arg, tuple) else wrap(arg) for arg in inputs]
    return args, flat(module(*args))


def gradient_sum(outputs, torch_side: bool):
    """sum_k sum(o_k * w_k) with fixed weights w_k: every output element reaches the loss."""
    total = 0
    for k, o in enumerate(outputs):
        weight = np.cos(np.arange(o.numel() if torch_side else o.data.size) + k).reshape(tuple(o.shape))
        total = total + (o * (torch.from_numpy(weight) if torch_side else Tensor(weight))).sum()
    return total


def assert_same_function(ours, theirs, inputs):
    """Same outputs, same input gradients and same parameter gradients, to 1e-12."""
    our_args, our_out = run(ours, inputs, torch_side=False)
    their_args, their_out = run(theirs, inputs, torch_side=True)
    assert len(our_out) == len(their_out)
    for k, (a, b) in enumerate(zip(our_out, their_out)):
        np.testing.assert_allclose(a.data, b.detach().numpy(), err_msg=f"output {k}", **TOLERANCE)
    gradient_sum(our_out, False).backward()
    gradient_sum(their_out, True).backward()
    for a, b in zip(flat(our_args), flat(their_args)):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad, b.grad.numpy(), err_msg="input gradient", **TOLERANCE)
    theirs_by_name = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert sorted(our_params) == sorted(theirs_by_name)
    for name, p in our_params.items():
        their_grad = theirs_by_name[name].grad
        if p.grad is None:  # a parameter our graph never used (see nn.recurrent): torch reports zeros
            assert their_grad is None or not their_grad.any(), name
            continue
        np.testing.assert_allclose(p.grad, their_grad.numpy(), err_msg=f"gradient of {name}", **TOLERANCE)


def kinds():
    nn = tg.nn
    return {
        "Linear": (lambda: nn.Linear(4, 3, rng=1), [ROWS]),
        "Linear without bias": (lambda: nn.Linear(4, 3, bias=False, rng=1), [ROWS]),
        "RNN tanh": (lambda: nn.RNN(4, 6, rng=2), [SEQUENCE]),
        "RNN relu, 2 layers, batch_first": (
            lambda: nn.RNN(4, 6, num_layers=2, nonlinearity="relu", batch_first=True, rng=3),
            [BATCH_FIRST],
        ),
        "LSTM 2 layers": (lambda: nn.LSTM(4, 6, num_layers=2, rng=4), [SEQUENCE]),
        "LSTM batch_first without bias": (lambda: nn.LSTM(4, 6, bias=False, batch_first=True, rng=5), [BATCH_FIRST]),
        "GRU 3 layers": (lambda: nn.GRU(4, 6, num_layers=3, rng=6), [SEQUENCE]),
        "bidirectional LSTM 2 layers, batch_first": (
            lambda: nn.LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True, rng=18),
            [BATCH_FIRST],
        ),
        "bidirectional GRU with dropout (eval)": (
            lambda: nn.GRU(4, 6, num_layers=2, bidirectional=True, dropout=0.3, rng=19).eval(),
            [SEQUENCE],
        ),
        "bidirectional RNN relu": (lambda: nn.RNN(4, 6, nonlinearity="relu", bidirectional=True, rng=20), [SEQUENCE]),
        "RNNCell": (lambda: nn.RNNCell(4, 6, rng=7), [ROWS, H0]),
        "LSTMCell": (lambda: nn.LSTMCell(4, 6, rng=8), [ROWS, (H0, C0)]),
        "GRUCell": (lambda: nn.GRUCell(4, 6, rng=9), [ROWS, H0]),
        "Sequential of Linears": (lambda: nn.Sequential(nn.Linear(4, 5, rng=10), nn.Linear(5, 2, rng=11)), [ROWS]),
        "Sequential with named children": (
            lambda: nn.Sequential(OrderedDict(hidden=nn.Linear(4, 5, rng=21), out=nn.Linear(5, 2, rng=22))),
            [ROWS],
        ),
        "Sequential with LayerNorm and Dropout (eval)": (
            lambda: nn.Sequential(nn.Linear(4, 5, rng=12), nn.LayerNorm(5), nn.Dropout(0.5)).eval(),
            [ROWS],
        ),
        "Embedding with padding": (lambda: nn.Embedding(4, 3, padding_idx=0, rng=13), [IDS]),
        "LayerNorm": (lambda: nn.LayerNorm((5, 4)), [BATCH_FIRST]),
        "SequenceModel rnn": (lambda: SequenceModel(4, 6, 2, cell="rnn", rng=14), [BATCH_FIRST]),
        "SequenceModel lstm many-to-many": (
            lambda: SequenceModel(4, 6, 1, cell="lstm", many_to_many=True, rng=15),
            [BATCH_FIRST],
        ),
        "SequenceModel gru 2 layers": (lambda: SequenceModel(4, 6, 3, cell="gru", num_layers=2, rng=16), [BATCH_FIRST]),
        "SequenceModel unbatched": (lambda: SequenceModel(4, 6, 2, cell="rnn", rng=17), [BATCH_FIRST[0]]),
    }


@pytest.mark.parametrize("kind", list(kinds()))
def test_to_torch_computes_the_same_function(kind):
    make, inputs = kinds()[kind]
    ours = make()
    if kind == "LayerNorm":  # affine parameters away from 1 and 0
        for p in ours.parameters():
            p.data[...] = np.random.default_rng(1).standard_normal(p.shape)
    theirs = tg.to_torch(ours)
    assert isinstance(theirs, torch.nn.Module) and theirs.training == ours.training
    assert all(p.dtype == torch.float64 for p in theirs.parameters())
    assert_same_function(ours, theirs, inputs)


@pytest.mark.parametrize("kind", list(kinds()))
def test_from_torch_of_to_torch_gives_back_the_same_module(kind):
    make, inputs = kinds()[kind]
    ours = make()
    back = tg.from_torch(tg.to_torch(ours))
    assert type(back) is type(ours) and back.training == ours.training
    assert list(back.state_dict()) == list(ours.state_dict())
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value, err_msg=name)
    assert repr(back) == repr(ours)


@pytest.mark.parametrize(
    "make, inputs",
    [
        (lambda: torch.nn.LSTM(4, 6, num_layers=2, dtype=torch.float64), [SEQUENCE]),
        (lambda: torch.nn.GRU(4, 6, batch_first=True, dtype=torch.float64), [BATCH_FIRST]),
        (lambda: torch.nn.RNN(4, 6, nonlinearity="relu", dtype=torch.float64), [SEQUENCE]),
        (
            lambda: torch.nn.LSTM(4, 6, num_layers=3, bidirectional=True, dropout=0.2, dtype=torch.float64).eval(),
            [SEQUENCE],
        ),
        (
            lambda: torch.nn.Sequential(
                torch.nn.Linear(4, 8, dtype=torch.float64),
                torch.nn.Dropout(0.1),
                torch.nn.Linear(8, 2, dtype=torch.float64),
            ).eval(),
            [ROWS],
        ),
        (lambda: torch.nn.Embedding(4, 5, padding_idx=2, dtype=torch.float64), [IDS]),
        (lambda: torch.nn.LayerNorm(4, elementwise_affine=True, bias=False, dtype=torch.float64), [ROWS]),
    ],
    ids=["LSTM", "GRU", "RNN relu", "bidirectional LSTM", "Sequential", "Embedding", "LayerNorm"],
)
def test_from_torch_computes_the_same_function(make, inputs):
    torch.manual_seed(0)
    theirs = make()
    ours = tg.from_torch(theirs)
    assert_same_function(ours, theirs, inputs)


def test_containers_and_dtypes_carry_over():
    layers = tg.nn.ModuleList([tg.nn.Linear(2, 2, rng=0), tg.nn.GRU(2, 3, rng=1)])
    heads = tg.nn.ModuleDict({"a": tg.nn.Linear(2, 1, rng=2)})
    assert isinstance(tg.to_torch(layers), torch.nn.ModuleList) and isinstance(tg.to_torch(heads), torch.nn.ModuleDict)
    assert list(tg.from_torch(tg.to_torch(heads))) == ["a"]
    single = tg.nn.Linear(3, 2, rng=3).float()
    theirs = tg.to_torch(single)
    assert theirs.weight.dtype == torch.float32
    assert tg.from_torch(theirs).weight.dtype == np.float32
    assert tg.from_torch(torch.nn.Linear(3, 2)).weight.dtype == np.float32  # torch's default dtype kept


def test_a_trained_task_model_moves_to_torch_and_predicts_the_same():
    model = SequenceModel(1, 8, 1, cell="lstm", rng=0)
    optimizer = tg.optim.Adam(model, lr=0.05)
    x = np.sin(np.linspace(0, 6, 40)).reshape(8, 5, 1)
    y = x[:, -1] * 0.5
    for _ in range(5):
        optimizer.zero_grad()
        tg.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    theirs = tg.to_torch(model).eval()
    with torch.no_grad():
        np.testing.assert_allclose(theirs(torch.from_numpy(x)).numpy(), model(x).data, **TOLERANCE)


def test_a_converted_task_model_can_be_pickled_whole_by_torch(tmp_path):
    theirs = tg.to_torch(SequenceModel(2, 3, 1, cell="gru", rng=0))
    torch.save(theirs, tmp_path / "model.pt")
    loaded = torch.load(tmp_path / "model.pt", weights_only=False)
    x = torch.from_numpy(BATCH_FIRST[..., :2].copy())
    assert torch.equal(loaded(x), theirs(x))


def test_unknown_modules_and_missing_torch_are_clear_errors(monkeypatch):
    class Custom(tg.nn.Module):
        pass

    with pytest.raises(TypeError, match="to_torch: no torch.nn counterpart known for Custom"):
        tg.to_torch(Custom())
    with pytest.raises(TypeError, match=r"from_torch: no tinygrad_rnn counterpart known for torch.nn.Conv1d"):
        tg.from_torch(torch.nn.Conv1d(1, 1, 1))
    with pytest.raises(TypeError, match="from_torch: expects a torch.nn.Module, got Linear"):
        tg.from_torch(tg.nn.Linear(1, 1))
    with pytest.raises(ValueError, match="LSTM with proj_size=2 has no counterpart here"):
        tg.from_torch(torch.nn.LSTM(3, 4, proj_size=2))
    monkeypatch.setitem(sys.modules, "torch", None)  # what an environment without PyTorch looks like
    with pytest.raises(ImportError, match="to_torch/from_torch need PyTorch, which is not installed"):
        tg.to_torch(tg.nn.Linear(1, 1))
