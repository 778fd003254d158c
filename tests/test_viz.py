"""tinygrad_rnn.viz: the unrolled graph's boxes, shared weights and data flow, read back from the
DOT source and the rendered SVG; rendering without a system Graphviz; gradient flow through time."""

import re
import xml.etree.ElementTree as ElementTree

import graphviz
import numpy as np
import pytest

from tinygrad_rnn import nn, retain_grads
from tinygrad_rnn.nn.loss import MSELoss
from tinygrad_rnn.viz import draw_graph, gradient_flow, plot_gradient_flow, pure_dot_program, render

RECURRENT_COLOR = "#c0392b"


def parse_dot(source: str):
    """Nodes as id -> (cluster path, title) and edges as (source, target, attribute text)."""
    nodes, edges, clusters, open_boxes = {}, [], [], []
    for line in source.splitlines():
        line = line.strip()
        box = re.match(r'subgraph "?cluster_([^"]*?)"? \{$', line)
        if box:
            open_boxes.append(box.group(1))
            clusters.append(box.group(1))
        elif line == "}":
            if open_boxes:
                open_boxes.pop()
        elif re.match(r"\w+ -> \w+", line):
            source_id, target_id = re.match(r"(\w+) -> (\w+)", line).groups()
            edges.append((source_id, target_id, line))
        elif re.match(r"\w+ \[label=", line):
            node_id = line.split(" ", 1)[0]
            title = re.search(r"label=<(?:<b>)?(.*?)(?:</b>)?<br/>", line)
            nodes[node_id] = (open_boxes[-1] if open_boxes else "", title.group(1) if title else "")
    return nodes, edges, clusters


def unrolled_rnn(steps, num_layers=1, hidden=3, with_h0=False, seed=0):
    """A tanh RNN over `steps` steps, a Linear head on the last state, and an MSE loss."""
    rng = np.random.default_rng(seed)
    rnn = nn.RNN(2, hidden, num_layers=num_layers, rng=seed)
    head = nn.Linear(hidden, 1, rng=seed + 1)
    h0 = np.zeros((num_layers, 1, hidden)) if with_h0 else None
    _, h_n = rnn(rng.normal(size=(steps, 1, 2)), h0)
    loss = MSELoss()(head(h_n[-1]), rng.normal(size=(1, 1)))
    return rnn, head, loss


def nodes_titled(nodes, title):
    return [node_id for node_id, (_, t) in nodes.items() if t == title]


def step_clusters(clusters, layer):
    return [c for c in clusters if re.fullmatch(rf"layer{layer}/t=\d+", c)]


def step_index(cluster: str) -> int:
    return int(cluster.rsplit("t=", 1)[1])


# ---------------------------------------------------------------- boxes, weights, data flow


@pytest.mark.parametrize("steps, num_layers", [(5, 1), (4, 2)])
def test_one_box_per_time_step_inside_one_box_per_layer(steps, num_layers):
    _, _, loss = unrolled_rnn(steps, num_layers)
    nodes, _, clusters = parse_dot(draw_graph(loss).source)
    for layer in range(num_layers):
        assert f"layer{layer}" in clusters
        assert sorted(step_index(c) for c in step_clusters(clusters, layer)) == list(range(steps))
    assert len(clusters) == num_layers * (steps + 1)
    for layer in range(num_layers):
        for t in range(steps):  # every step, the first included, computes h_{t-1} @ W_hh.T
            inside = [title for box, title in nodes.values() if box == f"layer{layer}/t={t}"]
            assert "GetItem" in inside and "Tanh" in inside and "Linear" in inside
            assert ("h_0" in inside) == (t == 0)  # the zero initial state, drawn where it is used


@pytest.mark.parametrize("with_h0", [True, False])
def test_each_weight_is_drawn_once_outside_the_boxes_with_an_edge_into_each_step(with_h0):
    steps = 6
    _, _, loss = unrolled_rnn(steps, with_h0=with_h0)
    nodes, edges, _ = parse_dot(draw_graph(loss).source)
    (recurrent_weight,) = nodes_titled(nodes, "weight_hh_l0")
    targets = [nodes[target][0] for source, target, _ in edges if source == recurrent_weight]
    assert sorted(step_index(box) for box in targets) == list(range(steps))
    # the input weight and the bias enter once, in the layer's projection of all steps, and
    # that projection sends its row t into step t
    for title in ("weight_ih_l0", "bias_ih_l0 + bias_hh_l0"):
        (weight,) = nodes_titled(nodes, title)
        assert nodes[weight][0] == ""
        assert [nodes[target] for source, target, _ in edges if source == weight] == [("layer0", "Linear")]
    (projection,) = [node for node, box_title in nodes.items() if box_title == ("layer0", "Linear")]
    rows = [nodes[target] for source, target, _ in edges if source == projection]
    assert sorted(rows) == sorted((f"layer0/t={t}", "GetItem") for t in range(steps))
    for name in ("bias_ih_l0", "bias_hh_l0"):
        assert nodes_titled(nodes, name) == []
    assert "Transpose" not in [title for _, title in nodes.values()]


