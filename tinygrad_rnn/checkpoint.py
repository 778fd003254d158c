"""Save and load a Module's parameters as a NumPy .npz archive, safely.

save() writes to a temporary file beside the target and then renames it onto the target
(os.replace is atomic), so a crash or an error never leaves a half-written checkpoint and
an older checkpoint survives a failed save. load() reads every array before touching the
model (no pickles: allow_pickle=False), and Module.load_state_dict checks every key and
shape before writing, so a bad file raises and leaves the model exactly as it was.
"""
from __future__ import annotations

import os
import uuid
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .nn.module import Module

ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")  # a first entry, or the end record of an empty archive
READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def save(module: Module, path) -> None:
    """Write module.state_dict() to `path` (exactly that name: no suffix is added)."""
    if not isinstance(module, Module):
        raise TypeError(f"checkpoint.save: expected a Module, got {type(module).__name__}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint.save: cannot write {path}: directory {directory} does not exist")
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as file:  # a file object, so np.savez appends no ".npz"
            np.savez(file, **module.state_dict())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def load_state_dict(path) -> "OrderedDict[str, np.ndarray]":
    """Every array stored in the checkpoint at `path`, by name, fully read into memory.

    Raises FileNotFoundError for a missing file and ValueError naming the path for a file
    that is not a readable .npz archive (another format, corrupted, truncated, or holding
    pickled objects).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no file at {path}")
    with open(path, "rb") as file:
        signature = file.read(4)
    if signature not in ZIP_SIGNATURES:
        raise ValueError(f"checkpoint {path} is not an .npz archive: it starts with {signature!r}, "
                         f"not a zip signature {ZIP_SIGNATURES[0]!r}")
    name = None
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = OrderedDict()
            for name in archive.files:
                state[name] = archive[name]
    except READ_ERRORS as error:
        where = f" (array {name!r})" if name is not None else ""
        raise ValueError(f"checkpoint {path} is not a readable .npz archive{where}: {error}") from error
    return state


def load(path, module: Module) -> Module:
    """Load the checkpoint at `path` into `module` (strictly: same keys, same shapes); returns it.

    Nothing is written unless the whole file reads and every key matches, so a failure
    leaves the module unchanged.
    """
    state = load_state_dict(path)
    try:
        module.load_state_dict(state)
    except KeyError as error:
        raise KeyError(f"checkpoint {os.fspath(path)}: {error.args[0]}") from error
    return module
