"""What a PyTorch user types in the first hour, written with `import tinygrad_rnn as tg` alone,
each idiom compared with PyTorch's answer."""

import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")


def test_the_package_reaches_every_part():
    assert tg.nn.RNN and tg.nn.LSTM and tg.nn.GRU and tg.nn.Linear and tg.nn.functional.mse_loss
    assert tg.optim.SGD and tg.optim.AdamW and tg.optim.lr_scheduler.ReduceLROnPlateau
    assert tg.data.DataLoader and tg.data.TensorDataset and tg.checkpoint.save
    assert tg.nn.utils.rnn.pad_sequence and tg.nn.init.xavier_uniform_
    assert tg.to_torch and tg.from_torch and tg.manual_seed
    assert tg.viz.draw_graph and callable(tg.jit)
    with pytest.raises(AttributeError, match="module 'tinygrad_rnn' has no attribute 'nope'"):
        _ = tg.nope


def test_importing_the_package_does_not_load_plotting(tmp_path):
    code = (
        "import sys, tinygrad_rnn as tg; assert 'matplotlib' not in sys.modules, 'matplotlib'; "
        "assert 'graphviz' not in sys.modules, 'graphviz'; tg.viz; assert 'graphviz' in sys.modules"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(tg.__file__)))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": root},
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- tensor factories


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.zeros(2, 3),
        lambda m: m.zeros((2, 3)),
        lambda m: m.ones(4),
        lambda m: m.zeros(0, 2),
        lambda m: m.full((2, 2), 1.5),
        lambda m: m.full((3,), 7),
        lambda m: m.arange(5),
        lambda m: m.arange(1, 7, 2),
        lambda m: m.arange(0.0, 1.0, 0.25),
        lambda m: m.ones(()),
    ],
    ids=[
        "zeros",
        "zeros tuple",
        "ones",
        "zeros empty",
        "full float",
        "full int",
        "arange",
        "arange step",
        "arange float",
        "ones 0-d",
    ],
)
def test_factories_give_torchs_values_and_kinds(call):
    ours, theirs = call(tg), call(torch)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype.kind == ("f" if theirs.dtype.is_floating_point else "i")


def test_factories_default_to_float64_and_keep_a_requested_dtype():
    assert tg.zeros(2).dtype == np.float64 and tg.randn(2).dtype == np.float64
    assert tg.ones(2, dtype=np.float32).dtype == np.float32
    assert tg.zeros(2, requires_grad=True).requires_grad
    x = tg.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert tg.zeros_like(x).dtype == np.float32 and tg.ones_like(x).shape == (2, 3)
    np.testing.assert_array_equal(tg.ones_like(x).data, torch.ones_like(torch.from_numpy(x.data)).numpy())
    with pytest.raises(ValueError, match=r"zeros: sizes must be non-negative ints, got \(2, -1\)"):
        tg.zeros(2, -1)


@pytest.mark.parametrize("data", [[1.0, 2.0], [1, 2], [[True, False]], 3.5, 7, np.arange(3, dtype=np.float32)])
def test_tensor_is_a_function_giving_torchs_values_and_kinds(data):
    ours, theirs = tg.tensor(data), torch.tensor(data)
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    expected_kind = {torch.bool: "b", torch.int64: "i"}.get(theirs.dtype, "f")
    assert ours.dtype.kind == expected_kind and ours.is_leaf and not ours.requires_grad


def test_tensor_copies_and_takes_dtype_and_requires_grad():
    source = np.ones(2)
    t = tg.tensor(source, dtype=np.float32, requires_grad=True)
    source[0] = 5.0
    assert t.dtype == np.float32 and t.requires_grad and t.data[0] == 1.0
    assert tg.tensor([1.5]).dtype == np.float64  # the library's default float, where torch's is float32
    with pytest.raises(TypeError, match="only floating-point data can require a gradient"):
        tg.tensor([1, 2], requires_grad=True)


def test_manual_seed_makes_randn_and_rand_reproducible():
    tg.manual_seed(0)
    a, u = tg.randn(3, 4), tg.rand(100)
    tg.manual_seed(0)
    np.testing.assert_array_equal(tg.randn(3, 4).data, a.data)
    np.testing.assert_array_equal(tg.rand(100).data, u.data)
    assert 0 <= u.data.min() and u.data.max() < 1
    np.testing.assert_array_equal(tg.randn(2, generator=4).data, tg.randn(2, generator=4).data)


@pytest.mark.parametrize("name", ["cat", "concatenate", "stack"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack_with_dim_match_torch(name, dim):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 3)) for _ in range(3)]
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, their_y = getattr(tg, name)(ours, dim=dim), getattr(torch, name)(theirs, dim=dim)
    np.testing.assert_array_equal(y.data, their_y.detach().numpy())
    weight = rng.standard_normal(y.shape)
    (y * tg.Tensor(weight)).sum().backward()
    (their_y * torch.from_numpy(weight)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.grad, b.grad.numpy())
    np.testing.assert_array_equal(getattr(tg, name)(ours, axis=dim).data, y.data)  # NumPy's spelling, same meaning
    with pytest.raises(TypeError, match="give dim or axis, not both"):
        getattr(tg, name)(ours, dim=0, axis=0)


