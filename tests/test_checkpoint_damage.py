"""Damaged checkpoints: every corruption loads the right values or raises CheckpointError, and
arrays that claim more than the model (or a byte budget) allows are refused before allocation."""

import io
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from tinygrad_rnn import checkpoint, nn

METADATA = {
    "task": "sine",
    "config": {"hidden": 3, "cell": "rnn"},
    "scaler": {"min": [0.25], "scale": [2.0]},
    "vocabulary": ["a", "b"],
}


def snapshot(model):
    return {name: param.data.copy() for name, param in model.named_parameters()}


def same_values(state, expected):
    return list(state) == list(expected) and all(np.array_equal(state[k], expected[k]) for k in expected)


def deflated_copy(data: bytes) -> bytes:
    """The same archive with every member deflated, as np.savez_compressed writes it."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    return out.getvalue()


def corruptions(data: bytes, seed: int, every_byte: bool, random_flips: int, truncation_step: int):
    """(label, bytes): every byte inverted (if `every_byte`), `random_flips` seeded single-byte
    changes, and truncations at every `truncation_step`-th length."""
    for position in range(len(data) if every_byte else 0):
        damaged = bytearray(data)
        damaged[position] ^= 0xFF
        yield f"byte {position} inverted", bytes(damaged)
    rng = np.random.default_rng(seed)
    for position, change in zip(rng.integers(0, len(data), random_flips), rng.integers(1, 256, random_flips)):
        damaged = bytearray(data)
        damaged[position] ^= int(change)
        yield f"byte {position} ^ {change}", bytes(damaged)
    for length in range(0, len(data), truncation_step):
        yield f"cut to {length} bytes", data[:length]


@pytest.mark.parametrize(
    "layout, every_byte, random_flips, truncation_step", [("stored", True, 300, 7), ("deflated", False, 400, 11)]
)
def test_every_corruption_loads_the_right_values_or_raises_checkpoint_error(
    tmp_path, layout, every_byte, random_flips, truncation_step
):
    source = nn.RNN(2, 3, rng=0)
    path = tmp_path / "model.npz"
    checkpoint.save(source, path, metadata=METADATA)
    good = path.read_bytes() if layout == "stored" else deflated_copy(path.read_bytes())
    expected = source.state_dict()
    model = nn.RNN(2, 3, rng=1)
    before = snapshot(model)
    outcomes = {"loaded": 0, "refused": 0}
    for label, damaged in corruptions(good, 14, every_byte, random_flips, truncation_step):
        path.write_bytes(damaged)
        try:
            metadata = checkpoint.read_metadata(path)
            assert metadata == METADATA, label
        except checkpoint.CheckpointError as error:
            assert str(path) in str(error) and "\n" not in str(error), (label, str(error))
        try:
            checkpoint.load(path, model)
        except checkpoint.CheckpointError as error:
            assert str(path) in str(error) and "\n" not in str(error), (label, str(error))
            assert same_values(snapshot(model), before), label
            outcomes["refused"] += 1
        else:
            assert same_values(snapshot(model), expected), label
            model.load_state_dict(before)
            outcomes["loaded"] += 1
    print(f"{layout} archive of {len(good)} bytes: {outcomes}")
    assert sum(outcomes.values()) >= every_byte * len(good) + random_flips + len(good) // truncation_step
    assert outcomes["refused"] > sum(outcomes.values()) // 2 and outcomes["loaded"] > 0, outcomes


def test_checkpoint_error_is_a_value_error_naming_the_path(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(ValueError) as caught:
        checkpoint.load(path, nn.Linear(2, 1))
    assert isinstance(caught.value, checkpoint.CheckpointError)
    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f"checkpoint {path} ")


# ---------------------------------------------------------------- hand-made archives


def npy_member(shape, descr="<f8", body=None, version=(1, 0), fortran_order=False) -> bytes:
    """A .npy file: a header claiming `shape` and `descr`, then `body` (zeros of that size by default)."""
    out = io.BytesIO()
    header = {"descr": descr, "fortran_order": fortran_order, "shape": shape}
    (npy_format.write_array_header_1_0 if version == (1, 0) else npy_format.write_array_header_2_0)(out, header)
    if body is None:
        body = bytes(int(np.prod(shape)) * np.dtype(descr).itemsize)
    return out.getvalue() + body


def write_archive(path, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def linear_members(**changes):
    """The members of a Linear(2, 1) checkpoint, with some replaced."""
    members = {"weight.npy": npy_member((1, 2)), "bias.npy": npy_member((1,))}
    members.update(changes)
    return members


def expect_refusal(path, message, model=None):
    model = nn.Linear(2, 1, rng=0) if model is None else model
    before = snapshot(model)
    with pytest.raises(checkpoint.CheckpointError, match=message) as caught:
        checkpoint.load(path, model)
    assert str(path) in str(caught.value)
    assert same_values(snapshot(model), before)


@pytest.mark.parametrize(
    "members, message",
    [
        (
            linear_members(**{"weight.npy": npy_member((1, 2), descr="|O")}),
            r"array 'weight' has dtype object; only booleans and numbers are read \(no pickled objects\)",
        ),
        (linear_members(**{"weight.npy": npy_member((1, 2), descr=[("a", "<f8")])}), r"array 'weight' has dtype \["),
        (linear_members(**{"weight.npy": npy_member((1, 2), descr="<c16")}), r"array 'weight' has dtype complex128"),
        (
            linear_members(**{"weight.npy": npy_member((1, 2)) + b"extra"}),
            r"array 'weight' declares 149 bytes, but its header \(\(1, 2\), float64\) describes 144",
        ),
        (
            linear_members(**{"weight.npy": npy_member((1, 2))[:-3]}),
            r"array 'weight' declares 141 bytes, but its header \(\(1, 2\), float64\) describes 144",
        ),
        (
            linear_members(**{"weight.npy": npy_member((2, 1))}),
            r"array 'weight' has shape \(2, 1\) in the file, \(1, 2\) in the model",
        ),
        (
            linear_members(**{"weight.npy": b"\x93NUMPY\x03\x00" + bytes(40)}),
            r"array 'weight' is in \.npy format \(3, 0\); only 1\.0 and 2\.0 are read",
        ),
        (
            linear_members(**{"weight.npy": b"not an npy file at all"}),
            r"not a readable \.npz archive \(array 'weight'\): the magic string is not correct",
        ),
        (
            linear_members(**{"notes.txt": b"hello"}),
            r"holds 'notes.txt', which is neither an array \(\.npy\) nor metadata",
        ),
        (
            linear_members(**{"metadata.json": b'{"task": NaN}'}),
            r"has metadata that is not JSON: NaN is not a JSON number",
        ),
        (linear_members(**{"metadata.json": b"[1, 2]"}), r"has metadata that is a JSON list, not an object"),
        (linear_members(**{"metadata.json": b'{"task": 5}'}), r"has bad metadata: 'task' holds int, not str"),
        (
            linear_members(**{"metadata.json": b'{"vocabulary": ["a", 1]}'}),
            r"has bad metadata: 'vocabulary' holds something other than strings",
        ),
        (linear_members(**{"metadata.json": b"\xff\xfe"}), r"has metadata that is not JSON: 'utf-8' codec"),
        (
            linear_members(**{"metadata.json": b"[" * 100_000 + b"]" * 100_000}),
            r"has metadata that is not JSON: maximum recursion depth exceeded",
        ),
    ],
    ids=[
        "object",
        "structured",
        "complex",
        "longer than its header",
        "shorter than its header",
        "transposed",
        "npy 3.0",
        "no npy magic",
        "stray member",
        "NaN metadata",
        "list metadata",
        "task not a string",
        "vocabulary not strings",
        "metadata not utf-8",
        "metadata nested too deep",
    ],
)
def test_a_bad_member_is_named(tmp_path, members, message):
    path = tmp_path / "model.npz"
    write_archive(path, members)
    expect_refusal(path, message)


def test_an_array_stored_twice_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    write_archive(path, linear_members())
    with zipfile.ZipFile(path, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("bias.npy", npy_member((1,)))
    expect_refusal(path, r"holds 'bias.npy' twice")


def test_an_encrypted_or_bzip2_member_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    write_archive(path, linear_members(), compression=zipfile.ZIP_BZIP2)
    expect_refusal(path, r"holds 'weight.npy' compressed by method 12; only stored \(0\) and deflated \(8\) are read")
    write_archive(path, linear_members())
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # the central directory's "encrypted" flag of the first member
    path.write_bytes(bytes(data))
    expect_refusal(path, r"holds 'weight.npy' encrypted")


def test_big_endian_fortran_order_and_npy_2_arrays_load_exactly(tmp_path):
    weight, bias = np.array([[1.5, -2.25, 3.0], [4.0, 5.0, -6.5]]), np.array([7.0, -8.0])
    path = tmp_path / "model.npz"
    write_archive(
        path,
        {
            "weight.npy": npy_member(
                (2, 3), descr=">f8", fortran_order=True, body=weight.astype(">f8").tobytes(order="F")
            ),
            "bias.npy": npy_member((2,), descr="<f4", version=(2, 0), body=bias.astype("<f4").tobytes()),
        },
    )
    model = checkpoint.load(path, nn.Linear(3, 2, rng=0))
    np.testing.assert_array_equal(model.weight.data, weight)
    np.testing.assert_array_equal(model.bias.data, bias)
    assert model.weight.data.dtype == model.bias.data.dtype == np.float64
    state = checkpoint.load_state_dict(path)
    np.testing.assert_array_equal(state["weight"], weight)
    assert state["weight"].dtype == np.float64 and state["weight"].dtype.isnative and state["weight"].flags.writeable
    assert state["bias"].dtype == np.float32


# ---------------------------------------------------------------- sizes checked before allocation


def zeros_bomb(shape) -> bytes:
    """A deflated archive whose 'weight.npy' honestly holds zeros of `shape`: small on disk, huge unpacked."""
    out = io.BytesIO()
    write_archive(out, {"bias.npy": npy_member((1,))})
    info = zipfile.ZipInfo("weight.npy")
    info.compress_type = zipfile.ZIP_DEFLATED
    chunk, total = bytes(2**20), int(np.prod(shape)) * 8
    with zipfile.ZipFile(out, "a") as archive, archive.open(info, "w", force_zip64=True) as member:
        member.write(npy_member(shape, body=b""))
        for start in range(0, total, len(chunk)):  # streamed, so the zeros never exist in one piece
            member.write(chunk[: total - start])
    return out.getvalue()


def peak_bytes_of(call):
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = tmp_path / "bomb.npz"
    path.write_bytes(zeros_bomb((2000, 2000)))  # 32 MB of zeros in ~32 kB
    assert path.stat().st_size < 100_000
    model = nn.Linear(2, 1, rng=0)
    before = snapshot(model)

    def load_into_the_model():
        with pytest.raises(
            checkpoint.CheckpointError,
            match=r"array 'weight' has shape \(2000, 2000\) in the file, \(1, 2\) in the model",
        ):
            checkpoint.load(path, model)

    def load_without_a_model():
        with pytest.raises(
            checkpoint.CheckpointError,
            match=r"array 'weight' of shape \(2000, 2000\) and dtype float64 needs 32000000 bytes, "
            r"more than the 999992 left of max_bytes",
        ):
            checkpoint.load_state_dict(path, max_bytes=1_000_000)

    assert peak_bytes_of(load_into_the_model) < 2_000_000
    assert peak_bytes_of(load_without_a_model) < 2_000_000
    assert same_values(snapshot(model), before)
    assert checkpoint.load_state_dict(path)["weight"].shape == (2000, 2000)  # within the default budget


def test_a_header_claiming_a_huge_shape_is_refused_before_allocation(tmp_path):
    path = tmp_path / "huge.npz"
    write_archive(path, linear_members(**{"weight.npy": npy_member((10**9, 10**9), body=bytes(16))}))
    expect_refusal(path, r"array 'weight' has shape \(1000000000, 1000000000\) in the file, \(1, 2\) in the model")
    with pytest.raises(
        checkpoint.CheckpointError,
        match=r"needs 8000000000000000000 bytes, more than the "
        r"\d+ left of max_bytes",
    ):
        checkpoint.load_state_dict(path)
    write_archive(path, linear_members(**{"weight.npy": npy_member((1, -2), body=b"")}))
    with pytest.raises(checkpoint.CheckpointError, match=r"array 'weight' claims shape \(1, -2\)"):
        checkpoint.load_state_dict(path)
