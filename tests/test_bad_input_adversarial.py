"""Bad input, tried on purpose: every op, module, state load, checkpoint and command-line run
given something wrong says what was wrong (op, module, shapes, dtype, key, option) and loses
nothing (the model unchanged, no file written)."""

import json
import os
import re
import shutil
import stat
import warnings
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, checkpoint, nn
from tinygrad_rnn.autograd import detect_anomaly
from tinygrad_rnn.cli import main
from tinygrad_rnn.data.scalers import MinMaxScaler, StandardScaler

# ------------------------------------------------------------------------------- helpers


def _files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _values(module):
    return {name: value.copy() for name, value in module.state_dict().items()}


def _unchanged(module, before):
    after = module.state_dict()
    return after.keys() == before.keys() and all(
        np.array_equal(after[name], before[name], equal_nan=True) and after[name].dtype == before[name].dtype
        for name in before
    )


def _days_csv(path, rows, header="date,a,b"):
    lines = [header]
    for day in range(rows):
        lines.append(f"{np.datetime64('2020-01-01') + day},{np.sin(day / 5):.4f},{np.cos(day / 3):.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _refused(argv, capsys, folder, code=2):
    """Run the command line in `folder`; check it exits `code` with one line on stderr, no
    traceback, and leaves the folder's files as they were. Returns that line."""
    before = _files(folder)
    result = main(argv)
    captured = capsys.readouterr()
    assert result == code, captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "Traceback" not in captured.err
    assert _files(folder) == before
    return captured.err.strip()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def sine_checkpoint(tmp_path_factory):
    """A one-epoch sine checkpoint: (its arrays, its metadata)."""
    path = tmp_path_factory.mktemp("sine") / "sine.npz"
    assert main(["train", "sine", "--epochs", "1", "--quiet", "--save", str(path)]) == 0
    return checkpoint.load_state_dict(path), checkpoint.read_metadata(path)


def _write_checkpoint(path, arrays, metadata):
    """An .npz in the checkpoint layout, with whatever metadata is given."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(checkpoint.METADATA_MEMBER, json.dumps(metadata))
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w") as member:
                npy_format.write_array(member, value)
    return path


# ------------------------------------------------------------------------------- ops and backward


def test_cat_with_an_out_of_range_dim_names_the_dim():
    """cat(dim=5) of 2-D tensors says dim 5 is out of range, as transpose and stack do."""
    a = Tensor(np.ones((2, 3)))
    with pytest.raises((IndexError, ValueError)) as error:
        tg.cat([a, a], dim=5)
    assert "5" in str(error.value) and "out of" in str(error.value), str(error.value)


def test_backward_with_a_gradient_that_is_not_numbers_names_backward():
    """backward(gradient='x') names backward and the gradient, not just NumPy's conversion."""
    y = (Tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    with pytest.raises((TypeError, ValueError), match=r"backward"):
        y.backward(gradient="x")


def test_a_leaf_changed_in_place_and_counted_is_detected_by_backward():
    """The documented protocol for a leaf: write in place, count it, and backward refuses."""
    w = nn.Parameter(np.ones(3))
    y = (Tensor(np.ones(3)) * w).tanh().sum()
    w.data[...] = 5.0
    w._version += 1
    with pytest.raises(RuntimeError, match=r"\(input 1 of Mul\) was changed after the op saved it"):
        y.backward()


def test_backward_twice_and_on_a_non_scalar_are_named():
    """A second backward through a released graph, and backward on a non-scalar, each say so."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already released.*retain_graph=True"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\); a non-scalar needs `gradient`"):
        (x * 2).backward()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda a, b: a + b, r"^Add: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: a @ b, r"^MatMul: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: tg.stack([a, b]), r"^Stack: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: tg.cat([a, b], dim=0), r"^Concatenate: .*\(input shapes: \(2, 3\), \(4, 5\)\)$"),
        (lambda a, b: a.reshape(4, 2), r"^Reshape: .*\(input shapes: \(2, 3\)\)$"),
    ],
    ids=["add", "matmul", "stack", "cat", "reshape"],
)
def test_mismatched_shapes_name_the_op_and_both_shapes(make, message):
    """A shape mismatch in an op names the op and every input shape."""
    a, b = Tensor(np.ones((2, 3)), requires_grad=True), Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=message):
        make(a, b)


# ------------------------------------------------------------------------------- modules


@pytest.mark.parametrize(
    "layer_class, hidden_size",
    [(layer, size) for layer in (nn.RNN, nn.LSTM, nn.GRU) for size in (0, -2)]
    + [(cell, -2) for cell in (nn.RNNCell, nn.LSTMCell, nn.GRUCell)],
)
def test_a_recurrent_layer_with_a_hidden_size_below_one_names_it(layer_class, hidden_size):
    """RNN(3, 0) and RNN(3, -2) raise a ValueError naming hidden_size, not ZeroDivisionError or a
    math domain error; a cell, which PyTorch builds with 0 units, refuses a negative size."""
    with pytest.raises(ValueError, match=r"hidden_size"):
        layer_class(3, hidden_size)


def test_linear_with_no_input_features_works_as_in_pytorch():
    """Linear(0, 3) exists in PyTorch (a (3, 0) weight); here it must not die on a division by zero."""
    layer = nn.Linear(0, 3)
    assert layer.weight.shape == (3, 0)
    out = layer(np.ones((2, 0)))
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(layer.bias.numpy(), (2, 3)))


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize(
    "make_input, kind",
    [(lambda: np.ones((5, 2, 3), dtype=complex), "complex"), (lambda: "abc", "str|<U3|string")],
    ids=["complex", "string"],
)
def test_a_recurrent_layer_refuses_non_real_input_naming_itself_and_the_dtype(layer_class, make_input, kind):
    """Complex input is not cast silently (dropping the imaginary part), and a string is not a NumPy
    conversion error: both name the layer and what it was given."""
    layer = layer_class(3, 4)
    with warnings.catch_warnings(action="error"):  # a ComplexWarning is not an answer
        with pytest.raises((TypeError, ValueError), match=rf"{layer_class.__name__}.*({kind})"):
            layer(make_input())


@pytest.mark.parametrize(
    "hx, message",
    [
        ((np.zeros((1, 2, 5)), np.zeros((1, 2, 4))), r"^LSTM: h0 has shape \(1, 2, 5\), expected \(1, 2, 4\)$"),
        ((np.zeros((1, 2, 4)), np.zeros((1, 3, 4))), r"^LSTM: c0 has shape \(1, 3, 4\), expected \(1, 2, 4\)$"),
        (np.zeros((1, 2, 4)), r"^LSTM: hx must be a pair \(h0, c0\)"),
    ],
)
def test_an_lstm_state_of_the_wrong_shape_or_kind_names_it(hx, message):
    """A wrong h0, c0, or an h0 alone given to an LSTM names the state, the shape expected and got."""
    with pytest.raises((ValueError, TypeError), match=message):
        nn.LSTM(3, 4)(np.ones((5, 2, 3)), hx)


@pytest.mark.parametrize("layer_class", [nn.RNN, nn.LSTM, nn.GRU])
def test_a_recurrent_layer_given_the_wrong_feature_size_names_layer_and_shapes(layer_class):
    """Input (5, 2, 7) to a layer of input_size 3 names the layer, the shape got and expected."""
    with pytest.raises(
        ValueError, match=rf"^{layer_class.__name__}: input has shape \(5, 2, 7\); expected \(T, B, 3\)"
    ):
        layer_class(3, 4)(np.ones((5, 2, 7)))


def test_detect_anomaly_names_the_op_scope_and_step_of_a_nan_in_a_gru_weight():
    """A NaN in a GRU weight is reported under detect_anomaly at the first step's op, with its scope."""
    gru = nn.GRU(2, 3, rng=0)
    gru.weight_hh_l0.data = np.full((9, 3), np.nan)
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"Linear in scope 'layer0/t=0'.*NaN"):
        gru(np.ones((5, 1, 2)))


# ------------------------------------------------------------------------------- load_state_dict


@pytest.mark.parametrize("state", [[1, 2], None, "weights"], ids=["list", "None", "str"])
def test_load_state_dict_of_something_that_is_not_a_mapping_names_the_problem(state):
    """load_state_dict([1, 2]) / (None) says a mapping of names to arrays was expected."""
    model = nn.RNN(2, 3)
    before = _values(model)
    with pytest.raises(TypeError, match=r"load_state_dict"):
        model.load_state_dict(state)
    assert _unchanged(model, before)


def test_load_state_dict_of_a_ragged_value_names_the_key_and_changes_nothing():
    """A value NumPy cannot make an array of names its key."""
    model = nn.RNN(2, 3)
    before = _values(model)
    state = dict(before, bias_ih_l0=[[1.0, 2.0], [3.0]])
    with pytest.raises(RuntimeError, match=r"bias_ih_l0"):
        model.load_state_dict(state)
    assert _unchanged(model, before)


def test_load_state_dict_errors_read_plainly_without_quotes():
    """str(error) is the message itself (a bare KeyError would wrap it in quotes, as on the command line)."""
    model = nn.RNN(2, 3)
    with pytest.raises(Exception) as error:
        model.load_state_dict({})
    assert str(error.value).startswith("load_state_dict"), str(error.value)


def test_load_state_dict_non_strict_returns_the_missing_and_unexpected_keys():
    """As in PyTorch, load_state_dict returns (missing_keys, unexpected_keys)."""
    model = nn.RNN(2, 3)
    result = model.load_state_dict({"weight_ih_l0": np.ones((3, 2)), "extra": np.ones(2)}, strict=False)
    assert result is not None
    assert list(result.missing_keys) == ["weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert list(result.unexpected_keys) == ["extra"]


def test_a_load_that_fails_while_casting_leaves_the_model_unchanged():
    """An overflow raised while casting the last value (under np.errstate(over='raise')) leaves the
    values before it unwritten too."""
    model = nn.RNN(2, 2).float()
    before = _values(model)
    state = {name: np.ones(value.shape) for name, value in before.items()}
    state["bias_hh_l0"] = np.array([1e300, 0.0])
    with np.errstate(over="raise"), pytest.raises(RuntimeError, match="bias_hh_l0"):
        model.load_state_dict(state)
    assert _unchanged(model, before), [n for n in before if not np.array_equal(before[n], model.state_dict()[n])]


def test_load_state_dict_non_strict_still_refuses_a_wrong_shape_and_changes_nothing():
    """strict=False forgives missing and unexpected keys, not a wrong shape (as PyTorch), and nothing is written."""
    model = nn.LSTM(3, 4)
    before = _values(model)
    state = dict(before, weight_ih_l0=np.zeros((5, 5)), bias_ih_l0=np.ones(16))
    with pytest.raises(Exception, match=r"weight_ih_l0: shape \(5, 5\) in the state, \(16, 3\) in the model"):
        model.load_state_dict(state, strict=False)
    assert _unchanged(model, before)


def test_load_state_dict_non_strict_loads_exactly_the_keys_given():
    """A partial load under strict=False writes the keys present, leaves the others, ignores extras."""
    model = nn.LSTM(3, 4)
    before = _values(model)
    model.load_state_dict({"weight_ih_l0": np.ones((16, 3)), "unknown": np.ones(7)}, strict=False)
    after = model.state_dict()
    np.testing.assert_array_equal(after["weight_ih_l0"], np.ones((16, 3)))
    for name in ("weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        np.testing.assert_array_equal(after[name], before[name])
    assert "unknown" not in after


@pytest.mark.parametrize(
    "value", [np.array(["a"] * 12), np.ones(12, dtype=complex), np.array([None] * 12)], ids=["str", "complex", "object"]
)
def test_load_state_dict_refuses_a_non_real_dtype_naming_key_and_dtype(value):
    """A string, complex or object value names its key and dtype and changes nothing."""
    model = nn.GRU(2, 4)
    before = _values(model)
    with pytest.raises(Exception, match=rf"bias_ih_l0: dtype {value.dtype} is not numeric"):
        model.load_state_dict(dict(before, bias_ih_l0=value))
    assert _unchanged(model, before)


def test_load_state_dict_counts_as_a_change_for_a_graph_recorded_before():
    """A backward through a graph recorded before a load refuses, as after an optimizer step."""
    layer = nn.Linear(2, 1)
    loss = layer(Tensor(np.ones((1, 2)))).sum()
    layer.load_state_dict(layer.state_dict())
    with pytest.raises(RuntimeError, match=r"'weight'.*changed after the op saved it"):
        loss.backward()


# ------------------------------------------------------------------------------- scalers (extreme finite data)


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_a_scaler_fitted_on_extreme_finite_values_gives_what_it_gives_on_them_scaled_down(scaler_class):
    """Scaling is invariant to the data's unit: values near the float64 limit (a finite CSV column)
    scale as the same values divided by 1e300 do, with no NaN and no zero spread."""
    data = np.array([[-1e308], [1e308], [0.0], [5e307]])
    expected = scaler_class().fit(data / 1e300).transform(data / 1e300)
    with np.errstate(all="ignore"):
        got = scaler_class().fit(data).transform(data)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# ------------------------------------------------------------------------------- command line: CSV files


@pytest.mark.parametrize(
    "task, columns",
    [("temperature", ["--target-column", "a"]), ("weather", ["--feature-columns", "a,b", "--target-column", "b"])],
)
def test_a_csv_with_the_stated_minimum_of_rows_is_enough(folder, capsys, task, columns):
    """When a short CSV is refused with "at least N are needed", N rows do train."""
    _days_csv(folder / "short.csv", 3)
    line = _refused(["train", task, "--csv", "short.csv", *columns, "--epochs", "1", "--quiet"], capsys, folder)
    needed = int(line.split("at least ")[1].split()[0])
    _days_csv(folder / "enough.csv", needed)
    code = main(["train", task, "--csv", "enough.csv", *columns, "--epochs", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, f"{needed} rows were said to be enough, but: {err}"


def test_a_csv_naming_a_column_twice_is_refused_naming_it(folder, capsys):
    """A header "date,a,a" is ambiguous: reading column a is refused, naming the repeated column."""
    _days_csv(folder / "twice.csv", 60, header="date,a,a")
    line = _refused(
        [
            "train",
            "temperature",
            "--csv",
            "twice.csv",
            "--target-column",
            "a",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            "m.npz",
            "--plot",
            "loss.png",
        ],
        capsys,
        folder,
    )
    assert "'a'" in line and any(word in line for word in ("twice", "more than once", "repeat", "duplicate")), line


BAD_CSVS = {
    "empty": "",
    "header only": "date,a,b\n",
    "inf value": "date,a,b\n" + "".join(f"2020-01-{d + 1:02d},{'inf' if d == 5 else d},1\n" for d in range(28)),
    "repeated date": "date,a,b\n" + "".join(f"2020-01-{min(d, 20) + 1:02d},{d},1\n" for d in range(28)),
    "dates backwards": "date,a,b\n" + "".join(f"2020-01-{28 - d:02d},{d},1\n" for d in range(28)),
    "unreadable date": "date,a,b\n"
    + "".join(f"{'soon' if d == 3 else f'2020-01-{d + 1:02d}'},{d},1\n" for d in range(28)),
    "text value": "date,a,b\n" + "".join(f"2020-01-{d + 1:02d},{'warm' if d == 3 else d},1\n" for d in range(28)),
    "semicolons": "date;a;b\n" + "".join(f"2020-01-{d + 1:02d};{d};1\n" for d in range(28)),
    "ragged row": "date,a,b\n" + "".join(f"2020-01-{d + 1:02d},{d}{'' if d == 7 else ',1'}\n" for d in range(28)),
}


@pytest.mark.parametrize("text", list(BAD_CSVS.values()), ids=list(BAD_CSVS))
def test_a_bad_csv_exits_2_in_one_line_and_writes_no_checkpoint_or_plot(folder, capsys, text):
    """Every malformed CSV stops training in one line; --save and --plot are not written."""
    (folder / "bad.csv").write_text(text)
    _refused(
        [
            "train",
            "weather",
            "--csv",
            "bad.csv",
            "--feature-columns",
            "a,b",
            "--target-column",
            "b",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            "m.npz",
            "--plot",
            "loss.png",
        ],
        capsys,
        folder,
    )


def test_a_csv_that_is_not_utf8_exits_2_naming_the_file(folder, capsys):
    """Latin-1 bytes are refused naming the file and that it is not UTF-8."""
    (folder / "latin.csv").write_bytes("date,tempé,b\n2020-01-01,1,2\n".encode("latin-1"))
    line = _refused(["train", "temperature", "--csv", "latin.csv", "--target-column", "b"], capsys, folder)
    assert "latin.csv" in line and "UTF-8" in line


# ------------------------------------------------------------------------------- command line: outputs


@pytest.mark.parametrize("save", ["sub/../same.png", "link.npz"])
def test_save_and_plot_naming_one_file_by_two_paths_are_refused(folder, capsys, save):
    """--save sub/../same.png (or a symlink to same.png) with --plot same.png is the same file: refused
    before training, rather than one output silently replacing the other."""
    (folder / "sub").mkdir()
    os.symlink("same.png", folder / "link.npz")  # dangling until something writes same.png
    line = _refused(["train", "sine", "--epochs", "1", "--quiet", "--save", save, "--plot", "same.png"], capsys, folder)
    assert "same file" in line


def test_save_to_a_symlink_loop_is_refused_in_one_line_before_training(folder, capsys):
    """--save loop.npz, a symlink to itself, is refused up front in one line (not a traceback after training)."""
    os.symlink("loop.npz", folder / "loop.npz")
    line = _refused(
        ["train", "sine", "--epochs", "1", "--quiet", "--save", "loop.npz", "--plot", "loss.png"], capsys, folder
    )
    assert "--save loop.npz" in line


def test_a_plot_format_that_cannot_be_written_is_refused_before_training(folder, capsys):
    """--plot loss.pgf needs LaTeX: without it the run exits 2 in one line writing nothing."""
    if shutil.which("xelatex"):
        pytest.skip("xelatex is installed, so .pgf plots can be written here")
    _refused(["train", "sine", "--epochs", "1", "--quiet", "--plot", "loss.pgf", "--save", "m.npz"], capsys, folder)


def test_graph_as_pdf_is_written_or_refused_in_one_line(folder, capsys):
    """-o rnn.pdf is a documented format: either a PDF is written or the run exits 2 in one line, writing nothing."""
    before = _files(folder)
    code = main(["graph", "--steps", "2", "-o", "rnn.pdf"])
    err = capsys.readouterr().err
    if code == 0:
        assert (folder / "rnn.pdf").read_bytes().startswith(b"%PDF")
    else:
        assert code == 2 and len(err.strip().splitlines()) == 1 and _files(folder) == before, err


def test_graph_whose_renderer_fails_midway_keeps_the_old_picture_and_writes_nothing(folder, capsys, monkeypatch):
    """A renderer that writes part of the file and then fails: the old picture stays, no partial or
    temporary file is left, and the run ends in one line with a non-zero code."""
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    fake = bin_folder / "dot"
    fake.write_text(
        '#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ "$1" = -o ]; then printf "<svg partial" > "$2"; fi; shift; done\n'
        'echo "out of memory" >&2\nexit 1\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    (folder / "rnn.svg").write_text("<svg>old</svg>")
    before = _files(folder)
    code = main(["graph", "--steps", "2", "-o", "rnn.svg"])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert (folder / "rnn.svg").read_text() == "<svg>old</svg>"
    assert _files(folder) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["graph", "--steps", str(10**20), "-o", "rnn.svg"],
        ["graph", "--hidden", str(10**10), "-o", "rnn.svg"],
        ["train", "sine", "--hidden", str(10**10), "--epochs", "1", "--quiet", "--save", "m.npz"],
    ],
    ids=["graph steps", "graph hidden", "train hidden"],
)
def test_a_size_option_too_large_to_allocate_exits_2_in_one_line(folder, capsys, argv):
    """--steps 10**20 or --hidden 10**10 is refused in one line naming the option, not a NumPy traceback."""
    line = _refused(argv, capsys, folder)
    assert ("--steps" in line) or ("--hidden" in line), line


# ------------------------------------------------------------------------------- command line: predict


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda meta: meta["config"].update(hidden=10**6), ["hidden"]),
        (lambda meta: meta["config"].update(window=300), ["window"]),
    ],
    ids=["hidden 10**6", "window longer than the series"],
)
def test_predict_with_metadata_that_cannot_be_used_exits_2_in_one_line(folder, capsys, sine_checkpoint, change, words):
    """A checkpoint whose metadata claims a huge hidden size (checked before anything is allocated)
    or a window longer than the data is one line naming the entry, not a traceback."""
    arrays, metadata = sine_checkpoint
    metadata = json.loads(json.dumps(metadata))
    change(metadata)
    _write_checkpoint(folder / "odd.npz", arrays, metadata)
    line = _refused(["predict", "--task", "sine", "--checkpoint", "odd.npz"], capsys, folder)
    assert "odd.npz" in line and all(word in line for word in words), line


def test_predict_with_a_csv_entry_that_is_not_a_path_names_the_entry(folder, capsys):
    """config csv = 987654 (a number) in a temperature checkpoint is named as a bad metadata entry; it is
    not opened as a file descriptor."""
    assert main(["train", "temperature", "--epochs", "1", "--quiet", "--save", "t.npz"]) == 0
    capsys.readouterr()
    arrays, metadata = checkpoint.load_state_dict("t.npz"), checkpoint.read_metadata("t.npz")
    metadata["config"]["csv"] = 987654
    _write_checkpoint(folder / "odd.npz", arrays, metadata)
    line = _refused(["predict", "--task", "temperature", "--checkpoint", "odd.npz"], capsys, folder)
    assert "odd.npz" in line and "csv" in line, line


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda meta: meta["config"].update(cell="lstm"),
            r"array 'rnn.weight_ih_l0' has shape \(50, 1\) in the file, \(200, 1\) in the model",
        ),
        (
            lambda meta: meta["config"].update(hidden=51),
            r"array 'rnn.weight_ih_l0' has shape \(50, 1\) in the file, \(51, 1\) in the model",
        ),
        (lambda meta: meta.update(task="weather"), r"was written by task 'weather', not 'sine'"),
        (lambda meta: meta["config"].update(init="zeros"), r"config init must be one of"),
    ],
    ids=["another cell", "another hidden size", "another task", "unknown init"],
)
def test_predict_with_a_checkpoint_of_another_cell_size_or_task_names_it(
    folder, capsys, sine_checkpoint, change, message
):
    """A checkpoint whose metadata does not fit its arrays, or another task's, is one line naming both sides."""
    arrays, metadata = sine_checkpoint
    metadata = json.loads(json.dumps(metadata))
    change(metadata)
    _write_checkpoint(folder / "odd.npz", arrays, metadata)
    line = _refused(["predict", "--task", "sine", "--checkpoint", "odd.npz"], capsys, folder)
    assert re.search(message, line), line


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: b"\x93NUMPY" + data[6:],
        lambda data: data.replace(b"<f8", b"|O1", 1),
    ],
    ids=["truncated", "npy bytes", "object dtype"],
)
def test_a_damaged_checkpoint_leaves_the_model_unchanged(tmp_path, damage):
    """Loading a truncated, foreign or object-holding file is one CheckpointError; the model keeps its values."""
    model = nn.GRU(2, 3, rng=0)
    path = tmp_path / "m.npz"
    checkpoint.save(nn.GRU(2, 3, rng=1), path)
    path.write_bytes(damage(path.read_bytes()))
    before = _values(model)
    with pytest.raises(checkpoint.CheckpointError, match=str(path)):
        checkpoint.load(path, model)
    assert _unchanged(model, before)


