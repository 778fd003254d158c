"""Bad input to the command line, the tasks, the scalers, training and pictures: each is refused in
one line naming what was wrong (the option, the file, the column, the metadata entry), before any
work where it can be known then, and a failed run leaves every file as it was."""

import json
import os
import re
import shutil
import stat
import zipfile

import numpy as np
import pytest
from cli_checks import refused
from numpy.lib import format as npy_format

from tinygrad_rnn import checkpoint, nn, viz
from tinygrad_rnn.cli import MAX_GRAPH_STEPS, main
from tinygrad_rnn.data.scalers import MinMaxScaler, StandardScaler, scaler_from_dict
from tinygrad_rnn.data.splits import chronological_split, fewest_rows
from tinygrad_rnn.tasks.common import MAX_HIDDEN

# ------------------------------------------------------------------------------- helpers


def _files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _days_csv(path, rows, header="date,a,b"):
    lines = [header]
    for day in range(rows):
        lines.append(f"{np.datetime64('2020-01-01') + day},{np.sin(day / 5):.4f},{np.cos(day / 3):.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


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


def _longest_name(folder, suffix):
    """A file name of exactly the folder's NAME_MAX characters, ending in `suffix`."""
    return "m" * (os.pathconf(folder, "PC_NAME_MAX") - len(suffix)) + suffix


def _failing_renderer(folder, monkeypatch):
    """A `dot` first on PATH that writes part of its -o file, then fails."""
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    fake = bin_folder / "dot"
    fake.write_text(
        '#!/bin/sh\nwhile [ $# -gt 0 ]; do if [ "$1" = -o ]; then printf "<svg partial" > "$2"; fi; shift; done\n'
        'echo "out of memory" >&2\nexit 1\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    return str(fake)


# ------------------------------------------------------------------------------- scalers


EXTREME = {
    "near the float64 limit": (np.array([[-1e308], [1e308], [0.0], [5e307]]), 1e-300),
    "two columns, one huge": (np.array([[1.0, -1.7e308], [2.0, 1.7e308], [4.0, 3e300]]), None),
    "tiny, squares underflow": (np.array([[1e-200], [3e-200], [2e-200]]), 1e200),
}


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
@pytest.mark.parametrize("data, factor", list(EXTREME.values()), ids=list(EXTREME))
def test_a_scaler_on_extreme_finite_values_gives_what_it_gives_on_them_rescaled(scaler_class, data, factor):
    """Scaling is invariant to the data's unit: near the float64 limit (ranges and sums overflow)
    or near its bottom (squares underflow) the result is that of the data brought near 1, with
    no overflow, NaN or infinity; inverse_transform gives the data back."""
    factors = np.array([1.0, 1e-300]) if factor is None else factor
    expected = scaler_class().fit(data * factors).transform(data * factors)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        scaler = scaler_class().fit(data)
        got = scaler.transform(data)
        back = scaler.inverse_transform(got)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert np.all(np.abs(back - data) <= 1e-15 * np.abs(data).max(axis=0)), back - data  # rounding of the span


@pytest.mark.parametrize("scaler_class", [MinMaxScaler, StandardScaler])
def test_an_extreme_scaler_survives_its_dict_and_an_old_dict_reads_as_before(scaler_class):
    """to_dict / scaler_from_dict keep the power-of-two unit; a dict without one (written before
    it existed) maps as x' = (x - offset) / scale."""
    data = np.array([[-1e308], [1e308], [0.0]])
    scaler = scaler_class().fit(data)
    again = scaler_from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(again.transform(data), scaler.transform(data))
    old = {"type": "MinMaxScaler", "offset_": [1.0], "scale_": [4.0], "min_": [1.0], "max_": [5.0]}
    np.testing.assert_array_equal(scaler_from_dict(old).transform(np.array([3.0, 5.0])), [0.5, 1.0])


def test_ordinary_data_scales_exactly_by_the_plain_formulas():
    """Scaling in a power-of-two unit is exact: ordinary data gives bit for bit (x - min) / (max - min)
    and (x - mean) / std."""
    data = np.random.default_rng(0).normal(20, 7, size=(50, 3))
    np.testing.assert_array_equal(
        MinMaxScaler().fit_transform(data), (data - data.min(0)) / (data.max(0) - data.min(0))
    )
    np.testing.assert_array_equal(StandardScaler().fit_transform(data), (data - data.mean(0)) / data.std(0))


@pytest.mark.parametrize("exponent", [[0.5], [True], [2000], [0, 0], "0"])
def test_a_scaler_dict_with_a_bad_exponent_names_it(exponent):
    values = {"type": "MinMaxScaler", "offset_": [0.0], "scale_": [1.0], "min_": [0.0], "max_": [1.0]}
    with pytest.raises(ValueError, match="exponent_ must be a list of 1 integers"):
        scaler_from_dict({**values, "exponent_": exponent})


# ------------------------------------------------------------------------------- CSV files


@pytest.mark.parametrize("fractions", [(0.67,), (0.7, 0.15), (0.5,), (0.1, 0.1, 0.1)])
@pytest.mark.parametrize("least", [1, 2, 7, 8])
def test_fewest_rows_is_the_least_number_from_which_every_split_is_large_enough(fractions, least):
    needed = fewest_rows(fractions, least)
    for num_rows in range(needed, needed + 300):
        assert min(map(len, chronological_split(np.arange(num_rows), fractions))) >= least, num_rows
    if needed > 1:
        try:
            smallest = min(map(len, chronological_split(np.arange(needed - 1), fractions)))
        except ValueError:  # an empty piece
            smallest = 0
        assert smallest < least


@pytest.mark.parametrize(
    "task, columns",
    [("temperature", ["--target-column", "a"]), ("weather", ["--feature-columns", "a,b", "--target-column", "b"])],
)
def test_a_csv_with_the_stated_minimum_of_rows_is_enough_and_one_less_is_not(folder, capsys, task, columns):
    """When a short CSV is refused with "at least N are needed", N rows train and N - 1 are refused
    with the same line."""
    _days_csv(folder / "short.csv", 3)
    line = refused(["train", task, "--csv", "short.csv", *columns, "--epochs", "1", "--quiet"], capsys, folder)
    needed = int(line.split("at least ")[1].split()[0])
    _days_csv(folder / "fewer.csv", needed - 1)
    line = refused(["train", task, "--csv", "fewer.csv", *columns, "--epochs", "1", "--quiet"], capsys, folder)
    assert f"has {needed - 1} data rows; at least {needed} are needed" in line
    _days_csv(folder / "enough.csv", needed)
    code = main(["train", task, "--csv", "enough.csv", *columns, "--epochs", "1", "--hidden", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, f"{needed} rows were said to be enough, but: {err}"


@pytest.mark.parametrize("header, column", [("date,a,a", "a"), ("date,a,date", "date")])
def test_a_csv_naming_a_column_twice_is_refused_naming_it(folder, capsys, header, column):
    """A header naming the target (or date) column twice is ambiguous: refused, nothing written."""
    _days_csv(folder / "twice.csv", 60, header=header)
    argv = ["train", "temperature", "--csv", "twice.csv", "--target-column", "a", "--epochs", "1", "--quiet"]
    line = refused([*argv, "--save", "m.npz", "--plot", "loss.png"], capsys, folder)
    assert f"twice.csv: the header names column {column!r} more than once" in line


def test_a_column_named_twice_but_not_read_is_no_problem(folder, capsys):
    _days_csv(folder / "twice.csv", 60, header="date,a,b")
    text = (folder / "twice.csv").read_text().splitlines()
    (folder / "twice.csv").write_text("\n".join([text[0] + ",b", *(row + ",0" for row in text[1:])]) + "\n")
    assert main(["train", "temperature", "--csv", "twice.csv", "--target-column", "a", "--epochs", "1"]) == 0


# ------------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("save", ["sub/../same.png", "link.npz", "hard.npz"])
def test_save_and_plot_naming_one_file_by_two_paths_arerefused(folder, capsys, save):
    """--save sub/../same.png, a symlink to same.png or a hard link to it, with --plot same.png:
    one file, refused before training."""
    (folder / "sub").mkdir()
    os.symlink("same.png", folder / "link.npz")  # dangling until something writes same.png
    if save == "hard.npz":
        (folder / "same.png").write_bytes(b"old")
        os.link(folder / "same.png", folder / "hard.npz")
    line = refused(["train", "sine", "--epochs", "1", "--quiet", "--save", save, "--plot", "same.png"], capsys, folder)
    assert f"--plot same.png: the same file as --save {save}" in line


def test_save_to_a_symlink_loop_is_refused_in_one_line_before_training(folder, capsys):
    os.symlink("loop.npz", folder / "loop.npz")
    line = refused(
        ["train", "sine", "--epochs", "1", "--quiet", "--save", "loop.npz", "--plot", "loss.png"], capsys, folder
    )
    assert line.endswith("--save loop.npz: its symlinks form a loop")


def _user_writable(path) -> bool:
    """Whether the owner's write bit is set: what os.access answers a user who is not root."""
    return bool(os.stat(path).st_mode & stat.S_IWUSR)


def test_save_to_a_read_only_file_is_refused_in_one_line_before_training(folder, capsys, monkeypatch):
    """checkpoint.save refuses a file its user may not write, so the command line refuses it before
    training (os.access answering as it does a user who is not root), not with a traceback after."""
    (folder / "model.npz").write_bytes(b"old")
    os.chmod(folder / "model.npz", 0o444)
    monkeypatch.setattr(os, "access", lambda path, mode, **options: not (mode & os.W_OK) or _user_writable(path))
    line = refused(
        ["train", "sine", "--epochs", "1", "--quiet", "--save", "model.npz", "--plot", "loss.png"], capsys, folder
    )
    assert line.endswith(f"--save model.npz: {os.path.realpath(folder / 'model.npz')} is read-only")


def test_plot_to_a_pipe_is_refused_before_training(folder, capsys):
    """--plot naming a pipe (not a regular file) is refused, as checkpoint.save refuses it, rather
    than the pipe being replaced by the picture."""
    os.mkfifo(folder / "loss.png")
    line = refused(["train", "sine", "--epochs", "1", "--quiet", "--plot", "loss.png"], capsys, folder)
    assert line.endswith(f"--plot loss.png: {os.path.realpath(folder / 'loss.png')} is not a regular file")
    assert stat.S_ISFIFO(os.lstat(folder / "loss.png").st_mode)


def test_a_plot_format_that_cannot_be_written_is_refused_before_training(folder, capsys):
    """--plot loss.pgf needs LaTeX: without it the run exits 2 in one line naming the format."""
    if shutil.which("xelatex"):
        pytest.skip("xelatex is installed, so .pgf plots can be written here")
    line = refused(
        ["train", "sine", "--epochs", "1", "--quiet", "--plot", "loss.pgf", "--save", "m.npz"], capsys, folder
    )
    assert "--plot loss.pgf: matplotlib cannot write .pgf here" in line


def test_plot_and_save_symlinks_are_followed_and_kept(folder, capsys):
    """A --plot symlink is written through, as a --save one is: the file it names changes, the link stays."""
    (folder / "real.png").write_bytes(b"old")
    os.symlink("real.png", folder / "link.png")
    assert main(["train", "sine", "--epochs", "1", "--quiet", "--plot", "link.png"]) == 0
    assert (folder / "link.png").is_symlink()
    assert (folder / "real.png").read_bytes().startswith(b"\x89PNG")
    assert _files(folder) == ["link.png", "real.png"]


def test_graph_as_pdf_is_written_or_refused_in_one_line(folder, capsys):
    """-o rnn.pdf: a PDF is written when the renderer writes PDF, else one line naming the renderer."""
    if "pdf" in (viz.writable_formats() or {"pdf"}):
        assert main(["graph", "--steps", "2", "-o", "rnn.pdf"]) == 0
        assert (folder / "rnn.pdf").read_bytes().startswith(b"%PDF")
    else:
        line = refused(["graph", "--steps", "2", "-o", "rnn.pdf"], capsys, folder)
        assert f"-o/--output rnn.pdf: {os.path.basename(viz.dot_program())} does not write .pdf" in line
        assert "use one of .svg, .png" in line


def test_the_graphviz_pure_formats_are_read_from_the_program():
    program = viz.pure_dot_program()
    if program is None:
        pytest.skip("graphviz-pure is not installed")
    formats = viz.writable_formats(program)
    assert {"svg", "png"} <= formats and "pdf" not in formats


def test_graph_whose_renderer_fails_midway_keeps_the_old_picture_and_writes_nothing(folder, capsys, monkeypatch):
    _failing_renderer(folder, monkeypatch)
    (folder / "rnn.svg").write_text("<svg>old</svg>")
    line = refused(["graph", "--steps", "2", "-o", "rnn.svg"], capsys, folder, code=1)
    assert "dot could not write rnn.svg as svg: out of memory; nothing written" in line
    assert (folder / "rnn.svg").read_text() == "<svg>old</svg>"


def test_render_whose_program_fails_raises_render_error_and_keeps_the_old_file(folder, monkeypatch):
    program = _failing_renderer(folder, monkeypatch)
    (folder / "graph.png").write_bytes(b"old")
    with pytest.raises(viz.RenderError, match=r"could not write .*graph\.png as png: out of memory"):
        viz.render(nn_graph(), folder / "graph.png", program=program)
    assert (folder / "graph.png").read_bytes() == b"old"
    assert _files(folder) == ["bin", "bin/dot", "graph.png"]


def nn_graph():
    from tinygrad_rnn import Tensor

    layer = nn.Linear(2, 1, rng=0)
    return viz.draw_graph(layer(Tensor(np.ones((1, 2)))).sum(), names=layer)


@pytest.mark.parametrize(
    "argv, option, most",
    [
        (["graph", "--steps", str(10**20), "-o", "rnn.svg"], "--steps", MAX_GRAPH_STEPS),
        (["graph", "--hidden", str(10**10), "-o", "rnn.svg"], "--hidden", MAX_HIDDEN),
        (
            ["train", "sine", "--hidden", str(MAX_HIDDEN + 1), "--epochs", "1", "--save", "m.npz"],
            "--hidden",
            MAX_HIDDEN,
        ),
    ],
    ids=["graph steps", "graph hidden", "train hidden"],
)
def test_a_size_option_too_large_to_allocate_exits_2_in_one_line(folder, capsys, argv, option, most):
    line = refused(argv, capsys, folder)
    assert f"argument {option}: must be at most {most}, got" in line


# ------------------------------------------------------------------------------- predict


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda meta: meta["config"].update(hidden=10**6), f"config hidden must be at most {MAX_HIDDEN}, got 1000000"),
        (lambda meta: meta["config"].update(window=300), "window 300: num_points 1000 gives 250 rows"),
        (lambda meta: meta["config"].update(cell=7), "config cell must be a string, got 7"),
        (lambda meta: meta["config"].update(init=["he"]), "config init must be a string or null, got ['he']"),
    ],
    ids=["hidden 10**6", "window longer than the series", "cell a number", "init a list"],
)
def test_predict_with_metadata_that_cannot_be_used_exits_2_in_one_line(folder, capsys, sine_checkpoint, change, words):
    """Metadata claiming a huge hidden size (refused before anything is allocated), a window longer
    than the curve, or a number where text belongs: one line naming the file and the entry."""
    arrays, metadata = sine_checkpoint
    metadata = json.loads(json.dumps(metadata))
    change(metadata)
    _write_checkpoint(folder / "odd.npz", arrays, metadata)
    line = refused(["predict", "--task", "sine", "--checkpoint", "odd.npz"], capsys, folder)
    assert "checkpoint odd.npz has metadata the sine task cannot use" in line and words in line, line


def test_predict_with_a_csv_entry_that_is_not_a_path_names_the_entry(folder, capsys):
    """config csv = 987654 is refused naming the entry; it is not opened as a file descriptor."""
    assert main(["train", "temperature", "--epochs", "1", "--hidden", "2", "--quiet", "--save", "t.npz"]) == 0
    capsys.readouterr()
    arrays, metadata = checkpoint.load_state_dict("t.npz"), checkpoint.read_metadata("t.npz")
    metadata["config"]["csv"] = 987654
    _write_checkpoint(folder / "odd.npz", arrays, metadata)
    line = refused(["predict", "--task", "temperature", "--checkpoint", "odd.npz"], capsys, folder)
    assert "odd.npz" in line and "config csv must be a string or null, got 987654" in line, line


# ------------------------------------------------------------------------------- long file names


def test_a_checkpoint_saves_under_the_longest_name_the_filesystem_allows(tmp_path):
    path = tmp_path / _longest_name(tmp_path, ".npz")
    model = nn.Linear(2, 1, rng=0)
    checkpoint.save(model, path)
    checkpoint.save(model, path)  # and replaces it
    assert _files(tmp_path) == [path.name]
    loaded = checkpoint.load(path, nn.Linear(2, 1, rng=1))
    np.testing.assert_array_equal(loaded.weight.numpy(), model.weight.numpy())


def test_train_writes_a_plot_and_checkpoint_under_the_longest_legal_names(folder, capsys):
    plot, save = _longest_name(folder, ".png"), _longest_name(folder, ".npz")
    code = main(["train", "sine", "--epochs", "1", "--quiet", "--plot", plot, "--save", save])
    err = capsys.readouterr().err
    assert code == 0, err
    assert _files(folder) == sorted([plot, save])
    assert (folder / plot).read_bytes().startswith(b"\x89PNG")


def test_graph_renders_under_the_longest_legal_name(folder, capsys):
    output = _longest_name(folder, ".svg")
    assert main(["graph", "--steps", "2", "-o", output]) == 0
    assert _files(folder) == [output]
    assert "<svg" in (folder / output).read_text()


# ------------------------------------------------------------------------------- training


def _trainer():
    from tinygrad_rnn.models import SequenceModel
    from tinygrad_rnn.nn import functional as F
    from tinygrad_rnn.optim import SGD
    from tinygrad_rnn.train import Trainer

    model = SequenceModel(2, 3, 1)
    return Trainer(model, F.mse_loss, SGD(model.parameters(), lr=0.1), batch_size=4)


def test_trainer_fit_on_no_examples_names_the_problem():
    with pytest.raises(ValueError, match=r"Trainer.fit: there is nothing to train on: .* 0 examples"):
        _trainer().fit(np.ones((0, 5, 2)), np.ones((0, 1)), epochs=1)


def test_trainer_fit_and_evaluate_on_empty_validation_data_name_it():
    trainer = _trainer()
    with pytest.raises(ValueError, match=r"Trainer.fit: the validation data holds 0 examples"):
        trainer.fit(np.ones((3, 5, 2)), np.ones((3, 1)), epochs=1, validation=(np.ones((0, 5, 2)), np.ones((0, 1))))
    with pytest.raises(ValueError, match=r"Trainer.evaluate: the data set holds 0 examples"):
        trainer.evaluate(np.ones((0, 5, 2)), np.ones((0, 1)))


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
    refused(
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
    line = refused(["train", "temperature", "--csv", "latin.csv", "--target-column", "b"], capsys, folder)
    assert "latin.csv" in line and "UTF-8" in line


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
    line = refused(["predict", "--task", "sine", "--checkpoint", "odd.npz"], capsys, folder)
    assert re.search(message, line), line
