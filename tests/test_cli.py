"""The command line refuses bad input before any work, in one line, and writes nothing unless the
run succeeded; checkpoints carry what predicting needs; train and predict report alike."""

import argparse
import re

import numpy as np
import pytest

from tinygrad_rnn import checkpoint
from tinygrad_rnn.cli import build_parser, main
from tinygrad_rnn.errors import DataError, NonFiniteLossError
from tinygrad_rnn.jit import eager_steps
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import SGD
from tinygrad_rnn.tasks import TASKS
from tinygrad_rnn.tasks.common import build_model
from tinygrad_rnn.train import Trainer


def _files(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _days_csv(path, columns="a,b", rows=40, gap_line=None, text=None):
    """A dated CSV; the value of column b on `gap_line` (1 is the header) is left empty."""
    lines = [f"date,{columns}"]
    for day in range(rows):
        date = np.datetime64("2020-01-01") + day
        b = "" if gap_line == day + 2 else f"{np.cos(day / 3):.4f}"
        lines.append(f"{date},{np.sin(day / 5):.4f},{b}")
    path.write_text(text if text is not None else "\n".join(lines) + "\n")
    return path


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A working folder holding a CSV, an empty folder, a placeholder checkpoint and a file."""
    monkeypatch.chdir(tmp_path)
    _days_csv(tmp_path / "days.csv")
    (tmp_path / "folder").mkdir()
    (tmp_path / "model.npz").write_bytes(b"")
    (tmp_path / "plain.txt").write_text("a file")
    return tmp_path


BAD_ARGUMENTS = [
    (["train", "sine", "--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
    (["train", "sine", "--epochs", "-3"], "argument --epochs: must be an integer >= 1, got -3"),
    (["train", "sine", "--epochs", "two"], "argument --epochs: must be an integer, got 'two'"),
    (["train", "sine", "--hidden", "0"], "argument --hidden: must be an integer >= 1, got 0"),
    (["train", "sine", "--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
    (["train", "sine", "--lr=-1e-3"], "argument --lr: must be a finite number > 0, got -1e-3"),
    (["train", "sine", "--lr", "nan"], "argument --lr: must be a finite number > 0, got nan"),
    (["train", "sine", "--lr", "inf"], "argument --lr: must be a finite number > 0, got inf"),
    (["train", "sine", "--lr", "fast"], "argument --lr: must be a number, got 'fast'"),
    (["train", "sine", "--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
    (["train", "sine", "--cell", "rnm"], "argument --cell: invalid choice: 'rnm'"),
    (["train", "sine", "--init", "zeros"], "argument --init: invalid choice: 'zeros'"),
    (["train", "sin"], "argument task: invalid choice: 'sin'"),
    (["train", "sine", "--plot", "loss.xyz"], "--plot loss.xyz: unknown format .xyz"),
    (["train", "sine", "--plot", "loss"], "--plot loss: unknown format (no suffix)"),
    (["train", "sine", "--plot", "typo/loss.png"], "--plot typo/loss.png: the folder"),
    (["train", "sine", "--save", "typo/model.npz"], "--save typo/model.npz: the folder"),
    (["train", "sine", "--save", "folder"], "--save folder: is a folder, not a file"),
    (["train", "sine", "--save", "same.png", "--plot", "same.png"], "--plot same.png: the same file as --save"),
    (["train", "sine", "--csv", "days.csv"], "--csv: the sine task reads no CSV file"),
    (["train", "sentiment", "--feature-columns", "a"], "--feature-columns: the sentiment task reads no CSV file"),
    (["train", "weather", "--feature-columns", "a,b"], "--feature-columns needs --csv"),
    (["train", "temperature", "--fill-missing", "previous"], "--fill-missing needs --csv"),
    (["train", "weather", "--csv", "nothing.csv"], "--csv nothing.csv: no such file"),
    (
        ["train", "temperature", "--csv", "days.csv", "--feature-columns", "a,b"],
        "--feature-columns: the temperature task reads one series, got 2 columns (a, b)",
    ),
    (
        ["train", "temperature", "--csv", "days.csv", "--feature-columns", "a", "--target-column", "b"],
        "--feature-columns a differs from --target-column b",
    ),
    (
        ["train", "weather", "--csv", "days.csv", "--feature-columns", "a,,b"],
        "argument --feature-columns: must be comma-separated column names, got 'a,,b'",
    ),
    (
        ["train", "weather", "--csv", "days.csv", "--feature-columns", "a,b,a"],
        "argument --feature-columns: names a more than once",
    ),
    (["train", "weather", "--csv", "days.csv", "--date-column", " "], "argument --date-column: must name a column"),
    (["train", "weather", "--csv", "days.csv", "--fill-missing", "mean"], "argument --fill-missing: invalid choice"),
    (["predict", "--task", "sine", "--checkpoint", "none.npz"], "--checkpoint none.npz: no such file"),
    (["predict", "--task", "sine", "--checkpoint", "folder"], "--checkpoint folder: is a folder, not a file"),
    (["train", "weather", "--csv", "folder"], "--csv folder: is a folder, not a file"),
    (
        ["predict", "--task", "sine", "--checkpoint", "model.npz", "--count", "-1"],
        "argument --count: must be an integer >= 0, got -1",
    ),
    (
        ["predict", "--task", "sine", "--checkpoint", "model.npz", "--text", "hi"],
        "--text: only the sentiment task classifies text, not sine",
    ),
    (
        ["predict", "--task", "sentiment", "--checkpoint", "model.npz", "--count", "3"],
        "--count: the sentiment task has no windows to list",
    ),
    (["predict", "--task", "sentiment", "--checkpoint", "model.npz", "--text", "?!"], "--text '?!': holds no words"),
    (
        ["predict", "--task", "sine", "--checkpoint", "model.npz", "--csv", "days.csv"],
        "--csv: the sine task reads no CSV file",
    ),
    (["predict", "--checkpoint", "model.npz"], "the following arguments are required: --task"),
    (["graph", "--steps", "0"], "argument --steps: must be an integer >= 1, got 0"),
    (["graph", "--hidden", "0"], "argument --hidden: must be an integer >= 1, got 0"),
    (["graph", "--collapse", "0"], "argument --collapse: must be an integer >= 1, got 0"),
    (["graph", "-o", "rnn.gif"], "-o/--output rnn.gif: unknown format .gif; use one of .svg, .png"),
    (["graph", "-o", "typo/rnn.svg"], "-o/--output typo/rnn.svg: the folder"),
    (["demo", "--quick", "--out", "plain.txt"], "--out plain.txt: is a file, not a folder"),
    (["demo", "--quick", "--out", "plain.txt/sub"], "plain.txt is a file, so the folder cannot be created"),
    (["demo", "--quick", "--speed"], "unrecognized arguments: --speed"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS, ids=[" ".join(argv) for argv, _ in BAD_ARGUMENTS])
def test_a_bad_argument_exits_2_in_one_line_naming_it_and_writes_nothing(files, capsys, argv, message):
    before = _files(files)
    code, out, err = _run(argv, capsys)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err
    assert _files(files) == before


def test_the_bad_argument_list_counts_every_option_checked():
    options = {word for argv, _ in BAD_ARGUMENTS for word in argv if word.startswith("-")}
    assert {
        "--epochs",
        "--hidden",
        "--lr",
        "--seed",
        "--plot",
        "--save",
        "--csv",
        "--feature-columns",
        "--target-column",
        "--fill-missing",
        "--date-column",
        "--checkpoint",
        "--count",
        "--text",
        "--steps",
        "-o",
        "--out",
    } <= options


def test_a_loss_that_becomes_infinite_exits_1_naming_epoch_batch_and_last_finite_loss(tmp_path, capsys):
    argv = [
        "train",
        "sine",
        "--lr",
        "1e200",
        "--epochs",
        "5",
        "--quiet",
        "--save",
        str(tmp_path / "model.npz"),
        "--plot",
        str(tmp_path / "loss.png"),
    ]
    code, out, err = _run(argv, capsys)
    assert code == 1 and out == ""
    assert re.fullmatch(
        r"tinygrad-rnn train: training stopped: the loss became (inf|nan) at epoch 2, batch 1, "
        r"before the optimizer step; the last finite loss was [0-9.e-]+; nothing written\n",
        err,
    ), err
    assert list(tmp_path.iterdir()) == []


def test_trainer_raises_before_the_optimizer_steps_on_a_nan_batch():
    rng = np.random.default_rng(0)
    model = build_model(1, 3, 1, rng=rng)
    inputs, targets = rng.standard_normal((8, 4, 1)), rng.standard_normal((8, 1))
    calls, seen = [], {}

    def loss_fn(prediction, target):
        calls.append(1)
        loss = F.mse_loss(prediction, target)
        if len(calls) == 7:  # epoch 2, batch 3 with batches of 2
            seen["state"] = {name: value.copy() for name, value in model.state_dict().items()}
            return loss * float("nan")
        return loss

    trainer = Trainer(model, loss_fn, SGD(model.parameters(), lr=0.1), batch_size=2, rng=rng, jit=False)
    with pytest.raises(
        NonFiniteLossError,
        match=r"the loss became nan at epoch 2, batch 3, before the "
        r"optimizer step; the last finite loss was \d",
    ):
        trainer.fit(inputs, targets, epochs=3)
    assert isinstance(NonFiniteLossError("x"), FloatingPointError)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, seen["state"][name])


@pytest.mark.parametrize("jit", [True, False])
def test_a_nan_target_stops_training_after_exactly_the_finite_batches(jit):
    def twin():
        return build_model(1, 3, 1, rng=np.random.default_rng(1))

    rng = np.random.default_rng(0)
    inputs, targets = rng.standard_normal((8, 4, 1)), rng.standard_normal((8, 1))
    targets[5] = np.nan  # in batch 3 of batches of 2, unshuffled
    model, reference = twin(), twin()
    trainer = Trainer(model, F.mse_loss, SGD(model.parameters(), lr=0.1), batch_size=2, shuffle=False, jit=jit)
    with pytest.raises(NonFiniteLossError, match=r"the loss became nan at epoch 1, batch 3, .*last finite loss"):
        trainer.fit(inputs, targets, epochs=2)
    Trainer(reference, F.mse_loss, SGD(reference.parameters(), lr=0.1), batch_size=2, shuffle=False, jit=False).fit(
        inputs[:4], targets[:4], epochs=1
    )
    for (name, value), expected in zip(model.state_dict().items(), reference.state_dict().values()):
        assert np.all(np.isfinite(value)), name
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15, err_msg=name)


def test_a_gap_in_a_csv_is_an_error_naming_line_and_column_until_filled_forward(tmp_path, capsys):
    path = _days_csv(tmp_path / "gappy.csv", rows=60, gap_line=9)
    code, out, err = _run(
        [
            "train",
            "weather",
            "--csv",
            str(path),
            "--feature-columns",
            "a,b",
            "--target-column",
            "a",
            "--epochs",
            "1",
            "--save",
            str(tmp_path / "m.npz"),
        ],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "line 9, column 'b': the value is missing (empty)" in err and "--fill-missing previous" in err
    assert not (tmp_path / "m.npz").exists()
    for task, columns, target in (("weather", "a,b", "a"), ("temperature", "b", "b")):
        code, out, err = _run(
            [
                "train",
                task,
                "--csv",
                str(path),
                "--feature-columns",
                columns,
                "--target-column",
                target,
                "--epochs",
                "1",
                "--quiet",
                "--fill-missing",
                "previous",
            ],
            capsys,
        )
        assert code == 0, err
        assert "validation_mse:" in out


def test_csv_with_bom_and_crlf_trains_and_temperature_reads_its_feature_column(tmp_path, capsys):
    plain = _days_csv(tmp_path / "plain.csv", columns="tmin,other").read_text()
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + plain.replace("\n", "\r\n").encode())
    code, out, err = _run(
        [
            "train",
            "temperature",
            "--csv",
            str(path),
            "--date-column",
            "date",
            "--feature-columns",
            "tmin",
            "--target-column",
            "tmin",
            "--epochs",
            "1",
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    assert "validation_mse:" in out
    code, out, err = _run(
        ["train", "temperature", "--csv", str(path), "--feature-columns", "nope", "--epochs", "1", "--quiet"], capsys
    )
    assert code == 2 and "has no column 'nope'; available columns: date, tmin, other" in err


@pytest.mark.parametrize(
    ("task", "metrics"),
    [
        ("sine", ["validation_loss", "persistence_validation_loss"]),
        ("temperature", ["validation_mse", "persistence_mse"]),
        ("weather", ["validation_mse", "test_mse", "persistence_validation_mse", "persistence_test_mse"]),
        ("sentiment", ["train_accuracy", "test_accuracy"]),
    ],
)
def test_train_and_predict_report_the_same_metric_under_the_same_name(tmp_path, capsys, task, metrics):
    path = tmp_path / f"{task}.npz"
    code, trained, err = _run(["train", task, "--epochs", "2", "--hidden", "5", "--quiet", "--save", str(path)], capsys)
    assert code == 0, err
    code, predicted, err = _run(["predict", "--task", task, "--checkpoint", str(path)], capsys)
    assert code == 0, err

    def values(text):
        return dict(re.findall(r"^(\w+): (\S+)$", text, flags=re.MULTILINE))

    for name in metrics:
        assert values(trained)[name] == values(predicted)[name], name


def test_a_cli_checkpoint_carries_task_config_scaler_and_vocabulary(tmp_path, capsys):
    for task, extra in (("temperature", "scaler"), ("weather", "scaler"), ("sentiment", "vocabulary")):
        path = tmp_path / f"{task}.npz"
        assert (
            _run(
                ["train", task, "--epochs", "1", "--hidden", "3", "--cell", "gru", "--quiet", "--save", str(path)],
                capsys,
            )[0]
            == 0
        )
        metadata = checkpoint.read_metadata(path)
        assert metadata["task"] == task
        assert metadata["config"]["hidden"] == 3 and metadata["config"]["cell"] == "gru"
        assert extra in metadata
    assert checkpoint.read_metadata(tmp_path / "sentiment.npz")["vocabulary"] == list(
        TASKS["sentiment"].vocabulary().words
    )


def test_predict_with_another_tasks_checkpoint_names_both(tmp_path, capsys):
    path = tmp_path / "sine.npz"
    assert _run(["train", "sine", "--epochs", "1", "--hidden", "3", "--quiet", "--save", str(path)], capsys)[0] == 0
    code, out, err = _run(["predict", "--task", "temperature", "--checkpoint", str(path)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "'sine'" in err and "'temperature'" in err and str(path) in err


def test_predict_sentiment_ignores_case_and_punctuation(tmp_path, capsys):
    path = tmp_path / "sentiment.npz"
    assert (
        _run(["train", "sentiment", "--epochs", "1", "--hidden", "4", "--quiet", "--save", str(path)], capsys)[0] == 0
    )
    shown = []
    for text in ("i am not happy", "I am NOT happy!", "  i, am... not: HAPPY?"):
        code, out, err = _run(["predict", "--task", "sentiment", "--checkpoint", str(path), "--text", text], capsys)
        assert code == 0, err
        shown.append(re.search(r"p\(positive\) = ([0-9.]+)", out).group(1))
    assert len(set(shown)) == 1
    code, out, err = _run(
        ["predict", "--task", "sentiment", "--checkpoint", str(path), "--text", "I am joyful"], capsys
    )
    assert code == 2 and "unknown word 'joyful'" in err and "Traceback" not in err


def test_a_failed_save_writes_no_plot_and_leaves_no_temporary(tmp_path, capsys, monkeypatch):
    def refuse(module, path, metadata=None):
        raise checkpoint.CheckpointError(path, "cannot be written here")

    monkeypatch.setattr(checkpoint, "save", refuse)
    code, _, err = _run(
        [
            "train",
            "sine",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            str(tmp_path / "m.npz"),
            "--plot",
            str(tmp_path / "loss.png"),
        ],
        capsys,
    )
    assert code == 2 and "cannot be written here" in err
    assert list(tmp_path.iterdir()) == []


def test_only_the_librarys_errors_are_caught_so_a_bug_keeps_its_traceback(monkeypatch, capsys):
    def library_error(config, progress=False):
        raise DataError("the data says no")

    monkeypatch.setattr(TASKS["sine"], "run", library_error)
    assert main(["train", "sine"]) == 2
    assert capsys.readouterr().err == "tinygrad-rnn train: error: the data says no\n"

    def bug(config, progress=False):
        raise ValueError("a plain bug")

    monkeypatch.setattr(TASKS["sine"], "run", bug)
    with pytest.raises(ValueError, match="a plain bug"):
        main(["train", "sine"])


def _subparsers(parser):
    action = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("command", ["demo", "train", "predict", "graph"])
def test_help_of_every_subcommand_gives_each_options_meaning_and_default(command, capsys):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    sub = _subparsers(build_parser())[command]
    for action in sub._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, action.option_strings
        rendered = sub.formatter_class(command)._expand_help(action)
        assert "default" in rendered or "required" in rendered, (action.option_strings, rendered)
        assert " ".join(rendered.split()) in text
    expected = {
        "demo": "created (with missing parents)",
        "train": "sentiment 1000, sine 300",
        "predict": "(default: 10)",
        "graph": "(default: 5)",
    }
    assert expected[command] in text


def _saved(tmp_path, capsys, task, *options):
    path = tmp_path / f"{task}.npz"
    code, _, err = _run(
        ["train", task, "--epochs", "1", "--hidden", "3", "--quiet", "--save", str(path), *options], capsys
    )
    assert code == 0, err
    return path


def _resave(path, change):
    """Write the checkpoint at `path` again with its metadata passed through `change`."""
    metadata = checkpoint.read_metadata(path)
    state = checkpoint.load_state_dict(path)
    model = build_model(metadata["input_size"], state["rnn.weight_hh_l0"].shape[1], 1, bias="rnn.bias_ih_l0" in state)
    model.load_state_dict(state)
    checkpoint.save(model, path, metadata=change(metadata))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda meta: {**meta, "config": {**meta["config"], "colour": "red"}}, "config has unknown entries colour"),
        (
            lambda meta: {**meta, "config": {**meta["config"], "window": 0}},
            "config window must be an integer >= 1, got 0",
        ),
        (
            lambda meta: {**meta, "config": {**meta["config"], "cell": "tree"}},
            "config cell must be one of rnn, lstm, gru",
        ),
        (lambda meta: {key: value for key, value in meta.items() if key != "task"}, "task"),
    ],
)
def test_predict_refuses_a_checkpoint_whose_metadata_does_not_fit_in_one_line(tmp_path, capsys, change, message):
    path = _saved(tmp_path, capsys, "sine")
    _resave(path, change)
    code, out, err = _run(["predict", "--task", "sine", "--checkpoint", str(path)], capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err and message in err


def test_predict_scales_another_csv_with_the_checkpoints_scaler_and_checks_its_columns(tmp_path, capsys):
    train_csv = _days_csv(tmp_path / "train.csv", rows=60)
    path = _saved(
        tmp_path, capsys, "weather", "--csv", str(train_csv), "--feature-columns", "a,b", "--target-column", "a"
    )
    scaler = checkpoint.read_metadata(path)["scaler"]
    other = tmp_path / "other.csv"
    other.write_text(train_csv.read_text().replace(",b\n", ",c\n", 1))
    code, out, err = _run(
        [
            "predict",
            "--task",
            "weather",
            "--checkpoint",
            str(path),
            "--csv",
            str(other),
            "--feature-columns",
            "a,c",
            "--target-column",
            "a",
        ],
        capsys,
    )
    assert code == 0, err
    assert "validation_mse:" in out
    assert checkpoint.read_metadata(path)["scaler"] == scaler
    code, out, err = _run(
        [
            "predict",
            "--task",
            "weather",
            "--checkpoint",
            str(path),
            "--csv",
            str(other),
            "--feature-columns",
            "a",
            "--target-column",
            "a",
        ],
        capsys,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "the scaler was fitted on 2 feature columns; the data has 1 (a)" in err


def test_demo_that_fails_to_write_removes_the_folders_it_created(tmp_path, capsys, monkeypatch):
    from tinygrad_rnn import viz

    def broken_render(digraph, path, **options):
        raise DataError("a renderer that fails at the end of the run")

    monkeypatch.setattr(viz, "render", broken_render)
    code, _, err = _run(["demo", "--quick", "--out", str(tmp_path / "new" / "folder")], capsys)
    assert code == 2 and "a renderer that fails at the end of the run" in err
    assert list(tmp_path.iterdir()) == []


def test_the_sentiment_loop_also_stops_at_a_nan_loss(monkeypatch):
    sentiment = TASKS["sentiment"]
    real, calls = F.cross_entropy, []

    def cross_entropy(logits, target):
        calls.append(1)
        loss = real(logits, target)
        return loss * float("nan") if len(calls) == 70 else loss  # the 4th phrase of epoch 2

    monkeypatch.setattr(F, "cross_entropy", cross_entropy)
    with (
        eager_steps(),
        pytest.raises(
            NonFiniteLossError,
            match=r"the loss became nan at epoch 2, batch 4, "
            r".*last finite loss was",
        ),
    ):
        sentiment.run(sentiment.Config(epochs=3, hidden=4))


def test_a_damaged_checkpoint_is_one_line_naming_it(tmp_path, capsys):
    path = _saved(tmp_path, capsys, "sine", "--eager")
    whole = path.read_bytes()
    for damaged in (b"not a zip file at all", whole[: len(whole) // 2], b""):
        path.write_bytes(damaged)
        code, out, err = _run(["predict", "--task", "sine", "--checkpoint", str(path)], capsys)
        assert code == 2 and out == ""
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert err.startswith(f"tinygrad-rnn predict: error: checkpoint {path} ")


def test_an_epoch_never_reached_prints_as_not_reached(capsys):
    main(["train", "sentiment", "--epochs", "1", "--quiet"])
    out = capsys.readouterr().out
    assert "epoch_100: not reached" in out
    assert "None" not in out


def test_every_task_and_the_demo_show_progress_as_one_tqdm_bar(capsys):
    from tinygrad_rnn.tasks import sentiment, sine

    sentiment.run(sentiment.Config(epochs=3, eval_every=1), progress=True)
    sentiment_out = capsys.readouterr()
    sine.run(sine.Config(epochs=3), progress=True)
    sine_out = capsys.readouterr()
    for captured in (sentiment_out, sine_out):
        assert "3/3" in captured.err and "epoch" in captured.err  # tqdm's counter and unit
        assert "epoch 1:" not in captured.out  # no per-epoch lines beside the bar
    sentiment.run(sentiment.Config(epochs=2), progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("flags, said", [([], "training steps compiled by jit"), (["--eager"], "eager training steps")])
def test_the_demo_says_which_training_steps_it_ran(tmp_path, capsys, flags, said):
    code, out, _ = _run(["demo", "--quick", "--out", str(tmp_path), *flags], capsys)
    assert code == 0 and said in out.splitlines()[0]
