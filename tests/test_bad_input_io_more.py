"""More bad input to the parts that read and write: the command line, checkpoints, the
optimizers' state and the Trainer. Each is refused with a message naming what was wrong, and
loses nothing: no input file overwritten, no partial output, no optimizer half loaded."""

import copy
import os

import numpy as np
import pytest
from cli_checks import contents, refused

from tinygrad_rnn import checkpoint, cli, nn
from tinygrad_rnn.cli import main
from tinygrad_rnn.data.datasets import DailySeries, temperature_task, weather_task
from tinygrad_rnn.errors import DataError
from tinygrad_rnn.models import SequenceModel
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.optim import SGD, Adagrad, Adam, RMSprop, clip_grad_norm_, clip_grad_value_, lr_scheduler
from tinygrad_rnn.tensors import Tensor
from tinygrad_rnn.train import Trainer

# ------------------------------------------------------------------------------- helpers


def _weather_csv(path, rows=200):
    lines = ["date,temp_max,temp_min,precipitation"]
    for day in range(rows):
        lines.append(
            f"{np.datetime64('2020-01-01') + day},{10 + np.sin(day / 5):.3f},{5 + np.cos(day / 7):.3f},"
            f"{abs(np.sin(day)):.2f}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_an_output_naming_the_input_csv_is_refused_before_training(folder, capsys, option):
    _weather_csv(folder / "days.png")  # a CSV under a picture's name: --plot accepts the suffix
    err = refused(
        ["train", "weather", "--csv", "days.png", "--epochs", "1", "--quiet", option, "days.png"], capsys, folder
    )
    assert f"{option} days.png: the same file as --csv days.png" in err


def test_an_output_naming_the_input_csv_by_a_symlink_isrefused(folder, capsys):
    _weather_csv(folder / "days.csv")
    os.symlink("days.csv", folder / "model.npz")
    err = refused(
        ["train", "weather", "--csv", "days.csv", "--epochs", "1", "--quiet", "--save", "model.npz"], capsys, folder
    )
    assert "--save model.npz: the same file as --csv days.csv" in err


@pytest.mark.parametrize("name", cli.DEMO_FILES)
def test_demo_into_a_folder_where_an_output_is_a_folder_writes_nothing(folder, capsys, name):
    (folder / "out" / name).mkdir(parents=True)
    err = refused(["demo", "--quick", "--out", "out"], capsys, folder)
    assert f"--out {os.path.join('out', name)}: is a folder, not a file" in err


def test_demo_into_a_folder_where_an_output_is_a_symlink_loop_writes_nothing(folder, capsys):
    (folder / "out").mkdir()
    os.symlink("rnn_graph.svg", folder / "out" / "rnn_graph.svg")
    err = refused(["demo", "--quick", "--out", "out"], capsys, folder)
    assert "rnn_graph.svg: its symlinks form a loop" in err


def test_train_interrupted_while_saving_writes_no_checkpoint_plot_or_temporary(folder, monkeypatch):
    (folder / "model.npz").write_bytes(b"the old checkpoint")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "_write_archive", interrupted)
    with pytest.raises(KeyboardInterrupt):
        main(["train", "sine", "--epochs", "1", "--quiet", "--save", "model.npz", "--plot", "loss.svg"])
    assert contents(folder) == {"model.npz": b"the old checkpoint"}


@pytest.mark.parametrize("path", ["missing_folder/", "model.npz/"])
def test_train_saving_to_a_path_ending_in_a_separator_isrefused(folder, capsys, path):
    (folder / "model.npz").write_bytes(b"a file, not a folder")
    err = refused(["train", "sine", "--epochs", "1", "--quiet", "--save", path], capsys, folder)
    assert f"--save {path}: ends with a path separator" in err


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_series_with_a_non_finite_value_in_its_test_rows_is_refused_naming_the_row(bad):
    series = np.r_[np.sin(np.arange(100) / 5), bad]  # the last row: the test split, not seen by the scaler
    with pytest.raises(DataError, match=f"series holds {bad} at row 100"):
        temperature_task(look_back=2, series=series)


