"""The tasks and the command line: quick runs, the demo's files, and clean argument errors."""

import math

import pytest

from tinygrad_rnn.cli import main
from tinygrad_rnn.tasks import TASKS


def test_demo_quick_writes_files_and_gradients_agree(tmp_path, capsys):
    out = tmp_path / "new" / "folder"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    assert (out / "loss.png").stat().st_size > 0
    assert (out / "rnn_graph.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
    table = capsys.readouterr().out.split("autograd vs hand-derived")[1]
    names = (["Wxh"], ["Whh"], ["Why"], ["bh"], ["by"])
    rows = [line.split() for line in table.splitlines()[2:] if line.split()[:1] in names]
    assert len(rows) == 5
    assert all(float(row[-2]) < 1e-10 for row in rows)


def test_train_sine_two_epochs(capsys):
    assert main(["train", "sine", "--epochs", "2", "--quiet"]) == 0
    assert "validation_loss:" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_task_runs_briefly_with_finite_metrics(name):
    module = TASKS[name]
    result = module.run(module.Config(epochs=2))
    assert result.history.epochs <= 2
    numbers = [value for value in result.metrics.values() if isinstance(value, float)]
    assert numbers and all(math.isfinite(value) for value in numbers)


def test_missing_csv_column_exits_2(tmp_path, capsys):
    path = tmp_path / "days.csv"
    path.write_text("date,a,b\n" + "".join(f"2020-01-{day:02d},{day},{day}\n" for day in range(1, 29)))
    code = main(["train", "weather", "--csv", str(path), "--feature-columns", "a,zz", "--target-column", "b"])
    assert code == 2
    error = capsys.readouterr().err
    assert "no column 'zz'" in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1


def test_unknown_word_in_predict_exits_2(tmp_path, capsys):
    path = tmp_path / "sentiment.npz"
    assert main(["train", "sentiment", "--epochs", "1", "--hidden", "8", "--quiet", "--save", str(path)]) == 0
    assert main(["predict", "--task", "sentiment", "--checkpoint", str(path), "--text", "i am joyful"]) == 2
    assert "unknown word 'joyful'" in capsys.readouterr().err


def test_missing_checkpoint_exits_2(tmp_path, capsys):
    code = main(["predict", "--task", "sine", "--checkpoint", str(tmp_path / "none.npz")])
    assert code == 2
    assert "--checkpoint " in capsys.readouterr().err


def test_graph_command_writes_svg(tmp_path):
    assert main(["graph", "--task", "sine", "--steps", "3", "-o", str(tmp_path / "rnn.svg")]) == 0
    assert (tmp_path / "rnn.svg").exists()


def test_sentiment_reaches_100_percent():
    metrics = TASKS["sentiment"].run().metrics
    assert metrics["train_accuracy"] == metrics["test_accuracy"] == 1.0
    assert metrics["epoch_100"] is not None
