"""Document 001's hand computations, rebuilt as a graph of Tensor ops, with autograd doing its BPTT.

The numbers the walk-through prints are the only hard-coded values; the parameters are drawn
with np.random.RandomState(0).rand in the document's order, as `np.random.seed(0)` then `rand` did.
"""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, concatenate, gradcheck, scope, stack
from tinygrad_rnn.autograd import graph_nodes
from tinygrad_rnn.ops import Function

TEMPS = [66.0, 70.0, 62.0]
TARGETS = [70.0, 62.0, 65.0]

RELU_OUTPUTS = [57.94406231, 124.54916092, 190.94853131]
TANH_OUTPUTS = [74.31470595, 80.66149404, 77.67852446]
TANH_HIDDENS = [
    [0.56784618, 0.99320288, 0.87557333, 0.53166114, -0.76483255],
    [0.58366756, 0.99568651, 0.90034879, 0.69338529, -0.84149203],
    [0.5383306, 0.99164251, 0.86287584, 0.66091071, -0.80543591],
]
OUTPUT_GRADIENT = [4.31470595, 18.66149404, 12.67852446]
I_WEIGHT_GRADIENT = [[54498.71460476, 926.96931526, 16257.75098388, 66153.99689818, 27292.28884188]]

PRINTED = 5e-9  # the document prints 8 decimals: half a unit in the last place


def relu_params():
    rng = np.random.RandomState(0)
    return {
        name: Tensor(rng.rand(*shape), requires_grad=True, name=name)
        for name, shape in [("i_weight", (1, 2)), ("h_weight", (2, 2)), ("o_weight", (2, 1))]
    }


def tanh_params():
    rng = np.random.RandomState(0)
    i_weight = rng.rand(1, 5) / 5 - 0.1
    h_weight = rng.rand(5, 5) / 5 - 0.1
    h_bias = rng.rand(1, 5) / 5 - 0.1
    o_weight = rng.rand(5, 1) * 50
    o_bias = rng.rand(1, 1)
    values = dict(i_weight=i_weight, h_weight=h_weight, h_bias=h_bias, o_weight=o_weight, o_bias=o_bias)
    return {name: Tensor(v, requires_grad=True, name=name) for name, v in values.items()}


def relu_walkthrough(i_weight, h_weight, o_weight):
    """Cells 25-30: x_t (1, 1), no biases, h_0 = relu(x_0 W_i), h_t = relu(h_{t-1} W_h + x_t W_i)."""
    outputs, hidden = [], None
    for t, temp in enumerate(TEMPS):
        with scope(f"t={t}"):
            x = Tensor([[temp]])
            xi = x @ i_weight
            hidden = (xi if hidden is None else hidden @ h_weight + xi).relu()
            outputs.append(hidden @ o_weight)
    return stack(outputs).reshape(-1)


def tanh_walkthrough(i_weight, h_weight, h_bias, o_weight, o_bias):
    """Cell 33: step 0 has neither the recurrent term nor h_bias; every step adds o_bias."""
    outputs, hiddens, hidden = [], [], None
    for t, temp in enumerate(TEMPS):
        with scope(f"t={t}"):
            xi = Tensor([[temp]]) @ i_weight
            hidden = (xi if hidden is None else xi + hidden @ h_weight + h_bias).tanh()
            hiddens.append(hidden)
            outputs.append(hidden @ o_weight + o_bias)
    return stack(outputs).reshape(-1), concatenate(hiddens, axis=0)


def half_squared_error(outputs):
    difference = outputs - np.array(TARGETS)
    return 0.5 * (difference * difference).sum()


def test_relu_forward_outputs():
    outputs = relu_walkthrough(**relu_params())
    np.testing.assert_allclose(outputs.numpy(), RELU_OUTPUTS, rtol=0, atol=PRINTED)


def test_tanh_forward_outputs_and_hidden_states():
    outputs, hiddens = tanh_walkthrough(**tanh_params())
    np.testing.assert_allclose(outputs.numpy(), TANH_OUTPUTS, rtol=0, atol=PRINTED)
    np.testing.assert_allclose(hiddens.numpy(), TANH_HIDDENS, rtol=0, atol=PRINTED)


def test_autograd_reproduces_the_documents_i_weight_gradient():
    params = tanh_params()
    outputs, _ = tanh_walkthrough(**params)
    outputs.retain_grad()
    half_squared_error(outputs).backward()
    # the loss 0.5 * sum((y - target)^2) sends back exactly the document's `mse_grad`
    np.testing.assert_allclose(outputs.grad, OUTPUT_GRADIENT, rtol=0, atol=PRINTED)
    np.testing.assert_allclose(params["i_weight"].grad, I_WEIGHT_GRADIENT, rtol=1e-9)
    for name, p in params.items():
        assert p.grad.shape == p.shape, name


def test_every_walkthrough_gradient_agrees_with_finite_differences():
    params = tanh_params()
    names = list(params)

    def loss(*tensors):
        outputs, _ = tanh_walkthrough(**dict(zip(names, tensors)))
        return half_squared_error(outputs)

    report = gradcheck(loss, list(params.values()), rtol=1e-6, atol=1e-6)
    assert report.ok

    relu = relu_params()
    relu_names = list(relu)
    report = gradcheck(
        lambda *ts: half_squared_error(relu_walkthrough(**dict(zip(relu_names, ts)))),
        list(relu.values()),
        rtol=1e-6,
        atol=1e-6,
    )
    assert report.ok


def test_the_unrolled_graph_is_tagged_one_scope_per_time_step():
    params = tanh_params()
    outputs, _ = tanh_walkthrough(**params)
    step_scopes = {node.scope for node in graph_nodes(outputs) if isinstance(node, Function)}
    assert step_scopes == {"", "t=0", "t=1", "t=2"}  # "": the stack and reshape after the loop
    assert all(p.scope == "" for p in params.values())  # the shared weights live outside the steps


@pytest.mark.parametrize("wrong", ["h_weight", "h_bias"])
def test_autograd_disagrees_with_the_documents_slips_for_h_weight_and_h_bias(wrong):
    """The document adds hiddens[1] at step 1 (should be hiddens[0]) and takes np.mean of the
    h_bias gradient; its walk-through formulas, replayed in NumPy, do not match autograd."""
    params = tanh_params()
    outputs, hiddens = tanh_walkthrough(**params)
    half_squared_error(outputs).backward()
    h = hiddens.numpy()
    o_weight, h_weight = params["o_weight"].numpy(), params["h_weight"].numpy()
    d = (outputs.numpy() - TARGETS).reshape(3, 1)
    h2 = (d[2:3] @ o_weight.T) * (1 - h[2] ** 2)
    h1 = (d[1:2] @ o_weight.T + h2 @ h_weight.T) * (1 - h[1] ** 2)
    as_printed = {
        "h_weight": h[1][:, None] @ h2 + h[1][:, None] @ h1,
        "h_bias": np.mean(h2) + np.mean(h1),
    }
    corrected = {
        "h_weight": h[1][:, None] @ h2 + h[0][:, None] @ h1,
        "h_bias": (h2 + h1).reshape(1, 5),
    }
    np.testing.assert_allclose(params[wrong].grad, corrected[wrong], rtol=1e-12)
    assert not np.allclose(params[wrong].grad, as_printed[wrong], rtol=1e-3)
