"""The SVG pictures a learner points at: a tooltip on every node (op, scope, shape, values,
gradient norm), and the time steps left to right in order for any number of steps."""

import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from tinygrad_rnn import nn, retain_grads
from tinygrad_rnn.nn.loss import MSELoss
from tinygrad_rnn.viz import draw_graph
from tinygrad_rnn.viz.tooltips import value_summary

SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"


def rnn_loss(steps, num_layers=1, hidden=3, seed=0):
    rng = np.random.default_rng(seed)
    rnn = nn.RNN(2, hidden, num_layers=num_layers, rng=seed)
    head = nn.Linear(hidden, 1, rng=seed + 1)
    rnn.retain_hidden = True
    _, h_n = rnn(rng.normal(size=(steps, 1, 2)))
    loss = MSELoss()(head(h_n[-1]), rng.normal(size=(1, 1)))
    return rnn, loss


def groups(svg: str, kind: str):
    """(title, tooltip) of every <g class=kind> in the SVG; tooltip None when it has none."""
    found = []
    for group in ElementTree.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") != kind:
            continue
        title = group.find(f"{SVG}title").text
        link = group.find(f".//{SVG}a")
        found.append((title, None if link is None else link.get(XLINK_TITLE)))
    return found


def box_extents(svg: str) -> dict:
    """Step index -> (left, right, top, bottom) of each step's box, from its outline's points."""
    extents = {}
    for group in ElementTree.fromstring(svg).iter(f"{SVG}g"):
        if group.get("class") != "cluster":
            continue
        match = re.search(r"/t=(\d+)$", group.find(f"{SVG}title").text)
        if not match:
            continue
        outline = next(e for e in group.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon"))
        numbers = [float(v) for v in re.findall(r"-?[\d.]+", outline.get("d") or outline.get("points"))]
        xs, ys = numbers[0::2], numbers[1::2]
        extents[int(match.group(1))] = (min(xs), max(xs), min(ys), max(ys))
    return extents


def test_every_node_has_a_tooltip_with_op_scope_shape_values_and_gradient_norm():
    rnn, loss = rnn_loss(3)
    with retain_grads():
        loss.backward()
    svg = draw_graph(loss, names=rnn, grad_norms=True).pipe(format="svg").decode()
    nodes = groups(svg, "node")
    assert len(nodes) > 10
    assert [title for title, tip in nodes if not tip] == []
    tips = [tip for _, tip in nodes]
    tanh_tips = [tip for tip in tips if tip.startswith("Tanh (op): z = tanh(x)")]
    assert len(tanh_tips) == 3
    for t in range(3):
        (tip,) = [tip for tip in tanh_tips if f"scope: layer0/t={t} (time step {t} of layer0)" in tip]
        assert "shape: (1, 3), float64" in tip
        hidden = rnn.hidden_states[0][t]
        assert f"|grad| = {np.linalg.norm(hidden.grad):.4g}" in tip
        assert "values: " + value_summary(hidden.data) in tip
    (weight,) = [tip for tip in tips if tip.startswith("weight_hh_l0 (parameter")]
    assert f"|grad| = {np.linalg.norm(rnn.weight_hh_l0.grad):.4g}" in weight
    assert "shape: (3, 3)" in weight
    (const,) = [tip for tip in tips if tip.startswith("const (constant") and "shape: (3, 1, 2)" in tip]
    assert "scope: layer0" in const and "|grad|" not in const
    for title, tip in groups(svg, "cluster"):
        assert tip, f"box {title} has no tooltip"
    recurrent = [tip for _, tip in groups(svg, "edge") if "hidden state from t=0 into t=1" in (tip or "")]
    assert len(recurrent) == 1


def test_tooltips_say_what_is_missing_before_backward():
    rnn, loss = rnn_loss(2)
    tips = [tip for _, tip in groups(draw_graph(loss, names=rnn).pipe(format="svg").decode(), "node")]
    (weight,) = [tip for tip in tips if tip.startswith("weight_hh_l0 (parameter")]
    assert "grad: none yet" in weight
    linear = [tip for tip in tips if tip.startswith("Linear (op)")]
    assert linear and all("retain_grads()" in tip for tip in linear)


@pytest.mark.parametrize("steps, collapse", [(20, None), (300, 3)])
def test_steps_run_left_to_right_in_time_order_on_one_row(steps, collapse):
    _, loss = rnn_loss(steps)
    extents = box_extents(draw_graph(loss, collapse=collapse).pipe(format="svg").decode())
    expected = list(range(steps)) if collapse is None else [0, 1, 2, steps - 3, steps - 2, steps - 1]
    assert sorted(extents) == expected
    for before, after in zip(expected, expected[1:]):
        left, right = extents[before], extents[after]
        assert left[1] < right[0], f"box t={after} does not start right of t={before}: {left} {right}"
        assert left[2] < right[3] and right[2] < left[3], f"t={before} and t={after} are not on one row"


def test_value_summary_is_exact_for_every_kind_of_array():
    assert value_summary(np.array(2.5)) == "2.5"
    assert value_summary(np.zeros((0, 3))) == "empty"
    assert value_summary(np.array([1.0, -2.0], dtype=np.float32)) == "1, -2"
    many = np.arange(10.0)
    many[3], many[4] = np.nan, np.inf
    text = value_summary(many)
    assert text.startswith("min 0, mean ") and text.endswith("1 NaN; 1 inf")
    assert "max 9" in text
    assert value_summary(np.full(8, np.nan)) == "8 NaN"


# ---------------------------------------------------------------- tinygrad-rnn graph


def test_graph_command_draws_each_tasks_own_model(tmp_path):
    from tinygrad_rnn.cli import main

    pictures = {}
    for task in ("sine", "temperature", "weather", "sentiment"):
        path = tmp_path / f"{task}.svg"
        assert main(["graph", "--task", task, "--steps", "3", "-o", str(path)]) == 0
        pictures[task] = path.read_text()
    assert len(set(pictures.values())) == 4
    tips = {task: [tip for _, tip in groups(svg, "node")] for task, svg in pictures.items()}
    assert not any("bias" in tip for tip in tips["sine"])  # document 004 has no biases
    (weight_hh,) = [tip for tip in tips["sine"] if tip.startswith("rnn.weight_hh_l0 (parameter")]
    assert "shape: (50, 50)" in weight_hh  # hidden 50, as the task trains
    (weight_hh,) = [tip for tip in tips["temperature"] if tip.startswith("rnn.weight_hh_l0 (parameter")]
    assert "shape: (16, 16)" in weight_hh
    (weight_ih,) = [tip for tip in tips["weather"] if tip.startswith("rnn.weight_ih_l0 (parameter")]
    assert "shape: (4, 3)" in weight_ih  # 3 features, hidden 4
    heads = [tip for tip in tips["weather"] if tip.startswith("Linear (op)") and "shape: (1, 3, 1)" in tip]
    assert len(heads) == 1  # a prediction at every step


def test_graph_command_keeps_time_order_and_collapses(tmp_path):
    from tinygrad_rnn.cli import main

    path = tmp_path / "long.svg"
    assert main(["graph", "--task", "weather", "--steps", "50", "--collapse", "3", "-o", str(path)]) == 0
    extents = box_extents(path.read_text())
    assert sorted(extents) == [0, 1, 2, 47, 48, 49]
    ordered = sorted(extents)
    assert all(extents[a][1] < extents[b][0] for a, b in zip(ordered, ordered[1:]))
    assert main(["graph", "--task", "sine", "--collapse", "0", "-o", str(tmp_path / "x.svg")]) == 2
    assert not (tmp_path / "x.svg").exists()


def test_a_backslash_in_a_name_is_shown_not_read_as_an_escape():
    from tinygrad_rnn import Tensor

    weight = Tensor(np.ones(2), requires_grad=True, name=r"w\N")
    svg = draw_graph((weight * 2.0).sum()).pipe(format="svg").decode()
    tips = [tip for _, tip in groups(svg, "node")]
    assert any(tip.startswith("w\u29f5N (parameter") for tip in tips), tips  # not "w" + the node's id
