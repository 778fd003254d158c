"""compare_gradients: a hand-derived BPTT in a document's row-vector layout against backward()."""

import numpy as np
import pytest

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.compare import compare_gradients, format_comparison
from tinygrad_rnn.nn import functional as F

BATCH, STEPS, INPUT, HIDDEN, OUTPUT = 3, 5, 2, 4, 1

DOCUMENT_TO_MODEL = {
    "i_weight": ("rnn.weight_ih_l0", "T"),
    "h_weight": ("rnn.weight_hh_l0", "T"),
    "h_bias": ("rnn.bias_ih_l0", "flatten"),
    "o_weight": ("head.weight", "T"),
    "o_bias": ("head.bias", "flatten"),
}


class ManyToOne(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(INPUT, HIDDEN, batch_first=True, rng=0)
        self.head = nn.Linear(HIDDEN, OUTPUT, rng=1)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


def document_weights(rng):
    """Row-vector weights as the documents keep them: x @ W, biases (1, n)."""
    return {
        "i_weight": rng.uniform(-0.5, 0.5, (INPUT, HIDDEN)),
        "h_weight": rng.uniform(-0.5, 0.5, (HIDDEN, HIDDEN)),
        "h_bias": rng.uniform(-0.5, 0.5, (1, HIDDEN)),
        "o_weight": rng.uniform(-0.5, 0.5, (HIDDEN, OUTPUT)),
        "o_bias": rng.uniform(-0.5, 0.5, (1, OUTPUT)),
    }


def hand_derived_bptt(w, x, target):
    """Gradients of sum((y - target)**2) for h_t = tanh(x_t W_i + h_{t-1} W_h + b_h), y = h_T W_o + b_o."""
    hidden = [np.zeros((len(x), HIDDEN))]
    for t in range(x.shape[1]):
        hidden.append(np.tanh(x[:, t] @ w["i_weight"] + hidden[-1] @ w["h_weight"] + w["h_bias"]))
    y = hidden[-1] @ w["o_weight"] + w["o_bias"]
    d_y = 2 * (y - target)
    grads = {"o_weight": hidden[-1].T @ d_y, "o_bias": d_y.sum(axis=0, keepdims=True)}
    grads.update({name: np.zeros_like(w[name]) for name in ("i_weight", "h_weight", "h_bias")})
    d_h = d_y @ w["o_weight"].T
    for t in reversed(range(x.shape[1])):
        d_pre = d_h * (1 - hidden[t + 1] ** 2)
        grads["i_weight"] += x[:, t].T @ d_pre
        grads["h_weight"] += hidden[t].T @ d_pre
        grads["h_bias"] += d_pre.sum(axis=0, keepdims=True)
        d_h = d_pre @ w["h_weight"].T
    return {name: grads[name] for name in w}


@pytest.fixture
def setting():
    """A model holding the document's weights, its gradients after backward, and the hand-derived ones."""
    rng = np.random.default_rng(11)
    w = document_weights(rng)
    x, target = rng.standard_normal((BATCH, STEPS, INPUT)), rng.standard_normal((BATCH, OUTPUT))
    model = ManyToOne()
    model.load_state_dict(
        {
            "rnn.weight_ih_l0": w["i_weight"].T,
            "rnn.weight_hh_l0": w["h_weight"].T,
            "rnn.bias_ih_l0": w["h_bias"].ravel(),
            "rnn.bias_hh_l0": np.zeros(HIDDEN),
            "head.weight": w["o_weight"].T,
            "head.bias": w["o_bias"].ravel(),
        }
    )
    F.mse_loss(model(x), target, reduction="sum").backward()
    return model, hand_derived_bptt(w, x, target)


def test_hand_derived_bptt_agrees_with_backward(setting):
    model, manual = setting
    result = compare_gradients(manual, model, DOCUMENT_TO_MODEL)
    assert list(result) == list(DOCUMENT_TO_MODEL)
    for name, row in result.items():
        assert row["model_name"] == DOCUMENT_TO_MODEL[name][0]
        assert row["manual_shape"] == manual[name].shape
        assert row["max_abs_diff"] < 1e-12, name
        assert row["max_rel_diff"] < 1e-10, name
    assert result["i_weight"]["model_shape"] == (HIDDEN, INPUT)
    assert result["o_bias"]["model_shape"] == (OUTPUT,)


def test_a_wrong_hand_gradient_shows_up(setting):
    model, manual = setting
    manual["h_weight"] = manual["h_weight"].T  # the classic mistake: the transposed recurrent gradient
    result = compare_gradients(manual, model, DOCUMENT_TO_MODEL)
    assert result["h_weight"]["max_rel_diff"] > 0.1
    assert result["i_weight"]["max_rel_diff"] < 1e-10


def test_differences_are_absolute_and_relative_ignoring_shared_zeros():
    autodiff = Tensor(np.zeros(5), requires_grad=True)
    autodiff.grad = np.array([1.0, 0.0, 2.0, -4.0, 0.0])
    manual = np.array([1.0, 0.0, 1.0, -4.5, 0.0])
    row = compare_gradients({"w": manual}, {"w": autodiff})["w"]
    assert row["max_abs_diff"] == 1.0
    assert row["max_rel_diff"] == 0.5  # |2 - 1| / 2; the shared zeros count for nothing
    only_one_zero = compare_gradients({"w": [0.0, 1e-9]}, {"w": np.array([0.0, 0.0])})["w"]
    assert only_one_zero["max_rel_diff"] == 1.0
    all_zero = compare_gradients({"w": np.zeros(3)}, {"w": np.zeros(3)})["w"]
    assert all_zero["max_abs_diff"] == 0.0 and all_zero["max_rel_diff"] == 0.0


def test_a_function_can_rearrange_the_manual_gradient():
    grads = {"w": np.arange(6.0).reshape(2, 3)}
    manual = {"w_flipped": np.arange(6.0).reshape(2, 3)[::-1]}
    result = compare_gradients(manual, grads, {"w_flipped": ("w", lambda m: m[::-1])})
    assert result["w_flipped"]["max_abs_diff"] == 0.0


def test_missing_names_are_listed(setting):
    model, manual = setting
    with pytest.raises(
        ValueError,
        match=r"no parameter for i_weight -> i_weight, h_weight -> h_weight.*"
        r"the model has rnn.weight_ih_l0",
    ):
        compare_gradients(manual, model)


def test_a_shape_mismatch_names_both_shapes(setting):
    model, manual = setting
    with pytest.raises(ValueError, match=r"i_weight has shape \(2, 4\) but rnn.weight_ih_l0 has shape \(4, 2\)"):
        compare_gradients({"i_weight": manual["i_weight"]}, model, {"i_weight": "rnn.weight_ih_l0"})
    with pytest.raises(
        ValueError,
        match=r"h_bias has shape \(4, 1\) after its transform but rnn.bias_ih_l0 has shape \(4,\)",
    ):
        compare_gradients({"h_bias": manual["h_bias"]}, model, {"h_bias": ("rnn.bias_ih_l0", "T")})


def test_other_misuse_is_named(setting):
    model, manual = setting
    with pytest.raises(ValueError, match=r"unknown transform 'transpose' for 'i_weight'"):
        compare_gradients({"i_weight": manual["i_weight"]}, model, {"i_weight": ("rnn.weight_ih_l0", "transpose")})
    model.zero_grad()
    with pytest.raises(ValueError, match=r"rnn.weight_ih_l0 has no gradient; run backward\(\) first"):
        compare_gradients({"i_weight": manual["i_weight"]}, model, DOCUMENT_TO_MODEL)
    with pytest.raises(TypeError, match="expected a Module or a dict name -> Tensor, got list"):
        compare_gradients(manual, [1, 2])


def test_format_comparison_is_an_aligned_table(setting):
    model, manual = setting
    text = format_comparison(compare_gradients(manual, model, DOCUMENT_TO_MODEL))
    lines = text.splitlines()
    assert lines[0].split() == [
        "gradient",
        "parameter",
        "manual",
        "shape",
        "model",
        "shape",
        "max",
        "abs",
        "diff",
        "max",
        "rel",
        "diff",
    ]
    assert [line.split()[0] for line in lines[1:]] == list(DOCUMENT_TO_MODEL)
    assert len({len(line) for line in lines}) == 1  # the last column is right-aligned
    assert lines[0].index("parameter") == lines[1].index("rnn.weight_ih_l0")
    assert "(2, 4)" in lines[1] and "(4, 2)" in lines[1]
