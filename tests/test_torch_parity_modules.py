"""Modules as PyTorch's: the tree methods (named_modules, named_parameters, state_dict,
apply, add_module, get_submodule, requires_grad_), load_state_dict's report, argument names,
degenerate sizes and their errors, dtype casting, and from_torch/to_torch of a module held twice.
PyTorch is the oracle for names, order, values, gradients and error types."""

import warnings
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, checkpoint

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install torch==2.13.0")


def both(build):
    """The same tree built from tinygrad_rnn.nn and from torch.nn (float64), with equal weights."""
    ours = build(tg.nn, {})
    theirs = build(torch.nn, {"dtype": torch.float64})
    theirs.load_state_dict({name: torch.from_numpy(value) for name, value in ours.state_dict().items()})
    return ours, theirs


def shared_tree(nn, options):
    """A tree with a Linear held in three places, one of them inside a nested Sequential."""
    inner = nn.Linear(3, 3, **options)
    return nn.Sequential(nn.Linear(2, 3, **options), inner, nn.Sequential(inner, nn.LayerNorm(3, **options)), inner)


# ---------------------------------------------------------------- the tree


@pytest.mark.parametrize("remove_duplicate", [True, False])
def test_named_modules_and_children_name_a_shared_module_as_torch(remove_duplicate):
    ours, theirs = both(shared_tree)
    names = [n for n, _ in ours.named_modules(prefix="m", remove_duplicate=remove_duplicate)]
    assert names == [n for n, _ in theirs.named_modules(prefix="m", remove_duplicate=remove_duplicate)]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()] == ["0", "1", "2"]
    assert len(list(ours.modules())) == len(list(theirs.modules())) == 5


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"prefix": "model"},
        {"recurse": False},
        {"remove_duplicate": False},
        {"prefix": "m", "remove_duplicate": False},
    ],
)
def test_named_parameters_options_as_torch(options):
    ours, theirs = both(shared_tree)
    assert [n for n, _ in ours.named_parameters(**options)] == [n for n, _ in theirs.named_parameters(**options)]
    inner_ours, inner_theirs = ours[1], theirs[1]
    assert [n for n, _ in inner_ours.named_parameters(recurse=False)] == ["weight", "bias"]
    assert [n for n, _ in inner_theirs.named_parameters(recurse=False)] == ["weight", "bias"]
    assert len(list(ours.parameters())) == len(list(theirs.parameters())) == 6
    assert list(ours.parameters(recurse=False)) == [] and list(theirs.parameters(recurse=False)) == []


def test_state_dict_names_every_position_of_a_shared_module_with_prefix_and_keep_vars():
    ours, theirs = both(shared_tree)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict(prefix="model.")) == list(theirs.state_dict(prefix="model."))
    for name, value in theirs.state_dict(prefix="p.").items():
        np.testing.assert_array_equal(ours.state_dict(prefix="p.")[name], value.numpy(), err_msg=name)
    kept = ours.state_dict(keep_vars=True)
    assert kept["1.weight"] is kept["2.0.weight"] is kept["3.weight"] is ours[1].weight
    copied = ours.state_dict()
    copied["1.weight"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(ours[1].weight.data == 7.0)
    destination = OrderedDict(first=np.zeros(1))
    assert ours.state_dict(destination=destination) is destination
    assert list(destination) == ["first", *theirs.state_dict()]


def test_state_dict_takes_its_options_by_keyword_only():
    with pytest.raises(TypeError):
        tg.nn.Linear(2, 2).state_dict(None, "model.")


def test_apply_visits_children_before_parents_as_torch():
    ours, theirs = both(shared_tree)
    seen_ours, seen_theirs = [], []
    assert ours.apply(lambda m: seen_ours.append(type(m).__name__)) is ours
    theirs.apply(lambda m: seen_theirs.append(type(m).__name__))
    assert seen_ours == seen_theirs


def test_apply_initialises_every_linear():
    ours, theirs = both(shared_tree)

    def fill(module, init):
        if type(module).__name__ == "Linear":
            init.constant_(module.weight, 0.5)

    ours.apply(lambda m: fill(m, tg.nn.init))
    with torch.no_grad():
        theirs.apply(lambda m: fill(m, torch.nn.init))
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.numpy(), err_msg=name)


