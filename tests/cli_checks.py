"""What the bad-input tests of the command line share: a snapshot of a folder, and a run that
must be refused in one line and leave that snapshot as it was."""

import os

from tinygrad_rnn.cli import main


def contents(folder) -> dict:
    """Every path under `folder` with its bytes: a symlink's target, None for a folder, and
    "special" for a pipe or a device (reading a pipe would wait for a writer)."""
    return {str(path.relative_to(folder)): _content(path) for path in folder.rglob("*")}


def _content(path):
    if path.is_symlink():
        return os.readlink(path)
    if path.is_dir():
        return None
    return path.read_bytes() if path.is_file() else "special"


def refused(argv, capsys, folder, code=2) -> str:
    """Run the command line; check it exits `code` with one line on stderr, no traceback, and
    leaves every file under `folder` byte for byte as it was. Returns that line."""
    before = contents(folder)
    result = main(argv)
    captured = capsys.readouterr()
    assert result == code, captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "Traceback" not in captured.err
    assert contents(folder) == before
    return captured.err.strip()