@pytest.mark.parametrize("field", ["features", "target"])
def test_daily_data_with_a_non_finite_value_is_refused_naming_the_field_and_row(field):
    days = 120
    features = np.c_[np.sin(np.arange(days) / 5), np.cos(np.arange(days) / 3)]
    target = np.sin(np.arange(days) / 7)
    (features if field == "features" else target)[110] = np.nan
    data = DailySeries(
        dates=np.datetime64("2020-01-01") + np.arange(days),
        features=features,
        feature_names=("a", "b"),
        target=target,
        target_name="c",
    )
    with pytest.raises(DataError, match=f"data.{field} holds .*nan.* at row 110"):
        weather_task(window=3, data=data)


# ------------------------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("path", ["new_folder/", "model.npz/"])
def test_saving_to_a_path_ending_in_a_separator_names_it_and_writes_nothing(folder, path):
    (folder / "model.npz").write_bytes(b"the old file")
    with pytest.raises(IsADirectoryError, match=f"cannot write {path}: ends with a path separator"):
        checkpoint.save(nn.Linear(2, 3), path)
    assert contents(folder) == {"model.npz": b"the old file"}


def test_saving_to_an_empty_path_names_it(folder):
    with pytest.raises(FileNotFoundError, match="the path is empty"):
        checkpoint.save(nn.Linear(2, 3), "")
    assert contents(folder) == {}


def test_a_unicode_path_round_trips(folder):
    (folder / "café").mkdir()
    model, other = nn.Linear(2, 3), nn.Linear(2, 3)
    checkpoint.save(model, "café/modèle ü.npz")
    checkpoint.load("café/modèle ü.npz", other)
    np.testing.assert_array_equal(other.weight.data, model.weight.data)


@pytest.mark.parametrize("read", [checkpoint.read_metadata, checkpoint.load_state_dict])
def test_reading_a_folder_as_a_checkpoint_says_it_is_a_folder(folder, read):
    (folder / "model.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="model.npz is a folder, not a file"):
        read("model.npz")


def test_loading_a_folder_into_a_model_says_so_and_changes_nothing(folder):
    (folder / "model.npz").mkdir()
    model = nn.Linear(2, 3)
    before = model.state_dict()
    with pytest.raises(IsADirectoryError, match="model.npz is a folder"):
        checkpoint.load("model.npz", model)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# ------------------------------------------------------------------------------- optimizer state


def _stepped_adam():
    model = nn.Linear(2, 3)
    optimizer = Adam(model.parameters(), lr=0.1)
    model(Tensor(np.ones((1, 2)))).sum().backward()
    optimizer.step()
    return optimizer.state_dict()


def _fresh_adam():
    return Adam(nn.Linear(2, 3).parameters(), lr=0.5)


def _as_it_is(optimizer):
    return repr(optimizer), [copy.deepcopy(values) for values in optimizer.state.values()]


def _assert_refused_and_unchanged(optimizer, state_dict, match):
    before = _as_it_is(optimizer)
    with pytest.raises(ValueError, match=match):
        optimizer.load_state_dict(state_dict)
    after = _as_it_is(optimizer)
    assert after[0] == before[0] and len(after[1]) == len(before[1])


def _with_group(state_dict, **entries):
    return {**state_dict, "param_groups": [{**state_dict["param_groups"][0], **entries}]}


def _with_state(state_dict, **entries):
    return {**state_dict, "state": {**state_dict["state"], 0: {**state_dict["state"][0], **entries}}}


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda s: [s], "expects a dict with 'state' and 'param_groups'"),
        (lambda s: {**s, "param_groups": [5]}, "group 0 of the state is not a dict with a 'params' list"),
        (lambda s: _with_group(s, params=5), "group 0 of the state is not a dict with a 'params' list"),
        (
            lambda s: {**s, "param_groups": [{k: v for k, v in s["param_groups"][0].items() if k != "params"}]},
            "group 0 of the state is not a dict with a 'params' list",
        ),
        (lambda s: _with_group(s, params=[0, 0]), "numbers parameter 0 more than once"),
        (lambda s: {**s, "state": {"0": s["state"][0]}}, "names parameter '0', which no group holds"),
        (lambda s: {**s, "state": {0: 5}}, r"parameter 0 \(weight\): its state is a int, not a dict"),
        (lambda s: _with_state(s, exp_avg=np.zeros((3, 2), complex)), "'exp_avg' has dtype complex128"),
        (lambda s: _with_state(s, exp_avg=np.zeros((3, 2), "U1")), "'exp_avg' has dtype <U1"),
        (lambda s: _with_state(s, exp_avg=np.zeros(1)), r"'exp_avg' has shape \(1,\), the parameter \(3, 2\)"),
        (lambda s: _with_group(s, lr=-1.0), "lr=-1.0"),
        (lambda s: _with_group(s, lr=float("nan")), "lr=nan"),
        (lambda s: _with_group(s, betas=(0.9, 1.5)), "beta2=1.5"),
    ],
)
def test_a_bad_optimizer_state_dict_names_the_problem_and_changes_nothing(change, match):
    _assert_refused_and_unchanged(_fresh_adam(), change(_stepped_adam()), match)