def test_add_module_registers_as_an_assignment_does():
    ours, theirs = tg.nn.Sequential(tg.nn.Linear(2, 2)), torch.nn.Sequential(torch.nn.Linear(2, 2))
    ours.add_module("head", tg.nn.Linear(2, 1))
    theirs.add_module("head", torch.nn.Linear(2, 1))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours(np.ones((4, 2))).shape == tuple(theirs(torch.ones(4, 2)).shape) == (4, 1)
    ours.add_module("head", None)
    theirs.add_module("head", None)
    assert (
        [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()] == ["0.weight", "0.bias"]
    )


@pytest.mark.parametrize(
    "name, module, error",
    [
        ("a.b", "module", KeyError),
        ("", "module", KeyError),
        ("training", "module", KeyError),
        (3, "module", TypeError),
        ("head", "not a module", TypeError),
    ],
)
def test_add_module_errors_as_torch(name, module, error):
    for nn in (tg.nn, torch.nn):
        model = nn.Sequential(nn.Linear(2, 2))
        value = nn.Linear(2, 1) if module == "module" else np.zeros(2)
        before = [n for n, _ in model.named_parameters()]
        with pytest.raises(error):
            model.add_module(name, value)
        assert [n for n, _ in model.named_parameters()] == before


def test_get_submodule_walks_a_dotted_path_as_torch():
    ours, theirs = both(shared_tree)
    for target in ("", "0", "2", "2.0", "2.1", "3"):
        assert type(ours.get_submodule(target)).__name__ == type(theirs.get_submodule(target)).__name__
    assert ours.get_submodule("2.0") is ours[1]
    for target in ("4", "2.5", "0.weight", "0.nothing", "training"):
        with pytest.raises(AttributeError):
            theirs.get_submodule(target)
        with pytest.raises(AttributeError, match=f"get_submodule\\({target!r}\\)"):
            ours.get_submodule(target)


def test_requires_grad_false_freezes_every_parameter_as_torch():
    ours, theirs = both(shared_tree)
    assert ours[0].requires_grad_(False) is ours[0]
    theirs[0].requires_grad_(False)
    x = np.random.default_rng(0).standard_normal((4, 2))
    ours(Tensor(x, requires_grad=True)).sum().backward()
    theirs(torch.tensor(x, requires_grad=True)).sum().backward()
    grads_theirs = {n: p.grad for n, p in theirs.named_parameters()}
    for name, param in ours.named_parameters():
        if grads_theirs[name] is None:
            assert param.grad is None and not param.requires_grad, name
        else:
            np.testing.assert_allclose(param.grad, grads_theirs[name].numpy(), rtol=1e-12, err_msg=name)
    ours.requires_grad_()
    assert all(p.requires_grad for p in ours.parameters())


# ---------------------------------------------------------------- load_state_dict


def test_load_state_dict_reports_missing_and_unexpected_keys_as_torch():
    ours, theirs = tg.nn.Linear(2, 1), torch.nn.Linear(2, 1, dtype=torch.float64)
    state = ours.state_dict()
    del state["bias"]
    state["extra"] = np.zeros(1)
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    assert result == (["bias"], ["extra"])
    assert result.missing_keys == expected.missing_keys and result.unexpected_keys == expected.unexpected_keys
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy())


