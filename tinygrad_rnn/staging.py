"""Writing a file whole or not at all: write it under a temporary name in the target's folder,
then rename it onto the target (os.replace is atomic within one file system), so a failed write
leaves the old file as it was and no temporary behind. `writable_target` checks beforehand that
the target can be written, so a refusal comes before any work.

The temporary name is ".tmp" and ten random hex digits, 14 characters whatever the target is
called: POSIX guarantees every file system takes names that long, so a target whose name is as
long as its folder allows is never refused because of the name beside it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator


def temporary_beside(target) -> str:
    """A fresh 14-character name in the folder of `target` (its own path, symlinks not followed)."""
    return os.path.join(os.path.dirname(os.path.abspath(target)), f".tmp{secrets.token_hex(5)}")


def writable_target(path, where: str) -> tuple[str, int | None]:
    """The file `path` names (symlinks followed) and its permission bits if it exists, once
    checked that it can be written: its folder exists and the user may write in it (os.access),
    and it is not a symlink loop, a folder, any other file that is not a regular one (a device,
    a pipe), nor a file the user may not write. Else an OSError of the matching kind whose
    message is `where` (who writes, and the path), a colon and the problem. A path that is
    empty or ends with a separator names no file (as `open` refuses it)."""
    if not os.fspath(path):
        raise FileNotFoundError(f"{where}: the path is empty")
    if not os.path.basename(os.fspath(path)):
        raise IsADirectoryError(f"{where}: ends with a path separator, so it names a folder, not a file")
    target = os.path.realpath(path)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{where}: the folder {folder} does not exist")
    if os.path.islink(target):  # realpath stops at a link it cannot resolve
        raise OSError(errno.ELOOP, f"{where}: its symlinks form a loop")
    if os.path.isdir(target):
        raise IsADirectoryError(f"{where}: is a folder, not a file")
    if not os.path.exists(target):
        mode = None
    elif not os.path.isfile(target):
        raise IsADirectoryError(f"{where}: {target} is not a regular file")
    elif not os.access(target, os.W_OK):
        raise PermissionError(f"{where}: {target} is read-only")
    else:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{where}: the folder {folder} is not writable")
    return target, mode


@contextlib.contextmanager
def staged(path) -> Iterator[str]:
    """Yield a temporary path to write in place of `path`; when the block ends without an error it
    replaces the file `path` names (a symlink is followed and kept), else it is removed."""
    target = os.path.realpath(path)
    temporary = temporary_beside(target)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)
