"""Save and load a Module's parameters, with JSON metadata, as a NumPy .npz archive, safely.

The file is a zip archive (readable by `np.load`): one `<name>.npy` member per parameter and a
`metadata.json` member holding whatever predicting needs (task name, model config, scaler,
vocabulary). No pickles are written or read.

Saving writes a temporary file beside the target (a short name, see `staging`) and renames it
onto the target (os.replace is atomic), so a failed save leaves the old file intact and no
temporary behind. A symlink is followed: the file it points to is replaced and the link kept. An existing file keeps its
permission bits (its owner becomes whoever saves, and hard links to it are broken). A target
that the saving user may not write (os.access) is refused, as writing to it would be.

Loading parses the zip directory, the metadata and every .npy header itself and checks them
(compression, encryption, dtype, the shape the model expects or a byte budget, the member's
declared size) before any array is allocated; the CRC-32 of every member is verified; the model
is written only after every array has been read. Whatever is wrong with a file is reported as
one CheckpointError naming the path and the problem, and the model is left unchanged.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np
from numpy.lib import format as npy_format

from .errors import key_problems
from .nn.module import Module
from .staging import staged, writable_target

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first entry, or the end record of an empty archive
METADATA_MEMBER = "metadata.json"
METADATA_FIELDS = {"task": str, "config": dict, "scaler": dict, "vocabulary": list}  # checked when present
MAX_METADATA_BYTES = 16 * 2**20
MAX_ARRAY_BYTES = 2**30  # what load_state_dict reads at most without a model to check shapes against
READABLE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats
# What the zip and .npy readers raise on bytes that are not what they should be.
DAMAGE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    OverflowError,
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model: names the path and the problem."""

    def __init__(self, path, problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"checkpoint {self.path} {problem}")


# ------------------------------------------------------------------------------- saving


def save(module: Module, path, metadata: dict | None = None) -> None:
    """Write module.state_dict() and JSON-safe `metadata` to `path` (exactly that name: no suffix
    is added). Metadata holds dicts with string keys, lists (tuples come back as lists), strings,
    finite floats, ints, booleans and None; "task" (str), "config" and "scaler" (dict) and
    "vocabulary" (list of str) are checked by type."""
    if not isinstance(module, Module):
        raise TypeError(f"checkpoint.save: expected a Module, got {type(module).__name__}")
    arrays = module.state_dict()
    for name, value in arrays.items():
        if value.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"checkpoint.save: parameter {name!r} has dtype {value.dtype}; only numbers are stored")
    metadata = {} if metadata is None else metadata
    if not isinstance(metadata, dict):
        raise TypeError(f"checkpoint.save: metadata is a {type(metadata).__name__}, not a dict")
    text = json.dumps(_json_safe(metadata, "metadata"), allow_nan=False)
    _check_fields(json.loads(text), lambda problem: TypeError(f"checkpoint.save: {problem}"))
    path = os.fspath(path)
    target, mode = writable_target(path, f"checkpoint.save: cannot write {path}")
    with staged(target) as temporary:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb") as file:
            if mode is not None:
                os.fchmod(file.fileno(), mode)
            _write_archive(file, arrays, text)
            file.flush()
            os.fsync(file.fileno())