def test_a_refused_state_leaves_a_stepped_optimizers_state_as_it_was():
    model = nn.Linear(2, 3)
    optimizer = Adam(model.parameters(), lr=0.1)
    model(Tensor(np.ones((1, 2)))).sum().backward()
    optimizer.step()
    before = optimizer.state_dict()
    bad = _with_state(_stepped_adam(), exp_avg=np.zeros(1))
    with pytest.raises(ValueError):
        optimizer.load_state_dict(bad)
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for number, values in before["state"].items():
        for key, value in values.items():
            np.testing.assert_array_equal(after["state"][number][key], value)


def test_an_integer_moment_buffer_is_loaded_as_the_parameters_floats_and_steps_as_a_float_one():
    saved = _stepped_adam()
    as_ints = _with_state(saved, exp_avg=np.ones((3, 2), np.int64), exp_avg_sq=np.ones((3, 2), np.int64))
    as_floats = _with_state(saved, exp_avg=np.ones((3, 2)), exp_avg_sq=np.ones((3, 2)))
    weights = []
    for state_dict in (as_ints, as_floats):
        model = nn.Linear(2, 3, rng=0)
        optimizer = Adam(model.parameters(), lr=0.1)
        optimizer.load_state_dict(state_dict)
        assert optimizer.state[model.weight]["exp_avg"].dtype == np.float64
        model(Tensor(np.ones((1, 2)))).sum().backward()
        optimizer.step()
        weights.append(model.weight.data.copy())
    np.testing.assert_array_equal(weights[0], weights[1])


@pytest.mark.parametrize(
    "make, option",
    [
        (lambda p: Adam(p, lr=float("nan")), "lr=nan"),
        (lambda p: Adam(p, eps=float("nan")), "eps=nan"),
        (lambda p: Adam(p, weight_decay=float("nan")), "weight_decay=nan"),
        (lambda p: SGD(p, lr=0.1, momentum=float("nan")), "momentum=nan"),
        (lambda p: RMSprop(p, alpha=float("nan")), "alpha=nan"),
        (lambda p: Adagrad(p, lr=float("nan")), "lr=nan"),
    ],
)
def test_a_nan_hyperparameter_is_refused_naming_it(make, option):
    with pytest.raises(ValueError, match=option):
        make(nn.Linear(2, 3).parameters())


def test_clipping_to_nan_is_refused_and_leaves_the_gradients():
    param = Tensor(np.ones(3), requires_grad=True)
    param.grad = np.array([3.0, -4.0, 0.5])
    with pytest.raises(ValueError, match="max_norm must be >= 0, got nan"):
        clip_grad_norm_([param], float("nan"))
    with pytest.raises(ValueError, match="clip_value must be >= 0, got nan"):
        clip_grad_value_([param], float("nan"))
    np.testing.assert_array_equal(param.grad, [3.0, -4.0, 0.5])


