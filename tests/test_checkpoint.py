"""Checkpoints: an exact round trip, and every kind of bad file or failed save leaves things as they were."""
import os
import zipfile

import numpy as np
import pytest

from tinygrad_rnn import checkpoint, nn


class Forecaster(nn.Module):
    """An RNN and a linear read-out of its last hidden state."""

    def __init__(self, seed):
        super().__init__()
        self.rnn = nn.RNN(2, 4, num_layers=2, batch_first=True, rng=seed)
        self.head = nn.Linear(4, 1, rng=seed + 100)

    def forward(self, x):
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


def snapshot(model):
    return {name: param.data.copy() for name, param in model.named_parameters()}


def assert_unchanged(model, before):
    after = snapshot(model)
    assert list(after) == list(before)
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def leftover_files(directory, keep):
    return sorted(set(os.listdir(directory)) - set(keep))


@pytest.fixture
def saved(tmp_path):
    """A checkpoint of Forecaster(0) at tmp_path/model.npz."""
    path = tmp_path / "model.npz"
    checkpoint.save(Forecaster(0), path)
    return path


def test_round_trip_is_exact_and_changes_the_output(saved):
    source, target = Forecaster(0), Forecaster(1)
    x = np.random.default_rng(5).standard_normal((3, 6, 2))
    assert not np.array_equal(source(x).numpy(), target(x).numpy())
    returned = checkpoint.load(saved, target)
    assert returned is target
    assert_unchanged(target, snapshot(source))
    np.testing.assert_array_equal(target(x).numpy(), source(x).numpy())


def test_the_file_is_exactly_the_path_given(tmp_path):
    for name in ("weights.npz", "weights", "weights.bin"):
        checkpoint.save(Forecaster(0), tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == ["weights", "weights.bin", "weights.npz"]
    assert list(checkpoint.load_state_dict(tmp_path / "weights")) == list(Forecaster(0).state_dict())


def test_load_state_dict_reads_every_array(saved):
    state = checkpoint.load_state_dict(str(saved))
    expected = Forecaster(0).state_dict()
    assert list(state) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(state[name], value)


def test_saving_again_replaces_the_old_checkpoint(saved):
    checkpoint.save(Forecaster(7), saved)
    model = checkpoint.load(saved, Forecaster(0))
    assert_unchanged(model, snapshot(Forecaster(7)))
    assert leftover_files(saved.parent, [saved.name]) == []


def test_a_float32_model_round_trips_in_float32(tmp_path):
    model = nn.Linear(3, 2, dtype=np.float32, rng=0)
    checkpoint.save(model, tmp_path / "small.npz")
    other = checkpoint.load(tmp_path / "small.npz", nn.Linear(3, 2, dtype=np.float32, rng=1))
    assert other.weight.dtype == np.float32
    np.testing.assert_array_equal(other.weight.data, model.weight.data)


# ---------------------------------------------------------------- bad files

def test_a_missing_file_is_named(tmp_path):
    model = Forecaster(1)
    before = snapshot(model)
    with pytest.raises(FileNotFoundError, match="no file at .*nowhere.npz"):
        checkpoint.load(tmp_path / "nowhere.npz", model)
    assert_unchanged(model, before)


def corrupt_the_middle(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 16] = bytes(b ^ 0xFF for b in data[middle:middle + 16])
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def overwrite_with_text(path):
    path.write_text("this is not a checkpoint")


def write_a_pickled_object_array(path):
    state = Forecaster(0).state_dict()
    state["rnn.weight_ih_l0"] = np.array([{"payload": 1}, None], dtype=object)
    with open(path, "wb") as file:
        np.savez(file, **state)


def write_a_single_npy(path):
    with open(path, "wb") as file:
        np.save(file, np.zeros(3))


@pytest.mark.parametrize("spoil, message", [
    (corrupt_the_middle, r"not a readable \.npz archive \(array '.+'\): Bad CRC-32"),
    (truncate, r"not a readable \.npz archive: File is not a zip file"),
    (overwrite_with_text, r"not an \.npz archive: it starts with b'this', not a zip signature"),
    (write_a_pickled_object_array, r"array 'rnn.weight_ih_l0'.*allow_pickle=False"),
    (write_a_single_npy, r"not an \.npz archive: it starts with b'\\x93NUM'"),
], ids=["corrupted", "truncated", "not a zip", "pickled object", "plain npy"])
def test_an_unreadable_file_is_a_clear_error_and_the_model_is_unchanged(saved, spoil, message):
    spoil(saved)
    model = Forecaster(1)
    before = snapshot(model)
    with pytest.raises(ValueError, match=message) as caught:
        checkpoint.load(saved, model)
    assert str(saved) in str(caught.value)
    assert_unchanged(model, before)


def rewrite(path, change):
    state = dict(np.load(path))
    change(state)
    with open(path, "wb") as file:
        np.savez(file, **state)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("head.bias"), r"missing keys: head.bias"),
    (lambda s: s.update(extra=np.zeros(2)), r"unexpected keys: extra"),
    (lambda s: s.update({"rnn.weight_hh_l1": np.zeros((4, 5))}),
     r"rnn.weight_hh_l1: shape \(4, 5\) in the state, \(4, 4\) in the model"),
], ids=["missing key", "extra key", "mis-shaped key"])
def test_a_mismatched_key_names_the_path_and_the_key_and_changes_nothing(saved, change, message):
    rewrite(saved, change)
    model = Forecaster(1)
    before = snapshot(model)
    with pytest.raises(KeyError, match=message) as caught:
        checkpoint.load(saved, model)
    assert str(saved) in str(caught.value)
    assert_unchanged(model, before)


# ---------------------------------------------------------------- failed saves

def test_a_save_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*absent does not exist"):
        checkpoint.save(Forecaster(0), tmp_path / "absent" / "model.npz")
    assert os.listdir(tmp_path) == []


def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary(saved, monkeypatch):
    old_bytes = saved.read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(Forecaster(3), saved)
    assert saved.read_bytes() == old_bytes
    assert leftover_files(saved.parent, [saved.name]) == []
    monkeypatch.undo()
    assert_unchanged(checkpoint.load(saved, Forecaster(3)), snapshot(Forecaster(0)))


def test_a_module_without_parameters_round_trips(tmp_path):
    checkpoint.save(nn.Sequential(), tmp_path / "empty.npz")
    assert checkpoint.load_state_dict(tmp_path / "empty.npz") == {}


def test_save_wants_a_module(tmp_path):
    with pytest.raises(TypeError, match="checkpoint.save: expected a Module, got dict"):
        checkpoint.save({"w": np.zeros(2)}, tmp_path / "x.npz")


def test_the_archive_holds_plain_arrays_only(saved):
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
    assert names == [f"{name}.npy" for name in Forecaster(0).state_dict()]
