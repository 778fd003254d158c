"""Turning a Digraph into SVG or PNG, with a system Graphviz `dot` or, without one, graphviz-pure.

graphviz-pure is a pip-installed, self-contained program that reads and writes what `dot`
does. Importing this module points the graphviz package at it when no `dot` is on PATH, so
`Digraph.pipe()`, `Digraph.render()` and notebook display work without a system Graphviz.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import graphviz
import graphviz.backend.dot_command

from ..errors import TinygradRNNError
from ..staging import staged

PURE_PROGRAM_NAME = "graphviz-pure"
FORMATS_MARKER = "Use one of:"  # what `dot -T?` prints before the formats it writes


class RenderError(TinygradRNNError, RuntimeError):
    """No renderer, or the renderer failed: the message names the program and the file, which is
    left as it was."""


def pure_dot_program() -> str | None:
    """Path of the graphviz-pure program: beside this Python's executable, else on PATH."""
    beside_python = pathlib.Path(sys.executable).parent
    return shutil.which(PURE_PROGRAM_NAME, path=str(beside_python)) or shutil.which(PURE_PROGRAM_NAME)


def dot_program() -> str:
    """The `dot` on PATH when there is one, otherwise graphviz-pure."""
    program = shutil.which("dot") or pure_dot_program()
    if program is None:
        raise RenderError(
            "no Graphviz renderer found: neither `dot` nor `graphviz-pure` is on PATH or beside "
            f"{sys.executable}; install one (`pip install graphviz-pure` needs no system packages)"
        )
    return program


def use_pure_renderer_when_no_dot() -> None:
    """Point the graphviz package at graphviz-pure when no system `dot` exists."""
    pure = pure_dot_program()
    if shutil.which("dot") is None and pure is not None:
        graphviz.backend.dot_command.DOT_BINARY = pathlib.Path(pure)


def writable_formats(program: str | None = None) -> frozenset[str] | None:
    """The output formats `program` (default: `dot_program()`) writes, as it lists them when asked
    for the unknown format "?"; None when it lists none."""
    program = program or dot_program()
    try:
        result = subprocess.run([program, "-T?"], input=b"", capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = result.stderr.decode("utf-8", "replace")
    if FORMATS_MARKER not in text:
        return None
    return frozenset(text.split(FORMATS_MARKER, 1)[1].split())


def render(digraph: graphviz.Digraph, path, *, program: str | None = None, format: str | None = None) -> pathlib.Path:
    """Write `digraph` to `path`, in `format` or else the one its suffix names (.svg, .png); returns
    the path.

    `program` is a `dot`-compatible executable; by default the system `dot`, else graphviz-pure.
    The picture is written under a temporary name beside `path` and renamed onto it, so a program
    that fails (RenderError) leaves an older file at `path` as it was.
    """
    path = pathlib.Path(path)
    output_format = (format or path.suffix.lstrip(".")).lower()
    if not output_format:
        raise ValueError(f"render: cannot tell the format of {str(path)!r}; end the name with .svg or .png")
    program = program or dot_program()
    path.parent.mkdir(parents=True, exist_ok=True)
    with staged(path) as temporary:
        command = [program, f"-K{digraph.engine}", f"-T{output_format}", "-o", temporary]
        result = subprocess.run(command, input=digraph.source.encode("utf-8"), capture_output=True)
        if result.returncode != 0:
            message = " ".join(result.stderr.decode("utf-8", "replace").split())
            raise RenderError(
                f"render: {pathlib.Path(program).name} could not write {path} as {output_format}: {message}"
            )
    return path


use_pure_renderer_when_no_dot()