# ------------------------------------------------------------------------------- long file names


def _longest_name(folder, suffix):
    """A file name of exactly the folder's NAME_MAX characters, ending in `suffix`."""
    return "m" * (os.pathconf(folder, "PC_NAME_MAX") - len(suffix)) + suffix


def test_a_checkpoint_saves_under_the_longest_name_the_filesystem_allows(tmp_path):
    """A legal file name is not refused because the temporary name beside it would be too long."""
    path = tmp_path / _longest_name(tmp_path, ".npz")
    path.write_bytes(b"old")
    path.unlink()  # the filesystem takes the name
    model = nn.Linear(2, 1, rng=0)
    checkpoint.save(model, path)
    assert _files(tmp_path) == [path.name]
    loaded = checkpoint.load(path, nn.Linear(2, 1, rng=1))
    np.testing.assert_array_equal(loaded.weight.numpy(), model.weight.numpy())


def test_train_writes_a_plot_and_checkpoint_under_the_longest_legal_names(folder, capsys):
    """--plot and --save with names of NAME_MAX characters are written (or refused up front in one
    line), never a traceback after training."""
    plot, save = _longest_name(folder, ".png"), _longest_name(folder, ".npz")
    code = main(["train", "sine", "--epochs", "1", "--quiet", "--plot", plot, "--save", save])
    err = capsys.readouterr().err
    assert code == 0, err
    assert _files(folder) == sorted([plot, save])


