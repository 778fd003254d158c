"""Checkpoints: an exact round trip, and every kind of bad file or failed save leaves things as they were."""

import errno
import os
import stat
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

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


class Odd(nn.Module):
    """Parameters of every awkward shape and value: 0-d, size 0, float32 and float16, NaN, inf, -0.0."""

    def __init__(self, fill):
        super().__init__()
        self.scalar = nn.Parameter(np.float64(fill))
        self.empty = nn.Parameter(np.zeros((0, 3)))
        self.single = nn.Parameter(np.array([fill, np.nan, -np.inf, -0.0], dtype=np.float32))
        self.half = nn.Parameter(np.array([[fill], [np.inf]], dtype=np.float16))


def test_awkward_shapes_and_values_round_trip_bit_for_bit(tmp_path):
    checkpoint.save(Odd(2.5), tmp_path / "odd.npz")
    model = checkpoint.load(tmp_path / "odd.npz", Odd(-1.0))
    for name, value in Odd(2.5).state_dict().items():
        loaded = dict(model.named_parameters())[name].data
        assert loaded.shape == value.shape and loaded.dtype == value.dtype, name
        assert loaded.tobytes() == value.tobytes(), name


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
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
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


@pytest.mark.parametrize(
    "spoil, message",
    [
        (corrupt_the_middle, r"not a readable \.npz archive \(array '.+'\): Bad CRC-32"),
        (truncate, r"not a readable \.npz archive: File is not a zip file"),
        (overwrite_with_text, r"not an \.npz archive: it starts with b'this', not a zip signature"),
        (
            write_a_pickled_object_array,
            r"array 'rnn.weight_ih_l0' has dtype object; only booleans and numbers are read",
        ),
        (write_a_single_npy, r"not an \.npz archive: it starts with b'\\x93NUM'"),
    ],
    ids=["corrupted", "truncated", "not a zip", "pickled object", "plain npy"],
)
def test_an_unreadable_file_is_a_clear_error_and_the_model_is_unchanged(saved, spoil, message):
    spoil(saved)
    model = Forecaster(1)
    before = snapshot(model)
    with pytest.raises(checkpoint.CheckpointError, match=message) as caught:
        checkpoint.load(saved, model)
    assert str(saved) in str(caught.value)
    assert_unchanged(model, before)


def rewrite(path, change):
    state = {name: value for name, value in np.load(path).items() if name != "metadata.json"}
    change(state)
    with open(path, "wb") as file:
        np.savez(file, **state)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("head.bias"), r"does not fit Forecaster: missing keys: head.bias$"),
        (lambda s: s.update(extra=np.zeros(2)), r"does not fit Forecaster: unexpected keys: extra$"),
        (
            lambda s: s.update({"rnn.weight_hh_l1": np.zeros((4, 5))}),
            r"array 'rnn.weight_hh_l1' has shape \(4, 5\) in the file, \(4, 4\) in the model",
        ),
    ],
    ids=["missing key", "extra key", "mis-shaped key"],
)
def test_a_mismatched_key_names_the_path_and_the_key_and_changes_nothing(saved, change, message):
    rewrite(saved, change)
    model = Forecaster(1)
    before = snapshot(model)
    with pytest.raises(checkpoint.CheckpointError, match=message) as caught:
        checkpoint.load(saved, model)
    assert str(saved) in str(caught.value)
    assert_unchanged(model, before)


# ---------------------------------------------------------------- metadata

METADATA = {
    "task": "weather",
    "config": {"hidden": 4, "cell": "gru", "feature_columns": ("t", "p")},
    "scaler": {"mean": [0.5, -1e-300], "scale": [2.0, 3.5]},
    "vocabulary": ["good", "bad"],
    "note": None,
}


def test_metadata_round_trips_and_reads_without_the_arrays(tmp_path):
    path = tmp_path / "model.npz"
    checkpoint.save(Forecaster(0), path, metadata=METADATA)
    expected = dict(METADATA, config=dict(METADATA["config"], feature_columns=["t", "p"]))
    assert checkpoint.read_metadata(path) == expected
    assert checkpoint.read_metadata(path, task="weather") == expected
    with zipfile.ZipFile(path) as archive:  # damage one array's data: the metadata still reads
        offset = archive.getinfo("head.bias.npy").header_offset
    data = bytearray(path.read_bytes())
    data[offset + 30 + len("head.bias.npy") + 130] ^= 0xFF
    path.write_bytes(bytes(data))
    assert checkpoint.read_metadata(path) == expected
    with pytest.raises(checkpoint.CheckpointError, match=r"\(array 'head.bias'\): Bad CRC-32"):
        checkpoint.load(path, Forecaster(1))