def test_names_come_from_a_module_and_bookkeeping_can_be_shown():
    rnn, head, loss = unrolled_rnn(3)
    model = nn.Sequential(rnn, head)
    nodes, _, _ = parse_dot(draw_graph(loss, names=model).source)
    assert len(nodes_titled(nodes, "0.weight_hh_l0")) == 1
    assert len(nodes_titled(nodes, "0.bias_ih_l0 + 0.bias_hh_l0")) == 1
    assert len(nodes_titled(nodes, "1.weight")) == 1

    nodes, edges, _ = parse_dot(draw_graph(loss, hide_bookkeeping=False).source)
    (bias_sum,) = [node for node, box_title in nodes.items() if box_title == ("layer0", "Add")]
    for name in ("bias_ih_l0", "bias_hh_l0"):
        (bias,) = nodes_titled(nodes, name)
        assert nodes[bias][0] == "" and [target for source, target, _ in edges if source == bias] == [bias_sum]
    assert [nodes[target] for source, target, _ in edges if source == bias_sum] == [("layer0", "Linear")]


def test_edges_follow_the_data_flow_and_hidden_state_edges_stand_out():
    steps = 5
    _, _, loss = unrolled_rnn(steps, num_layers=2)
    nodes, edges, _ = parse_dot(draw_graph(loss).source)
    for layer in range(2):
        for t in range(1, steps):
            recurrent = [
                line
                for source, target, line in edges
                if nodes[source] == (f"layer{layer}/t={t - 1}", "Tanh")
                and nodes[target] == (f"layer{layer}/t={t}", "Linear")
            ]
            assert len(recurrent) == 1 and RECURRENT_COLOR in recurrent[0]
    for t in range(steps):  # layer 0's h_t, stacked, are the sequence layer 1 projects
        upward = [
            1
            for source, target, _ in edges
            if nodes[source] == (f"layer0/t={t}", "Tanh") and nodes[target] == ("layer0", "Stack")
        ]
        assert upward == [1]
    (stacked,) = [node for node, box_title in nodes.items() if box_title == ("layer0", "Stack")]
    assert [nodes[target] for source, target, _ in edges if source == stacked] == [("layer1", "Linear")]
    for source, target, _ in edges:
        source_box, target_box = nodes[source][0], nodes[target][0]
        if "t=" in source_box and "t=" in target_box:
            assert step_index(source_box) <= step_index(target_box)


def test_the_input_sequence_is_one_small_constant_in_the_layer_box():
    steps = 4
    _, _, loss = unrolled_rnn(steps)
    source = draw_graph(loss).source
    nodes, _, _ = parse_dot(source)
    assert [box for box, title in nodes.values() if title == "const"].count("layer0") == 1
    for t in range(steps):
        assert "const" not in [title for box, title in nodes.values() if box == f"layer0/t={t}"]
    assert len(re.findall(r"label=<const<br/>.*fontsize=9", source)) == 2  # the input sequence and the target


def test_collapsed_graph_has_the_same_size_for_any_length_and_keeps_the_flow():
    keep = 2
    sizes = {}
    for steps in (100, 500):
        _, _, loss = unrolled_rnn(steps, num_layers=2)
        nodes, edges, clusters = parse_dot(draw_graph(loss, collapse=keep).source)
        sizes[steps] = (len(nodes), len(edges))
        for layer in range(2):
            boxes = sorted(step_index(c) for c in step_clusters(clusters, layer))
            assert boxes == [0, 1, steps - 2, steps - 1]
        placeholders = nodes_titled(nodes, f"... {steps - 2 * keep} steps ...")
        assert sorted(nodes[p][0] for p in placeholders) == ["layer0", "layer1"]
        for placeholder in placeholders:
            layer = nodes[placeholder][0]
            into = {nodes[s] for s, t, _ in edges if t == placeholder}
            out_of = {nodes[t] for s, t, _ in edges if s == placeholder}
            assert (f"{layer}/t={keep - 1}", "Tanh") in into
            assert (f"{layer}/t={steps - keep}", "Linear") in out_of
        (low, high) = sorted(placeholders, key=lambda p: nodes[p][0])
        assert any(s == low and nodes[t] == ("layer0", "Stack") for s, t, _ in edges)
        assert any(nodes[s] == ("layer1", "Linear") and t == high for s, t, _ in edges)
    assert sizes[100] == sizes[500]
    assert sizes[500][0] < 80