# ------------------------------------------------------------------------------- training and optimizers


def test_trainer_fit_on_no_examples_names_the_problem():
    """Trainer.fit on 0 windows says there is nothing to train on, not a ZeroDivisionError."""
    from tinygrad_rnn.models import SequenceModel
    from tinygrad_rnn.nn import functional as F
    from tinygrad_rnn.optim import SGD
    from tinygrad_rnn.train import Trainer

    model = SequenceModel(2, 3, 1)
    trainer = Trainer(model, F.mse_loss, SGD(model.parameters(), lr=0.1), batch_size=4)
    with pytest.raises(ValueError, match=r"Trainer.fit"):
        trainer.fit(np.ones((0, 5, 2)), np.ones((0, 1)), epochs=1)


def test_detect_anomaly_names_the_step_of_a_recurrent_backward_that_makes_an_inf():
    """An inf first made by the backward of step 2 of a relu RNN names that op, its scope and step."""
    rnn = nn.RNN(1, 1, nonlinearity="relu", bias=False, rng=0)
    rnn.weight_ih_l0.data = np.array([[1.0]])
    rnn.weight_hh_l0.data = np.array([[1e200]])
    with detect_anomaly(), np.errstate(over="ignore"):
        output, _ = rnn(np.full((3, 1, 1), 1e-300))  # every h_t finite
        with pytest.raises(FloatingPointError, match=r"^backward of Linear produced inf in scope 'layer0/t=2'"):
            (output.sum() * 1e200).backward()