def test_a_file_without_metadata_has_none(tmp_path):
    path = tmp_path / "plain.npz"
    with open(path, "wb") as file:
        np.savez(file, **Forecaster(0).state_dict())
    assert checkpoint.read_metadata(path) == {}
    assert_unchanged(checkpoint.load(path, Forecaster(1)), snapshot(Forecaster(0)))
    with pytest.raises(checkpoint.CheckpointError) as caught:
        checkpoint.read_metadata(path, task="sine")
    assert str(caught.value) == f"checkpoint {path} records no task, so it cannot be used as one of task 'sine'"


def test_another_tasks_checkpoint_is_named_in_one_line(tmp_path):
    path = tmp_path / "sine.npz"
    checkpoint.save(Forecaster(0), path, metadata={"task": "sine"})
    with pytest.raises(checkpoint.CheckpointError) as caught:
        checkpoint.read_metadata(path, task="sentiment")
    assert str(caught.value) == f"checkpoint {path} was written by task 'sine', not 'sentiment'"


@pytest.mark.parametrize(
    "metadata, error, message",
    [
        (
            {"scaler": {"mean": np.zeros(2)}},
            TypeError,
            r"metadata\['scaler'\]\['mean'\] is a ndarray, which JSON cannot store; store value.tolist\(\)",
        ),
        ({"config": {"hidden": np.int64(4)}}, TypeError, r"metadata\['config'\]\['hidden'\] is a int64"),
        (
            {"scaler": {"scale": [1.0, float("nan")]}},
            ValueError,
            r"metadata\['scaler'\]\['scale'\]\[1\] is nan; JSON stores finite numbers only",
        ),
        ({"config": {3: "x"}}, TypeError, r"metadata\['config'\] has key 3; JSON keys are strings"),
        ({"task": 3}, TypeError, r"'task' holds int, not str"),
        ({"vocabulary": ["a", 2]}, TypeError, r"'vocabulary' holds something other than strings"),
        (["task", "sine"], TypeError, r"checkpoint.save: metadata is a list, not a dict"),
    ],
    ids=["array", "numpy int", "NaN", "int key", "task not a string", "vocabulary not strings", "not a dict"],
)
def test_metadata_that_json_cannot_hold_exactly_is_refused_and_nothing_is_written(saved, metadata, error, message):
    old_bytes = saved.read_bytes()
    with pytest.raises(error, match=message):
        checkpoint.save(Forecaster(3), saved, metadata=metadata)
    assert saved.read_bytes() == old_bytes
    assert leftover_files(saved.parent, [saved.name]) == []


# ---------------------------------------------------------------- where and how a save writes


def test_an_existing_files_permissions_are_kept(saved):
    for mode in (0o640, 0o600, 0o604):
        os.chmod(saved, mode)
        checkpoint.save(Forecaster(1), saved)
        assert stat.S_IMODE(os.stat(saved).st_mode) == mode


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0o027)
    try:
        checkpoint.save(Forecaster(0), tmp_path / "new.npz")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "new.npz").st_mode) == 0o640


def test_a_symlink_is_written_through_and_kept(saved, tmp_path):
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "latest.npz"
    link.symlink_to(os.path.join("..", saved.name))
    checkpoint.save(Forecaster(5), link)
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", saved.name)
    assert_unchanged(checkpoint.load(saved, Forecaster(0)), snapshot(Forecaster(5)))
    assert leftover_files(tmp_path, ["links", saved.name]) == []
    assert os.listdir(tmp_path / "links") == ["latest.npz"]


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to("run1.npz")
    checkpoint.save(Forecaster(2), link)
    assert link.is_symlink()
    assert_unchanged(checkpoint.load(tmp_path / "run1.npz", Forecaster(0)), snapshot(Forecaster(2)))


def test_a_symlink_into_a_missing_directory_is_named(tmp_path):
    link = tmp_path / "latest.npz"
    link.symlink_to(tmp_path / "gone" / "run1.npz")
    with pytest.raises(FileNotFoundError, match=r"cannot write .*latest.npz: the folder .*gone does not exist"):
        checkpoint.save(Forecaster(2), link)


def test_a_symlink_loop_is_named(tmp_path):
    (tmp_path / "a.npz").symlink_to("b.npz")
    (tmp_path / "b.npz").symlink_to("a.npz")
    with pytest.raises(OSError, match=r"cannot write .*a.npz: its symlinks form a loop"):
        checkpoint.save(Forecaster(0), tmp_path / "a.npz")
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.npz"]


def test_a_directory_or_device_is_not_replaced(tmp_path):
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(IsADirectoryError, match=r"folder.npz: is a folder, not a file"):
        checkpoint.save(Forecaster(0), tmp_path / "folder.npz")
    link = tmp_path / "null.npz"
    link.symlink_to(os.devnull)
    with pytest.raises(IsADirectoryError, match=r"cannot write .*null.npz: /dev/null is not a regular file"):
        checkpoint.save(Forecaster(0), link)
    assert sorted(os.listdir(tmp_path)) == ["folder.npz", "null.npz"]