def _json_safe(value, where: str):
    """`value` if JSON stores it exactly (tuples as lists); else TypeError/ValueError naming `where`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"checkpoint.save: {where} is {value}; JSON stores finite numbers only")
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"checkpoint.save: {where} has key {key!r}; JSON keys are strings")
        return {key: _json_safe(item, f"{where}[{key!r}]") for key, item in value.items()}
    hint = "; store value.tolist()" if isinstance(value, (np.ndarray, np.generic)) else ""
    raise TypeError(f"checkpoint.save: {where} is a {type(value).__name__}, which JSON cannot store{hint}")


def _write_archive(file, arrays: dict, metadata_text: str) -> None:
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA_MEMBER, metadata_text)
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, value, allow_pickle=False)


# ------------------------------------------------------------------------------- loading


def read_metadata(path, *, task: str | None = None) -> dict:
    """The metadata stored with the checkpoint at `path` ({} if it has none), read and checked
    without reading any array. With `task`, a CheckpointError unless the file records that task."""
    with _opened(path) as (archive, metadata_member, _):
        metadata = _read_metadata(path, archive, metadata_member)
    if task is not None and metadata.get("task") != task:
        if "task" not in metadata:
            raise CheckpointError(path, f"records no task, so it cannot be used as one of task {task!r}")
        raise CheckpointError(path, f"was written by task {metadata['task']!r}, not {task!r}")
    return metadata


def load_state_dict(path, *, max_bytes: int = MAX_ARRAY_BYTES) -> OrderedDict[str, np.ndarray]:
    """Every array stored in the checkpoint at `path`, by name, fully read into memory. Arrays
    larger than `max_bytes` together are refused before they are allocated.

    Raises FileNotFoundError for a missing file and CheckpointError for any other problem."""
    return _read_arrays(path, None, "", max_bytes)


def load(path, module: Module) -> Module:
    """Load the checkpoint at `path` into `module` (strictly: same names, same shapes; values
    cast to the parameters' dtypes); returns it. Every name and shape is checked before any
    array is read, and the module is written only after all of them are, so a failure leaves
    the module unchanged."""
    if not isinstance(module, Module):
        swapped = " (the arguments are swapped)" if isinstance(path, Module) else ""
        raise TypeError(
            f"checkpoint.load(path, module): expected a Module as the second argument, "
            f"got {type(module).__name__}{swapped}"
        )
    expected = OrderedDict((name, param.shape) for name, param in module.state_dict(keep_vars=True).items())
    module.load_state_dict(_read_arrays(path, expected, type(module).__name__, MAX_ARRAY_BYTES))
    return module


def _read_arrays(path, expected: dict | None, model: str, max_bytes: int) -> OrderedDict[str, np.ndarray]:
    """The arrays of the checkpoint at `path`, checked against the `expected` shapes of `model`
    when given, else against the `max_bytes` budget; the metadata is checked too."""
    with _opened(path) as (archive, metadata_member, members):
        _read_metadata(path, archive, metadata_member)
        if expected is not None:
            _check_names(path, model, list(members), list(expected))
        state = OrderedDict[str, np.ndarray]()
        budget = max_bytes
        for name, info in members.items():
            with _damage_reported(path, f" (array {name!r})"):
                state[name] = _read_array(
                    path, archive, info, name, None if expected is None else expected[name], budget
                )
            budget -= state[name].nbytes
    return state


@contextlib.contextmanager
def _opened(path):
    """(archive, metadata member or None, array members by name) of the zip file at `path`."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"checkpoint: {os.fspath(path)} is a folder, not a file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no file at {os.fspath(path)}")
    with open(path, "rb") as file:
        signature = file.read(4)
        if signature not in ZIP_SIGNATURES:
            raise CheckpointError(
                path, f"is not an .npz archive: it starts with {signature!r}, not a zip signature {ZIP_SIGNATURES[0]!r}"
            )
        file.seek(0)
        with _damage_reported(path, ""), zipfile.ZipFile(file) as archive:
            yield (archive, *_members(path, archive))


@contextlib.contextmanager
def _damage_reported(path, where: str):
    """Turn what the zip, zlib and .npy readers raise on bad bytes into a CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except DAMAGE_ERRORS as error:
        raise CheckpointError(path, f"is not a readable .npz archive{where}: {error}") from error


def _members(path: str, archive: zipfile.ZipFile) -> tuple[zipfile.ZipInfo | None, dict[str, zipfile.ZipInfo]]:
    """The archive's METADATA_MEMBER (None if absent) and its .npy members by array name, each
    checked to be plain: unencrypted, stored or deflated, and there once."""
    metadata, arrays = None, OrderedDict[str, zipfile.ZipInfo]()
    for info in archive.infolist():
        if info.filename != METADATA_MEMBER and not info.filename.endswith(".npy"):
            raise CheckpointError(
                path, f"holds {info.filename!r}, which is neither an array (.npy) nor {METADATA_MEMBER}"
            )
        name = info.filename[: -len(".npy")]
        if (metadata if info.filename == METADATA_MEMBER else arrays.get(name)) is not None:
            raise CheckpointError(path, f"holds {info.filename!r} twice")
        if info.flag_bits & 0x1:
            raise CheckpointError(path, f"holds {info.filename!r} encrypted")
        if info.compress_type not in READABLE_COMPRESSION:
            raise CheckpointError(
                path,
                f"holds {info.filename!r} compressed by method {info.compress_type}; "
                f"only stored (0) and deflated (8) are read",
            )
        if info.filename == METADATA_MEMBER:
            metadata = info
        else:
            arrays[name] = info
    return metadata, arrays


def _read_metadata(path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> dict:
    if info is None:
        return {}
    if info.file_size > MAX_METADATA_BYTES:
        raise CheckpointError(path, f"declares {info.file_size} bytes of metadata, more than {MAX_METADATA_BYTES}")
    with _damage_reported(path, " (metadata)"):
        text = archive.read(info)
    try:
        metadata = json.loads(text.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(path, f"has metadata that is not JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(path, f"has metadata that is a JSON {type(metadata).__name__}, not an object")
    _check_fields(metadata, lambda problem: CheckpointError(path, f"has bad metadata: {problem}"))
    return metadata


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_fields(metadata: dict, error) -> None:
    """Raise error(problem) if a field of METADATA_FIELDS holds the wrong type."""
    for field, kind in METADATA_FIELDS.items():
        if field in metadata and not isinstance(metadata[field], kind):
            raise error(f"'{field}' holds {type(metadata[field]).__name__}, not {kind.__name__}")
    if not all(isinstance(word, str) for word in metadata.get("vocabulary", [])):
        raise error("'vocabulary' holds something other than strings")


def _check_names(path: str, model: str, stored: list, wanted: list) -> None:
    missing = [name for name in wanted if name not in stored]
    unexpected = [name for name in stored if name not in wanted]
    problems = key_problems(missing, unexpected)
    if problems:
        raise CheckpointError(path, f"does not fit {model}: " + "; ".join(problems))


def _read_array(
    path: str, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, shape: tuple | None, budget: int
) -> np.ndarray:
    """One member's array, its header checked against `shape` (or `budget` bytes when None) and
    against the member's declared size before the data is read."""
    with archive.open(info) as member:
        version = npy_format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise CheckpointError(path, f"array {name!r} is in .npy format {version}; only 1.0 and 2.0 are read")
        reader = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        stored_shape, fortran_order, dtype = reader(member)
        if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
            raise CheckpointError(
                path, f"array {name!r} has dtype {dtype}; only booleans and numbers are read (no pickled objects)"
            )
        if any(size < 0 for size in stored_shape):
            raise CheckpointError(path, f"array {name!r} claims shape {stored_shape}")
        if shape is not None and stored_shape != shape:
            raise CheckpointError(path, f"array {name!r} has shape {stored_shape} in the file, {shape} in the model")
        nbytes = math.prod(stored_shape) * dtype.itemsize
        if shape is None and nbytes > budget:
            raise CheckpointError(
                path,
                f"array {name!r} of shape {stored_shape} and dtype {dtype} needs {nbytes} "
                f"bytes, more than the {budget} left of max_bytes",
            )
        header = member.tell()
        if info.file_size != header + nbytes:
            raise CheckpointError(
                path,
                f"array {name!r} declares {info.file_size} bytes, but its header "
                f"({stored_shape}, {dtype}) describes {header + nbytes}",
            )
        data = member.read(nbytes)  # reading to the declared end checks the CRC-32
        if len(data) != nbytes:
            raise CheckpointError(path, f"array {name!r} ends after {len(data)} of {nbytes} bytes")
    flat = np.frombuffer(data, dtype=dtype)
    return np.array(flat.reshape(stored_shape, order="F" if fortran_order else "C"), dtype=dtype.newbyteorder("="))
