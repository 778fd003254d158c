"""Writing a file whole or not at all: write it under a temporary name in the target's folder,
then rename it onto the target (os.replace is atomic within one file system), so a failed write
leaves the old file as it was and no temporary behind.

The temporary name is ".tmp" and ten random hex digits, 14 characters whatever the target is
called: POSIX guarantees every file system takes names that long, so a target whose name is as
long as its folder allows is never refused because of the name beside it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator


def temporary_beside(target) -> str:
    """A fresh 14-character name in the folder of `target` (its own path, symlinks not followed)."""
    return os.path.join(os.path.dirname(os.path.abspath(target)), f".tmp{secrets.token_hex(5)}")


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
