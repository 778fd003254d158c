"""ModuleList, ModuleDict, Sequential indexing, Module dtype conversion and zero_grad; nn.init's
PyTorch functions against torch.nn.init and document 000's schemes against their definitions."""

import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn
from tinygrad_rnn.nn import init

# ---------------------------------------------------------------- containers


def linears(*sizes):
    return [nn.Linear(a, b, rng=i) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]


def test_module_list_registers_its_modules_in_order():
    layers = nn.ModuleList(linears(2, 3, 4))
    assert len(layers) == 2 and [type(m) for m in layers] == [nn.Linear, nn.Linear]
    assert [name for name, _ in layers.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    layers.append(nn.Linear(4, 1, rng=5))
    assert layers[-1].out_features == 1 and len(layers) == 3
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2 and layers[1:][0] is layers[1]
    first = layers[0]
    del layers[0]
    assert len(layers) == 2 and first not in list(layers)
    assert [name for name, _ in layers.named_children()] == ["0", "1"]
    layers.insert(0, first)
    assert layers[0] is first and [n for n, _ in layers.named_children()] == ["0", "1", "2"]
    replacement = nn.Linear(2, 3, rng=9)
    layers[0] = replacement
    assert layers[0] is replacement and len(list(layers.parameters())) == 6


def test_a_module_list_inside_a_model_trains_with_it():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(linears(3, 4, 2))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return x

    model = Tower()
    assert [n for n, _ in model.named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]
    model(np.ones((5, 3))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_module_list_errors_name_the_problem():
    layers = nn.ModuleList(linears(2, 2))
    with pytest.raises(IndexError, match="ModuleList: index 3 is out of range for 1 modules"):
        layers[3]
    with pytest.raises(TypeError, match="ModuleList: item 1 is a int, not a Module"):
        layers.append(7)
    with pytest.raises(TypeError, match="ModuleList indices must be ints or slices, got str"):
        layers["0"]


def test_module_dict_by_name():
    heads = nn.ModuleDict({"sentiment": nn.Linear(4, 2, rng=0), "value": nn.Linear(4, 1, rng=1)})
    assert list(heads) == ["sentiment", "value"] and len(heads) == 2 and "value" in heads
    assert heads["value"].out_features == 1
    assert [n for n, _ in heads.named_parameters()] == [
        "sentiment.weight",
        "sentiment.bias",
        "value.weight",
        "value.bias",
    ]
    heads["extra"] = nn.Linear(4, 3, rng=2)
    assert heads.keys() == ["sentiment", "value", "extra"]
    del heads["sentiment"]
    assert [k for k, _ in heads.items()] == ["value", "extra"] and len(heads.values()) == 2
    with pytest.raises(KeyError, match="no module named 'nope'; keys: value, extra"):
        heads["nope"]
    with pytest.raises(KeyError, match="key 'train' would hide the Module attribute of that name"):
        heads["train"] = nn.Linear(1, 1)
    with pytest.raises(KeyError, match="a key must be a non-empty string without '.'"):
        heads["a.b"] = nn.Linear(1, 1)


def test_sequential_indexes_slices_and_has_a_length():
    a, b, c = linears(2, 3, 3, 1)
    model = nn.Sequential(a, b, c)
    assert len(model) == 3 and model[0] is a and model[-1] is c
    head = model[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    x = np.ones((4, 2))
    np.testing.assert_array_equal(model[1:](head[0](x)).data, model(x).data)
    assert list(model) == [a, b, c]
    assert [name for name, _ in model[1:].named_children()] == ["1", "2"]  # a slice keeps the names


def test_sequential_from_an_ordered_dict_names_its_children():
    from collections import OrderedDict

    a, b = linears(2, 3, 1)
    model = nn.Sequential(OrderedDict(hidden=a, out=b))
    assert [name for name, _ in model.named_parameters()] == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert model[0] is a and model.out is b and len(model) == 2
    replacement = nn.Linear(3, 1, rng=4)
    model[-1] = replacement
    assert model.out is replacement and len(model) == 2
    np.testing.assert_array_equal(model(np.ones((1, 2))).data, replacement(a(np.ones((1, 2)))).data)


# ---------------------------------------------------------------- dtype and zero_grad


def test_float_double_and_to_convert_every_parameter_in_place():
    model = nn.Sequential(
        nn.RNN(2, 3, rng=0),
    )
    rnn = model[0]
    optimizer = tg.optim.SGD(model, lr=0.1)
    before = [p for p in model.parameters()]
    assert model.float() is model
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert [p for p in model.parameters()] == before == optimizer.param_groups[0]["params"]
    output, _ = rnn(np.ones((4, 1, 2), dtype=np.float32))
    assert output.dtype == np.float32
    output.sum().backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    model.double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in model.parameters())
    model.to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    with pytest.raises(TypeError, match="parameters must stay floating point, got dtype int64"):
        model.to(np.int64)
    assert model.to("cpu") is model and model[0].weight_ih_l0.dtype == np.float32
    with pytest.raises(ValueError, match="only the device 'cpu' exists here \\(NumPy\\), got 'cuda:0'"):
        model.to("cuda:0")


def test_module_zero_grad_sets_to_none_or_zeros_in_place():
    model = nn.Linear(2, 2, rng=0)
    model(np.ones((1, 2))).sum().backward()
    grads = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=False)
    assert [p.grad for p in model.parameters()] == grads and not any(g.any() for g in grads)
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------- nn.init against torch.nn.init

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")

SHAPE = (300, 500)  # fan_out 300, fan_in 500


@pytest.mark.parametrize(
    "name, options",
    [
        ("xavier_uniform_", dict(gain=1.0)),
        ("xavier_uniform_", dict(gain=init.calculate_gain("tanh"))),
        ("xavier_normal_", dict(gain=2.0)),
        ("kaiming_uniform_", dict()),
        ("kaiming_uniform_", dict(a=math.sqrt(5))),  # what torch.nn.Linear uses
        ("kaiming_uniform_", dict(mode="fan_out", nonlinearity="relu")),
        ("kaiming_normal_", dict(nonlinearity="relu")),
        ("kaiming_normal_", dict(a=0.2, mode="fan_out")),
        ("uniform_", dict(a=-0.3, b=0.7)),
        ("normal_", dict(mean=1.5, std=0.2)),
    ],
)
def test_init_distributions_match_torch(name, options):
    ours = getattr(init, name)(nn.Parameter(np.zeros(SHAPE)), **options, generator=0).data
    theirs = getattr(torch.nn.init, name)(torch.zeros(SHAPE, dtype=torch.float64), **options).numpy()
    # 150,000 draws each: the standard deviations agree to well under 1%, the means to 0.01 of one.
    assert ours.std() == pytest.approx(theirs.std(), rel=0.01)
    assert abs(ours.mean() - theirs.mean()) < 0.01 * max(theirs.std(), 1e-3) + 1e-3 * abs(theirs.mean())
    if "uniform" in name:
        assert ours.min() == pytest.approx(theirs.min(), rel=1e-3, abs=1e-4)
        assert ours.max() == pytest.approx(theirs.max(), rel=1e-3, abs=1e-4)


@pytest.mark.parametrize(
    "name, param",
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
        ("conv1d", None),
    ],
)
def test_calculate_gain_equals_torchs(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


@pytest.mark.parametrize("shape, gain", [((4, 4), 1.0), ((3, 7), 2.0), ((7, 3), 0.5), ((4, 2, 3), 1.0)])
def test_orthogonal_gives_orthonormal_rows_or_columns_as_torch(shape, gain):
    ours = init.orthogonal_(nn.Parameter(np.zeros(shape)), gain=gain, generator=1).data.reshape(shape[0], -1)
    theirs = torch.nn.init.orthogonal_(torch.zeros(shape, dtype=torch.float64), gain=gain).numpy()
    theirs = theirs.reshape(shape[0], -1)
    for w in (ours, theirs):
        small = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        np.testing.assert_allclose(small, gain**2 * np.eye(len(small)), atol=1e-12)


def test_constant_zeros_ones_and_the_seeded_generator():
    p = nn.Parameter(np.empty((2, 3)))
    np.testing.assert_array_equal(init.constant_(p, 0.25).data, 0.25)
    np.testing.assert_array_equal(init.zeros_(p).data, 0.0)
    np.testing.assert_array_equal(init.ones_(p).data, 1.0)
    array = p.data
    tg.manual_seed(11)
    first = init.kaiming_normal_(p).data.copy()
    tg.manual_seed(11)
    np.testing.assert_array_equal(init.kaiming_normal_(p).data, first)
    assert p.data is array  # filled in place


def test_init_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"fan in and fan out need a tensor of 2 or more dimensions, got shape \(3,\)"):
        init.xavier_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        init.kaiming_uniform_(nn.Parameter(np.zeros((2, 2))), mode="fan")
    with pytest.raises(ValueError, match="calculate_gain: unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_document_000s_xavier_and_he_are_one_distribution_and_not_glorots():
    """Its "xavier" and "he" draw the same numbers from the same seed: N(0, 2 / fan_in)."""
    shape = (200, 400)  # (out, in): Glorot's variance 2 / 600 differs from 2 / 400
    xavier = init.xavier_(nn.Parameter(np.zeros(shape)), rng=3).data
    he = init.he_(nn.Parameter(np.zeros(shape)), rng=3).data
    np.testing.assert_allclose(xavier, he, rtol=1e-14)
    assert xavier.std() == pytest.approx(math.sqrt(2 / 400), rel=0.01)
    glorot = init.xavier_normal_(nn.Parameter(np.zeros(shape)), generator=3).data
    assert glorot.std() == pytest.approx(math.sqrt(2 / 600), rel=0.01)
    assert init.random_(nn.Parameter(np.zeros(shape)), rng=3).data.std() == pytest.approx(0.01, rel=0.01)