def as_an_ordinary_user(monkeypatch):
    """os.access as it answers a user who is not root: write permission follows the mode bits."""

    def access(path, mode, **options):
        return not (mode & os.W_OK) or bool(os.stat(path).st_mode & stat.S_IWUSR)

    monkeypatch.setattr(os, "access", access)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write read-only files: see the os.access variants")
def test_a_read_only_file_is_refused(saved):
    os.chmod(saved, 0o444)
    with pytest.raises(PermissionError, match=r"model.npz is read-only"):
        checkpoint.save(Forecaster(1), saved)
    assert_unchanged(checkpoint.load(saved, Forecaster(1)), snapshot(Forecaster(0)))


def test_a_read_only_file_is_refused_when_the_filesystem_says_so(saved, monkeypatch):
    os.chmod(saved, 0o444)
    old_bytes = saved.read_bytes()
    as_an_ordinary_user(monkeypatch)
    with pytest.raises(PermissionError, match=r"checkpoint.save: cannot write .*model.npz: .*model.npz is read-only"):
        checkpoint.save(Forecaster(1), saved)
    assert saved.read_bytes() == old_bytes
    assert leftover_files(saved.parent, [saved.name]) == []


def test_a_read_only_directory_is_refused_when_the_filesystem_says_so(tmp_path, monkeypatch):
    (tmp_path / "locked").mkdir()
    os.chmod(tmp_path / "locked", 0o555)
    as_an_ordinary_user(monkeypatch)
    with pytest.raises(PermissionError, match=r"the folder .*locked is not writable"):
        checkpoint.save(Forecaster(1), tmp_path / "locked" / "model.npz")
    assert os.listdir(tmp_path / "locked") == []


# ---------------------------------------------------------------- failed saves


def test_a_save_into_a_missing_directory_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .*absent does not exist"):
        checkpoint.save(Forecaster(0), tmp_path / "absent" / "model.npz")
    assert os.listdir(tmp_path) == []


def write_half_then(error):
    def write_array(file, array, **options):
        file.write(b"\x93NUMPY half an array")
        raise error

    return write_array


@pytest.mark.parametrize(
    "error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()], ids=["disk full", "interrupted"]
)
def test_a_save_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary(saved, monkeypatch, error):
    os.chmod(saved, 0o640)
    old_bytes = saved.read_bytes()
    monkeypatch.setattr(npy_format, "write_array", write_half_then(error))
    with pytest.raises(type(error)):
        checkpoint.save(Forecaster(3), saved)
    assert saved.read_bytes() == old_bytes
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o640
    assert leftover_files(saved.parent, [saved.name]) == []
    monkeypatch.undo()
    assert_unchanged(checkpoint.load(saved, Forecaster(3)), snapshot(Forecaster(0)))


def test_a_failed_rename_leaves_no_temporary(saved, monkeypatch):
    old_bytes = saved.read_bytes()

    def refuse(source, target):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="cross-device"):
        checkpoint.save(Forecaster(3), saved)
    assert saved.read_bytes() == old_bytes
    assert leftover_files(saved.parent, [saved.name]) == []


def test_a_parameter_that_cannot_be_stored_is_named_and_nothing_is_written(saved):
    model = Forecaster(3)
    model.head.bias.data = np.array([object()], dtype=object)
    old_bytes = saved.read_bytes()
    with pytest.raises(TypeError, match=r"parameter 'head.bias' has dtype object; only numbers are stored"):
        checkpoint.save(model, saved)
    assert saved.read_bytes() == old_bytes
    assert leftover_files(saved.parent, [saved.name]) == []


def test_a_module_without_parameters_round_trips(tmp_path):
    checkpoint.save(nn.Sequential(), tmp_path / "empty.npz")
    assert checkpoint.load_state_dict(tmp_path / "empty.npz") == {}


def test_save_wants_a_module(tmp_path):
    with pytest.raises(TypeError, match="checkpoint.save: expected a Module, got dict"):
        checkpoint.save({"w": np.zeros(2)}, tmp_path / "x.npz")


def test_the_archive_holds_plain_arrays_and_the_metadata_only(saved):
    with zipfile.ZipFile(saved) as archive:
        names = archive.namelist()
        assert archive.read("metadata.json") == b"{}"
    assert names == ["metadata.json"] + [f"{name}.npy" for name in Forecaster(0).state_dict()]
    with np.load(saved, allow_pickle=False) as archive:  # still an .npz that NumPy reads
        np.testing.assert_array_equal(archive["head.weight"], Forecaster(0).head.weight.data)