# ---------------------------------------------------------------- a training loop, line for line


class OurTagger(tg.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = tg.nn.Embedding(10, 4, padding_idx=0)
        self.lstm = tg.nn.LSTM(4, 5, batch_first=True)
        self.norm = tg.nn.LayerNorm(5)
        self.drop = tg.nn.Dropout(0.0)
        self.heads = tg.nn.ModuleList([tg.nn.Linear(5, 3), tg.nn.Linear(3, 1)])

    def forward(self, ids):
        output, _ = self.lstm(self.embed(ids))
        x = self.drop(self.norm(output[:, -1]))
        return self.heads[1](self.heads[0](x).tanh())


class TheirTagger(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(10, 4, padding_idx=0)
        self.lstm = torch.nn.LSTM(4, 5, batch_first=True)
        self.norm = torch.nn.LayerNorm(5)
        self.drop = torch.nn.Dropout(0.0)
        self.heads = torch.nn.ModuleList([torch.nn.Linear(5, 3), torch.nn.Linear(3, 1)])

    def forward(self, ids):
        output, _ = self.lstm(self.embed(ids))
        x = self.drop(self.norm(output[:, -1]))
        return self.heads[1](self.heads[0](x).tanh())


def test_a_pytorch_style_training_loop_gives_pytorchs_losses():
    tg.manual_seed(0)
    ours = OurTagger()
    theirs = TheirTagger().double()
    assert list(theirs.state_dict()) == list(ours.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(2)
    ids, targets = rng.integers(0, 10, (12, 6)), rng.standard_normal((12, 1))

    def train(model, nn, optim, loader):
        optimizer = optim.AdamW(
            [
                {"params": list(model.embed.parameters()), "lr": 0.05},
                {"params": [p for n, p in model.named_parameters() if not n.startswith("embed")]},
            ],
            lr=0.01,
            weight_decay=0.05,
        )
        schedule = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
        losses = []
        for _ in range(4):
            for batch_ids, batch_targets in loader:
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.mse_loss(model(batch_ids), batch_targets)
                loss.backward()
                losses.append(loss.item())
                optimizer.step()
            schedule.step()
        return losses

    our_loader = tg.data.DataLoader(tg.data.TensorDataset(ids, targets), batch_size=5)
    their_loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(ids), torch.from_numpy(targets)), batch_size=5
    )
    our_losses = train(ours, tg.nn, tg.optim, our_loader)
    their_losses = train(theirs, torch.nn, torch.optim, their_loader)
    np.testing.assert_allclose(our_losses, their_losses, rtol=1e-10)
    assert our_losses[-1] < our_losses[0]
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_module_idioms():
    model = tg.nn.Sequential(tg.nn.Linear(3, 4, rng=0), tg.nn.Linear(4, 2, rng=1))
    assert len(model) == 2 and model[-1].out_features == 2
    model.float()
    assert model[0].weight.dtype == np.float32
    model.double()
    model(np.ones((1, 3))).sum().backward()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    optimizer = tg.optim.RMSprop(model.parameters(), lr=0.01)
    restored = tg.optim.RMSprop(model.parameters(), lr=0.5)
    restored.load_state_dict(optimizer.state_dict())
    assert restored.param_groups[0]["lr"] == 0.01


def build_containers(nn, **linear_options):
    """The same nest of containers from tg.nn or torch.nn."""

    def linear(a, b):
        return nn.Linear(a, b, **linear_options)

    model = nn.ModuleDict(
        {
            "encoder": nn.Sequential(linear(3, 4), linear(4, 4), linear(4, 2)),
            "heads": nn.ModuleList([linear(2, 1), linear(2, 5)]),
        }
    )
    model["heads"].append(linear(2, 2))
    model["heads"].insert(0, linear(2, 3))
    del model["heads"][1]
    return model


def test_containers_name_parameters_as_torch_does():
    ours, theirs = build_containers(tg.nn, rng=0), build_containers(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(p.shape) for p in theirs.parameters()] == [p.shape for p in ours.parameters()]
    assert len(ours["encoder"]) == len(theirs["encoder"]) == 3
    assert list(ours["encoder"][1:].state_dict()) == list(theirs["encoder"][1:].state_dict())
    assert [m.out_features for m in ours["heads"]] == [m.out_features for m in theirs["heads"]]
    theirs = theirs.double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3))
    np.testing.assert_allclose(
        ours["encoder"][:2](x).data, theirs["encoder"][:2](torch.from_numpy(x)).detach().numpy(), rtol=1e-12
    )


def test_float_and_double_as_torch():
    ours, theirs = tg.nn.LSTM(2, 3), torch.nn.LSTM(2, 3)
    assert {p.dtype for p in ours.float().parameters()} == {np.dtype(np.float32)}
    assert {p.dtype for p in theirs.float().parameters()} == {torch.float32}
    assert {p.dtype for p in ours.double().parameters()} == {np.dtype(np.float64)}
    assert {p.dtype for p in theirs.double().parameters()} == {torch.float64}
