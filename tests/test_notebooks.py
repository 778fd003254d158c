"""Every teaching notebook (notebooks/*.py, jupytext percent format) runs top to bottom.

Each script is converted with jupytext and executed with nbclient in the "python3" kernel,
with notebooks/ as the working directory; a failing cell (including a failed assert) fails
the test. jupyter_client launches a kernelspec whose argv starts with "python" with this
interpreter (sys.executable), so the kernel sees the same packages as pytest; the repository
root is put on PYTHONPATH so `import tinygrad_rnn` works without installing it.
"""

import os
import pathlib
import sys

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
CELL_TIMEOUT = 120  # seconds per cell


def execute(notebook, monkeypatch):
    """Run `notebook` in place in a fresh python3 kernel started in notebooks/."""
    python_path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
    monkeypatch.setenv("PYTHONPATH", python_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    return notebook


def test_there_are_notebooks():
    assert SCRIPTS, f"no notebooks/*.py in {NOTEBOOKS}"


def test_kernel_runs_this_interpreter(monkeypatch):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import os, sys, tinygrad_rnn; print(sys.executable); print(os.getcwd())")]
    )
    execute(notebook, monkeypatch)
    printed = notebook.cells[0].outputs[0]["text"].split("\n")
    assert os.path.realpath(printed[0]) == os.path.realpath(sys.executable)
    assert os.path.realpath(printed[1]) == os.path.realpath(NOTEBOOKS)


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_notebook_runs(script, monkeypatch):
    notebook = jupytext.read(script)
    assert notebook.cells[0].cell_type == "markdown", "the first cell must state what the notebook teaches"
    try:
        execute(notebook, monkeypatch)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{script.name}: a cell failed\n{error}", pytrace=False)