# ------------------------------------------------------------------------------- schedule state


def _two_group_sgd():
    weight, bias = nn.Linear(2, 3).parameters()
    return SGD([{"params": [weight]}, {"params": [bias], "lr": 0.5}], lr=0.1)


@pytest.mark.parametrize(
    "make_other, match",
    [
        (lambda o: lr_scheduler.ExponentialLR(o, 0.9), r"\(missing keys: step_size\)"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, 10), "missing keys: step_size, gamma; unexpected keys: T_max"),
    ],
)
def test_a_schedule_refuses_another_kinds_state_and_changes_nothing(make_other, match):
    optimizer = _two_group_sgd()
    schedule = lr_scheduler.StepLR(optimizer, 3, gamma=0.5)
    for _ in range(4):
        schedule.step()
    before = schedule.state_dict()
    other_state = make_other(_two_group_sgd()).state_dict()
    with pytest.raises(ValueError, match=match):
        schedule.load_state_dict(other_state)
    assert schedule.state_dict() == before


def test_a_schedule_state_holding_an_optimizer_is_refused_and_the_optimizer_kept():
    optimizer = _two_group_sgd()
    schedule = lr_scheduler.StepLR(optimizer, 3)
    with pytest.raises(ValueError, match="unexpected keys: optimizer"):
        schedule.load_state_dict({**schedule.state_dict(), "optimizer": _two_group_sgd()})
    assert schedule.optimizer is optimizer


@pytest.mark.parametrize("make", [lambda o: lr_scheduler.StepLR(o, 2), lambda o: lr_scheduler.ReduceLROnPlateau(o)])
def test_a_schedule_state_for_another_number_of_groups_isrefused(make):
    one_group = SGD(nn.Linear(2, 3).parameters(), lr=0.1)
    schedule = make(_two_group_sgd())
    before = schedule.state_dict()
    with pytest.raises(ValueError, match="one value for each of the 2 parameter groups"):
        schedule.load_state_dict(make(one_group).state_dict())
    assert schedule.state_dict() == before


def test_a_schedule_state_that_is_not_a_dict_is_named():
    schedule = lr_scheduler.StepLR(_two_group_sgd(), 2)
    with pytest.raises(TypeError, match=r"StepLR.load_state_dict: expects a dict \(a state_dict\(\)\), got list"):
        schedule.load_state_dict([1])


# ------------------------------------------------------------------------------- the Trainer


def _trainer(**options):
    model = SequenceModel(2, 3, 1, cell="rnn", rng=0)
    return model, Trainer(model, F.mse_loss, Adam(model.parameters(), lr=0.01), progress=False, **options)


@pytest.mark.parametrize("epochs", [-1, 2.5, None, "3", True])
def test_fit_with_epochs_that_are_not_a_count_names_them_and_trains_nothing(epochs):
    model, trainer = _trainer()
    before = model.state_dict()
    with pytest.raises(ValueError, match=f"epochs must be an integer >= 0, got {epochs!r}"):
        trainer.fit(np.ones((4, 5, 2)), np.ones((4, 1)), epochs=epochs)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("batch_size", [0, 2.0, float("nan"), "2", True])
def test_a_batch_size_that_is_not_a_count_is_refused_when_the_trainer_is_made(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be an integer >= 1 \\(or None\\), got {batch_size!r}"):
        _trainer(batch_size=batch_size)


def test_numpy_integer_epochs_and_batch_size_train_as_python_ones():
    losses = []
    for kind in (int, np.int64):
        _, trainer = _trainer(batch_size=kind(2), rng=1)
        losses.append(trainer.fit(np.ones((4, 5, 2)), np.ones((4, 1)), epochs=kind(2)).train_loss)
    assert losses[0] == losses[1] and len(losses[0]) == 2