def test_collapse_that_hides_nothing_leaves_the_graph_alone():
    _, _, loss = unrolled_rnn(4)
    assert parse_dot(draw_graph(loss, collapse=2).source) == parse_dot(draw_graph(loss).source)
    with pytest.raises(ValueError, match="collapse"):
        draw_graph(loss, collapse=0)


# ---------------------------------------------------------------- values and gradient norms


def test_values_and_gradient_norms_label_the_nodes():
    rnn, _, loss = unrolled_rnn(3)
    assert f"{loss.item():.3g}" in draw_graph(loss, show_values=True).source
    loss.backward(retain_graph=True)
    with pytest.raises(ValueError, match="retain_grads"):
        draw_graph(loss, grad_norms=True)

    rnn, _, loss = unrolled_rnn(3)
    with retain_grads():
        loss.backward()
    source = draw_graph(loss, grad_norms=True).source
    nodes, _, _ = parse_dot(source)
    assert "legend" in nodes
    weight_norm = np.linalg.norm(rnn.weight_hh_l0.grad)
    weight_line = next(line for line in source.splitlines() if "<b>weight_hh_l0</b>" in line)
    assert f"|grad| = {weight_norm:.3g}" in weight_line
    fills = {re.search(r'fillcolor="(#\w+)"', line).group(1) for line in source.splitlines() if "<b>Tanh</b>" in line}
    assert len(fills) > 1  # the gradient shrinks going back in time, and the colours show it


# ---------------------------------------------------------------- rendering without a system dot


def test_pure_renderer_writes_svg_and_png(tmp_path):
    program = pure_dot_program()
    assert program is not None, "graphviz-pure is a dependency of tinygrad_rnn"
    steps = 3
    _, _, loss = unrolled_rnn(steps, num_layers=2)
    digraph = draw_graph(loss)
    svg_path = render(digraph, tmp_path / "graph.svg", program=program)
    png_path = render(digraph, tmp_path / "graph.png", program=program)
    tree = ElementTree.parse(svg_path)
    titles = [e.text for e in tree.iter() if e.tag.endswith("title")]
    assert sum(bool(re.fullmatch(r"cluster_layer\d/t=\d", t or "")) for t in titles) == 2 * steps
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="suffix|format"):
        render(digraph, tmp_path / "graph", program=program)


def test_the_graphviz_package_can_display_without_a_system_dot():
    binary = graphviz.backend.dot_command.DOT_BINARY
    assert str(binary) == "dot" or str(binary) == pure_dot_program()
    _, _, loss = unrolled_rnn(2)
    svg = draw_graph(loss)._repr_image_svg_xml()
    assert "<svg" in svg and "cluster_layer0/t=1" in svg


# ---------------------------------------------------------------- gradient flow


def test_gradient_flow_matches_the_retained_grads_and_the_bptt_formula():
    steps, hidden = 6, 4
    rng = np.random.default_rng(3)
    rnn = nn.RNN(2, hidden, rng=rng)
    rnn.retain_hidden = True
    output, _ = rnn(rng.normal(size=(steps, 2)))
    output[-1].sum().backward()
    states = rnn.hidden_states[0]
    norms = gradient_flow(states)
    assert np.allclose(norms, [np.linalg.norm(h.grad) for h in states], rtol=0, atol=0)

    w_hh = rnn.weight_hh_l0.data
    h = [state.data for state in states]
    delta = np.ones(hidden)  # dL/dh_T for L = sum(h_T)
    expected = [np.linalg.norm(delta)]
    for t in range(steps - 1, 0, -1):  # dL/dh_{t-1} = W_hh^T ((1 - h_t^2) * dL/dh_t)
        delta = w_hh.T @ ((1 - h[t] ** 2) * delta)
        expected.append(np.linalg.norm(delta))
    assert np.allclose(norms, expected[::-1], rtol=1e-12, atol=1e-15)


def test_gradient_flow_explains_what_is_missing():
    rnn = nn.RNN(2, 3, rng=0)
    output, _ = rnn(np.ones((3, 2)))
    with pytest.raises(ValueError, match="retain_hidden = True"):
        gradient_flow(rnn.hidden_states)
    rnn.retain_hidden = True
    rnn(np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"t=0 has no gradient.*retain_hidden = True"):
        gradient_flow(rnn.hidden_states[0])
    with pytest.raises(TypeError, match="one layer"):
        gradient_flow(rnn.hidden_states)


def test_plot_gradient_flow_writes_a_log_scale_figure(tmp_path):
    path = tmp_path / "flow.png"
    curves = {"tanh": np.geomspace(1e-6, 1, 30), "relu": np.geomspace(1, 1e4, 30)}
    ax = plot_gradient_flow(curves, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    single = plot_gradient_flow(np.ones(3))
    assert len(single.get_lines()) == 1