def test_a_strict_load_returns_empty_lists_as_torch():
    ours = tg.nn.Linear(2, 1)
    theirs = torch.nn.Linear(2, 1, dtype=torch.float64)
    result = ours.load_state_dict(tg.nn.Linear(2, 1).state_dict())
    expected = theirs.load_state_dict(torch.nn.Linear(2, 1, dtype=torch.float64).state_dict())
    assert (
        result.missing_keys == expected.missing_keys == [] and result.unexpected_keys == expected.unexpected_keys == []
    )
    assert repr(result) == repr(expected) == "<All keys matched successfully>"


@pytest.mark.parametrize("strict", [True, False])
def test_a_failed_load_is_a_runtime_error_and_changes_nothing(strict):
    ours, theirs = tg.nn.Linear(2, 1), torch.nn.Linear(2, 1, dtype=torch.float64)
    before = {k: v.copy() for k, v in ours.state_dict().items()}
    state = {"weight": np.ones((1, 2)), "bias": np.ones(3)}  # a good weight, a mis-shaped bias
    if strict:
        state["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError):
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=strict)
    with pytest.raises(RuntimeError, match=r"bias: shape \(3,\) in the state, \(1,\) in the model"):
        ours.load_state_dict(state, strict=strict)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_a_missing_key_in_a_strict_load_is_named():
    model = tg.nn.Linear(2, 1)
    with pytest.raises(RuntimeError, match="missing keys: bias"):
        model.load_state_dict({"weight": np.ones((1, 2))})


def test_a_shared_module_loads_from_every_name_as_torch():
    ours, theirs = both(shared_tree)
    state = {name: np.full(value.shape, float(index)) for index, (name, value) in enumerate(ours.state_dict().items())}
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], value.numpy(), err_msg=name)
    partial = {k: v for k, v in state.items() if not k.startswith("3.")}
    result = ours.load_state_dict(partial, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in partial.items()}, strict=False)
    assert result.missing_keys == expected.missing_keys == ["3.weight", "3.bias"]


def test_a_checkpoint_of_a_shared_module_round_trips(tmp_path):
    model = shared_tree(tg.nn, {})
    checkpoint.save(model, tmp_path / "shared.npz")
    again = shared_tree(tg.nn, {})
    checkpoint.load(tmp_path / "shared.npz", again)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[name], value, err_msg=name)
    assert again[1] is again[2][0]


# ---------------------------------------------------------------- interop of a module held twice


def test_from_torch_applies_a_module_held_twice_twice():
    lin = torch.nn.Linear(2, 2, dtype=torch.float64)
    theirs = torch.nn.Sequential(lin, lin)
    ours = tg.from_torch(theirs)
    assert ours[0] is ours[1]
    x = np.array([[1.0, -2.0], [0.5, 0.25]])
    xt = torch.tensor(x, requires_grad=True)
    out, out_t = ours(Tensor(x, requires_grad=True)), theirs(xt)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(ours[0].weight.grad, lin.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours[0].bias.grad, lin.bias.grad.numpy(), rtol=1e-12)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_to_torch_keeps_a_shared_module_shared():
    ours = shared_tree(tg.nn, {})
    theirs = tg.to_torch(ours)
    assert theirs[1] is theirs[2][0] is theirs[3]
    assert [n for n, _ in theirs.named_parameters()] == [n for n, _ in ours.named_parameters()]
    x = np.random.default_rng(1).standard_normal((3, 2))
    np.testing.assert_allclose(ours(x).data, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    back = tg.from_torch(theirs)
    assert back[1] is back[2][0] is back[3]
    np.testing.assert_allclose(back(x).data, ours(x).data, rtol=1e-12)


# ---------------------------------------------------------------- argument names


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True)])
def test_rnn_forward_takes_hx_by_keyword_and_by_position(layers, bidirectional):
    rnn = tg.nn.RNN(2, 3, num_layers=layers, bidirectional=bidirectional)
    theirs = tg.to_torch(rnn)
    rng = np.random.default_rng(2)
    x, h = rng.standard_normal((4, 1, 2)), rng.standard_normal((layers * (1 + bidirectional), 1, 3))
    ht = torch.tensor(h, requires_grad=True)
    hx = Tensor(h, requires_grad=True)
    out, h_n = rnn(x, hx=hx)
    out_t, h_n_t = theirs(torch.tensor(x), hx=ht)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(h_n.data, h_n_t.detach().numpy(), rtol=1e-12)
    (out.sum() + h_n.sum()).backward()
    (out_t.sum() + h_n_t.sum()).backward()
    np.testing.assert_allclose(hx.grad, ht.grad.numpy(), rtol=1e-12)
    np.testing.assert_array_equal(rnn(x, h)[1].data, h_n.data)
    with pytest.raises(TypeError):
        rnn(x, h0=h)


# ---------------------------------------------------------------- degenerate sizes


def test_a_linear_layer_with_no_inputs_is_its_bias_as_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "Initializing zero-element tensors is a no-op"
        theirs = torch.nn.Linear(0, 3, dtype=torch.float64)
    ours = tg.nn.Linear(0, 3)
    assert ours.weight.shape == tuple(theirs.weight.shape) == (3, 0)
    np.testing.assert_array_equal(ours.bias.data, theirs.bias.detach().numpy())  # zeros: the bound is 0
    x = Tensor(np.ones((2, 0)), requires_grad=True)
    xt = torch.ones(2, 0, dtype=torch.float64, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_array_equal(ours.bias.grad, theirs.bias.grad.numpy())
    assert ours.weight.grad.shape == (3, 0) and x.grad.shape == (2, 0)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize(
    "args, options, error, option",
    [
        ((3, 0), {}, ValueError, "hidden_size"),
        ((3, -2), {}, ValueError, "hidden_size"),
        ((0, 3), {}, ValueError, "input_size"),
        ((3, 2.0), {}, TypeError, "hidden_size"),
        ((3.0, 2), {}, TypeError, "input_size"),
        ((3, 2), {"num_layers": 0}, ValueError, "num_layers"),
    ],
)
def test_recurrent_layer_sizes_are_checked_as_torch(kind, args, options, error, option):
    with pytest.raises(error, match=option):
        getattr(torch.nn, kind)(*args, **options)
    with pytest.raises(error, match=f"{kind}: {option}"):
        getattr(tg.nn, kind)(*args, **options)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_a_cell_of_zero_units_builds_as_torch(kind):
    theirs = getattr(torch.nn, kind)(3, 0, dtype=torch.float64)
    ours = getattr(tg.nn, kind)(3, 0)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]


# ---------------------------------------------------------------- dtypes


def test_a_float32_layernorm_casts_float64_input_as_linear_does():
    ours = tg.nn.LayerNorm(3, dtype=np.float32)
    theirs = torch.nn.LayerNorm(3)
    x = np.array([[1.0, -2.0, 0.5], [3.0, 3.0, 4.0]])
    leaf = Tensor(x, requires_grad=True)
    y = ours(leaf)
    assert y.dtype == np.float32 and ours(x).dtype == np.float32
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    yt = theirs(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.array([[0.3, -1.0, 2.0], [1.0, 0.5, -0.25]])
    y.backward(g)
    yt.backward(torch.tensor(g, dtype=torch.float32))
    assert leaf.grad.dtype == np.float64 and ours.weight.grad.dtype == np.float32
    np.testing.assert_allclose(leaf.grad, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_layernorm_without_parameters_keeps_the_input_dtype_as_torch():
    for dtype, torch_dtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        x = np.arange(6.0).reshape(2, 3).astype(dtype)
        y = tg.nn.LayerNorm(3, elementwise_affine=False)(x)
        yt = torch.nn.LayerNorm(3, elementwise_affine=False)(torch.tensor(x))
        assert y.dtype == dtype and yt.dtype == torch_dtype
        np.testing.assert_allclose(y.data, yt.numpy(), rtol=1e-6)
